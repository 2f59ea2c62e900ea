// edge-attest/server: who is signed in, for code behind the edge-attest gateway (Next.js
// middleware and route handlers, Hono, Express, another Worker), read from the Stytch session
// JWT the gateway forwards in `Edge-Attest-Jwt` and verified here against Stytch's public
// session keys. The plain `Edge-Attest-*` headers are never read: only a verified JWT says
// who the request is from, wherever it came from.
//
// The same rules as the worker's own (src/stytch/session.rs, docs/gateway.md "How the app
// verifies"): RS256, the key by `kid` from `{apiBase}/v1/sessions/jwks/{projectId}` (B2B
// `/v1/b2b/sessions/jwks/`), `iss` `stytch.com/{projectId}` or the API base, `aud` holding
// the project id, `exp`/`nbf` with 30 s of skew, the session itself not ended; then the
// `edge_attest` link claim (a session this deployment made for a login), the login's level
// and the B2B organization. No dependencies: WebCrypto, which Node >= 20, Workers, Deno, Bun
// and Next.js's edge runtime all have.
//
// IMPORTANT: no top-level side effects (the package says "sideEffects": false).

const SESSION_CLAIM = 'https://stytch.com/session';
const ORGANIZATION_CLAIM = 'https://stytch.com/organization';
const LINK_CLAIM = 'edge_attest';
const HEADER = 'edge-attest-jwt';

/** Seconds of clock difference allowed on `exp` and `nbf`, as the worker's default. */
const SKEW_SECS = 30;
/** Largest JWT read: Stytch's session JWTs are about 1–2 KB; anything far bigger is not one. */
const MAX_JWT_BYTES = 16 * 1024;
/** Largest key set read, and most keys used from it (as the worker). */
const MAX_JWKS_BYTES = 64 * 1024;
const MAX_KEYS = 16;
/** A key set fetch that has not answered by then has failed. */
const FETCH_TIMEOUT_MS = 3000;
/** How long a key set is kept: its `max-age` clamped to this range (default when absent). */
const MIN_KEYS_TTL_MS = 60_000;
const MAX_KEYS_TTL_MS = 600_000;
/** An unknown `kid` refetches the set at most this often: rotations are seen at once, and
 * made-up `kid`s cannot make every request a fetch. */
const UNKNOWN_KID_COOLDOWN_MS = 30_000;
/** When a refetch fails, the last good keys keep verifying this long past their expiry. */
const STALE_IF_ERROR_MS = 3_600_000;

/** The key sets, per URL, shared by every call in this process or isolate. */
const keySets = new Map();

/** Thrown when Stytch's session keys cannot be had: answer 5xx, not "signed out". */
export class EdgeAttestUnavailableError extends Error {
  constructor(message) {
    super(message);
    this.name = 'EdgeAttestUnavailableError';
    this.code = 'jwks_unavailable';
  }
}

/**
 * The identity `Edge-Attest-Jwt` proves, or null. `source`: a `Request`, a `Headers`, anything
 * with `headers` (Node's `IncomingMessage`, Express's `req`), or a plain object of headers.
 * Never throws on what the request holds; throws `EdgeAttestUnavailableError` when Stytch's
 * keys cannot be fetched and none are cached, and `TypeError` for options it cannot use.
 */
export async function verifyEdgeAttest(source, options) {
  const config = configOf(options);
  const jwt = headerOf(source);
  if (typeof jwt !== 'string' || jwt.length === 0 || jwt.length > MAX_JWT_BYTES) return null;
  const parts = jwt.split('.');
  if (parts.length !== 3) return null;
  const header = jsonOf(parts[0]);
  const payload = jsonOf(parts[1]);
  const signature = bytesOf(parts[2]);
  if (!isObject(header) || !isObject(payload) || signature === null) return null;
  if (header.alg !== 'RS256' || (header.typ !== undefined && header.typ !== 'JWT') || header.crit !== undefined) return null;
  if (typeof header.kid !== 'string' || header.kid.length === 0 || header.kid.length > 256) return null;

  const key = await keyFor(config, header.kid);
  if (key === null) return null;
  const signed = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
  let valid = false;
  try {
    valid = await crypto.subtle.verify('RSASSA-PKCS1-v1_5', key, signature, signed);
  } catch {
    valid = false;
  }
  if (!valid) return null;
  return identityOf(payload, config, Math.floor(config.now() / 1000));
}

/** The claims of a verified JWT, checked, as the identity; null when any check fails. */
function identityOf(payload, config, now) {
  if (!config.issuers.includes(payload.iss)) return null;
  const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (!aud.includes(config.projectId)) return null;
  if (!Number.isFinite(payload.exp) || payload.exp + SKEW_SECS <= now) return null;
  if (payload.nbf !== undefined && (!Number.isFinite(payload.nbf) || payload.nbf - SKEW_SECS > now)) return null;
  const subject = cleanId(payload.sub);
  const session = payload[SESSION_CLAIM];
  if (subject === null || !isObject(session)) return null;
  const sessionId = cleanId(session.id);
  const endsAt = typeof session.expires_at === 'string' ? Date.parse(session.expires_at) : NaN;
  if (sessionId === null || !Number.isFinite(endsAt) || endsAt <= now * 1000) return null;

  const link = linkOf(payload[LINK_CLAIM]);
  if (payload[LINK_CLAIM] !== undefined && link === null) return null; // a malformed link is no link of ours
  if (config.requireLink && link === null) return null;
  const aal = link?.aal ?? null;
  if (config.requireAal === 'aal2' && aal !== 'aal2') return null;
  const roles = rolesOf(session.roles);
  if (config.b2b) {
    const claim = payload[ORGANIZATION_CLAIM];
    const organizationId = isObject(claim) ? cleanId(claim.organization_id) : null;
    if (organizationId === null) return null;
    const slug = typeof claim.slug === 'string' ? claim.slug : null;
    if (config.organizations !== null && !config.organizations.some((o) => (isOrganizationId(o) ? o === organizationId : o === slug))) return null;
    return { member_id: subject, organization_id: organizationId, session_id: sessionId, expires_at: session.expires_at, aal, link, roles };
  }
  return { user_id: subject, session_id: sessionId, expires_at: session.expires_at, aal, link, roles };
}

/** The `edge_attest` claim exactly as the worker writes it, or null. */
function linkOf(value) {
  if (!isObject(value)) return null;
  const allowed = ['iss', 'sub', 'session_id', 'organization', 'aal'];
  if (Object.keys(value).some((k) => !allowed.includes(k))) return null;
  if (typeof value.iss !== 'string' || typeof value.sub !== 'string') return null;
  for (const k of ['session_id', 'organization']) if (value[k] !== undefined && typeof value[k] !== 'string') return null;
  if (value.aal !== undefined && value.aal !== 'aal1' && value.aal !== 'aal2') return null;
  const link = { iss: value.iss, sub: value.sub, session_id: value.session_id ?? null, aal: value.aal ?? null };
  if (value.organization !== undefined) link.organization = value.organization;
  return link;
}

/** Stytch RBAC role ids of the session claim: strings only. */
function rolesOf(value) {
  return Array.isArray(value) ? value.filter((r) => typeof r === 'string' && r.length > 0 && r.length <= 128) : [];
}

/** A Stytch identifier as the worker accepts one (src/stytch/ids.rs), or null. */
function cleanId(v) {
  return typeof v === 'string' && v.length > 0 && v.length <= 96 && /^[A-Za-z0-9_-]+$/.test(v) ? v : null;
}

function isOrganizationId(s) {
  return s.startsWith('organization-test-') || s.startsWith('organization-live-');
}

/** The options, checked once per call (cheap): a mistake here is the developer's, so it throws. */
function configOf(options) {
  if (!isObject(options)) throw new TypeError('verifyEdgeAttest: options { projectId, … } are required');
  const { projectId, apiBase, requireAal = 'aal1', requireLink = true, organizations, product = 'consumer' } = options;
  if (typeof projectId !== 'string' || !/^project-(test|live)-[A-Za-z0-9-]+$/.test(projectId)) {
    throw new TypeError('verifyEdgeAttest: projectId must be a Stytch project id (project-test-… or project-live-…)');
  }
  const base = (apiBase ?? (projectId.startsWith('project-live-') ? 'https://api.stytch.com' : 'https://test.stytch.com')).replace(/\/+$/, '');
  let url;
  try {
    url = new URL(base);
  } catch {
    throw new TypeError(`verifyEdgeAttest: apiBase ${JSON.stringify(base)} is not a URL`);
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new TypeError('verifyEdgeAttest: apiBase must use https (http only for loopback hosts, as the worker allows)');
  }
  if (url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
    throw new TypeError('verifyEdgeAttest: apiBase is an origin, like https://api.stytch.com');
  }
  if (requireAal !== 'aal1' && requireAal !== 'aal2') throw new TypeError('verifyEdgeAttest: requireAal is "aal1" or "aal2"');
  if (typeof requireLink !== 'boolean') throw new TypeError('verifyEdgeAttest: requireLink is a boolean');
  if (product !== 'consumer' && product !== 'b2b') throw new TypeError('verifyEdgeAttest: product is "consumer" or "b2b"');
  if (organizations !== undefined && (!Array.isArray(organizations) || organizations.length === 0 || organizations.some((o) => typeof o !== 'string' || o === ''))) {
    throw new TypeError('verifyEdgeAttest: organizations is a non-empty array of organization ids or slugs');
  }
  if (organizations !== undefined && product !== 'b2b') throw new TypeError('verifyEdgeAttest: organizations needs product: "b2b"');
  const origin = url.origin;
  return {
    projectId,
    b2b: product === 'b2b',
    issuers: [`stytch.com/${projectId}`, origin],
    jwksUrl: `${origin}/v1/${product === 'b2b' ? 'b2b/' : ''}sessions/jwks/${projectId}`,
    requireAal,
    requireLink,
    organizations: organizations ?? null,
    fetch: options.fetch ?? globalThis.fetch,
    now: options.now ?? Date.now,
  };
}

/** `Edge-Attest-Jwt` of whatever carries the request's headers; one value only. */
function headerOf(source) {
  if (source === null || typeof source !== 'object') return null;
  const headers = typeof source.get === 'function' || !('headers' in source) ? source : source.headers;
  if (headers === null || typeof headers !== 'object') return null;
  if (typeof headers.get === 'function') {
    const v = headers.get(HEADER);
    return typeof v === 'string' && !v.includes(',') ? v.trim() : null;
  }
  // Node's headers object (lower-case names; an array for a repeated header) or a plain one.
  const names = Object.keys(headers).filter((k) => k.toLowerCase() === HEADER);
  if (names.length !== 1) return null;
  const v = headers[names[0]];
  return typeof v === 'string' ? v.trim() : null;
}

/** The public key for `kid` from the project's key set: fetched, cached, refetched for an unknown kid. */
async function keyFor(config, kid) {
  let set = keySets.get(config.jwksUrl);
  if (set === undefined) {
    set = { keys: new Map(), expiresAt: 0, fetchedAt: -Infinity, pending: null };
    keySets.set(config.jwksUrl, set);
  }
  const now = config.now();
  const fresh = now < set.expiresAt;
  const known = set.keys.has(kid);
  const mayRefetch = now - set.fetchedAt >= UNKNOWN_KID_COOLDOWN_MS;
  if (!fresh || (!known && mayRefetch)) {
    try {
      await refresh(set, config);
    } catch (e) {
      // Stale keys keep verifying for a while; with none, the keys are unavailable.
      const usable = set.keys.size > 0 && now < set.expiresAt + STALE_IF_ERROR_MS;
      if (!usable) throw new EdgeAttestUnavailableError(`Stytch's session keys could not be fetched: ${e.message}`);
      if (!set.keys.has(kid)) throw new EdgeAttestUnavailableError(`no key ${JSON.stringify(kid)} in hand and Stytch's session keys could not be fetched: ${e.message}`);
    }
  }
  return set.keys.get(kid) ?? null;
}

/** One fetch of the set at a time; concurrent callers share it. */
function refresh(set, config) {
  set.pending ??= fetchKeys(set, config).finally(() => {
    set.pending = null;
  });
  return set.pending;
}

async function fetchKeys(set, config) {
  set.fetchedAt = config.now();
  const signal = AbortSignal.timeout(FETCH_TIMEOUT_MS);
  const res = await config.fetch(config.jwksUrl, { redirect: 'manual', signal, headers: { accept: 'application/json' } });
  if (res.status !== 200) throw new Error(`${config.jwksUrl} answered ${res.status}`);
  const text = await readCapped(res, MAX_JWKS_BYTES);
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${config.jwksUrl} answered with no JSON`);
  }
  if (!isObject(body) || !Array.isArray(body.keys)) throw new Error(`${config.jwksUrl} answered with no keys`);
  const keys = new Map();
  for (const jwk of body.keys.slice(0, MAX_KEYS)) {
    if (!isObject(jwk) || jwk.kty !== 'RSA' || typeof jwk.kid !== 'string' || typeof jwk.n !== 'string' || typeof jwk.e !== 'string') continue;
    if ((jwk.use !== undefined && jwk.use !== 'sig') || (jwk.alg !== undefined && jwk.alg !== 'RS256')) continue;
    if (keys.has(jwk.kid)) continue;
    try {
      keys.set(jwk.kid, await crypto.subtle.importKey('jwk', { kty: 'RSA', n: jwk.n, e: jwk.e }, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['verify']));
    } catch {
      // an unusable key is skipped; the others verify
    }
  }
  if (keys.size === 0) throw new Error(`${config.jwksUrl} has no usable RS256 key`);
  const maxAge = /(?:^|,)\s*max-age=(\d+)/i.exec(res.headers.get('cache-control') ?? '');
  const ttl = maxAge ? Math.min(MAX_KEYS_TTL_MS, Math.max(MIN_KEYS_TTL_MS, Number(maxAge[1]) * 1000)) : 300_000;
  set.keys = keys;
  set.expiresAt = config.now() + ttl;
}

/** The body as text, refused past `cap` bytes as read (not as announced). */
async function readCapped(res, cap) {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > cap) {
      await reader.cancel();
      throw new Error(`key set over ${cap} bytes`);
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(all);
}

/** base64url without padding, strictly; null otherwise. */
function bytesOf(part) {
  if (!/^[A-Za-z0-9_-]*$/.test(part) || part.length % 4 === 1) return null;
  const b64 = part.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (part.length % 4)) % 4);
  try {
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

/** A JWT segment's JSON object, refusing a member named twice (as the worker does). */
function jsonOf(part) {
  const bytes = bytesOf(part);
  if (bytes === null) return null;
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  return isObject(value) && !hasDuplicateMembers(text) ? value : null;
}

/** Whether any object in the JSON text names a member twice (JSON.parse keeps the last). */
function hasDuplicateMembers(text) {
  const stack = [];
  let i = 0;
  const str = () => {
    let s = '';
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') {
        s += text.slice(i, i + 2);
        i += 2;
      } else s += text[i++];
    }
    i++;
    return s;
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '{') {
      stack.push({ keys: new Set(), expectKey: true });
      i++;
    } else if (c === '[') {
      stack.push(null);
      i++;
    } else if (c === '}' || c === ']') {
      stack.pop();
      i++;
    } else if (c === '"') {
      const top = stack.at(-1);
      const s = str();
      if (top && top.expectKey) {
        const key = JSON.parse(`"${s}"`);
        if (top.keys.has(key)) return true;
        top.keys.add(key);
        top.expectKey = false;
      }
    } else if (c === ',') {
      const top = stack.at(-1);
      if (top) top.expectKey = true;
      i++;
    } else i++;
  }
  return false;
}

function isObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
