// JavaScript half of src/runtime/glue.rs, imported by wasm-bindgen: the helpers that let one
// boundary crossing do the work of several (see the comments on the imports in glue.rs).
// Indexed by the level src/http/mod.rs's LogLevel passes: Workers Logs takes a line's level
// from the console method that wrote it.
const write = [console.log.bind(console), console.warn.bind(console), console.error.bind(console)];
export function log_later(s, level) { Promise.resolve(s).then(write[level]); }

// The answers still owed to requests, so that a trap (a panic) can end them all at once:
// the failed instance will never settle them, and each would otherwise hang until the
// runtime gives up on it. Each is rejected here and turned into an error answer by the
// `.catch` src/runtime/entry.js attached to it in its own request's context.
const pending = new Set();
export function deferred() {
  const d = Promise.withResolvers();
  pending.add(d);
  return d;
}
export function promise_of(d) { return d.promise; }
export function settle(d, value, ok) {
  pending.delete(d);
  (ok ? d.resolve : d.reject)(value);
}
globalThis[Symbol.for("edge-attest.fail-in-flight")] = () => {
  const why = new Error("the worker instance failed while this request was in flight");
  for (const d of pending) d.reject(why);
  pending.clear();
};

// A KV write after the response: a plain promise handed to waitUntil, with no Rust future
// behind it that a trap could leave unfinished. Made only when KV does not already hold an
// entry fetched as late (src/keys/cache.rs, KvStore::put_after_response_if_newer): another
// isolate or the prewarm renewed it meanwhile, and a write per isolate per expiry would only
// cost writes (and, past one a second per key, get refused).
export function kv_put_newer_later(ctx, namespace, key, value, ttl, fetchedAt, toleranceMs) {
  ctx.waitUntil(
    namespace
      .get(key, "text")
      .then((held) => {
        let heldAt;
        try {
          heldAt = JSON.parse(held ?? "null")?.fetched_at_ms;
        } catch {}
        const newer = typeof heldAt === "number" && heldAt >= fetchedAt && heldAt <= Date.now() + toleranceMs;
        return newer ? undefined : namespace.put(key, value, { expirationTtl: ttl });
      })
      .catch((e) => console.error(JSON.stringify({ kv_put_error: String(e?.message ?? e) }))),
  );
}
// A KV write awaited by its caller (the scheduled prewarm, which has no response to wait for).
export function kv_put(namespace, key, value, ttl) {
  return namespace.put(key, value, { expirationTtl: ttl });
}
const ABSENT = '\0';
function pick(headers, names) {
  let out = '';
  for (const name of names.split('\n')) out += '\n' + (headers.get(name) ?? ABSENT);
  return out;
}
function headerList(lines) {
  const h = new Headers();
  const parts = lines.split('\n');
  for (let i = 0; i + 1 < parts.length; i += 2) h.append(parts[i], parts[i + 1]);
  return h;
}
export function request_head(req, names) { return req.method + '\n' + req.url + pick(req.headers, names); }

// Every header of a message, names lower-case, `Set-Cookie` one line each (the gateway
// forwards them all, and decides which). Each line break-free: the runtime refuses them.
function allHeaders(headers) {
  let out = '';
  for (const [name, value] of headers) {
    if (name !== 'set-cookie') out += (out ? '\n' : '') + name + '\n' + value;
  }
  for (const c of headers.getSetCookie?.() ?? []) out += (out ? '\n' : '') + 'set-cookie\n' + c;
  return out;
}
export function request_headers_all(req) { return allHeaders(req.headers); }
export function response_head_all(resp) {
  const h = allHeaders(resp.headers);
  return resp.status + (h ? '\n' + h : '');
}

// The gateway's request to the app: the incoming body passed as a stream (never read here),
// no redirect followed (a Location goes back to the browser, and the identity headers never
// to another host), nothing cached (the cache key holds neither cookies nor identity), and a
// timeout on the answer's head only: once it has come, its body streams for as long as it
// lasts. Rejects with "timeout" when the head did not come in time. `withBody`: the core's
// decision (never for GET, HEAD or a forwarded preflight).
export function forward(url, method, headers, req, withBody, ms, sharedKey) {
  return sharedKey ? forwardShared(sharedKey, url, method, headers, req, withBody, ms) : forwardToApp(url, method, headers, req, withBody, ms);
}
// A `cache = "shared"` rule's GET: the edge location's cache first (the Cache API, keyed by
// the public URL the core gives; a no-op on workers.dev), then the app. An answer from the cache is remembered so
// the glue can say so (`from_cache`); whether the app's answer is kept is the core's call
// (`keep_shared`).
const cachedAnswers = new WeakSet();
async function forwardShared(key, url, method, headers, req, withBody, ms) {
  const hit = await globalThis.caches?.default.match(key).catch(() => undefined);
  if (hit) {
    cachedAnswers.add(hit);
    return hit;
  }
  return forwardToApp(url, method, headers, req, withBody, ms);
}
export function from_cache(resp) { return cachedAnswers.has(resp); }
// The app's answer kept under the key after the response (its body teed: one branch to the
// browser, one to the cache); a failure is logged, never the request's. Kept decoded: the
// runtime hands a body over decoded and encodes it again for a `Content-Encoding` it is sent
// with, so an entry stored with the app's encoding would come back encoded twice (a hit
// measured so in wrangler dev: scripts a browser could not parse). The edge compresses the
// answer for the browser as it does any other.
export function keep_shared(ctx, key, resp) {
  const cache = globalThis.caches?.default;
  if (!cache) return;
  const copy = resp.clone();
  const headers = new Headers(copy.headers);
  headers.delete("content-encoding");
  headers.delete("content-length");
  ctx.waitUntil(cache.put(key, new Response(copy.body, { status: copy.status, headers })).catch((e) => console.error(JSON.stringify({ cache_put_error: String(e?.message ?? e) }))));
}
function forwardToApp(url, method, headers, req, withBody, ms) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), ms);
  const body = withBody ? req.body ?? undefined : undefined;
  return fetch(url, { method, headers: headerList(headers), body, redirect: 'manual', cache: 'no-store', signal: ctl.signal })
    .catch((e) => {
      throw ctl.signal.aborted ? 'timeout' : e;
    })
    .finally(() => clearTimeout(timer));
}
// The app's answer with the head the gateway decided: its body (or, for a 101, its socket)
// passed on untouched.
const NULL_BODY = new Set([101, 204, 205, 304]);
export function forwarded_response(resp, status, headers) {
  const init = { status, headers: headerList(headers) };
  if (status === 101) init.webSocket = resp.webSocket;
  return new Response(NULL_BODY.has(status) ? null : resp.body, init);
}
export function response_head(resp, names) { return resp.status + pick(resp.headers, names); }
export function new_response(status, body, headers) {
  return new Response(body === '' ? null : body, { status, headers: headerList(headers) });
}
// The start-up rehearsal's request, without its body: the global scope allows no stream (the
// glue hands the body over itself).
export function rehearsal_request(url, method, headers) {
  return new Request(url, { method, headers: headerList(headers) });
}
export function send(url, method, headers, body, signal) {
  return fetch(url, { method, headers: headerList(headers), body: body ?? undefined, redirect: 'manual', signal });
}

// A body, read as a stream and never past `limit` bytes: the reader is cancelled as soon as
// the count passes it (the runtime decodes gzip/br transparently, so a small declared length
// says nothing of what the stream yields), and at most `limit` bytes are kept here and handed
// to WASM. Resolves with the bytes, or null when the body is larger than the limit.
export async function read_capped(stream, limit) {
  if (!stream) return new Uint8Array(0);
  const reader = stream.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

// A KV read that gives up after `ms`: a slow KV must not hold a request longer than going to
// the network would.
export function kv_text(namespace, key, ms) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`KV read timed out after ${ms} ms`)), ms);
  });
  return Promise.race([namespace.get(key, "text"), late]).finally(() => clearTimeout(timer));
}

// A Rate Limiting binding's verdict on one more request under `key`: a promise of true (go
// on) or false (over the limit).
export function rate_limit(env, name, key) {
  return env[name].limit({ key }).then((outcome) => outcome?.success === true);
}
// What `name` is bound to: 0 nothing, 1 a Rate Limiting binding, 2 something else (a typo
// in wrangler.toml that would otherwise silently mean "no limit").
export function limiter_kind(env, name) {
  const binding = env[name];
  if (binding === undefined) return 0;
  return typeof binding?.limit === "function" ? 1 : 2;
}

// The tag of a KV entry (src/keys/integrity.rs): HMAC-SHA256 under the key HKDF-SHA256
// derives from `secret` with `info` and no salt. The derived key is kept for the isolate (its
// configuration, so its secret, is read once): one derivation per isolate, then one sign per
// tag. Resolves with the 32 bytes.
let macKey = null;
export function entry_tag(secret, info, message) {
  if (macKey?.secret !== secret) {
    const enc = new TextEncoder();
    const key = crypto.subtle
      .importKey("raw", enc.encode(secret), "HKDF", false, ["deriveKey"])
      .then((base) =>
        crypto.subtle.deriveKey(
          { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: enc.encode(info) },
          base,
          { name: "HMAC", hash: "SHA-256", length: 256 },
          false,
          ["sign"],
        ),
      );
    macKey = { secret, key };
  }
  return macKey.key.then((key) => crypto.subtle.sign("HMAC", key, message)).then((tag) => new Uint8Array(tag));
}
