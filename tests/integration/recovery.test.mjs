// A bug that panics must not leave the isolate broken: with `panic = "abort"` a panic is a
// WASM trap, after which the module's memory may be half-updated. The build's wasm-bindgen
// reset (scripts/build.sh, src/runtime/entry.js) gives the next call a fresh instance. Uses the
// test-only build (feature `selftest`), whose /__selftest/trap route panics on purpose.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setup, exchange, json } from "./helpers.mjs";

let ctx;
before(async () => {
  ctx = await setup({ script: "build-selftest/index.js" });
});
after(async () => ctx?.close());

async function exchangeWorks() {
  const res = await exchange(ctx, await ctx.supabase.mint());
  const body = await json(res);
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(res.headers.getSetCookie().length, 2);
}

for (const when of ["sync", "async"]) {
  test(`a panic ${when === "sync" ? "before" : "after"} an await fails that request alone; later requests work`, async () => {
    await exchangeWorks();
    const res = await fetch(`${ctx.worker.url}/__selftest/trap?when=${when}`);
    assert.equal(res.status, 500);
    await res.arrayBuffer();
    for (let i = 0; i < 3; i++) {
      const health = await fetch(`${ctx.worker.url}/healthz`);
      assert.equal(health.status, 200, await health.text());
      await exchangeWorks();
    }
  });
}

// The other requests in flight on the instance when it traps: they must end at once with an
// error answer, not hang until the runtime gives up on them (their instance will never finish
// them). Here four exchanges wait on a Stytch that answers after 2.5 s when the trap happens.
for (const when of ["sync", "async"]) {
  test(`a panic (${when}) ends the other requests in flight at once with a JSON 500; none hangs`, async () => {
    await exchangeWorks();
    const attests = () => ctx.stytch.calls.filter((c) => c.path === "/v1/sessions/attest").length;
    const before = attests();
    ctx.stytch.script(...Array.from({ length: 4 }, () => ({ delayMs: 2500 })));
    const tokens = await Promise.all([1, 2, 3, 4].map(() => ctx.supabase.mint()));
    const started = Date.now();
    const inFlight = tokens.map((t) => exchange(ctx, t).then(async (res) => ({ res, body: await res.text(), ms: Date.now() - started })));
    while (attests() < before + 4) await new Promise((r) => setTimeout(r, 20));
    const trap = await fetch(`${ctx.worker.url}/__selftest/trap?when=${when}`);
    assert.equal(trap.status, 500);
    await trap.arrayBuffer();
    for (const { res, body, ms } of await Promise.all(inFlight)) {
      assert.equal(res.status, 500, body);
      assert.equal(res.headers.get("content-type"), "application/json");
      assert.equal(JSON.parse(body).error, "internal_error");
      assert.ok(ms < 2000, `ended with the trap, not with Stytch's late answer (${ms} ms)`);
    }
    assert.equal(ctx.stytch.pending(), 0);
    for (let i = 0; i < 2; i++) await exchangeWorks();
  });
}

// A JS exception inside a call from WASM (here `new Response` refusing a header name) must
// come back to Rust as an error, never unwind through the executor's frames: an unwound
// poll would leave the executor believing it is still inside a callback, and every later
// request would wait forever.
for (const when of ["sync", "async"]) {
  test(`a response the runtime refuses (${when}) fails that request alone; later requests work`, async () => {
    const res = await fetch(`${ctx.worker.url}/__selftest/refused-header?when=${when}`);
    assert.equal(res.status, 500);
    await res.arrayBuffer();
    for (let i = 0; i < 3; i++) await exchangeWorks();
  });
}
