// Local stand-ins for Supabase Auth and Stytch: real HTTP servers on 127.0.0.1, used by the
// integration tests and by `make demo`. Development tools only; never part of the worker.
//
// Supabase stand-in: publishes a JWKS at /auth/v1/.well-known/jwks.json (ES256, RS256 and
// Ed25519 keys, Supabase's key metadata and Cache-Control) and mints Supabase-shaped access
// tokens: aal1 after the password step, aal2 for the same login after the MFA challenge of a
// user with a TOTP factor, through a Custom Access Token hook when one is set. Its failure modes (500, hang, redirect, HTML, oversize, dropped connection) and
// rotations are switched from the test or demo that owns it.
//
// Stytch stand-in: answers attest, authenticate, revoke and the session key set like the real
// API (shapes from stytch-node's types and https://stytch.com/docs/api/attest-session): Basic auth checked, the trusted token verified
// against the issuer's JWKS as a Trusted Auth Token profile would, sessions created with
// opaque tokens and an RS256 session JWT. Every call is recorded; failures can be scripted.
import http from "node:http";
import { gzipSync } from "node:zlib";
import { randomBytes, randomUUID, createHash } from "node:crypto";
import { SignJWT, exportJWK, generateKeyPair, createLocalJWKSet, createRemoteJWKSet, jwtVerify } from "jose";
import { supabaseClaims } from "./supabase-claims.mjs";

function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server.address().port));
  });
}

function readBody(req, limit = 1 << 20) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", (c) => {
      size += c.length;
      if (size > limit) reject(new Error("body too large"));
      else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function sendJson(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * A gzip bomb: JSON that inflates to `inflated` bytes from a body of about a thousandth of
 * that, sent with Content-Encoding: gzip and the compressed Content-Length, as a hostile or
 * broken upstream (or a proxy in front of one) could. Built once per size.
 */
const bombs = new Map();
export function sendGzipBomb(res, inflated = 50 << 20) {
  if (!bombs.has(inflated)) {
    const head = '{"keys":[],"padding":"';
    const text = Buffer.alloc(inflated, "0");
    text.write(head, 0);
    text.write('"}', inflated - 2);
    bombs.set(inflated, gzipSync(text, { level: 9 }));
  }
  const body = bombs.get(inflated);
  res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip", "content-length": body.length });
  res.end(body);
}

function closeServer(server, sockets) {
  for (const s of sockets) s.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

function trackSockets(server) {
  const sockets = new Set();
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  return sockets;
}

const DEFAULT_EMAIL = "ada@example.com";
/** The Supabase user id of an email: the fixture user for the default one, else derived. */
export function subFor(email) {
  if (email === DEFAULT_EMAIL) return supabaseClaims({}).sub;
  const h = createHash("sha256").update(email).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const ALGS = { ES256: {}, RS256: { modulusLength: 2048 }, EdDSA: { crv: "Ed25519" } };

async function makeKey(alg, kid) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...ALGS[alg] });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig", key_ops: ["verify"] };
  return { alg, kid, privateKey, jwk };
}

/**
 * Starts the Supabase Auth stand-in.
 * mode: "ok" | "fail" (500) | "hang" (never answers) | "redirect" (302 to a valid copy) |
 *       "html" (200 text/html) | "huge" (200 JSON over 64 KiB) | "huge-chunked" (the same
 *       without Content-Length) | "gzip-bomb" (50 KB of gzip inflating to 50 MB, with the
 *       compressed Content-Length) | "drop" (connection reset)
 */
export async function startSupabase({ port = 0, host = "127.0.0.1" } = {}) {
  const keys = new Map();
  for (const [alg, kid] of [["ES256", "es-1"], ["RS256", "rs-1"], ["EdDSA", "ed-1"]]) keys.set(kid, await makeKey(alg, kid));
  const state = {
    published: new Set(keys.keys()),
    mode: "ok",
    cacheControl: "public, max-age=600",
    fetches: 0,
    redirectHits: 0,
    tokensIssued: 0,
    /** Extra `app_metadata` of a user, by email (Supabase puts app_metadata in its tokens):
     * a B2B tenant id such as { org_id }, set through the admin API in a real project. */
    appMetadataFor: (email) => ({}),
    /** Users with a verified TOTP factor (by email): their password sign-in is `aal1`, and
     * the MFA challenge with `totpCode` upgrades the same login to `aal2`. */
    mfaUsers: new Set(),
    /** Users whose email is not confirmed (by email): signed up with "Confirm email" on and
     * the link not yet followed, or an OAuth identity whose provider did not verify it. */
    unconfirmed: new Set(),
    totpCode: "123456",
    /** The code of every one-time email (recovery, magic link) the stand-in "sends". */
    otpCode: "654321",
    /** A Custom Access Token hook: `(claims, user) => claims`, run on every token minted for a
     * user (GoTrue runs it before signing; it may add top-level claims). */
    accessTokenHook: null,
  };
  const jwks = () => ({ keys: [...state.published].map((kid) => keys.get(kid).jwk) });
  const appMetadataOf = (email) => ({ provider: "email", providers: ["email"], ...state.appMetadataFor(email) });
  const factorOf = (email) => ({ id: `factor-${subFor(email).slice(0, 8)}`, friendly_name: "authenticator", factor_type: "totp", status: "verified", created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z" });
  const userOf = (email) => ({
    id: subFor(email),
    aud: "authenticated",
    role: "authenticated",
    email,
    email_confirmed_at: state.unconfirmed.has(email) ? null : "2026-01-01T00:00:00Z",
    app_metadata: appMetadataOf(email),
    user_metadata: {},
    identities: [],
    // What getAuthenticatorAssuranceLevel() reads nextLevel from.
    factors: state.mfaUsers.has(email) ? [factorOf(email)] : [],
    created_at: "2026-01-01T00:00:00Z",
    updated_at: "2026-01-01T00:00:00Z",
    is_anonymous: false,
  });
  /** The token answer GoTrue gives for a login (password, refresh and MFA verify alike). */
  const loginAnswer = async (res, login, expiresIn = 3600) => {
    const refreshToken = randomBytes(12).toString("base64url");
    logins.set(refreshToken, login);
    const amr = login.aal === "aal2" ? [{ method: "totp", timestamp: login.at + 1 }, { method: "password", timestamp: login.at }] : [{ method: "password", timestamp: login.at }];
    const token = await api.mint({ alg: login.alg || "ES256", claims: { email: login.email, sub: subFor(login.email), app_metadata: appMetadataOf(login.email), aal: login.aal, amr }, sessionId: login.sessionId, expiresIn });
    state.tokensIssued++;
    return sendJson(
      res,
      200,
      { access_token: token, token_type: "bearer", expires_in: expiresIn, expires_at: Math.floor(Date.now() / 1000) + expiresIn, refresh_token: refreshToken, user: userOf(login.email) },
      { "access-control-allow-origin": "*" },
    );
  };
  /** The claims of the request's bearer token, read without a check (a stand-in's shortcut). */
  const bearerClaims = (req) => {
    try {
      return JSON.parse(Buffer.from((req.headers.authorization ?? "").replace(/^Bearer /i, "").split(".")[1], "base64url"));
    } catch {
      return null;
    }
  };
  const logins = new Map(); // refresh token -> { email, sessionId, aal, at, alg }
  const challenges = new Map(); // MFA challenge id -> the login session it was made for

  const server = http.createServer(async (req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    if (path === "/auth/v1/.well-known/jwks.json" && req.method === "GET") {
      state.fetches++;
      switch (state.mode) {
        case "fail":
          return sendJson(res, 500, { code: 500, msg: "Internal Server Error" });
        case "hang":
          return; // never answers; closed with the server
        case "drop":
          return req.socket.destroy();
        case "redirect":
          res.writeHead(302, { location: `${api.url}/elsewhere/jwks.json` });
          return res.end();
        case "html":
          res.writeHead(200, { "content-type": "text/html" });
          return res.end("<html><body>maintenance</body></html>");
        case "huge": {
          const padded = { ...jwks(), padding: "x".repeat(70 * 1024) };
          return sendJson(res, 200, padded, { "cache-control": state.cacheControl });
        }
        case "gzip-bomb":
          return sendGzipBomb(res);
        case "huge-chunked": {
          // The same, streamed without Content-Length: the cap must hold while reading.
          res.writeHead(200, { "content-type": "application/json" });
          res.write(`{"keys":${JSON.stringify(jwks().keys)},"padding":"`);
          for (let i = 0; i < 70; i++) res.write("x".repeat(1024));
          return res.end('"}');
        }
        default:
          return sendJson(res, 200, jwks(), { "cache-control": state.cacheControl });
      }
    }
    if (path === "/elsewhere/jwks.json") {
      state.redirectHits++;
      return sendJson(res, 200, jwks());
    }
    if (path.startsWith("/auth/v1/") && req.method === "OPTIONS") {
      // Browser apps (the demo page, supabase-js) call Supabase Auth from their own origin.
      res.writeHead(204, {
        "access-control-allow-origin": "*",
        "access-control-allow-methods": "GET, POST",
        "access-control-allow-headers": req.headers["access-control-request-headers"] ?? "content-type",
        "access-control-max-age": "600",
      });
      return res.end();
    }
    if (path === "/auth/v1/logout" && req.method === "POST") {
      // supabase-js signOut(): the login session ends, its refresh tokens with it.
      const sessionId = bearerClaims(req)?.session_id;
      for (const [refresh, login] of logins) if (login.sessionId === sessionId) logins.delete(refresh);
      res.writeHead(204, { "access-control-allow-origin": "*" });
      return res.end();
    }
    if (path === "/auth/v1/user" && req.method === "GET") {
      const claims = bearerClaims(req);
      if (!claims) return sendJson(res, 401, { code: 401, error_code: "no_authorization", msg: "This endpoint requires a valid Bearer token" }, { "access-control-allow-origin": "*" });
      return sendJson(res, 200, userOf(claims.email), { "access-control-allow-origin": "*" });
    }
    const factorPath = path.match(/^\/auth\/v1\/factors\/([^/]+)\/(challenge|verify)$/);
    if (factorPath && req.method === "POST") {
      // The MFA challenge (GoTrue internal/api/mfa.go): a challenge for the user's factor, then
      // its verification with the code, which answers a new access token for the same login
      // session at aal2.
      const cors = { "access-control-allow-origin": "*" };
      const claims = bearerClaims(req);
      let body = {};
      try {
        body = JSON.parse((await readBody(req)) || "{}");
      } catch {}
      if (!claims || !state.mfaUsers.has(claims.email) || factorPath[1] !== factorOf(claims.email).id) {
        return sendJson(res, 404, { code: 404, error_code: "mfa_factor_not_found", msg: "Factor not found" }, cors);
      }
      if (factorPath[2] === "challenge") {
        const id = randomUUID();
        challenges.set(id, claims.session_id);
        return sendJson(res, 200, { id, type: "totp", expires_at: Math.floor(Date.now() / 1000) + 300 }, cors);
      }
      if (challenges.get(body.challenge_id) !== claims.session_id || body.code !== state.totpCode) {
        return sendJson(res, 422, { code: 422, error_code: "mfa_verification_failed", msg: "Invalid TOTP code entered" }, cors);
      }
      challenges.delete(body.challenge_id);
      for (const [refresh, login] of logins) if (login.sessionId === claims.session_id) logins.delete(refresh);
      return loginAnswer(res, { email: claims.email, sessionId: claims.session_id, aal: "aal2", at: Math.floor(Date.now() / 1000) });
    }
    if (path === "/auth/v1/verify" && req.method === "POST") {
      // A one-time code from an email (supabase-js verifyOtp): `type: "recovery"` signs the
      // user in from a password-recovery email, which supabase-js reports as PASSWORD_RECOVERY.
      let body = {};
      try {
        body = JSON.parse((await readBody(req)) || "{}");
      } catch {}
      if (typeof body.email !== "string" || body.token !== state.otpCode) {
        return sendJson(res, 403, { code: 403, error_code: "otp_expired", msg: "Token has expired or is invalid" }, { "access-control-allow-origin": "*" });
      }
      return loginAnswer(res, { email: body.email, sessionId: randomUUID(), aal: "aal1", at: Math.floor(Date.now() / 1000) });
    }
    if (path === "/auth/v1/token" && req.method === "POST") {
      // A login, as Supabase Auth's token endpoint answers one (the shape supabase-js reads):
      // a new login session (grant_type=password: any password), or, with
      // grant_type=refresh_token, a new access token for the same login session (Supabase
      // keeps session_id across refreshes; a refresh token is used once). `expired` and `alg`
      // are demo knobs.
      let opts = {};
      try {
        opts = JSON.parse((await readBody(req)) || "{}");
      } catch {
        return sendJson(res, 400, { error: "invalid_request" });
      }
      const grant = new URL(req.url, "http://x").searchParams.get("grant_type");
      let login;
      if (grant === "refresh_token") {
        // A refresh keeps the login: its session_id and its assurance level.
        login = logins.get(opts.refresh_token);
        if (!login) return sendJson(res, 400, { code: 400, error_code: "refresh_token_not_found", msg: "Invalid Refresh Token: Refresh Token Not Found" });
        logins.delete(opts.refresh_token);
      } else {
        // The password step: aal1, also for users with a second factor.
        login = { email: opts.email || DEFAULT_EMAIL, sessionId: randomUUID(), aal: "aal1", at: Math.floor(Date.now() / 1000), alg: opts.alg };
      }
      return loginAnswer(res, login, opts.expired ? -3600 : 3600);
    }
    sendJson(res, 404, { error: "not_found" });
  });
  const sockets = trackSockets(server);
  const boundPort = await listen(server, port, host);

  const api = {
    url: `http://${host}:${boundPort}`,
    get issuer() {
      return `${api.url}/auth/v1`;
    },
    state,
    jwks,
    /** Mints a Supabase-shaped access token (a new login session unless `sessionId`). */
    async mint({ alg = "ES256", kid, claims = {}, expiresIn = 3600, header = {}, sessionId = randomUUID() } = {}) {
      const key = kid ? keys.get(kid) : [...keys.values()].find((k) => k.alg === alg && state.published.has(k.kid));
      if (!key) throw new Error(`no key for ${alg} ${kid ?? ""}`);
      const now = Math.floor(Date.now() / 1000);
      let payload = supabaseClaims({
        iss: api.issuer,
        iat: now - (expiresIn < 0 ? 7200 : 0),
        exp: now + expiresIn,
        sessionId,
        extra: claims,
      });
      if (state.accessTokenHook) payload = state.accessTokenHook(payload, userOf(payload.email));
      return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT", ...header }).sign(key.privateKey);
    },
    /** Adds and publishes a new key; returns its kid. */
    async rotate(alg = "ES256") {
      const kid = `${alg.toLowerCase()}-${keys.size + 1}`;
      keys.set(kid, await makeKey(alg, kid));
      state.published.add(kid);
      return kid;
    },
    unpublish(kid) {
      state.published.delete(kid);
    },
    close: () => closeServer(server, sockets),
  };
  return api;
}

/**
 * An OpenID Connect issuer other than Supabase, for the provider tests and the benchmark.
 * flavor "auth0": issuer `<url>/` (with the slash), an OpenID configuration at
 * `/.well-known/openid-configuration` naming the key set at `/.well-known/jwks.json`, RS256,
 * `aud` an array, no `role`. flavor "firebase": issuer `<url>/demo-project`, keys at
 * `/service_accounts/jwk` (another path, as Google's are on another host), `aud` the project,
 * `firebase.sign_in_provider`. Both publish a key under the kid "shared-1" too.
 * state.discoveryMode: "ok" | "http" (the configuration names a plaintext key set) |
 * "redirect" (302 to another host) | "huge" (over 64 KiB) | "other-issuer".
 */
export async function startIssuer({ flavor, port = 0, host = "127.0.0.1" }) {
  const keys = new Map();
  for (const kid of [`${flavor}-1`, "shared-1"]) keys.set(kid, await makeKey("RS256", kid));
  const state = { discoveryMode: "ok", discoveryFetches: 0, jwksFetches: 0, redirectHits: 0 };
  const jwks = () => ({ keys: [...keys.values()].map((k) => k.jwk) });
  const server = http.createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    if (path === api.discoveryPath) {
      state.discoveryFetches++;
      const doc = { issuer: api.issuer, jwks_uri: `${api.url}${api.jwksPath}`, response_types_supported: ["code", "id_token"], id_token_signing_alg_values_supported: ["RS256"] };
      switch (state.discoveryMode) {
        case "http":
          return sendJson(res, 200, { ...doc, jwks_uri: `http://keys.example.com${api.jwksPath}` });
        case "redirect":
          res.writeHead(302, { location: `http://localhost:${boundPort}/elsewhere` });
          return res.end();
        case "huge":
          return sendJson(res, 200, { ...doc, padding: "x".repeat(70 * 1024) });
        case "other-issuer":
          return sendJson(res, 200, { ...doc, issuer: "https://evil.example/" });
        default:
          return sendJson(res, 200, doc);
      }
    }
    if (path === "/elsewhere") {
      state.redirectHits++;
      return sendJson(res, 200, {});
    }
    if (path === api.jwksPath) {
      state.jwksFetches++;
      return sendJson(res, 200, jwks(), { "cache-control": "public, max-age=600" });
    }
    sendJson(res, 404, { error: "not_found" });
  });
  const sockets = trackSockets(server);
  const boundPort = await listen(server, port, host);
  const url = `http://${host}:${boundPort}`;
  const api = {
    url,
    flavor,
    issuer: flavor === "auth0" ? `${url}/` : `${url}/demo-project`,
    audience: flavor === "auth0" ? "https://api.example.com" : "demo-project",
    discoveryPath: flavor === "auth0" ? "/.well-known/openid-configuration" : "/demo-project/.well-known/openid-configuration",
    jwksPath: flavor === "auth0" ? "/.well-known/jwks.json" : "/service_accounts/jwk",
    state,
    jwks,
    /** A token of this flavor's shape; `kid` picks the key (or `signWith`, another issuer's). */
    async mint({ sub = `${flavor}|user-1`, claims = {}, kid = `${flavor}-1`, signWith, expiresIn = 3600 } = {}) {
      const now = Math.floor(Date.now() / 1000);
      const base =
        flavor === "auth0"
          ? { iss: api.issuer, sub, aud: [api.audience, `${api.issuer}userinfo`], iat: now, exp: now + expiresIn, azp: "client-1", scope: "openid email", sid: `sid-${sub.replace(/\W/g, "")}`, email: `${sub.replace(/\W/g, "")}@example.com`, email_verified: true }
          : { iss: api.issuer, aud: api.audience, sub, user_id: sub, auth_time: now, iat: now, exp: now + expiresIn, email: `${sub}@example.com`, email_verified: true, firebase: { identities: {}, sign_in_provider: "password" } };
      const payload = { ...base, ...claims };
      for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
      const key = (signWith ?? api).keyOf(kid);
      return new SignJWT(payload).setProtectedHeader({ alg: "RS256", kid, typ: "JWT" }).sign(key.privateKey);
    },
    keyOf: (kid) => keys.get(kid),
    close: () => closeServer(server, sockets),
  };
  return api;
}

/** The stand-in's Stytch user id for an email: the same person, the same user. */
export const userIdOf = (email) => "user-test-" + createHash("sha256").update(String(email)).digest("hex").slice(0, 32);

const STYTCH_ERRORS = {
  unauthorized_credentials: [401, "Unauthorized credentials."],
  trusted_token_profile_not_found: [404, "Trusted token profile could not be found."],
  invalid_session_duration_minutes: [400, "session_duration_minutes must be between 5 and 527040."],
  invalid_trusted_auth_token: [400, "Invalid trusted auth token."],
  session_not_found: [404, "Session could not be found."],
  too_many_session_arguments: [400, "Too many session arguments were provided."],
  no_session_arguments: [400, "A session_token or session_jwt is required."],
  // Not confirmed names: what Stytch answers for custom claims over its 4 KB limit, and for a
  // session_token of another user's session, is not documented.
  invalid_session_custom_claims: [400, "Custom claims are invalid or larger than 4 KB."],
  session_user_mismatch: [400, "The session belongs to another user."],
  // B2B (Stytch's error-type list; statuses assumed from their kind).
  token_missing_organization_id_claim: [400, "The trusted auth token has no organization ID claim, and no organization_id was given."],
  invalid_token_organization_id_claim: [400, "The token's organization ID claim does not match the organization."],
  organization_not_found: [404, "Organization could not be found."],
  member_not_found: [404, "Member could not be found."],
  // Not a confirmed name, as session_user_mismatch.
  session_member_mismatch: [400, "The session belongs to another member or organization."],
  // A profile that no longer matches the tokens it is given (Stytch's error-type list; the
  // statuses are assumed, no source gives them): the stand-in answers the first two when the
  // token's iss or aud is not the profile's.
  jwt_invalid_issuer: [400, "The JWT's issuer does not match the trusted token profile."],
  jwt_invalid_audience: [400, "The JWT's audience does not match the trusted token profile."],
  jwt_invalid_claims: [400, "The JWT's claims are invalid for the trusted token profile."],
  trusted_token_profile_invalid_request: [400, "The request is invalid for this trusted token profile."],
  too_many_requests: [429, "Too many requests have been made."],
  internal_server_error: [500, "Oops, something seems to have gone wrong."],
  bad_request: [400, "Bad request."],
};
/** Claims Stytch keeps for itself (its SDK doc: "will be ignored"). */
const RESERVED_CLAIMS = new Set(["iss", "sub", "aud", "exp", "nbf", "iat", "jti"]);
const SESSION_CLAIM = "https://stytch.com/session";
const ORGANIZATION_CLAIM = "https://stytch.com/organization";
/** A claim at a dot path (`app_metadata.org_id`). */
const claimAt = (claims, path) => path.split(".").reduce((v, k) => (v && typeof v === "object" ? v[k] : undefined), claims);

/**
 * Starts the Stytch stand-in. `script(...steps)` queues behaviours for the next calls (the
 * public key set excepted): { error_type } (status from Stytch's table), { status, error_type },
 * { status, body }, { hang: true }, { drop: true }, { gzipBomb: true } (a 200 of 50 KB of gzip
 * that inflates to 50 MB, with the compressed Content-Length), { delayMs } (answer as usual,
 * that much later), { raw } (a 200 whose body is that text), { error_type, retryAfter } (with a
Retry-After header). When nothing is queued,
 * `state.chaos()` (if set) may return such a step: faults at a rate, for the soak.
 *
 * Trusted Auth Token profiles: `profiles`, a list of { profileId, issuer, audience, jwks(),
 * attributeMapping? } (each attest is checked against the profile it names, as Stytch does),
 * or the one of `profileId` for the `supabase` stand-in. The attribute mapping names the
 * token's claims for Stytch's two required attributes, `email` and `token_id` (default
 * Stytch's Supabase recipe: email → email, token_id → session_id); a token without either is
 * refused (assumed: Stytch calls both required, its answer for a missing one is not
 * documented). The user is the one of the mapped email, as Stytch identifies users by email,
 * so one person arriving through two providers is one Stytch user.
 *
 * Sessions work as Stytch's do (https://stytch.com/docs/api/attest-session,
 * https://stytch.com/docs/guides/sessions/custom-claims, stytch-node): attest with
 * `session_duration_minutes` creates one, or, given the `session_token` of a live session of
 * the same user, adds the factor and extends it; `session_custom_claims` are kept on the
 * session and written at the top level of every session JWT; `sessions/authenticate` answers
 * the session with a fresh JWT; revoke ends it. Session JWTs are RS256 under the key set
 * served at GET /v1/sessions/jwks/{project_id} (public, with Stytch's extra `request_id` and
 * `status_code` members). `state.jwtLifetimeSecs` (300, as Stytch's) shortens or backdates
 * the JWTs minted from now on, so tests can reach expiry without waiting; `state.jwksMode`
 * "fail" makes the key set answer 500. `state.roles` (email → role ids) grants Stytch RBAC roles
 * beside the default `stytch_user` (B2B `stytch_member`): written into the session claim's
 * `roles` of every JWT minted from then on, and into `session.roles` of every answer.
 *
 * B2B (the same, under /v1/b2b/sessions/*, shapes from stytch-node `lib/b2b/sessions.ts`):
 * attest puts the token's member in an organization, named by the request's `organization_id`
 * (an id or a slug) or by the token's claim at the profile's `attributeMapping.organization_id`
 * (a dot path here; whether Stytch maps nested claims is not documented). Neither:
 * `token_missing_organization_id_claim`; both, naming different organizations:
 * `invalid_token_organization_id_claim`; an unknown one: `organization_not_found`. The member
 * is the mapped email's in that organization, created on first sight when the profile allows
 * JIT provisioning (`canJitProvision`, default true), else `member_not_found` unless listed in
 * `state.members` ("<organization_id>:<email>"). Answers carry `member_id`, `member_session`
 * (`member_session_id`, `organization_id`, `organization_slug`, …), `member` and
 * `organization`; session JWTs carry `sub` = member id and `https://stytch.com/organization`.
 * `organizations`: [{ organization_id, organization_slug, organization_name }].
 */
export async function startStytch({ projectId, secret, profileId, supabase, profiles, organizations = [], port = 0, host = "127.0.0.1" }) {
  profiles ??= [{ profileId, issuer: supabase.issuer, audience: "authenticated", jwks: supabase.jwks }];
  const SUPABASE_MAPPING = { email: "email", token_id: "session_id" };
  const calls = [];
  const queue = [];
  const sessions = new Map(); // session_token -> session
  const state = { jwtLifetimeSecs: 300, jwksMode: "ok", jwksFetches: 0, chaos: null, members: new Set(), roles: new Map() };
  /** The session's RBAC roles now: the default role and those `state.roles` grants its email
   * (Stytch writes a user's current roles into every session JWT and answer). */
  const rolesOf = (session) => [session.product === "b2b" ? "stytch_member" : "stytch_user", ...(state.roles.get(session.email) ?? [])];
  const orgOf = (ref) => organizations.find((o) => o.organization_id === ref || o.organization_slug === ref);
  const kid = `jwk-test-${randomUUID()}`;
  const { publicKey, privateKey: jwtKey } = await generateKeyPair("RS256", { modulusLength: 2048, extractable: true });
  const jwk = {
    ...(await exportJWK(publicKey)),
    kid,
    alg: "RS256",
    use: "sig",
    key_ops: ["verify"],
    // Stytch publishes the certificate too; nothing here reads it.
    x5c: [randomBytes(48).toString("base64")],
    x5tS256: randomBytes(32).toString("base64url"),
  };
  const requestId = () => `request-id-test-${randomUUID()}`;
  const fail = (res, type, status, headers = {}) => {
    const [defaultStatus, message] = STYTCH_ERRORS[type] ?? [status ?? 400, type];
    const code = status ?? defaultStatus;
    sendJson(
      res,
      code,
      {
        status_code: code,
        request_id: requestId(),
        error_type: type,
        error_message: message,
        error_url: `https://stytch.com/docs/api/errors/${code}#${type}`,
      },
      headers,
    );
  };
  const iso = (ms) => new Date(ms).toISOString();
  const live = (session) => session && Date.parse(session.expires_at) > Date.now();

  /** The session JWT Stytch would mint for `session` now; a lifetime under 300 s makes it
   * look minted earlier (iat = exp - 300), as a JWT the browser has held for a while. */
  async function mintJwt(session) {
    const now = Math.floor(Date.now() / 1000);
    const exp = now + state.jwtLifetimeSecs;
    const iat = Math.min(now, exp - 300);
    const claims = Object.fromEntries(Object.entries(session.custom_claims).filter(([k]) => !RESERVED_CLAIMS.has(k)));
    const org = session.organization_id ? orgOf(session.organization_id) : null;
    return new SignJWT({
      ...claims,
      ...(org ? { [ORGANIZATION_CLAIM]: { organization_id: org.organization_id, slug: org.organization_slug } } : {}),
      [SESSION_CLAIM]: {
        id: session.session_id,
        started_at: session.started_at,
        last_accessed_at: session.last_accessed_at,
        expires_at: session.expires_at,
        attributes: session.attributes,
        authentication_factors: session.authentication_factors,
        roles: rolesOf(session),
      },
    })
      .setProtectedHeader({ alg: "RS256", kid, typ: "JWT" })
      .setIssuer(`stytch.com/${projectId}`)
      .setAudience([projectId])
      .setSubject(session.user_id)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(exp)
      .sign(jwtKey);
  }

  /** Applies `session_custom_claims`: a null value deletes a claim (Stytch's rule). */
  function applyClaims(session, custom) {
    if (custom === undefined) return true;
    if (!custom || typeof custom !== "object" || Array.isArray(custom)) return false;
    const next = { ...session.custom_claims };
    for (const [k, v] of Object.entries(custom)) {
      if (k.startsWith("https://stytch.com/")) return false;
      if (v === null) delete next[k];
      else next[k] = v;
    }
    if (Buffer.byteLength(JSON.stringify(next)) >= 4096) return false;
    session.custom_claims = next;
    return true;
  }

  const userOf = (session) => ({ user_id: session.user_id, emails: [{ email_id: "email-test-1", email: session.email, verified: true }], status: "active", name: {}, roles: ["stytch_user"] });
  const publicSession = (session) => {
    const { email, product, ...rest } = session;
    return { ...rest, roles: rolesOf(session) };
  };
  /** A member session as Stytch's B2B API shows it. */
  const memberSession = (session) => {
    const { session_id, user_id, email, product, attributes, extensions, ...rest } = session;
    return { member_session_id: session_id, member_id: user_id, ...rest, roles: rolesOf(session), organization_slug: orgOf(session.organization_id)?.organization_slug };
  };
  const memberOf = (session) => ({ member_id: session.user_id, organization_id: session.organization_id, email_address: session.email, status: "active", name: "", roles: [] });
  const organizationOf = (session) => ({ ...orgOf(session.organization_id) });
  /** The answer members of a session: the consumer API's, or the B2B API's. */
  const sessionMembers = async (session, token) =>
    session.product === "b2b"
      ? { member_session: memberSession(session), session_token: token, session_jwt: await mintJwt(session), member: memberOf(session), organization: organizationOf(session) }
      : { session: publicSession(session), session_token: token, session_jwt: await mintJwt(session), user: userOf(session) };

  const server = http.createServer(async (req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    const raw = await readBody(req).catch(() => "");
    let body = null;
    try {
      body = JSON.parse(raw);
    } catch {}
    calls.push({ path, method: req.method, authorization: req.headers.authorization, contentType: req.headers["content-type"], body, at: Date.now() });

    const jwksPrefix = ["/v1/sessions/jwks/", "/v1/b2b/sessions/jwks/"].find((p) => path.startsWith(p));
    if (req.method === "GET" && jwksPrefix) {
      // Public, like Stytch's: no credentials, and not subject to scripted failures.
      state.jwksFetches++;
      if (state.jwksMode === "fail") return fail(res, "internal_server_error");
      if (path !== `${jwksPrefix}${projectId}`) return fail(res, "project_not_found", 404);
      return sendJson(res, 200, { keys: [jwk], request_id: requestId(), status_code: 200 });
    }

    const expected = "Basic " + Buffer.from(`${projectId}:${secret}`).toString("base64");
    if (req.headers.authorization !== expected) return fail(res, "unauthorized_credentials");
    const step = queue.shift() ?? state.chaos?.(path);
    if (step?.delayMs) await new Promise((r) => setTimeout(r, step.delayMs));
    if (step?.raw !== undefined) {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(step.raw);
    }
    if (step?.hang) return;
    if (step?.drop) return req.socket.destroy();
    if (step?.gzipBomb) return sendGzipBomb(res);
    if (step?.body !== undefined) return sendJson(res, step.status ?? 200, step.body);
    if (step?.error_type) return fail(res, step.error_type, step.status, step.retryAfter ? { "retry-after": step.retryAfter } : {});
    if (req.method !== "POST" || !body || typeof body !== "object") return fail(res, "bad_request");

    const b2b = path.startsWith("/v1/b2b/");
    const product = b2b ? "b2b" : "consumer";
    const route = b2b ? path.replace("/v1/b2b/", "/v1/") : path;
    if (route === "/v1/sessions/attest") {
      const profile = profiles.find((p) => p.profileId === body.profile_id);
      if (!profile) return fail(res, "trusted_token_profile_not_found");
      const minutes = body.session_duration_minutes;
      if (minutes !== undefined && !(Number.isInteger(minutes) && minutes >= 5 && minutes <= 527040)) {
        return fail(res, "invalid_session_duration_minutes");
      }
      if (body.session_token !== undefined && body.session_jwt !== undefined) return fail(res, "too_many_session_arguments");
      let claims;
      try {
        // What a Trusted Auth Token profile does: JWKS, issuer and audience.
        ({ payload: claims } = await jwtVerify(body.token, createLocalJWKSet(profile.jwks()), {
          issuer: profile.issuer,
          audience: profile.audience,
        }));
      } catch (e) {
        // A token whose issuer or audience is not the profile's: the profile's own error types.
        if (e?.code === "ERR_JWT_CLAIM_VALIDATION_FAILED" && e.claim === "iss") return fail(res, "jwt_invalid_issuer");
        if (e?.code === "ERR_JWT_CLAIM_VALIDATION_FAILED" && e.claim === "aud") return fail(res, "jwt_invalid_audience");
        return fail(res, "invalid_trusted_auth_token");
      }
      const mapping = profile.attributeMapping ?? SUPABASE_MAPPING;
      const email = claims[mapping.email];
      const tokenId = claims[mapping.token_id];
      if (typeof email !== "string" || !email || typeof tokenId !== "string" || !tokenId) return fail(res, "invalid_trusted_auth_token");
      let organizationId;
      let userId = userIdOf(email);
      if (b2b) {
        // The organization: the request's, the token's mapped claim, and they must agree.
        const fromClaim = mapping.organization_id ? claimAt(claims, mapping.organization_id) : undefined;
        const named = body.organization_id;
        if (named === undefined && fromClaim === undefined) return fail(res, "token_missing_organization_id_claim");
        const org = orgOf(named ?? fromClaim);
        if (!org) return fail(res, "organization_not_found");
        if (named !== undefined && fromClaim !== undefined && orgOf(fromClaim) !== org) return fail(res, "invalid_token_organization_id_claim");
        organizationId = org.organization_id;
        userId = "member-test-" + createHash("sha256").update(`${organizationId}:${email}`).digest("hex").slice(0, 32);
        const known = state.members.has(`${organizationId}:${email}`) || [...sessions.values()].some((x) => x.user_id === userId);
        if (!known) {
          if (profile.canJitProvision === false) return fail(res, "member_not_found");
          if (fromClaim === undefined) return fail(res, "token_missing_organization_id_claim"); // JIT needs the claim
          state.members.add(`${organizationId}:${email}`);
        }
      }
      const now = Date.now();
      const factor = {
        type: "trusted_auth_token",
        delivery_method: "trusted_token_exchange",
        last_authenticated_at: iso(now),
        created_at: iso(now),
        updated_at: iso(now),
        trusted_auth_token_factor: { token_id: tokenId },
      };
      let session;
      let sessionToken;
      if (body.session_token !== undefined) {
        // Add the factor to the named session and extend it (Stytch's attest doc).
        session = sessions.get(body.session_token);
        if (!live(session) || session.product !== product) return fail(res, "session_not_found");
        if (b2b && (session.user_id !== userId || session.organization_id !== organizationId)) return fail(res, "session_member_mismatch");
        if (session.user_id !== userId) return fail(res, "session_user_mismatch");
        sessionToken = body.session_token;
        const same = session.authentication_factors.find((f) => f.type === factor.type && f.trusted_auth_token_factor?.token_id === factor.trusted_auth_token_factor.token_id);
        if (same) Object.assign(same, { last_authenticated_at: iso(now), updated_at: iso(now) });
        else session.authentication_factors.push(factor);
        session.last_accessed_at = iso(now);
        if (minutes !== undefined) session.expires_at = iso(now + minutes * 60_000);
        session.extensions = (session.extensions ?? 0) + 1;
      } else {
        sessionToken = randomBytes(33).toString("base64url");
        session = {
          session_id: `${b2b ? "member-session" : "session"}-test-${randomUUID()}`,
          user_id: userId,
          email,
          product,
          ...(b2b ? { organization_id: organizationId } : {}),
          started_at: iso(now),
          last_accessed_at: iso(now),
          expires_at: iso(now + (minutes ?? 0) * 60_000),
          attributes: { ip_address: "", user_agent: "" },
          authentication_factors: [factor],
          roles: [b2b ? "stytch_member" : "stytch_user"],
          custom_claims: {},
          extensions: 0,
        };
      }
      if (minutes !== undefined && !applyClaims(session, body.session_custom_claims)) return fail(res, "invalid_session_custom_claims");
      // Without session_duration_minutes (and no session named) Stytch creates no session.
      const hasSession = minutes !== undefined || body.session_token !== undefined;
      if (hasSession) sessions.set(sessionToken, session);
      if (b2b) {
        // B2B always has a session (60 minutes when no duration is given).
        if (!hasSession) {
          session.expires_at = iso(now + 60 * 60_000);
          sessions.set(sessionToken, session);
        }
        return sendJson(res, 200, { status_code: 200, request_id: requestId(), member_id: userId, ...(await sessionMembers(session, sessionToken)) });
      }
      return sendJson(res, 200, {
        status_code: 200,
        request_id: requestId(),
        user_id: userId,
        user: userOf({ ...session, user_id: userId, email }),
        session_token: hasSession ? sessionToken : "",
        session_jwt: hasSession ? await mintJwt(session) : "",
        ...(hasSession ? { session: publicSession(session) } : {}),
      });
    }
    if (route === "/v1/sessions/authenticate") {
      const named = ["session_token", "session_jwt"].filter((k) => body[k] !== undefined);
      if (named.length === 0) return fail(res, "no_session_arguments");
      if (named.length > 1) return fail(res, "too_many_session_arguments");
      let token = body.session_token;
      if (body.session_jwt !== undefined) {
        try {
          // An expired JWT is fine if its signature is (Stytch's authenticate doc): time ignored.
          const { payload } = await jwtVerify(body.session_jwt, createLocalJWKSet({ keys: [jwk] }), {
            issuer: `stytch.com/${projectId}`,
            audience: projectId,
            clockTolerance: 10 ** 9,
          });
          token = [...sessions].find(([, s]) => s.session_id === payload[SESSION_CLAIM]?.id)?.[0];
        } catch {
          return fail(res, "unable_to_parse_session_jwt", 401);
        }
      }
      const session = sessions.get(token);
      if (!live(session) || session.product !== product) return fail(res, "session_not_found");
      session.last_accessed_at = iso(Date.now());
      if (body.session_duration_minutes !== undefined) session.expires_at = iso(Date.now() + body.session_duration_minutes * 60_000);
      return sendJson(res, 200, { status_code: 200, request_id: requestId(), ...(await sessionMembers(session, token)) });
    }
    if (route === "/v1/sessions/revoke") {
      const idField = b2b ? "member_session_id" : "session_id";
      const named = [idField, "session_token", "session_jwt"].filter((k) => body[k]);
      if (named.length !== 1) return fail(res, "bad_request");
      const token = body.session_token ?? [...sessions].find(([, s]) => s.session_id === body[idField])?.[0];
      if (!token || sessions.get(token)?.product !== product || !sessions.delete(token)) return fail(res, "session_not_found");
      return sendJson(res, 200, { status_code: 200, request_id: requestId() });
    }
    return fail(res, "bad_request", 404);
  });
  const sockets = trackSockets(server);
  const boundPort = await listen(server, port, host);
  return {
    url: `http://${host}:${boundPort}`,
    calls,
    sessions,
    state,
    kid,
    /** The Trusted Auth Token profiles, live: a test may change one as a dashboard edit would. */
    profiles,
    /** Calls to the API (not the public key sets). */
    apiCalls: () => calls.filter((c) => !c.path.includes("/sessions/jwks/")),
    script: (...steps) => queue.push(...steps),
    pending: () => queue.length,
    close: () => closeServer(server, sockets),
  };
}

/**
 * The app behind the gateway (`PROTECT`): a real HTTP server that records every request it
 * receives and answers what it saw, as a protected API would. It verifies `Edge-Attest-Jwt`
 * the way docs/gateway.md tells an app to (jose, RS256, the Stytch stand-in's session key
 * set, issuer `stytch.com/<project>`, audience the project, the plain headers equal to the
 * claims), and never echoes the JWT itself. Paths ending in:
 * - `/redirect`: 302 to `redirectTo` (another server the gateway must not follow to);
 * - `/sse`: a text/event-stream of two events 300 ms apart (streamed back, not buffered);
 * - `/set-cookies`: its own cookie, and the session cookies it may not set, under their names
 *   and as nameless cookies a browser would send back under those names;
 * - `/echo-identity`: an `Edge-Attest-User-Id` and a `Connection`-named header in its answer;
 * - `/slow`: answers after 0.3 to 1.5 s; `/reset`: drops the connection before answering;
 *   `/hang`: never answers; `/fail`: 503 JSON; `/big-headers`: a 64 KiB header in its answer
 *   (an upstream misbehaving, for the soak);
 * - `/ws`: a WebSocket that echoes text messages;
 * anything else: 200 JSON `{method, url, headers (Edge-Attest-Jwt left out), body_bytes,
 * first_chunk_at, ended_at, jwt: {verified, sub, session_id, error}}`, with `Access-Control-*`
 * for `corsOrigin` when set. `app.requests` holds the same for the tests.
 */
export async function startApp({ stytch, projectId, b2b = false, redirectTo = "http://127.0.0.1:9/landed", corsOrigin = null, port = 0, host = "127.0.0.1" }) {
  // Fetched once and kept, as an app would (jose's remote set refetches on an unknown kid).
  const keys = createRemoteJWKSet(new URL(`${stytch.url}/v1/${b2b ? "b2b/" : ""}sessions/jwks/${projectId}`));
  const requests = [];
  async function identityOf(headers) {
    const jwt = headers["edge-attest-jwt"];
    if (!jwt) return { verified: false, error: "no Edge-Attest-Jwt" };
    try {
      const { payload } = await jwtVerify(jwt, keys, {
        algorithms: ["RS256"],
        issuer: `stytch.com/${projectId}`,
        audience: projectId,
        clockTolerance: 60,
      });
      const session = payload["https://stytch.com/session"];
      const subject = headers["edge-attest-user-id"] ?? headers["edge-attest-member-id"];
      if (payload.sub !== subject || session?.id !== headers["edge-attest-session-id"]) {
        return { verified: false, error: "the headers do not match the JWT" };
      }
      return { verified: true, sub: payload.sub, session_id: session.id, sha256: createHash("sha256").update(jwt).digest("hex") };
    } catch (e) {
      return { verified: false, error: String(e?.code ?? e?.message ?? e) };
    }
  }
  const server = http.createServer(async (req, res) => {
    const seen = { method: req.method, url: req.url, headers: { ...req.headers }, rawHeaders: [...req.rawHeaders], body_bytes: 0, first_chunk_at: null, ended_at: null };
    delete seen.headers["edge-attest-jwt"];
    seen.rawHeaders = seen.rawHeaders.map((v, i, all) => (i % 2 === 1 && all[i - 1].toLowerCase() === "edge-attest-jwt" ? "(left out)" : v));
    requests.push(seen);
    req.on("data", (c) => {
      seen.first_chunk_at ??= Date.now();
      seen.body_bytes += c.length;
    });
    await new Promise((r) => req.on("end", r));
    seen.ended_at = Date.now();
    seen.jwt = await identityOf(req.headers);
    const path = req.url.split("?")[0];
    const cors = corsOrigin && req.headers.origin === corsOrigin ? { "access-control-allow-origin": corsOrigin, "access-control-allow-credentials": "true" } : {};
    if (path.endsWith("/redirect")) {
      res.writeHead(302, { location: redirectTo });
      return res.end();
    }
    if (path.endsWith("/sse")) {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.write("data: 1\n\n");
      await new Promise((r) => setTimeout(r, 300));
      res.end("data: 2\n\n");
      return;
    }
    if (path.endsWith("/set-cookies")) {
      res.writeHead(200, [
        ["set-cookie", "app=1; Path=/"],
        ["set-cookie", "stytch_session=planted; Path=/"],
        ["set-cookie", "stytch_session_jwt=planted; Path=/"],
        ["set-cookie", "=stytch_session_jwt=planted; Path=/app"],
        ["set-cookie", " stytch_session =planted; Path=/"],
        ["content-type", "text/plain"],
      ]);
      return res.end("ok");
    }
    if (path.endsWith("/slow")) await new Promise((r) => setTimeout(r, 300 + Math.floor(Math.random() * 1200)));
    if (path.endsWith("/reset")) return req.socket.destroy();
    if (path.endsWith("/hang")) return;
    if (path.endsWith("/fail")) return sendJson(res, 503, { error: "down for maintenance" });
    if (path.endsWith("/big-headers")) {
      res.writeHead(200, { "x-big": "x".repeat(64 * 1024), "content-type": "text/plain" });
      return res.end("ok");
    }
    // A static asset as a framework's build serves one: immutable, for every cache, and
    // compressed for a client that takes gzip (Next's server does both).
    if (path.endsWith(".js")) {
      const text = `console.log(${JSON.stringify(path)});`;
      const gzip = /\bgzip\b/.test(req.headers["accept-encoding"] ?? "");
      res.writeHead(200, { "content-type": "text/javascript", "cache-control": "public, max-age=31536000, immutable", vary: "Accept-Encoding", ...(gzip ? { "content-encoding": "gzip" } : {}) });
      return res.end(gzip ? gzipSync(text) : text);
    }
    if (path.endsWith("/echo-identity")) {
      res.writeHead(200, { "edge-attest-user-id": "echoed", connection: "x-internal", "x-internal": "1", "content-type": "text/plain" });
      return res.end("ok");
    }
    sendJson(res, 200, seen, cors);
  });
  // A WebSocket that echoes text frames (RFC 6455, just enough: unfragmented masked frames
  // under 64 KiB from the client, unmasked replies).
  server.on("upgrade", (req, socket) => {
    const seen = { method: req.method, url: req.url, headers: { ...req.headers }, upgrade: true };
    delete seen.headers["edge-attest-jwt"];
    requests.push(seen);
    const accept = createHash("sha1").update(req.headers["sec-websocket-key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    let buffered = Buffer.alloc(0);
    socket.on("data", (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const opcode = buffered[0] & 0x0f;
        let len = buffered[1] & 0x7f;
        let at = 2;
        if (len === 126) {
          if (buffered.length < 4) return;
          len = buffered.readUInt16BE(2);
          at = 4;
        }
        const masked = (buffered[1] & 0x80) !== 0;
        if (buffered.length < at + (masked ? 4 : 0) + len) return;
        const mask = masked ? buffered.subarray(at, at + 4) : null;
        at += masked ? 4 : 0;
        const data = Buffer.from(buffered.subarray(at, at + len));
        if (mask) for (let i = 0; i < data.length; i++) data[i] ^= mask[i % 4];
        buffered = buffered.subarray(at + len);
        if (opcode === 8) return socket.end(Buffer.from([0x88, 0]));
        if (opcode === 1) {
          const reply = Buffer.from(`echo: ${data.toString("utf8")}`);
          const head = reply.length < 126 ? Buffer.from([0x81, reply.length]) : Buffer.from([0x81, 126, reply.length >> 8, reply.length & 0xff]);
          socket.write(Buffer.concat([head, reply]));
        }
      }
    });
    socket.on("error", () => {});
  });
  const bound = await listen(server, port, host);
  return {
    url: `http://${host}:${bound}`,
    requests,
    close: () => new Promise((r) => {
      server.closeAllConnections?.();
      server.close(() => r());
    }),
  };
}
