// Operations in the real runtime: the scheduled key-set prewarm (fired through wrangler dev's
// local scheduled-event endpoint) and the rate limits (wrangler dev's simulation of the Rate
// Limiting binding, a fixed window per binding).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setup, exchange, json, post } from "./helpers.mjs";
import { ROOT, startWorker } from "../../dev/worker.mjs";

/** A wrangler config for the compiled worker with these extra TOML lines. */
function configWith(extra) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "edge-attest-ops-"));
  const file = path.join(dir, "wrangler.toml");
  writeFileSync(
    file,
    `name = "edge-attest-ops"
main = ${JSON.stringify(path.join(ROOT, "build/index.js"))}
compatibility_date = "2026-11-01"

[[kv_namespaces]]
binding = "JWKS_CACHE"
id = "local-jwks-cache"
${extra}`,
  );
  return file;
}

const LIMITS = `
[[ratelimits]]
name = "IP_RATE_LIMITER"
namespace_id = "1001"
simple = { limit = 4, period = 60 }

[[ratelimits]]
name = "USER_RATE_LIMITER"
namespace_id = "1002"
simple = { limit = 2, period = 60 }
`;

let ctx;
before(async () => {
  ctx = await setup({ config: configWith(LIMITS) });
});
after(async () => ctx?.close());

/**
 * The local simulation counts in fixed 60 s windows (`floor(now / 60 s)`): a sequence that
 * must stay in one window starts with at least 15 s of it left.
 */
async function inOneWindow() {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 15_000) await new Promise((r) => setTimeout(r, left + 200));
}

/** Fires the cron trigger; the run's log line. */
async function cron(expected = 200) {
  const n = ctx.worker.logs.length;
  const res = await fetch(`${ctx.worker.url}/cdn-cgi/local/scheduled?cron=${encodeURIComponent("*/5 * * * *")}`);
  const body = await res.text();
  assert.equal(res.status, expected, `the run's status: ${body.slice(0, 200)}`);
  return ctx.worker.waitForLog((l, i = ctx.worker.logs.indexOf(l)) => l.route === "scheduled" && i >= n);
}

const setOf = (run, of) => run.sets.find((s) => s.of === of);

test("a scheduled run fills an empty KV, and a cold isolate then exchanges with no key-set fetch", async () => {
  await ctx.restart({ freshKv: true });
  const fetches = ctx.supabase.state.fetches;
  const run = await cron();
  assert.equal(run.outcome, "ok");
  assert.equal(run.cron, "*/5 * * * *");
  assert.deepEqual(
    run.sets.map((s) => [s.of, s.kind, s.result, s.keys, s.fresh_for_s]),
    [
      ["supabase", "key_set", "fetched", 3, 600],
      ["stytch_sessions", "key_set", "fetched", 1, 600],
    ],
  );
  assert.equal(ctx.supabase.state.fetches, fetches + 1);
  // Another isolate (a restart, same KV): the keys come from KV, nothing is fetched.
  await ctx.restart();
  const n = ctx.worker.logs.length;
  const res = await exchange(ctx, await ctx.supabase.mint(), { headers: { "content-type": "application/json", "cf-connecting-ip": "192.0.2.1" } });
  assert.equal(res.status, 200, JSON.stringify(await json(res)));
  const log = await ctx.worker.waitForLog((l) => l.route === "exchange" && ctx.worker.logs.indexOf(l) >= n);
  assert.equal(log.cache, "kv");
  assert.equal(log.jwks_fetches, undefined, "no key-set fetch");
  assert.equal(ctx.supabase.state.fetches, fetches + 1);
  // A run soon after finds every entry fresh enough and fetches nothing.
  const again = await cron();
  assert.deepEqual(again.sets.map((s) => s.result), ["fresh", "fresh"]);
  assert.equal(ctx.supabase.state.fetches, fetches + 1);
});

test("a run that cannot fetch a key set keeps the old entry, and the run fails", async () => {
  ctx.supabase.state.cacheControl = "public, max-age=300"; // inside the renewal window: every run fetches
  try {
    await ctx.restart({ freshKv: true });
    const ok = await cron();
    assert.equal(ok.outcome, "ok");
    assert.equal(ctx.worker.levelOf(ok), "log");
    ctx.supabase.state.mode = "fail";
    const failed = await cron(500);
    assert.equal(failed.outcome, "failed");
    assert.equal(ctx.worker.levelOf(failed), "error", "a failed run is written by console.error");
    const supabase = setOf(failed, "supabase");
    assert.equal(supabase.result, "failed");
    assert.match(supabase.error, /HTTP 500/);
    assert.ok(supabase.fresh_for_s > 250, "the entry written before is still there, still fresh");
    assert.notEqual(setOf(failed, "stytch_sessions").result, "failed", "the other set is unaffected");
    // A cold isolate still verifies from that entry while the key set is down.
    await ctx.restart();
    const res = await exchange(ctx, await ctx.supabase.mint(), { headers: { "content-type": "application/json", "cf-connecting-ip": "192.0.2.2" } });
    assert.equal(res.status, 200, JSON.stringify(await json(res)));
  } finally {
    ctx.supabase.state.mode = "ok";
    ctx.supabase.state.cacheControl = "public, max-age=600";
  }
});

test("a warm isolate whose copy expired takes the entry the prewarm renewed in KV (another process), and fetches nothing", async () => {
  // Two worker processes on one KV storage: this one serves traffic; the other runs the
  // scheduled handler, as another Cloudflare location would. Key sets fresh for 60 s.
  ctx.supabase.state.cacheControl = "public, max-age=60";
  await ctx.restart({ freshKv: true });
  const other = await startWorker({ vars: ctx.baseVars, config: configWith(LIMITS), persistDir: ctx.worker.persistDir });
  try {
    const headers = { "content-type": "application/json", "cf-connecting-ip": "192.0.2.80" };
    const started = Date.now();
    let res = await exchange(ctx, await ctx.supabase.mint(), { headers });
    assert.equal(res.status, 200);
    assert.equal((await ctx.worker.lastLog("exchange")).cache, "network");
    const fetches = ctx.supabase.state.fetches;
    // 40 s on, the other process's cron renews KV (its entry has less than 360 s left).
    await new Promise((r) => setTimeout(r, 40_000));
    const n = other.logs.length;
    const run = await fetch(`${other.url}/cdn-cgi/local/scheduled?cron=${encodeURIComponent("*/5 * * * *")}`);
    assert.equal(run.status, 200, await run.text());
    const line = await other.waitForLog((l, i = other.logs.indexOf(l)) => l.route === "scheduled" && i >= n);
    assert.equal(line.sets.find((x) => x.of === "supabase").result, "fetched");
    assert.equal(ctx.supabase.state.fetches, fetches + 1);
    // This process's copy expires at 60 s: its next exchange reads KV and fetches nothing.
    await new Promise((r) => setTimeout(r, Math.max(0, started + 62_000 - Date.now())));
    res = await exchange(ctx, await ctx.supabase.mint(), { headers });
    assert.equal(res.status, 200);
    const log = await ctx.worker.lastLog("exchange");
    assert.equal(log.cache, "kv", JSON.stringify(log));
    assert.equal(log.kv_reads, 1);
    assert.equal(ctx.supabase.state.fetches, fetches + 1, "no fetch: the renewed entry was taken");
  } finally {
    await other.stop();
    ctx.supabase.state.cacheControl = "public, max-age=600";
  }
});

test("per address: over the limit is 429 with Retry-After, before the body, and nothing reaches Stytch", async () => {
  await ctx.restart();
  const from = (ip) => ({ "content-type": "application/json", "cf-connecting-ip": ip });
  const attests = () => ctx.stytch.calls.filter((c) => c.path === "/v1/sessions/attest").length;
  const n = attests();
  await inOneWindow();
  // Four exchanges of four users from one address; the fifth is over.
  for (let i = 0; i < 4; i++) {
    const res = await exchange(ctx, await ctx.supabase.mint({ claims: { sub: `00000000-0000-4000-8000-00000000000${i}`, email: `ip${i}@example.com` } }), { headers: from("198.51.100.20") });
    assert.equal(res.status, 200, JSON.stringify(await json(res)));
  }
  const over = await post(ctx, "/api/exchange", { body: "not even JSON", headers: from("198.51.100.20") });
  const body = await json(over);
  assert.equal(over.status, 429, JSON.stringify(body));
  assert.equal(body.error, "rate_limited");
  assert.equal(over.headers.get("retry-after"), "60");
  assert.equal((await ctx.worker.lastLog("exchange")).detail, "ip rate limit");
  assert.equal(attests(), n + 4);
  // Another address is not affected.
  const other = await exchange(ctx, await ctx.supabase.mint({ claims: { sub: "00000000-0000-4000-8000-000000000009", email: "ip9@example.com" } }), { headers: from("198.51.100.21") });
  assert.equal(other.status, 200);
});

test("requests without a client address (a front worker's service binding) are not counted in one shared bucket; the isolate says so once", async () => {
  // The worker behind a front worker that builds new requests for it: none carries
  // CF-Connecting-IP (the local runtime adds one only to requests from outside).
  const dir = mkdtempSync(path.join(os.tmpdir(), "edge-attest-front-"));
  writeFileSync(
    path.join(dir, "front.js"),
    `export default { async fetch(req, env) {
      const url = new URL(req.url);
      return env.EDGE.fetch(new Request("https://edge.internal" + url.pathname, { method: req.method, headers: { "content-type": "application/json" }, body: req.method === "POST" ? await req.text() : undefined }));
    } };`,
  );
  writeFileSync(path.join(dir, "front.toml"), `name = "front"\nmain = "front.js"\ncompatibility_date = "2026-11-01"\n\n[[services]]\nbinding = "EDGE"\nservice = "edge-attest-ops"\n`);
  const vars = Object.entries(ctx.baseVars).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join("\n");
  const edge = configWith(`${LIMITS}\n[vars]\n${vars}\n`);
  const front = await startWorker({ vars: {}, script: path.join(dir, "front.js"), config: path.join(dir, "front.toml"), alsoConfigs: [edge] });
  try {
    await inOneWindow();
    // Six exchanges of six users (IP_RATE_LIMITER allows 4 per address): none is limited.
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${front.url}/api/exchange`, {
        method: "POST",
        body: JSON.stringify({ access_token: await ctx.supabase.mint({ claims: { sub: `00000000-0000-4000-8000-0000000001${i}0`, email: `noaddr${i}@example.com` } }) }),
      });
      assert.equal(res.status, 200, await res.text());
    }
    await new Promise((r) => setTimeout(r, 200));
    const notices = front.output.filter((l) => l.includes('"notice":"no_client_address"'));
    assert.equal(notices.length, 1, "once per isolate");
  } finally {
    await front.stop();
  }
});

test("per user: Stytch calls are limited, repeat exchanges answered at the edge are not", async () => {
  await ctx.restart();
  const headers = (ip, cookie) => ({ "content-type": "application/json", "cf-connecting-ip": ip, ...(cookie ? { cookie } : {}) });
  const user = { sub: "00000000-0000-4000-8000-0000000000aa", email: "limited@example.com" };
  const login = { claims: user, sessionId: "7f6e5d4c-3b2a-4190-8877-665544332211" }; // one login, refreshed tokens
  await inOneWindow();
  const first = await exchange(ctx, await ctx.supabase.mint(login), { headers: headers("203.0.113.30") });
  assert.equal(first.status, 200);
  const cookie = first.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  // Reloads with the session cookies: answered at the edge, however many.
  for (let i = 0; i < 3; i++) {
    const again = await exchange(ctx, await ctx.supabase.mint(login), { headers: headers(`203.0.113.${31 + i}`, cookie) });
    assert.equal((await json(again)).reused, true);
  }
  // Without cookies each is a Stytch call: the second is the user's last, the third is over,
  // whatever the address.
  assert.equal((await exchange(ctx, await ctx.supabase.mint({ claims: user }), { headers: headers("203.0.113.40") })).status, 200);
  const over = await exchange(ctx, await ctx.supabase.mint({ claims: user }), { headers: headers("203.0.113.41") });
  assert.equal(over.status, 429);
  assert.equal((await ctx.worker.lastLog("exchange")).detail, "user rate limit");
});

test("per session: refreshes count against the session, logout never waits for it; per user: a second attest after a refused extension counts", async () => {
  await ctx.restart();
  // Each request from another address: only the user's limit is under test.
  let address = 60;
  const headers = (cookie) => ({ "content-type": "application/json", "cf-connecting-ip": `203.0.113.${address++}`, ...(cookie ? { cookie } : {}) });
  await inOneWindow();
  ctx.stytch.state.jwtLifetimeSecs = -60; // the JWTs the browser gets have run out already
  try {
    const user = { sub: "00000000-0000-4000-8000-0000000000dd", email: "refresher@example.com" };
    const first = await exchange(ctx, await ctx.supabase.mint({ claims: user }), { headers: headers() });
    assert.equal(first.status, 200);
    const cookie = first.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
    const refresh = () => fetch(`${ctx.worker.url}/api/session`, { headers: headers(cookie) });
    // The session's own counter (2 a minute), apart from the login's: two refreshes, then 429
    // (each refresh's JWT has run out at once, so none is remembered for the next).
    assert.equal((await refresh()).status, 200);
    assert.equal((await refresh()).status, 200);
    const over = await refresh();
    assert.equal(over.status, 429);
    assert.equal((await ctx.worker.lastLog("session")).detail, "user rate limit");
    assert.deepEqual(over.headers.getSetCookie(), [], "over a limit, the cookies stay");
    // Revocation is never held back by the session's counter, which anyone with one of its
    // old JWTs could spend.
    const out = await post(ctx, "/api/logout", { headers: headers(cookie) });
    assert.equal(out.status, 200);
    assert.equal((await json(out)).revoked, true);

    // Another user: the extension is refused (the session is gone), and the new session it
    // would take instead is the user's third Stytch call this minute.
    const other = { sub: "00000000-0000-4000-8000-0000000000ee", email: "extender@example.com" };
    const sessionId = "6f5e4d3c-2b1a-4098-8776-554433221100";
    const had = await exchange(ctx, await ctx.supabase.mint({ claims: other, sessionId }), { headers: headers() });
    const otherCookie = had.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
    ctx.stytch.sessions.delete(otherCookie.split("; ")[0].split("=")[1]);
    const attests = ctx.stytch.calls.filter((c) => c.path === "/v1/sessions/attest").length;
    const again = await exchange(ctx, await ctx.supabase.mint({ claims: other, sessionId }), { headers: headers(otherCookie) });
    assert.equal(again.status, 429, JSON.stringify(await json(again)));
    assert.equal(ctx.stytch.calls.filter((c) => c.path === "/v1/sessions/attest").length, attests + 1, "the refused extension only");
  } finally {
    ctx.stytch.state.jwtLifetimeSecs = 300;
  }
});

test("a rate-limit name bound to something else is a configuration error naming it", async () => {
  const wrong = await setup({ config: configWith(`\n[[kv_namespaces]]\nbinding = "USER_RATE_LIMITER"\nid = "oops"\n`) });
  try {
    const res = await fetch(`${wrong.worker.url}/healthz`);
    const body = await json(res);
    assert.equal(res.status, 500);
    assert.equal(body.error, "misconfigured");
    assert.match((await wrong.worker.lastLog("healthz")).detail, /^USER_RATE_LIMITER: is bound, but not to a rate limiting binding/);
  } finally {
    await wrong.close();
  }
});
