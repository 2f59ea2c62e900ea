// `make soak`: the compiled worker in a bare workerd (bench/harness.mjs), driven hard while its
// upstreams misbehave, and checked for what a user would notice.
//
// SOAK_EXCHANGES (20000) exchanges at SOAK_CONCURRENCY (32), by SOAK_USERS (200) users of the
// Supabase stand-in; SOAK_REPEAT_SHARE (0.3) of them send back the Stytch cookies of their
// last session (repeat exchanges, answered at the edge or extended). Meanwhile:
// - the Stytch stand-in answers SOAK_FAULT_RATE (0.1) of its calls with a fault, in equal
//   shares: 500, 429, a garbage 200, a slow answer (0.5-4.5 s), no answer at all (the worker's
//   5 s timeout), a dropped connection;
// - the Supabase key set flaps (every 20 s it fails for 5 s: 500, dropped connection, no
//   answer, in turn) and rotates (a standby key published, used for signing 15 s later, the
//   old key unpublished 15 s after that), with max-age=60 so the worker refreshes often.
// Beside the exchanges, SOAK_GATEWAY (10000) requests through the auth gateway (PROTECT: a
// protected /app/*, a bearer /api/*, a public /pub/*) to the app stand-in of dev/standins.mjs,
// by SOAK_BROWSERS (100) other users, each signing in with one exchange (again once the gateway
// cleared an ended session) and keeping the cookies its answers set (a browser's jar): live
// sessions, expired JWTs (Stytch's JWTs live SOAK_JWT_SECONDS, 60, so
// they are refreshed every half minute), sessions revoked at Stytch now and then, forged JWTs,
// no cookies, spoofed identity headers under three spellings, bearer tokens, a WebSocket
// handshake now and then, and an app that answers slowly, resets, hangs before its headers,
// answers 503 or with a 64 KiB header (the client takes headers up to 128 KiB, as Workers
// allow: scripts/soak.sh raises Node's 16 KiB default); Stytch's authenticate fails at
// SOAK_FAULT_RATE too, and is down for 5 s every minute.
// Checked: every answer's status is one the contract documents for the exchange or the
// gateway (a 500 is a failure: the configuration is valid and internal_error means a bug); no
// answer came later than the worst case the timeouts allow; no exchange refused 401 except
// no_matching_key within the unknown-kid cooldown after signing moved to a new key (every
// token is valid; a failed key-set fetch is 503, retried); every 200's session exists at the
// Stytch stand-in and belongs to that token's user; every gateway request reached the app only
// when it should, with the sending user's identity and nothing the client forged, and a
// forged or absent session never; a revoked session never once its last JWT has run out;
// no refresh storm (sessions/authenticate at most 1.25 times one per session per JWT
// lifetime less 30 s); the worker's memory, sampled through the run. Reported: answers by status, latency,
// key-set fetches, Stytch calls per exchange, sessions/authenticate per user against one per
// session per JWT lifetime. Writes docs/soak.md and exits non-zero on any failed check.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT } from "../dev/worker.mjs";
import { startSupabase, startStytch, startApp, userIdOf } from "../dev/standins.mjs";
import { bundle, startKv, startWorkerd } from "./harness.mjs";

const N = Number(process.env.SOAK_EXCHANGES ?? 20_000);
const C = Number(process.env.SOAK_CONCURRENCY ?? 32);
const USERS = Number(process.env.SOAK_USERS ?? 200);
const FAULT_RATE = Number(process.env.SOAK_FAULT_RATE ?? 0.1);
const REPEAT_SHARE = Number(process.env.SOAK_REPEAT_SHARE ?? 0.3);
const G = Number(process.env.SOAK_GATEWAY ?? 10_000);
// The gateway's users are browsers apart from the exchange's: they exchange once to sign in
// (again when their session is gone) and then only go through the gateway, so their session
// JWTs age and are refreshed as a signed-in app's would be.
const BROWSERS = Number(process.env.SOAK_BROWSERS ?? 100);
const JWT_SECS = Number(process.env.SOAK_JWT_SECONDS ?? 60);
const PROJECT_ID = "project-test-soak";
const SECRET = "secret-test-soak";
const PROFILE_ID = "trusted-auth-token-profile-test-soak";
// The answers the contract documents for POST /api/exchange with a valid configuration.
const DOCUMENTED = new Set([200, 401, 429, 502, 503, 504]);
// Worst cases the worker's timeouts allow (ms): a key-set fetch (3 s, or waiting on another
// request's, 3.5 s), a KV read (1 s), then Stytch: two attempts of 5 s with up to 0.3 s between,
// twice when an extension is refused. Plus 1.5 s for a loaded 2-core machine.
const BOUND_MS = { first: 3500 + 1000 + 10_300 + 1500, repeat: 3500 + 1000 + 2 * 10_300 + 1500 };
// A gateway request: Stytch's keys (3.5 s, KV 1 s), a refresh (10.3 s, or waiting on another's),
// then the app's status and headers (30 s).
const GATEWAY_BOUND_MS = 3500 + 1000 + 10_300 + 30_000 + 1500;
// What the gateway may answer, besides the app's own status: no session (401), Stytch's or its
// keys' trouble on a refresh (429, 502, 503, 504), the app unreachable or slow (502, 504).
const GATEWAY_DOCUMENTED = new Set([200, 401, 429, 502, 503, 504]);

const out = path.join(ROOT, "bench", "out", "soak");
rmSync(out, { recursive: true, force: true });
if (!process.env.SOAK_SKIP_BUILD) {
  console.log("building the worker …");
  execFileSync("bash", [path.join(ROOT, "scripts/build.sh")], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
}
const b = bundle("tests/integration/wrangler.toml", path.join(out, "bundle"));

const supabase = await startSupabase();
supabase.state.cacheControl = "public, max-age=60";
const stytch = await startStytch({ projectId: PROJECT_ID, secret: SECRET, profileId: PROFILE_ID, supabase });
stytch.state.jwtLifetimeSecs = JWT_SECS;
const app = await startApp({ stytch, projectId: PROJECT_ID });
const PROTECT = JSON.stringify([
  { path: "/pub/*", upstream: app.url, require_session: false },
  { path: "/api/*", upstream: app.url, bearer: true },
  { path: "/app/*", upstream: app.url },
]);
const kv = await startKv();
const worker = await startWorkerd({
  name: "soak",
  bundle: b,
  kvPort: kv.port,
  workdir: path.join(out, "workerd"),
  // SOAK_LOGS=1 keeps the worker's log lines, written to bench/out/soak/worker.log at the end
  // (console.log's, workerd's stdout) and worker-warn-error.log (4xx and 5xx answers, failed
  // runs: console.warn's and console.error's, its stderr).
  keepStdout: Boolean(process.env.SOAK_LOGS),
  vars: { SUPABASE_URL: supabase.url, STYTCH_PROJECT_ID: PROJECT_ID, STYTCH_SECRET: SECRET, STYTCH_PROFILE_ID: PROFILE_ID, STYTCH_API_BASE: stytch.url, PROTECT },
});
const rssKb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${worker.pid}/status`, "utf8"))[1]);
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`${worker.url}/healthz`)).ok) break;
  } catch {}
  if (i > 500) throw new Error(`workerd did not start:\n${worker.stderr()}`);
  await new Promise((r) => setTimeout(r, 20));
}

// Users, their tokens (per signing key) and the cookies of their last session.
let signingKid = "es-1";
const users = Array.from({ length: USERS + BROWSERS }, (_, i) => ({
  sub: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
  email: `user${i}@example.com`,
  sessionId: crypto.randomUUID(),
  tokens: new Map(),
  cookie: null,
  token: null,
}));
const browsers = users.slice(USERS);
async function tokenOf(u) {
  if (!u.tokens.has(signingKid)) {
    u.tokens.set(signingKid, await supabase.mint({ kid: signingKid, sessionId: u.sessionId, claims: { sub: u.sub, email: u.email }, expiresIn: 3600 }));
  }
  return u.tokens.get(signingKid);
}

// Warm-up: keys in memory, then the memory reading to compare with.
for (let i = 0; i < 50; i++) {
  const r = await fetch(`${worker.url}/api/exchange`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ access_token: await tokenOf(users[i % USERS]) }) });
  await r.arrayBuffer();
}
const rssBefore = rssKb();
const counters = { jwks: supabase.state.fetches, stytchApi: stytch.apiCalls().length, stytchKeys: stytch.state.jwksFetches };

// Faults.
const faultKinds = [
  () => ({ error_type: "internal_server_error" }),
  () => ({ error_type: "too_many_requests" }),
  () => ({ raw: Math.random() < 0.5 ? "<html>502 Bad Gateway</html>" : '{"status_code":200,"session":{}}' }),
  () => ({ delayMs: 500 + Math.floor(Math.random() * 4000) }),
  () => ({ hang: true }),
  () => ({ drop: true }),
];
const injected = Object.fromEntries(["5xx", "429", "garbage", "slow", "hang", "drop"].map((k) => [k, 0]));
let authenticateFaults = 0;
// Stytch's authenticate down for a stretch (every 60 s from 30 s, for 5 s: 500 to every call),
// as in an outage: the browsers' expired JWTs fail to refresh, then refresh once it is over.
let authenticateDown = false;
let outages = 0;
let outageCalls = 0;
stytch.state.chaos = (p) => {
  if (authenticateDown && p === "/v1/sessions/authenticate") {
    outageCalls++;
    authenticateFaults++;
    return { error_type: "internal_server_error" };
  }
  const faulty = p === "/v1/sessions/attest" || p === "/v1/sessions/authenticate";
  if (!faulty || Math.random() >= FAULT_RATE) return null;
  const i = Math.floor(Math.random() * faultKinds.length);
  injected[Object.keys(injected)[i]]++;
  if (p === "/v1/sessions/authenticate") authenticateFaults++;
  return faultKinds[i]();
};
const started = Date.now();
const events = [];
let outageTimer;
const outageStart = setTimeout(() => {
  const down = () => {
    authenticateDown = true;
    outages++;
    events.push(`${((Date.now() - started) / 1000).toFixed(0)} s: Stytch's sessions/authenticate down for 5 s`);
    setTimeout(() => (authenticateDown = false), 5000);
  };
  down();
  outageTimer = setInterval(down, 60_000);
}, 30_000);
const flapModes = ["fail", "drop", "hang"];
let flaps = 0;
const flapTimer = setInterval(() => {
  const mode = flapModes[flaps++ % flapModes.length];
  supabase.state.mode = mode;
  events.push(`${((Date.now() - started) / 1000).toFixed(0)} s: key set down (${mode}) for 5 s`);
  setTimeout(() => (supabase.state.mode = "ok"), 5000);
}, 20_000);
let rotations = 0;
// When signing moved to a new key: a worker whose key set lacks it refetches at most every
// UNKNOWN_KID_COOLDOWN_S, so its tokens may be refused (401) that long after, and at no other
// time (every user's token is valid, signed by a key the stand-in publishes).
const switches = [];
const UNKNOWN_KID_COOLDOWN_S = 30;
const rotateTimer = setInterval(async () => {
  const old = signingKid;
  const kid = await supabase.rotate("ES256");
  rotations++;
  events.push(`${((Date.now() - started) / 1000).toFixed(0)} s: standby key ${kid} published`);
  setTimeout(() => {
    signingKid = kid;
    switches.push(Date.now());
    events.push(`${((Date.now() - started) / 1000).toFixed(0)} s: signing with ${kid}`);
  }, 15_000);
  setTimeout(() => {
    supabase.unpublish(old);
    events.push(`${((Date.now() - started) / 1000).toFixed(0)} s: ${old} unpublished`);
  }, 30_000);
}, 45_000);

// The load.
const statuses = {};
const latencies = [];
const failures = [];
let next = 0;
let reused = 0;
let repeats = 0;
let logins = 0;
const refusals = {}; // the exchange's 401s by error code: how many, first and last second
/** One exchange by `u` (a random exchange user by default), checked; `login`: a browser
 * signing in, without cookies. */
async function one(u = users[Math.floor(Math.random() * USERS)], login = false) {
  const repeat = !login && u.cookie !== null && Math.random() < REPEAT_SHARE;
  if (login) logins++;
  // What this request sends: the user's record may change under it (another request of the
  // same user, at the same time, may create a newer session).
  const sent = repeat ? { cookie: u.cookie, token: u.token } : null;
  const headers = { "content-type": "application/json", ...(sent ? { cookie: sent.cookie } : {}) };
  if (repeat) repeats++;
  const body = JSON.stringify({ access_token: await tokenOf(u) });
  const t0 = Date.now();
  let res;
  let text;
  try {
    res = await fetch(`${worker.url}/api/exchange`, { method: "POST", headers, body, signal: AbortSignal.timeout(60_000) });
    text = await res.text();
  } catch (e) {
    failures.push(`exchange: no answer within 60 s (${e.message})`);
    return;
  }
  const ms = Date.now() - t0;
  latencies.push(ms);
  statuses[res.status] = (statuses[res.status] ?? 0) + 1;
  if (!DOCUMENTED.has(res.status)) failures.push(`exchange: undocumented status ${res.status}: ${text.slice(0, 200)}`);
  if (ms > BOUND_MS[repeat ? "repeat" : "first"]) failures.push(`exchange: answered after ${ms} ms (bound ${BOUND_MS[repeat ? "repeat" : "first"]} ms), status ${res.status}`);
  if (res.status === 401) {
    // Every user's access token is valid, signed by a key the stand-in publishes: note why it
    // was refused, and when.
    let code = "?";
    try {
      code = JSON.parse(text).error;
    } catch {}
    const at = Math.round((t0 - started) / 1000);
    const r = (refusals[code] ??= { n: 0, first: at, last: at });
    r.n++;
    r.last = at;
    const sinceSwitch = (t0 - Math.max(0, ...switches.filter((t) => t <= t0))) / 1000;
    if (code !== "no_matching_key" || sinceSwitch > UNKNOWN_KID_COOLDOWN_S + 2) {
      failures.push(`exchange: a valid token refused (401 ${code}) ${sinceSwitch.toFixed(0)} s after signing moved to a new key: ${text.slice(0, 200)}`);
    }
  }
  if (res.status !== 200) return;
  const answer = JSON.parse(text);
  const expected = userIdOf(u.email);
  if (answer.user_id !== expected) failures.push(`exchange: a 200 for ${u.sub} named user ${answer.user_id}, expected ${expected}`);
  if (answer.reused) {
    // Answered from the cookies this request sent: it must be that very session, held by
    // Stytch, or revoked there no longer ago than its JWT lives (the edge answers from the JWT).
    reused++;
    const gone = sent && revoked.get(sent.token);
    const session = sent && (stytch.sessions.get(sent.token) ?? (gone && t0 <= gone.at + JWT_SECS * 1000 + 5000 ? gone.session : undefined));
    if (!session || session.session_id !== answer.session_id || session.user_id !== expected) {
      failures.push(`exchange: a reused 200 names session ${answer.session_id}, not the live session of ${expected}`);
    }
    return;
  }
  const cookies = res.headers.getSetCookie().map((c) => c.split(";")[0]);
  const token = cookies.find((c) => c.startsWith("stytch_session="))?.slice("stytch_session=".length);
  const session = token && stytch.sessions.get(token);
  if (!session) failures.push(`exchange: a 200 set a session token Stytch does not hold (session ${answer.session_id})`);
  else if (session.user_id !== expected || session.session_id !== answer.session_id) failures.push(`exchange: a 200's session ${session.session_id} belongs to ${session.user_id}, not ${expected}`);
  else {
    u.cookie = cookies.join("; ");
    u.token = token;
    u.firstSessionAt ??= Date.now();
    tokenOwner.set(token, u);
  }
}

// ---- the gateway ----
const tokenOwner = new Map(); // session token -> user
const gatewayStatuses = {};
const gatewayKinds = {};
const revoked = new Map(); // session token -> { at: when it was revoked at Stytch, session }
let soakIds = 0;
let gatewayLatencyMax = 0;
const GATEWAY_KINDS = [
  ["live", 40],
  ["spoofed", 10],
  ["bearer", 10],
  ["forged", 5],
  ["absent", 5],
  ["public", 5],
  ["slow", 4],
  ["reset", 3],
  ["hang", 1],
  ["fail", 3],
  ["big-headers", 2],
  ["websocket", 2],
];
const KIND_WEIGHT = GATEWAY_KINDS.reduce((a, [, w]) => a + w, 0);
function pickKind() {
  let r = Math.random() * KIND_WEIGHT;
  for (const [k, w] of GATEWAY_KINDS) if ((r -= w) < 0) return k;
  return "live";
}
const cookieValue = (cookie, name) => cookie?.split("; ").find((c) => c.startsWith(`${name}=`))?.slice(name.length + 1);
/** What a browser's jar does with an answer's Set-Cookie lines. */
function keep(u, res) {
  const set = res.headers.getSetCookie().map((c) => c.split(";")[0]);
  const jwt = set.find((c) => c.startsWith("stytch_session_jwt="));
  if (!jwt) return;
  if (jwt === "stytch_session_jwt=") {
    u.cookie = null;
    return;
  }
  const token = set.find((c) => c.startsWith("stytch_session="))?.slice("stytch_session=".length);
  if (token) {
    u.cookie = set.join("; ");
    u.token = token;
    tokenOwner.set(token, u);
  }
}
/** One request through the gateway, checked. */
async function gate() {
  const u = browsers[Math.floor(Math.random() * BROWSERS)];
  let kind = pickKind();
  if (!u.cookie && !["absent", "public", "forged"].includes(kind)) {
    // Signed out (never signed in, or the gateway cleared a session that ended): sign in.
    return one(u, true);
  }
  gatewayKinds[kind] = (gatewayKinds[kind] ?? 0) + 1;
  const id = String(++soakIds);
  const sentCookie = u.cookie;
  const sentToken = cookieValue(sentCookie, "stytch_session");
  const expected = userIdOf(u.email);
  const headers = { "x-soak-id": id };
  let p = `/app/page-${id}`;
  switch (kind) {
    case "spoofed":
      Object.assign(headers, { "edge-attest-user-id": "forged-user", "Edge_Attest_Session_Id": "forged-session", "Edge.Attest.Aal": "forged-aal" });
    // falls through: with the user's cookies
    case "live":
      headers.cookie = sentCookie;
      break;
    case "bearer":
      p = `/api/orders-${id}`;
      headers.authorization = `Bearer ${cookieValue(sentCookie, "stytch_session_jwt")}`;
      break;
    case "forged": {
      const jwt = cookieValue(sentCookie, "stytch_session_jwt") ?? "eyJhbGciOiJSUzI1NiJ9.e30.c2ln";
      headers.cookie = `stytch_session=${sentToken ?? "x"}; stytch_session_jwt=${jwt.slice(0, -4)}AAAA`;
      break;
    }
    case "absent":
      break;
    case "public":
      p = `/pub/page-${id}`;
      break;
    case "websocket":
      return socket(u, id, expected);
    default:
      headers.cookie = sentCookie;
      p = `/app/${id}/${kind}`;
  }
  const t0 = Date.now();
  let res;
  try {
    res = await fetch(`${worker.url}${p}`, { headers, redirect: "manual", signal: AbortSignal.timeout(60_000) });
    await res.arrayBuffer();
  } catch (e) {
    failures.push(`gateway ${kind}: no answer within 60 s (${e.message})`);
    return;
  }
  const ms = Date.now() - t0;
  gatewayLatencyMax = Math.max(gatewayLatencyMax, ms);
  gatewayStatuses[res.status] = (gatewayStatuses[res.status] ?? 0) + 1;
  if (ms > GATEWAY_BOUND_MS) failures.push(`gateway ${kind}: answered after ${ms} ms (bound ${GATEWAY_BOUND_MS} ms)`);
  const seen = app.requests.filter((r) => r.headers["x-soak-id"] === id);
  const raw = seen.flatMap((r) => r.rawHeaders).join("\n");
  if (/forged/.test(raw)) failures.push(`gateway ${kind}: a forged identity header reached the app`);
  const appsOwn = kind === "fail" ? [503] : [];
  if (!GATEWAY_DOCUMENTED.has(res.status) && !appsOwn.includes(res.status)) failures.push(`gateway ${kind}: undocumented status ${res.status}`);
  const identity = seen[0]?.headers["edge-attest-user-id"];
  if (kind === "forged" || kind === "absent") {
    if (seen.length) failures.push(`gateway ${kind}: the app was reached without a session`);
    if (res.status !== 401) failures.push(`gateway ${kind}: ${res.status}, not 401`);
    if (kind === "forged" && res.headers.getSetCookie().length !== 2) failures.push("gateway forged: the cookies were not cleared");
    return;
  }
  if (kind === "public") {
    if (res.status !== 200 || seen.length !== 1 || identity !== undefined) failures.push(`gateway public: ${res.status}, identity ${identity}`);
    return;
  }
  keep(u, res);
  if (res.status === 401 && sentToken) {
    // Gone: revoked here, or ended. Never a live session's answer.
    const session = stytch.sessions.get(sentToken);
    if (session && Date.parse(session.expires_at) > Date.now() + 5000 && kind !== "bearer") {
      failures.push(`gateway ${kind}: 401 for a session Stytch holds (${session.session_id})`);
    }
  }
  if (seen.length && res.status < 300) {
    if (identity !== expected) failures.push(`gateway ${kind}: the app got user ${identity}, the request was ${expected}'s`);
    if (!seen[0].jwt.verified && kind !== "slow") failures.push(`gateway ${kind}: the app could not verify Edge-Attest-Jwt (${seen[0].jwt.error})`);
    if (kind === "bearer" && seen[0].headers.authorization) failures.push("gateway bearer: Authorization reached the app");
    const at = revoked.get(sentToken)?.at;
    if (at && t0 > at + JWT_SECS * 1000 + 5000) failures.push(`gateway ${kind}: a session revoked ${((t0 - at) / 1000).toFixed(0)} s before passed`);
  }
  if (kind === "big-headers" && res.status === 200 && res.headers.get("x-big")?.length !== 64 * 1024) failures.push("gateway big-headers: the app's 64 KiB header did not come through whole");
  if (kind === "reset" && ![502, 401, 429, 503, 504].includes(res.status)) failures.push(`gateway reset: ${res.status}`);
  if (kind === "hang" && ![504, 401, 429, 502, 503].includes(res.status)) failures.push(`gateway hang: ${res.status}`);
}
/** A WebSocket handshake through the gateway: the echo works for a session, or it is refused. */
async function socket(u, id, expected) {
  const ws = new WebSocket(`${worker.url.replace("http", "ws")}/app/ws?soak=${id}`, { headers: { cookie: u.cookie } });
  const outcome = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve("timeout"), 15_000);
    ws.onopen = () => ws.send("ping");
    ws.onmessage = (e) => {
      clearTimeout(timer);
      resolve(e.data === "echo: ping" ? "echo" : `wrong echo ${e.data}`);
    };
    ws.onerror = () => {
      clearTimeout(timer);
      resolve("refused");
    };
  });
  try {
    ws.close();
  } catch {}
  gatewayStatuses[`ws ${outcome}`] = (gatewayStatuses[`ws ${outcome}`] ?? 0) + 1;
  if (outcome === "timeout" || outcome.startsWith("wrong")) failures.push(`gateway websocket: ${outcome}`);
  const seen = app.requests.find((r) => r.upgrade && r.url.endsWith(`soak=${id}`));
  if (outcome === "echo" && seen?.headers["edge-attest-user-id"] !== expected) failures.push(`gateway websocket: the app got ${seen?.headers["edge-attest-user-id"]}, not ${expected}`);
}
// Now and then a session revoked at Stytch, as the app's backend or another device would.
const revokeTimer = setInterval(() => {
  const u = users[Math.floor(Math.random() * users.length)];
  const session = u.token && stytch.sessions.get(u.token);
  if (session && stytch.sessions.delete(u.token)) revoked.set(u.token, { at: Date.now(), session });
}, 2000);
const rssSamples = [];
const rssTimer = setInterval(() => rssSamples.push(`${((Date.now() - started) / 1000).toFixed(0)} s: ${(rssKb() / 1024).toFixed(0)} MB`), 15_000);
let lastReport = Date.now();
let nextGateway = 0;
await Promise.all(
  Array.from({ length: C }, async () => {
    while (next < N || nextGateway < G) {
      const gateway = nextGateway < G && (next >= N || Math.random() < G / (N + G));
      if (gateway) {
        nextGateway++;
        await gate();
      } else {
        next++;
        await one();
      }
      if (Date.now() - lastReport > 10_000) {
        lastReport = Date.now();
        console.log(`  ${latencies.length}/${N} exchanges, ${nextGateway}/${G} gateway requests, ${((Date.now() - started) / 1000).toFixed(0)} s`);
      }
    }
  }),
);
clearInterval(flapTimer);
clearTimeout(outageStart);
clearInterval(outageTimer);
authenticateDown = false;
clearInterval(rotateTimer);
clearInterval(revokeTimer);
clearInterval(rssTimer);
supabase.state.mode = "ok";
const seconds = (Date.now() - started) / 1000;
await new Promise((r) => setTimeout(r, 1000));
const rssAfter = rssKb();
const total = latencies.length;
const jwksFetches = supabase.state.fetches - counters.jwks;
const stytchCalls = stytch.apiCalls().length - counters.stytchApi;
const stytchKeyFetches = stytch.state.jwksFetches - counters.stytchKeys;
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(total - 1, Math.floor((p / 100) * total))];
// sessions/authenticate per user, against one per session per JWT lifetime: a JWT is used
// until it has 30 s left, so a session active for T seconds needs T / (JWT_SECS - 30) refreshes.
const refreshEvery = JWT_SECS - 30;
const authenticateCalls = stytch.calls.filter((c) => c.path === "/v1/sessions/authenticate" && c.at >= started);
const perUser = new Map();
for (const c of authenticateCalls) {
  const u = tokenOwner.get(c.body?.session_token);
  if (u) perUser.set(u, (perUser.get(u) ?? 0) + 1);
}
const endedAt = Date.now();
let expectedRefreshes = 0;
for (const u of browsers) if (u.firstSessionAt) expectedRefreshes += Math.ceil((endedAt - u.firstSessionAt) / 1000 / refreshEvery);
const counts = browsers.map((u) => perUser.get(u) ?? 0).sort((a, b) => a - b);
const at = (q) => counts[Math.min(counts.length - 1, Math.floor(q * counts.length))];
const refreshStorm = authenticateCalls.length - authenticateFaults > 1.25 * expectedRefreshes;
if (refreshStorm) failures.push(`refresh storm: ${authenticateCalls.length - authenticateFaults} sessions/authenticate calls, against ${expectedRefreshes}`);
const gatewayTotal = Object.values(gatewayKinds).reduce((a, n) => a + n, 0);
const failed = (prefix) => failures.some((f) => f.startsWith(prefix));

/** The failures grouped by what failed (their text up to the first digit or parenthesis). */
function failureKinds() {
  const kinds = new Map();
  for (const f of failures) {
    const kind = f.split(/[0-9(]/)[0].trim();
    const k = kinds.get(kind) ?? { n: 0, first: f };
    k.n++;
    kinds.set(kind, k);
  }
  return [...kinds.values()].map((k) => `- ${k.n}× ${k.first}`);
}
const lines = [
  "# Fault soak (`make soak`)",
  "",
  `Last run: ${new Date().toISOString().slice(0, 19)}Z, ${os.cpus().length} cores (${os.cpus()[0].model}), bare workerd, the release build.`,
  "",
  `${total} exchanges by ${USERS} users (${repeats} sending back the Stytch cookies) and ${BROWSERS} browsers signing in (${logins}), and ${gatewayTotal} requests by those browsers through the auth gateway, at concurrency ${C} in ${seconds.toFixed(0)} s, while the Stytch stand-in answered ${(FAULT_RATE * 100).toFixed(0)}% of attest and authenticate calls with a fault, its session JWTs lived ${JWT_SECS} s, it revoked a session every 2 s, its \`sessions/authenticate\` was down ${outages} times for 5 s, and the Supabase key set flapped ${flaps} times and rotated ${rotations} times (bench/soak.mjs says how).`,
  "",
  "| check | result |",
  "| --- | --- |",
  `| every status documented for the exchange (200, 401, 429, 502, 503, 504) | ${failed("exchange: undocumented") ? "**no**" : "yes"} |`,
  `| no exchange answered later than the timeouts allow (${BOUND_MS.first / 1000} s, ${BOUND_MS.repeat / 1000} s with cookies) | ${failed("exchange: answered after") || failed("exchange: no answer") ? "**no**" : "yes"} (slowest ${latencies.at(-1)} ms) |`,
  `| every 200's session exists at Stytch and belongs to the token's user | ${failed("exchange: a ") ? "**no**" : "yes"} |`,
  `| every gateway answer documented (the gateway's 200, 401, 429, 502, 503, 504, or the app's own) and within ${GATEWAY_BOUND_MS / 1000} s | ${failures.some((f) => f.startsWith("gateway") && (f.includes("undocumented") || f.includes("answered after") || f.includes("no answer"))) ? "**no**" : "yes"} (slowest ${gatewayLatencyMax} ms) |`,
  `| the app reached only with a session, with the sending user's identity (verified from Edge-Attest-Jwt by the app), never a forged header; forged and absent sessions 401, forged ones cleared | ${failures.some((f) => f.startsWith("gateway") && (f.includes("identity") || f.includes("reached") || f.includes("verify") || f.includes("401") || f.includes("cleared") || f.includes("Authorization"))) ? "**no**" : "yes"} |`,
  `| a session revoked at Stytch never passed once its last JWT had run out (${JWT_SECS} s) | ${failures.some((f) => f.includes("revoked")) ? "**no**" : "yes"} |`,
  `| WebSocket handshakes echo through the gateway | ${failed("gateway websocket") ? "**no**" : "yes"} |`,
  `| an app's 64 KiB response header comes through whole (Workers allow 128 KB of headers) | ${failed("gateway big-headers") ? "**no**" : "yes"} |`,
  `| no refresh storm: \`sessions/authenticate\` calls not answered with a fault at most 1.25 times one per session per ${refreshEvery} s of activity | ${refreshStorm ? "**no**" : "yes"} (${authenticateCalls.length - authenticateFaults} / ${expectedRefreshes}) |`,
  `| failed checks | ${failures.length} |`,
  "",
  "| status | answers |",
  "| --- | --- |",
  ...Object.entries(statuses).map(([s, n]) => `| ${s} | ${n} (${((100 * n) / total).toFixed(1)}%) |`),
  "",
  "| measure | value |",
  "| --- | --- |",
  `| answered at the edge (reused) | ${reused} |`,
  `| latency p50 / p90 / p99 / max | ${pct(50)} / ${pct(90)} / ${pct(99)} / ${latencies.at(-1)} ms |`,
  `| Supabase key-set fetches | ${jwksFetches} (${(jwksFetches / total).toFixed(4)} per exchange) |`,
  `| Stytch key-set fetches | ${stytchKeyFetches} |`,
  `| Stytch API calls | ${stytchCalls} (${(stytchCalls / total).toFixed(3)} per exchange, retries and extensions included) |`,
  `| faults injected | ${Object.entries(injected).map(([k, n]) => `${k} ${n}`).join(", ")} |`,
  `| workerd memory (RSS) before / after | ${(rssBefore / 1024).toFixed(1)} / ${(rssAfter / 1024).toFixed(1)} MB |`,
  `| workerd memory through the run | ${rssSamples.join(", ")} |`,
  "",
  ...(Object.keys(refusals).length
    ? ["Exchanges refused (401): " + Object.entries(refusals).map(([c, r]) => `${c} ${r.n} (${r.first}-${r.last} s)`).join(", "), ""]
    : []),
  "The gateway:",
  "",
  "| requests | by kind |",
  "| --- | --- |",
  `| ${gatewayTotal} | ${Object.entries(gatewayKinds).map(([k, n]) => `${k} ${n}`).join(", ")} |`,
  "",
  "| answer | count |",
  "| --- | --- |",
  ...Object.entries(gatewayStatuses).map(([st, n]) => `| ${st} | ${n} |`),
  "",
  "| `sessions/authenticate` | value |",
  "| --- | --- |",
  `| calls (attempts, retries included) | ${authenticateCalls.length}, of which ${authenticateFaults} answered with an injected fault |`,
  `| calls while it was down (${outages} times 5 s) | ${outageCalls} |`,
  `| per user: median / p90 / p99 / max | ${at(0.5)} / ${at(0.9)} / ${at(0.99)} / ${counts.at(-1)} |`,
  `| one per session per JWT lifetime (a refresh every ${refreshEvery} s of each user's activity) | ${expectedRefreshes} |`,
  `| calls / that target | ${(authenticateCalls.length / Math.max(1, expectedRefreshes)).toFixed(2)} |`,
  "",
  "RSS is the whole workerd process. Under sustained load it grows to about 300 MB and levels off, for this worker and for the jose reference worker alike: `node bench/rss.mjs` measures both after 5k, 20k, 40k and 60k exchanges.",
  "",
  "Events:",
  "",
  ...events.map((e) => `- ${e}`),
  ...(failures.length ? ["", "Failed checks (each kind: how many, and the first):", "", ...failureKinds()] : []),
  "",
];
const report = lines.join("\n");
console.log("\n" + report);
writeFileSync(path.join(ROOT, "docs", "soak.md"), report);
console.log("wrote docs/soak.md");
if (process.env.SOAK_LOGS) {
  writeFileSync(path.join(out, "worker.log"), worker.stdout());
  writeFileSync(path.join(out, "worker-warn-error.log"), worker.stderr());
}
await worker.stop();
await Promise.all([supabase.close(), stytch.close(), kv.close(), app.close()]);
process.exit(failures.length ? 1 : 0);
