// edge-attest/client: keeps the Stytch session the edge-attest worker sets (as cookies) in
// step with a supabase-js login. No dependencies; any browser with fetch.
//
//   import { attachEdgeAttest } from "edge-attest/client";
//   const edge = attachEdgeAttest(supabase, { url: "https://app.example.com" });
//   edge.subscribe((s) => console.log(s.status, s.user_id));
//
// What it does, so that every app does not write it again (and get some of it wrong):
// - exchanges the access token when supabase-js reports a session (INITIAL_SESSION,
//   SIGNED_IN, TOKEN_REFRESHED, USER_UPDATED, MFA_CHALLENGE_VERIFIED, and PASSWORD_RECOVERY,
//   which a recovery link emits instead of SIGNED_IN), logs out on SIGNED_OUT;
// - no exchange while the login waits for its second factor: supabase-js issues an aal1 token
//   after the password step also to users with MFA, and
//   `mfa.getAuthenticatorAssuranceLevel()` then says the current level is below the next one;
//   the state is `mfa_required` (cookies of an earlier login are cleared) until
//   MFA_CHALLENGE_VERIFIED brings the aal2 token;
// - one request in flight per tab; a newer token replaces a waiting one; a token already
//   exchanged is not sent again; work that waited for the cross-tab lock does nothing when a
//   newer intent replaced it meanwhile, and every request has a timeout, so the lock is never
//   held for long;
// - across tabs of one browser (they share the worker's cookies), one exchange per token and
//   one logout per sign-out: the work is serialised with the Web Locks API, and a tab finding
//   that another one just did it adopts the outcome instead of sending a request. The outcome
//   is shared through IndexedDB, written before the lock is released (localStorage would do,
//   but reaches other tabs' processes late); only a SHA-256 fingerprint of the token is
//   shared, never the token;
// - `Retry-After` honoured on 429 and 503; network errors and transient 5xx retried with
//   exponential backoff and jitter, a bounded number of times; a refused token is not retried.

/** The supabase-js auth events that carry a session worth exchanging. */
const EXCHANGE_EVENTS = new Set(["INITIAL_SESSION", "SIGNED_IN", "TOKEN_REFRESHED", "USER_UPDATED", "MFA_CHALLENGE_VERIFIED", "PASSWORD_RECOVERY"]);
/** Assurance levels, lowest first (supabase-js's `currentLevel`/`nextLevel`). */
const LEVELS = ["aal1", "aal2", "aal3"];
/** How long a look at the shared IndexedDB store may take before it counts as "nothing". */
const STORE_TIMEOUT_MS = 2000;
/** Statuses worth another attempt (429 and 503 with their Retry-After, the rest backed off). */
const RETRYABLE = new Set([0, 429, 500, 502, 503, 504]);
/** Error codes that retrying cannot fix even under a retryable status. */
const FINAL_CODES = new Set(["misconfigured"]);

const DEFAULTS = {
  url: "",
  credentials: "include",
  maxAttempts: 6,
  baseDelayMs: 1000,
  maxDelayMs: 60_000,
  lockName: "edge-attest",
  shareMs: 30_000,
  requestTimeoutMs: 20_000,
};

/** The state with no session: where every client starts, and what server rendering shows. */
export const SIGNED_OUT = Object.freeze({
  status: "signed_out",
  user_id: null,
  member_id: null,
  organization_id: null,
  session_id: null,
  expires_at: null,
  reused: null,
  request_id: null,
  aal: null,
  error: null,
  retry_at: null,
});

/**
 * Attaches to a supabase-js client: from now on its logins are exchanged for Stytch sessions
 * by the worker at `options.url`.
 * @param {{ auth: { onAuthStateChange: Function, getSession: Function } }} supabase
 * @param {object} [options] see index.d.ts
 */
export function attachEdgeAttest(supabase, options = {}) {
  return new EdgeAttest(supabase, options);
}

export class EdgeAttest {
  #supabase;
  #opts;
  #fetch;
  #state = SIGNED_OUT;
  #listeners = new Set();
  #subscription = null;
  /** The latest thing asked for: { kind: "exchange", token, force } or { kind: "logout" }. */
  #wanted = null;
  /** Callbacks of explicit calls, resolved when the intent they asked for settles. */
  #waiters = [];
  #running = false;
  /** The last token exchanged successfully (or refused: not worth sending again). */
  #done = null;
  #wake = null;
  #detached = false;

  constructor(supabase, options = {}) {
    this.#supabase = supabase;
    this.#opts = { ...DEFAULTS, ...options };
    this.#opts.url = String(this.#opts.url).replace(/\/+$/, "");
    this.#fetch = this.#opts.fetch ?? globalThis.fetch.bind(globalThis);
    const { data } = supabase.auth.onAuthStateChange((event, session) => this.#onAuth(event, session));
    this.#subscription = data?.subscription ?? null;
  }

  /** The current state (a frozen snapshot). */
  get state() {
    return this.#state;
  }

  /** Calls `listener(state)` now and on every change; returns the function that stops it. */
  subscribe(listener) {
    this.#listeners.add(listener);
    listener(this.#state);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Exchanges `accessToken` (default: the supabase session's) now, even if it was exchanged
   * before; resolves with the state once done (retries included).
   */
  async exchange(accessToken) {
    const token = accessToken ?? (await this.#supabase.auth.getSession()).data?.session?.access_token;
    if (!token) return this.#state;
    return this.#ask({ kind: "exchange", token, force: true });
  }

  /**
   * Revokes the Stytch session and clears its cookies (supabase-js stays signed in). While a
   * logout is under way (supabase-js's SIGNED_OUT started one), resolves when that one is done.
   */
  logout() {
    return this.#ask({ kind: "logout", force: true });
  }

  /**
   * Asks the worker which session the cookies hold (`GET /api/session`), under the cross-tab
   * lock: a refresh it causes cannot land after another tab's exchange replaced the session.
   */
  checkSession() {
    return this.#withLock(async () => {
      const res = await this.#request("GET", "/api/session");
      if (res.status === 200) this.#set(signedIn(res.body));
      else if (res.status === 401) this.#set(SIGNED_OUT);
      else this.#set({ ...this.#state, error: errorOf(res), retry_at: null });
      return this.#state;
    });
  }

  /** Stops listening to supabase-js and drops what was waiting. */
  detach() {
    this.#detached = true;
    this.#subscription?.unsubscribe();
    this.#wanted = null;
    this.#wake?.();
    for (const w of this.#waiters.splice(0)) w(this.#state);
  }

  #onAuth(event, session) {
    if (this.#detached) return;
    if (event === "SIGNED_OUT") {
      this.#ask({ kind: "logout", force: false });
    } else if (EXCHANGE_EVENTS.has(event) && session?.access_token) {
      this.#ask({ kind: "exchange", token: session.access_token, force: false });
    } else if (event === "INITIAL_SESSION" && !session) {
      this.#set(SIGNED_OUT);
    }
  }

  #ask(intent) {
    if (this.#detached) return Promise.resolve(this.#state);
    // A logout asked while one is wanted (supabase-js's SIGNED_OUT started it, and the app
    // calls logout() to wait for it) joins that one: it ends the same session, once.
    if (intent.kind === "logout" && this.#wanted?.kind === "logout") return new Promise((resolve) => this.#waiters.push(resolve));
    const same = !intent.force && intent.kind === "exchange" && (intent.token === this.#done || intent.token === this.#wanted?.token);
    if (same) return Promise.resolve(this.#state);
    this.#wanted = intent;
    const settled = new Promise((resolve) => this.#waiters.push(resolve));
    this.#wake?.(); // a retry waiting out its delay goes on with the newer intent at once
    this.#pump();
    return settled;
  }

  async #pump() {
    if (this.#running) return;
    this.#running = true;
    try {
      let attempt = 0;
      let last = null;
      while (this.#wanted && !this.#detached) {
        const intent = this.#wanted;
        if (intent !== last) attempt = 0;
        last = intent;
        attempt += 1;
        // Work that waited for the lock is not done once a newer intent has replaced it.
        const failure = await this.#withLock(() => (this.#wanted !== intent ? null : intent.kind === "logout" ? this.#logoutOnce(intent) : this.#exchangeOnce(intent)));
        if (this.#wanted !== intent) continue; // superseded while in flight: the newer one next
        const retryIn = failure && attempt < this.#opts.maxAttempts ? this.#retryDelay(failure, attempt) : undefined;
        if (retryIn !== undefined) {
          this.#set({ ...this.#state, status: "error", error: failure.error, retry_at: Date.now() + retryIn });
          await this.#sleep(retryIn);
          continue;
        }
        if (failure) {
          // Final: what was signed in before is no longer known to be.
          this.#set({ ...SIGNED_OUT, status: intent.kind === "logout" ? "signed_out" : "error", error: failure.error });
        }
        if (intent.kind === "exchange") this.#done = intent.token;
        this.#wanted = null;
        for (const w of this.#waiters.splice(0)) w(this.#state);
      }
    } finally {
      this.#running = false;
    }
  }

  /** One exchange (or the outcome another tab just had for this token); the failure, if any. */
  async #exchangeOnce(intent) {
    const fp = await fingerprint(intent.token);
    const shared = !intent.force && fp && (await this.#shared("last"));
    if (this.#wanted !== intent) return null; // replaced while looking: the newer one next
    if (shared && shared.fp === fp && Date.now() - shared.at < this.#opts.shareMs) {
      this.#set(shared.state);
      return null;
    }
    if (await this.#secondFactorPending()) {
      if (this.#wanted !== intent) return null;
      // The password step of a login with a second factor: no Stytch session before the
      // challenge. Whatever session the cookies hold is an earlier login's: it goes.
      await this.#request("POST", "/api/logout");
      await this.#share("last", null);
      this.#set({ ...SIGNED_OUT, status: "mfa_required" });
      return null;
    }
    if (this.#wanted !== intent) return null;
    this.#set({ ...this.#state, status: "exchanging", retry_at: null });
    const res = await this.#request("POST", "/api/exchange", { access_token: intent.token });
    if (res.status !== 200) return { res, error: errorOf(res) };
    const state = signedIn(res.body);
    this.#set(state);
    if (fp) await this.#share("last", { fp, at: Date.now(), state });
    await this.#share("logout", null); // a sign-out before this one is no reason to skip the next
    return null;
  }

  /** One logout (or none, when another tab just made it); the failure, if any. */
  async #logoutOnce(intent) {
    const shared = !intent.force && (await this.#shared("logout"));
    if (this.#wanted !== intent) return null;
    this.#done = null;
    if (shared && Date.now() - shared.at < this.#opts.shareMs) {
      this.#set(SIGNED_OUT);
      return null;
    }
    const res = await this.#request("POST", "/api/logout");
    await this.#share("last", null);
    if (res.status !== 200) return { res, error: errorOf(res) };
    await this.#share("logout", { at: Date.now() });
    this.#set(SIGNED_OUT);
    return null;
  }

  /** Milliseconds before attempt `attempt + 1`, or undefined when retrying cannot help. */
  #retryDelay({ res, error }, attempt) {
    if (!RETRYABLE.has(res.status) || FINAL_CODES.has(error.error)) return undefined;
    const after = retryAfterMs(res.retryAfter);
    if (after !== undefined && (res.status === 429 || res.status === 503)) return after;
    const exp = Math.min(this.#opts.maxDelayMs, this.#opts.baseDelayMs * 2 ** (attempt - 1));
    return Math.round(exp * (0.5 + Math.random() / 2));
  }

  /**
   * Whether supabase-js says this login still owes its second factor: the current assurance
   * level below the next one (a user with a verified factor after the password step).
   * Unknown (an older supabase-js, an error, no answer in time) counts as no: the worker's own
   * rules (REQUIRED_AAL, mfa_enrolled_claim) are what enforce assurance.
   */
  async #secondFactorPending() {
    const mfa = this.#supabase.auth?.mfa;
    if (typeof mfa?.getAuthenticatorAssuranceLevel !== "function") return false;
    try {
      const { data } = await withTimeout(mfa.getAuthenticatorAssuranceLevel(), this.#opts.requestTimeoutMs);
      return LEVELS.indexOf(data?.currentLevel) < LEVELS.indexOf(data?.nextLevel);
    } catch {
      return false;
    }
  }

  async #request(method, path, body) {
    try {
      const res = await this.#fetch(`${this.#opts.url}${path}`, {
        method,
        credentials: this.#opts.credentials,
        headers: body ? { "content-type": "application/json" } : undefined,
        body: body ? JSON.stringify(body) : undefined,
        // Bounded, so that the cross-tab lock is never held by a stalled connection.
        signal: AbortSignal.timeout(this.#opts.requestTimeoutMs),
      });
      let json = null;
      try {
        json = await res.json();
      } catch {}
      return { status: res.status, body: json ?? {}, retryAfter: res.headers.get("retry-after") };
    } catch (e) {
      // The browser refused or could not make the request (offline, DNS, CORS), or it timed out.
      const why = e?.name === "TimeoutError" ? `no answer within ${this.#opts.requestTimeoutMs} ms` : String(e?.message ?? e);
      return { status: 0, body: { error: "network_error", error_description: why }, retryAfter: null };
    }
  }

  /** Runs `work` holding the cross-tab lock when the browser has one. */
  #withLock(work) {
    const locks = globalThis.navigator?.locks;
    return locks ? locks.request(this.#opts.lockName, work) : work();
  }

  /** What another tab shared under `what` (null when nothing, nowhere to share, or too slow). */
  async #shared(what) {
    try {
      return (await withTimeout(sharedStore(this.#opts.lockName).then((store) => store?.get(what)), STORE_TIMEOUT_MS)) ?? null;
    } catch {
      return null;
    }
  }

  /** Shares `value` (null: forgets it) with the other tabs, before the lock is released. */
  async #share(what, value) {
    try {
      await withTimeout(sharedStore(this.#opts.lockName).then((store) => store?.set(what, value)), STORE_TIMEOUT_MS);
    } catch {}
  }

  /** Waits `ms`, or less if a newer intent (or detach) wakes it. */
  #sleep(ms) {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }

  #set(state) {
    this.#state = Object.freeze({ ...SIGNED_OUT, ...state });
    for (const l of this.#listeners) {
      try {
        l(this.#state);
      } catch (e) {
        console.error(e);
      }
    }
  }
}

function signedIn(body) {
  return {
    status: "signed_in",
    user_id: body.user_id ?? null,
    member_id: body.member_id ?? null,
    organization_id: body.organization_id ?? null,
    session_id: body.session_id ?? null,
    expires_at: body.expires_at ?? null,
    reused: typeof body.reused === "boolean" ? body.reused : null,
    request_id: typeof body.request_id === "string" ? body.request_id : null,
    aal: typeof body.aal === "string" ? body.aal : null,
    error: null,
    retry_at: null,
  };
}

/** `promise`, or a rejection after `ms`. */
function withTimeout(promise, ms) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

function errorOf(res) {
  return {
    status: res.status,
    error: typeof res.body?.error === "string" ? res.body.error : "unexpected_answer",
    error_description: typeof res.body?.error_description === "string" ? res.body.error_description : `HTTP ${res.status}`,
  };
}

/** `Retry-After` in milliseconds: delay-seconds or an HTTP date; undefined when absent. */
function retryAfterMs(value) {
  if (value == null || value === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** Per lock name, the store tabs share outcomes through. */
const stores = new Map();

/**
 * A tiny key-value store every tab of the origin sees at once: an IndexedDB object store
 * (its writes are visible to the next reader as soon as their transaction completes); null
 * where there is none (then tabs share nothing, and only serialise).
 */
function sharedStore(name) {
  if (!stores.has(name)) stores.set(name, openStore(name));
  return stores.get(name);
}

function openStore(name) {
  const idb = globalThis.indexedDB;
  if (!idb) return Promise.resolve(null);
  return new Promise((resolve) => {
    const open = idb.open(name, 1);
    open.onupgradeneeded = () => open.result.createObjectStore("shared");
    open.onerror = () => resolve(null);
    open.onblocked = () => resolve(null);
    open.onsuccess = () => {
      const db = open.result;
      const run = (mode, act) =>
        new Promise((done, fail) => {
          const tx = db.transaction("shared", mode);
          const req = act(tx.objectStore("shared"));
          tx.oncomplete = () => done(req.result);
          tx.onerror = tx.onabort = () => fail(tx.error);
        });
      resolve({
        get: (key) => run("readonly", (s) => s.get(key)),
        set: (key, value) => run("readwrite", (s) => (value === null ? s.delete(key) : s.put(value, key))),
      });
    };
  });
}

/** A SHA-256 fingerprint of a token (what tabs compare; the token itself is never stored). */
async function fingerprint(token) {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return null;
  const digest = await subtle.digest("SHA-256", new TextEncoder().encode(token));
  return [...new Uint8Array(digest).slice(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
