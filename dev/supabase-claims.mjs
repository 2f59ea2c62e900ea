// The claims of a Supabase Auth access token (https://supabase.com/docs/guides/auth/jwt-fields;
// GoTrue's internal/tokens/service.go), in one place for
// the Supabase stand-in and the test-fixture generator. `extra` overrides any claim; an
// `undefined` value removes it.
export function supabaseClaims({ iss, iat, exp, sessionId, extra = {} }) {
  const claims = {
    iss,
    sub: "8d8a2b3c-3f0e-4d8e-9d7a-2f6f2c1a0b11",
    aud: "authenticated",
    exp,
    iat,
    email: "ada@example.com",
    phone: "",
    app_metadata: { provider: "email", providers: ["email"] },
    user_metadata: { email_verified: true },
    role: "authenticated",
    aal: "aal1",
    amr: [{ method: "password", timestamp: iat }],
    session_id: sessionId,
    is_anonymous: false,
    ...extra,
  };
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
  return claims;
}
