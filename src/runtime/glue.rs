//! The Workers runtime side: adapts the runtime to the core's traits and calls
//! [`Services::handle`]. Nothing here decides anything.
//!
//! The hot path talks to `web_sys` directly rather than through `worker`'s wrappers: each
//! wrapper call crosses the WASM/JS boundary, and the request only needs a handful of
//! crossings (the URL, five headers, one `arrayBuffer()`, the attest `fetch`, the response).
//! `worker` still provides `Env` and timers.

use crate::app::limits::{Limit, RateLimiter};
use crate::app::rehearsal::{Rehearsal, RehearsalRequest};
use crate::app::routes::Route;
use crate::app::{IsolateNotes, Refreshes, Services};
use crate::config::{Config, ConfigError};
use crate::gateway::forward::shared_cacheable;
use crate::http::wire;
use crate::http::{
    AllHeaders, Answer, BodyError, BodySource, ForwardRequest, Forwarded, Forwarder, HttpClient,
    IncomingRequest, LogLevel, Method, OutboundRequest, OutboundResponse, Platform,
    REQUEST_HEADERS, RESPONSE_HEADERS, Response as CoreResponse, TransportError,
};
use crate::keys::cache::{JwksMemory, KV_CLOCK_TOLERANCE_MS, KvStore};
use crate::runtime::promise::{js_message, settled};
use crate::runtime::task::{self, Started};
use crate::runtime::webcrypto::WebCryptoBackend;
use js_sys::{Promise, Uint8Array};
use std::cell::{OnceCell, RefCell};
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::AbortSignal;
#[cfg(feature = "selftest")]
use worker::Request;
use worker::{Delay, Env, console_error};

#[wasm_bindgen(module = "/src/runtime/glue.js")]
extern "C" {
    /// `console.log`, `console.warn` or `console.error` (`level`: a [`LogLevel`]) from a
    /// promise reaction, with no WASM frames on the stack: called directly from WASM the
    /// runtime captures a stack trace through the WASM frames, which measured about 55 µs per
    /// line in workerd, as much as the rest of a `/healthz` request. (Not `queueMicrotask`: in
    /// workerd that wraps the callback in a native function.)
    fn log_later(line: &str, level: u8);
    /// `Promise.withResolvers()`: the answer to a request that had to wait for I/O.
    fn deferred() -> JsValue;
    fn promise_of(deferred: &JsValue) -> Promise;
    fn settle(deferred: &JsValue, value: &JsValue, ok: bool);
    // The helpers below each replace several boundary crossings (and as many strings
    // decoded from WASM memory) with one: lists travel as one string of `\n`-separated
    // fields (HTTP forbids line breaks in methods, URLs and header values), an absent header
    // as `\0`. Each may throw (a header the runtime refuses, a status out of range), so each
    // is `catch`: a JS exception must never unwind through the WASM frames of a poll.
    /// Method, URL, then the value of each header in `names`.
    #[wasm_bindgen(catch)]
    fn request_head(req: &web_sys::Request, names: &str) -> Result<String, JsValue>;
    /// Status, then the value of each header in `names`.
    #[wasm_bindgen(catch)]
    fn response_head(resp: &web_sys::Response, names: &str) -> Result<String, JsValue>;
    /// A response; `headers` alternates names and values, appended in order.
    #[wasm_bindgen(catch)]
    fn new_response(status: u16, body: &str, headers: &str) -> Result<web_sys::Response, JsValue>;
    /// A request as the runtime would pass one, without a body (the start-up rehearsal's);
    /// `headers` as for [`new_response`].
    #[wasm_bindgen(catch)]
    fn rehearsal_request(
        url: &str,
        method: &str,
        headers: &str,
    ) -> Result<web_sys::Request, JsValue>;
    /// Every header of a request: names and values alternating, `\n`-separated.
    #[wasm_bindgen(catch)]
    fn request_headers_all(req: &web_sys::Request) -> Result<String, JsValue>;
    /// The status, then every header of a response as [`request_headers_all`] gives them.
    #[wasm_bindgen(catch)]
    fn response_head_all(resp: &web_sys::Response) -> Result<String, JsValue>;
    /// The gateway's `fetch` to the app with `req`'s body streamed (`with_body`) or none: a
    /// promise of the answer, rejected with `"timeout"` when its head does not come within
    /// `ms`; with `shared` (a cache key), the edge location's cache's answer for it when it
    /// has one.
    #[wasm_bindgen(catch)]
    fn forward(
        url: &str,
        method: &str,
        headers: &str,
        req: &web_sys::Request,
        with_body: bool,
        ms: u32,
        shared: Option<&str>,
    ) -> Result<Promise, JsValue>;
    /// Whether `forward` answered `resp` from the edge location's cache.
    #[wasm_bindgen(catch)]
    fn from_cache(resp: &web_sys::Response) -> Result<bool, JsValue>;
    /// `ctx.waitUntil` of keeping `resp` (teed) in the edge location's cache under `key`.
    #[wasm_bindgen(catch)]
    fn keep_shared(
        ctx: &worker::worker_sys::Context,
        key: &str,
        resp: &web_sys::Response,
    ) -> Result<(), JsValue>;
    /// The app's answer `resp` with this status and these headers, its body untouched.
    #[wasm_bindgen(catch)]
    fn forwarded_response(
        resp: &web_sys::Response,
        status: u16,
        headers: &str,
    ) -> Result<web_sys::Response, JsValue>;
    /// `fetch` without following redirects; `headers` as for [`new_response`].
    #[wasm_bindgen(catch)]
    fn send(
        url: &str,
        method: &str,
        headers: &str,
        body: Option<&str>,
        signal: &AbortSignal,
    ) -> Result<Promise, JsValue>;
    /// A body stream read up to `limit` bytes: the bytes, or `null` past the limit.
    #[wasm_bindgen(catch)]
    fn read_capped(
        stream: Option<&web_sys::ReadableStream>,
        limit: u32,
    ) -> Result<Promise, JsValue>;
    /// `namespace.get(key, "text")`, rejected after `ms`.
    #[wasm_bindgen(catch)]
    fn kv_text(namespace: &JsValue, key: &str, ms: u32) -> Result<Promise, JsValue>;
    /// `namespace.put(key, value, {expirationTtl})`.
    #[wasm_bindgen(catch)]
    fn kv_put(namespace: &JsValue, key: &str, value: &str, ttl: u32) -> Result<Promise, JsValue>;
    /// `env[name].limit({key})` as a promise of a boolean.
    #[wasm_bindgen(catch)]
    fn rate_limit(env: &JsValue, name: &str, key: &str) -> Result<Promise, JsValue>;
    /// 0: `env[name]` is unset; 1: a Rate Limiting binding; 2: something else.
    fn limiter_kind(env: &JsValue, name: &str) -> u8;
    /// `ctx.waitUntil(...)` of a read of `key` and, unless it holds an entry fetched at or
    /// after `fetched_at_ms` (and not beyond now plus `tolerance_ms`), `namespace.put(key,
    /// value, {expirationTtl})`; failures logged.
    #[wasm_bindgen(catch)]
    fn kv_put_newer_later(
        ctx: &worker::worker_sys::Context,
        namespace: &JsValue,
        key: &str,
        value: &str,
        ttl: u32,
        fetched_at_ms: f64,
        tolerance_ms: u32,
    ) -> Result<(), JsValue>;
}

/// The KV namespace binding that holds the shared JWKS cache.
pub const JWKS_BINDING: &str = "JWKS_CACHE";

/// Everything that lives as long as the isolate.
pub(crate) struct IsolateState {
    /// Shared with the start-up rehearsal's state (a clone of the configuration would cost
    /// the WASM its `Clone` code).
    pub(crate) config: Rc<Result<Config, ConfigError>>,
    pub(crate) jwks: RefCell<JwksMemory>,
    pub(crate) backend: Result<WebCryptoBackend, String>,
    /// Which rate-limit bindings exist (`[ip, user]`): without one, no check crosses to JS.
    pub(crate) limiters: [bool; 2],
    /// What the isolate has logged once.
    pub(crate) notes: IsolateNotes,
    /// Session refreshes under way.
    pub(crate) refreshes: Refreshes,
    /// Set in the start-up rehearsal's own state only ([`rehearse`]): every I/O of a request
    /// on this state is answered from it. Never in the isolate's state.
    rehearsal: Option<Rehearsal>,
}

thread_local! {
    static STATE: OnceCell<Rc<IsolateState>> = const { OnceCell::new() };
}

/// Reads a variable or secret as a string; numbers and booleans written unquoted in
/// wrangler.toml are accepted in their JSON spelling, and structured values (`PROVIDERS` as
/// an array in `[vars]`) as their JSON text.
fn env_string(env: &Env, name: &str) -> Option<String> {
    let v = js_sys::Reflect::get(env.as_ref(), &JsValue::from_str(name)).ok()?;
    if let Some(s) = v.as_string() {
        return Some(s);
    }
    if let Some(b) = v.as_bool() {
        return Some(if b { "true" } else { "false" }.to_owned());
    }
    if v.is_object() {
        return js_sys::JSON::stringify(&v).ok().and_then(|s| s.as_string());
    }
    // Integral numbers only: every numeric variable is an integer.
    v.as_f64()
        .filter(|n| n.fract() == 0.0 && n.abs() < 1e15)
        .map(|n| (n as i64).to_string())
}

/// The configuration and the bindings the worker needs, checked as an isolate does on its
/// first request (and as `edge-attest check` does before a deploy, through
/// [`check_configuration`]).
fn configuration(env: &Env) -> Result<Config, ConfigError> {
    Config::from_lookup(&|name| env_string(env, name)).and_then(|c| {
        let binding_error = |variable, problem: &str| ConfigError {
            variable,
            problem: problem.into(),
            allowed_origins: Some(c.allowed_origins.clone()),
        };
        env.kv(JWKS_BINDING)
            .map_err(|_| binding_error(JWKS_BINDING, "KV namespace binding is missing"))?;
        for limit in [Limit::Ip, Limit::User] {
            if limiter_kind(env.as_ref(), limit.binding()) == 2 {
                return Err(binding_error(
                    limit.binding(),
                    "is bound, but not to a rate limiting binding ([[ratelimits]])",
                ));
            }
        }
        Ok(c)
    })
}

/// The log line of a configuration that cannot be used.
fn config_error_line(e: &ConfigError) -> String {
    format!(
        "{{\"config_error\":{}}}",
        serde_json::to_string(&e.to_string()).unwrap_or_default()
    )
}

/// `edge-attest check` (release/bin/edge-attest.js): the line an isolate would log for
/// these variables and bindings, or `None` when the worker would start with them. The same
/// code as [`isolate_state`], so the check cannot disagree with the deployed worker.
#[wasm_bindgen]
pub fn check_configuration(env: Env) -> Option<String> {
    configuration(&env).err().map(|e| config_error_line(&e))
}

/// `edge-attest check`: what the check needs to know of this build beyond the variables, as
/// JSON: the paths of the worker's own routes (a deployment's route patterns must cover each),
/// the variables `PROVIDERS` makes the worker ignore, and every variable it reads. From the
/// build itself, so the check cannot disagree with the worker it ships with.
#[wasm_bindgen]
pub fn check_facts() -> String {
    let routes: Vec<&str> = Route::ALL.iter().map(|r| r.path()).collect();
    let list = |names: &[&str]| serde_json::to_string(names).unwrap_or_default();
    format!(
        "{{\"routes\":{},\"shadowed_by_providers\":{},\"variables\":{}}}",
        list(&routes),
        list(&crate::config::providers::SHADOWED_BY_PROVIDERS),
        list(&crate::config::VARIABLES)
    )
}

/// Run at module evaluation (src/runtime/entry.js) with the bindings `cloudflare:workers`
/// exports there: the configuration is read and checked, and the isolate's state set up,
/// before any request, so that neither that work nor V8's compiling of the configuration's
/// reader (18 KB of code) is paid on the first request a user waits for
/// (docs/benchmarks.md, "The first request of a loaded isolate"). The same state a request
/// would set up (no I/O, no timers, no randomness: what the global scope allows).
///
/// Then the start-up rehearsal ([`crate::app::rehearsal`]): a first exchange played through
/// [`respond`] on a state of its own, every I/O answered from canned answers at once, so that
/// V8 compiles the exchange's code now rather than on the first request. Its answer is
/// dropped; nothing of it stays but the compiled code.
#[wasm_bindgen]
pub fn prepare_isolate(env: Env) {
    let state = isolate_state(&env);
    if let Ok(config) = state.config.as_ref() {
        rehearse(env, config, &state);
    }
}

/// Plays the start-up rehearsal of `config` (see [`prepare_isolate`]).
fn rehearse(env: Env, config: &Config, isolate: &IsolateState) {
    // The self-test build's way to see what a JavaScript exception at start-up does (one
    // that crosses the executor's frames): src/runtime/entry.js replaces the instance.
    #[cfg(feature = "selftest")]
    if env_string(&env, "SELFTEST_THROW_AT_START").is_some() {
        drop(run(Box::pin(async {
            wasm_bindgen::throw_str("selftest: thrown at start-up")
        })));
    }
    let Some(rehearsal) = Rehearsal::new(config, js_sys::Date::now() as u64) else {
        return;
    };
    let Ok(backend) = WebCryptoBackend::for_rehearsal() else {
        return;
    };
    let state = Rc::new(IsolateState {
        config: Rc::clone(&isolate.config),
        jwks: RefCell::default(),
        backend: Ok(backend),
        limiters: isolate.limiters,
        notes: IsolateNotes::default(),
        refreshes: Refreshes::default(),
        rehearsal: Some(rehearsal),
    });
    // The status of a request's answer; 0 when it did not finish at once (some I/O was not
    // canned) or failed.
    let play = |r: RehearsalRequest| -> u16 {
        let Some(headers) = wire::header_lines(r.headers.iter().map(|(n, v)| (*n, v.as_str())))
        else {
            return 0;
        };
        let Ok(req) = rehearsal_request(&r.url, r.method, &headers) else {
            return 0;
        };
        let answer = run(Box::pin(respond(
            req,
            env.clone(),
            // No `ctx` exists before a request; the rehearsal's KV writes, its only use,
            // are skipped.
            js_sys::Object::new().unchecked_into(),
            Some(Rehearsed {
                state: Rc::clone(&state),
                body: r.body.into_bytes(),
            }),
        )));
        answer
            .ok()
            .and_then(|a| a.dyn_into::<web_sys::Response>().ok())
            .map_or(0, |r| r.status())
    };
    let Some(rehearsal) = state.rehearsal.as_ref() else {
        return;
    };
    let exchange = play(rehearsal.exchange_request());
    let gateway = rehearsal.gateway_request().map(play);
    REHEARSED.with(|r| r.set(Some((exchange, gateway))));
}

thread_local! {
    /// How the start-up rehearsal's requests ended (the exchange's status, the gateway
    /// request's if there was one), for the start-up test (`/__selftest/rehearsal`).
    static REHEARSED: std::cell::Cell<Option<(u16, Option<u16>)>> = const { std::cell::Cell::new(None) };
}

pub(crate) fn isolate_state(env: &Env) -> Rc<IsolateState> {
    STATE.with(|cell| {
        Rc::clone(cell.get_or_init(|| {
            let config = configuration(env);
            if let Err(e) = &config {
                // Loud and once per isolate; every request also answers 500 and logs it.
                console_error!("{}", config_error_line(e));
            }
            let bound = |limit: Limit| limiter_kind(env.as_ref(), limit.binding()) == 1;
            Rc::new(IsolateState {
                config: Rc::new(config),
                jwks: RefCell::default(),
                backend: WebCryptoBackend::new(),
                limiters: [bound(Limit::Ip), bound(Limit::User)],
                notes: IsolateNotes::default(),
                refreshes: Refreshes::default(),
                rehearsal: None,
            })
        }))
    })
}

/// The worker's fetch handler, exported the way `#[event(fetch)]` would export it, minus
/// that macro's conversion into `worker::Request` (which reads the URL, method and `cf`
/// across the boundary on every request whether used or not) and minus
/// `wasm-bindgen-futures`' executor (see [`crate::runtime::task`]): a request that needs no I/O is
/// answered synchronously, the others with a promise settled when their future finishes.
#[wasm_bindgen]
pub fn fetch(
    req: web_sys::Request,
    env: Env,
    ctx: worker::worker_sys::Context,
) -> Result<JsValue, JsValue> {
    run(Box::pin(respond(req, env, ctx, None)))
}

/// The worker's scheduled handler (a cron trigger): the key-set prewarm. Resolves with
/// whether every key set is fresh in KV; src/runtime/entry.js fails the run otherwise.
#[wasm_bindgen]
pub fn scheduled(
    cron: String,
    env: Env,
    ctx: worker::worker_sys::Context,
) -> Result<JsValue, JsValue> {
    run(Box::pin(async move {
        let state = isolate_state(&env);
        let io = Io::new(&env, &ctx, &state);
        let ok = io
            .services(&state)?
            .prewarm(state.config.as_ref().as_ref(), &cron)
            .await;
        Ok(JsValue::from_bool(ok))
    }))
}

/// `EdgeAttest.session(cookieHeader)` for another Worker of the account, through a service
/// binding (src/runtime/entry.js): resolves with the identity as JSON text, or `null` for no
/// session; rejects with `"<code>: <description>"` when the configuration is broken or the
/// session cannot be checked right now.
#[wasm_bindgen]
pub fn binding_session(
    cookie_header: String,
    env: Env,
    ctx: worker::worker_sys::Context,
) -> Result<JsValue, JsValue> {
    run(Box::pin(async move {
        let state = isolate_state(&env);
        let io = Io::new(&env, &ctx, &state);
        let found = io
            .services(&state)?
            .binding_session(state.config.as_ref().as_ref(), &cookie_header)
            .await;
        match found {
            Ok(Some(session)) => json_text(&session),
            Ok(None) => Ok(JsValue::NULL),
            Err(e) => Err(binding_error(&e)),
        }
    }))
}

/// `EdgeAttest.authorize(cookieHeader, options)`: resolves with `{session, refusal,
/// set_cookie}` as JSON text (`options`: the caller's options object as JSON); rejects as
/// [`binding_session`] does, and for options that cannot be read.
#[wasm_bindgen]
pub fn binding_authorize(
    cookie_header: String,
    options: String,
    env: Env,
    ctx: worker::worker_sys::Context,
) -> Result<JsValue, JsValue> {
    run(Box::pin(async move {
        let state = isolate_state(&env);
        let io = Io::new(&env, &ctx, &state);
        let verdict = io
            .services(&state)?
            .binding_authorize(state.config.as_ref().as_ref(), &cookie_header, &options)
            .await;
        match verdict {
            Ok(verdict) => json_text(&verdict),
            Err(e) => Err(binding_error(&e)),
        }
    }))
}

/// A binding answer as the JSON text entry.js parses.
fn json_text(value: &impl serde::Serialize) -> Result<JsValue, JsValue> {
    serde_json::to_string(value)
        .map(|s| JsValue::from_str(&s))
        .map_err(|e| JsValue::from_str(&e.to_string()))
}

/// A binding call's failure, as the caller's `Error` message: `"<code>: <description>"`.
fn binding_error(e: &crate::error::ApiError) -> JsValue {
    JsValue::from_str(&format!("{}: {}", e.code(), e.description()))
}

/// A handler's future, boxed: both handlers share one instance of the executor's code.
type Handler = std::pin::Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>>;

/// The runtime's I/O for one invocation, as the core's traits want it: the runtime's, or on
/// the rehearsal's state, the rehearsal's canned answers.
struct Io<'a> {
    http: WorkerHttp<'a>,
    kv: WorkerKv<'a>,
    limits: WorkerLimits<'a>,
    platform: WorkerPlatform,
}

impl<'a> Io<'a> {
    fn new(env: &'a Env, ctx: &'a worker::worker_sys::Context, state: &'a IsolateState) -> Self {
        let rehearsal = state.rehearsal.as_ref();
        Self {
            http: WorkerHttp { rehearsal },
            kv: WorkerKv {
                env,
                ctx,
                rehearsal: rehearsal.is_some(),
            },
            limits: WorkerLimits {
                env,
                bound: state.limiters,
                rehearsal: rehearsal.is_some(),
            },
            platform: WorkerPlatform {
                rehearsal: rehearsal.is_some(),
            },
        }
    }

    /// The handler's services over this I/O and the isolate's state.
    fn services<'s>(
        &'s self,
        state: &'s IsolateState,
    ) -> Result<
        Services<
            's,
            WorkerHttp<'a>,
            WorkerKv<'a>,
            WebCryptoBackend,
            WorkerPlatform,
            WorkerLimits<'a>,
        >,
        JsValue,
    > {
        Ok(Services {
            http: &self.http,
            kv: &self.kv,
            backend: state.backend.as_ref().map_err(|e| JsValue::from_str(e))?,
            platform: &self.platform,
            jwks: &state.jwks,
            limits: &self.limits,
            notes: &state.notes,
            refreshes: &state.refreshes,
        })
    }
}

/// Runs a handler's future on the request executor: its value at once when it needs no I/O,
/// else a promise settled when it finishes.
fn run(future: Handler) -> Result<JsValue, JsValue> {
    crate::runtime::promise::init();
    match task::start(future) {
        Started::Done(answer) => answer,
        Started::Pending(later) => {
            let answer = deferred();
            let promise = promise_of(&answer);
            later.on_done(move |result| match result {
                Ok(response) => settle(&answer, &response, true),
                Err(e) => settle(&answer, &e, false),
            });
            Ok(promise.into())
        }
    }
}

/// A request of the start-up rehearsal, as [`rehearse`] hands it to [`respond`]: the
/// rehearsal's own state, and the body the request carries (handed over at once: the runtime's
/// request has none, and reading one would wait for a promise).
struct Rehearsed {
    state: Rc<IsolateState>,
    body: Vec<u8>,
}

/// A request's answer, on the isolate's state, or on the start-up rehearsal's (`rehearsal`,
/// from [`rehearse`] only): one function for both, so that the rehearsal compiles this one.
async fn respond(
    req: web_sys::Request,
    env: Env,
    ctx: worker::worker_sys::Context,
    rehearsal: Option<Rehearsed>,
) -> Result<JsValue, JsValue> {
    let (state, canned) = match rehearsal {
        Some(Rehearsed { state, body }) => (state, Some(body)),
        None => (isolate_state(&env), None),
    };
    #[cfg(feature = "selftest")]
    {
        let url = req.url();
        let path = crate::formats::urls::parse(&url).map(|u| u.path);
        let answer = match path {
            Some("/__selftest/backends") => {
                Some(crate::runtime::selftest::run(Request::from(Clone::clone(&req)), &state).await)
            }
            Some("/__selftest/verify-loop") => Some(
                crate::runtime::selftest::verify_loop(Request::from(Clone::clone(&req)), &state)
                    .await,
            ),
            Some("/__selftest/mac") => {
                Some(crate::runtime::selftest::mac(Request::from(Clone::clone(&req)), &state).await)
            }
            Some("/__selftest/trap") => crate::runtime::selftest::trap(&url).await,
            Some("/__selftest/rehearsal") => {
                let body = match REHEARSED.with(std::cell::Cell::get) {
                    None => "null".to_owned(),
                    Some((exchange, gateway)) => format!(
                        "{{\"exchange\":{exchange},\"gateway\":{}}}",
                        gateway.map_or("null".to_owned(), |g| g.to_string())
                    ),
                };
                return new_response(200, &body, "content-type\napplication/json").map(Into::into);
            }
            Some("/__selftest/refused-header") => {
                // A response the runtime refuses to build (`new Response` throws), before or
                // after an await: the request fails alone.
                if url.ends_with("when=async") {
                    let _ = settled(&Promise::resolve(&JsValue::NULL)).await;
                }
                let refused = CoreResponse {
                    status: 200,
                    headers: vec![("not a header name".into(), "x".into())],
                    body: String::new(),
                };
                return to_web_response(&refused, true).map(Into::into);
            }
            _ => None,
        };
        if let Some(answer) = answer {
            return answer
                .map(|r| web_sys::Response::from(r).into())
                .map_err(|e| JsValue::from_str(&e.to_string()));
        }
    }
    let io = Io::new(&env, &ctx, &state);
    let services = io.services(&state)?;
    let (method, url, headers) = REQUEST_NAMES.with(|(names, joined)| {
        request_head(&req, joined).map(|head| wire::split_request_head(&head, names))
    })?;
    let exact = wire::exact_length(&headers);
    let incoming = IncomingRequest {
        method,
        url,
        headers,
        body: WorkerBody { req, exact, canned },
    };
    let forwarder = WorkerForwarder {
        rehearsal: state.rehearsal.is_some(),
        ctx: &ctx,
    };
    let answer = services
        .handle(state.config.as_ref().as_ref(), incoming, &forwarder)
        .await;
    match answer {
        // The rehearsal's without its body: the global scope allows no body stream.
        Answer::Own(response) => Ok(to_web_response(&response, state.rehearsal.is_none())?.into()),
        Answer::Forwarded(f) => {
            let headers =
                wire::header_lines(f.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())))
                    .ok_or_else(|| JsValue::from_str("line break in a response header"))?;
            Ok(forwarded_response(&f.body, f.status, &headers)?.into())
        }
    }
}

/// What the glue reads of a request or an upstream response: the core's headers, and what
/// the body cap needs, `Content-Length` and `Content-Encoding`.
fn with_body_headers(core: &[&'static str]) -> (Vec<&'static str>, String) {
    let mut names = core.to_vec();
    for extra in wire::BODY_HEADERS {
        if !names.contains(&extra) {
            names.push(extra);
        }
    }
    let joined = names.join("\n");
    (names, joined)
}

thread_local! {
    static REQUEST_NAMES: (Vec<&'static str>, String) = with_body_headers(&REQUEST_HEADERS);
    static RESPONSE_NAMES: (Vec<&'static str>, String) = with_body_headers(&RESPONSE_HEADERS);
}

/// The runtime's response for `resp`, with its body or none.
fn to_web_response(resp: &CoreResponse, with_body: bool) -> Result<web_sys::Response, JsValue> {
    let headers = wire::header_lines(resp.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        .ok_or_else(|| JsValue::from_str("line break in a response header"))?;
    new_response(
        resp.status,
        if with_body { &resp.body } else { "" },
        &headers,
    )
}

/// Reads a body of at most `limit` bytes, never copying more than that into WASM: with an
/// exact length ([`wire::exact_length`]) within the limit, one `arrayBuffer()` (the runtime stops at
/// that length); with an exact length over it, nothing; otherwise (an encoded body, or no
/// length) a stream read that stops at the limit ([`read_capped`]). The stream read costs more
/// CPU (an A/B measured +14% per exchange when every body went through it), hence the split.
async fn read_body(
    exact: Option<usize>,
    limit: usize,
    array_buffer: impl FnOnce() -> Result<Promise, JsValue>,
    stream: impl FnOnce() -> Option<web_sys::ReadableStream>,
) -> Result<Vec<u8>, BodyError> {
    let io = |e: JsValue| BodyError::Io(js_message(&e));
    let bytes = match exact {
        Some(n) if n > limit => return Err(BodyError::TooLarge),
        Some(_) => settled(&array_buffer().map_err(io)?).await.map_err(io)?,
        None => {
            let cap = u32::try_from(limit).unwrap_or(u32::MAX);
            let read = read_capped(stream().as_ref(), cap).map_err(io)?;
            let bytes = settled(&read).await.map_err(io)?;
            if bytes.is_null() {
                return Err(BodyError::TooLarge);
            }
            bytes
        }
    };
    let bytes = Uint8Array::new(&bytes);
    if bytes.length() as usize > limit {
        return Err(BodyError::TooLarge);
    }
    Ok(bytes.to_vec())
}

/// The incoming request's body, with its exact length (if the headers give one).
struct WorkerBody {
    req: web_sys::Request,
    exact: Option<usize>,
    /// The start-up rehearsal's body, read at once (reading `req` would wait for a promise).
    canned: Option<Vec<u8>>,
}

impl BodySource for WorkerBody {
    async fn read(self, limit: usize) -> Result<Vec<u8>, BodyError> {
        if let Some(canned) = self.canned {
            return Ok(canned);
        }
        let req = self.req;
        read_body(self.exact, limit, || req.array_buffer(), || req.body()).await
    }
}

impl AllHeaders for WorkerBody {
    fn all_headers(&self, read: &[(String, String)]) -> Vec<(String, String)> {
        match request_headers_all(&self.req) {
            Ok(lines) => wire::header_pairs(&lines),
            // The headers cannot be read: forward what was (the identity headers the gateway
            // strips are then absent anyway).
            Err(_) => read.to_vec(),
        }
    }
}

/// The gateway's `fetch` to the app: the incoming request's body streamed, the answer's
/// body left unread; through the edge location's cache for a `shared_cache` request. In the
/// rehearsal, an empty 200 at once.
struct WorkerForwarder<'a> {
    rehearsal: bool,
    /// For keeping a shared answer after the response.
    ctx: &'a worker::worker_sys::Context,
}

impl Forwarder<WorkerBody> for WorkerForwarder<'_> {
    type Answer = web_sys::Response;

    async fn forward(
        &self,
        req: ForwardRequest,
        body: WorkerBody,
    ) -> Result<Forwarded<web_sys::Response>, TransportError> {
        let network = |e: JsValue| TransportError::Network(js_message(&e));
        if self.rehearsal {
            let body = new_response(200, "", "").map_err(network)?;
            return Ok(Forwarded {
                status: 200,
                headers: Vec::new(),
                body,
                from_cache: false,
            });
        }
        let headers = wire::header_lines(req.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            .ok_or_else(|| TransportError::Network("line break in a request header".into()))?;
        let sent = forward(
            &req.url,
            &req.method,
            &headers,
            &body.req,
            req.with_body,
            req.headers_timeout_ms,
            req.shared_cache.as_deref(),
        )
        .map_err(network)?;
        let resp: web_sys::Response = settled(&sent)
            .await
            .map_err(|e| {
                if e.as_string().as_deref() == Some("timeout") {
                    TransportError::Timeout
                } else {
                    network(e)
                }
            })?
            .unchecked_into();
        let head = response_head_all(&resp).map_err(network)?;
        let (status, rest) = head.split_once('\n').unwrap_or((head.as_str(), ""));
        let status = status
            .parse::<u16>()
            .map_err(|_| TransportError::Network("no status".into()))?;
        let headers = wire::header_pairs(rest);
        let from_cache = req.shared_cache.is_some() && from_cache(&resp).unwrap_or(false);
        if let Some(key) = &req.shared_cache
            && !from_cache
            && shared_cacheable(status, &headers)
        {
            // Not kept when the runtime refuses (the answer still goes to the browser).
            let _ = keep_shared(self.ctx, key, &resp);
        }
        Ok(Forwarded {
            status,
            headers,
            body: resp,
            from_cache,
        })
    }
}

/// `fetch` with `AbortSignal.timeout` (covering headers and body), no redirects, and a
/// body size cap; in the rehearsal, its canned answers.
struct WorkerHttp<'a> {
    rehearsal: Option<&'a Rehearsal>,
}

impl HttpClient for WorkerHttp<'_> {
    async fn send(&self, req: &OutboundRequest) -> Result<OutboundResponse, TransportError> {
        if let Some(rehearsal) = self.rehearsal {
            return rehearsal.answer(req);
        }
        let network = |e: JsValue| TransportError::Network(js_message(&e));
        let headers = wire::header_lines(req.headers.iter().map(|(n, v)| (*n, v.as_str())))
            .ok_or_else(|| TransportError::Network("line break in a request header".into()))?;
        let signal = AbortSignal::timeout_with_u32(req.timeout_ms);
        let method = match req.method {
            Method::Get => "GET",
            Method::Post => "POST",
        };
        let failed = |e: JsValue| {
            if signal.aborted() {
                TransportError::Timeout
            } else {
                network(e)
            }
        };
        let sent =
            send(&req.url, method, &headers, req.body.as_deref(), &signal).map_err(network)?;
        let resp: web_sys::Response = settled(&sent).await.map_err(failed)?.unchecked_into();
        let (status, headers) = RESPONSE_NAMES
            .with(|(names, joined)| {
                response_head(&resp, joined).map(|head| wire::split_response_head(&head, names))
            })
            .map_err(network)?;
        let status = status.ok_or_else(|| TransportError::Network("no status".into()))?;
        let exact = wire::exact_length(&headers);
        let body = read_body(
            exact,
            req.max_response_bytes,
            || resp.array_buffer(),
            || resp.body(),
        )
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => TransportError::TooLarge,
            BodyError::Io(_) if signal.aborted() => TransportError::Timeout,
            BodyError::Io(why) => TransportError::Network(why),
        })?;
        Ok(OutboundResponse {
            status,
            headers,
            body,
        })
    }
}

/// Workers KV; writes go through `ctx.waitUntil` so they never delay the response. The
/// binding is looked up only when used: a warm request never touches KV. In the rehearsal,
/// empty, and writes go nowhere.
struct WorkerKv<'a> {
    env: &'a Env,
    ctx: &'a worker::worker_sys::Context,
    rehearsal: bool,
}

impl WorkerKv<'_> {
    fn namespace(&self) -> Result<JsValue, String> {
        js_sys::Reflect::get(self.env.as_ref(), &JsValue::from_str(JWKS_BINDING))
            .map_err(|e| js_message(&e))
    }
}

impl KvStore for WorkerKv<'_> {
    async fn get(&self, key: &str, timeout_ms: u32) -> Result<Option<String>, String> {
        if self.rehearsal {
            return Ok(None);
        }
        let read = kv_text(&self.namespace()?, key, timeout_ms).map_err(|e| js_message(&e))?;
        let value = settled(&read).await.map_err(|e| js_message(&e))?;
        Ok(value.as_string())
    }

    fn put_after_response_if_newer(
        &self,
        key: String,
        value: String,
        ttl_secs: u64,
        fetched_at_ms: u64,
    ) {
        if self.rehearsal {
            return;
        }
        let Ok(namespace) = self.namespace() else {
            return;
        };
        // Whole seconds: at most a few hours, as the cache computes them.
        let ttl = u32::try_from(ttl_secs).unwrap_or(u32::MAX);
        // Milliseconds since the epoch are exact in a JS number until the year 287,396.
        #[allow(clippy::cast_precision_loss)]
        let fetched_at = fetched_at_ms as f64;
        if let Err(e) = kv_put_newer_later(
            self.ctx,
            &namespace,
            &key,
            &value,
            ttl,
            fetched_at,
            u32::try_from(KV_CLOCK_TOLERANCE_MS).unwrap_or(u32::MAX),
        ) {
            console_error!(
                "{{\"kv_put_error\":{}}}",
                serde_json::to_string(&js_message(&e)).unwrap_or_default()
            );
        }
    }

    async fn put(&self, key: &str, value: &str, ttl_secs: u64) -> Result<(), String> {
        if self.rehearsal {
            return Ok(());
        }
        let ttl = u32::try_from(ttl_secs).unwrap_or(u32::MAX);
        let write = kv_put(&self.namespace()?, key, value, ttl).map_err(|e| js_message(&e))?;
        settled(&write)
            .await
            .map(|_| ())
            .map_err(|e| js_message(&e))
    }
}

/// The Rate Limiting bindings, as the isolate found them.
struct WorkerLimits<'a> {
    env: &'a Env,
    /// `[ip, user]`: whether each is bound.
    bound: [bool; 2],
    /// In the rehearsal, a bound limit passes without being asked.
    rehearsal: bool,
}

impl RateLimiter for WorkerLimits<'_> {
    async fn check(&self, limit: Limit, key: &str) -> Result<Option<bool>, String> {
        let bound = match limit {
            Limit::Ip => self.bound[0],
            Limit::User => self.bound[1],
        };
        if !bound {
            return Ok(None);
        }
        if self.rehearsal {
            return Ok(Some(true));
        }
        let verdict =
            rate_limit(self.env.as_ref(), limit.binding(), key).map_err(|e| js_message(&e))?;
        let allowed = settled(&verdict).await.map_err(|e| js_message(&e))?;
        Ok(Some(allowed.as_bool() == Some(true)))
    }
}

/// Clock, timers, randomness and the log of the Workers runtime. In the rehearsal, no log,
/// no waiting and no randomness (the global scope allows no timers or random numbers).
struct WorkerPlatform {
    rehearsal: bool,
}

impl Platform for WorkerPlatform {
    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }

    async fn sleep(&self, ms: u32) {
        if self.rehearsal {
            return;
        }
        Delay::from(Duration::from_millis(u64::from(ms))).await;
    }

    fn random_u32(&self) -> u32 {
        // The global scope allows no random numbers (`getrandom` would fail into zero anyway).
        if self.rehearsal {
            return 0;
        }
        let mut bytes = [0_u8; 4];
        // Jitter only: a failure leaves zero, which merely removes the jitter.
        let _ = getrandom::getrandom(&mut bytes);
        u32::from_le_bytes(bytes)
    }

    fn log(&self, level: LogLevel, line: &str) {
        if self.rehearsal {
            return;
        }
        log_later(line, level as u8);
    }
}
