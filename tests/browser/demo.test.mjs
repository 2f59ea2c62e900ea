// The demo, driven by a real browser: headless Chromium (Debian's package, driven by
// playwright-core) loads the demo page, which signs in with supabase-js against the Supabase
// stand-in and keeps the Stytch session with the client module (client/index.js). The browser
// itself must hold the worker's cookies with the right attributes; a token refresh is
// answered at the edge; several tabs make one exchange and one logout; a page on a
// disallowed origin gets no cookie and causes no Stytch call.
// SCREENSHOT=docs/demo.png also saves a picture of the page after a successful exchange.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launchChromium, settled } from "./lib.mjs";
import { startDemo } from "../../dev/demo-lib.mjs";

let demo;
let browser;

before(async () => {
  // For the README screenshot, use the ports `make demo` prints.
  demo = await startDemo(process.env.SCREENSHOT ? { workerPort: 8787, pagePort: 5173, otherPagePort: 5174 } : {});
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await demo?.stop();
});

const stytchCalls = (path) => demo.stytch.calls.filter((c) => c.path === path);
const stytchAttests = () => stytchCalls("/v1/sessions/attest").length;
/** What reached the worker since log line `seen`: "METHOD route status". */
const handled = (seen) => demo.worker.logs.slice(seen).map((l) => `${l.method} ${l.route} ${l.status}`);

async function workerCookies(context) {
  return (await context.cookies(demo.workerUrl)).filter((c) => c.name.startsWith("stytch_"));
}
const cookieValues = async (context) => Object.fromEntries((await workerCookies(context)).map((c) => [c.name, c.value]));

/** Waits for `n` log lines of the worker after `seen` matching `pred`, then a little more. */
async function quiet(seen, pred, n) {
  for (let i = 0; i < 200 && demo.worker.logs.slice(seen).filter(pred).length < n; i++) await new Promise((r) => setTimeout(r, 25));
  await new Promise((r) => setTimeout(r, 400));
}

test("signing in: supabase-js's SIGNED_IN is exchanged once, the browser holds both cookies", async () => {
  const context = await browser.newContext({ viewport: { width: 1100, height: 950 } });
  const page = await context.newPage();
  await page.goto(demo.pageUrl);
  await settled(page, "Page load", "signed_out");
  const attests = stytchAttests();
  const seen = demo.worker.logs.length;
  await page.click("#signin");
  const state = await settled(page, "Sign in", "signed_in");
  assert.equal(state.reused, false);
  assert.match(state.user_id, /^user-test-/);
  assert.equal(stytchAttests(), attests + 1);
  // What reached the worker: the browser's CORS preflight, then the credentialed POST; once.
  await quiet(seen, (l) => l.method === "POST", 1);
  assert.deepEqual(handled(seen), ["OPTIONS exchange 204", "POST exchange 200"]);

  const cookies = await workerCookies(context);
  assert.deepEqual(cookies.map((c) => c.name).sort(), ["stytch_session", "stytch_session_jwt"]);
  for (const c of cookies) {
    assert.equal(c.domain, "localhost", "host-only, for the worker's host");
    assert.equal(c.path, "/");
    assert.equal(c.secure, true);
    assert.equal(c.sameSite, "Lax");
    assert.equal(c.httpOnly, false, "the demo runs with COOKIE_HTTP_ONLY=false");
    assert.ok(Math.abs(c.expires - (Date.now() / 1000 + 3600)) < 120, `expires ${c.expires}`);
  }
  const session = demo.stytch.sessions.get(cookies.find((c) => c.name === "stytch_session").value);
  assert.ok(session, "the cookie is the session Stytch issued");
  assert.equal(session.session_id, state.session_id);
  assert.match(await page.textContent("#cookies"), /stytch_session_jwt/);
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });

  // Expired and tampered tokens: the worker's error, no retry, no cookie changed, no Stytch.
  const before = stytchAttests();
  for (const [button, action] of [["#expired", "Expired token"], ["#tampered", "Tampered token"]]) {
    await page.click(button);
    const s = await settled(page, action, "error");
    assert.deepEqual([s.error.status, s.error.error, s.retry_at], [401, "invalid_token", null]);
  }
  assert.equal(stytchAttests(), before);
  assert.equal((await workerCookies(context)).length, 2);
  await context.close();
});

test("a reload and a token refresh are answered at the edge; another user gets a new session; /api/session refreshes an expired JWT", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(demo.pageUrl);
  await page.click("#signin");
  await settled(page, "Sign in", "signed_in");
  const ada = await cookieValues(context);
  const adaSession = { ...demo.stytch.sessions.get(ada.stytch_session) };
  const attests = stytchAttests();

  // Reload: supabase-js's INITIAL_SESSION carries the kept login, which this browser has
  // just exchanged: nothing reaches Stytch.
  await page.reload();
  await settled(page, "Page load", "signed_in");
  assert.equal(stytchAttests(), attests, "no Stytch call");
  // Token refresh (what supabase-js does hourly): a new token of the same login, exchanged
  // once, answered from the cookies.
  const seen = demo.worker.logs.length;
  const tokens = demo.supabase.state.tokensIssued;
  await page.click("#refresh");
  const refreshed = await settled(page, "Token refresh", "signed_in");
  assert.equal(demo.supabase.state.tokensIssued, tokens + 1, "supabase-js refreshed its token");
  assert.equal(refreshed.reused, true);
  assert.equal(refreshed.session_id, adaSession.session_id);
  await quiet(seen, (l) => l.method === "POST", 1);
  assert.deepEqual(handled(seen).filter((h) => h.startsWith("POST")), ["POST exchange 200"]);
  assert.equal(demo.worker.logs.at(-1).outcome, "reused");
  assert.equal(stytchAttests(), attests);
  await page.click("#again");
  assert.equal((await settled(page, "Exchange again", "signed_in")).reused, true);
  assert.deepEqual(await cookieValues(context), ada, "the same cookies");

  // Another user on the same browser: a new session, Ada's never sent nor extended. Its JWT
  // comes back already expired, for the /api/session check below.
  demo.stytch.state.jwtLifetimeSecs = -60;
  await page.click("#signin-other");
  const grace = await settled(page, "Sign in as another user", "signed_in");
  demo.stytch.state.jwtLifetimeSecs = 300;
  assert.equal(grace.reused, false);
  assert.equal(stytchAttests(), attests + 1);
  assert.equal(stytchCalls("/v1/sessions/attest").at(-1).body.session_token, undefined);
  assert.equal(demo.stytch.sessions.get(ada.stytch_session).extensions, 0);
  assert.notEqual(grace.user_id, adaSession.user_id);
  const graceCookies = await cookieValues(context);

  // Check session: the JWT has expired, the worker refreshes it with the session token.
  const authenticates = stytchCalls("/v1/sessions/authenticate").length;
  await page.click("#check");
  const checked = await settled(page, "Check session", "signed_in");
  assert.equal(checked.session_id, grace.session_id);
  assert.equal(stytchCalls("/v1/sessions/authenticate").length, authenticates + 1);
  const after = await cookieValues(context);
  assert.equal(after.stytch_session, graceCookies.stytch_session);
  const exp = JSON.parse(Buffer.from(after.stytch_session_jwt.split(".")[1], "base64url")).exp;
  assert.ok(exp > Date.now() / 1000 + 200, "a fresh, live JWT");
  await context.close();
});

test("several tabs: one exchange on sign-in, one on a token refresh, one logout on sign-out", async () => {
  const context = await browser.newContext();
  const tabs = [];
  for (let i = 0; i < 4; i++) {
    const tab = await context.newPage();
    await tab.goto(demo.pageUrl);
    await settled(tab, "Page load", "signed_out");
    tabs.push(tab);
  }
  const attests = stytchAttests();
  let seen = demo.worker.logs.length;
  // Signing in on one tab: supabase-js tells every tab (SIGNED_IN), every tab's client wants
  // the exchange, one makes it and the others adopt its outcome.
  await tabs[0].click("#signin");
  const states = await Promise.all(tabs.map((t, i) => settled(t, i === 0 ? "Sign in" : "Page load", "signed_in")));
  assert.equal(new Set(states.map((s) => s.session_id)).size, 1, "one session for every tab");
  await quiet(seen, (l) => l.method === "POST", 1);
  assert.deepEqual(handled(seen).filter((h) => !h.startsWith("OPTIONS")), ["POST exchange 200"], "one exchange");
  assert.equal(stytchAttests(), attests + 1);

  // A token refresh in one tab reaches the others (TOKEN_REFRESHED): one exchange, at the edge.
  seen = demo.worker.logs.length;
  await tabs[2].click("#refresh");
  await settled(tabs[2], "Token refresh", "signed_in");
  await quiet(seen, (l) => l.method === "POST", 1);
  assert.deepEqual(handled(seen).filter((h) => !h.startsWith("OPTIONS")), ["POST exchange 200"]);
  assert.equal(demo.worker.logs.filter((l) => l.method === "POST").at(-1).outcome, "reused");
  assert.equal(stytchAttests(), attests + 1);

  // Signing out in one tab signs every tab out (SIGNED_OUT): one logout, one revoke.
  const token = (await cookieValues(context)).stytch_session;
  const revokes = stytchCalls("/v1/sessions/revoke").length;
  seen = demo.worker.logs.length;
  await tabs[3].click("#logout");
  await Promise.all(tabs.map((t, i) => settled(t, i === 3 ? "Log out" : i === 2 ? "Token refresh" : i === 0 ? "Sign in" : "Page load", "signed_out")));
  await quiet(seen, (l) => l.method === "POST", 1);
  assert.deepEqual(handled(seen).filter((h) => !h.startsWith("OPTIONS")), ["POST logout 200"], "one logout");
  assert.equal(stytchCalls("/v1/sessions/revoke").length, revokes + 1);
  assert.ok(!demo.stytch.sessions.has(token), "Stytch revoked the session");
  assert.deepEqual(await workerCookies(context), [], "the cookies are gone");
  await context.close();
});

test("a page on a disallowed origin gets no cookie and causes no Stytch call", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(demo.otherPageUrl);
  assert.match(await page.textContent("#banner"), /not/);
  const attests = stytchAttests();
  const seen = demo.worker.logs.length;
  await page.click("#signin");
  const state = await settled(page, "Sign in", "error");
  assert.equal(state.error.status, 0, "the browser refused the request");
  assert.equal(await page.getAttribute("#result .status", "data-http"), "0");
  assert.match(await page.textContent("#result"), /blocked/);
  await quiet(seen, (l) => l.method === "OPTIONS", 1);
  const seenNow = handled(seen);
  assert.ok(seenNow.length >= 1 && seenNow.every((h) => h === "OPTIONS exchange 403"), `only refused preflights: ${seenNow}`);
  assert.equal(stytchAttests(), attests);
  assert.deepEqual(await workerCookies(context), []);
  await context.close();
});

test("the protected API behind the gateway: 401 before sign-in, the session's identity after (no Stytch call), 401 after logout", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(demo.pageUrl);
  await settled(page, "Page load", "signed_out");
  const protectedCall = async () => {
    const before = await page.evaluate(() => document.querySelector("#protected-result .status")?.dataset.protected ?? null);
    await page.click("#protected");
    await page.waitForFunction((b) => {
      const el = document.querySelector("#protected-result .status");
      return el && el.dataset.protected !== b;
    }, before);
    // Each call replaces the result; mark it so the next call waits for its own.
    const status = await page.getAttribute("#protected-result .status", "data-protected");
    await page.evaluate(() => (document.querySelector("#protected-result .status").dataset.protected += "-seen"));
    return status;
  };
  const appRequests = demo.app.requests.length;
  assert.equal(await protectedCall(), "401");
  assert.equal(demo.app.requests.length, appRequests, "the app was not called");

  await page.click("#signin");
  const state = await settled(page, "Sign in", "signed_in");
  const calls = demo.stytch.apiCalls().length;
  assert.equal(await protectedCall(), "200");
  assert.equal(await page.getAttribute("#protected-result [data-jwt-verified]", "data-jwt-verified"), "true");
  const seen = demo.app.requests.at(-1);
  assert.equal(seen.headers["edge-attest-user-id"], state.user_id);
  assert.equal(seen.headers["edge-attest-session-id"], state.session_id);
  assert.equal(seen.jwt.verified, true);
  assert.equal(demo.stytch.apiCalls().length, calls, "no Stytch call: verified at the edge");

  await page.click("#logout");
  await settled(page, "Log out", "signed_out");
  assert.equal(await protectedCall(), "401");
  await context.close();
});
