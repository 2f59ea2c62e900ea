// Several identity providers in the real runtime: a Supabase project (preset), an Auth0-like
// issuer found through its OpenID configuration, and a Firebase-like issuer with a key-set URL
// of its own, each with its own Trusted Auth Token profile at the Stytch stand-in, which checks
// every token against the profile it names. PROVIDERS as JSON text (--var) and as a
// structured [vars] value.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startSupabase, startStytch, startIssuer } from "../../dev/standins.mjs";
import { startWorker } from "../../dev/worker.mjs";
import { exchange, json, payloadOf, cookieHeader } from "./helpers.mjs";

const PROJECT_ID = "project-test-providers";
const SECRET = "secret-test-providers";
let s;
let ctx;

function providersOf(s) {
  return [
    // Stytch joins users by email: with several providers each vouches for its emails. The
    // Supabase project's Custom Access Token hook adds email_verified (see before()).
    { name: "supabase", preset: "supabase", project_url: s.supabase.url, stytch_profile_id: "profile-supabase", required_claims: { email_verified: true } },
    { name: "auth0", issuer: s.auth0.issuer, audiences: [s.auth0.audience], stytch_profile_id: "profile-auth0" },
    {
      name: "firebase",
      issuer: s.firebase.issuer,
      jwks_url: `${s.firebase.url}${s.firebase.jwksPath}`,
      audiences: [s.firebase.audience],
      anonymous_users: "firebase",
      stytch_profile_id: "profile-firebase",
    },
  ];
}

async function startWith(vars, extra = {}) {
  await ctx?.worker?.stop();
  const worker = await startWorker({
    vars: { STYTCH_PROJECT_ID: PROJECT_ID, STYTCH_SECRET: SECRET, STYTCH_API_BASE: s.stytch.url, ...vars },
    ...extra,
  });
  ctx = { worker };
}

before(async () => {
  const supabase = await startSupabase();
  const auth0 = await startIssuer({ flavor: "auth0" });
  const firebase = await startIssuer({ flavor: "firebase" });
  const stytch = await startStytch({
    projectId: PROJECT_ID,
    secret: SECRET,
    profiles: [
      { profileId: "profile-supabase", issuer: supabase.issuer, audience: "authenticated", jwks: supabase.jwks },
      // Attribute mappings as docs/providers.md's worked examples set them.
      { profileId: "profile-auth0", issuer: auth0.issuer, audience: auth0.audience, jwks: auth0.jwks, attributeMapping: { email: "email", token_id: "sid" } },
      { profileId: "profile-firebase", issuer: firebase.issuer, audience: firebase.audience, jwks: firebase.jwks, attributeMapping: { email: "email", token_id: "sub" } },
    ],
  });
  // The hook docs/security.md gives: email_verified from auth.users.email_confirmed_at.
  supabase.state.accessTokenHook = (claims, user) => ({ ...claims, email_verified: user.email_confirmed_at !== null });
  s = { supabase, auth0, firebase, stytch };
  await startWith({ PROVIDERS: JSON.stringify(providersOf(s)) });
});
after(async () => {
  await ctx?.worker?.stop();
  await Promise.all(Object.values(s).map((x) => x.close()));
});

const attests = () => s.stytch.calls.filter((c) => c.path === "/v1/sessions/attest");
const lastLog = () => ctx.worker.lastLog("exchange");

test("each provider's token is verified with its keys and exchanged through its own profile", async () => {
  for (const [name, mint, profile] of [
    ["supabase", () => s.supabase.mint(), "profile-supabase"],
    ["auth0", () => s.auth0.mint(), "profile-auth0"],
    ["firebase", () => s.firebase.mint(), "profile-firebase"],
  ]) {
    const token = await mint();
    const res = await exchange({ worker: ctx.worker }, token);
    const body = await json(res);
    assert.equal(res.status, 200, `${name}: ${JSON.stringify(body)}`);
    const call = attests().at(-1);
    assert.equal(call.body.profile_id, profile);
    assert.equal(call.body.session_custom_claims.edge_attest.iss, payloadOf(token).iss, "the link names the token's issuer");
    assert.equal((await lastLog()).provider, name);
  }
  assert.equal(s.auth0.state.discoveryFetches, 1, "Auth0's keys through its OpenID configuration");
  assert.equal(s.auth0.state.jwksFetches, 1);
  assert.equal(s.firebase.state.discoveryFetches, 0, "a configured key-set URL needs no discovery");
  assert.equal(s.firebase.state.jwksFetches, 1);
});

test("cross-provider tokens and near-miss issuers are refused, never reaching Stytch", async () => {
  const fetches = () => [s.supabase.state.fetches, s.auth0.state.jwksFetches, s.auth0.state.discoveryFetches, s.firebase.state.jwksFetches].join();
  const n = attests().length;
  for (const [why, token, detail] of [
    ["Auth0's issuer, Firebase's key under Auth0's kid", await s.auth0.mint({ signWith: s.firebase, kid: "shared-1" }), /^bad_signature/],
    ["Firebase's issuer, Auth0's key under the kid both publish", await s.firebase.mint({ signWith: s.auth0, kid: "shared-1" }), /^bad_signature/],
    ["Auth0's issuer without its trailing slash", await s.auth0.mint({ claims: { iss: s.auth0.issuer.slice(0, -1) } }), /^unknown_issuer/],
    ["Auth0's issuer in upper case", await s.auth0.mint({ claims: { iss: s.auth0.issuer.toUpperCase() } }), /^unknown_issuer/],
    ["an issuer Auth0's is a prefix of", await s.auth0.mint({ claims: { iss: `${s.auth0.issuer}x/` } }), /^unknown_issuer/],
    ["a Firebase anonymous user", await s.firebase.mint({ claims: { firebase: { identities: {}, sign_in_provider: "anonymous" } } }), /^anonymous/],
    ["an Auth0 user with an unverified email (refused by default)", await s.auth0.mint({ claims: { email_verified: false } }), /^required_claim: email_verified/],
  ]) {
    const before = fetches();
    const res = await exchange({ worker: ctx.worker }, token);
    const body = await json(res);
    assert.equal(res.status, 401, `${why}: ${JSON.stringify(body)}`);
    assert.equal(body.error, "invalid_token");
    assert.match((await lastLog()).detail, detail, why);
    if (String(detail).includes("unknown_issuer")) assert.equal(fetches(), before, `${why}: nothing fetched`);
  }
  assert.equal(attests().length, n, "nothing reached Stytch");
});

test("an OpenID configuration that points to plaintext, redirects elsewhere, is oversized or names another issuer is refused", async () => {
  for (const mode of ["http", "redirect", "huge", "other-issuer"]) {
    s.auth0.state.discoveryMode = mode;
    await startWith({ PROVIDERS: JSON.stringify(providersOf(s)) });
    const jwks = s.auth0.state.jwksFetches;
    const res = await exchange({ worker: ctx.worker }, await s.auth0.mint());
    const body = await json(res);
    assert.equal(res.status, 503, `${mode}: ${JSON.stringify(body)}`);
    assert.equal(body.error, "jwks_unavailable");
    assert.equal(s.auth0.state.jwksFetches, jwks, `${mode}: no key set fetched`);
    if (mode === "huge") assert.match((await lastLog()).detail, /too large/);
  }
  assert.equal(s.auth0.state.redirectHits, 0, "redirects are never followed");
  s.auth0.state.discoveryMode = "ok";
});

test("a repeat exchange is answered at the edge for the same provider's login only; one person through two providers is one Stytch user", async () => {
  await startWith({ PROVIDERS: JSON.stringify(providersOf(s)) }); // a fresh isolate: no back-off left by the test before
  // Ada signs in with Auth0 (sid names her login); her page reloads.
  const email = "ada@example.com";
  const first = await exchange({ worker: ctx.worker }, await s.auth0.mint({ sub: "auth0|ada", claims: { email } }));
  const firstBody = await json(first);
  assert.equal(first.status, 200, JSON.stringify(firstBody));
  assert.equal(attests().at(-1).body.session_custom_claims.edge_attest.session_id, "sid-auth0ada", "the link records Auth0's sid");
  const cookie = cookieHeader(first);
  const n = attests().length;
  const again = await exchange({ worker: ctx.worker }, await s.auth0.mint({ sub: "auth0|ada", claims: { email } }), { headers: { "content-type": "application/json", cookie } });
  const againBody = await json(again);
  assert.deepEqual([again.status, againBody.reused, againBody.session_id], [200, true, firstBody.session_id]);
  assert.equal(attests().length, n, "answered at the edge");
  // Another Auth0 login of hers (another sid) is not that session: a new one, the old token unsent.
  const other = await exchange({ worker: ctx.worker }, await s.auth0.mint({ sub: "auth0|ada", claims: { email, sid: "sid-another-login" } }), { headers: { "content-type": "application/json", cookie } });
  assert.equal((await json(other)).reused, false);
  assert.equal(attests().at(-1).body.session_token, undefined);
  assert.equal((await lastLog()).prior, "link_mismatch");
  // The same person through Supabase (same email): the same Stytch user, but Auth0's session is
  // not reused for a Supabase login.
  const viaSupabase = await exchange({ worker: ctx.worker }, await s.supabase.mint(), { headers: { "content-type": "application/json", cookie } });
  const viaSupabaseBody = await json(viaSupabase);
  assert.equal(viaSupabase.status, 200, JSON.stringify(viaSupabaseBody));
  assert.equal(viaSupabaseBody.reused, false);
  assert.equal(viaSupabaseBody.user_id, firstBody.user_id, "Stytch knows users by email");
  assert.equal((await lastLog()).prior, "link_mismatch");
  // A Firebase token has no login id: its profile maps token_id to sub, its link is by user.
  const fb = await exchange({ worker: ctx.worker }, await s.firebase.mint({ sub: "fbAda" }));
  const fbCookie = cookieHeader(fb);
  const fbAgain = await exchange({ worker: ctx.worker }, await s.firebase.mint({ sub: "fbAda" }), { headers: { "content-type": "application/json", cookie: fbCookie } });
  assert.equal((await json(fbAgain)).reused, true);
});

test("several providers: each vouches for its emails; a Supabase user whose email is unconfirmed is refused before Stytch", async () => {
  await startWith({ PROVIDERS: JSON.stringify(providersOf(s)) });
  const email = "unconfirmed@example.com";
  s.supabase.state.unconfirmed.add(email);
  try {
    const n = attests().length;
    const res = await exchange({ worker: ctx.worker }, await s.supabase.mint({ claims: { email, sub: "00000000-0000-4000-8000-0000000000ff" } }));
    assert.equal(res.status, 401);
    assert.match((await lastLog()).detail, /^required_claim: email_verified/);
    assert.equal(attests().length, n);
  } finally {
    s.supabase.state.unconfirmed.delete(email);
  }
  // The preset without an email rule next to other providers: misconfigured, naming it.
  const silent = providersOf(s).map((p) => (p.name === "supabase" ? { ...p, required_claims: undefined } : p));
  await startWith({ PROVIDERS: JSON.stringify(silent) });
  const res = await fetch(`${ctx.worker.url}/healthz`);
  assert.equal(res.status, 500);
  assert.match((await ctx.worker.lastLog("healthz")).detail, /^PROVIDERS: provider supabase: required_claims: with several providers/);
  // Saying so is accepted.
  const said = providersOf(s).map((p) => (p.name === "supabase" ? { ...p, required_claims: undefined, allow_unverified_email: true } : p));
  await startWith({ PROVIDERS: JSON.stringify(said) });
  assert.equal((await fetch(`${ctx.worker.url}/healthz`)).status, 200);
  await startWith({ PROVIDERS: JSON.stringify(providersOf(s)) });
});

/** A TOML inline value for a JSON one (strings, booleans, arrays, objects). */
const toml = (v) =>
  Array.isArray(v) ? `[${v.map(toml).join(", ")}]` : v && typeof v === "object" ? `{ ${Object.entries(v).map(([k, x]) => `${k} = ${toml(x)}`).join(", ")} }` : JSON.stringify(v);

test("PROVIDERS as a structured [vars] value works like the JSON text", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "edge-attest-providers-"));
  const config = path.join(dir, "wrangler.toml");
  const root = path.resolve(import.meta.dirname, "../..");
  writeFileSync(
    config,
    `name = "edge-attest-providers"\nmain = "${path.join(root, "build/index.js")}"\ncompatibility_date = "2026-11-01"\n\n[vars]\nPROVIDERS = ${toml(providersOf(s))}\n\n[[kv_namespaces]]\nbinding = "JWKS_CACHE"\nid = "local-jwks-cache"\n`,
  );
  await startWith({}, { config });
  for (const mint of [() => s.auth0.mint(), () => s.firebase.mint(), () => s.supabase.mint()]) {
    const res = await exchange({ worker: ctx.worker }, await mint());
    assert.equal(res.status, 200, await res.text());
  }
  // A typo in a field is refused, naming provider and field.
  const wrong = providersOf(s).map((p) => (p.name === "auth0" ? { ...p, audience: p.audiences, audiences: undefined } : p));
  await startWith({ PROVIDERS: JSON.stringify(wrong) });
  const res = await fetch(`${ctx.worker.url}/healthz`);
  assert.equal(res.status, 500);
  assert.match((await ctx.worker.lastLog("healthz")).detail, /^PROVIDERS: provider auth0: audience: is not a provider field/);
});
