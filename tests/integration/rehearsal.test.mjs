// The start-up rehearsal (src/app/rehearsal.rs, src/runtime/glue.rs `rehearse`): at module
// evaluation the worker plays a first exchange and, with PROTECT, a first request through the
// gateway against canned answers, so V8 compiles their code before the first request. Seen from
// outside, in the real runtime (the self-test build, whose /__selftest/rehearsal says how the
// rehearsal ended): it completes at start-up, reaches no service, logs nothing, leaves nothing
// in the isolate's key memory, and a token or session made the way the rehearsal makes them is
// refused.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setup, exchange, json, cookieHeader } from "./helpers.mjs";
import { startApp } from "../../dev/standins.mjs";
import { PROJECT_ID } from "./helpers.mjs";

let ctx;
let app;

before(async () => {
  ctx = await setup({ script: "build-selftest/index.js" });
  app = await startApp({ stytch: ctx.stytch, projectId: PROJECT_ID });
  await ctx.restart({ vars: { PROTECT: JSON.stringify([{ path: "/app/*", upstream: app.url }]) } });
});
after(async () => {
  await ctx?.close();
  await app?.close();
});

const b64 = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");
/** The rehearsal's signature (src/app/rehearsal.rs): its text repeated to `len` bytes. */
const rehearsalSignature = (len) => Buffer.from("edge-attest start-up rehearsal, not a signature. ".repeat(10).slice(0, len)).toString("base64url");

test("the rehearsal completes at start-up, through the exchange and the gateway, reaching no service and logging nothing", async () => {
  // Before any request of ours: nothing fetched, nothing sent to Stytch, no request line.
  assert.equal(ctx.supabase.state.fetches, 0, "no key-set fetch at start-up");
  assert.equal(ctx.stytch.calls.length, 0, "no Stytch call at start-up");
  assert.equal(app.requests.length, 0, "nothing forwarded to the app at start-up");
  const res = await fetch(`${ctx.worker.url}/__selftest/rehearsal`);
  assert.deepEqual(await res.json(), { exchange: 200, gateway: 200 });
  assert.equal(ctx.worker.logs.length, 0, `no log line of the rehearsal: ${JSON.stringify(ctx.worker.logs)}`);
});

test("the first exchange after the rehearsal finds no key set in memory, and signs in as always", async () => {
  const token = await ctx.supabase.mint({ claims: { email: "ada@example.com" } });
  const res = await exchange(ctx, token);
  assert.equal(res.status, 200, JSON.stringify(await res.clone().json()));
  const line = ctx.worker.logs.find((l) => l.route === "exchange");
  assert.equal(line.jwks_fetches, 1, "the key set was fetched: the rehearsal's was never in the isolate's memory");
  const gateway = await fetch(`${ctx.worker.url}/app/x`, { headers: { cookie: cookieHeader(res) } });
  assert.equal(gateway.status, 200);
});

test("a token made the way the rehearsal makes its token is refused before Stytch", async () => {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    aal: "aal1", aud: "authenticated", exp: now + 600, iat: now, is_anonymous: false, iss: ctx.supabase.issuer,
    role: "authenticated", session_id: "session-rehearsal-00000000", sub: "edge-attest-rehearsal",
  };
  const before = ctx.stytch.apiCalls().length;
  for (const [alg, kid, len] of [["ES256", "edge-attest-rehearsal-es256", 64], ["RS256", "edge-attest-rehearsal-rs256", 256], ["ES256", "es-1", 64]]) {
    const token = `${b64({ alg, kid, typ: "JWT" })}.${b64(claims)}.${rehearsalSignature(len)}`;
    const res = await exchange(ctx, token);
    assert.equal(res.status, 401, `${kid}: ${await res.text()}`);
  }
  assert.equal(ctx.stytch.apiCalls().length, before, "no Stytch call");
});

test("a session JWT made the way the rehearsal makes one does not pass the gateway", async () => {
  const now = Math.floor(Date.now() / 1000);
  const times = { started_at: new Date(now * 1000).toISOString(), last_accessed_at: new Date(now * 1000).toISOString(), expires_at: new Date((now + 3600) * 1000).toISOString(), authentication_factors: [], roles: [] };
  const claims = {
    aud: [PROJECT_ID], exp: now + 300, iat: now, iss: `stytch.com/${PROJECT_ID}`, nbf: now, sub: "user-rehearsal-00000000",
    "https://stytch.com/session": { id: "session-rehearsal-00000000", ...times },
    edge_attest: { iss: ctx.supabase.issuer, sub: "edge-attest-rehearsal", session_id: "session-rehearsal-00000000", aal: "aal1" },
  };
  const jwt = `${b64({ alg: "RS256", kid: "edge-attest-rehearsal-rs256", typ: "JWT" })}.${b64(claims)}.${rehearsalSignature(256)}`;
  const seen = app.requests.length;
  const res = await fetch(`${ctx.worker.url}/app/x`, { headers: { cookie: `stytch_session=rehearsal-session-token-00000000000000; stytch_session_jwt=${jwt}` } });
  assert.notEqual(res.status, 200);
  assert.equal(app.requests.length, seen, "nothing reached the app");
  assert.match((await json(res)).error ?? "", /./);
});

test("an exception at start-up replaces the instance: the worker answers as always", async () => {
  await ctx.restart({ vars: { SELFTEST_THROW_AT_START: "1" } });
  try {
    assert.ok(ctx.worker.output.some((l) => l.includes("start_up_error")), "the exception is logged");
    assert.equal((await fetch(`${ctx.worker.url}/healthz`)).status, 200);
    const res = await exchange(ctx, await ctx.supabase.mint({ claims: { email: "grace@example.com" } }));
    assert.equal(res.status, 200);
  } finally {
    await ctx.restart({ vars: { SELFTEST_THROW_AT_START: undefined } });
  }
});
