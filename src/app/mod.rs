//! The request handler: routing, the Origin check and CORS, and the one log line per
//! request. The routes themselves are in [`exchange`] (`POST /api/exchange`) and
//! [`session`] (`GET /api/session`, `POST /api/logout`). Runtime-free: all I/O arrives
//! through [`Services`].

mod exchange;
pub mod gateway;
pub mod limits;
mod prewarm;
mod refresh;
pub mod rehearsal;
pub(crate) mod routes;
mod session;

pub use refresh::{MAX_REMEMBERED_REFRESHES, Refreshes};

use crate::config::{Config, ConfigError, KeySource, Provider};
use crate::error::ApiError;
use crate::formats::urls::{self, UrlParts};
use crate::http::{
    AllHeaders, Answer, BodySource, Forwarder, HttpClient, IncomingRequest, LogLevel,
    PREFLIGHT_MAX_AGE_SECS, Platform, Response,
};
use crate::jwt::token::UnverifiedToken;
use crate::keys::cache::{
    CacheSource, DocumentKind, JwksCache, JwksMemory, JwksTrace, KvStore, ResolveError,
};
use crate::keys::crypto::SignatureBackend;
use crate::keys::integrity::EntryMac;
use crate::keys::jwk::{Alg, PublicKey};
use crate::stytch::api::{Attested, Call};
use limits::{Limit, RateLimiter};
use routes::{Route, RouteName};
use serde::Serialize;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

/// Largest request body read, checked against `Content-Length` first and while reading.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// The crate version, reported by `/healthz`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The worker's I/O, as the glue (or a test) provides it.
#[derive(Debug)]
pub struct Services<'a, H, K, B, P, L> {
    /// Outbound HTTP (key sets and Stytch).
    pub http: &'a H,
    /// Workers KV for the key sets.
    pub kv: &'a K,
    /// Signature verification.
    pub backend: &'a B,
    /// Clock, sleep, randomness, log.
    pub platform: &'a P,
    /// This isolate's key-set memory.
    pub jwks: &'a RefCell<JwksMemory>,
    /// The rate limits in front of Stytch.
    pub limits: &'a L,
    /// What this isolate has already logged once.
    pub notes: &'a IsolateNotes,
    /// The session refreshes under way in this isolate, which others of the same session
    /// wait for.
    pub refreshes: &'a Refreshes,
}

/// Notices logged once per isolate rather than on every request: conditions of the
/// deployment, not of a request, which a line per request would only bury.
#[derive(Debug, Default)]
pub struct IsolateNotes {
    /// Requests arrive without `CF-Connecting-IP`.
    no_client_address: Cell<bool>,
}

/// The once-per-isolate line about requests without a client address.
const NO_CLIENT_ADDRESS_NOTICE: &str = r#"{"notice":"no_client_address","detail":"a request came without CF-Connecting-IP: such requests get no per-address rate limit (USER_RATE_LIMITER still applies). Behind Cloudflare every request has one; is the worker reached through a service binding that builds new requests, or behind another proxy?"}"#;

/// The one JSON log line written per request. Never tokens, cookies, secrets or claims.
#[derive(Debug, Default, Serialize)]
struct RequestLog {
    route: Option<RouteName>,
    /// The worker's version (`Cargo.toml`), so a rollout's lines say which one answered.
    version: &'static str,
    method: String,
    status: u16,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    ms: Durations,
    /// Where the identity provider's keys came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    cache: Option<CacheSource>,
    /// Where Stytch's session keys came from (a request carrying a session JWT).
    #[serde(skip_serializing_if = "Option::is_none")]
    session_keys: Option<CacheSource>,
    #[serde(skip_serializing_if = "is_zero")]
    kv_reads: u32,
    #[serde(skip_serializing_if = "is_zero")]
    jwks_fetches: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    jwks_notes: Vec<String>,
    /// The identity provider the token's issuer selected.
    #[serde(skip_serializing_if = "Option::is_none")]
    provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alg: Option<&'static str>,
    /// What was found of the browser's Stytch session, when it sent one: `reusable`, or
    /// why it was extended or replaced instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    prior: Option<String>,
    /// What became of the Stytch session: `created`, `extended`, `reused`, `local`,
    /// `refreshed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stytch_request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stytch_attempts: Option<u32>,
    /// A rate limiter that failed (the request went on without it).
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_limit_error: Option<String>,
    /// The gateway: the index of the `PROTECT` rule that covered the path.
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<usize>,
    /// The gateway: the Stytch user (B2B: member) the request went to the app for.
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    /// The gateway: the app's status.
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream_status: Option<u16>,
    /// The gateway: the client sent headers under the identity prefix (`Edge-Attest-*`, in
    /// any spelling), which were stripped: someone trying to pass for a user.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    spoofed_identity: bool,
    /// The gateway, on a `cache = "shared"` rule's request: `hit` (answered from the edge
    /// location's cache, the app not asked) or `miss`.
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream_cache: Option<&'static str>,
    /// The gateway: `GATEWAY_LOG_SAMPLE_RATE`, on a success line it applied to (each stands
    /// for 1/rate such requests).
    #[serde(skip_serializing_if = "Option::is_none")]
    sample_rate: Option<String>,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

#[derive(Debug, Default, Serialize)]
struct Durations {
    total: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    jwks: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verify: Option<u64>,
    /// Verifying the browser's session JWT, Stytch's keys included.
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stytch: Option<u64>,
    /// The gateway: until the app's status and headers arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream: Option<u64>,
}

impl RequestLog {
    /// The line of one request (or service-binding call) by `method`, with the version
    /// every line carries.
    fn new(method: String) -> Self {
        Self {
            version: VERSION,
            method,
            ..Self::default()
        }
    }

    /// Adds what the key cache did for one document (the notes say whose, but for the
    /// provider's own key set).
    fn keys(&mut self, trace: JwksTrace, role: KeySetRole) {
        let prefix = match role {
            KeySetRole::Provider => {
                self.cache = trace.source;
                ""
            }
            KeySetRole::Discovery => "OpenID configuration: ",
            KeySetRole::StytchSessions => {
                self.session_keys = trace.source;
                "stytch keys: "
            }
        };
        self.jwks_notes
            .extend(trace.notes.into_iter().map(|n| format!("{prefix}{n}")));
        self.kv_reads += trace.kv_reads;
        self.jwks_fetches += trace.fetches;
    }

    /// Adds one Stytch call that took `ms`: its request id, and its attempts to the total.
    fn stytch<T>(&mut self, call: &Call<T>, ms: u64) {
        self.ms.stytch = Some(self.ms.stytch.unwrap_or(0) + ms);
        if call.request_id.is_some() {
            self.stytch_request_id.clone_from(&call.request_id);
        }
        self.stytch_attempts = Some(self.stytch_attempts.unwrap_or(0) + call.attempts);
    }
}

/// Unix seconds from the platform's milliseconds.
fn unix_secs(ms: u64) -> i64 {
    i64::try_from(ms / 1000).unwrap_or(i64::MAX)
}

/// Which document a lookup was for, as the log line tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeySetRole {
    /// The identity provider's key set.
    Provider,
    /// The identity provider's OpenID Connect configuration.
    Discovery,
    /// Stytch's session keys.
    StytchSessions,
}

/// The request flow: routing and the checks every route shares.
impl<H: HttpClient, K: KvStore, B: SignatureBackend + EntryMac, P: Platform, L: RateLimiter>
    Services<'_, H, K, B, P, L>
{
    /// The key for `token` from its provider's key set: at the configured URL, or at the one
    /// the provider's OpenID configuration names (itself cached like a key set).
    /// The key cache for the document at `url`.
    fn key_cache<'c>(
        &'c self,
        config: &'c Config,
        url: &'c str,
        kind: DocumentKind<'c>,
    ) -> JwksCache<'c, H, K, P, B> {
        JwksCache {
            url,
            kind,
            http: self.http,
            kv: self.kv,
            memory: self.jwks,
            platform: self.platform,
            mac: self.backend,
            secret: &config.key_cache_secret,
        }
    }

    async fn provider_key(
        &self,
        config: &Config,
        provider: &Provider,
        token: &UnverifiedToken<'_>,
        alg: Alg,
        log: &mut RequestLog,
    ) -> Result<Rc<PublicKey>, ResolveError> {
        match &provider.keys {
            KeySource::Jwks(url) => {
                self.key(config, url, KeySetRole::Provider, token, alg, log)
                    .await
            }
            KeySource::Discovery { url, issuer } => {
                let discovery = self.key_cache(config, url, DocumentKind::Discovery { issuer });
                let mut trace = JwksTrace::default();
                let jwks_uri = discovery.jwks_uri(self.platform.now_ms(), &mut trace).await;
                log.keys(trace, KeySetRole::Discovery);
                self.key(config, &jwks_uri?, KeySetRole::Provider, token, alg, log)
                    .await
            }
        }
    }

    /// The key for `token` (whose `alg` the policy allowed) from the key set at `url`,
    /// through this isolate's key cache; what the cache did goes to the log.
    async fn key(
        &self,
        config: &Config,
        url: &str,
        role: KeySetRole,
        token: &UnverifiedToken<'_>,
        alg: Alg,
        log: &mut RequestLog,
    ) -> Result<Rc<PublicKey>, ResolveError> {
        let cache = self.key_cache(config, url, DocumentKind::KeySet);
        let mut trace = JwksTrace::default();
        let key = cache
            .key_for(
                token.header.kid.as_deref(),
                alg,
                self.platform.now_ms(),
                &mut trace,
            )
            .await;
        log.keys(trace, role);
        key
    }

    /// Counts this request against `limit` under `key`: 429 when it is over. No limiter
    /// configured means no limit; a limiter that fails lets the request through, noted in
    /// the log ([`limits`] says why).
    async fn within_limit(
        &self,
        limit: Limit,
        key: &str,
        log: &mut RequestLog,
    ) -> Result<(), Failure> {
        match self.limits.check(limit, key).await {
            Ok(Some(false)) => Err(failure(ApiError::OverLimit {
                which: limit.name(),
                retry_after_secs: limits::RETRY_AFTER_SECS,
            })),
            Ok(_) => Ok(()),
            Err(e) => {
                log.rate_limit_error = Some(format!("{}: {e}", limit.name()));
                Ok(())
            }
        }
    }

    /// The per-address limit, for a request from `address` (its `CF-Connecting-IP`) about
    /// to do what can reach Stytch.
    async fn within_ip_limit(
        &self,
        address: Option<&str>,
        log: &mut RequestLog,
    ) -> Result<(), Failure> {
        let Some(key) = limits::ip_key(address) else {
            if !self.notes.no_client_address.replace(true) {
                self.platform.log(LogLevel::Warn, NO_CLIENT_ADDRESS_NOTICE);
            }
            return Ok(());
        };
        self.within_limit(Limit::Ip, &key, log).await
    }

    /// Handles one request and writes its log line. `forwarder` sends on what the gateway
    /// passes to the app.
    pub async fn handle<Body: BodySource + AllHeaders, F: Forwarder<Body>>(
        &self,
        config: Result<&Config, &ConfigError>,
        req: IncomingRequest<Body>,
        forwarder: &F,
    ) -> Answer<F::Answer> {
        let started = self.platform.now_ms();
        let mut log = RequestLog::new(req.method.clone());
        let response = self.route(config, req, &mut log, forwarder).await;
        log.status = response.status();
        log.ms.total = self.platform.now_ms().saturating_sub(started);
        if self.keeps_line(config, &mut log)
            && let Ok(line) = serde_json::to_string(&log)
        {
            self.platform.log(LogLevel::of_status(log.status), &line);
        }
        response
    }

    /// Whether a request's line is written: always, but for the gateway's plain successes
    /// under `GATEWAY_LOG_SAMPLE_RATE` (src/gateway/logs.rs): forwarded or preflight
    /// answers below 400 with nothing to note (no detail, no key-set event, no rate-limit
    /// failure, no refresh with Stytch, no identity header the client sent), kept at that
    /// rate and marked with it. Refusals, redirects to the login page, errors, the app's own
    /// 4xx and 5xx, and every other route's lines are always written.
    fn keeps_line(&self, config: Result<&Config, &ConfigError>, log: &mut RequestLog) -> bool {
        let Ok(config) = config else {
            return true;
        };
        let sampling = &config.gateway_log;
        if sampling.keeps_all() {
            return true;
        }
        let plain_success = log.route == Some(RouteName::Gateway)
            && matches!(log.outcome, "forwarded" | "preflight")
            && log.status < 400
            && log.detail.is_none()
            && log.rate_limit_error.is_none()
            && log.jwks_notes.is_empty()
            && log.session != Some("refreshed")
            && !log.spoofed_identity;
        if !plain_success {
            return true;
        }
        log.sample_rate = Some(sampling.as_str().to_owned());
        sampling.keeps(self.platform.random_u32())
    }

    async fn route<Body: BodySource + AllHeaders, F: Forwarder<Body>>(
        &self,
        config: Result<&Config, &ConfigError>,
        req: IncomingRequest<Body>,
        log: &mut RequestLog,
        forwarder: &F,
    ) -> Answer<F::Answer> {
        let fail = |log: &mut RequestLog, e: ApiError, extra: Vec<(String, String)>| {
            log.outcome = e.code();
            log.detail = e.log_detail();
            e.into_response(extra)
        };
        let Some(url) = urls::parse(&req.url) else {
            return Answer::Own(fail(
                log,
                ApiError::InvalidRequest("The request URL is invalid."),
                vec![],
            ));
        };
        let Some(route) = Route::at(url.path) else {
            // Not one of the worker's own routes: the gateway's, if a rule covers it. A
            // configuration that cannot be read protects nothing, so it answers 500 here too.
            let config = match config {
                Ok(c) => c,
                Err(e) => {
                    log.route = Some(RouteName::Unknown);
                    return Answer::Own(fail(log, e.into(), vec![]));
                }
            };
            log.route = Some(if config.protect.is_empty() {
                RouteName::Unknown
            } else {
                RouteName::Gateway
            });
            let target = req.url.clone();
            let Some(url) = urls::parse(&target) else {
                return Answer::Own(fail(
                    log,
                    ApiError::InvalidRequest("The request URL is invalid."),
                    vec![],
                ));
            };
            return match out_of_line(self.gateway(config, req, &url, log, forwarder)).await {
                Ok(answer) => answer,
                Err((e, extra)) => {
                    let detail = log.detail.take();
                    let resp = fail(log, e, extra);
                    if log.detail.is_none() {
                        log.detail = detail;
                    }
                    Answer::Own(resp)
                }
            };
        };
        log.route = Some(RouteName::Own(route));

        // The Origin check comes before anything else about the request is looked at, and an
        // allowed Origin gets the CORS headers on every answer of a known route: 405 and 500
        // included, or a browser sees a network error instead of the JSON. A broken
        // configuration still knows ALLOWED_ORIGINS when that variable itself is valid.
        let allowed: &[String] = match config {
            Ok(c) => &c.allowed_origins,
            Err(e) => e.allowed_origins.as_deref().unwrap_or_default(),
        };
        let origin = req.header("origin").map(str::to_owned);
        let cors = match &origin {
            None => vec![],
            Some(o) if origin_allowed(o, &url, allowed) => vec![
                ("access-control-allow-origin".to_owned(), o.clone()),
                (
                    "access-control-allow-credentials".to_owned(),
                    "true".to_owned(),
                ),
                ("vary".to_owned(), "Origin".to_owned()),
            ],
            // With the configuration unreadable, whether this origin is allowed is unknown:
            // the answer is the configuration error, without CORS.
            Some(_) if config.is_err_and(|e| e.allowed_origins.is_none()) => vec![],
            Some(_) => {
                return Answer::Own(fail(
                    log,
                    ApiError::ForbiddenOrigin,
                    vec![("vary".into(), "Origin".into())],
                ));
            }
        };

        let method = req.method.as_str();
        if !route.allows(method) {
            return Answer::Own(fail(
                log,
                ApiError::MethodNotAllowed(route.methods().join(", ")),
                cors,
            ));
        }
        let config = match config {
            Ok(c) => c,
            Err(e) => return Answer::Own(fail(log, e.into(), cors)),
        };
        if method == "OPTIONS" {
            log.outcome = "preflight";
            return Answer::Own(preflight(route, origin.is_some(), cors));
        }
        // Every route, no catch-all: a route added to the table is handled here or does not
        // compile.
        let result = match route {
            Route::Exchange => self.exchange(config, req, log, &cors).await,
            Route::Session => out_of_line(self.session(config, &req, log, &cors)).await,
            Route::Logout => out_of_line(self.logout(config, &req, log, &cors)).await,
            Route::Healthz => Ok(json_response(
                200,
                &HealthBody {
                    status: "ok",
                    version: VERSION,
                },
                cors.clone(),
            )),
        };
        Answer::Own(match result {
            Ok(resp) => {
                if log.outcome.is_empty() {
                    log.outcome = "ok";
                }
                resp
            }
            Err((e, mut extra)) => {
                let mut headers = cors;
                headers.append(&mut extra);
                fail(log, e, headers)
            }
        })
    }
}

/// A route's handler kept a function of its own rather than inlined into `route`'s state
/// machine: V8 compiles a WASM function whole the first time it is called, so code inlined
/// into `route` is compiled by an isolate's first request whatever its route. Behind an
/// opaque pointer it is compiled when a request first takes that route (docs/benchmarks.md,
/// "Cold start"). The box is one allocation per such request.
fn out_of_line<'a, T>(
    handler: impl Future<Output = T> + 'a,
) -> Pin<Box<dyn Future<Output = T> + 'a>> {
    std::hint::black_box(Box::pin(handler))
}

/// Same origin as the request URL, or listed in `ALLOWED_ORIGINS`.
fn origin_allowed(origin: &str, url: &UrlParts<'_>, allowed: &[String]) -> bool {
    origin == url.origin || allowed.iter().any(|o| o == origin)
}

fn preflight(route: Route, is_cors: bool, cors: Vec<(String, String)>) -> Response {
    let mut headers = cors;
    if is_cors {
        headers.extend([
            (
                "access-control-allow-methods".to_owned(),
                route.cors_method().to_owned(),
            ),
            (
                "access-control-allow-headers".to_owned(),
                "Content-Type, Authorization".to_owned(),
            ),
            (
                "access-control-max-age".to_owned(),
                PREFLIGHT_MAX_AGE_SECS.to_string(),
            ),
        ]);
    } else {
        headers.push(("allow".to_owned(), route.methods().join(", ")));
    }
    Response {
        status: 204,
        headers,
        body: String::new(),
    }
}

/// `GET /healthz`'s body.
#[derive(Serialize)]
struct HealthBody {
    status: &'static str,
    version: &'static str,
}

fn json_response(status: u16, body: &impl Serialize, extra: Vec<(String, String)>) -> Response {
    let mut headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("cache-control".to_owned(), "no-store".to_owned()),
    ];
    headers.extend(extra);
    Response {
        status,
        headers,
        // Serialising strings, integers and options cannot fail.
        body: serde_json::to_string(body).unwrap_or_default(),
    }
}

/// `Set-Cookie` headers carrying a session Stytch answered, after `cors`.
fn with_session_cookies(
    config: &Config,
    cors: &[(String, String)],
    session: &Attested,
    now: i64,
) -> Vec<(String, String)> {
    let mut headers = cors.to_vec();
    headers.extend(header_pairs(config.cookies.session_cookies(
        &session.session_token,
        &session.session_jwt,
        session.expires_at_unix,
        now,
    )));
    headers
}

/// Who a session is for, as the response bodies name it: `[user_id, member_id,
/// organization_id]`, a consumer session's user, or a B2B session's member and organization.
fn subject_ids<'a>(
    subject: &'a str,
    organization: Option<&'a crate::stytch::organization::Organization>,
) -> [Option<&'a str>; 3] {
    match organization {
        None => [Some(subject), None, None],
        Some(org) => [None, Some(subject), Some(org.id.as_str())],
    }
}

/// `Set-Cookie` headers that delete the session cookies.
fn clearing_cookies(config: &Config) -> Vec<(String, String)> {
    header_pairs(config.cookies.clearing_cookies())
}

/// `Set-Cookie` headers of these cookies.
fn header_pairs(cookies: impl IntoIterator<Item = String>) -> Vec<(String, String)> {
    cookies
        .into_iter()
        .map(|c| ("set-cookie".to_owned(), c))
        .collect()
}

/// An error answer and the headers to send with it (cleared cookies, for one).
type Failure = (ApiError, Vec<(String, String)>);

/// An error answer with no extra headers.
fn failure(e: impl Into<ApiError>) -> Failure {
    (e.into(), vec![])
}
