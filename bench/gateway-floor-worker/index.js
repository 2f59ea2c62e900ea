// The gateway's runtime floor: NOT a usable gateway (it checks no claim, strips no header,
// refreshes nothing, handles no error, logs nothing). It does only what no correct gateway
// can skip, each in its cheapest form: one WebCrypto RS256 verify of the session JWT cookie
// with a key imported once per isolate, one header set, one fetch to the app, its answer
// returned as it is. Its CPU per request is what the runtime itself costs for a gateway
// request (HTTP in and out, the subrequest, the signature check); `node bench/ab.mjs` and
// `make bench` measure it beside edge-attest's gateway.
let key;

const b64 = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));

async function importKey(env) {
  const jwks = await (await fetch(`${env.STYTCH_API_BASE}/v1/sessions/jwks/${env.STYTCH_PROJECT_ID}`)).json();
  return crypto.subtle.importKey("jwk", jwks.keys[0], { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["verify"]);
}

export default {
  async fetch(request, env) {
    const jwt = /stytch_session_jwt=([^;]+)/.exec(request.headers.get("cookie") ?? "")?.[1] ?? "..";
    const [h, p, s] = jwt.split(".");
    key ??= importKey(env);
    const ok = await crypto.subtle.verify("RSASSA-PKCS1-v1_5", await key, b64(s), new TextEncoder().encode(`${h}.${p}`));
    if (!ok) return new Response(null, { status: 401 });
    const headers = new Headers(request.headers);
    headers.set("edge-attest-user-id", JSON.parse(new TextDecoder().decode(b64(p))).sub);
    const url = new URL(request.url);
    return fetch(JSON.parse(env.PROTECT)[0].upstream + url.pathname + url.search, { method: request.method, headers, redirect: "manual" });
  },
};
