// A public rule with `cache = "shared"` in the real runtime (wrangler dev, whose Cache API
// keeps answers like an edge location's): a static asset the app compresses is fetched from
// the app once, then served from the cache, decoding to the same text; no cookie reaches the
// app on such a request; a rule without the setting asks the app every time.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setup, PROJECT_ID } from "./helpers.mjs";
import { startApp } from "../../dev/standins.mjs";

let ctx;
let app;

before(async () => {
  ctx = await setup();
  app = await startApp({ stytch: ctx.stytch, projectId: PROJECT_ID });
  await ctx.restart({
    vars: {
      PROTECT: JSON.stringify([
        { path: "/assets/*", upstream: app.url, require_session: false, cache: "shared" },
        { path: "/static/*", upstream: app.url, require_session: false },
        { path: "/*", upstream: app.url },
      ]),
    },
  });
});
after(async () => {
  await ctx?.close();
  await app?.close();
});

const get = (p, headers = {}) => fetch(`${ctx.worker.url}${p}`, { headers });
const asked = (p) => app.requests.filter((r) => r.url === p);

test("a shared rule's asset is fetched from the app once, then served from the cache", async () => {
  const p = `/assets/app-${Date.now()}.js`;
  const first = await get(p, { cookie: "theme=dark" });
  assert.equal(first.status, 200);
  const body = await first.text();
  assert.equal(body, `console.log(${JSON.stringify(p)});`);
  assert.equal(asked(p).length, 1);
  assert.equal(asked(p)[0].headers.cookie, undefined, "no cookie goes with a shared request");
  // The cache is written after the response (waitUntil): give it a moment.
  let again;
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 50));
    again = await get(p);
    if (asked(p).length === 1) break;
  }
  assert.equal(again.status, 200);
  // The app compressed it (gzip, as fetch asks): the hit decodes to the same text, not to the
  // app's gzip bytes encoded a second time.
  assert.equal(await again.text(), body);
  assert.equal(asked(p).length, 1, "the second request did not reach the app");
  const lines = ctx.worker.logs.filter((l) => l.route === "gateway" && l.upstream_cache);
  assert.deepEqual(lines.slice(-1).map((l) => l.upstream_cache), ["hit"]);
});

test("a public rule without it asks the app every time, cookies included", async () => {
  const p = `/static/app-${Date.now()}.js`;
  for (let i = 0; i < 3; i++) assert.equal((await get(p, { cookie: "theme=dark" })).status, 200);
  assert.equal(asked(p).length, 3);
  assert.equal(asked(p)[0].headers.cookie, "theme=dark");
});
