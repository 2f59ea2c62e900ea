// Who is signed in, for server components and route handlers: the Stytch session JWT the
// edge-attest gateway forwards in `Edge-Attest-Jwt`, verified against Stytch's public session
// keys. The plain `Edge-Attest-User-Id` and the like are never read: a request that reached
// this server another way than through the gateway proves nothing with them.
import { verifyEdgeAttest } from "edge-attest/server";

/** The identity the request's `Edge-Attest-Jwt` proves, or null. `source`: `await headers()`, or a route handler's `request`. */
export function identityOf(source) {
  return verifyEdgeAttest(source, {
    projectId: process.env.STYTCH_PROJECT_ID,
    // The worker's STYTCH_API_BASE: unset for Stytch itself (test.stytch.com for test projects).
    apiBase: process.env.STYTCH_API_BASE || undefined,
  });
}
