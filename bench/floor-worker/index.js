// The runtime floor: NOT a usable worker (it checks no claim, handles no error, logs
// nothing). It does only what no correct implementation of the exchange can skip, each in
// its cheapest form: read the body, one WebCrypto ES256 verify with a key imported once per
// isolate, one fetch to Stytch's attest with a timeout, parse Stytch's JSON answer, answer
// with a JSON body and the two cookies. Its CPU per exchange is what the runtime itself
// costs (HTTP in and out, the subrequest, the signature check); `make bench` measures it
// beside the two real workers to show how much of each is theirs.
let key; // one imported key per isolate, like jose's cache and edge-attest's

const b64 = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));

async function importKey(env) {
  const jwks = await (await fetch(`${env.SUPABASE_URL}/auth/v1/.well-known/jwks.json`)).json();
  const jwk = jwks.keys.find((k) => k.alg === "ES256");
  return crypto.subtle.importKey("jwk", jwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
}

export default {
  async fetch(request, env) {
    const { access_token: token } = await request.json();
    key ??= await importKey(env);
    const dot = token.lastIndexOf(".");
    const ok = await crypto.subtle.verify(
      { name: "ECDSA", hash: "SHA-256" },
      key,
      b64(token.slice(dot + 1)),
      new TextEncoder().encode(token.slice(0, dot)),
    );
    if (!ok) return new Response("bad signature", { status: 401 });
    const res = await fetch(`${env.STYTCH_API_BASE}/v1/sessions/attest`, {
      method: "POST",
      headers: { authorization: "Basic " + btoa(`${env.STYTCH_PROJECT_ID}:${env.STYTCH_SECRET}`), "content-type": "application/json" },
      body: JSON.stringify({ profile_id: env.STYTCH_PROFILE_ID, token, session_duration_minutes: 60 }),
      signal: AbortSignal.timeout(5000),
    });
    const s = await res.json();
    const headers = new Headers({ "content-type": "application/json", "cache-control": "no-store" });
    headers.append("set-cookie", `stytch_session=${s.session_token}; Path=/; Max-Age=3600; Secure; HttpOnly; SameSite=Lax`);
    headers.append("set-cookie", `stytch_session_jwt=${s.session_jwt}; Path=/; Max-Age=3600; Secure; HttpOnly; SameSite=Lax`);
    return new Response(JSON.stringify({ user_id: s.user_id, session_id: s.session.session_id, expires_at: s.session.expires_at, request_id: s.request_id }), { headers });
  },
};
