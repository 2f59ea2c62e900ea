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
/** After a failed fetch the next waits this long: meanwhile the last good keys serve, or
 * (none in hand) the keys are unavailable at once, not after another timeout. */
const RETRY_AFTER_FAILURE_MS = 30_000;
/** Most roles read from the session claim, and their longest (as the worker). */
const MAX_ROLES = 64;
const MAX_ROLE_BYTES = 128;
/** Header members that locate keys or demand extensions (RFC 8725 §3.10): present, refused. */
const FORBIDDEN_HEADERS = ['crit', 'jku', 'x5u', 'jwk', 'x5c'];
/** RFC 3339 as Stytch writes `expires_at`. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** The key sets, per `fetch` function and URL, shared by every call in this process or
 * isolate: keys one caller's `fetch` brought are never trusted by a caller with another. */
const keySets = new WeakMap();

/** `o[k]` when `o` has it as its own property: never one inherited from `Object.prototype`,
 * which another library's prototype pollution could have set. */
const own = (o, k) => (isObject(o) && Object.hasOwn(o, k) ? o[k] : undefined);

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
  if (own(header, 'alg') !== 'RS256') return null;
  if (own(header, 'typ') !== undefined && own(header, 'typ') !== 'JWT') return null;
  if (FORBIDDEN_HEADERS.some((h) => Object.hasOwn(header, h))) return null;
  const kid = own(header, 'kid');
  if (typeof kid !== 'string' || kid.length === 0 || kid.length > 256) return null;
  const nowMs = config.now();
  if (!Number.isFinite(nowMs)) throw new TypeError('verifyEdgeAttest: options.now() must return ms since the epoch');

  const key = await keyFor(config, kid);
  if (key === null) return null;
  const signed = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
  let valid = false;
  try {
    valid = await crypto.subtle.verify('RSASSA-PKCS1-v1_5', key, signature, signed);
  } catch {
    valid = false;
  }
  if (!valid) return null;
  return identityOf(payload, config, Math.floor(nowMs / 1000));
}

/** The claims of a verified JWT, checked, as the identity; null when any check fails. */
function identityOf(payload, config, now) {
  if (!config.issuers.includes(own(payload, 'iss'))) return null;
  const audClaim = own(payload, 'aud');
  const aud = Array.isArray(audClaim) ? audClaim : [audClaim];
  if (!aud.every((a) => typeof a === 'string') || !aud.includes(config.projectId)) return null;
  const exp = own(payload, 'exp');
  const iat = own(payload, 'iat');
  const nbf = own(payload, 'nbf');
  if (!Number.isSafeInteger(exp) || exp + SKEW_SECS <= now) return null;
  if (!Number.isSafeInteger(iat) || iat - SKEW_SECS > now) return null;
  if (nbf !== undefined && (!Number.isSafeInteger(nbf) || nbf - SKEW_SECS > now)) return null;
  const subject = cleanId(own(payload, 'sub'));
  const session = own(payload, SESSION_CLAIM);
  if (subject === null || !isObject(session)) return null;
  const sessionId = cleanId(own(session, 'id'));
  const expiresAt = own(session, 'expires_at');
  const endsAt = typeof expiresAt === 'string' && RFC3339.test(expiresAt) ? Date.parse(expiresAt) : NaN;
  if (sessionId === null || !Number.isFinite(endsAt) || endsAt <= now * 1000) return null;

  const linkClaim = own(payload, LINK_CLAIM);
  const link = linkOf(linkClaim);
  if (linkClaim !== undefined && link === null) return null; // a malformed link is no link of ours
  if (config.requireLink && link === null) return null;
  const aal = link?.aal ?? null;
  if (config.requireAal === 'aal2' && aal !== 'aal2') return null;
  const roles = rolesOf(own(session, 'roles'));
  if (config.b2b) {
    const claim = own(payload, ORGANIZATION_CLAIM);
    const organizationId = cleanId(own(claim, 'organization_id'));
    if (organizationId === null) return null;
    const slug = own(claim, 'slug');
    const slugOk = typeof slug === 'string' && isOrganizationRef(slug) ? slug : null;
    if (config.organizations !== null && !config.organizations.some((o) => (isOrganizationId(o) ? o === organizationId : o === slugOk))) return null;
    return { member_id: subject, organization_id: organizationId, session_id: sessionId, expires_at: expiresAt, aal, link, roles };
  }
  return { user_id: subject, session_id: sessionId, expires_at: expiresAt, aal, link, roles };
}

/** The `edge_attest` claim exactly as the worker writes it, or null. */
function linkOf(value) {
  if (!isObject(value)) return null;
  const allowed = ['iss', 'sub', 'session_id', 'organization', 'aal'];
  if (Object.keys(value).some((k) => !allowed.includes(k))) return null;
  const [iss, sub, sessionId, organization, aal] = allowed.map((k) => own(value, k));
  if (typeof iss !== 'string' || typeof sub !== 'string') return null;
  for (const v of [sessionId, organization]) if (v !== undefined && typeof v !== 'string') return null;
  if (aal !== undefined && aal !== 'aal1' && aal !== 'aal2') return null;
  const link = { iss, sub, session_id: sessionId ?? null, aal: aal ?? null };
  if (organization !== undefined) link.organization = organization;
  return link;
}

/** Stytch RBAC role ids of the session claim, as the worker reads them (src/stytch/session.rs
 * `roles_of`): printable ASCII without `,`, at most 128 bytes, at most 64 of them. */
function rolesOf(value) {
  if (!Array.isArray(value)) return [];
  return value.filter((r) => typeof r === 'string' && r.length > 0 && r.length <= MAX_ROLE_BYTES && /^[\x21-\x2b\x2d-\x7e]+$/.test(r)).slice(0, MAX_ROLES);
}

/** A Stytch identifier as the worker accepts one (src/stytch/ids.rs), or null. */
function cleanId(v) {
  return typeof v === 'string' && v.length > 0 && v.length <= 96 && /^[A-Za-z0-9_-]+$/.test(v) ? v : null;
}

function isOrganizationId(s) {
  return s.startsWith('organization-test-') || s.startsWith('organization-live-');
}

/** An organization id or slug as Stytch accepts one (src/stytch/organization.rs). */
function isOrganizationRef(s) {
  return s.length > 0 && s.length <= 128 && /^[A-Za-z0-9._~-]+$/.test(s);
}

/** The options, checked once per call (cheap): a mistake here is the developer's, so it throws.
 * Own properties only: a value inherited from a polluted `Object.prototype` is never read. */
function configOf(given) {
  if (!isObject(given)) throw new TypeError('verifyEdgeAttest: options { projectId, … } are required');
  const options = Object.assign(Object.create(null), given);
  const { projectId, apiBase, requireAal = 'aal1', requireLink = true, organizations, product = 'consumer', fetch = globalThis.fetch, now = Date.now } = options;
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
  if (organizations !== undefined) {
    const refs = Array.isArray(organizations) && organizations.length > 0 && organizations.every((o) => typeof o === 'string' && isOrganizationRef(o));
    // Anything that starts like an id is one, exactly: a mistyped id must not become a slug.
    const ids = refs && organizations.every((o) => !/^organization-/i.test(o) || /^organization-(test|live)-[A-Za-z0-9_-]+$/.test(o));
    if (!refs || !ids) throw new TypeError('verifyEdgeAttest: organizations is a non-empty array of organization ids (organization-test-…) or slugs');
    if (product !== 'b2b') throw new TypeError('verifyEdgeAttest: organizations needs product: "b2b"');
  }
  if (typeof fetch !== 'function') throw new TypeError('verifyEdgeAttest: fetch must be a function');
  if (typeof now !== 'function') throw new TypeError('verifyEdgeAttest: now must be a function returning ms since the epoch');
  const origin = url.origin;
  return {
    projectId,
    b2b: product === 'b2b',
    issuers: [`stytch.com/${projectId}`, origin],
    jwksUrl: `${origin}/v1/${product === 'b2b' ? 'b2b/' : ''}sessions/jwks/${projectId}`,
    requireAal,
    requireLink,
    organizations: organizations === undefined ? null : [...organizations],
    fetch,
    now,
  };
}

/** `Edge-Attest-Jwt` of whatever carries the request's headers; one value only. */
function headerOf(source) {
  if (source === null || typeof source !== 'object') return null;
  let headers = source;
  if (typeof source.get !== 'function') {
    // A Request or Node's IncomingMessage (`headers` may be a getter on its prototype); a
    // plain headers object whose client sent a header named "headers" holds a string there.
    const nested = source.headers;
    if (nested !== null && typeof nested === 'object') headers = nested;
  }
  let value;
  if (typeof headers.get === 'function' && !(headers instanceof Map)) {
    value = headers.get(HEADER);
  } else {
    // Node's headers object (lower-case names; an array for a repeated header), a plain
    // object or a Map: the name in any case, exactly once.
    const entries = headers instanceof Map ? [...headers.entries()] : Object.entries(headers);
    const found = entries.filter(([k]) => typeof k === 'string' && k.toLowerCase() === HEADER);
    if (found.length !== 1) return null;
    value = found[0][1];
  }
  if (typeof value !== 'string' || value.includes(',')) return null;
  return value.trim();
}

/** The key set kept for `config`'s fetch function and URL. */
function setFor(config) {
  let byUrl = keySets.get(config.fetch);
  if (byUrl === undefined) {
    byUrl = new Map();
    keySets.set(config.fetch, byUrl);
  }
  let set = byUrl.get(config.jwksUrl);
  if (set === undefined) {
    set = { keys: new Map(), expiresAt: 0, fetchedAt: -Infinity, failedAt: -Infinity, pending: null };
    byUrl.set(config.jwksUrl, set);
  }
  return set;
}

/**
 * The public key for `kid` from the project's key set: fetched, cached, refetched for an
 * unknown kid at most every 30 s; after a failed fetch, no other for 30 s. The cache runs on
 * the real clock (`Date.now`), whatever `options.now` says of the tokens.
 */
async function keyFor(config, kid) {
  const set = setFor(config);
  const now = Date.now();
  const fresh = now < set.expiresAt;
  const known = set.keys.has(kid);
  const backingOff = now - set.failedAt < RETRY_AFTER_FAILURE_MS;
  const mayRefetch = now - set.fetchedAt >= UNKNOWN_KID_COOLDOWN_MS;
  if (!backingOff && (!fresh || (!known && mayRefetch))) {
    try {
      await refresh(set, config);
    } catch {
      // recorded in set.failedAt; judged below
    }
  }
  const usable = set.keys.size > 0 && Date.now() < set.expiresAt + STALE_IF_ERROR_MS;
  if (!usable) throw new EdgeAttestUnavailableError("Stytch's session keys could not be fetched");
  if (set.keys.has(kid)) return set.keys.get(kid);
  // The set in hand lacks the kid: after a failed fetch newer than it, whether Stytch
  // publishes that key is not known (503, as the worker); otherwise no such key (null).
  if (set.failedAt > set.fetchedAt) throw new EdgeAttestUnavailableError(`no key ${JSON.stringify(kid)} in hand, and Stytch's session keys could not be fetched`);
  return null;
}

/** One fetch of the set at a time; concurrent callers share it. */
function refresh(set, config) {
  set.pending ??= fetchKeys(set, config)
    .catch((e) => {
      set.failedAt = Date.now();
      throw e;
    })
    .finally(() => {
      set.pending = null;
    });
  return set.pending;
}

async function fetchKeys(set, config) {
  const started = Date.now();
  const controller = new AbortController();
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`${config.jwksUrl} did not answer within ${FETCH_TIMEOUT_MS} ms`));
    }, FETCH_TIMEOUT_MS);
  });
  let keys;
  let ttl;
  try {
    // Raced against a timer of our own: a fetch that ignores its signal cannot hold the
    // set's single flight for ever.
    [keys, ttl] = await Promise.race([readKeys(config, controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
  set.keys = keys;
  set.fetchedAt = started;
  set.expiresAt = Date.now() + ttl;
}

/** The set's usable keys and how long to keep them, or an error saying why there are none. */
async function readKeys(config, signal) {
  const res = await config.fetch(config.jwksUrl, { redirect: 'manual', signal, headers: { accept: 'application/json' } });
  if (res.status !== 200) throw new Error(`${config.jwksUrl} answered ${res.status}`);
  if (!/^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i.test(res.headers.get('content-type') ?? '')) throw new Error(`${config.jwksUrl} answered with no JSON`);
  const text = await readCapped(res, MAX_JWKS_BYTES);
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${config.jwksUrl} answered with no JSON`);
  }
  if (!isObject(body) || hasDuplicateMembers(text) || !Array.isArray(own(body, 'keys'))) throw new Error(`${config.jwksUrl} answered with no key set`);
  const list = own(body, 'keys');
  if (list.length > MAX_KEYS) throw new Error(`${config.jwksUrl} has more than ${MAX_KEYS} keys`);
  const keys = new Map();
  for (const jwk of list) {
    const key = await rsaKeyOf(jwk);
    const kid = own(jwk, 'kid');
    if (key !== null && !keys.has(kid)) keys.set(kid, key);
  }
  if (keys.size === 0) throw new Error(`${config.jwksUrl} has no usable RS256 key`);
  const maxAge = /(?:^|,)\s*max-age=(\d+)/i.exec(res.headers.get('cache-control') ?? '');
  const ttl = maxAge ? Math.min(MAX_KEYS_TTL_MS, Math.max(MIN_KEYS_TTL_MS, Number(maxAge[1]) * 1000)) : 300_000;
  return [keys, ttl];
}

/**
 * A JWK as an RS256 verification key, as the worker accepts one (src/keys/jwk.rs): a public
 * RSA key of 2048 to 4096 bits with an odd exponent of at least 3, for signatures; null for
 * anything else (the set's other keys still verify).
 */
async function rsaKeyOf(jwk) {
  if (!isObject(jwk) || own(jwk, 'kty') !== 'RSA') return null;
  const [kid, n, e, use, alg, ops] = ['kid', 'n', 'e', 'use', 'alg', 'key_ops'].map((k) => own(jwk, k));
  if (typeof kid !== 'string' || kid.length === 0 || kid.length > 256 || typeof n !== 'string' || typeof e !== 'string') return null;
  if ((use !== undefined && use !== 'sig') || (alg !== undefined && alg !== 'RS256')) return null;
  if (ops !== undefined && !(Array.isArray(ops) && ops.includes('verify'))) return null;
  if (['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'].some((m) => Object.hasOwn(jwk, m))) return null; // private material
  const modulus = bytesOf(n);
  const exponent = bytesOf(e);
  if (modulus === null || exponent === null || modulus[0] === 0 || exponent.length === 0 || exponent.length > 4 || exponent[0] === 0) return null;
  if (modulus.length < 256 || modulus.length > 512) return null;
  const value = exponent.reduce((v, b) => v * 256 + b, 0);
  if (value < 3 || value % 2 === 0) return null;
  try {
    return await crypto.subtle.importKey('jwk', { kty: 'RSA', n, e }, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['verify']);
  } catch {
    return null;
  }
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
  return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(all);
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** base64url without padding, strictly and canonically (the unused bits of the last
 * character zero: one token has one spelling); null otherwise. */
function bytesOf(part) {
  if (typeof part !== 'string' || !/^[A-Za-z0-9_-]*$/.test(part) || part.length % 4 === 1) return null;
  const tail = part.length % 4;
  if (tail !== 0) {
    const last = B64URL.indexOf(part[part.length - 1]);
    if ((tail === 2 && (last & 0x0f) !== 0) || (tail === 3 && (last & 0x03) !== 0)) return null;
  }
  const b64 = part.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - tail) % 4);
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
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
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
