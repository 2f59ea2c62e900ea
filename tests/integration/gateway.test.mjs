// The auth gateway in the real runtime: the compiled worker in workerd (wrangler dev) in
// front of an app stand-in that records what it receives and verifies Edge-Attest-Jwt the way
// docs/gateway.md says, with the Stytch stand-in minting and refreshing the sessions. What a
// browser and the app see: identity, stripping, redirects, refresh, revocation, streamed
// bodies both ways, CSRF, a public rule, WebSockets, and the service binding from a second
// Worker.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { randomUUID, createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import http from "node:http";
import { setup, exchange, json, cookies, cookieHeader, PROJECT_ID, SECRET } from "./helpers.mjs";
import { startApp } from "../../dev/standins.mjs";
import { startWorker, ROOT } from "../../dev/worker.mjs";

let ctx;
let app;
let elsewhere; // a server the app redirects to: the gateway must not follow there
const landed = [];

before(async () => {
  elsewhere = http.createServer((req, res) => {
    landed.push(req.headers);
    res.end("landed");
  });
  await new Promise((r) => elsewhere.listen(0, "127.0.0.1", r));
  ctx = await setup();
  app = await startApp({ stytch: ctx.stytch, projectId: PROJECT_ID, redirectTo: `http://127.0.0.1:${elsewhere.address().port}/landed` });
  await ctx.restart({
    vars: {
      ALLOWED_ORIGINS: "http://localhost:5173",
      PROTECT: JSON.stringify([
        { path: "/app/public/*", upstream: app.url, require_session: false },
        { path: "/app/*", upstream: app.url },
        { path: "/page/*", upstream: app.url, on_unauthenticated: "redirect", login_url: "/login" },
      ]),
    },
  });
});
after(async () => {
  await ctx?.close();
  await app?.close();
  elsewhere?.close();
});
beforeEach(() => {
  ctx.stytch.state.jwtLifetimeSecs = 300;
  app.requests.length = 0;
});

/** Signs in (an exchange) and returns the browser's Cookie header. */
async function signedIn(claims = {}) {
  const res = await exchange(ctx, await ctx.supabase.mint({ sessionId: randomUUID(), claims }));
  assert.equal(res.status, 200);
  return { cookie: cookieHeader(res), jwt: cookies(res).find((c) => c.name === "stytch_session_jwt").value, body: await json(res) };
}

const call = (p, init = {}) => fetch(`${ctx.worker.url}${p}`, { redirect: "manual", ...init });
/** A GET with exactly these headers (fetch() adds its own Sec-Fetch-Mode: cors). */
const rawGet = (p, headers) =>
  new Promise((resolve, reject) => {
    http
      .get(`${ctx.worker.url}${p}`, { headers }, (res) => {
        res.resume();
        res.on("end", () => resolve(res));
      })
      .on("error", reject);
  });
const sha256 = (s) => createHash("sha256").update(s).digest("hex");
const lastLog = () => ctx.worker.lastLog("gateway");

test("a signed-in request reaches the app with an identity it can verify, and nothing reaches Stytch", async () => {
  const { cookie, jwt, body } = await signedIn();
  const calls = ctx.stytch.apiCalls().length;
  await call("/app/warm-up", { headers: { cookie } }); // this isolate's first look at Stytch's keys
  const fetches = ctx.stytch.state.jwksFetches;
  const res = await call("/app/orders?page=2", { headers: { cookie, "x-custom": "kept" } });
  assert.equal(res.status, 200);
  const seen = await json(res);
  assert.equal(seen.method, "GET");
  assert.equal(seen.url, "/app/orders?page=2");
  assert.equal(seen.headers["x-custom"], "kept");
  assert.equal(seen.headers["edge-attest-user-id"], body.user_id);
  assert.equal(seen.headers["edge-attest-session-id"], body.session_id);
  assert.equal(seen.headers["edge-attest-expires-at"], body.expires_at);
  assert.equal(seen.headers["edge-attest-aal"], "aal1");
  assert.equal(seen.headers["edge-attest-iss"], `${ctx.supabase.url}/auth/v1`);
  assert.deepEqual(seen.jwt, { verified: true, sub: body.user_id, session_id: body.session_id, sha256: sha256(jwt) });
  // Another server gets no session cookie, and the public host.
  assert.equal(seen.headers.cookie, undefined);
  assert.equal(seen.headers["x-forwarded-host"], new URL(ctx.worker.url).host);
  assert.equal(res.headers.get("cache-control"), "private");
  assert.equal(ctx.stytch.apiCalls().length, calls, "no Stytch call");
  assert.equal(ctx.stytch.state.jwksFetches, fetches, "Stytch's keys from memory");
  const log = await lastLog();
  assert.equal(log.outcome, "forwarded");
  assert.equal(log.rule, 1);
  assert.equal(log.user_id, body.user_id);
  assert.equal(log.upstream_status, 200);
  assert.ok(!JSON.stringify(log).includes(jwt));
});

test("identity headers the client sent never reach the app, under any spelling, on any rule", async () => {
  const { cookie, body } = await signedIn();
  for (const p of ["/app/x", "/app/public/x"]) {
    const res = await call(p, {
      headers: {
        cookie,
        "edge-attest-user-id": "user-test-forged",
        "Edge_Attest_User_Id": "user-test-forged",
        "edge-attest-role": "admin",
        connection: "close, edge-attest-session-id",
      },
    });
    const seen = await json(res);
    const raw = seen.rawHeaders.join("\n");
    assert.ok(!raw.includes("forged") && !raw.includes("admin"), `${p}: ${raw}`);
    assert.ok(!seen.rawHeaders.some((h) => /^edge_attest/i.test(h)), p);
    if (p === "/app/x") {
      assert.equal(seen.headers["edge-attest-user-id"], body.user_id);
      assert.equal(seen.headers["edge-attest-session-id"], body.session_id, "Connection cannot remove it");
    } else {
      assert.equal(seen.headers["edge-attest-user-id"], undefined, "a public rule forwards no identity");
    }
  }
});

test("without a session: 401 JSON and the app never called; page loads go to the login page", async () => {
  const res = await call("/app/x");
  assert.equal(res.status, 401);
  assert.equal((await json(res)).error, "unauthenticated");
  assert.deepEqual(res.headers.getSetCookie(), []);
  const nav = await rawGet("/page/report?id=7", { "sec-fetch-mode": "navigate", accept: "text/html" });
  assert.equal(nav.statusCode, 302);
  assert.equal(nav.headers.location, "/login?next=/page/report%3Fid%3D7");
  assert.equal((await lastLog()).outcome, "redirected");
  const script = await call("/page/report", { headers: { "sec-fetch-mode": "cors" } });
  assert.equal(script.status, 401);
  // A forged session JWT: 401, and the cookies cleared.
  const { cookie } = await signedIn();
  const forged = cookie.replace(/stytch_session_jwt=([^;]+)/, (_, v) => `stytch_session_jwt=${v.slice(0, -4)}AAAA`);
  const bad = await call("/app/x", { headers: { cookie: forged } });
  assert.equal(bad.status, 401);
  assert.ok(cookies(bad).every((c) => c.value === "" && c.attrs["max-age"] === "0"));
  assert.equal(app.requests.length, 0);
});

test("an expired JWT is refreshed once with Stytch: the app gets the fresh one, the browser the new cookies", async () => {
  ctx.stytch.state.jwtLifetimeSecs = -10;
  const { cookie, jwt } = await signedIn();
  ctx.stytch.state.jwtLifetimeSecs = 300;
  const n = ctx.stytch.apiCalls().length;
  const res = await call("/app/set-cookies", { headers: { cookie } });
  assert.equal(res.status, 200);
  const refreshes = ctx.stytch.apiCalls().slice(n);
  assert.deepEqual(refreshes.map((c) => c.path), ["/v1/sessions/authenticate"]);
  const set = cookies(res);
  // The app's own cookie, never the session cookies it tried to plant, then the refreshed ones.
  assert.deepEqual(set.map((c) => c.name), ["app", "stytch_session", "stytch_session_jwt"]);
  assert.notEqual(set[2].value, jwt);
  assert.notEqual(set[1].value, "planted");
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.equal((await lastLog()).session, "refreshed");
  // The next request carries the fresh cookies: no refresh.
  const fresh = `stytch_session=${set[1].value}; stytch_session_jwt=${set[2].value}`;
  const again = await call("/app/x", { headers: { cookie: fresh } });
  const seen = await json(again);
  assert.equal(seen.jwt.verified, true);
  assert.equal(seen.jwt.sha256, sha256(set[2].value));
  assert.equal(ctx.stytch.apiCalls().length, n + 1);
});

test("a page load of requests with one expired JWT makes one refresh: the others wait for it", async () => {
  ctx.stytch.state.jwtLifetimeSecs = -10;
  const { cookie } = await signedIn();
  ctx.stytch.state.jwtLifetimeSecs = 300;
  const n = ctx.stytch.apiCalls().length;
  const seenBefore = app.requests.length;
  ctx.stytch.script({ delayMs: 400 }); // the refresh takes a while: the others arrive meanwhile
  const answers = await Promise.all([1, 2, 3, 4].map(() => call("/app/x", { headers: { cookie } })));
  assert.deepEqual(ctx.stytch.apiCalls().slice(n).map((c) => c.path), ["/v1/sessions/authenticate"]);
  const jwts = new Set();
  for (const res of answers) {
    assert.equal(res.status, 200);
    const set = cookies(res);
    assert.deepEqual(set.map((c) => c.name), ["stytch_session", "stytch_session_jwt"]);
    jwts.add(set[1].value);
    const seen = await json(res);
    assert.equal(seen.jwt.verified, true);
    assert.equal(seen.jwt.sha256, sha256(set[1].value), "the app got the refreshed JWT");
  }
  assert.equal(jwts.size, 1, "one refresh, one new JWT for all four");
  assert.equal(app.requests.length, seenBefore + 4);
});

test("a session revoked at Stytch ends at the next refresh: 401, cookies cleared, the app not called", async () => {
  ctx.stytch.state.jwtLifetimeSecs = -10;
  const { cookie, body } = await signedIn();
  await fetch(`${ctx.stytch.url}/v1/sessions/revoke`, {
    method: "POST",
    headers: { authorization: `Basic ${Buffer.from(`${PROJECT_ID}:${SECRET}`).toString("base64")}`, "content-type": "application/json" },
    body: JSON.stringify({ session_id: body.session_id }),
  });
  const res = await call("/app/x", { headers: { cookie } });
  assert.equal(res.status, 401);
  assert.equal(cookies(res).length, 2);
  assert.ok(cookies(res).every((c) => c.attrs["max-age"] === "0"));
  assert.equal(app.requests.length, 0);
});

test("a request body is streamed to the app, not buffered: the app reads it while the client still sends", async () => {
  const { cookie } = await signedIn();
  const chunk = new Uint8Array(64 * 1024).fill(97);
  let lastSentAt = 0;
  const body = new ReadableStream({
    async start(controller) {
      for (let i = 0; i < 8; i++) {
        controller.enqueue(chunk);
        await new Promise((r) => setTimeout(r, 150));
      }
      lastSentAt = Date.now();
      controller.close();
    },
  });
  const res = await call("/app/upload", { method: "POST", headers: { cookie, "content-type": "application/octet-stream" }, body, duplex: "half" });
  assert.equal(res.status, 200);
  const seen = await json(res);
  assert.equal(seen.method, "POST");
  assert.equal(seen.body_bytes, 8 * 64 * 1024, "512 KiB, far past the exchange's 16 KiB cap");
  assert.ok(seen.first_chunk_at < lastSentAt - 500, `the app had the first chunk ${lastSentAt - seen.first_chunk_at} ms before the last was sent`);
});

test("the app's answer streams back as it comes (server-sent events)", async () => {
  const { cookie } = await signedIn();
  const res = await call("/app/sse", { headers: { cookie } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  const reader = res.body.getReader();
  const started = Date.now();
  const first = new TextDecoder().decode((await reader.read()).value);
  const firstAt = Date.now() - started;
  let rest = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    rest += new TextDecoder().decode(value);
  }
  assert.match(first, /data: 1/);
  assert.ok(!first.includes("data: 2"), "the first event came alone");
  assert.match(rest, /data: 2/);
  assert.ok(firstAt < 250, `first event after ${firstAt} ms`);
});

test("the app's redirect goes back to the browser; the gateway does not follow it", async () => {
  const { cookie } = await signedIn();
  const n = landed.length;
  const res = await call("/app/redirect", { headers: { cookie } });
  assert.equal(res.status, 302);
  assert.match(res.headers.get("location"), /\/landed$/);
  assert.equal(landed.length, n, "nothing reached the other server");
});

test("hop-by-hop and identity headers in the app's answer stop at the gateway", async () => {
  const { cookie } = await signedIn();
  const res = await call("/app/echo-identity", { headers: { cookie } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("edge-attest-user-id"), null);
  assert.equal(res.headers.get("x-internal"), null);
});

test("a cross-site write is 403 before the app; the app's own pages and allowed origins pass", async () => {
  const { cookie } = await signedIn();
  for (const headers of [{ origin: "https://evil.example" }, { "sec-fetch-site": "same-site" }, { origin: "null" }]) {
    const res = await call("/app/x", { method: "POST", headers: { cookie, "content-type": "application/json", ...headers }, body: "{}" });
    assert.equal(res.status, 403, JSON.stringify(headers));
  }
  assert.equal(app.requests.length, 0);
  const ok = await call("/app/x", { method: "POST", headers: { cookie, origin: "http://localhost:5173", "content-type": "application/json" }, body: "{}" });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get("access-control-allow-origin"), "http://localhost:5173");
});

test("ambiguous paths are 400 before any rule; dot segments are the runtime's to resolve first", async () => {
  for (const p of ["/app/public/..%2Fx", "/app;x=1/y", "/app/public/%2E%2E%2Fx"]) {
    const res = await call(p);
    assert.equal(res.status, 400, p);
  }
  // workerd's URL parser resolves `..` and `%2e%2e` segments: the rule then sees /app/x,
  // which is protected, as the app would.
  for (const p of ["/app/public/%2e%2e/x", "/app/public/../x"]) {
    const res = await rawGet(p, {});
    assert.equal(res.statusCode, 401, p);
  }
  assert.equal(app.requests.length, 0);
});

test("a WebSocket handshake goes through with the identity; the socket comes back working", async () => {
  const { cookie, body } = await signedIn();
  const ws = new WebSocket(`${ctx.worker.url.replace("http", "ws")}/app/ws`, { headers: { cookie } });
  const reply = await new Promise((resolve, reject) => {
    ws.onopen = () => ws.send("hello");
    ws.onmessage = (e) => resolve(e.data);
    ws.onerror = (e) => reject(new Error(`websocket failed: ${e.message ?? e.type}`));
    setTimeout(() => reject(new Error("no echo")), 5000);
  });
  ws.close();
  assert.equal(reply, "echo: hello");
  const seen = app.requests.find((r) => r.upgrade);
  assert.equal(seen.headers["edge-attest-user-id"], body.user_id);
  assert.equal(seen.headers.upgrade, "websocket");
});

test("another Worker asks through the service binding: the same identity, no HTTP round trip", async () => {
  const { cookie, body } = await signedIn();
  const dir = mkdtempSync(path.join(os.tmpdir(), "edge-attest-binding-"));
  writeFileSync(
    path.join(dir, "caller.js"),
    `export default { async fetch(req, env) {
      try {
        const who = await env.AUTH.session(req.headers.get("cookie") ?? "");
        return Response.json({ who });
      } catch (e) {
        return Response.json({ error: String(e.message) }, { status: 503 });
      }
    } };`,
  );
  writeFileSync(path.join(dir, "caller.toml"), `name = "caller"\nmain = "caller.js"\ncompatibility_date = "2026-11-01"\n\n[[services]]\nbinding = "AUTH"\nservice = "edge-attest-binding"\nentrypoint = "EdgeAttest"\n`);
  const vars = Object.entries({ ...ctx.baseVars }).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join("\n");
  const edgeConfig = path.join(dir, "edge.toml");
  writeFileSync(edgeConfig, `name = "edge-attest-binding"\nmain = "${path.join(ROOT, "build/index.js")}"\ncompatibility_date = "2026-11-01"\n\n[[kv_namespaces]]\nbinding = "JWKS_CACHE"\nid = "local-jwks-cache"\n\n[vars]\n${vars}\n`);
  const caller = await startWorker({ vars: {}, script: path.join(dir, "caller.js"), config: path.join(dir, "caller.toml"), alsoConfigs: [edgeConfig] });
  try {
    const res = await fetch(`${caller.url}/`, { headers: { cookie } });
    const { who } = await json(res);
    assert.equal(who.user_id, body.user_id);
    assert.equal(who.session_id, body.session_id);
    assert.equal(who.aal, "aal1");
    assert.deepEqual(who.set_cookie, []);
    const none = await json(await fetch(`${caller.url}/`));
    assert.equal(none.who, null);
  } finally {
    await caller.stop();
  }
});

test("upstream \"origin\": the request goes on to the zone's own origin with the public Host and the session cookies", async () => {
  const { cookie, body } = await signedIn();
  const host = new URL(app.url).host;
  const worker = await startWorker({
    vars: { ...ctx.baseVars, PROTECT: JSON.stringify([{ path: "/*", upstream: "origin" }]) },
    localUpstream: host,
  });
  try {
    const res = await fetch(`${worker.url}/dashboard?tab=1`, { headers: { cookie } });
    assert.equal(res.status, 200);
    const seen = await json(res);
    assert.equal(seen.url, "/dashboard?tab=1");
    assert.equal(seen.headers.host, host);
    assert.equal(seen.headers["edge-attest-user-id"], body.user_id);
    assert.equal(seen.jwt.verified, true);
    assert.equal(seen.headers.cookie, cookie, "the origin gets the session cookies");
    assert.equal(seen.headers["x-forwarded-host"], undefined);
    // The worker's own routes are still its own.
    assert.equal((await fetch(`${worker.url}/healthz`)).status, 200);
  } finally {
    await worker.stop();
  }
});
