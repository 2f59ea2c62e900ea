//! The Workers runtime side: adapts `worker::*` to the core's traits and calls
//! [`crate::app::handle`]. Nothing here decides anything.

use crate::app::Services;
use crate::config::{Config, ConfigError};
use crate::http::{
    BodyError, BodySource, HttpClient, IncomingRequest, Method as CoreMethod, OutboundRequest,
    OutboundResponse, Platform, Response as CoreResponse, TransportError,
};
use crate::jwks_cache::{JwksMemory, KvStore};
use crate::webcrypto::WebCryptoBackend;
use futures_util::StreamExt as _;
use futures_util::future::{Either, select};
use std::cell::{OnceCell, RefCell};
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::JsValue;
use worker::{
    AbortController, Context, Delay, Env, Fetch, Headers, Request, RequestInit, RequestRedirect,
    Response, ResponseBuilder, console_error, console_log, event,
};

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
    v.as_string()
        .or_else(|| v.as_f64().map(|n| n.to_string()))
        .or_else(|| v.as_bool().map(|b| b.to_string()))
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

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let state = isolate_state(&env);
    #[cfg(feature = "selftest")]
    if req.path() == "/__selftest/backends" {
        return crate::selftest::run(req, &state).await;
    }
    let backend = match &state.backend {
        Ok(b) => b,
        Err(e) => return Response::error(format!("WebCrypto unavailable: {e}"), 500),
    };
    let kv = WorkerKv {
        kv: env.kv(JWKS_BINDING).ok(),
        ctx: &ctx,
    };
    let services = Services {
        http: &WorkerHttp,
        kv: &kv,
        backend,
        platform: &WorkerPlatform,
        jwks: &state.jwks,
    };
    let incoming = IncomingRequest {
        method: req.method().to_string(),
        url: req.url()?.to_string(),
        headers: req
            .headers()
            .entries()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect(),
        body: WorkerBody(req),
    };
    let response = services.handle(state.config.as_ref(), incoming).await;
    to_worker_response(response)
}

fn to_worker_response(resp: CoreResponse) -> worker::Result<Response> {
    let headers = Headers::new();
    for (name, value) in &resp.headers {
        // append, never set: there are two Set-Cookie headers.
        headers.append(name, value)?;
    }
    let builder = ResponseBuilder::new()
        .with_status(resp.status)
        .with_headers(headers);
    Ok(if resp.body.is_empty() {
        builder.empty()
    } else {
        builder.fixed(resp.body.into_bytes())
    })
}

/// The incoming request's body, read as a stream with a size cap.
struct WorkerBody(Request);

impl BodySource for WorkerBody {
    async fn read(mut self, limit: usize) -> Result<Vec<u8>, BodyError> {
        let Ok(mut stream) = self.0.stream() else {
            return Ok(Vec::new()); // no body
        };
        let mut body = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| BodyError::Io(e.to_string()))?;
            if body.len() + chunk.len() > limit {
                return Err(BodyError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// `fetch` with a timeout (AbortController + timer), no redirects, and a body size cap.
struct WorkerHttp;

impl HttpClient for WorkerHttp {
    async fn send(&self, req: OutboundRequest) -> Result<OutboundResponse, TransportError> {
        let network = |e: worker::Error| TransportError::Network(e.to_string());
        let headers = Headers::new();
        for (name, value) in &req.headers {
            headers.set(name, value).map_err(network)?;
        }
        let mut init = RequestInit::new();
        init.with_method(match req.method {
            CoreMethod::Get => worker::Method::Get,
            CoreMethod::Post => worker::Method::Post,
        })
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual);
        if let Some(body) = &req.body {
            init.with_body(Some(JsValue::from_str(body)));
        }
        let request = Request::new_with_init(&req.url, &init).map_err(network)?;
        let controller = AbortController::default();
        let signal = controller.signal();
        let limit = req.max_response_bytes;
        let call = async move {
            let mut resp = Fetch::Request(request)
                .send_with_signal(&signal)
                .await
                .map_err(network)?;
            let status = resp.status_code();
            let headers: Vec<(String, String)> = resp
                .headers()
                .entries()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect();
            let declared = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse::<usize>().ok());
            if declared.is_some_and(|n| n > limit) {
                return Err(TransportError::TooLarge);
            }
            let mut body = Vec::new();
            if let Ok(mut stream) = resp.stream() {
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(network)?;
                    if body.len() + chunk.len() > limit {
                        return Err(TransportError::TooLarge);
                    }
                    body.extend_from_slice(&chunk);
                }
            }
            Ok(OutboundResponse {
                status,
                headers,
                body,
            })
        };
        let timer = Delay::from(Duration::from_millis(u64::from(req.timeout_ms)));
        match select(Box::pin(call), timer).await {
            Either::Left((result, _)) => result,
            Either::Right(((), _)) => {
                controller.abort();
                Err(TransportError::Timeout)
            }
        }
    }
}

/// Workers KV; writes go through `ctx.waitUntil` so they never delay the response.
struct WorkerKv<'a> {
    kv: Option<worker::KvStore>,
    ctx: &'a Context,
}

impl KvStore for WorkerKv<'_> {
    async fn get(&self, key: &str) -> Result<Option<String>, String> {
        let kv = self.kv.as_ref().ok_or("no KV binding")?;
        kv.get(key).text().await.map_err(|e| e.to_string())
    }

    fn put_after_response(&self, key: String, value: String, ttl_secs: u64) {
        let Some(kv) = self.kv.clone() else { return };
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
        console_log!("{line}");
    }
}
