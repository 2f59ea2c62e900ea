// The security model in the real runtime: what a request must prove before anything of it
// reaches Stytch, cookies of one name in several scopes, and a failed switch of user. The
// compiled worker in workerd against the stand-ins; what reached Stytch is counted.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { setup, post, exchange, json, cookies, cookieHeader } from "./helpers.mjs";

let ctx;
before(async () => {
  ctx = await setup();
});
after(async () => ctx?.close());
beforeEach(() => {
  ctx.stytch.state.jwtLifetimeSecs = 300;
});

/** A login: its access tokens share one Supabase session_id, as refreshed tokens do. */
function login(claims = {}) {
  const sessionId = randomUUID();
  return () => ctx.supabase.mint({ sessionId, claims });
}
const getSession = (cookie) => fetch(`${ctx.worker.url}/api/session`, { headers: cookie ? { cookie } : {} });
const apiCalls = () => ctx.stytch.apiCalls().length;
const attests = () => ctx.stytch.apiCalls().filter((c) => c.path === "/v1/sessions/attest");
const withCookie = (cookie) => ({ headers: { cookie, "content-type": "application/json" } });
const cleared = (res) => cookies(res).every((c) => c.value === "" && c.attrs["max-age"] === "0") && cookies(res).length > 0;

test("GET /api/session and POST /api/logout send Stytch nothing a request does not prove", async () => {
  const first = await exchange(ctx, await login()());
  const [token] = cookies(first);
  const forged = `stytch_session=${token.value}; stytch_session_jwt=${Buffer.from("{}").toString("base64url")}.e30.c2ln`;
  for (const cookie of [`stytch_session=${token.value}`, forged, `stytch_session=${randomUUID()}`]) {
    const calls = apiCalls();
    const res = await getSession(cookie);
    assert.equal(res.status, 401, cookie);
    assert.equal((await json(res)).error, "invalid_session");
    assert.ok(cleared(res));
    const out = await post(ctx, "/api/logout", { headers: { cookie } });
    assert.equal(out.status, 200);
    assert.deepEqual(await json(out), { request_id: null, revoked: false });
    assert.ok(cleared(out));
    assert.equal(apiCalls(), calls, `${cookie.slice(0, 30)}…: nothing reached Stytch`);
    assert.equal((await ctx.worker.lastLog("logout")).session, "not_revoked");
  }
  assert.ok(ctx.stytch.sessions.has(token.value), "the session a token alone named is still alive");
});

test("a refresh must answer for the session the JWT names: a token cookie of another session is refused", async () => {
  // Two logins of one user: session A (its JWT has run out) and session B. The browser's
  // cookies pair A's JWT with B's token.
  ctx.stytch.state.jwtLifetimeSecs = -60;
  const a = await exchange(ctx, await login()());
  ctx.stytch.state.jwtLifetimeSecs = 300;
  const b = await exchange(ctx, await login()());
  const mixed = `stytch_session=${cookies(b)[0].value}; stytch_session_jwt=${cookies(a)[1].value}`;
  const calls = apiCalls();
  const res = await getSession(mixed);
  assert.equal(res.status, 401, await res.clone().text());
  assert.ok(cleared(res));
  assert.equal(apiCalls(), calls + 1, "Stytch was asked (the JWT proved session A)");
  assert.match((await ctx.worker.lastLog("session")).prior, /refresh answered for another session$/);
});

test("an extension answered for another session of the user is not handed out: a new session instead", async () => {
  const next = login();
  ctx.stytch.state.jwtLifetimeSecs = -60;
  const a = await exchange(ctx, await next());
  ctx.stytch.state.jwtLifetimeSecs = 300;
  const b = await exchange(ctx, await login()());
  const mixed = `stytch_session=${cookies(b)[0].value}; stytch_session_jwt=${cookies(a)[1].value}`;
  const n = attests().length;
  const res = await exchange(ctx, await next(), withCookie(mixed));
  const body = await json(res);
  assert.equal(res.status, 200, JSON.stringify(body));
  const made = attests().slice(n);
  assert.deepEqual(made.map((c) => c.body.session_token), [cookies(b)[0].value, undefined]);
  assert.notEqual(body.session_id, (await json(b)).session_id);
  assert.notEqual(cookies(res)[0].value, cookies(b)[0].value, "B's token is not handed out");
  assert.match((await ctx.worker.lastLog("exchange")).prior, /extension refused: answered for another session$/);
});

test("cookies of one name in two scopes: no reuse, no extension, no session; logout revokes nothing", async () => {
  const next = login();
  const ada = await exchange(ctx, await next());
  const other = await exchange(ctx, await login({ sub: "00000000-0000-4000-8000-0000000000bb", email: "bea@example.com" })());
  const doubled = `${cookieHeader(ada)}; ${cookieHeader(other)}`;
  const n = attests().length;
  const res = await exchange(ctx, await next(), withCookie(doubled));
  assert.equal(res.status, 200);
  assert.equal((await json(res)).reused, false);
  assert.equal(attests().length, n + 1);
  assert.equal(attests().at(-1).body.session_token, undefined, "never extended");
  assert.equal((await ctx.worker.lastLog("exchange")).prior, "ambiguous_cookies");

  const calls = apiCalls();
  const session = await getSession(doubled);
  assert.equal(session.status, 401);
  assert.ok(cleared(session));
  assert.equal((await ctx.worker.lastLog("session")).prior, "ambiguous_cookies");
  const out = await post(ctx, "/api/logout", { headers: { cookie: doubled } });
  assert.deepEqual(await json(out), { request_id: null, revoked: false });
  assert.ok(cleared(out));
  assert.equal(apiCalls(), calls);
});

test("a failed switch of user clears the previous user's cookies; a failure of the same login keeps them", async () => {
  const ada = await exchange(ctx, await login()());
  const grace = login({ sub: "00000000-0000-4000-8000-0000000000cc", email: "grace@example.com" });
  ctx.stytch.script({ error_type: "invalid_trusted_auth_token" });
  const res = await exchange(ctx, await grace(), withCookie(cookieHeader(ada)));
  assert.equal(res.status, 401);
  assert.deepEqual(cookies(res).map((c) => [c.name, c.attrs["max-age"]]), [["stytch_session", "0"], ["stytch_session_jwt", "0"]]);
  assert.equal((await ctx.worker.lastLog("exchange")).prior, "link_mismatch");

  // Ada's own login, extended, fails at Stytch: her cookies stay.
  const next = login();
  ctx.stytch.state.jwtLifetimeSecs = -60;
  const own = await exchange(ctx, await next());
  ctx.stytch.state.jwtLifetimeSecs = 300;
  ctx.stytch.script({ error_type: "internal_server_error" }, { error_type: "internal_server_error" });
  const failed = await exchange(ctx, await next(), withCookie(cookieHeader(own)));
  assert.equal(failed.status, 502);
  assert.deepEqual(failed.headers.getSetCookie(), []);
});

// ---- assurance: what a login means ----

test("a pre-MFA (aal1) session is never answered at the edge for the aal2 token of its login: extended, relinked, then reused", async () => {
  const sessionId = randomUUID();
  const mint = (aal) => ctx.supabase.mint({ sessionId, claims: { aal } });
  const pre = await exchange(ctx, await mint("aal1"));
  const preBody = await json(pre);
  assert.equal(preBody.aal, "aal1");
  const cookie = cookieHeader(pre);
  let res = await getSession(cookie);
  assert.equal((await json(res)).aal, "aal1");

  // The MFA challenge passed: supabase-js now holds the aal2 token of the same login.
  const n = attests().length;
  res = await exchange(ctx, await mint("aal2"), withCookie(cookie));
  const body = await json(res);
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.deepEqual([body.reused, body.aal, body.session_id], [false, "aal2", preBody.session_id], "the same session, extended");
  assert.equal(attests().length, n + 1);
  assert.equal(attests().at(-1).body.session_token, cookies(pre)[0].value);
  assert.equal(attests().at(-1).body.session_custom_claims.edge_attest.aal, "aal2");
  assert.equal((await ctx.worker.lastLog("exchange")).prior, "aal_upgrade");
  const upgraded = cookieHeader(res);
  const stored = ctx.stytch.sessions.get(cookies(pre)[0].value);
  assert.equal(stored.custom_claims.edge_attest.aal, "aal2", "Stytch's session says aal2 now");

  // The next aal2 exchange of that login: at the edge. An aal1 token of it is not.
  res = await exchange(ctx, await mint("aal2"), withCookie(upgraded));
  assert.deepEqual(await json(res).then((b) => [b.reused, b.aal]), [true, "aal2"]);
  res = await exchange(ctx, await mint("aal1"), withCookie(upgraded));
  assert.equal((await json(res)).reused, false);
  assert.equal((await ctx.worker.lastLog("exchange")).prior, "link_mismatch");
  res = await getSession(upgraded);
  assert.equal((await json(res)).aal, "aal2");
});

test("REQUIRED_AAL=aal2 and MFA_ENROLLED_CLAIM refuse the pre-MFA token before Stytch, naming the rule", async () => {
  await ctx.restart({ vars: { REQUIRED_AAL: "aal2" } });
  try {
    const sessionId = randomUUID();
    const n = apiCalls();
    let res = await exchange(ctx, await ctx.supabase.mint({ sessionId, claims: { aal: "aal1" } }));
    assert.equal(res.status, 401);
    assert.equal((await json(res)).error, "invalid_token");
    assert.equal((await ctx.worker.lastLog("exchange")).detail, "assurance: aal1 below the required aal2 (required_aal)");
    assert.equal(apiCalls(), n);
    res = await exchange(ctx, await ctx.supabase.mint({ sessionId, claims: { aal: "aal2" } }));
    assert.equal(res.status, 200);

    // Optional MFA: the hook says who has a second factor; only they need aal2.
    await ctx.restart({ vars: { REQUIRED_AAL: "", MFA_ENROLLED_CLAIM: "mfa_enrolled" } });
    ctx.supabase.state.mfaUsers.add("mfa@example.com");
    ctx.supabase.state.accessTokenHook = (claims, user) => ({ ...claims, mfa_enrolled: user.factors.some((f) => f.status === "verified") });
    const enrolled = { email: "mfa@example.com", sub: "00000000-0000-4000-8000-0000000000a2" };
    res = await exchange(ctx, await ctx.supabase.mint({ claims: { ...enrolled, aal: "aal1" } }));
    assert.equal(res.status, 401);
    assert.equal((await ctx.worker.lastLog("exchange")).detail, "assurance: aal1 below the required aal2 (mfa_enrolled_claim mfa_enrolled)");
    res = await exchange(ctx, await ctx.supabase.mint({ claims: { ...enrolled, aal: "aal2" } }));
    assert.equal(res.status, 200);
    res = await exchange(ctx, await ctx.supabase.mint({ claims: { aal: "aal1" } }));
    assert.equal(res.status, 200, "a user without a factor signs in at aal1");
    // Without the hook the claim is missing: refused, not read as "no second factor".
    ctx.supabase.state.accessTokenHook = null;
    res = await exchange(ctx, await ctx.supabase.mint({ claims: { aal: "aal1" } }));
    assert.equal(res.status, 401);
    assert.match((await ctx.worker.lastLog("exchange")).detail, /missing or not a boolean/);
  } finally {
    ctx.supabase.state.accessTokenHook = null;
    ctx.supabase.state.mfaUsers.clear();
    await ctx.restart();
  }
});

test("user-writable metadata is never where a rule reads from: 500 misconfigured naming the variable", async () => {
  for (const [name, value] of [
    ["MFA_ENROLLED_CLAIM", "user_metadata.mfa_enrolled"],
    ["REQUIRED_AAL", "aal3"],
  ]) {
    await ctx.restart({ vars: { [name]: value } });
    const res = await fetch(`${ctx.worker.url}/healthz`);
    assert.equal(res.status, 500);
    assert.match((await ctx.worker.lastLog("healthz")).detail, new RegExp(`^${name}: `));
  }
  await ctx.restart({ vars: { STYTCH_PRODUCT: "b2b", STYTCH_ORGANIZATION_ID_CLAIM: "user_metadata.org_id" } });
  assert.match((await ctx.worker.lastLog("healthz").then(async () => (await fetch(`${ctx.worker.url}/healthz`), ctx.worker.lastLog("healthz")))).detail, /^STYTCH_ORGANIZATION_ID_CLAIM: user_metadata is written by the user/);
  await ctx.restart();
});

// ---- what KV holds ----

test("a key planted in KV by someone without the worker's secret mints nothing: ignored, refetched, logged", async () => {
  const { generateKeyPair, exportJWK, SignJWT } = await import("jose");
  const { supabaseClaims } = await import("../../dev/supabase-claims.mjs");
  const jwksUrl = `${ctx.supabase.issuer}/.well-known/jwks.json`;
  const attacker = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(attacker.publicKey)), kid: "planted-1", alg: "ES256", use: "sig" };
  const now = Date.now();
  const planted = (mac) =>
    JSON.stringify({ v: 2, url: jwksUrl, fetched_at_ms: now, fresh_until_ms: now + 600_000, jwks: JSON.stringify({ keys: [jwk] }), ...(mac === undefined ? {} : { mac }) });
  const iat = Math.floor(now / 1000);
  const forged = await new SignJWT(supabaseClaims({ iss: ctx.supabase.issuer, iat, exp: iat + 3600, sessionId: randomUUID() }))
    .setProtectedHeader({ alg: "ES256", kid: "planted-1", typ: "JWT" })
    .sign(attacker.privateKey);
  for (const mac of [undefined, Buffer.alloc(32, 7).toString("base64url")]) {
    await ctx.restart({ kvPut: [[`jwks:v2:${jwksUrl}`, planted(mac)]] });
    const fetches = ctx.supabase.state.fetches;
    const calls = apiCalls();
    const res = await exchange(ctx, forged);
    assert.equal(res.status, 401, `${mac ?? "no tag"}: ${await res.clone().text()}`);
    const log = await ctx.worker.lastLog("exchange");
    assert.equal(log.cache, "network", "the entry was not believed");
    assert.match(JSON.stringify(log.jwks_notes), mac === undefined ? /KV entry unreadable/ : /KV entry not authentic/);
    assert.equal(ctx.supabase.state.fetches, fetches + 1, "the real key set was fetched instead");
    assert.equal(apiCalls(), calls, "nothing reached Stytch");
  }
  // What the worker itself wrote after that fetch is believed by the next cold isolate.
  await ctx.restart();
  const res = await exchange(ctx, await ctx.supabase.mint());
  assert.equal(res.status, 200);
  assert.equal((await ctx.worker.lastLog("exchange")).cache, "kv");
});
