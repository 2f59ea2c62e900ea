// The yardstick: the same exchange written as a careful developer would from jose's
// documentation (createRemoteJWKSet at module scope + jwtVerify), calling Stytch with fetch.
// Same route, same checks where jose offers them, same Stytch call, same cookies.
import { createRemoteJWKSet, jwtVerify, errors } from "jose";

let remote; // module scope, so jose's in-memory JWKS cache survives across requests
function keySet(env) {
  const url = env.JWKS_URL || `${env.SUPABASE_URL}/auth/v1/.well-known/jwks.json`;
  if (!remote || remote.url !== url) {
    remote = { url, jwks: createRemoteJWKSet(new URL(url), { timeoutDuration: 3000, cooldownDuration: 30_000, cacheMaxAge: 600_000 }) };
  }
  return remote.jwks;
}

const json = (status, body, headers = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", "cache-control": "no-store", ...headers } });
const fail = (status, error, error_description, headers = {}) => json(status, { error, error_description }, headers);

function cookie(name, value, expires, maxAge) {
  return `${name}=${value}; Path=/; Expires=${expires.toUTCString()}; Max-Age=${maxAge}; Secure; HttpOnly; SameSite=Lax`;
}

async function attest(env, token) {
  const base = env.STYTCH_API_BASE || (env.STYTCH_PROJECT_ID.startsWith("project-live-") ? "https://api.stytch.com" : "https://test.stytch.com");
  const init = {
    method: "POST",
    headers: {
      authorization: "Basic " + btoa(`${env.STYTCH_PROJECT_ID}:${env.STYTCH_SECRET}`),
      "content-type": "application/json",
    },
    body: JSON.stringify({ profile_id: env.STYTCH_PROFILE_ID, token, session_duration_minutes: Number(env.SESSION_DURATION_MINUTES || 60) }),
  };
  for (let attempt = 1; ; attempt++) {
    let res;
    try {
      res = await fetch(`${base}/v1/sessions/attest`, { ...init, signal: AbortSignal.timeout(5000) });
    } catch (e) {
      if (e.name === "TimeoutError") return { timeout: true };
      if (attempt < 2) continue;
      throw e;
    }
    if ((res.status >= 500 || res.status === 429) && attempt < 2) {
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      continue;
    }
    return { res, body: await res.json().catch(() => null) };
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return json(200, { status: "ok", version: "jose-reference" });
    if (url.pathname !== "/api/exchange") return fail(404, "not_found", "No such endpoint.");
    if (request.method !== "POST") return fail(405, "method_not_allowed", "Use POST.", { allow: "POST" });
    const origin = request.headers.get("origin");
    if (origin && origin !== url.origin) return fail(403, "forbidden_origin", "This origin is not allowed.");

    let token = request.headers.get("authorization")?.match(/^Bearer (.+)$/i)?.[1];
    const text = await request.text();
    if (text.length > 16 * 1024) return fail(413, "payload_too_large", "The request body is larger than 16 KiB.");
    if (text) {
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        return fail(400, "invalid_request", "The body must be JSON.");
      }
      if (token && body.access_token && body.access_token !== token) return fail(400, "invalid_request", "Conflicting tokens.");
      token ??= body.access_token;
    }
    if (typeof token !== "string" || !token) return fail(400, "invalid_request", "No access token.");

    try {
      const { payload } = await jwtVerify(token, keySet(env), {
        issuer: env.JWT_ISSUER || `${env.SUPABASE_URL}/auth/v1`,
        audience: env.JWT_AUDIENCE || "authenticated",
        algorithms: ["ES256", "RS256"],
        clockTolerance: 30,
        requiredClaims: ["exp", "iat", "sub"],
        typ: "JWT",
      });
      if (payload.role !== "authenticated" || payload.is_anonymous === true || !payload.sub) throw new errors.JWTClaimValidationFailed("policy", payload);
    } catch (e) {
      if (e instanceof errors.JWKSTimeout || e?.code === "ERR_JWKS_INVALID") return fail(503, "jwks_unavailable", "Keys unavailable.", { "retry-after": "5" });
      return fail(401, "invalid_token", "The access token is invalid or expired.", { "www-authenticate": 'Bearer error="invalid_token"' });
    }

    const out = await attest(env, token);
    if (out.timeout) return fail(504, "upstream_timeout", "Stytch did not answer in time.");
    const { res, body } = out;
    if (res.status !== 200) {
      if ([400, 401, 404].includes(res.status)) return fail(401, "invalid_token", `Stytch rejected the access token (${body?.error_type}).`);
      return fail(502, "upstream_error", "Stytch failed.");
    }
    const expires = new Date(body.session.expires_at);
    const maxAge = Math.max(0, Math.floor((expires - Date.now()) / 1000));
    const headers = new Headers({ "content-type": "application/json", "cache-control": "no-store" });
    headers.append("set-cookie", cookie("stytch_session", body.session_token, expires, maxAge));
    headers.append("set-cookie", cookie("stytch_session_jwt", body.session_jwt, expires, maxAge));
    return new Response(
      JSON.stringify({ user_id: body.user_id, session_id: body.session.session_id, expires_at: body.session.expires_at, request_id: body.request_id }),
      { status: 200, headers },
    );
  },
};
