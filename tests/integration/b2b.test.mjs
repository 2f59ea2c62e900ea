// Stytch B2B in the real runtime: the compiled worker in workerd, configured for a B2B project,
// against the Stytch stand-in's B2B endpoints (members in organizations, shaped like
// stytch-node's B2B types) and the Supabase stand-in, whose users carry their organization in
// app_metadata.org_id as a Supabase B2B app would set it.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { setup, exchange, json, cookies, cookieHeader, payloadOf, post, PROJECT_ID } from "./helpers.mjs";

const ACME = { organization_id: "organization-test-a1a1a1a1-0000-4000-8000-000000000001", organization_slug: "acme", organization_name: "Acme" };
const GLOBEX = { organization_id: "organization-test-b2b2b2b2-0000-4000-8000-000000000002", organization_slug: "globex", organization_name: "Globex" };
const CLAIM = "app_metadata.org_id";

let ctx;
before(async () => {
  ctx = await setup({
    vars: { STYTCH_PRODUCT: "b2b", STYTCH_ORGANIZATION_ID_CLAIM: CLAIM },
    stytch: (supabase) => ({
      organizations: [ACME, GLOBEX],
      profiles: [
        {
          profileId: "trusted-auth-token-profile-test-66666666",
          issuer: supabase.issuer,
          audience: "authenticated",
          jwks: supabase.jwks,
          attributeMapping: { email: "email", token_id: "session_id", organization_id: CLAIM },
        },
      ],
    }),
  });
});
after(async () => ctx?.close());
beforeEach(() => {
  ctx.stytch.state.jwtLifetimeSecs = 300;
});

/**
 * A login of `email` whose tokens name organization `org` (undefined: none); the function it
 * returns mints the login's next token, naming `now` instead when given (app_metadata changed).
 */
function login(org, email = `${randomUUID()}@example.com`) {
  const sessionId = randomUUID();
  const sub = randomUUID();
  return (now = org) => {
    const appMetadata = { provider: "email", providers: ["email"], ...(now === undefined ? {} : { org_id: now }) };
    return ctx.supabase.mint({ sessionId, claims: { email, sub, app_metadata: appMetadata } });
  };
}

const b2bCalls = (path) => ctx.stytch.apiCalls().filter((c) => c.path === `/v1/b2b/sessions/${path}`);
const withCookie = (cookie) => ({ headers: { cookie, "content-type": "application/json" } });

test("a login becomes a member session in the organization its token names", async () => {
  const before = ctx.stytch.apiCalls().length;
  const res = await exchange(ctx, await login("acme")());
  const body = await json(res);
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.deepEqual(Object.keys(body), ["aal", "expires_at", "member_id", "organization_id", "request_id", "reused", "session_id"]);
  assert.match(body.member_id, /^member-test-/);
  assert.equal(body.organization_id, ACME.organization_id);
  assert.match(body.session_id, /^member-session-test-/);
  assert.equal(body.reused, false);
  // One call, to the B2B endpoint, naming the organization as the token does.
  assert.equal(ctx.stytch.apiCalls().length, before + 1);
  const sent = b2bCalls("attest").at(-1).body;
  assert.equal(sent.organization_id, "acme");
  assert.equal(sent.session_custom_claims.edge_attest.organization, "acme");
  // The same two cookies; the JWT is a member session's in acme.
  const jwt = cookies(res).find((c) => c.name === "stytch_session_jwt").value;
  const claims = payloadOf(jwt);
  assert.equal(claims.sub, body.member_id);
  assert.deepEqual(claims["https://stytch.com/organization"], { organization_id: ACME.organization_id, slug: "acme" });
  assert.equal(claims["https://stytch.com/session"].id, body.session_id);
  assert.deepEqual(cookies(res).map((c) => c.name), ["stytch_session", "stytch_session_jwt"]);
  const log = await ctx.worker.lastLog("exchange");
  assert.equal(log.session, "created");
});

test("a repeat exchange in the same organization is answered at the edge under the B2B key set", async () => {
  const next = login("acme");
  const first = await exchange(ctx, await next());
  const firstBody = await json(first);
  const calls = ctx.stytch.apiCalls().length;
  const res = await exchange(ctx, await next(), withCookie(cookieHeader(first)));
  const body = await json(res);
  assert.deepEqual(body, { ...firstBody, request_id: null, reused: true });
  assert.equal(ctx.stytch.apiCalls().length, calls, "nothing reached Stytch");
  const keySets = ctx.stytch.calls.filter((c) => c.path.includes("/sessions/jwks/")).map((c) => c.path);
  assert.ok(keySets.length >= 1);
  assert.deepEqual([...new Set(keySets)], [`/v1/b2b/sessions/jwks/${PROJECT_ID}`]);
});

test("a login whose organization changed gets a session in the new one; the old is never extended", async () => {
  const next = login("acme");
  const first = await exchange(ctx, await next());
  assert.equal(first.status, 200);
  const oldToken = cookies(first)[0].value;
  const extensions = ctx.stytch.sessions.get(oldToken).extensions;
  // The same Supabase login, refreshed after its app_metadata moved it to globex.
  const res = await exchange(ctx, await next("globex"), withCookie(cookieHeader(first)));
  const body = await json(res);
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.organization_id, GLOBEX.organization_id);
  assert.equal(body.reused, false);
  const sent = b2bCalls("attest").at(-1).body;
  assert.equal(sent.organization_id, "globex");
  assert.equal(sent.session_token, undefined, "the acme session's token is not sent");
  assert.equal(ctx.stytch.sessions.get(oldToken).extensions, extensions);
  assert.equal((await ctx.worker.lastLog("exchange")).prior, "link_mismatch");
});

test("a token without its organization claim is refused before Stytch", async () => {
  const calls = ctx.stytch.apiCalls().length;
  const res = await exchange(ctx, await login(undefined)());
  assert.equal(res.status, 401);
  assert.equal((await json(res)).error, "invalid_token");
  assert.equal(ctx.stytch.apiCalls().length, calls);
  assert.equal((await ctx.worker.lastLog("exchange")).detail, `organization_claim: ${CLAIM}`);
});

test("Stytch's B2B refusals are 401 naming its error type, never retried", async () => {
  // An organization Stytch does not know.
  let calls = ctx.stytch.apiCalls().length;
  let res = await exchange(ctx, await login("initech")());
  assert.equal(res.status, 401);
  assert.equal((await json(res)).error_description, "Stytch rejected the access token (organization_not_found).");
  assert.equal(ctx.stytch.apiCalls().length, calls + 1);
  // A member Stytch does not have, with JIT provisioning off (scripted: Stytch's answer).
  ctx.stytch.script({ error_type: "member_not_found" });
  calls = ctx.stytch.apiCalls().length;
  res = await exchange(ctx, await login("acme")());
  assert.equal(res.status, 401);
  assert.equal((await json(res)).error_description, "Stytch rejected the access token (member_not_found).");
  assert.equal(ctx.stytch.apiCalls().length, calls + 1);
});

test("GET /api/session refreshes a member session through B2B authenticate; logout revokes through B2B revoke", async () => {
  ctx.stytch.state.jwtLifetimeSecs = -60; // JWTs minted now are already expired
  const first = await exchange(ctx, await login("acme")());
  const firstBody = await json(first);
  ctx.stytch.state.jwtLifetimeSecs = 300;
  const cookie = cookieHeader(first);
  const res = await fetch(`${ctx.worker.url}/api/session`, { headers: { cookie } });
  const body = await json(res);
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.member_id, firstBody.member_id);
  assert.equal(body.organization_id, ACME.organization_id);
  assert.equal(body.session_id, firstBody.session_id);
  assert.equal(body.user_id, undefined);
  assert.deepEqual(b2bCalls("authenticate").at(-1).body, { session_token: cookies(first)[0].value });
  assert.equal(res.headers.getSetCookie().length, 2, "a fresh JWT");

  // Its JWT has expired: the token cookie is what proves the session, and revokes it.
  const out = await post(ctx, "/api/logout", { headers: { cookie } });
  assert.equal(out.status, 200);
  assert.equal((await json(out)).revoked, true);
  assert.deepEqual(b2bCalls("revoke").at(-1).body, { session_token: cookies(first)[0].value });
  assert.equal(ctx.stytch.sessions.has(cookies(first)[0].value), false);
  // A live JWT revokes by the member session's id.
  const live = await exchange(ctx, await login("acme")());
  const liveBody = await json(live);
  assert.equal((await json(await post(ctx, "/api/logout", { headers: { cookie: cookieHeader(live) } }))).revoked, true);
  assert.deepEqual(b2bCalls("revoke").at(-1).body, { member_session_id: liveBody.session_id });
});

test("an organization the profile maps (none configured) is never answered at the edge, only extended", async () => {
  await ctx.restart({ vars: { STYTCH_ORGANIZATION_ID_CLAIM: "" } });
  try {
    const next = login("acme");
    const first = await exchange(ctx, await next());
    const firstBody = await json(first);
    assert.equal(first.status, 200, JSON.stringify(firstBody));
    assert.equal(firstBody.organization_id, ACME.organization_id);
    assert.equal(b2bCalls("attest").at(-1).body.organization_id, undefined, "left to the profile");
    const res = await exchange(ctx, await next(), withCookie(cookieHeader(first)));
    const body = await json(res);
    assert.equal(body.reused, false);
    assert.equal(body.session_id, firstBody.session_id, "the same session, extended");
    assert.equal(b2bCalls("attest").at(-1).body.session_token, cookies(first)[0].value);
    const log = await ctx.worker.lastLog("exchange");
    assert.equal(log.prior, "organization_unknown");
    assert.equal(log.session, "extended");
    // Why not reuse: the same login's next token may name another organization. Stytch then
    // refuses to extend the acme session with it, and the member gets a globex session.
    const moved = await exchange(ctx, await next("globex"), withCookie(cookieHeader(first)));
    const movedBody = await json(moved);
    assert.equal(movedBody.organization_id, GLOBEX.organization_id, JSON.stringify(movedBody));
    assert.notEqual(movedBody.session_id, firstBody.session_id);
    assert.equal((await ctx.worker.lastLog("exchange")).session, "created");
  } finally {
    await ctx.restart();
  }
});

test("one organization for every member: existing members sign in, JIT needs the token's claim", async () => {
  await ctx.restart({ vars: { STYTCH_ORGANIZATION_ID_CLAIM: "", STYTCH_ORGANIZATION_ID: GLOBEX.organization_id } });
  try {
    // A member Stytch already has, whose token names no organization.
    const email = `${randomUUID()}@example.com`;
    ctx.stytch.state.members.add(`${GLOBEX.organization_id}:${email}`);
    const res = await exchange(ctx, await login(undefined, email)());
    const body = await json(res);
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.organization_id, GLOBEX.organization_id);
    assert.equal(b2bCalls("attest").at(-1).body.organization_id, GLOBEX.organization_id);
    // A new member: JIT provisioning needs the organization claim in the token (Stytch's doc).
    const refused = await exchange(ctx, await login(undefined)());
    assert.equal(refused.status, 401);
    assert.equal((await json(refused)).error_description, "Stytch rejected the access token (token_missing_organization_id_claim).");
  } finally {
    await ctx.restart();
  }
});

test("the product and the organization claim as provider fields (PROVIDERS) work the same", async () => {
  const providers = JSON.stringify([
    {
      name: "supabase",
      preset: "supabase",
      project_url: ctx.supabase.url,
      stytch_profile_id: "trusted-auth-token-profile-test-66666666",
      stytch_product: "b2b",
      organization_id_claim: CLAIM,
    },
  ]);
  await ctx.restart({ vars: { STYTCH_PRODUCT: "", STYTCH_ORGANIZATION_ID_CLAIM: "", PROVIDERS: providers } });
  try {
    const next = login("globex");
    const first = await exchange(ctx, await next());
    const body = await json(first);
    assert.equal(first.status, 200, JSON.stringify(body));
    assert.equal(body.organization_id, GLOBEX.organization_id);
    assert.equal(b2bCalls("attest").at(-1).body.organization_id, "globex");
    const again = await exchange(ctx, await next(), withCookie(cookieHeader(first)));
    assert.equal((await json(again)).reused, true);
    const log = await ctx.worker.lastLog("exchange");
    assert.equal(log.provider, "supabase");
  } finally {
    await ctx.restart();
  }
});
