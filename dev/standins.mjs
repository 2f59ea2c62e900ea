// Local stand-ins for Supabase Auth and Stytch: real HTTP servers on 127.0.0.1, used by the
// integration tests and by `make demo`. Development tools only; never part of the worker.
//
// Supabase stand-in: publishes a JWKS at /auth/v1/.well-known/jwks.json (ES256, RS256 and
// Ed25519 keys, Supabase's key metadata and Cache-Control) and mints Supabase-shaped access
// tokens. Its failure modes (500, hang, redirect, HTML, oversize, dropped connection) and
// rotations are switched from the test or demo that owns it.
//
// Stytch stand-in: answers POST /v1/sessions/attest and /v1/sessions/revoke like the real
// API (shapes from shared/research/stytch.md): Basic auth checked, the trusted token verified
// against the issuer's JWKS as a Trusted Auth Token profile would, sessions created with
// opaque tokens and an RS256 session JWT. Every call is recorded; failures can be scripted.
import http from "node:http";
import { randomBytes, randomUUID, createHash } from "node:crypto";
import { SignJWT, exportJWK, generateKeyPair, createLocalJWKSet, jwtVerify } from "jose";
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
 *       without Content-Length) | "drop" (connection reset)
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
  };
  const jwks = () => ({ keys: [...state.published].map((kid) => keys.get(kid).jwk) });

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
    if (path === "/auth/v1/token" && req.method === "OPTIONS") {
      // The demo page calls this from its own origin, as a browser app calls Supabase.
      res.writeHead(204, {
        "access-control-allow-origin": "*",
        "access-control-allow-methods": "POST",
        "access-control-allow-headers": "content-type",
      });
      return res.end();
    }
    if (path === "/auth/v1/token" && req.method === "POST") {
      // Demo sign-in: a Supabase-shaped access token for the demo user.
      let opts = {};
      try {
        opts = JSON.parse((await readBody(req)) || "{}");
      } catch {
        return sendJson(res, 400, { error: "invalid_request" });
      }
      const expiresIn = opts.expired ? -3600 : 3600;
      const token = await api.mint({ alg: opts.alg || "ES256", claims: opts.email ? { email: opts.email } : {}, expiresIn });
      return sendJson(res, 200, { access_token: token, token_type: "bearer", expires_in: expiresIn }, {
        "access-control-allow-origin": "*",
      });
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
    /** Mints a Supabase-shaped access token. */
    async mint({ alg = "ES256", kid, claims = {}, expiresIn = 3600, header = {} } = {}) {
      const key = kid ? keys.get(kid) : [...keys.values()].find((k) => k.alg === alg && state.published.has(k.kid));
      if (!key) throw new Error(`no key for ${alg} ${kid ?? ""}`);
      const now = Math.floor(Date.now() / 1000);
      const payload = supabaseClaims({
        iss: api.issuer,
        iat: now - (expiresIn < 0 ? 7200 : 0),
        exp: now + expiresIn,
        sessionId: randomUUID(),
        extra: claims,
      });
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

const STYTCH_ERRORS = {
  unauthorized_credentials: [401, "Unauthorized credentials."],
  trusted_token_profile_not_found: [404, "Trusted token profile could not be found."],
  invalid_session_duration_minutes: [400, "session_duration_minutes must be between 5 and 527040."],
  invalid_trusted_auth_token: [400, "Invalid trusted auth token."],
  session_not_found: [404, "Session could not be found."],
  too_many_requests: [429, "Too many requests have been made."],
  internal_server_error: [500, "Oops, something seems to have gone wrong."],
  bad_request: [400, "Bad request."],
};

/**
 * Starts the Stytch stand-in. `script(...steps)` queues behaviours for the next calls:
 * { error_type } (status from Stytch's table), { status, error_type }, { status, body },
 * { hang: true }, { drop: true }.
 */
export async function startStytch({ projectId, secret, profileId, supabase, port = 0, host = "127.0.0.1" }) {
  const calls = [];
  const queue = [];
  const sessions = new Map();
  const { privateKey: jwtKey } = await generateKeyPair("RS256", { modulusLength: 2048 });
  const requestId = () => `request-id-test-${randomUUID()}`;
  const fail = (res, type, status) => {
    const [defaultStatus, message] = STYTCH_ERRORS[type] ?? [status ?? 400, type];
    const code = status ?? defaultStatus;
    sendJson(res, code, {
      status_code: code,
      request_id: requestId(),
      error_type: type,
      error_message: message,
      error_url: `https://stytch.com/docs/api/errors/${code}#${type}`,
    });
  };

  const server = http.createServer(async (req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    const raw = await readBody(req).catch(() => "");
    let body = null;
    try {
      body = JSON.parse(raw);
    } catch {}
    calls.push({ path, method: req.method, authorization: req.headers.authorization, contentType: req.headers["content-type"], body, at: Date.now() });

    const expected = "Basic " + Buffer.from(`${projectId}:${secret}`).toString("base64");
    if (req.headers.authorization !== expected) return fail(res, "unauthorized_credentials");
    const step = queue.shift();
    if (step?.hang) return;
    if (step?.drop) return req.socket.destroy();
    if (step?.body !== undefined) return sendJson(res, step.status ?? 200, step.body);
    if (step?.error_type) return fail(res, step.error_type, step.status);
    if (req.method !== "POST" || !body || typeof body !== "object") return fail(res, "bad_request");

    if (path === "/v1/sessions/attest") {
      if (body.profile_id !== profileId) return fail(res, "trusted_token_profile_not_found");
      const minutes = body.session_duration_minutes;
      if (minutes !== undefined && !(Number.isInteger(minutes) && minutes >= 5 && minutes <= 527040)) {
        return fail(res, "invalid_session_duration_minutes");
      }
      let claims;
      try {
        // What a Trusted Auth Token profile does: JWKS, issuer and audience.
        ({ payload: claims } = await jwtVerify(body.token, createLocalJWKSet(supabase.jwks()), {
          issuer: supabase.issuer,
          audience: "authenticated",
        }));
      } catch {
        return fail(res, "invalid_trusted_auth_token");
      }
      const userId = "user-test-" + createHash("sha256").update(String(claims.sub)).digest("hex").slice(0, 32);
      const now = new Date();
      const expiresAt = new Date(now.getTime() + (minutes ?? 0) * 60_000).toISOString();
      const sessionId = `session-test-${randomUUID()}`;
      const sessionToken = randomBytes(33).toString("base64url");
      const sessionJwt = await new SignJWT({
        "https://stytch.com/session": { id: sessionId, started_at: now.toISOString(), expires_at: expiresAt },
      })
        .setProtectedHeader({ alg: "RS256", kid: "jwk-test-standin", typ: "JWT" })
        .setIssuer(`stytch.com/${projectId}`)
        .setAudience(projectId)
        .setSubject(userId)
        .setIssuedAt()
        .setNotBefore("0s")
        .setExpirationTime("5m")
        .sign(jwtKey);
      const session = {
        session_id: sessionId,
        user_id: userId,
        started_at: now.toISOString(),
        last_accessed_at: now.toISOString(),
        expires_at: expiresAt,
        attributes: { ip_address: "", user_agent: "" },
        authentication_factors: [
          {
            type: "trusted_auth_token",
            delivery_method: "trusted_token_exchange",
            last_authenticated_at: now.toISOString(),
            created_at: now.toISOString(),
            updated_at: now.toISOString(),
            trusted_auth_token_factor: { token_id: String(claims.session_id ?? "") },
          },
        ],
        roles: ["stytch_user"],
        custom_claims: {},
      };
      if (minutes !== undefined) sessions.set(sessionToken, session);
      return sendJson(res, 200, {
        status_code: 200,
        request_id: requestId(),
        user_id: userId,
        user: { user_id: userId, emails: [{ email_id: "email-test-1", email: claims.email, verified: true }], status: "active", name: {}, roles: ["stytch_user"] },
        session_token: minutes === undefined ? "" : sessionToken,
        session_jwt: minutes === undefined ? "" : sessionJwt,
        ...(minutes === undefined ? {} : { session }),
      });
    }
    if (path === "/v1/sessions/revoke") {
      const named = ["session_id", "session_token", "session_jwt"].filter((k) => body[k]);
      if (named.length !== 1) return fail(res, "bad_request");
      if (!body.session_token || !sessions.delete(body.session_token)) return fail(res, "session_not_found");
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
    script: (...steps) => queue.push(...steps),
    pending: () => queue.length,
    close: () => closeServer(server, sockets),
  };
}
