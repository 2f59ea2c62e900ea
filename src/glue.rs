//! The Workers runtime side: adapts the runtime to the core's traits and calls
//! [`Services::handle`]. Nothing here decides anything.
//!
//! The hot path talks to `web_sys` directly rather than through `worker`'s wrappers: each
//! wrapper call crosses the WASM/JS boundary, and the request only needs a handful of
//! crossings (the URL, five headers, one `arrayBuffer()`, the attest `fetch`, the response).
//! `worker` still provides `Env`, `Context`, KV and timers.

use crate::app::Services;
use crate::config::{Config, ConfigError};
use crate::http::{
    BodyError, BodySource, HttpClient, IncomingRequest, Method, OutboundRequest, OutboundResponse,
    Platform, REQUEST_HEADERS, RESPONSE_HEADERS, TransportError,
};
use crate::jwks_cache::{JwksMemory, KvStore};
use crate::webcrypto::WebCryptoBackend;
use js_sys::{Promise, Uint8Array};
use std::cell::{OnceCell, RefCell};
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen_futures::JsFuture;
#[cfg(feature = "selftest")]
use worker::Request;
use worker::{Context, Delay, Env, console_error};

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    /// `console.log` from a microtask, with no WASM frames on the stack: called directly from
    /// WASM the runtime captures a stack trace through the WASM frames, which measured about
    /// 55 µs per line in workerd, as much as the rest of a `/healthz` request.
    fn log_later(line: &str);
    /// `method\nurl\n` then the named headers' values (`\0` when absent).
    fn request_head(req: &web_sys::Request, names: &str) -> String;
    /// The request body (`Uint8Array`), or `null` when over the limit.
    fn request_body(req: &web_sys::Request, limit: u32) -> Promise;
    /// `new Response(body, {status, headers})` from `name\nvalue\n…` pairs.
    fn make_response(status: u16, pairs: &str, body: &str) -> web_sys::Response;
    /// `fetch` with timeout, no redirects and a body cap; see glue.js.
    fn fetch_capped(
        url: &str,
        method: &str,
        pairs: &str,
        body: Option<String>,
        timeout_ms: u32,
        limit: u32,
        wanted: &str,
    ) -> Promise;
}

/// Joins header pairs for glue.js; a pair that could not be a header (a line break in it)
/// is dropped rather than allowed to shift the others.
fn join_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if name.contains(['\n', '\r']) || value.contains(['\n', '\r']) {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(name);
        out.push('\n');
        out.push_str(value);
    }
    out
}

/// The values of `names` from a `\n`-joined list where `\0` marks an absent header.
fn named_values<'a>(
    names: &[&'static str],
    values: impl Iterator<Item = &'a str>,
) -> Vec<(String, String)> {
    names
        .iter()
        .zip(values)
        .filter(|(_, v)| *v != "\0")
        .map(|(n, v)| ((*n).to_owned(), v.to_owned()))
        .collect()
}

/// The KV namespace binding that holds the shared JWKS cache.
pub const JWKS_BINDING: &str = "JWKS_CACHE";

/// Everything that lives as long as the isolate.
pub(crate) struct IsolateState {
    pub(crate) config: Result<Config, ConfigError>,
    pub(crate) jwks: RefCell<JwksMemory>,
    pub(crate) backend: Result<WebCryptoBackend, String>,
}

thread_local! {
    static STATE: OnceCell<Rc<IsolateState>> = const { OnceCell::new() };
}

/// Reads a variable or secret as a string; numbers and booleans written unquoted in
/// wrangler.toml are accepted in their JSON spelling.
fn env_string(env: &Env, name: &str) -> Option<String> {
    let v = js_sys::Reflect::get(env.as_ref(), &JsValue::from_str(name)).ok()?;
    if let Some(s) = v.as_string() {
        return Some(s);
    }
    if let Some(b) = v.as_bool() {
        return Some(if b { "true" } else { "false" }.to_owned());
    }
    // Integral numbers only: every numeric variable is an integer.
    v.as_f64()
        .filter(|n| n.fract() == 0.0 && n.abs() < 1e15)
        .map(|n| (n as i64).to_string())
}

pub(crate) fn isolate_state(env: &Env) -> Rc<IsolateState> {
    STATE.with(|cell| {
        Rc::clone(cell.get_or_init(|| {
            let config = Config::from_lookup(&|name| env_string(env, name)).and_then(|c| {
                env.kv(JWKS_BINDING).map(|_| c).map_err(|_| ConfigError {
                    variable: JWKS_BINDING,
                    problem: "KV namespace binding is missing".into(),
                })
            });
            if let Err(e) = &config {
                // Loud and once per isolate; every request also answers 500 and logs it.
                console_error!(
                    "{{\"config_error\":{}}}",
                    serde_json::Value::from(e.to_string())
                );
            }
            Rc::new(IsolateState {
                config,
                jwks: RefCell::default(),
                backend: WebCryptoBackend::new(),
            })
        }))
    })
}

/// The worker's fetch handler, exported the way `#[event(fetch)]` would export it, minus
/// that macro's conversion into `worker::Request` (which reads the URL, method and `cf`
/// across the boundary on every request whether used or not).
#[wasm_bindgen]
pub async fn fetch(
    req: web_sys::Request,
    env: Env,
    ctx: worker::worker_sys::Context,
) -> Result<JsValue, JsValue> {
    let state = isolate_state(&env);
    #[cfg(feature = "selftest")]
    {
        let url = req.url();
        let path = crate::urls::parse(&url).map(|u| u.path);
        let answer = match path {
            Some("/__selftest/backends") => {
                Some(crate::selftest::run(Request::from(Clone::clone(&req)), &state).await)
            }
            Some("/__selftest/verify-loop") => {
                Some(crate::selftest::verify_loop(Request::from(Clone::clone(&req)), &state).await)
            }
            _ => None,
        };
        if let Some(answer) = answer {
            return answer
                .map(|r| web_sys::Response::from(r).into())
                .map_err(|e| JsValue::from_str(&e.to_string()));
        }
    }
    let backend = state.backend.as_ref().map_err(|e| JsValue::from_str(e))?;
    let ctx = Context::new(ctx);
    let kv = WorkerKv {
        env: &env,
        ctx: &ctx,
    };
    let services = Services {
        http: &WorkerHttp,
        kv: &kv,
        backend,
        platform: &WorkerPlatform,
        jwks: &state.jwks,
    };
    let head = request_head(&req, &REQUEST_HEADERS.join("\n"));
    let mut parts = head.split('\n');
    let method = parts.next().unwrap_or_default().to_owned();
    let url = parts.next().unwrap_or_default().to_owned();
    let incoming = IncomingRequest {
        method,
        url,
        headers: named_values(&REQUEST_HEADERS, parts),
        body: WorkerBody(req),
    };
    let response = services.handle(state.config.as_ref(), incoming).await;
    let pairs = join_pairs(
        response
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    Ok(make_response(response.status, &pairs, &response.body).into())
}

fn js_message(e: &JsValue) -> String {
    e.as_string()
        .or_else(|| {
            js_sys::Reflect::get(e, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
        })
        .unwrap_or_else(|| "unknown error".into())
}

fn limit_u32(limit: usize) -> u32 {
    u32::try_from(limit).unwrap_or(u32::MAX)
}

/// The incoming request's body.
struct WorkerBody(web_sys::Request);

impl BodySource for WorkerBody {
    async fn read(self, limit: usize) -> Result<Vec<u8>, BodyError> {
        let body = JsFuture::from(request_body(&self.0, limit_u32(limit)))
            .await
            .map_err(|e| BodyError::Io(js_message(&e)))?;
        if body.is_null() {
            return Err(BodyError::TooLarge);
        }
        Ok(Uint8Array::new(&body).to_vec())
    }
}

/// Outbound HTTP through glue.js `fetch_capped`: one boundary crossing and one await.
struct WorkerHttp;

impl HttpClient for WorkerHttp {
    async fn send(&self, req: OutboundRequest) -> Result<OutboundResponse, TransportError> {
        let pairs = join_pairs(req.headers.iter().map(|(k, v)| (*k, v.as_str())));
        let method = match req.method {
            Method::Get => "GET",
            Method::Post => "POST",
        };
        let promise = fetch_capped(
            &req.url,
            method,
            &pairs,
            req.body,
            req.timeout_ms,
            limit_u32(req.max_response_bytes),
            &RESPONSE_HEADERS.join("\n"),
        );
        let result = JsFuture::from(promise)
            .await
            .map_err(|e| TransportError::Network(js_message(&e)))?;
        let field = |name: &str| {
            js_sys::Reflect::get(&result, &JsValue::from_str(name)).unwrap_or_default()
        };
        if let Some(error) = field("error").as_string() {
            return Err(match error.as_str() {
                "timeout" => TransportError::Timeout,
                "too_large" => TransportError::TooLarge,
                _ => TransportError::Network(field("message").as_string().unwrap_or(error)),
            });
        }
        let status = field("status").as_f64().map_or(0, |s| s as u16);
        let head = field("head").as_string().unwrap_or_default();
        Ok(OutboundResponse {
            status,
            headers: named_values(&RESPONSE_HEADERS, head.split('\n')),
            body: Uint8Array::new(&field("body")).to_vec(),
        })
    }
}

/// Workers KV; writes go through `ctx.waitUntil` so they never delay the response. The
/// binding is looked up only when used: a warm request never touches KV.
struct WorkerKv<'a> {
    env: &'a Env,
    ctx: &'a Context,
}

impl KvStore for WorkerKv<'_> {
    async fn get(&self, key: &str) -> Result<Option<String>, String> {
        let kv = self.env.kv(JWKS_BINDING).map_err(|e| e.to_string())?;
        kv.get(key).text().await.map_err(|e| e.to_string())
    }

    fn put_after_response(&self, key: String, value: String, ttl_secs: u64) {
        let Ok(kv) = self.env.kv(JWKS_BINDING) else {
            return;
        };
        self.ctx.wait_until(async move {
            let put = match kv.put(&key, value) {
                Ok(builder) => builder.expiration_ttl(ttl_secs).execute().await,
                Err(e) => Err(e),
            };
            if let Err(e) = put {
                console_error!(
                    "{{\"kv_put_error\":{}}}",
                    serde_json::Value::from(e.to_string())
                );
            }
        });
    }
}

/// Clock, timers, randomness and the log of the Workers runtime.
struct WorkerPlatform;

impl Platform for WorkerPlatform {
    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }

    async fn sleep(&self, ms: u32) {
        Delay::from(Duration::from_millis(u64::from(ms))).await;
    }

    fn random_u32(&self) -> u32 {
        let mut bytes = [0_u8; 4];
        // Jitter only: a failure leaves zero, which merely removes the jitter.
        let _ = getrandom::getrandom(&mut bytes);
        u32::from_le_bytes(bytes)
    }

    fn log(&self, line: &str) {
        log_later(line);
    }
}
