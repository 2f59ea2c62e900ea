// The gateway's rules in the real runtime: the compiled worker in workerd in front of the app
// stand-in, with the Stytch stand-in minting, refreshing and granting roles. Each finding of
// the turn-4 security review is sent as its attack request, byte for byte over a socket
// where a client would normalise it, with its variants; then each rule field (methods,
// require_aal, require_link, roles, bearer, preflight), the refresh a page's later requests
// share, and the service binding's `authorize` from a second Worker.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setup, exchange, json, cookies, cookieHeader, raw, PROJECT_ID, SECRET, PROFILE_ID } from "./helpers.mjs";
import { startApp, subFor } from "../../dev/standins.mjs";
import { startWorker, ROOT } from "../../dev/worker.mjs";

const PARTNER = "http://localhost:5173";
let ctx;
let app;
let rules;

before(async () => {
  ctx = await setup();
  app = await startApp({ stytch: ctx.stytch, projectId: PROJECT_ID });
  rules = [
    { path: "/login", upstream: app.url, require_session: false },
    { path: "/v1/items:purge", upstream: app.url },
    { path: "/v1/*", upstream: app.url, require_session: false },
    { path: "/public/*", upstream: app.url, require_session: false },
    { path: "/api/*", upstream: app.url, bearer: true },
    { path: "/admin/*", upstream: app.url, roles: ["admin"] },
    { path: "/settings/*", upstream: app.url, require_aal: "aal2", on_unauthenticated: "redirect", login_url: "/login" },
    { path: "/partners/*", upstream: app.url, require_link: false },
    { path: "/cors/*", upstream: app.url, preflight: "forward" },
    { path: "/*", upstream: app.url, on_unauthenticated: "redirect", login_url: "/login" },
  ];
  await ctx.restart({ vars: { ALLOWED_ORIGINS: PARTNER, PROTECT: JSON.stringify(rules) } });
});
after(async () => {
  await ctx?.close();
  await app?.close();
});
beforeEach(() => {
  ctx.stytch.state.jwtLifetimeSecs = 300;
  ctx.stytch.state.roles.clear();
  app.requests.length = 0;
});

const host = () => new URL(ctx.worker.url).host;
const call = (p, init = {}) => fetch(`${ctx.worker.url}${p}`, { redirect: "manual", ...init });
const send = (head, body) => raw(ctx.worker.url, head.replaceAll("HOST", host()), body);
const errorOf = (res) => /"error":"([^"]+)"/.exec(res.body)?.[1];

/** Signs in through the exchange; the browser's Cookie header, its JWT and the body. */
async function signedIn({ email = `ada-${randomUUID()}@example.com`, claims = {} } = {}) {
  const res = await exchange(ctx, await ctx.supabase.mint({ sessionId: randomUUID(), claims: { email, sub: subFor(email), ...claims } }));
  assert.equal(res.status, 200, await res.clone().text());
  const jwt = cookies(res).find((c) => c.name === "stytch_session_jwt").value;
  return { email, cookie: cookieHeader(res), jwt, body: await json(res) };
}

test("H1: a hand-written preflight never reaches a protected path; a listed origin's is answered here", async () => {
  const { cookie } = await signedIn();
  const attack = (origin, method = "OPTIONS", extra = "") =>
    send(
      `${method} /admin/export.php HTTP/1.1\r\nHost: HOST\r\n${origin ? `Origin: ${origin}\r\n` : ""}Access-Control-Request-Method: GET\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 20${extra}`,
      "format=csv&scope=all",
    );
  for (const origin of [ctx.worker.url, "https://evil.example", "null", null]) {
    for (const extra of ["", `\r\nCookie: ${cookie}`]) {
      const res = await attack(origin, "OPTIONS", extra);
      assert.equal(res.status, 403, `${origin} ${extra ? "with" : "without"} a session`);
      assert.equal(errorOf(res), "forbidden_origin");
    }
  }
  const lower = await attack(ctx.worker.url, "options");
  assert.ok([403, 400, 405, 501].includes(lower.status), `lower-case method: ${lower.status}`);
  assert.equal(app.requests.length, 0, "nothing reached the app");
  const listed = await send(
    `OPTIONS /admin/export.php HTTP/1.1\r\nHost: HOST\r\nOrigin: ${PARTNER}\r\nAccess-Control-Request-Method: PUT\r\nAccess-Control-Request-Headers: content-type`,
  );
  assert.equal(listed.status, 204);
  assert.equal(listed.headers["access-control-allow-origin"], PARTNER);
  assert.equal(listed.headers["access-control-allow-methods"], "PUT");
  assert.equal(listed.headers["access-control-allow-headers"], "content-type");
  assert.equal(app.requests.length, 0);
  // An OPTIONS that is no preflight is a request like any other: it needs a session.
  const plain = await send(`OPTIONS /admin/export.php HTTP/1.1\r\nHost: HOST\r\nContent-Length: 3`, "x=1");
  assert.equal(plain.status, 401);
  assert.equal(app.requests.length, 0);
});

test("a rule that forwards preflights sends the app a bare OPTIONS: no body, no cookies, no identity", async () => {
  const { cookie } = await signedIn();
  const res = await send(
    `OPTIONS /cors/items HTTP/1.1\r\nHost: HOST\r\nOrigin: https://any.example\r\nAccess-Control-Request-Method: PUT\r\nCookie: ${cookie}\r\nAuthorization: Bearer x\r\nContent-Type: text/plain\r\nContent-Length: 3`,
    "abc",
  );
  assert.equal(res.status, 200);
  assert.equal(app.requests.length, 1);
  const seen = app.requests[0];
  assert.equal(seen.method, "OPTIONS");
  assert.equal(seen.body_bytes, 0);
  for (const gone of ["cookie", "authorization", "content-type", "edge-attest-user-id"]) {
    assert.equal(seen.headers[gone], undefined, gone);
  }
  // The runtime frames the bodiless request itself: the client's length does not pass.
  assert.ok([undefined, "0"].includes(seen.headers["content-length"]), seen.headers["content-length"]);
});

test("M1: an encoded sub-delimiter reaches the rule the app routes it to", async () => {
  for (const p of ["/v1/items%3Apurge", "/v1/items%3apurge", "/V1/ITEMS%3APURGE", "/%76%31/items%3Apurge", "/v1//items%3Apurge"]) {
    const res = await send(`POST ${p} HTTP/1.1\r\nHost: HOST\r\nContent-Length: 0`);
    assert.equal(res.status, 401, p);
  }
  assert.equal(app.requests.length, 0);
  const control = await send(`POST /v1/items HTTP/1.1\r\nHost: HOST\r\nContent-Length: 0`);
  assert.equal(control.status, 200);
  // Read as an app that folds no case, decodes nothing or merges no slashes would read it, a
  // public path that is the protected catch-all's is refused; so is one whose decoded %3F or
  // %23 would move the rest into the query for an app that parses the decoded path again.
  for (const p of ["/PUBLIC/x", "/%70ublic/x", "//public/x", "/v1/items:purge%3Fx", "/v1/items:purge%23x"]) {
    const res = await send(`GET ${p} HTTP/1.1\r\nHost: HOST`);
    assert.equal(res.status, 400, p);
  }
  assert.equal(app.requests.length, 1);
});

test("methods: a rule applies to its methods; others are 405 with Allow", async () => {
  const w = await startWorker({
    vars: {
      ...ctx.baseVars,
      PROTECT: JSON.stringify([
        { path: "/docs/*", upstream: app.url, methods: ["GET", "HEAD"], require_session: false },
        { path: "/docs/*", upstream: app.url, methods: ["POST", "PROPFIND"] },
      ]),
    },
  });
  try {
    assert.equal((await fetch(`${w.url}/docs/a`)).status, 200);
    assert.equal((await fetch(`${w.url}/docs/a`, { method: "POST", body: "x" })).status, 401);
    const dav = await raw(w.url, `PROPFIND /docs/a HTTP/1.1\r\nHost: ${new URL(w.url).host}\r\nDepth: 1`);
    assert.equal(dav.status, 401, "PROPFIND reaches its rule, which needs a session");
    const del = await fetch(`${w.url}/docs/a`, { method: "DELETE" });
    assert.equal(del.status, 405);
    assert.equal(del.headers.get("allow"), "GET, HEAD, POST, PROPFIND");
  } finally {
    await w.stop();
  }
});

test("require_aal: an aal1 session is 403 below the rule; a page load steps up; an aal2 login passes", async () => {
  const { cookie } = await signedIn();
  const res = await call("/settings/mfa", { headers: { cookie } });
  assert.equal(res.status, 403);
  assert.equal((await json(res)).error, "insufficient_user_authentication");
  // fetch() sends Sec-Fetch-Mode: cors whatever it is told: a page load goes over the socket.
  const nav = await send(`GET /settings/mfa HTTP/1.1\r\nHost: HOST\r\nSec-Fetch-Mode: navigate\r\nCookie: ${cookie}`);
  assert.equal(nav.status, 302);
  assert.equal(nav.headers.location, "/login?next=/settings/mfa");
  assert.deepEqual(nav.headers["set-cookie"], [], "the session stays");
  assert.equal(app.requests.length, 0);
  const strong = await signedIn({ claims: { aal: "aal2", amr: [{ method: "password", timestamp: 1 }, { method: "totp", timestamp: 2 }] } });
  const ok = await call("/settings/mfa", { headers: { cookie: strong.cookie } });
  assert.equal(ok.status, 200);
  assert.equal((await json(ok)).headers["edge-attest-aal"], "aal2");
});

test("M2: REQUIRED_AAL raised after an aal1 session was made: the gateway and the binding refuse it, refreshed or not", async () => {
  ctx.stytch.state.jwtLifetimeSecs = -10; // its JWT has expired: the gateway refreshes it first
  const { cookie } = await signedIn();
  ctx.stytch.state.jwtLifetimeSecs = 300;
  await ctx.restart({ vars: { ALLOWED_ORIGINS: PARTNER, PROTECT: JSON.stringify(rules), REQUIRED_AAL: "aal2" } });
  try {
    const res = await call("/app/settings", { headers: { cookie } });
    assert.equal(res.status, 403);
    assert.equal((await json(res)).error, "insufficient_user_authentication");
    assert.equal(cookies(res).length, 2, "the refresh's cookies come back");
    assert.equal(app.requests.length, 0);
  } finally {
    await ctx.restart({ vars: { ALLOWED_ORIGINS: PARTNER, PROTECT: JSON.stringify(rules) } });
  }
});

test("M2: a Stytch session this deployment did not make is no session here, unless the rule admits it", async () => {
  // As the Stytch SDK or a backend would make one: attest without this worker's link.
  const token = await ctx.supabase.mint({ sessionId: randomUUID(), claims: { email: `sdk-${randomUUID()}@example.com` } });
  const made = await fetch(`${ctx.stytch.url}/v1/sessions/attest`, {
    method: "POST",
    headers: { authorization: `Basic ${Buffer.from(`${PROJECT_ID}:${SECRET}`).toString("base64")}`, "content-type": "application/json" },
    body: JSON.stringify({ profile_id: PROFILE_ID, token, session_duration_minutes: 60 }),
  }).then((r) => r.json());
  const cookie = `stytch_session=${made.session_token}; stytch_session_jwt=${made.session_jwt}`;
  const calls = ctx.stytch.apiCalls().length;
  const res = await call("/app/x", { headers: { cookie } });
  assert.equal(res.status, 401);
  assert.deepEqual(res.headers.getSetCookie(), [], "a good Stytch session, not cleared");
  const ok = await call("/partners/x", { headers: { cookie } });
  assert.equal(ok.status, 200);
  const seen = await json(ok);
  assert.equal(seen.headers["edge-attest-user-id"], made.user_id);
  assert.equal(seen.headers["edge-attest-aal"], undefined);
  assert.equal(ctx.stytch.apiCalls().length, calls, "no Stytch call");
});

test("roles: a session without the rule's role is 403; granted since, the refresh shows it", async () => {
  ctx.stytch.state.jwtLifetimeSecs = -10;
  const { cookie, email } = await signedIn();
  ctx.stytch.state.jwtLifetimeSecs = 300;
  const denied = await call("/admin/users", { headers: { cookie: cookie.replace(/stytch_session=[^;]+/, "stytch_session=not-this-one") } });
  assert.equal(denied.status, 401, "an unknown token cannot refresh");
  ctx.stytch.state.roles.set(email, ["admin"]);
  const res = await call("/admin/users", { headers: { cookie } });
  assert.equal(res.status, 200);
  const fresh = cookies(res);
  assert.equal(fresh.length, 2, "refreshed: its JWT had expired");
  const live = `stytch_session=${fresh[0].value}; stytch_session_jwt=${fresh[1].value}`;
  ctx.stytch.state.roles.delete(email);
  assert.equal((await call("/admin/users", { headers: { cookie: live } })).status, 200, "the live JWT still says admin");
  const other = await signedIn();
  const forbidden = await call("/admin/users", { headers: { cookie: other.cookie } });
  assert.equal(forbidden.status, 403);
  assert.equal((await json(forbidden)).error, "forbidden");
});

test("bearer: a mobile client sends the session JWT; expired or forged is 401 with a challenge", async () => {
  const { jwt, body } = await signedIn();
  const res = await call("/api/orders", { headers: { authorization: `Bearer ${jwt}` } });
  assert.equal(res.status, 200);
  const seen = await json(res);
  assert.equal(seen.headers["edge-attest-user-id"], body.user_id);
  assert.equal(seen.headers.authorization, undefined, "the token is not passed on");
  assert.equal(seen.jwt.verified, true);
  const forged = await call("/api/orders", { headers: { authorization: `Bearer ${jwt.slice(0, -4)}AAAA` } });
  assert.equal(forged.status, 401);
  assert.equal(forged.headers.get("www-authenticate"), 'Bearer error="invalid_token"');
  ctx.stytch.state.jwtLifetimeSecs = -10;
  const expired = await signedIn();
  const old = await call("/api/orders", { headers: { authorization: `Bearer ${expired.jwt}` } });
  assert.equal(old.status, 401, "never refreshed");
  const none = await call("/api/orders");
  assert.equal(none.status, 401);
  assert.equal(none.headers.get("www-authenticate"), "Bearer");
});

test("a page's later requests with the same expired JWT share its refresh: five requests 100 ms apart, one call", async () => {
  ctx.stytch.state.jwtLifetimeSecs = -10;
  const { cookie } = await signedIn();
  ctx.stytch.state.jwtLifetimeSecs = 300;
  const n = ctx.stytch.apiCalls().length;
  const jwts = new Set();
  for (let i = 0; i < 5; i++) {
    const res = await call(`/app/page-${i}`, { headers: { cookie } });
    assert.equal(res.status, 200);
    jwts.add(cookies(res).find((c) => c.name === "stytch_session_jwt").value);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(ctx.stytch.apiCalls().slice(n).map((c) => c.path), ["/v1/sessions/authenticate"]);
  assert.equal(jwts.size, 1, "the same new cookies for all five");
  assert.ok(app.requests.every((r) => r.jwt.verified));
});

test("low findings: next is never scheme-relative; nameless cookies of an https upstream are dropped; a space in a name is a second cookie", async () => {
  for (const [p, next] of [["//evil.example/x", "/evil.example/x"], ["///evil.example", "/evil.example"]]) {
    const res = await send(`GET ${p} HTTP/1.1\r\nHost: HOST\r\nSec-Fetch-Mode: navigate`);
    assert.equal(res.status, 302, p);
    assert.ok(!res.headers.location.includes("next=//"), res.headers.location);
    assert.equal(res.headers.location, `/login?next=${next}`);
  }
  const { cookie } = await signedIn();
  const res = await call("/app/set-cookies", { headers: { cookie } });
  assert.deepEqual(res.headers.getSetCookie(), ["app=1; Path=/"]);
  const spaced = `${cookie}; stytch_session_jwt =${cookie.match(/stytch_session_jwt=([^;]+)/)[1]}`;
  const twice = await send(`GET /app/x HTTP/1.1\r\nHost: HOST\r\nCookie: ${spaced}`);
  assert.equal(twice.status, 401);
  assert.equal(twice.headers["set-cookie"].length, 2, "cleared");
});

test("another Worker asks authorize(cookie, options): the refusal's code and the cookies to clear", async () => {
  const { cookie, email } = await signedIn();
  const dir = mkdtempSync(path.join(os.tmpdir(), "edge-attest-authorize-"));
  writeFileSync(
    path.join(dir, "caller.js"),
    `export default { async fetch(req, env) {
      const path = new URL(req.url).pathname;
      const options = path === "/unset" ? { roles: undefined } : path === "/map" ? new Map([["roles", ["admin"]]]) : JSON.parse(req.headers.get("x-options") ?? "null");
      try {
        return Response.json(await env.AUTH.authorize(req.headers.get("cookie") ?? "", options));
      } catch (e) {
        return Response.json({ error: String(e.message) }, { status: 500 });
      }
    } };`,
  );
  writeFileSync(path.join(dir, "caller.toml"), `name = "caller"\nmain = "caller.js"\ncompatibility_date = "2026-11-01"\n\n[[services]]\nbinding = "AUTH"\nservice = "edge-attest-authorize"\nentrypoint = "EdgeAttest"\n`);
  const vars = Object.entries({ ...ctx.baseVars }).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join("\n");
  const edgeConfig = path.join(dir, "edge.toml");
  writeFileSync(edgeConfig, `name = "edge-attest-authorize"\nmain = "${path.join(ROOT, "build/index.js")}"\ncompatibility_date = "2026-11-01"\n\n[[kv_namespaces]]\nbinding = "JWKS_CACHE"\nid = "local-jwks-cache"\n\n[vars]\n${vars}\n`);
  const caller = await startWorker({ vars: {}, script: path.join(dir, "caller.js"), config: path.join(dir, "caller.toml"), alsoConfigs: [edgeConfig] });
  const ask = async (c, options) => json(await fetch(`${caller.url}/`, { headers: { cookie: c, "x-options": JSON.stringify(options) } }));
  try {
    const admins = await ask(cookie, { roles: ["admin"] });
    assert.deepEqual({ session: admins.session, refusal: admins.refusal }, { session: null, refusal: "forbidden" });
    const stronger = await ask(cookie, { require_aal: "aal2" });
    assert.equal(stronger.refusal, "insufficient_user_authentication");
    const ok = await ask(cookie, {});
    assert.equal(ok.refusal, null);
    assert.deepEqual(ok.session.roles, ["stytch_user"]);
    const forged = cookie.replace(/stytch_session_jwt=([^;]+)/, (_, v) => `stytch_session_jwt=${v.slice(0, -4)}AAAA`);
    const gone = await ask(forged, {});
    assert.equal(gone.refusal, "unauthenticated");
    assert.equal(gone.set_cookie.length, 2);
    assert.ok(gone.set_cookie.every((c) => c.includes("Max-Age=0")));
    const bad = await ask(cookie, { role: "admin" });
    assert.match(bad.error, /^invalid_request: /);
    // What JSON would drop is refused, not read as "no requirement".
    const unset = await json(await fetch(`${caller.url}/unset`, { headers: { cookie } }));
    assert.match(unset.error, /^invalid_request: authorize option roles is undefined/);
    const map = await json(await fetch(`${caller.url}/map`, { headers: { cookie } }));
    assert.match(map.error, /^invalid_request: authorize options must be a plain object/);
    ctx.stytch.state.roles.set(email, ["admin"]);
    assert.equal((await ask(cookie, { roles: ["admin"] })).refusal, "forbidden", "the live JWT does not have it yet");
  } finally {
    await caller.stop();
  }
});
