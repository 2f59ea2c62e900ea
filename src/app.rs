//! The request handler: routing, the Origin check, token extraction, verification, the
//! Stytch call, cookies and the log line. Runtime-free: all I/O arrives through [`Services`].

use crate::config::{Config, ConfigError};
use crate::cookies::find_cookie;
use crate::error::ApiError;
use crate::formats::urls::{self, UrlParts};
use crate::http::{BodyError, BodySource, HttpClient, IncomingRequest, Platform, Response};
use crate::jwt::token::UnverifiedToken;
use crate::jwt::verify;
use crate::keys::cache::{CacheSource, JwksCache, JwksMemory, JwksTrace, KvStore};
use crate::keys::crypto::SignatureBackend;
use crate::stytch::api::{self as stytch, Revoked};
use serde::Serialize;
use serde_json::{Value, json};
use std::cell::RefCell;

/// Largest request body read, checked against `Content-Length` first and while reading.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// How long browsers may cache a preflight answer.
pub const PREFLIGHT_MAX_AGE_SECS: u32 = 600;
/// The crate version, reported by `/healthz`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The worker's I/O, as the glue (or a test) provides it.
#[derive(Debug)]
pub struct Services<'a, H, K, B, P> {
    /// Outbound HTTP (JWKS and Stytch).
    pub http: &'a H,
    /// Workers KV for the JWKS.
    pub kv: &'a K,
    /// Signature verification.
    pub backend: &'a B,
    /// Clock, sleep, randomness, log.
    pub platform: &'a P,
    /// This isolate's JWKS memory.
    pub jwks: &'a RefCell<JwksMemory>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Route {
    Exchange,
    Logout,
    Healthz,
    Unknown,
}

impl Route {
    fn allow(self) -> &'static str {
        match self {
            Self::Exchange | Self::Logout => "POST, OPTIONS",
            Self::Healthz => "GET",
            Self::Unknown => "",
        }
    }
}

/// The one JSON log line written per request. Never tokens, cookies, secrets or claims.
#[derive(Debug, Default, Serialize)]
struct RequestLog {
    route: Option<Route>,
    method: String,
    status: u16,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    ms: Durations,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache: Option<CacheSource>,
    #[serde(skip_serializing_if = "is_zero")]
    kv_reads: u32,
    #[serde(skip_serializing_if = "is_zero")]
    jwks_fetches: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    jwks_notes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alg: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stytch_request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stytch_attempts: Option<u32>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    stytch: Option<u64>,
}

/// The request flow. One impl block carries the I/O bounds for all of it.
impl<H: HttpClient, K: KvStore, B: SignatureBackend, P: Platform> Services<'_, H, K, B, P> {
    /// Handles one request and writes its log line.
    pub async fn handle<Body: BodySource>(
        &self,
        config: Result<&Config, &ConfigError>,
        req: IncomingRequest<Body>,
    ) -> Response {
        let started = self.platform.now_ms();
        let mut log = RequestLog {
            method: req.method.clone(),
            ..RequestLog::default()
        };
        let response = self.route(config, req, &mut log).await;
        log.status = response.status;
        log.ms.total = self.platform.now_ms().saturating_sub(started);
        if let Ok(line) = serde_json::to_string(&log) {
            self.platform.log(&line);
        }
        response
    }

    async fn route<Body: BodySource>(
        &self,
        config: Result<&Config, &ConfigError>,
        req: IncomingRequest<Body>,
        log: &mut RequestLog,
    ) -> Response {
        let fail = |log: &mut RequestLog, e: ApiError, extra: Vec<(String, String)>| {
            log.outcome = e.code();
            log.detail = e.log_detail();
            e.into_response(extra)
        };
        let Some(url) = urls::parse(&req.url) else {
            return fail(
                log,
                ApiError::InvalidRequest("The request URL is invalid."),
                vec![],
            );
        };
        let route = match url.path {
            "/api/exchange" => Route::Exchange,
            "/api/logout" => Route::Logout,
            "/healthz" => Route::Healthz,
            _ => Route::Unknown,
        };
        log.route = Some(route);
        let method = req.method.as_str();
        let method_ok = match route {
            Route::Unknown => return fail(log, ApiError::NotFound, vec![]),
            Route::Healthz => method == "GET",
            Route::Exchange | Route::Logout => method == "POST" || method == "OPTIONS",
        };
        if !method_ok {
            return fail(log, ApiError::MethodNotAllowed(route.allow()), vec![]);
        }
        let config = match config {
            Ok(c) => c,
            Err(e) => return fail(log, e.into(), vec![]),
        };

        // The Origin check comes before anything about the body or the token is looked at.
        let origin = req.header("origin").map(str::to_owned);
        let cors = match &origin {
            None => vec![],
            Some(o) if origin_allowed(o, &url, config) => vec![
                ("access-control-allow-origin".to_owned(), o.clone()),
                (
                    "access-control-allow-credentials".to_owned(),
                    "true".to_owned(),
                ),
                ("vary".to_owned(), "Origin".to_owned()),
            ],
            Some(_) => {
                return fail(
                    log,
                    ApiError::ForbiddenOrigin,
                    vec![("vary".into(), "Origin".into())],
                );
            }
        };

        if route == Route::Healthz {
            log.outcome = "ok";
            return json_response(200, &json!({ "status": "ok", "version": VERSION }), cors);
        }
        if method == "OPTIONS" {
            log.outcome = "preflight";
            return preflight(route, origin.is_some(), cors);
        }
        let result = match route {
            Route::Exchange => self.exchange(config, req, log, &cors).await,
            _ => self.logout(config, &req, log, &cors).await,
        };
        match result {
            Ok(resp) => {
                log.outcome = "ok";
                resp
            }
            Err((e, mut extra)) => {
                let mut headers = cors;
                headers.append(&mut extra);
                fail(log, e, headers)
            }
        }
    }

    async fn exchange<Body: BodySource>(
        &self,
        config: &Config,
        req: IncomingRequest<Body>,
        log: &mut RequestLog,
        cors: &[(String, String)],
    ) -> Result<Response, Failure> {
        let token = extract_token(req).await.map_err(|e| (e, vec![]))?;

        let now_ms = self.platform.now_ms();
        let now = i64::try_from(now_ms / 1000).unwrap_or(i64::MAX);
        let unverified = UnverifiedToken::parse(&token).map_err(|e| (e.into(), vec![]))?;
        let alg = config
            .policy
            .allowed_alg(&unverified)
            .map_err(|e| (e.into(), vec![]))?;
        log.alg = Some(alg.name());

        let cache = JwksCache {
            url: &config.jwks_url,
            http: self.http,
            kv: self.kv,
            memory: self.jwks,
        };
        let mut trace = JwksTrace::default();
        let key = cache
            .key_for(unverified.header.kid.as_deref(), alg, now_ms, &mut trace)
            .await;
        let after_jwks = self.platform.now_ms();
        log.ms.jwks = Some(after_jwks.saturating_sub(now_ms));
        log.cache = trace.source;
        log.kv_reads = trace.kv_reads;
        log.jwks_fetches = trace.fetches;
        log.jwks_notes = trace.notes;
        let key = key.map_err(|e| (e.into(), vec![]))?;

        let verified = verify::verify(&unverified, &key, self.backend, &config.policy, now).await;
        let after_verify = self.platform.now_ms();
        log.ms.verify = Some(after_verify.saturating_sub(after_jwks));
        verified.map_err(|e| (e.into(), vec![]))?;

        // Only a token that verified locally reaches Stytch.
        let call = stytch::attest(self.http, self.platform, &config.stytch, &token).await;
        log.ms.stytch = Some(self.platform.now_ms().saturating_sub(after_verify));
        log.stytch_request_id.clone_from(&call.request_id);
        log.stytch_attempts = Some(call.attempts);
        let session = call.result.map_err(|e| (e.into(), vec![]))?;

        let now_after = i64::try_from(self.platform.now_ms() / 1000).unwrap_or(i64::MAX);
        let mut headers = cors.to_vec();
        let cookies = config.cookies.session_cookies(
            &session.session_token,
            &session.session_jwt,
            session.expires_at_unix,
            now_after,
        );
        headers.extend(cookies.into_iter().map(|c| ("set-cookie".to_owned(), c)));
        Ok(json_response(
            200,
            &ExchangeBody {
                expires_at: &session.expires_at,
                request_id: call.request_id.as_deref(),
                session_id: &session.session_id,
                user_id: &session.user_id,
            },
            headers,
        ))
    }

    async fn logout<Body>(
        &self,
        config: &Config,
        req: &IncomingRequest<Body>,
        log: &mut RequestLog,
        cors: &[(String, String)],
    ) -> Result<Response, Failure> {
        let clear: Vec<(String, String)> = config
            .cookies
            .clearing_cookies()
            .into_iter()
            .map(|c| ("set-cookie".to_owned(), c))
            .collect();
        let session_token = req
            .headers
            .iter()
            .filter(|(k, _)| k == "cookie")
            .find_map(|(_, v)| find_cookie(v, &config.cookies.session_name));
        let (revoked, request_id) = match session_token {
            None => (false, None),
            Some(token) => {
                let started = self.platform.now_ms();
                let call = stytch::revoke(self.http, self.platform, &config.stytch, token).await;
                log.ms.stytch = Some(self.platform.now_ms().saturating_sub(started));
                log.stytch_request_id.clone_from(&call.request_id);
                log.stytch_attempts = Some(call.attempts);
                match call.result {
                    Ok(r) => (r == Revoked::Yes, call.request_id),
                    Err(e) => return Err((e.into(), clear)),
                }
            }
        };
        let mut headers = cors.to_vec();
        headers.extend(clear);
        Ok(json_response(
            200,
            &json!({ "revoked": revoked, "request_id": request_id }),
            headers,
        ))
    }
}

/// Same origin as the request URL, or listed in `ALLOWED_ORIGINS`.
fn origin_allowed(origin: &str, url: &UrlParts<'_>, config: &Config) -> bool {
    origin == url.origin || config.allowed_origins.iter().any(|o| o == origin)
}

fn preflight(route: Route, is_cors: bool, cors: Vec<(String, String)>) -> Response {
    let mut headers = cors;
    if is_cors {
        headers.extend([
            ("access-control-allow-methods".to_owned(), "POST".to_owned()),
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
        headers.push(("allow".to_owned(), route.allow().to_owned()));
    }
    Response {
        status: 204,
        headers,
        body: String::new(),
    }
}

/// The exchange's 200 body (typed: serialising it costs less than building a JSON value;
/// members in the order the other bodies have, alphabetical).
#[derive(Serialize)]
struct ExchangeBody<'a> {
    expires_at: &'a str,
    request_id: Option<&'a str>,
    session_id: &'a str,
    user_id: &'a str,
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

type Failure = (ApiError, Vec<(String, String)>);

/// The token from `Authorization: Bearer` or the JSON body; both present must agree.
async fn extract_token<Body: BodySource>(req: IncomingRequest<Body>) -> Result<String, ApiError> {
    let declared_len = req
        .header("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared_len.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(ApiError::PayloadTooLarge);
    }
    let bearer = match req.header("authorization") {
        None => None,
        Some(v) => match v.trim().split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => {
                Some(t.trim().to_owned())
            }
            _ => {
                return Err(ApiError::InvalidRequest(
                    "The Authorization header must be 'Bearer <token>'.",
                ));
            }
        },
    };
    let is_json = req
        .header("content-type")
        .and_then(|c| c.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    let body = req.body.read(MAX_BODY_BYTES).await.map_err(|e| match e {
        BodyError::TooLarge => ApiError::PayloadTooLarge,
        BodyError::Io(_) => ApiError::InvalidRequest("The request body could not be read."),
    })?;

    let from_body = if body.is_empty() {
        None
    } else {
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(&body) else {
            return Err(ApiError::InvalidRequest("The body must be a JSON object."));
        };
        match doc.get("access_token") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) if !t.is_empty() => Some(t.clone()),
            Some(_) => {
                return Err(ApiError::InvalidRequest(
                    "access_token must be a non-empty string.",
                ));
            }
        }
    };
    match (bearer, from_body) {
        (Some(h), Some(b)) if h != b => Err(ApiError::InvalidRequest(
            "The Authorization header and the body carry different tokens.",
        )),
        (Some(t), _) | (None, Some(t)) => Ok(t),
        (None, None) => Err(ApiError::InvalidRequest(
            "No access token: send {\"access_token\": \"...\"} or Authorization: Bearer.",
        )),
    }
}
