// The Stytch call in the real runtime: retries, timeouts and the error mapping, with what
// reached the Stytch stand-in counted.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setup, exchange, json, logAt } from "./helpers.mjs";

let ctx;
before(async () => {
  ctx = await setup();
});
after(async () => ctx?.close());

async function attempt(steps) {
  ctx.stytch.script(...steps);
  const calls = ctx.stytch.calls.length;
  const n = ctx.worker.logs.length;
  const res = await exchange(ctx, await ctx.supabase.mint());
  const body = await json(res);
  assert.equal(ctx.stytch.pending(), 0, "every scripted step was used");
  return { res, body, calls: ctx.stytch.calls.length - calls, log: await logAt(ctx, n) };
}

test("a 5xx is retried once and the retry's answer is used", async () => {
  const r = await attempt([{ error_type: "internal_server_error" }]);
  assert.equal(r.res.status, 200, JSON.stringify(r.body));
  assert.equal(r.calls, 2);
  assert.equal(r.log.stytch_attempts, 2);
});

test("two 5xx: 502 upstream_error naming Stytch's error_type", async () => {
  const r = await attempt([{ error_type: "internal_server_error" }, { error_type: "internal_server_error", status: 503 }]);
  assert.equal(r.res.status, 502);
  assert.equal(r.body.error, "upstream_error");
  assert.match(r.body.error_description, /internal_server_error/);
  assert.equal(r.calls, 2);
});

test("a 429 is not retried: 429 rate_limited with Stytch's Retry-After, else 10 s", async () => {
  let r = await attempt([{ error_type: "too_many_requests", retryAfter: "1200" }]);
  assert.equal(r.res.status, 429);
  assert.equal(r.body.error, "rate_limited");
  assert.equal(r.res.headers.get("retry-after"), "1200");
  assert.equal(r.calls, 1);
  assert.equal(r.log.stytch_attempts, 1);
  r = await attempt([{ error_type: "too_many_requests" }]);
  assert.equal(r.res.status, 429);
  assert.equal(r.res.headers.get("retry-after"), "10");
  assert.equal(r.calls, 1);
});

test("a Trusted Auth Token profile that no longer matches (issuer with a trailing slash): 500 misconfigured naming the type and profile, never retried", async () => {
  const profile = ctx.stytch.profiles[0];
  const issuer = profile.issuer;
  profile.issuer = `${issuer}/`; // as Stytch's own Supabase guide writes it; GoTrue's iss has none
  try {
    const r = await attempt([]);
    assert.equal(r.res.status, 500);
    assert.equal(r.body.error, "misconfigured");
    assert.equal(r.res.headers.get("www-authenticate"), null);
    assert.equal(r.calls, 1);
    assert.match(r.log.detail, /jwt_invalid_issuer/);
    assert.ok(r.log.detail.includes(profile.profileId), r.log.detail);
    for (const type of ["jwt_invalid_audience", "jwt_invalid_claims", "trusted_token_profile_invalid_request", "trusted_token_profile_not_found"]) {
      profile.issuer = issuer;
      const s = await attempt([{ error_type: type }]);
      assert.deepEqual([s.res.status, s.body.error, s.calls], [500, "misconfigured", 1], type);
      assert.match(s.log.detail, new RegExp(type));
    }
  } finally {
    profile.issuer = issuer;
  }
});

test("dropped connections are retried once; twice is 502", async () => {
  let r = await attempt([{ drop: true }]);
  assert.equal(r.res.status, 200);
  assert.equal(r.calls, 2);
  r = await attempt([{ drop: true }, { drop: true }]);
  assert.equal(r.res.status, 502);
  assert.equal(r.body.error, "upstream_error");
  assert.equal(r.calls, 2);
});

test("Stytch rejecting the token: 401 with its error_type, never retried", async () => {
  const r = await attempt([{ error_type: "invalid_trusted_auth_token" }]);
  assert.equal(r.res.status, 401);
  assert.equal(r.body.error, "invalid_token");
  assert.match(r.body.error_description, /invalid_trusted_auth_token/);
  assert.equal(r.res.headers.get("www-authenticate"), 'Bearer error="invalid_token"');
  assert.equal(r.calls, 1);
  assert.match(r.log.stytch_request_id, /^request-id-test-/);
});

test("a malformed 200 is 502 and sets no cookie", async () => {
  const r = await attempt([{ status: 200, body: { status_code: 200, request_id: "request-id-x" } }]);
  assert.equal(r.res.status, 502);
  assert.equal(r.res.headers.getSetCookie().length, 0);
});

test("no answer within 5 s: 504 upstream_timeout, not retried", async () => {
  const r = await attempt([{ hang: true }]);
  assert.equal(r.res.status, 504);
  assert.equal(r.body.error, "upstream_timeout");
  assert.equal(r.calls, 1);
});

test("wrong Stytch credentials: 500 misconfigured and a log line saying so", async () => {
  await ctx.restart({ vars: { STYTCH_SECRET: "secret-test-wrong" } });
  const r = await attempt([]);
  assert.equal(r.res.status, 500);
  assert.equal(r.body.error, "misconfigured");
  assert.match(r.log.detail, /unauthorized_credentials/);
  assert.ok(!ctx.worker.output.join("\n").includes("secret-test-wrong"));
});

test("a Stytch answer that inflates past the cap (gzip, small Content-Length) is cut off: 502 at once, and a concurrent exchange succeeds", async () => {
  await ctx.restart(); // the worker as configured by setup(), whatever ran before
  await exchange(ctx, await ctx.supabase.mint()); // keys in memory: both requests go straight to Stytch
  const calls = ctx.stytch.calls.length;
  ctx.stytch.script({ gzipBomb: true });
  const started = Date.now();
  const [a, b] = await Promise.all([exchange(ctx, await ctx.supabase.mint()), exchange(ctx, await ctx.supabase.mint())]);
  const elapsed = Date.now() - started;
  const statuses = [a.status, b.status].sort();
  assert.deepEqual(statuses, [200, 502], "one got the bomb, the other its session");
  const bombed = a.status === 502 ? a : b;
  assert.equal((await json(bombed)).error, "upstream_error");
  assert.equal(ctx.stytch.calls.length, calls + 2, "the oversized answer is not retried");
  assert.ok(elapsed < 3000, `cut off, not read to the end (${elapsed} ms)`);
  const log = ctx.worker.logs.find((l) => l.status === 502 && /too large/.test(l.detail ?? ""));
  assert.ok(log, "the log says the answer was too large");
  // The isolate is fine afterwards.
  assert.equal((await exchange(ctx, await ctx.supabase.mint())).status, 200);
});

test("missing configuration: every request is 500 and the log names the variable", async () => {
  await ctx.restart({ vars: { STYTCH_PROFILE_ID: "" } });
  const calls = ctx.stytch.calls.length;
  const n = ctx.worker.logs.length;
  const res = await exchange(ctx, await ctx.supabase.mint());
  assert.equal(res.status, 500);
  assert.equal((await json(res)).error, "misconfigured");
  const log = await logAt(ctx, n);
  assert.match(log.detail, /^STYTCH_PROFILE_ID: is required/);
  assert.equal(ctx.stytch.calls.length, calls);
  await ctx.restart({ vars: { JWT_ALGORITHMS: "HS256" } });
  const res2 = await exchange(ctx, await ctx.supabase.mint());
  assert.equal(res2.status, 500);
  assert.ok(ctx.worker.output.some((l) => l.includes("JWT_ALGORITHMS")));
  await ctx.restart(); // leave a working worker to whatever runs next
});
