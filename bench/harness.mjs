// Pieces of the benchmark: bundling a worker, running it in a bare `workerd serve` with a
// small local KV service, a Stytch stub that answers at once, and reading a process's CPU.
import http from "node:http";
import net from "node:net";
import { spawn, execFileSync } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync, mkdirSync, statSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { ROOT, freePort } from "../dev/worker.mjs";

const BIN = path.join(ROOT, "node_modules", ".bin");
export const WORKERD = path.join(ROOT, "node_modules", "@cloudflare", "workerd-linux-64", "bin", "workerd");
const CLK_TCK = 100; // USER_HZ on Linux

/** Bundles a worker exactly as `wrangler deploy` would upload it. */
export function bundle(config, outdir) {
  execFileSync(path.join(BIN, "wrangler"), ["deploy", "--dry-run", "--outdir", outdir, "-c", config], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, PATH: `${BIN}${path.delimiter}${process.env.PATH}`, WRANGLER_SEND_METRICS: "false" },
  });
  const files = readdirSync(outdir).filter((f) => f.endsWith(".js") || f.endsWith(".wasm"));
  const sizes = Object.fromEntries(files.map((f) => {
    const bytes = readFileSync(path.join(outdir, f));
    return [f, { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length }];
  }));
  return { outdir, files, sizes };
}

/** user+system CPU seconds of a process (all its threads), from /proc. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** A Workers KV namespace over workerd's KV protocol (GET/PUT /:key), counting reads. */
export async function startKv() {
  const store = new Map();
  const stats = { gets: 0, puts: 0 };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    const raw = url.pathname.slice(1);
    const key = url.searchParams.get("urlencoded") === "true" ? decodeURIComponent(raw) : raw;
    if (req.method === "GET") {
      stats.gets++;
      const hit = store.get(key);
      if (!hit || hit.expires < Date.now()) {
        res.writeHead(404);
        return res.end();
      }
      res.writeHead(200, { "content-type": "application/octet-stream" });
      return res.end(hit.value);
    }
    if (req.method === "PUT") {
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        stats.puts++;
        const ttl = Number(url.searchParams.get("expiration_ttl") || 0);
        store.set(key, { value: Buffer.concat(chunks), expires: ttl ? Date.now() + ttl * 1000 : Infinity });
        res.writeHead(200);
        res.end();
      });
      return;
    }
    res.writeHead(405);
    res.end();
  });
  const port = await new Promise((r) => server.listen(0, "127.0.0.1", () => r(server.address().port)));
  return { port, stats, store, close: () => new Promise((r) => server.close(r)) };
}

/**
 * A Stytch stub that answers attest at once (or after `stats.delayMs`) with one precomputed,
 * well-formed session, and serves a session key set at /v1/sessions/jwks/{project}, so that
 * `sessionCookie(token)` can sign the session JWT a browser would hold for that login: what a
 * repeat exchange sends.
 */
export async function startStytchStub({ projectId = "project-test-bench" } = {}) {
  const { SignJWT, exportJWK, generateKeyPair } = await import("jose");
  const expiresAt = new Date(Date.now() + 3 * 3600_000).toISOString();
  const tokens = { session_token: "bench-session-token-" + "x".repeat(24), session_jwt: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9." + "s".repeat(342) };
  const body = JSON.stringify({
    status_code: 200,
    request_id: "request-id-bench-0000",
    user_id: "user-test-bench",
    user: { user_id: "user-test-bench", status: "active" },
    ...tokens,
    session: { session_id: "session-test-bench", user_id: "user-test-bench", expires_at: expiresAt, authentication_factors: [], roles: [] },
  });
  // A B2B project's answer (/v1/b2b/sessions/*): a member session in organization BENCH_ORG.
  const memberBody = JSON.stringify({
    status_code: 200,
    request_id: "request-id-bench-0000",
    member_id: "member-test-bench",
    member: { member_id: "member-test-bench", status: "active" },
    organization: { organization_id: "organization-test-bench", organization_slug: BENCH_ORG },
    ...tokens,
    member_session: { member_session_id: "member-session-test-bench", member_id: "member-test-bench", expires_at: expiresAt, organization_id: "organization-test-bench", organization_slug: BENCH_ORG, authentication_factors: [], roles: [] },
  });
  const { publicKey, privateKey } = await generateKeyPair("RS256", { modulusLength: 2048, extractable: true });
  const kid = "jwk-test-bench";
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig", key_ops: ["verify"] }], request_id: "request-id-bench-jwks", status_code: 200 });
  const stats = { calls: 0, jwks: 0, delayMs: 0 };
  const server = http.createServer((req, res) => {
    stats.calls++;
    if (req.method === "GET" && (req.url.startsWith("/v1/sessions/jwks/") || req.url.startsWith("/v1/b2b/sessions/jwks/"))) {
      stats.jwks++;
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(jwks) });
      return res.end(jwks);
    }
    const answerBody = req.url.startsWith("/v1/b2b/") ? memberBody : body;
    req.resume();
    req.on("end", () => {
      const answer = () => {
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(answerBody) });
        res.end(answerBody);
      };
      if (stats.delayMs) setTimeout(answer, stats.delayMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 60_000;
  const port = await new Promise((r) => server.listen(0, "127.0.0.1", () => r(server.address().port)));
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    /**
     * The `Cookie` header of a browser holding the session for `token`'s login (a fresh JWT);
     * `b2b`: a member session in BENCH_ORG, made for a login asking for it. `aal: false`: a
     * link without the login's assurance level (what builds before links carried it expect).
     */
    async sessionCookie(token, { b2b = false, aal = true } = {}) {
      const c = JSON.parse(Buffer.from(token.split(".")[1], "base64url"));
      const jwt = await new SignJWT({
        "https://stytch.com/session": { id: b2b ? "member-session-test-bench" : "session-test-bench", started_at: new Date().toISOString(), last_accessed_at: new Date().toISOString(), expires_at: expiresAt, authentication_factors: [], roles: [b2b ? "stytch_member" : "stytch_user"] },
        ...(b2b ? { "https://stytch.com/organization": { organization_id: "organization-test-bench", slug: BENCH_ORG } } : {}),
        edge_attest: { iss: c.iss, sub: c.sub, session_id: c.session_id, ...(b2b ? { organization: BENCH_ORG } : {}), ...(aal && c.aal ? { aal: c.aal } : {}) },
      })
        .setProtectedHeader({ alg: "RS256", kid, typ: "JWT" })
        .setIssuer(`stytch.com/${projectId}`)
        .setAudience([projectId])
        .setSubject(b2b ? "member-test-bench" : "user-test-bench")
        .setIssuedAt()
        .setNotBefore("0s")
        .setExpirationTime("5m")
        .sign(privateKey);
      return `stytch_session=${tokens.session_token}; stytch_session_jwt=${jwt}`;
    },
    close: () => { server.closeAllConnections(); return new Promise((r) => server.close(r)); },
  };
}

/** The organization (slug) of the benchmark's B2B runs: in the token's `app_metadata.org_id`. */
export const BENCH_ORG = "acme-bench";
/** A B2B worker's variables on top of a consumer one's. */
export const B2B_VARS = { STYTCH_PRODUCT: "b2b", STYTCH_ORGANIZATION_ID_CLAIM: "app_metadata.org_id" };

const capnpString = (s) => JSON.stringify(String(s));

/**
 * The Rate Limiting binding as production describes it (counters on the machine, no network
 * wait): a fixed window per key in isolate memory, behind workerd's wrapped-binding mechanism
 * as Miniflare provides the binding (whose local simulation instead goes through a Durable
 * Object and would measure that). Its limits are set so high that nothing is refused: the
 * benchmark measures what a check costs.
 */
const RATELIMIT_MODULE = `class Ratelimit {
  constructor(env) { this.limitVal = env.limit; this.period = env.period; this.counts = new Map(); }
  async limit({ key }) {
    const k = Math.floor(Date.now() / (this.period * 1000)) + "\\n" + key;
    const n = (this.counts.get(k) ?? 0) + 1;
    this.counts.set(k, n);
    if (this.counts.size > 10000) this.counts.clear();
    return { success: n <= this.limitVal };
  }
}
export default function (env) { return new Ratelimit(env); }
`;

/**
 * The bundle's own entry behind a route that fires its scheduled handler (bare workerd has no
 * scheduled-event endpoint; wrangler dev's is Miniflare's): `GET /__bench/scheduled`.
 */
const SCHEDULED_ENTRY = `import worker from "./index.js";
export default {
  fetch(request, env, ctx) {
    if (new URL(request.url).pathname !== "/__bench/scheduled") return worker.fetch(request, env, ctx);
    const controller = { cron: "*/5 * * * *", scheduledTime: Date.now(), noRetry() {} };
    return worker.scheduled(controller, env, ctx).then(() => new Response("ok"), (e) => new Response(String(e), { status: 500 }));
  },
};
`;

/**
 * Writes a workerd config for a bundled worker and starts `workerd serve` on it; with
 * `rateLimits`, the two rate-limit bindings too; with `scheduledRoute`, a route that fires its
 * scheduled handler (SCHEDULED_ENTRY).
 */
export async function startWorkerd({ name, bundle: b, vars, kvPort, workdir, inspectorPort, v8Flags = [], rateLimits = false, scheduledRoute = false, keepStdout = false }) {
  mkdirSync(workdir, { recursive: true });
  const port = await freePort();
  const modules = b.files
    .sort((a, c) => (a === "index.js" ? -1 : c === "index.js" ? 1 : 0))
    .map((f) => (f.endsWith(".wasm") ? `(name = ${capnpString(f)}, wasm = embed ${capnpString(path.relative(workdir, path.join(b.outdir, f)))})` : `(name = ${capnpString(f)}, esModule = embed ${capnpString(path.relative(workdir, path.join(b.outdir, f)))})`));
  if (scheduledRoute) {
    writeFileSync(path.join(workdir, "scheduled-entry.js"), SCHEDULED_ENTRY);
    modules.unshift(`(name = "scheduled-entry.js", esModule = embed "scheduled-entry.js")`);
  }
  const bindings = Object.entries(vars).map(([k, v]) => `(name = ${capnpString(k)}, text = ${capnpString(v)})`);
  if (kvPort) bindings.push(`(name = "JWKS_CACHE", kvNamespace = "kv")`);
  let extensions = "";
  if (rateLimits) {
    writeFileSync(path.join(workdir, "ratelimit-bench.js"), RATELIMIT_MODULE);
    extensions = `extensions = [ (modules = [ (name = "edge-attest-bench:ratelimit", esModule = embed "ratelimit-bench.js", internal = true) ]) ],`;
    for (const limiter of ["IP_RATE_LIMITER", "USER_RATE_LIMITER"]) {
      bindings.push(`(name = "${limiter}", wrapped = (moduleName = "edge-attest-bench:ratelimit", innerBindings = [ (name = "limit", json = "1000000000"), (name = "period", json = "60") ]))`);
    }
  }
  const services = [
    `(name = "main", worker = .worker)`,
    `(name = "internet", network = (allow = ["public", "private", "local"]))`,
  ];
  if (kvPort) services.push(`(name = "kv", external = (address = "127.0.0.1:${kvPort}", http = ()))`);
  const config = `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ ${services.join(",\n    ")} ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
  v8Flags = [ ${v8Flags.map(capnpString).join(", ")} ],
  ${extensions}
);
const worker :Workerd.Worker = (
  modules = [ ${modules.join(",\n    ")} ],
  compatibilityDate = "2026-11-01",
  bindings = [ ${bindings.join(",\n    ")} ],
);
`;
  const file = path.join(workdir, `${name}.capnp`);
  writeFileSync(file, config);
  const started = process.hrtime.bigint();
  const args = ["serve", file, "--experimental"];
  if (inspectorPort) args.push(`--inspector-addr=127.0.0.1:${inspectorPort}`);
  const child = spawn(WORKERD, args, { stdio: ["ignore", keepStdout ? "pipe" : "ignore", "pipe"] });
  let stderr = "";
  let stdout = "";
  child.stderr.on("data", (d) => (stderr += d));
  child.stdout?.on("data", (d) => (stdout += d));
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    started,
    stderr: () => stderr,
    stdout: () => stdout,
    stop: () => new Promise((r) => { child.once("exit", r); child.kill("SIGKILL"); }),
  };
}

export const fileSize = (f) => statSync(f).size;

/**
 * Resolves once a worker started by `startWorkerd` accepts connections (its module loaded);
 * throws with its stderr after `timeoutMs`.
 */
export async function waitAccepting(w, timeoutMs = 20_000) {
  const port = Number(new URL(w.url).port);
  for (const until = Date.now() + timeoutMs; ; ) {
    const open = await new Promise((r) => {
      const s = net.connect(port, "127.0.0.1", () => (s.end(), r(true)));
      s.on("error", () => r(false));
    });
    if (open) return;
    if (Date.now() > until) throw new Error(`workerd did not start:\n${w.stderr()}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** The Stytch project every benchmark's worker is configured with (and a Stytch stand-in too). */
export const BENCH_STYTCH = { projectId: "project-test-bench", secret: "secret-test-bench", profileId: "trusted-auth-token-profile-test-bench" };

/** The worker variables of every benchmark: the Supabase stand-in and the Stytch stub. */
export function benchVars(supabase, stytch) {
  return {
    SUPABASE_URL: supabase.url,
    STYTCH_PROJECT_ID: BENCH_STYTCH.projectId,
    STYTCH_SECRET: BENCH_STYTCH.secret,
    STYTCH_PROFILE_ID: BENCH_STYTCH.profileId,
    STYTCH_API_BASE: stytch.url,
  };
}
