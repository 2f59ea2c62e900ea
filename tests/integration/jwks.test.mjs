// The JWKS cache in the real runtime: isolate memory, Workers KV (local), network; rotation;
// stale-if-error; fetch rules; cold 503. Some tests wait for real cache timers (30-70 s).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setup, exchange, json, logAt } from "./helpers.mjs";

let ctx;
before(async () => {
  ctx = await setup();
});
after(async () => ctx?.close());

async function ok(token) {
  const n = ctx.worker.logs.length;
  const res = await exchange(ctx, token);
  const body = await json(res);
  return { res, body, log: await logAt(ctx, n) };
}

test("warm isolate: one JWKS fetch, then no KV read and no fetch", async () => {
  await ctx.restart({ freshKv: true });
  const fetches = ctx.supabase.state.fetches;
  const first = await ok(await ctx.supabase.mint());
  assert.equal(first.res.status, 200, JSON.stringify(first.body));
  assert.equal(first.log.cache, "network");
  assert.equal(ctx.supabase.state.fetches, fetches + 1);
  for (let i = 0; i < 5; i++) {
    const r = await ok(await ctx.supabase.mint({ alg: i % 2 ? "RS256" : "ES256" }));
    assert.equal(r.res.status, 200);
    assert.equal(r.log.cache, "memory");
    assert.equal(r.log.kv_reads, undefined, "no KV read on the warm path");
    assert.equal(r.log.jwks_fetches, undefined);
  }
  assert.equal(ctx.supabase.state.fetches, fetches + 1);
});

test("a cold isolate reads the keys another isolate wrote to KV after its response", async () => {
  await ctx.restart({ freshKv: true });
  const fetches = ctx.supabase.state.fetches;
  assert.equal((await ok(await ctx.supabase.mint())).log.cache, "network");
  await new Promise((r) => setTimeout(r, 500)); // let waitUntil's KV write land
  await ctx.restart(); // new isolate, same KV
  const cold = await ok(await ctx.supabase.mint());
  assert.equal(cold.res.status, 200);
  assert.equal(cold.log.cache, "kv");
  assert.equal(cold.log.kv_reads, 1);
  assert.equal(ctx.supabase.state.fetches, fetches + 1, "no second JWKS fetch");
});

test("cold with the JWKS unreachable: 503 with Retry-After, nothing reaches Stytch", async () => {
  const calls = ctx.stytch.calls.length;
  for (const mode of ["fail", "drop", "html", "huge", "huge-chunked", "gzip-bomb", "redirect", "hang"]) {
    ctx.supabase.state.mode = mode;
    await ctx.restart({ freshKv: true });
    const r = await ok(await ctx.supabase.mint());
    assert.equal(r.res.status, 503, `${mode}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error, "jwks_unavailable");
    assert.equal(r.res.headers.get("retry-after"), "5");
    assert.equal(r.log.outcome, "jwks_unavailable");
    if (mode === "hang") assert.match(r.log.detail, /timed out/);
    if (mode.startsWith("huge") || mode === "gzip-bomb") assert.match(r.log.detail, /too large/, "the 64 KiB cap on what was read, not a JSON error");
  }
  assert.equal(ctx.supabase.state.redirectHits, 0, "redirects are never followed");
  assert.equal(ctx.stytch.calls.length, calls);
  ctx.supabase.state.mode = "ok";
});

test("one fetch in flight: 20 concurrent requests on a cold isolate make one JWKS fetch; a failure backs off", async () => {
  ctx.supabase.state.mode = "hang";
  await ctx.restart({ freshKv: true });
  let fetches = ctx.supabase.state.fetches;
  const token = await ctx.supabase.mint();
  const started = Date.now();
  const answers = await Promise.all(Array.from({ length: 20 }, () => exchange(ctx, token)));
  const elapsed = Date.now() - started;
  assert.deepEqual([...new Set(answers.map((r) => r.status))], [503]);
  assert.equal(ctx.supabase.state.fetches, fetches + 1, "one fetch for twenty requests");
  assert.ok(elapsed < 6000, `bounded by the one fetch's 3 s timeout (${elapsed} ms)`);
  // Within the 30 s back-off: 503 at once, no fetch.
  const again = Date.now();
  const r = await exchange(ctx, token);
  assert.equal(r.status, 503);
  assert.ok(Date.now() - again < 1000, "answered at once");
  assert.equal(ctx.supabase.state.fetches, fetches + 1);

  ctx.supabase.state.mode = "ok";
  await ctx.restart({ freshKv: true });
  fetches = ctx.supabase.state.fetches;
  const fine = await Promise.all(Array.from({ length: 20 }, () => exchange(ctx, token)));
  assert.deepEqual([...new Set(fine.map((r) => r.status))], [200]);
  assert.equal(ctx.supabase.state.fetches, fetches + 1);
});

test("rotation: a new kid is fetched once (30 s cooldown), a removed key stops verifying", async () => {
  await ctx.restart({ freshKv: true });
  const rsToken = await ctx.supabase.mint({ alg: "RS256" });
  assert.equal((await ok(rsToken)).res.status, 200);
  const newKid = await ctx.supabase.rotate("ES256");
  ctx.supabase.unpublish("rs-1");
  const fresh = await ctx.supabase.mint({ kid: newKid });
  const fetches = ctx.supabase.state.fetches;
  // Within 30 s of the last fetch an unknown kid does not trigger a refetch.
  const early = await ok(fresh);
  assert.equal(early.res.status, 401);
  assert.equal(ctx.supabase.state.fetches, fetches);
  await new Promise((r) => setTimeout(r, 30_500));
  const late = await ok(fresh);
  assert.equal(late.res.status, 200, JSON.stringify(late.body));
  assert.equal(late.log.cache, "network");
  assert.equal(ctx.supabase.state.fetches, fetches + 1);
  const removed = await ok(rsToken);
  assert.equal(removed.res.status, 401, "rs-1 left the JWKS and stopped verifying");
  // Unknown kids again within 30 s: no new fetch.
  await ok(await ctx.supabase.mint({ kid: newKid, header: { kid: "made-up" } }));
  assert.equal(ctx.supabase.state.fetches, fetches + 1);
});

test("stale-if-error: expired keys keep verifying while the JWKS is down", async () => {
  ctx.supabase.state.cacheControl = "public, max-age=60";
  await ctx.restart({ freshKv: true });
  assert.equal((await ok(await ctx.supabase.mint())).log.cache, "network");
  ctx.supabase.state.mode = "fail";
  await new Promise((r) => setTimeout(r, 61_000));
  const stale = await ok(await ctx.supabase.mint());
  assert.equal(stale.res.status, 200, JSON.stringify(stale.body));
  assert.equal(stale.log.cache, "stale");
  assert.match(stale.log.jwks_notes.join(" "), /JWKS refresh failed.*serving keys expired/);
  ctx.supabase.state.mode = "ok";
  ctx.supabase.state.cacheControl = "public, max-age=600";
});
