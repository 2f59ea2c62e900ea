// Repeat exchanges answered at the edge, sessions extended instead of duplicated, and
// GET /api/session, in the real runtime: the compiled worker in workerd against the Stytch
// stand-in, which serves its session key set, keeps custom claims on its sessions and in
// their JWTs, extends a session named by session_token and answers sessions/authenticate.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { setup, post, exchange, json, cookies, cookieHeader, payloadOf } from "./helpers.mjs";

let ctx;
before(async () => {
  ctx = await setup();
});
after(async () => ctx?.close());
beforeEach(() => {
  ctx.stytch.state.jwtLifetimeSecs = 300;
  ctx.stytch.state.jwksMode = "ok";
});

/** A login: its access tokens share one Supabase session_id, as refreshed tokens do. */
function login(claims = {}) {
  const sessionId = randomUUID();
  return () => ctx.supabase.mint({ sessionId, claims });
}

const attests = () => ctx.stytch.apiCalls().filter((c) => c.path === "/v1/sessions/attest");
const getSession = (cookie) => fetch(`${ctx.worker.url}/api/session`, { headers: cookie ? { cookie } : {} });
const lastLog = (route) => ctx.worker.lastLog(route);

test("the first exchange links the Stytch session to the login; Stytch keeps it in every JWT", async () => {
  const token = await login()();
  const res = await exchange(ctx, token);
  assert.equal(res.status, 200);
  const claims = payloadOf(token);
  const link = { iss: claims.iss, sub: claims.sub, session_id: claims.session_id, aal: "aal1" };
  assert.deepEqual(attests().at(-1).body.session_custom_claims, { edge_attest: link });
  const jwt = cookies(res).find((c) => c.name === "stytch_session_jwt").value;
  assert.deepEqual(payloadOf(jwt).edge_attest, link);
  const stored = ctx.stytch.sessions.get(cookies(res)[0].value);
  assert.deepEqual(stored.custom_claims, { edge_attest: link });
});

test("a repeat exchange is answered at the edge: no Stytch call, no new cookie, the same session", async () => {
  const next = login();
  const first = await exchange(ctx, await next());
  const firstBody = await json(first);
  const cookie = cookieHeader(first);
  const calls = ctx.stytch.apiCalls().length;
  const fetches = ctx.stytch.state.jwksFetches;

  // The page reloads; supabase-js has refreshed the access token of the same login.
  for (let i = 0; i < 3; i++) {
    const res = await exchange(ctx, await next(), { headers: { cookie, "content-type": "application/json" } });
    const body = await json(res);
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.deepEqual(body, { ...firstBody, request_id: null, reused: true });
    assert.deepEqual(res.headers.getSetCookie(), []);
    const log = await lastLog("exchange");
    assert.equal(log.outcome, "reused");
    assert.equal(log.session, "reused");
    assert.equal(log.stytch_attempts, undefined);
    assert.equal(log.session_keys, i === 0 ? "network" : "memory");
  }
  assert.equal(ctx.stytch.apiCalls().length, calls, "nothing reached Stytch's API");
  assert.equal(ctx.stytch.state.jwksFetches, fetches + 1, "Stytch's key set fetched once, then memory");
});

test("a JWT close to its expiry extends the session instead of creating another", async () => {
  ctx.stytch.state.jwtLifetimeSecs = 30; // less than SESSION_REUSE_MIN_SECONDS (60)
  const next = login();
  const first = await exchange(ctx, await next());
  const firstBody = await json(first);
  const [token] = cookies(first);
  const sessions = ctx.stytch.sessions.size;
  const before = ctx.stytch.sessions.get(token.value).expires_at;
  ctx.stytch.state.jwtLifetimeSecs = 300;
  await new Promise((r) => setTimeout(r, 1100)); // so the extended expiry differs

  const res = await exchange(ctx, await next(), { headers: { cookie: cookieHeader(first), "content-type": "application/json" } });
  const body = await json(res);
  assert.equal(res.status, 200);
  assert.equal(body.reused, false);
  assert.equal(body.session_id, firstBody.session_id, "the same session");
  assert.equal(attests().at(-1).body.session_token, token.value, "attested with the session's token");
  assert.equal(ctx.stytch.sessions.size, sessions, "no session created");
  const session = ctx.stytch.sessions.get(token.value);
  assert.equal(session.extensions, 1);
  assert.ok(Date.parse(session.expires_at) > Date.parse(before), "extended");
  const [newToken, newJwt] = cookies(res);
  assert.equal(newToken.value, token.value, "the same session");
  assert.equal(payloadOf(newJwt.value)["https://stytch.com/session"].id, session.session_id);
  assert.equal((await lastLog("exchange")).session, "extended");
});

test("an expired JWT of a session revoked elsewhere: one refused extension, then a new session", async () => {
  ctx.stytch.state.jwtLifetimeSecs = -60; // already expired when the browser gets it
  const next = login();
  const first = await exchange(ctx, await next());
  const [token] = cookies(first);
  ctx.stytch.sessions.delete(token.value); // revoked by another device or the dashboard
  ctx.stytch.state.jwtLifetimeSecs = 300;
  const n = attests().length;

  const res = await exchange(ctx, await next(), { headers: { cookie: cookieHeader(first), "content-type": "application/json" } });
  assert.equal(res.status, 200, await res.clone().text());
  const made = attests().slice(n);
  assert.deepEqual(made.map((c) => c.body.session_token), [token.value, undefined]);
  const [newToken] = cookies(res);
  assert.notEqual(newToken.value, token.value);
  assert.ok(ctx.stytch.sessions.has(newToken.value));
  const log = await lastLog("exchange");
  assert.equal(log.session, "created");
  assert.equal(log.stytch_attempts, 2);
  assert.match(log.prior, /^jwt_expired; extension refused: stytch_rejected session_not_found$/);
});

test("another user signing in on the same browser gets a new session; the first is never extended", async () => {
  const ada = await exchange(ctx, await login()());
  const [adaToken] = cookies(ada);
  const adaSession = { ...ctx.stytch.sessions.get(adaToken.value) };
  const n = attests().length;

  const grace = await login({ sub: "9f1c2d3e-4b5a-4c6d-8e7f-001122334455", email: "grace@example.com" })();
  const res = await exchange(ctx, grace, { headers: { cookie: cookieHeader(ada), "content-type": "application/json" } });
  const body = await json(res);
  assert.equal(res.status, 200);
  assert.equal(body.reused, false);
  assert.equal(attests().slice(n).length, 1);
  assert.equal(attests().at(-1).body.session_token, undefined, "Ada's session token never sent");
  const after = ctx.stytch.sessions.get(adaToken.value);
  assert.equal(after.extensions, 0);
  assert.equal(after.expires_at, adaSession.expires_at);
  assert.notEqual(body.user_id, after.user_id);
  const [graceToken] = cookies(res);
  assert.notEqual(graceToken.value, adaToken.value, "the cookies are replaced");
  assert.equal((await lastLog("exchange")).prior, "link_mismatch");
});

test("a forged or foreign session cookie never turns a valid login into an error", async () => {
  const next = login();
  const first = await exchange(ctx, await next());
  const jwt = cookies(first)[1].value;
  const [h, p, s] = jwt.split(".");
  const payload = payloadOf(jwt);
  payload["https://stytch.com/session"].expires_at = "2099-01-01T00:00:00Z";
  const forged = `${h}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}.${s}`;
  for (const cookie of [`stytch_session_jwt=${forged}; stytch_session=${cookies(first)[0].value}`, "stytch_session_jwt=not.a.jwt", `stytch_session_jwt=${"x".repeat(5000)}`]) {
    const n = attests().length;
    const res = await exchange(ctx, await next(), { headers: { cookie, "content-type": "application/json" } });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(attests().length, n + 1);
    assert.equal(attests().at(-1).body.session_token, undefined);
    assert.match((await lastLog("exchange")).prior, /^invalid: /);
  }
});

test("GET /api/session answers from the JWT, refreshes it after expiry, and is 401 once the session is gone", async () => {
  const token = await login()();
  const claims = payloadOf(token);
  const first = await exchange(ctx, token);
  const exchanged = await json(first);
  const calls = ctx.stytch.apiCalls().length;
  let res = await getSession(cookieHeader(first));
  assert.equal(res.status, 200);
  assert.deepEqual(await json(res), {
    aal: "aal1",
    expires_at: exchanged.expires_at,
    link: { iss: claims.iss, sub: claims.sub, session_id: claims.session_id, aal: "aal1" },
    session_id: exchanged.session_id,
    user_id: exchanged.user_id,
  });
  assert.deepEqual(res.headers.getSetCookie(), []);
  assert.equal(ctx.stytch.apiCalls().length, calls, "no subrequest to Stytch's API");
  assert.equal((await lastLog("session")).session, "local");

  // The JWT runs out; the session token refreshes it.
  ctx.stytch.state.jwtLifetimeSecs = -60;
  const expiring = await exchange(ctx, await login()());
  ctx.stytch.state.jwtLifetimeSecs = 300;
  res = await getSession(cookieHeader(expiring));
  assert.equal(res.status, 200, await res.clone().text());
  const refreshed = ctx.stytch.apiCalls().at(-1);
  assert.equal(refreshed.path, "/v1/sessions/authenticate");
  assert.deepEqual(refreshed.body, { session_token: cookies(expiring)[0].value });
  const [tok, jwt] = cookies(res);
  assert.equal(tok.value, cookies(expiring)[0].value);
  assert.ok(payloadOf(jwt.value).exp > Date.now() / 1000 + 200, "a fresh JWT");
  assert.equal((await lastLog("session")).session, "refreshed");

  // Revoked at Stytch before its expired JWT is refreshed: 401 invalid_session, cookies
  // cleared. (A session refreshed moments ago is answered from that refresh, for the requests
  // still carrying its old JWT, within the window its new JWT verifies anyway.)
  ctx.stytch.state.jwtLifetimeSecs = -60;
  const gone = await exchange(ctx, await login()());
  ctx.stytch.state.jwtLifetimeSecs = 300;
  ctx.stytch.sessions.delete(cookies(gone)[0].value);
  res = await getSession(cookieHeader(gone));
  const body = await json(res);
  assert.equal(res.status, 401);
  assert.equal(body.error, "invalid_session");
  assert.deepEqual(cookies(res).map((c) => [c.name, c.attrs["max-age"]]), [["stytch_session", "0"], ["stytch_session_jwt", "0"]]);
  res = await getSession(null);
  assert.equal(res.status, 401);
});

test("logout ends the session at once: the next exchange creates a new one", async () => {
  const next = login();
  const first = await exchange(ctx, await next());
  const out = await post(ctx, "/api/logout", { headers: { cookie: cookieHeader(first) } });
  assert.equal(out.status, 200);
  // A browser applies the clearing cookies: it then sends none.
  const n = attests().length;
  const res = await exchange(ctx, await next());
  assert.equal((await json(res)).reused, false);
  assert.equal(attests().length, n + 1);
});

test("no session token, session JWT or access token ever appears in the worker's output", async () => {
  const token = await login()();
  const first = await exchange(ctx, token);
  await exchange(ctx, token, { headers: { cookie: cookieHeader(first), "content-type": "application/json" } });
  await getSession(cookieHeader(first));
  await new Promise((r) => setTimeout(r, 100));
  const out = ctx.worker.output.join("\n");
  const secrets = [token, ...cookies(first).map((c) => c.value), ...ctx.stytch.sessions.keys()];
  for (const secret of secrets) assert.ok(!out.includes(secret), `output leaks ${secret.slice(0, 12)}…`);
  assert.ok(out.includes('"session":"reused"'), "the lines were there to look at");
});

test("Stytch's key set unreachable on a cold isolate: the login still works, as a new session", async () => {
  const first = await exchange(ctx, await login()());
  await ctx.restart({ freshKv: true });
  ctx.stytch.state.jwksMode = "fail";
  const n = attests().length;
  const res = await exchange(ctx, await login()(), { headers: { cookie: cookieHeader(first), "content-type": "application/json" } });
  assert.equal(res.status, 200);
  assert.equal(attests().length, n + 1);
  assert.equal(attests().at(-1).body.session_token, undefined);
  assert.match((await lastLog("exchange")).prior, /^stytch_keys_unavailable: /);
});

test("configuration: an out-of-range SESSION_REUSE_MIN_SECONDS is 500 misconfigured, naming it", async () => {
  await ctx.restart({ vars: { SESSION_REUSE_MIN_SECONDS: "241" } });
  const res = await fetch(`${ctx.worker.url}/healthz`);
  assert.equal(res.status, 500);
  assert.equal((await json(res)).error, "misconfigured");
  assert.match((await lastLog("healthz")).detail, /^SESSION_REUSE_MIN_SECONDS: /);
  await ctx.restart();
});
