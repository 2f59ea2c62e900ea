// The JavaScript half of the glue. Each function here replaces a run of WASM↔JS boundary
// crossings with one call: the Rust side passes and receives a few strings and one byte
// array instead of touching Headers, Request and Response objects piece by piece.
// Header names and values cannot contain "\n" in HTTP, so "\n" joins them.
const SEP = "\n";
const ABSENT = "\u0000";

/** console.log from a microtask: called from WASM, the runtime would capture a stack trace
 * through the WASM frames, which costs about as much as the rest of a small request. */
export function log_later(line) {
  queueMicrotask(() => console.log(line));
}

/** "method\nurl\nvalue…" for the named headers, "\u0000" for an absent one. */
export function request_head(req, names) {
  const h = req.headers;
  let out = req.method + SEP + req.url;
  for (const name of names.split(SEP)) {
    const v = h.get(name);
    out += SEP + (v === null ? ABSENT : v);
  }
  return out;
}

function headersFrom(pairs, append) {
  const headers = new Headers();
  if (pairs === "") return headers;
  const p = pairs.split(SEP);
  for (let i = 0; i + 1 < p.length; i += 2) {
    if (append) headers.append(p[i], p[i + 1]);
    else headers.set(p[i], p[i + 1]);
  }
  return headers;
}

/** A Response from a status, "name\nvalue\n…" (appended, so Set-Cookie may repeat) and a body. */
export function make_response(status, pairs, body) {
  return new Response(body === "" ? null : body, { status, headers: headersFrom(pairs, true) });
}

/** Reads a body up to `limit` bytes: one arrayBuffer() when the length is declared, a capped
 * stream read otherwise. Returns null when it is larger. */
async function readCapped(body, declared, arrayBuffer, limit) {
  if (declared !== null) {
    if (Number(declared) > limit) {
      body?.cancel().catch(() => {});
      return null;
    }
    const bytes = new Uint8Array(await arrayBuffer());
    return bytes.byteLength > limit ? null : bytes;
  }
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
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
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

/** The incoming request's body, or null when it is over `limit` bytes. */
export function request_body(req, limit) {
  return readCapped(req.body, req.headers.get("content-length"), () => req.arrayBuffer(), limit);
}

/** fetch with a timeout covering headers and body, no redirects, and a body cap. Resolves
 * to {status, head, body} or {error: "timeout" | "too_large" | "network", message}. */
export async function fetch_capped(url, method, pairs, body, timeoutMs, limit, wanted) {
  const signal = AbortSignal.timeout(timeoutMs);
  const init = { method, headers: headersFrom(pairs, false), redirect: "manual", signal };
  if (body != null) init.body = body;
  try {
    const res = await fetch(url, init);
    const bytes = await readCapped(res.body, res.headers.get("content-length"), () => res.arrayBuffer(), limit);
    if (bytes === null) return { error: "too_large" };
    let head = "";
    for (const name of wanted.split(SEP)) {
      const v = res.headers.get(name);
      head += (head === "" ? "" : SEP) + (v === null ? ABSENT : v);
    }
    return { status: res.status, head, body: bytes };
  } catch (e) {
    return { error: signal.aborted ? "timeout" : "network", message: String(e?.message ?? e) };
  }
}
