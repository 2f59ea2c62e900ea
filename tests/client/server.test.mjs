// edge-attest/server against the Stytch stand-in (dev/standins.mjs): session JWTs minted by
// its attest endpoint, as the worker gets them, under the key set it publishes at
// /v1/sessions/jwks/{project} (B2B /v1/b2b/sessions/jwks/), verified the way an app behind
// the gateway does. The plain Edge-Attest-* headers must never count.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { startSupabase, startStytch } from "../../dev/standins.mjs";
import { EdgeAttestUnavailableError, verifyEdgeAttest } from "../../server/index.js";

const PROJECT = "project-test-11111111-1111-4111-8111-111111111111";
const OTHER_PROJECT = "project-test-22222222-2222-4222-8222-222222222222";
const SECRET = "secret-test-server";
const PROFILE = "trusted-auth-token-profile-test-server";
const ACME = { organization_id: "organization-test-aaaaaaaa-0000-4000-8000-000000000001", organization_slug: "acme", organization_name: "Acme" };
const GLOBEX = { organization_id: "organization-test-bbbbbbbb-0000-4000-8000-000000000002", organization_slug: "globex", organization_name: "Globex" };

const supabase = await startSupabase();
const stytch = await startStytch({ projectId: PROJECT, secret: SECRET, profileId: PROFILE, supabase, organizations: [ACME, GLOBEX] });
const other = await startStytch({ projectId: OTHER_PROJECT, secret: SECRET, profileId: PROFILE, supabase });
after(async () => {
  await Promise.all([supabase.close(), stytch.close(), other.close()]);
});

const options = { projectId: PROJECT, apiBase: stytch.url };

/** A session JWT as the worker's exchange gets it: a Supabase login attested, with the link. */
async function sessionJwt(at = stytch, { project = PROJECT, email = "ada@example.com", aal = "aal1", link = true, b2b = false, organization } = {}) {
  const sessionId = crypto.randomUUID();
  const token = await supabase.mint({ claims: { email, aal }, sessionId });
  const sub = JSON.parse(Buffer.from(token.split(".")[1], "base64url")).sub;
  const body = { profile_id: PROFILE, token, session_duration_minutes: 60 };
  if (link) body.session_custom_claims = { edge_attest: { iss: supabase.issuer, sub, session_id: sessionId, aal } };
  if (organization) {
    body.organization_id = organization.organization_id;
    at.state.members.add(`${organization.organization_id}:${email}`);
  }
  const res = await fetch(`${at.url}/v1/${b2b ? "b2b/" : ""}sessions/attest`, {
    method: "POST",
    headers: { authorization: "Basic " + Buffer.from(`${project}:${SECRET}`).toString("base64"), "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await res.json();
  assert.equal(res.status, 200, JSON.stringify(answer));
  return { jwt: answer.session_jwt, answer, sub, sessionId };
}

const withJwt = (jwt, extra = {}) => new Headers({ "edge-attest-jwt": jwt, ...extra });

test("a session JWT of this project, with the worker's link: the identity, named as GET /api/session names it", async () => {
  const { jwt, answer, sub, sessionId } = await sessionJwt();
  const who = await verifyEdgeAttest(new Request("https://app.example/x", { headers: { "edge-attest-jwt": jwt } }), options);
  assert.deepEqual(who, {
    user_id: answer.user_id,
    session_id: answer.session.session_id,
    expires_at: answer.session.expires_at,
    aal: "aal1",
    link: { iss: supabase.issuer, sub, session_id: sessionId, aal: "aal1" },
    roles: ["stytch_user"],
  });
  // Every shape a framework hands the headers in: Headers, a Node/Express request, a plain object.
  assert.deepEqual(await verifyEdgeAttest(withJwt(jwt), options), who);
  assert.deepEqual(await verifyEdgeAttest({ headers: { "edge-attest-jwt": jwt, host: "app.example" } }, options), who);
  assert.deepEqual(await verifyEdgeAttest({ "Edge-Attest-Jwt": jwt }, options), who);
});

test("the keys are fetched once and kept", async () => {
  const before = stytch.state.jwksFetches;
  for (let i = 0; i < 3; i++) assert.ok(await verifyEdgeAttest(withJwt((await sessionJwt()).jwt), options));
  assert.ok(stytch.state.jwksFetches - before <= 1, `${stytch.state.jwksFetches - before} fetches`);
});

test("plain identity headers without a JWT: null; beside a JWT they are ignored", async () => {
  const forged = { "edge-attest-user-id": "user-test-admin", "edge-attest-session-id": "session-test-x", "edge-attest-aal": "aal2" };
  assert.equal(await verifyEdgeAttest(new Headers(forged), options), null);
  assert.equal(await verifyEdgeAttest({ headers: forged }, options), null);
  const { jwt, answer } = await sessionJwt();
  const who = await verifyEdgeAttest(withJwt(jwt, forged), options);
  assert.equal(who.user_id, answer.user_id);
  assert.equal(who.aal, "aal1");
});

test("a forged JWT: null", async () => {
  const { jwt } = await sessionJwt();
  const [h, p, s] = jwt.split(".");
  const claims = JSON.parse(Buffer.from(p, "base64url"));
  const tampered = Buffer.from(JSON.stringify({ ...claims, sub: "user-test-admin" })).toString("base64url");
  assert.equal(await verifyEdgeAttest(withJwt(`${h}.${tampered}.${s}`), options), null, "claims changed under the signature");
  const none = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url");
  assert.equal(await verifyEdgeAttest(withJwt(`${none}.${p}.`), options), null, "alg none");
  const hs = Buffer.from(JSON.stringify({ alg: "HS256", kid: JSON.parse(Buffer.from(h, "base64url")).kid })).toString("base64url");
  assert.equal(await verifyEdgeAttest(withJwt(`${hs}.${p}.${s}`), options), null, "alg HS256");
  // A member named twice in the payload: JSON.parse would keep the last.
  const dup = Buffer.from(JSON.stringify(claims).replace(/^\{/, `{"sub":"user-test-admin",`)).toString("base64url");
  assert.equal(await verifyEdgeAttest(withJwt(`${h}.${dup}.${s}`), options), null, "duplicate member");
  for (const junk of ["", "a.b", "a.b.c", `${h}.${p}`, `${jwt}.x`, "x".repeat(20000), `${h}.${p}.${s}, ${jwt}`]) {
    assert.equal(await verifyEdgeAttest(withJwt(junk), options), null, junk.slice(0, 40));
  }
  // Two Edge-Attest-Jwt headers: not one JWT.
  const twice = new Headers();
  twice.append("edge-attest-jwt", jwt);
  twice.append("edge-attest-jwt", jwt);
  assert.equal(await verifyEdgeAttest(twice, options), null);
});

test("a JWT of another project: null", async () => {
  const { jwt } = await sessionJwt(other, { project: OTHER_PROJECT });
  assert.equal(await verifyEdgeAttest(withJwt(jwt), options), null, "signed by another project's key");
  assert.ok(await verifyEdgeAttest(withJwt(jwt), { projectId: OTHER_PROJECT, apiBase: other.url }), "and valid for its own project");
});

test("an expired JWT, and one whose session has ended: null", async () => {
  stytch.state.jwtLifetimeSecs = -120;
  let expired;
  try {
    expired = (await sessionJwt()).jwt;
  } finally {
    stytch.state.jwtLifetimeSecs = 300;
  }
  assert.equal(await verifyEdgeAttest(withJwt(expired), options), null);
  const { jwt } = await sessionJwt();
  const inTwoHours = () => Date.now() + 2 * 3600_000;
  assert.equal(await verifyEdgeAttest(withJwt(jwt), { ...options, now: inTwoHours }), null);
  assert.ok(await verifyEdgeAttest(withJwt(jwt), { ...options, now: () => Date.now() + 20_000 }), "within its life and the skew");
});

test("without the worker's link: null unless requireLink is false; requireAal aal2 needs an aal2 login", async () => {
  const { jwt: unlinked, answer } = await sessionJwt(stytch, { link: false });
  assert.equal(await verifyEdgeAttest(withJwt(unlinked), options), null);
  const who = await verifyEdgeAttest(withJwt(unlinked), { ...options, requireLink: false });
  assert.equal(who.user_id, answer.user_id);
  assert.equal(who.link, null);
  assert.equal(who.aal, null);

  const { jwt: aal1 } = await sessionJwt();
  assert.equal(await verifyEdgeAttest(withJwt(aal1), { ...options, requireAal: "aal2" }), null);
  const { jwt: aal2 } = await sessionJwt(stytch, { aal: "aal2" });
  assert.equal((await verifyEdgeAttest(withJwt(aal2), { ...options, requireAal: "aal2" })).aal, "aal2");
});

test("B2B: the member and organization; a wrong organization is null, by id or by slug", async () => {
  const { jwt, answer } = await sessionJwt(stytch, { b2b: true, organization: ACME, email: "grace@example.com" });
  const b2b = { ...options, product: "b2b" };
  const who = await verifyEdgeAttest(withJwt(jwt), b2b);
  assert.equal(who.member_id, answer.member_id);
  assert.equal(who.organization_id, ACME.organization_id);
  assert.equal(who.session_id, answer.member_session.member_session_id);
  assert.equal(who.user_id, undefined);
  assert.ok(await verifyEdgeAttest(withJwt(jwt), { ...b2b, organizations: [ACME.organization_id] }));
  assert.ok(await verifyEdgeAttest(withJwt(jwt), { ...b2b, organizations: ["acme"] }));
  assert.equal(await verifyEdgeAttest(withJwt(jwt), { ...b2b, organizations: [GLOBEX.organization_id] }), null);
  assert.equal(await verifyEdgeAttest(withJwt(jwt), { ...b2b, organizations: ["globex"] }), null);
  // A slug spelled like an id matches ids only.
  assert.equal(await verifyEdgeAttest(withJwt(jwt), { ...b2b, organizations: ["organization-test-acme"] }), null);
  // A consumer reading of a member session: its key set is the B2B one, not the consumer's.
  const consumer = await verifyEdgeAttest(withJwt(jwt), options);
  assert.ok(consumer === null || consumer.user_id === answer.member_id, "a consumer app gets no organization from it");
});

test("keys out of reach: EdgeAttestUnavailableError, never a null that reads as signed out", async () => {
  const down = await startStytch({ projectId: PROJECT, secret: SECRET, profileId: PROFILE, supabase });
  try {
    const { jwt } = await sessionJwt(down);
    down.state.jwksMode = "fail";
    await assert.rejects(verifyEdgeAttest(withJwt(jwt), { projectId: PROJECT, apiBase: down.url }), EdgeAttestUnavailableError);
    // Bad input is still null, keys or not.
    assert.equal(await verifyEdgeAttest(withJwt("not-a-jwt"), { projectId: PROJECT, apiBase: down.url }), null);
  } finally {
    await down.close();
  }
});

test("options it cannot use throw a TypeError naming them", async () => {
  const h = withJwt("x.y.z");
  await assert.rejects(verifyEdgeAttest(h), TypeError);
  await assert.rejects(verifyEdgeAttest(h, { projectId: "nope" }), /projectId/);
  await assert.rejects(verifyEdgeAttest(h, { projectId: PROJECT, apiBase: "http://stytch.example" }), /https/);
  await assert.rejects(verifyEdgeAttest(h, { projectId: PROJECT, requireAal: "aal3" }), /requireAal/);
  await assert.rejects(verifyEdgeAttest(h, { projectId: PROJECT, organizations: ["acme"] }), /product/);
  await assert.rejects(verifyEdgeAttest(h, { projectId: PROJECT, product: "b2b", organizations: [] }), /organizations/);
});

test("a polluted Object.prototype changes nothing: options and claims are read as own properties", async () => {
  const { jwt: unlinked } = await sessionJwt(stytch, { link: false });
  const { jwt: aal1 } = await sessionJwt();
  const planted = { apiBase: "https://evil.example", requireLink: false, edge_attest: { iss: "x", sub: "y", aal: "aal2" }, aal: "aal2" };
  Object.assign(Object.prototype, planted);
  try {
    assert.equal(await verifyEdgeAttest(withJwt(unlinked), { projectId: PROJECT, apiBase: stytch.url }), null, "requireLink and the link claim from the prototype");
    assert.equal(await verifyEdgeAttest(withJwt(aal1), { projectId: PROJECT, apiBase: stytch.url, requireAal: "aal2" }), null, "aal from the prototype");
    assert.ok(await verifyEdgeAttest(withJwt(aal1), { projectId: PROJECT, apiBase: stytch.url }), "keys from apiBase as given, not the prototype's");
  } finally {
    for (const k of Object.keys(planted)) delete Object.prototype[k];
  }
});

test("after a failed fetch the next waits 30 s: stale keys serve at once; a fetch that ignores its signal is cut off", async () => {
  const { jwt } = await sessionJwt();
  let calls = 0;
  let mode = "ok";
  const counting = async (url, init) => {
    calls++;
    if (mode === "down") return new Response("down", { status: 503 });
    if (mode === "hang") return new Promise(() => {}); // ignores init.signal
    return fetch(url, init);
  };
  let clock = Date.now();
  const opts = { ...options, fetch: counting, now: () => clock };
  assert.ok(await verifyEdgeAttest(withJwt(jwt), opts));
  assert.equal(calls, 1);
  // The keys are 10 minutes old (max-age is at most 600 s): expired; the refresh fails once,
  // the stale keys serve, and no request in the next 30 s fetches again.
  const realNow = Date.now;
  Date.now = () => realNow() + 601_000;
  try {
    mode = "down";
    for (let i = 0; i < 3; i++) assert.ok(await verifyEdgeAttest(withJwt(jwt), opts), "stale keys serve");
    assert.equal(calls, 2, "one failed fetch, then none for 30 s");
    Date.now = () => realNow() + 632_000;
    mode = "hang";
    const started = realNow();
    assert.ok(await verifyEdgeAttest(withJwt(jwt), opts), "stale keys after the hung fetch is cut off");
    assert.ok(realNow() - started < 5000, `${realNow() - started} ms`);
    assert.equal(calls, 3);
  } finally {
    Date.now = realNow;
  }
});

test("keys the worker would refuse are not used: weak RSA, a tiny exponent, private members, another caller's fetch", async () => {
  const { jwt } = await sessionJwt();
  const good = await (await fetch(`${stytch.url}/v1/sessions/jwks/${PROJECT}`)).json();
  const serving = (mutate) => async () => new Response(JSON.stringify({ keys: good.keys.map((k) => ({ ...k, ...mutate })) }), { headers: { "content-type": "application/json" } });
  const unavailable = async (f) => assert.rejects(verifyEdgeAttest(withJwt(jwt), { ...options, fetch: f }), EdgeAttestUnavailableError);
  await unavailable(serving({ e: "AQ" })); // e = 1: any padded hash would verify
  await unavailable(serving({ n: good.keys[0].n.slice(0, 171) })); // 1024 bits
  await unavailable(serving({ d: "AQAB" })); // a private key published
  await unavailable(serving({ key_ops: ["encrypt"] }));
  await unavailable(async () => new Response(JSON.stringify(good), { headers: { "content-type": "text/html" } }));
  // Keys one fetch function brought are never trusted through another.
  const attacker = async () => new Response(JSON.stringify({ keys: [] }), { headers: { "content-type": "application/json" } });
  await unavailable(attacker);
  assert.ok(await verifyEdgeAttest(withJwt(jwt), options));
});

test("one token, one spelling: a signature with non-zero unused bits is refused; now() must be a time", async () => {
  const { jwt } = await sessionJwt();
  const [h, p, sig] = jwt.split(".");
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const last = alphabet.indexOf(sig.at(-1));
  const twin = sig.slice(0, -1) + alphabet[last ^ 1];
  assert.equal(await verifyEdgeAttest(withJwt(`${h}.${p}.${twin}`), options), null);
  await assert.rejects(verifyEdgeAttest(withJwt(jwt), { ...options, now: () => undefined }), TypeError);
});
