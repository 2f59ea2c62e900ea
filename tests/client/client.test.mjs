// The client module (client/index.js) in Node, attached to a real supabase-js client signed in
// against the Supabase stand-in:
// - against the compiled worker in workerd (with a cookie jar standing in for the browser's):
//   sign-in, refresh, sign-out, and one request in flight with repeats collapsed;
// - against a worker stand-in that answers as the worker does when things go wrong (429 and
//   503 with Retry-After, transient 5xx, a dropped connection, a refused token), to check what
//   is retried, when, and what is not.
// Several tabs are the browser test's (tests/browser/demo.test.mjs).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { createClient } from "@supabase/supabase-js";
import { attachEdgeAttest } from "../../client/index.js";
import { setup, payloadOf } from "../integration/helpers.mjs";

let ctx;
before(async () => {
  ctx = await setup();
});
after(async () => ctx?.close());

/**
 * A fetch that keeps the cookies the worker sets and sends them back, as a browser does;
 * `latencyMs` adds a network's round trip to each request.
 */
function browserFetch({ latencyMs = 0 } = {}) {
  const jar = new Map();
  const calls = [];
  let inFlight = 0;
  const f = async (url, init = {}) => {
    inFlight += 1;
    calls.push({ url: String(url), method: init.method, body: init.body, inFlight });
    try {
      if (latencyMs) await new Promise((r) => setTimeout(r, latencyMs));
      const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
      const res = await fetch(url, { ...init, headers: { ...init.headers, ...(cookie ? { cookie } : {}) } });
      for (const line of res.headers.getSetCookie()) {
        const [pair, ...attrs] = line.split(";");
        const [name, value] = [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)];
        if (value === "" || attrs.some((a) => /max-age=0/i.test(a.trim()))) jar.delete(name);
        else jar.set(name, value);
      }
      return res;
    } finally {
      inFlight -= 1;
    }
  };
  return Object.assign(f, { jar, calls });
}

function supabaseClient() {
  return createClient(ctx.supabase.url, "anon-key", { auth: { persistSession: false, autoRefreshToken: false } });
}

/** Resolves with the first state satisfying `pred`. */
function until(edge, pred, timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`state never matched; last ${JSON.stringify(edge.state)}`)), timeoutMs);
    const stop = edge.subscribe((s) => {
      if (pred(s)) {
        clearTimeout(t);
        queueMicrotask(() => stop());
        resolve(s);
      }
    });
  });
}

const posts = (f, path) => f.calls.filter((c) => c.method === "POST" && c.url.endsWith(path));

test("sign-in, token refresh and sign-out through supabase-js reach the worker once each", async () => {
  const supabase = supabaseClient();
  const f = browserFetch();
  const edge = attachEdgeAttest(supabase, { url: ctx.worker.url, fetch: f });
  assert.equal((await until(edge, (s) => s.status === "signed_out")).status, "signed_out", "INITIAL_SESSION without a login");
  const attests = () => ctx.stytch.calls.filter((c) => c.path === "/v1/sessions/attest").length;
  const before = attests();

  await supabase.auth.signInWithPassword({ email: "ada@example.com", password: "x" });
  const signedIn = await until(edge, (s) => s.status === "signed_in");
  assert.equal(signedIn.reused, false);
  assert.match(signedIn.user_id, /^user-test-/);
  assert.match(signedIn.request_id, /^request-id-test-/);
  assert.equal(attests(), before + 1);
  assert.ok(f.jar.has("stytch_session"));

  await supabase.auth.refreshSession();
  const refreshed = await until(edge, (s) => s.status === "signed_in" && s.reused === true);
  assert.equal(refreshed.session_id, signedIn.session_id, "the same Stytch session, answered at the edge");
  assert.equal(attests(), before + 1);
  assert.equal(posts(f, "/api/exchange").length, 2);
  const { data } = await supabase.auth.getSession();
  assert.equal(JSON.parse(posts(f, "/api/exchange").at(-1).body).access_token, data.session.access_token, "the refreshed token");

  await supabase.auth.signOut();
  await until(edge, (s) => s.status === "signed_out");
  assert.equal(posts(f, "/api/logout").length, 1);
  assert.equal(f.jar.size, 0, "the worker cleared the cookies");
  assert.equal(ctx.stytch.calls.at(-1).path, "/v1/sessions/revoke");
  edge.detach();
});

test("logout() during the logout supabase-js's sign-out started joins it: one request, resolved once it is done", async () => {
  const supabase = supabaseClient();
  const f = browserFetch({ latencyMs: 100 });
  const edge = attachEdgeAttest(supabase, { url: ctx.worker.url, fetch: f });
  await supabase.auth.signInWithPassword({ email: "leaving@example.com", password: "x" });
  await until(edge, (s) => s.status === "signed_in");
  const revokes = () => ctx.stytch.calls.filter((c) => c.path === "/v1/sessions/revoke").length;
  const before = revokes();
  // What an app's sign-out button does: supabase-js signs out (SIGNED_OUT: the client module
  // logs out of Stytch), then it waits for that logout before leaving the page.
  await supabase.auth.signOut();
  const state = await edge.logout();
  assert.equal(state.status, "signed_out");
  assert.equal(f.jar.size, 0, "resolved after the worker cleared the cookies");
  assert.equal(posts(f, "/api/logout").length, 1, "one logout");
  assert.equal(revokes(), before + 1);
  // With no logout under way, logout() is a request of its own.
  await edge.logout();
  assert.equal(posts(f, "/api/logout").length, 2);
  edge.detach();
});

test("one request in flight; a newer token replaces a waiting one; repeats are not sent", async () => {
  const supabase = supabaseClient();
  const f = browserFetch({ latencyMs: 300 }); // a far-away worker: refreshes outpace exchanges
  const edge = attachEdgeAttest(supabase, { url: ctx.worker.url, fetch: f });
  await supabase.auth.signInWithPassword({ email: "bursts@example.com", password: "x" });
  await until(edge, (s) => s.status === "signed_in");
  const before = posts(f, "/api/exchange").length;
  // Four refreshes in a row, each a new token, quicker than an exchange: the first goes out,
  // each newer one replaces the one still waiting.
  const issued = ctx.supabase.state.tokensIssued;
  for (let i = 0; i < 4; i++) await supabase.auth.refreshSession();
  assert.equal(ctx.supabase.state.tokensIssued, issued + 4, "four new tokens");
  const { data } = await supabase.auth.getSession();
  const final = data.session.access_token;
  const lastSent = () => JSON.parse(posts(f, "/api/exchange").at(-1).body).access_token;
  for (let i = 0; i < 300 && !(edge.state.status === "signed_in" && lastSent() === final); i++) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 200));
  const sent = posts(f, "/api/exchange").slice(before).map((c) => JSON.parse(c.body).access_token);
  assert.equal(sent.at(-1), final, "the newest token is the one that counts");
  assert.ok(sent.length <= 2, `the first and the newest, not all four: ${sent.length} exchanges`);
  assert.ok(f.calls.every((c) => c.inFlight === 1), "never two requests at once");
  // The same token again (supabase-js's setSession with the current session signals
  // SIGNED_IN with that very token): nothing is sent.
  const n = f.calls.length;
  const signals = [];
  supabase.auth.onAuthStateChange((event, session) => signals.push([event, session?.access_token]));
  await supabase.auth.setSession({ access_token: final, refresh_token: data.session.refresh_token });
  await new Promise((r) => setTimeout(r, 400));
  assert.deepEqual(signals.at(-1), ["SIGNED_IN", final], "supabase-js did signal it");
  assert.equal(f.calls.length, n, "and the client sent nothing");
  edge.detach();
});

test("a login that owes its second factor is not exchanged; MFA_CHALLENGE_VERIFIED's aal2 token is, and an earlier login's cookies go", async () => {
  const email = "mfa-user@example.com";
  ctx.supabase.state.mfaUsers.add(email);
  try {
    const supabase = supabaseClient();
    const f = browserFetch();
    const edge = attachEdgeAttest(supabase, { url: ctx.worker.url, fetch: f });
    // Someone else was signed in on this browser before.
    await supabase.auth.signInWithPassword({ email: "before@example.com", password: "x" });
    const before = await until(edge, (s) => s.status === "signed_in");
    assert.ok(f.jar.has("stytch_session"));
    const revokes = () => ctx.stytch.calls.filter((c) => c.path === "/v1/sessions/revoke").length;
    const revoked = revokes();

    // The password step: supabase-js signs in at aal1 with a verified factor waiting.
    const exchanges = posts(f, "/api/exchange").length;
    await supabase.auth.signInWithPassword({ email, password: "x" });
    const pending = await until(edge, (s) => s.status === "mfa_required");
    assert.equal(pending.user_id, null);
    assert.equal(posts(f, "/api/exchange").length, exchanges, "no exchange before the challenge");
    assert.equal(f.jar.size, 0, "the earlier login's cookies are cleared");
    assert.equal(revokes(), revoked + 1, "and its session revoked");
    assert.notEqual(before.session_id, null);

    // The challenge: supabase-js emits MFA_CHALLENGE_VERIFIED with the aal2 token.
    const { data: factors } = await supabase.auth.mfa.listFactors();
    const { error } = await supabase.auth.mfa.challengeAndVerify({ factorId: factors.totp[0].id, code: ctx.supabase.state.totpCode });
    assert.equal(error, null);
    const done = await until(edge, (s) => s.status === "signed_in");
    assert.equal(done.aal, "aal2");
    const sent = posts(f, "/api/exchange").slice(exchanges);
    assert.equal(sent.length, 1, "one exchange, of the aal2 token");
    assert.equal(payloadOf(JSON.parse(sent[0].body).access_token).aal, "aal2");
    const session = [...ctx.stytch.sessions.values()].find((x) => x.session_id === done.session_id);
    assert.equal(session.custom_claims.edge_attest.aal, "aal2");
    edge.detach();
  } finally {
    ctx.supabase.state.mfaUsers.delete(email);
  }
});

test("a sign-in from a password-recovery email (PASSWORD_RECOVERY) is exchanged", async () => {
  const supabase = supabaseClient();
  const f = browserFetch();
  const edge = attachEdgeAttest(supabase, { url: ctx.worker.url, fetch: f });
  const events = [];
  supabase.auth.onAuthStateChange((event) => events.push(event));
  const { error } = await supabase.auth.verifyOtp({ email: "recovering@example.com", token: ctx.supabase.state.otpCode, type: "recovery" });
  assert.equal(error, null);
  const s = await until(edge, (x) => x.status === "signed_in");
  assert.ok(events.includes("PASSWORD_RECOVERY") && !events.includes("SIGNED_IN"), events.join());
  assert.match(s.user_id, /^user-test-/);
  assert.equal(posts(f, "/api/exchange").length, 1);
  edge.detach();
});

/** Holds the client's cross-tab lock (as another tab's long exchange would) until released. */
async function holdLock(name = "edge-attest") {
  let release;
  const held = new Promise((r) => (release = r));
  let granted;
  const grant = new Promise((r) => (granted = r));
  navigator.locks.request(name, () => (granted(), held));
  await grant;
  return release;
}

test("work that waited for the lock does nothing once a newer intent replaced it: no stale logout, no stale exchange", async () => {
  const supabase = supabaseClient();
  const f = browserFetch();
  const edge = attachEdgeAttest(supabase, { url: ctx.worker.url, fetch: f, lockName: "edge-attest-races" });
  await supabase.auth.signInWithPassword({ email: "ada-races@example.com", password: "x" });
  await until(edge, (s) => s.status === "signed_in");
  const n = f.calls.length;
  // Another tab holds the lock; meanwhile this tab sees a sign-out and a sign-in as someone
  // else (a frozen tab waking up): the logout it queued must not run after the sign-in.
  const release = await holdLock("edge-attest-races");
  await supabase.auth.signOut();
  await supabase.auth.signInWithPassword({ email: "grace-races@example.com", password: "x" });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(f.calls.length, n, "nothing sent while the lock is held");
  release();
  const s = await until(edge, (x) => x.status === "signed_in" && x.user_id !== null && f.calls.length > n);
  await new Promise((r) => setTimeout(r, 300));
  const sent = f.calls.slice(n).map((c) => `${c.method} ${new URL(c.url).pathname}`);
  assert.deepEqual(sent, ["POST /api/exchange"], "only the newest intent ran");
  const { data } = await supabase.auth.getSession();
  assert.equal(JSON.parse(f.calls.at(-1).body).access_token, data.session.access_token);
  assert.ok(f.jar.has("stytch_session"), "Grace's session is what the browser holds");
  assert.match(s.user_id, /^user-test-/);
  edge.detach();
});

test("checkSession waits for the cross-tab lock", async () => {
  const supabase = supabaseClient();
  const f = browserFetch();
  const edge = attachEdgeAttest(supabase, { url: ctx.worker.url, fetch: f, lockName: "edge-attest-check" });
  await supabase.auth.signInWithPassword({ email: "checker@example.com", password: "x" });
  await until(edge, (s) => s.status === "signed_in");
  const release = await holdLock("edge-attest-check");
  const n = f.calls.length;
  const checked = edge.checkSession();
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(f.calls.length, n, "no request while another tab holds the lock");
  release();
  const s = await checked;
  assert.equal(s.status, "signed_in");
  assert.equal(f.calls.length, n + 1);
  edge.detach();
});

// ---- against a worker stand-in that fails as the worker can ----

/**
 * Answers /api/exchange and /api/logout from a script of steps: { status, body, headers },
 * { drop: true } (connection reset); then 200s. Records when each request arrived.
 */
async function faultyWorker(script) {
  const seen = [];
  const server = http.createServer((req, res) => {
    seen.push({ path: req.url, at: Date.now() });
    const step = script.shift() ?? { status: 200 };
    if (step.drop) return req.socket.destroy();
    if (step.hang) return; // never answers (a stalled connection)
    const body = step.body ?? (step.status === 200 ? { user_id: "user-test-1", session_id: "session-test-1", expires_at: "2026-12-01T00:00:00Z", request_id: "request-id-test-1", reused: false } : { error: "upstream_error", error_description: "x" });
    res.writeHead(step.status, { "content-type": "application/json", ...step.headers });
    res.end(JSON.stringify(body));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}`, seen, close: () => new Promise((r) => (server.closeAllConnections(), server.close(r))) };
}

async function signedInClient(worker, options = {}) {
  const supabase = supabaseClient();
  const edge = attachEdgeAttest(supabase, { url: worker.url, baseDelayMs: 40, ...options });
  await supabase.auth.signInWithPassword({ email: "faults@example.com", password: "x" });
  return { supabase, edge };
}

test("429 and 503 wait for their Retry-After, then try again", async () => {
  const worker = await faultyWorker([
    { status: 429, headers: { "retry-after": "1" }, body: { error: "rate_limited", error_description: "x" } },
    { status: 503, headers: { "retry-after": "1" }, body: { error: "jwks_unavailable", error_description: "x" } },
  ]);
  const { edge } = await signedInClient(worker);
  const waiting = await until(edge, (s) => s.status === "error" && s.retry_at !== null);
  assert.equal(waiting.error.error, "rate_limited");
  assert.ok(Math.abs(waiting.retry_at - Date.now() - 1000) < 300, "retry_at is Retry-After away");
  const done = await until(edge, (s) => s.status === "signed_in");
  assert.equal(done.user_id, "user-test-1");
  const gaps = worker.seen.slice(1).map((s, i) => s.at - worker.seen[i].at);
  assert.equal(worker.seen.length, 3);
  assert.ok(gaps.every((g) => g >= 950), `each retry waited its Retry-After: ${gaps}`);
  edge.detach();
  await worker.close();
});

test("network errors and transient 5xx back off exponentially; a final error stops", async () => {
  const worker = await faultyWorker([{ drop: true }, { status: 502 }, { status: 504, body: { error: "upstream_timeout", error_description: "x" } }, { drop: true }]);
  const { edge } = await signedInClient(worker, { maxAttempts: 4 });
  const failed = await until(edge, (s) => s.status === "error" && s.retry_at === null);
  assert.equal(worker.seen.length, 4, "maxAttempts");
  assert.equal(failed.error.status, 0, "the last attempt's error");
  assert.equal(failed.error.error, "network_error");
  const gaps = worker.seen.slice(1).map((s, i) => s.at - worker.seen[i].at);
  // 40 ms doubling, each between half and all of it: 20-40, 40-80, 80-160 (plus scheduling).
  assert.ok(gaps[0] >= 18 && gaps[1] >= 38 && gaps[2] >= 78, `backoff ${gaps}`);
  assert.ok(gaps[2] > gaps[0], `it grows: ${gaps}`);
  edge.detach();
  await worker.close();
});

test("a refused token and a misconfigured worker are not retried", async () => {
  for (const step of [
    { status: 401, body: { error: "invalid_token", error_description: "The access token is invalid or expired." } },
    { status: 500, body: { error: "misconfigured", error_description: "The service is misconfigured." } },
    { status: 400, body: { error: "invalid_request", error_description: "x" } },
  ]) {
    const worker = await faultyWorker([step]);
    const { edge } = await signedInClient(worker);
    const s = await until(edge, (x) => x.status === "error");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(worker.seen.length, 1, `${step.status} ${step.body.error}: one attempt`);
    assert.deepEqual([s.error.status, s.error.error, s.retry_at, s.user_id], [step.status, step.body.error, null, null]);
    edge.detach();
    await worker.close();
  }
});

test("a newer token does not wait out an older one's backoff", async () => {
  const worker = await faultyWorker([{ status: 503, headers: { "retry-after": "30" }, body: { error: "jwks_unavailable", error_description: "x" } }]);
  const { supabase, edge } = await signedInClient(worker);
  await until(edge, (s) => s.retry_at !== null);
  const started = Date.now();
  await supabase.auth.refreshSession();
  await until(edge, (s) => s.status === "signed_in");
  assert.ok(Date.now() - started < 2000, "went on at once with the refreshed token");
  assert.equal(worker.seen.length, 2);
  edge.detach();
  await worker.close();
});

test("a request that never answers times out, frees the lock and is retried", async () => {
  const worker = await faultyWorker([{ hang: true }]);
  const { edge } = await signedInClient(worker, { requestTimeoutMs: 300, lockName: "edge-attest-timeout" });
  const waiting = await until(edge, (s) => s.status === "error" && s.retry_at !== null);
  assert.equal(waiting.error.error, "network_error");
  assert.equal(waiting.error.error_description, "no answer within 300 ms");
  // The lock is free while the retry waits: another tab gets it at once.
  const release = await holdLock("edge-attest-timeout");
  release();
  await until(edge, (s) => s.status === "signed_in");
  assert.equal(worker.seen.length, 2);
  edge.detach();
  await worker.close();
});

test("detach stops listening and cancels a scheduled retry", async () => {
  const worker = await faultyWorker([{ status: 503, headers: { "retry-after": "1" }, body: { error: "jwks_unavailable", error_description: "x" } }]);
  const { supabase, edge } = await signedInClient(worker);
  await until(edge, (s) => s.retry_at !== null);
  edge.detach();
  await supabase.auth.refreshSession();
  await new Promise((r) => setTimeout(r, 1300));
  assert.equal(worker.seen.length, 1);
  await worker.close();
});
