// Types of edge-attest/client (index.js).

/** The part of a supabase-js client this module uses (`SupabaseClient` satisfies it). */
export interface SupabaseAuthLike {
  auth: {
    onAuthStateChange(
      callback: (event: string, session: { access_token: string } | null) => void,
    ): { data: { subscription: { unsubscribe(): void } } };
    getSession(): Promise<{ data: { session: { access_token: string } | null } }>;
    /** supabase-js's MFA API; when present, no exchange is made while a second factor is owed. */
    mfa?: {
      getAuthenticatorAssuranceLevel(): Promise<{
        data: { currentLevel: string | null; nextLevel: string | null } | null;
      }>;
    };
  };
}

export interface EdgeAttestOptions {
  /** The worker's origin, e.g. "https://app.example.com"; "" (default) for the page's own. */
  url?: string;
  /** `fetch` credentials mode; "include" (default) so the worker's cookies travel. */
  credentials?: RequestCredentials;
  /** Attempts per exchange or logout before giving up, retries included (default 6). */
  maxAttempts?: number;
  /** First backoff delay after a network error or a transient 5xx, doubled each time (default 1000 ms). */
  baseDelayMs?: number;
  /** Longest backoff delay (default 60000 ms). `Retry-After` is honoured as sent. */
  maxDelayMs?: number;
  /** Name of the cross-tab lock (Web Locks) and of the IndexedDB database the tabs share (default "edge-attest"). */
  lockName?: string;
  /** How long another tab's exchange of the same token, or its logout, is adopted (default 30000 ms). */
  shareMs?: number;
  /** The fetch to use (default globalThis.fetch). */
  fetch?: typeof fetch;
  /** A request to the worker that has not answered by then fails as a network error and is retried (default 20000 ms). */
  requestTimeoutMs?: number;
}

/** An answer the worker gave instead of a session. */
export interface EdgeAttestError {
  /** HTTP status; 0 when the request could not be made (offline, CORS). */
  status: number;
  /** The worker's `error` code (`invalid_token`, `rate_limited`, …; `network_error` for status 0). */
  error: string;
  error_description: string;
}

/** What every state carries; which of it is set depends on `status` (see `EdgeAttestState`). */
interface EdgeAttestStateFields {
  /** The Stytch user id (a consumer project; `null` in a B2B one). */
  user_id: string | null;
  /** The Stytch member id (a B2B project; `null` in a consumer one). */
  member_id: string | null;
  /** The organization the member session is in (a B2B project). */
  organization_id: string | null;
  /** The Stytch session id (B2B: the member session id). */
  session_id: string | null;
  /** When the Stytch session ends (RFC 3339). */
  expires_at: string | null;
  /** `true` when the worker answered from the session the browser held (no Stytch call). */
  reused: boolean | null;
  /** Stytch's request id of the exchange that called Stytch. */
  request_id: string | null;
  /** The login's assurance level as the worker verified it (`aal1`, `aal2`; `null` when the provider's tokens have none). */
  aal: string | null;
  error: EdgeAttestError | null;
  /** When the next attempt is made (ms since the epoch), if one is scheduled. */
  retry_at: number | null;
}

/** `signed_in` in a consumer project: the user and the session are known. */
export interface EdgeAttestSignedIn extends EdgeAttestStateFields {
  status: "signed_in";
  user_id: string;
  member_id: null;
  organization_id: null;
  session_id: string;
  expires_at: string;
  error: null;
}

/** `signed_in` in a B2B project: the member, its organization and the session are known. */
export interface EdgeAttestMemberSignedIn extends EdgeAttestStateFields {
  status: "signed_in";
  user_id: null;
  member_id: string;
  organization_id: string;
  session_id: string;
  expires_at: string;
  error: null;
}

/** `error`: the last attempt failed; `error` says how. */
export interface EdgeAttestFailed extends EdgeAttestStateFields {
  status: "error";
  error: EdgeAttestError;
}

/**
 * `signed_out`: no Stytch session held through this module; `exchanging`: a request is in
 * flight (the previous session's fields, if any, are kept meanwhile); `mfa_required`:
 * supabase-js is signed in, but the login still owes its second factor (no session until
 * MFA_CHALLENGE_VERIFIED).
 */
export interface EdgeAttestPending extends EdgeAttestStateFields {
  status: "signed_out" | "exchanging" | "mfa_required";
}

/**
 * The module's state, narrowed by `status`: `signed_in` has a `user_id` (B2B, with
 * `EdgeAttestState<"b2b">`: a `member_id` and an `organization_id`) and a `session_id`;
 * `error` has an `error`.
 */
export type EdgeAttestState<Product extends "consumer" | "b2b" = "consumer"> =
  | (Product extends "b2b" ? EdgeAttestMemberSignedIn : EdgeAttestSignedIn)
  | EdgeAttestFailed
  | EdgeAttestPending;

/** The state with no session: where every client starts, and what server rendering shows. */
export declare const SIGNED_OUT: Readonly<EdgeAttestPending & { status: "signed_out" }>;

export declare class EdgeAttest<Product extends "consumer" | "b2b" = "consumer"> {
  constructor(supabase: SupabaseAuthLike, options?: EdgeAttestOptions);
  /** The current state (a frozen snapshot, the same object until it changes). */
  readonly state: Readonly<EdgeAttestState<Product>>;
  /** Calls `listener` now and on every change; returns the function that stops it. */
  subscribe(listener: (state: Readonly<EdgeAttestState<Product>>) => void): () => void;
  /** Exchanges `accessToken` (default: the supabase session's) now; resolves once settled. */
  exchange(accessToken?: string): Promise<Readonly<EdgeAttestState<Product>>>;
  /** Revokes the Stytch session and clears its cookies; supabase-js stays signed in. Called
   * while a logout is under way (after supabase-js's `signOut()`), resolves when that one is
   * done, with no second request. */
  logout(): Promise<Readonly<EdgeAttestState<Product>>>;
  /** Asks the worker which session the cookies hold (`GET /api/session`), under the cross-tab lock. */
  checkSession(): Promise<Readonly<EdgeAttestState<Product>>>;
  /** Stops listening to supabase-js. */
  detach(): void;
}

/** Attaches to a supabase-js client: its logins are exchanged by the worker at `options.url`. */
export declare function attachEdgeAttest<Product extends "consumer" | "b2b" = "consumer">(
  supabase: SupabaseAuthLike,
  options?: EdgeAttestOptions,
): EdgeAttest<Product>;
