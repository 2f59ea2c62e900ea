// The demo, driven by a real browser: headless Chromium (Debian's package, driven by
// playwright-core) loads the demo page from its own origin, signs in, and the browser itself
// must hold the worker's cookies with the right attributes; a page on a disallowed origin
// gets no cookie and causes no Stytch call; logout removes the cookies.
// SCREENSHOT=docs/demo.png also saves a picture of the page after a successful exchange.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { startDemo } from "../../dev/demo-lib.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
let demo;
let browser;

before(async () => {
  // For the README screenshot, use the ports `make demo` prints.
  demo = await startDemo(process.env.SCREENSHOT ? { workerPort: 8787, pagePort: 5173, otherPagePort: 5174 } : {});
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});
after(async () => {
  await browser?.close();
  await demo?.stop();
});

const stytchAttests = () => demo.stytch.calls.filter((c) => c.path === "/v1/sessions/attest").length;

async function workerCookies(context) {
  return (await context.cookies(demo.workerUrl)).filter((c) => c.name.startsWith("stytch_"));
}

test("signing in on the allowed origin stores both cookies for the worker's origin", async () => {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  await page.goto(demo.pageUrl);
  const attests = stytchAttests();
  const seen = demo.worker.logs.length;
  await page.click("#signin");
  await page.waitForSelector('#result [data-status="200"]');
  assert.equal(stytchAttests(), attests + 1);
  // What reached the worker: the browser's CORS preflight, then the credentialed POST.
  await demo.worker.waitForLog((l) => l.route === "exchange" && l.method === "POST" && demo.worker.logs.indexOf(l) >= seen);
  const handled = demo.worker.logs.slice(seen).map((l) => `${l.method} ${l.status}`);
  assert.deepEqual(handled, ["OPTIONS 204", "POST 200"]);

  const cookies = await workerCookies(context);
  assert.deepEqual(cookies.map((c) => c.name).sort(), ["stytch_session", "stytch_session_jwt"]);
  const sessions = demo.stytch.sessions;
  for (const c of cookies) {
    assert.equal(c.domain, "localhost", "host-only, for the worker's host");
    assert.equal(c.path, "/");
    assert.equal(c.secure, true);
    assert.equal(c.sameSite, "Lax");
    assert.equal(c.httpOnly, false, "the demo runs with COOKIE_HTTP_ONLY=false");
    assert.ok(Math.abs(c.expires - (Date.now() / 1000 + 3600)) < 120, `expires ${c.expires}`);
  }
  assert.ok(sessions.has(cookies.find((c) => c.name === "stytch_session").value), "the cookie is the session Stytch issued");
  const shown = await page.textContent("#result");
  assert.match(shown, /user-test-/);
  const table = await page.textContent("#cookies");
  assert.match(table, /stytch_session_jwt/);
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });

  // Expired and tampered tokens show the error JSON, change no cookie, reach no Stytch.
  const before = stytchAttests();
  for (const [button, label] of [["#expired", "Expired token"], ["#tampered", "Tampered token"]]) {
    await page.click(button);
    await page.waitForFunction((l) => document.querySelector("#result .status")?.textContent.startsWith(l), label);
    assert.equal(await page.getAttribute("#result .status", "data-status"), "401");
    assert.match(await page.textContent("#result pre"), /"error": "invalid_token"/);
  }
  assert.equal(stytchAttests(), before);
  assert.equal((await workerCookies(context)).length, 2);

  // Logout revokes the session at Stytch and removes the cookies from the browser.
  const token = cookies.find((c) => c.name === "stytch_session").value;
  await page.click("#logout");
  await page.waitForFunction(() => document.querySelector("#result .status")?.textContent.startsWith("Log out"));
  assert.equal(await page.getAttribute("#result .status", "data-status"), "200");
  assert.deepEqual(await workerCookies(context), []);
  assert.ok(!sessions.has(token), "Stytch revoked the session");
  assert.equal(demo.stytch.calls.at(-1).path, "/v1/sessions/revoke");
  await context.close();
});

const stytchCalls = (path) => demo.stytch.calls.filter((c) => c.path === path);
const resultLabel = (page, label) => page.waitForFunction((l) => document.querySelector("#result .status")?.textContent.startsWith(l), label);

test("a reload is answered at the edge; another user gets a new session; /api/session refreshes an expired JWT", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(demo.pageUrl);
  await page.click("#signin");
  await page.waitForSelector('#result [data-status="200"]');
  const ada = Object.fromEntries((await workerCookies(context)).map((c) => [c.name, c.value]));
  const adaSession = { ...demo.stytch.sessions.get(ada.stytch_session) };
  const attests = stytchAttests();
  const jwksFetches = demo.stytch.state.jwksFetches;

  // Reload: the page exchanges its kept login again; the worker answers from the cookies.
  await page.reload();
  await resultLabel(page, "Page load");
  assert.equal(await page.getAttribute("#result .status", "data-status"), "200");
  assert.equal(await page.getAttribute("#result [data-reused]", "data-reused"), "true");
  assert.equal(stytchAttests(), attests, "no Stytch call");
  assert.equal(demo.stytch.state.jwksFetches, jwksFetches + 1, "Stytch's key set, once");
  await page.click("#again");
  await resultLabel(page, "Exchange again");
  assert.equal(await page.getAttribute("#result [data-reused]", "data-reused"), "true");
  assert.equal(stytchAttests(), attests);
  assert.equal(demo.stytch.state.jwksFetches, jwksFetches + 1, "then from memory");
  const same = Object.fromEntries((await workerCookies(context)).map((c) => [c.name, c.value]));
  assert.deepEqual(same, ada, "the same cookies");

  // Another user on the same browser: a new session, Ada's never sent nor extended. Its JWT
  // comes back already expired, for the /api/session check below.
  demo.stytch.state.jwtLifetimeSecs = -60;
  await page.click("#signin-other");
  await resultLabel(page, "Sign in as another user");
  demo.stytch.state.jwtLifetimeSecs = 300;
  assert.equal(await page.getAttribute("#result [data-reused]", "data-reused"), "false");
  assert.equal(stytchAttests(), attests + 1);
  assert.equal(stytchCalls("/v1/sessions/attest").at(-1).body.session_token, undefined);
  const adaAfter = demo.stytch.sessions.get(ada.stytch_session);
  assert.equal(adaAfter.extensions, 0);
  assert.equal(adaAfter.expires_at, adaSession.expires_at);
  const grace = Object.fromEntries((await workerCookies(context)).map((c) => [c.name, c.value]));
  assert.notEqual(grace.stytch_session, ada.stytch_session);
  assert.notEqual(demo.stytch.sessions.get(grace.stytch_session).user_id, adaSession.user_id);

  // Check session: the JWT has expired, the worker refreshes it with the session token.
  const authenticates = stytchCalls("/v1/sessions/authenticate").length;
  await page.click("#check");
  await resultLabel(page, "Check session");
  assert.equal(await page.getAttribute("#result .status", "data-status"), "200");
  assert.equal(stytchCalls("/v1/sessions/authenticate").length, authenticates + 1);
  const after = Object.fromEntries((await workerCookies(context)).map((c) => [c.name, c.value]));
  assert.equal(after.stytch_session, grace.stytch_session);
  assert.notEqual(after.stytch_session_jwt, grace.stytch_session_jwt, "a fresh JWT");
  const exp = JSON.parse(Buffer.from(after.stytch_session_jwt.split(".")[1], "base64url")).exp;
  assert.ok(exp > Date.now() / 1000 + 200, "and it is live");
  assert.match(await page.textContent("#result pre"), /"link"/);
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
  await page.waitForSelector('#result [data-status="blocked"]');
  await demo.worker.waitForLog((l) => l.method === "OPTIONS" && demo.worker.logs.indexOf(l) >= seen);
  await new Promise((r) => setTimeout(r, 300));
  const handled = demo.worker.logs.slice(seen).map((l) => `${l.method} ${l.route} ${l.status} ${l.outcome}`);
  assert.deepEqual(handled, ["OPTIONS exchange 403 forbidden_origin"], "the token was never sent");
  assert.equal(stytchAttests(), attests);
  assert.deepEqual(await workerCookies(context), []);
  await context.close();
});
