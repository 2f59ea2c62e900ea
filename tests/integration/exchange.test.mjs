// POST /api/exchange, OPTIONS, /api/logout, /healthz, 404/405 in the real runtime: the
// compiled worker in workerd (wrangler dev) against the local Supabase and Stytch stand-ins.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setup, post, exchange, json, cookies, logAt, PROJECT_ID, SECRET, PROFILE_ID } from "./helpers.mjs";

let ctx;
before(async () => {
  ctx = await setup({ vars: { JWT_ALGORITHMS: "ES256,RS256,EdDSA", ALLOWED_ORIGINS: "http://localhost:5173" } });
});
after(async () => ctx?.close());

function assertError(res, body, status, code) {
  assert.equal(res.status, status, JSON.stringify(body));
  assert.equal(body.error, code);
  assert.equal(typeof body.error_description, "string");
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.equal(res.headers.get("content-type"), "application/json");
}

test("an ES256 token becomes a Stytch session in two cookies", async () => {
  const token = await ctx.supabase.mint({ alg: "ES256" });
  const before = ctx.stytch.calls.length;
  const res = await exchange(ctx, token);
  const body = await json(res);
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.match(body.user_id, /^user-test-/);
  assert.match(body.session_id, /^session-test-/);
  assert.match(body.request_id, /^request-id-test-/);
  const expiresAt = Date.parse(body.expires_at);
  assert.ok(Math.abs(expiresAt - Date.now() - 3600_000) < 60_000, body.expires_at);

  const [session, jwt] = cookies(res);
  assert.equal(session.name, "stytch_session");
  assert.equal(jwt.name, "stytch_session_jwt");
  const stored = ctx.stytch.sessions;
  assert.ok(stored.has(session.value), "the cookie holds the session token Stytch issued");
  for (const c of [session, jwt]) {
    assert.equal(c.attrs.path, "/");
    assert.equal(c.attrs.secure, true);
    assert.equal(c.attrs.httponly, true);
    assert.equal(c.attrs.samesite, "Lax");
    assert.equal(Date.parse(c.attrs.expires), Math.floor(expiresAt / 1000) * 1000);
    assert.ok(Math.abs(Number(c.attrs["max-age"]) - 3600) <= 2, c.line);
    assert.equal(c.attrs.domain, undefined);
  }
  assert.ok(!JSON.stringify(body).includes(session.value), "tokens travel only in cookies");

  const calls = ctx.stytch.calls.slice(before);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].path, "/v1/sessions/attest");
  assert.equal(calls[0].authorization, "Basic " + Buffer.from(`${PROJECT_ID}:${SECRET}`).toString("base64"));
  const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url"));
  assert.deepEqual(calls[0].body, {
    profile_id: PROFILE_ID,
    token,
    session_duration_minutes: 60,
    session_custom_claims: { edge_attest: { iss: claims.iss, sub: claims.sub, session_id: claims.session_id, aal: claims.aal } },
  });
  assert.equal(body.reused, false);
});

test("RS256 in a Bearer header and EdDSA (when allowed) also exchange", async () => {
  const rs = await ctx.supabase.mint({ alg: "RS256" });
  let res = await post(ctx, "/api/exchange", { token: rs });
  assert.equal(res.status, 200, await res.text());
  const ed = await ctx.supabase.mint({ alg: "EdDSA" });
  res = await exchange(ctx, ed);
  assert.equal(res.status, 200, await res.text());
});

test("the log line names the route, outcome, timings and cache, and leaks nothing", async () => {
  const n = ctx.worker.logs.length;
  const token = await ctx.supabase.mint();
  const res = await exchange(ctx, token);
  assert.equal(res.status, 200);
  const [session] = cookies(res);
  const log = await logAt(ctx, n);
  assert.equal(log.route, "exchange");
  assert.equal(log.status, 200);
  assert.equal(log.outcome, "ok");
  assert.equal(log.cache, "memory");
  assert.match(log.stytch_request_id, /^request-id-test-/);
  for (const k of ["total", "jwks", "verify", "stytch"]) assert.equal(typeof log.ms[k], "number");
  const all = ctx.worker.output.join("\n");
  for (const secret of [token, SECRET, session.value, "ada@example.com"]) assert.ok(!all.includes(secret), `output leaks ${secret.slice(0, 12)}`);
});

test("log levels: a 4xx answer's line is written by console.warn, a 5xx's by console.error, others by console.log", async () => {
  // Workers Logs takes a line's level from the console method; wrangler dev marks warn and
  // error lines, which dev/worker.mjs reads back.
  const levelOf = async (send) => {
    const n = ctx.worker.logs.length;
    const res = await send();
    await res.arrayBuffer();
    const line = await ctx.worker.waitForLog((l) => l.status === res.status && ctx.worker.logs.indexOf(l) >= n);
    return [res.status, ctx.worker.levelOf(line)];
  };
  assert.deepEqual(await levelOf(async () => exchange(ctx, await ctx.supabase.mint())), [200, "log"]);
  assert.deepEqual(await levelOf(async () => exchange(ctx, await ctx.supabase.mint({ expiresIn: -120 }))), [401, "warn"]);
  assert.deepEqual(await levelOf(() => fetch(`${ctx.worker.url}/nowhere`)), [404, "warn"]);
  // Stytch down: two 5xx, 502 upstream_error.
  ctx.stytch.script({ error_type: "internal_server_error" }, { error_type: "internal_server_error", status: 503 });
  assert.deepEqual(await levelOf(async () => exchange(ctx, await ctx.supabase.mint())), [502, "error"]);
  assert.deepEqual(await levelOf(() => fetch(`${ctx.worker.url}/healthz`)), [200, "log"]);
});

test("rejected tokens are 401 and never reach Stytch", async () => {
  const before = ctx.stytch.calls.length;
  const good = await ctx.supabase.mint();
  const [h, p, s] = good.split(".");
  const sig = Buffer.from(s, "base64url");
  sig[5] ^= 1;
  const cases = {
    tampered: `${h}.${p}.${sig.toString("base64url")}`,
    expired: await ctx.supabase.mint({ expiresIn: -120 }),
    wrongIssuer: await ctx.supabase.mint({ claims: { iss: ctx.supabase.issuer + "/" } }),
    wrongAudience: await ctx.supabase.mint({ claims: { aud: "anon" } }),
    anonymous: await ctx.supabase.mint({ claims: { is_anonymous: true } }),
    noSub: await ctx.supabase.mint({ claims: { sub: "" } }),
    withJku: await ctx.supabase.mint({ header: { jku: "https://evil.example/jwks.json" } }),
    garbage: "not-a-jwt",
  };
  for (const [name, token] of Object.entries(cases)) {
    const res = await exchange(ctx, token);
    const body = await json(res);
    assertError(res, body, 401, "invalid_token");
    assert.equal(res.headers.get("www-authenticate"), 'Bearer error="invalid_token"', name);
    assert.equal(res.headers.getSetCookie().length, 0);
  }
  assert.equal(ctx.stytch.calls.length, before, "no Stytch call for a rejected token");
});

test("request errors: 400, 413, 415", async () => {
  const before = ctx.stytch.calls.length;
  let res = await post(ctx, "/api/exchange", { body: "{nope" });
  assertError(res, await json(res), 400, "invalid_request");
  res = await post(ctx, "/api/exchange", { body: {} });
  assertError(res, await json(res), 400, "invalid_request");
  const a = await ctx.supabase.mint();
  const b = await ctx.supabase.mint({ alg: "RS256" });
  res = await post(ctx, "/api/exchange", { body: { access_token: a }, token: b });
  assertError(res, await json(res), 400, "invalid_request");
  res = await post(ctx, "/api/exchange", { body: { access_token: "x".repeat(17 * 1024) } });
  assertError(res, await json(res), 413, "payload_too_large");
  res = await post(ctx, "/api/exchange", { body: JSON.stringify({ access_token: a }), headers: { "content-type": "text/plain" } });
  assertError(res, await json(res), 415, "unsupported_media_type");
  assert.equal(ctx.stytch.calls.length, before);
});

test("routes: /healthz, 404 and 405 with Allow", async () => {
  let res = await fetch(`${ctx.worker.url}/healthz`);
  const body = await json(res);
  assert.equal(res.status, 200);
  assert.equal(body.status, "ok");
  assert.match(body.version, /^\d+\.\d+\.\d+/);
  res = await fetch(`${ctx.worker.url}/nope`);
  assertError(res, await json(res), 404, "not_found");
  res = await fetch(`${ctx.worker.url}/api/exchange`);
  assertError(res, await json(res), 405, "method_not_allowed");
  assert.equal(res.headers.get("allow"), "POST, OPTIONS");
  res = await post(ctx, "/healthz", {});
  assertError(res, await json(res), 405, "method_not_allowed");
  assert.equal(res.headers.get("allow"), "GET");
});

test("CORS: allowed origin gets credentials headers on success and error; preflight", async () => {
  const origin = "http://localhost:5173";
  let res = await fetch(`${ctx.worker.url}/api/exchange`, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
  });
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("access-control-allow-origin"), origin);
  assert.equal(res.headers.get("access-control-allow-credentials"), "true");
  assert.equal(res.headers.get("access-control-allow-methods"), "POST");
  assert.equal(res.headers.get("access-control-allow-headers"), "Content-Type, Authorization");
  assert.equal(res.headers.get("vary"), "Origin");

  res = await exchange(ctx, await ctx.supabase.mint(), { headers: { origin, "content-type": "application/json" } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("access-control-allow-origin"), origin);
  assert.equal(res.headers.get("access-control-allow-credentials"), "true");
  res = await exchange(ctx, "bad", { headers: { origin, "content-type": "application/json" } });
  assert.equal(res.status, 401);
  assert.equal(res.headers.get("access-control-allow-origin"), origin);
});

test("a disallowed Origin is 403 first, with no CORS headers and no Stytch call", async () => {
  const before = ctx.stytch.calls.length;
  const evil = "https://evil.example";
  let res = await exchange(ctx, await ctx.supabase.mint(), { headers: { origin: evil, "content-type": "text/plain" } });
  assertError(res, await json(res), 403, "forbidden_origin");
  assert.equal(res.headers.get("access-control-allow-origin"), null);
  res = await fetch(`${ctx.worker.url}/api/exchange`, { method: "OPTIONS", headers: { origin: evil, "access-control-request-method": "POST" } });
  assert.equal(res.status, 403);
  assert.equal(res.headers.get("access-control-allow-origin"), null);
  assert.equal(res.headers.get("access-control-allow-methods"), null);
  assert.equal(ctx.stytch.calls.length, before);
});

test("logout revokes the session the cookies prove, by its id, and clears both cookies", async () => {
  const res = await exchange(ctx, await ctx.supabase.mint());
  const { session_id } = await json(res);
  const [session, jwt] = cookies(res);
  assert.ok(ctx.stytch.sessions.has(session.value));
  const cookie = `${session.name}=${session.value}; ${jwt.name}=${jwt.value}`;
  const out = await post(ctx, "/api/logout", { headers: { cookie } });
  const body = await json(out);
  assert.equal(out.status, 200);
  assert.equal(body.revoked, true);
  assert.ok(!ctx.stytch.sessions.has(session.value), "Stytch revoked it");
  const last = ctx.stytch.calls.at(-1);
  assert.equal(last.path, "/v1/sessions/revoke");
  assert.deepEqual(last.body, { session_id });
  const cleared = cookies(out);
  assert.deepEqual(cleared.map((c) => [c.name, c.value, c.attrs["max-age"], c.attrs.path]), [
    ["stytch_session", "", "0", "/"],
    ["stytch_session_jwt", "", "0", "/"],
  ]);
  // Again, with the session already gone (Stytch asked), with only the token cookie (nothing
  // proven: Stytch not asked), and with no cookie at all: still 200, cookies cleared.
  for (const [headers, asked] of [[{ cookie }, 1], [{ cookie: `${session.name}=${session.value}` }, 0], [{}, 0]]) {
    const calls = ctx.stytch.apiCalls().length;
    const again = await post(ctx, "/api/logout", { headers });
    assert.equal(again.status, 200);
    assert.equal((await json(again)).revoked, false);
    assert.equal(cookies(again).length, 2);
    assert.equal(ctx.stytch.apiCalls().length, calls + asked);
  }
});

test("chunked bodies (no Content-Length) are read with the same 16 KiB cap", async () => {
  const { request } = await import("node:http");
  const send = (chunks) =>
    new Promise((resolve, reject) => {
      const req = request(`${ctx.worker.url}/api/exchange`, { method: "POST", headers: { "content-type": "application/json", "transfer-encoding": "chunked" } }, (res) => {
        let text = "";
        res.on("data", (d) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode, body: JSON.parse(text) }));
      });
      req.on("error", reject);
      for (const c of chunks) req.write(c);
      req.end();
    });
  const token = await ctx.supabase.mint();
  const json = JSON.stringify({ access_token: token });
  const ok = await send([json.slice(0, 10), json.slice(10)]);
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  const big = await send([`{"access_token":"`, "x".repeat(9000), "y".repeat(9000), `"}`]);
  assert.equal(big.status, 413);
  assert.equal(big.body.error, "payload_too_large");
});
