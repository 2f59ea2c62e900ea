// Types of edge-attest/server (index.js).

/** What the request's headers come in: a `Request`, a `Headers`, anything with `headers`
 * (Node's `IncomingMessage`, Express's `req`, Next.js's `NextRequest`), or a plain object. */
export type HeadersSource =
  | { get(name: string): string | null }
  | { headers: { get(name: string): string | null } | Record<string, string | string[] | undefined> }
  | Record<string, string | string[] | undefined>;

export interface VerifyEdgeAttestOptions {
  /** The Stytch project id, `project-test-…` or `project-live-…`. */
  projectId: string;
  /** Stytch's API origin, as the worker's `STYTCH_API_BASE` (a custom domain, or a stand-in):
   * default https://api.stytch.com for live ids, https://test.stytch.com otherwise. http only
   * for loopback hosts. */
  apiBase?: string;
  /** `"b2b"` for a Stytch B2B project (member sessions in organizations). Default `"consumer"`. */
  product?: "consumer" | "b2b";
  /** The lowest assurance level of the login the session was made for. Default `"aal1"`. */
  requireAal?: "aal1" | "aal2";
  /** Only sessions the worker made for a login (its `edge_attest` claim), as the gateway's
   * `require_link`. Default `true`. */
  requireLink?: boolean;
  /** B2B: the organizations a member may be in: ids (`organization-test-…`) match ids only,
   * anything else matches slugs only. Default: any. */
  organizations?: string[];
  /** The fetch to use for Stytch's key set (default `globalThis.fetch`). */
  fetch?: typeof fetch;
  /** The clock, in ms since the epoch (default `Date.now`). */
  now?: () => number;
}

/** The login the session was made for: the worker's `edge_attest` claim. */
export interface EdgeAttestLink {
  /** The identity provider's issuer. */
  iss: string;
  /** The user at the identity provider. */
  sub: string;
  /** The provider's login (Supabase's `session_id`), when its tokens name one. */
  session_id: string | null;
  /** The login's assurance level, when its provider's tokens carry one. */
  aal: "aal1" | "aal2" | null;
  /** B2B: the organization the worker asked Stytch for, when it named one. */
  organization?: string;
}

interface IdentityCommon {
  /** The Stytch session id (B2B: the member session id). */
  session_id: string;
  /** When the Stytch session ends (RFC 3339). */
  expires_at: string;
  /** The assurance level of the login the session was made for (`null` without a link). */
  aal: "aal1" | "aal2" | null;
  link: EdgeAttestLink | null;
  /** The session's Stytch RBAC roles. */
  roles: string[];
}

/** A consumer project's identity, named as `GET /api/session` names it. */
export interface EdgeAttestUser extends IdentityCommon {
  user_id: string;
}

/** A B2B project's identity. */
export interface EdgeAttestMember extends IdentityCommon {
  member_id: string;
  organization_id: string;
}

export type EdgeAttestIdentity = EdgeAttestUser | EdgeAttestMember;

/**
 * The identity `Edge-Attest-Jwt` proves, verified against Stytch's session keys, or `null`
 * (no JWT, one that does not verify, has expired, is another project's, lacks the worker's
 * link, or fails `requireAal` / `organizations`). Plain `Edge-Attest-*` headers are never
 * read. Rejects with `EdgeAttestUnavailableError` when Stytch's keys cannot be had (answer
 * 503), and with `TypeError` for options it cannot use.
 */
export declare function verifyEdgeAttest(
  source: HeadersSource,
  options: VerifyEdgeAttestOptions & { product: "b2b" },
): Promise<EdgeAttestMember | null>;
export declare function verifyEdgeAttest(
  source: HeadersSource,
  options: VerifyEdgeAttestOptions & { product?: "consumer" },
): Promise<EdgeAttestUser | null>;

export declare class EdgeAttestUnavailableError extends Error {
  readonly code: "jwks_unavailable";
}

/** The session the edge-attest service binding answers with (docs/gateway.md). */
export interface EdgeAttestBindingSession {
  /** Consumer projects. */
  user_id?: string;
  /** B2B projects. */
  member_id?: string;
  organization_id?: string;
  session_id: string;
  expires_at: string;
  aal: "aal1" | "aal2" | null;
  /** The identity provider's issuer of the login, when the session carries the worker's link. */
  iss: string | null;
  roles: string[];
  /** The Stytch session JWT. */
  jwt: string;
}

/** The rule fields `authorize` checks, read as `PROTECT` reads them. */
export interface EdgeAttestRequirements {
  require_aal?: "aal1" | "aal2";
  require_link?: boolean;
  roles?: string[];
  organizations?: string[];
}

/**
 * The worker's RPC entrypoint `EdgeAttest`, for another Worker bound to it:
 * `[[services]] binding = "AUTH", service = "edge-attest", entrypoint = "EdgeAttest"`, then
 * `interface Env { AUTH: EdgeAttestBinding }`.
 */
export interface EdgeAttestBinding {
  /** The session the cookies prove, or null; `set_cookie` holds a refresh's cookies. Throws
   * `Error("<code>: <description>")` when the session cannot be checked right now. */
  session(cookieHeader: string): Promise<(EdgeAttestBindingSession & { set_cookie: string[] }) | null>;
  /** The same, judged by `options` as a `PROTECT` rule would be. */
  authorize(
    cookieHeader: string,
    options?: EdgeAttestRequirements,
  ): Promise<{
    session: EdgeAttestBindingSession | null;
    refusal: null | "unauthenticated" | "insufficient_user_authentication" | "forbidden";
    set_cookie: string[];
  }>;
}
