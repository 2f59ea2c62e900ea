// In-workerd micro-benchmark counterpart of edge-attest's /__selftest/verify-loop:
// jose's jwtVerify with a local JWKS, n times in one request.
import { createLocalJWKSet, jwtVerify } from "jose";

export default {
  async fetch(request) {
    const { jwks, token, issuer, now, n } = await request.json();
    const keys = createLocalJWKSet(jwks);
    const options = { issuer, audience: "authenticated", algorithms: ["ES256", "RS256", "EdDSA"], clockTolerance: 30, currentDate: new Date(now * 1000), requiredClaims: ["exp", "iat", "sub"] };
    let verified = 0;
    for (let i = 0; i < n; i++) {
      try {
        const { payload } = await jwtVerify(token, keys, options);
        if (payload.role === "authenticated" && payload.is_anonymous !== true) verified++;
      } catch {}
    }
    return Response.json({ verified });
  },
};
