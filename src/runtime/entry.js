// The worker's entry module, copied to build/index.js by scripts/build.sh next to the
// wasm-bindgen output in build/glue/.
//
// A plain handler object, not worker-build's default entry: that one exports a
// WorkerEntrypoint class, which workerd constructs for every request, behind Proxies that
// re-wrap each method on every access. Measured in workerd, it cost about 19 µs CPU per
// request (/healthz 125 -> 106 µs).
import { WorkerEntrypoint, env as moduleEnv } from "cloudflare:workers";
import { fetch, scheduled, binding_session, binding_authorize, prepare_isolate, __wbg_reset_state } from "./glue/index.js";

// A Rust panic is a WASM trap (`panic = "abort"`), after which the module's memory may be
// half-updated. Whoever sees the RuntimeError (here, or the promise callbacks of
// src/runtime/promise.js) sets this flag and fails every request still in flight on the
// instance (src/runtime/glue.js), and the next request first replaces the instance with a
// fresh one. The old instance's callbacks refuse to run once it is replaced.
const TRAPPED = Symbol.for("edge-attest.wasm-trapped");
const FAIL_IN_FLIGHT = Symbol.for("edge-attest.fail-in-flight");

// What a request answers when the worker failed under it: JSON like every other error.
const INTERNAL_ERROR = JSON.stringify({
  error: "internal_error",
  error_description: "The worker failed while handling this request; try again.",
});
function internalError() {
  return new Response(INTERNAL_ERROR, {
    status: 500,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

// The configuration read, the isolate set up and the start-up rehearsal played now, at module
// evaluation, rather than on the first request (src/runtime/glue.rs `prepare_isolate`). Should
// any of it throw, a trap or any other exception (one that crossed the WASM frames may leave the
// request executor mid-callback), the instance is marked for replacement: the first request
// starts from a fresh one and sets the isolate up as before.
try {
  if (moduleEnv) prepare_isolate(moduleEnv);
} catch (e) {
  if (!trapped(e)) {
    globalThis[TRAPPED] = true;
    console.error(JSON.stringify({ start_up_error: String(e?.message ?? e) }));
  }
}

function freshInstanceIfTrapped() {
  if (globalThis[TRAPPED]) {
    globalThis[TRAPPED] = false;
    __wbg_reset_state();
    console.error(JSON.stringify({ wasm_reinitialized: "after a panic" }));
  }
}

function trapped(e) {
  if (e instanceof WebAssembly.RuntimeError) {
    globalThis[TRAPPED] = true;
    globalThis[FAIL_IN_FLIGHT]?.();
    return true;
  }
  return false;
}

// The service binding's entry point for other Workers of the account (docs/gateway.md), by
// the gateway's rules, with no HTTP round trip. `env.AUTH.session(request.headers.get("cookie"))`
// gives the identity the cookies prove (a session this deployment made, at REQUIRED_AAL at
// least): an object with the Edge-Attest-* headers' values (user_id or member_id and
// organization_id, session_id, expires_at, aal, iss, roles, jwt) and `set_cookie`, the
// Set-Cookie values of a refresh for the caller to append to its answer; `null` without one.
// `env.AUTH.authorize(cookie, {require_aal, require_link, roles, organizations})` checks a
// rule's requirements and answers `{session, refusal, set_cookie}`: the session or null, the
// refusal's code, and the cookies to append (a refresh's, or the clearing ones). Both throw
// when the configuration is broken or the session cannot be checked right now (Stytch or its
// keys out of reach, a rate limit): the caller answers 5xx, never "signed out"; authorize also
// for options it cannot read. A class, so workerd constructs it per call; the fetch handler
// stays the plain object below (see the top of this file).
export class EdgeAttest extends WorkerEntrypoint {
  async session(cookieHeader) {
    const text = await this.#call(() => binding_session(cookieText(cookieHeader), this.env, this.ctx));
    return text === null ? null : JSON.parse(text);
  }

  async authorize(cookieHeader, options) {
    const json = optionsText(options);
    return JSON.parse(await this.#call(() => binding_authorize(cookieText(cookieHeader), json, this.env, this.ctx)));
  }

  async #call(run) {
    freshInstanceIfTrapped();
    try {
      return await run();
    } catch (e) {
      if (trapped(e)) throw new Error("internal_error: the worker failed while checking the session; try again");
      throw typeof e === "string" ? new Error(e) : e;
    }
  }
}

function cookieText(cookieHeader) {
  return typeof cookieHeader === "string" ? cookieHeader : "";
}

// The options as JSON for the worker's own reader, which refuses what it does not know. What
// JSON.stringify would silently drop is refused here first: options or an option that are
// undefined (a config value the caller never set: `authorize(c, cfg.adminPolicy)`,
// `{roles: cfg.adminRoles}`) or an object JSON cannot hold (a Map becomes `{}`). Either would
// otherwise read as "no requirement" and let everyone in; `{}` asks for the defaults.
function optionsText(options) {
  if (options === undefined || options === null) {
    throw new Error("invalid_request: authorize options must be an object ({} for the defaults)");
  }
  const proto = typeof options === "object" ? Object.getPrototypeOf(options) : undefined;
  if (proto !== Object.prototype && proto !== null) {
    throw new Error("invalid_request: authorize options must be a plain object");
  }
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined) throw new Error(`invalid_request: authorize option ${name} is undefined`);
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      throw new Error(`invalid_request: authorize option ${name} must be a string, a boolean or an array of strings`);
    }
  }
  return JSON.stringify(options);
}

export default {
  fetch(request, env, ctx) {
    freshInstanceIfTrapped();
    try {
      const answer = fetch(request, env, ctx);
      // Attached here, in this request's context: a rejection (this instance failed under
      // the request) becomes this request's own error answer.
      return answer instanceof Promise ? answer.catch(internalError) : answer;
    } catch (e) {
      if (trapped(e)) return internalError();
      throw e;
    }
  },

  // A cron trigger: the key-set prewarm (src/app/prewarm.rs), which writes its own log line.
  // A run that could not renew every key set fails, so that Cloudflare's list of past cron
  // events shows it; it is not retried, the next scheduled run comes soon enough.
  async scheduled(controller, env, ctx) {
    freshInstanceIfTrapped();
    let ok;
    try {
      ok = await scheduled(controller.cron ?? "", env, ctx);
    } catch (e) {
      trapped(e);
      throw e;
    }
    if (!ok) {
      controller.noRetry?.();
      throw new Error("key-set prewarm incomplete: see the run's log line");
    }
  },
};
