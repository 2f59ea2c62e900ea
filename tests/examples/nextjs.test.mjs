// The Next.js example (examples/nextjs) as a user meets it, in headless Chromium: the app's
// dependencies installed from its own lockfile and the `edge-attest` package `make release`
// packed, `next build` and `next start` on 127.0.0.1, behind the compiled worker's gateway
// (the example README's PROTECT, upstream the Next server) against the Supabase and Stytch
// stand-ins. Sign in on /login (supabase-js, edge-attest/react), see the protected page (a
// server component reading the identity with edge-attest/server) and /api/me, refresh the
// token (answered at the edge), sign out (Stytch revokes the session) and land on /login.
// Then the same sign-in under `next dev`, where React's strict mode runs every effect twice.
// The Next server trusts only the verified JWT: a request that reaches it around the gateway
// with forged Edge-Attest-* headers shows no user.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { launchChromium } from "../browser/lib.mjs";
import { installExample, startExample, EXAMPLE } from "../../dev/nextjs-example.mjs";
import { userIdOf } from "../../dev/standins.mjs";
import { ROOT } from "../../dev/worker.mjs";

let example;
let browser;

before(async () => {
  const t0 = Date.now();
  const installed = installExample();
  const t1 = Date.now();
  example = await startExample();
  browser = await launchChromium();
  console.log(`# ${installed} in ${((t1 - t0) / 1000).toFixed(1)} s; next build in ${(example.buildMs / 1000).toFixed(1)} s; ready after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});
after(async () => {
  await browser?.close();
  await example?.stop();
});

const stytchCalls = (p) => example.stytch.calls.filter((c) => c.path === p);
const attests = () => stytchCalls("/v1/sessions/attest").length;
/** The worker's log lines since `seen` for `route`, once the lines of what was answered are in. */
async function linesOf(seen, route, worker = example.worker) {
  await worker.lastLog(route);
  return worker.logs.slice(seen).filter((l) => l.route === route);
}
const sessionCookies = async (context) => (await context.cookies(example.url)).filter((c) => c.name.startsWith("stytch_"));

/** A browser context whose page errors (uncaught exceptions, console errors) are collected. */
async function open() {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  // A refused request is reported by Chromium as "Failed to load resource": expected here.
  page.on("console", (m) => m.type() === "error" && !/Failed to load resource/.test(m.text()) && errors.push(`console: ${m.text()}`));
  return { context, page, errors };
}

/** `fetch(path)` from the page: what a script of the app gets. */
const fetchFrom = (page, p, headers = {}) =>
  page.evaluate(
    async ([p, headers]) => {
      const res = await fetch(p, { headers });
      const text = await res.text();
      let body = text;
      try {
        body = JSON.parse(text);
      } catch {}
      return { status: res.status, body };
    },
    [p, headers],
  );

async function signIn(page, email) {
  await page.goto(`${example.url}/`);
  await page.waitForURL(`${example.url}/login?next=/`);
  await page.fill("#email", email);
  await page.fill("#password", "any password");
  await page.click("#sign-in");
  await page.waitForURL(`${example.url}/`);
  await page.waitForSelector("#user-id");
}

test("the installed edge-attest is this checkout's package", () => {
  const stale = ["client/index.js", "react/index.js", "server/index.js"].filter((f) => readFileSync(path.join(EXAMPLE, "node_modules/edge-attest", f), "utf8") !== readFileSync(path.join(ROOT, f), "utf8"));
  assert.deepEqual(stale, [], "the tarball is older than these files: run make release");
});

test("without a session: a page load goes to /login (public, with Next's assets), /api/me is the gateway's 401, forged identity headers are dropped", async () => {
  const { context, page, errors } = await open();
  const seen = example.worker.logs.length;
  await page.goto(`${example.url}/`);
  assert.equal(page.url(), `${example.url}/login?next=/`, "the gateway sent the browser to the login page");
  assert.equal(await page.textContent("h1"), "Sign in");
  // The page's code came through the gateway's public /_next/* rule and ran: the provider
  // attached and supabase-js reported no login.
  await page.waitForSelector('#edge-status[data-status="signed_out"]');
  const gateway = await linesOf(seen, "gateway");
  assert.deepEqual(gateway[0] && [gateway[0].status, gateway[0].outcome], [302, "redirected"]);
  assert.ok(gateway.some((l) => l.outcome === "forwarded" && l.session === "public"), "the login page and its assets are public");

  const before = example.worker.logs.length;
  const me = await fetchFrom(page, "/api/me", { "edge-attest-user-id": userIdOf("forged@example.com") });
  assert.equal(me.status, 401);
  assert.equal(me.body.error, "unauthenticated");
  assert.ok(me.body.error_description, "the gateway's answer, not the app's");
  const [line] = await linesOf(before, "gateway");
  assert.equal(line.outcome, "unauthenticated", "refused at the gateway: the app was not called");
  // A page load of an API path is answered 401 too (its own rule), not sent to the login page.
  const nav = await page.goto(`${example.url}/api/me`);
  assert.equal(nav.status(), 401);
  assert.equal(page.url(), `${example.url}/api/me`);
  assert.deepEqual(errors, []);
  await context.close();
});

test("sign in, the protected page and /api/me show the Stytch user; a token refresh is answered at the edge; sign out revokes the session and lands on /login", async () => {
  const { context, page, errors } = await open();
  const email = "ada@example.com";
  const attestsBefore = attests();
  const seen = example.worker.logs.length;
  await signIn(page, email);

  // The user the Stytch stand-in created for this login, and the session the cookies hold.
  const [cookie] = (await sessionCookies(context)).filter((c) => c.name === "stytch_session");
  assert.ok(cookie, "the worker's session cookie");
  assert.equal(cookie.httpOnly, true);
  const session = example.stytch.sessions.get(cookie.value);
  assert.ok(session, "a live Stytch session");
  assert.equal(session.user_id, userIdOf(email));
  assert.equal(await page.textContent("#user-id"), session.user_id, "the server component verified the JWT");
  assert.equal(await page.textContent("#session-id"), session.session_id);
  assert.equal(attests(), attestsBefore + 1, "one attest for the sign-in");
  const exchanges = (await linesOf(seen, "exchange")).filter((l) => l.method === "POST");
  assert.deepEqual(exchanges.map((l) => [l.status, l.outcome]), [[200, "ok"]], "one exchange");
  await page.waitForSelector('#edge-status[data-status="signed_in"]');

  const me = await fetchFrom(page, "/api/me");
  assert.equal(me.status, 200);
  assert.equal(me.body.user_id, session.user_id);
  assert.equal(me.body.session_id, session.session_id);
  assert.equal(me.body.aal, "aal1");

  // A token refresh (supabase-js refreshSession, what it does hourly): the new token is
  // exchanged and answered at the edge, from the cookies: no second attest.
  const tokens = example.supabase.state.tokensIssued;
  const beforeRefresh = example.worker.logs.length;
  await page.click("#refresh");
  await page.waitForSelector('#edge-status[data-status="signed_in"][data-reused="true"]');
  assert.equal(example.supabase.state.tokensIssued, tokens + 1, "supabase-js refreshed its token");
  const refresh = (await linesOf(beforeRefresh, "exchange")).filter((l) => l.method === "POST");
  assert.deepEqual(refresh.map((l) => [l.status, l.outcome]), [[200, "reused"]]);
  assert.equal(attests(), attestsBefore + 1, "no Stytch call for the refreshed token");
  await page.reload();
  assert.equal(page.url(), `${example.url}/`);
  assert.equal(await page.textContent("#user-id"), session.user_id, "still signed in");
  assert.equal((await fetchFrom(page, "/api/me")).body.user_id, session.user_id);

  // Sign out: supabase-js signs out, the client module logs out of Stytch (one logout), and
  // the next page load finds no session.
  await page.waitForSelector('#edge-status[data-status="signed_in"]');
  const revokes = stytchCalls("/v1/sessions/revoke").length;
  const beforeOut = example.worker.logs.length;
  await page.click("#sign-out");
  await page.waitForURL(`${example.url}/login?next=/`);
  assert.equal(await page.textContent("h1"), "Sign in");
  assert.equal(stytchCalls("/v1/sessions/revoke").length, revokes + 1, "Stytch revoked the session");
  assert.ok(!example.stytch.sessions.has(cookie.value), "the session is gone at Stytch");
  assert.equal((await linesOf(beforeOut, "logout")).length, 1, "one logout");
  assert.deepEqual(await sessionCookies(context), [], "the cookies are gone");
  const after = await fetchFrom(page, "/api/me");
  assert.equal(after.status, 401);
  await page.goto(`${example.url}/`);
  assert.equal(page.url(), `${example.url}/login?next=/`);
  assert.deepEqual(errors, []);
  await context.close();
});

test("the Next server believes only the verified JWT: forged Edge-Attest-* headers sent to it directly show no user", async () => {
  const forged = {
    "edge-attest-user-id": userIdOf("mallory@example.com"),
    "edge-attest-session-id": "session-test-forged",
    "edge-attest-aal": "aal2",
  };
  // Around the gateway, with the plain headers the gateway writes and no JWT.
  let res = await fetch(`${example.app.url}/`, { headers: forged });
  let html = await res.text();
  assert.equal(res.status, 200);
  const shown = /<code id="user-id">([^<]*)</.exec(html)?.[1] ?? null;
  assert.equal(shown, null, "no user shown");
  assert.ok(html.includes('id="no-identity"'), "the page says there is no verified session");
  assert.ok(!html.includes(forged["edge-attest-user-id"]));
  res = await fetch(`${example.app.url}/api/me`, { headers: forged });
  assert.equal(res.status, 401);
  // A JWT that does not verify (another signature), beside them.
  const { context, page } = await open();
  await signIn(page, "grace@example.com");
  const jwt = (await sessionCookies(context)).find((c) => c.name === "stytch_session_jwt").value;
  const [h, p, s] = jwt.split(".");
  const tampered = `${h}.${p}.${s.slice(0, -4)}${s.slice(-4) === "AAAA" ? "BBBB" : "AAAA"}`;
  res = await fetch(`${example.app.url}/api/me`, { headers: { ...forged, "edge-attest-jwt": tampered } });
  assert.equal(res.status, 401);
  // A genuine JWT: its own user, whatever the plain headers say.
  res = await fetch(`${example.app.url}/api/me`, { headers: { ...forged, "edge-attest-jwt": jwt } });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).user_id, userIdOf("grace@example.com"));
  await context.close();
});

test("under next dev (React's strict mode: every effect twice) the provider attaches once in effect: one exchange, the state followed, one logout", async () => {
  const { default: config } = await import(path.join(EXAMPLE, "next.config.mjs"));
  assert.equal(config.reactStrictMode, true);
  const dev = await startExample({ mode: "dev" });
  try {
    const { context, page, errors } = await open();
    const email = "strict@example.com";
    const seen = dev.worker.logs.length;
    await page.goto(`${dev.url}/`);
    await page.waitForURL(`${dev.url}/login?next=/`);
    await page.waitForSelector('#edge-status[data-status="signed_out"]');
    await page.fill("#email", email);
    await page.fill("#password", "any password");
    await page.click("#sign-in");
    // The login page goes on only once the hook has seen signed_in: a hook left listening to
    // the client strict mode detached would never see it.
    await page.waitForURL(`${dev.url}/`);
    assert.equal(await page.textContent("#user-id", { timeout: 60_000 }), userIdOf(email));
    await page.waitForSelector('#edge-status[data-status="signed_in"]');
    const exchanges = (await linesOf(seen, "exchange", dev.worker)).filter((l) => l.method === "POST");
    assert.deepEqual(exchanges.map((l) => [l.status, l.outcome]), [[200, "ok"]], "one exchange");
    assert.equal(dev.stytch.calls.filter((c) => c.path === "/v1/sessions/attest").length, 1);

    await page.click("#sign-out");
    await page.waitForURL(`${dev.url}/login?next=/`);
    assert.equal((await linesOf(seen, "logout", dev.worker)).length, 1, "one logout");
    assert.equal(dev.stytch.calls.filter((c) => c.path === "/v1/sessions/revoke").length, 1);
    assert.equal(dev.stytch.sessions.size, 0);
    assert.deepEqual(errors, []);
    await context.close();
  } finally {
    await dev.stop();
  }
});
