// The demo in B2B mode (`make demo B2B=1`), driven by headless Chromium as demo.test.mjs drives
// the consumer one: the same page and client module, a Stytch B2B project behind the worker.
// Supabase users carry their organization in app_metadata.org_id; the browser ends up with a
// member session in that organization, repeat exchanges are answered at the edge, another
// user in another organization gets a session there, and sign-out revokes through B2B.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launchChromium, settled } from "./lib.mjs";
import { startDemo, ORGANIZATIONS } from "../../dev/demo-lib.mjs";

const [ACME, GLOBEX] = ORGANIZATIONS;
let demo;
let browser;

before(async () => {
  demo = await startDemo({ b2b: true });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await demo?.stop();
});

const b2bCalls = (what) => demo.stytch.calls.filter((c) => c.path === `/v1/b2b/sessions/${what}`);

test("B2B mode: a member session in the user's organization, reused at the edge, another organization for another user, revoked on sign-out", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(demo.pageUrl);
  await settled(page, "Page load", "signed_out");
  await page.click("#signin");
  const ada = await settled(page, "Sign in", "signed_in");
  assert.match(ada.member_id, /^member-test-/);
  assert.equal(ada.organization_id, ACME.organization_id);
  assert.equal(ada.user_id, null);
  assert.equal(await page.getAttribute("[data-organization]", "data-organization"), ACME.organization_id);
  assert.equal(b2bCalls("attest").length, 1);
  assert.equal(b2bCalls("attest")[0].body.organization_id, "acme");
  assert.equal(demo.stytch.calls.filter((c) => c.path === "/v1/sessions/attest").length, 0, "no consumer call");
  const cookies = Object.fromEntries((await context.cookies(demo.workerUrl)).map((c) => [c.name, c.value]));
  assert.equal(demo.stytch.sessions.get(cookies.stytch_session)?.session_id, ada.session_id);

  // supabase-js refreshes its token: answered from the member session's JWT, no Stytch call.
  await page.click("#refresh");
  const refreshed = await settled(page, "Token refresh", "signed_in");
  assert.equal(refreshed.reused, true);
  assert.equal(refreshed.session_id, ada.session_id);
  assert.equal(b2bCalls("attest").length, 1);

  // Another user, of Globex: a member session there; Ada's is never sent on.
  await page.click("#signin-other");
  const grace = await settled(page, "Sign in as another user", "signed_in");
  assert.equal(grace.organization_id, GLOBEX.organization_id);
  assert.notEqual(grace.session_id, ada.session_id);
  assert.equal(b2bCalls("attest").at(-1).body.organization_id, "globex");
  assert.equal(b2bCalls("attest").at(-1).body.session_token, undefined);

  // Sign-out: revoked through the B2B endpoint, the cookies gone.
  await page.click("#logout");
  await settled(page, "Log out", "signed_out");
  assert.equal(b2bCalls("revoke").length, 1);
  assert.deepEqual((await context.cookies(demo.workerUrl)).filter((c) => c.name.startsWith("stytch_")), []);
  await context.close();
});
