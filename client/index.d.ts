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
  /** Name of the cross-tab lock and prefix of the localStorage keys (default "edge-attest"). */
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

export interface EdgeAttestState {
  /**
   * `signed_out`: no Stytch session held through this module; `exchanging`: a request is in
   * flight; `signed_in`: the worker answered with a session; `mfa_required`: supabase-js is
   * signed in, but the login still owes its second factor (no session until
   * MFA_CHALLENGE_VERIFIED); `error`: the last attempt failed (see `error`, and `retry_at`
   * when another attempt is scheduled).
   */
  status: "signed_out" | "exchanging" | "signed_in" | "mfa_required" | "error";
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

export declare class EdgeAttest {
  constructor(supabase: SupabaseAuthLike, options?: EdgeAttestOptions);
  /** The current state (a frozen snapshot). */
  readonly state: Readonly<EdgeAttestState>;
  /** Calls `listener` now and on every change; returns the function that stops it. */
  subscribe(listener: (state: Readonly<EdgeAttestState>) => void): () => void;
  /** Exchanges `accessToken` (default: the supabase session's) now; resolves once settled. */
  exchange(accessToken?: string): Promise<Readonly<EdgeAttestState>>;
  /** Revokes the Stytch session and clears its cookies; supabase-js stays signed in. */
  logout(): Promise<Readonly<EdgeAttestState>>;
  /** Asks the worker which session the cookies hold (`GET /api/session`), under the cross-tab lock. */
  checkSession(): Promise<Readonly<EdgeAttestState>>;
  /** Stops listening to supabase-js. */
  detach(): void;
}

/** Attaches to a supabase-js client: its logins are exchanged by the worker at `options.url`. */
export declare function attachEdgeAttest(supabase: SupabaseAuthLike, options?: EdgeAttestOptions): EdgeAttest;
