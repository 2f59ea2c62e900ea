//! The worker's client-facing errors, and the one place they become HTTP responses.
//!
//! Each concern has its own error type ([`VerifyError`], [`ResolveError`], [`StytchError`],
//! [`ConfigError`]); they convert into [`ApiError`], and [`ApiError::into_response`] is the
//! only code that chooses a status, an error code and the client text. The text is fixed
//! per code (plus Stytch's `error_type` where the spec asks for it); the detail goes to the
//! log line, never to the client.

use crate::config::ConfigError;
use crate::http::Response;
use crate::jwt::verify::VerifyError;
use crate::keys::cache::ResolveError;
use crate::stytch::api::StytchError;
use serde::Serialize;

/// `Retry-After` when no keys can be had: long enough for a transient JWKS outage.
pub const JWKS_RETRY_AFTER_SECS: u64 = 5;
/// `Retry-After` for a Stytch 429 that named no delay.
pub const RATE_LIMIT_RETRY_AFTER_SECS: u64 = 10;

/// An error answer, with the detail that goes to the log only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 400: bad JSON, missing or conflicting token.
    InvalidRequest(&'static str),
    /// 401: local verification failed (detail: which rule).
    InvalidToken(String),
    /// 401: Stytch refused the token or its user.
    RejectedByStytch {
        /// Stytch's `error_type`, echoed in the description.
        error_type: Option<String>,
    },
    /// 401: the request's session cookies name no live Stytch session.
    InvalidSession,
    /// 401: a request for a path the gateway protects, without a session its cookies prove
    /// (detail: why, for the log).
    Unauthenticated(String),
    /// 403: `Origin` present and not allowed.
    ForbiddenOrigin,
    /// 403: the session lacks what the gateway's rule requires: a role, an organization
    /// (detail: which, for the log).
    Forbidden(&'static str),
    /// 403: the session's login is below the rule's assurance level (RFC 9470's code): sign
    /// in again with a second factor.
    InsufficientAuthentication {
        /// The level required (`aal2`).
        required: &'static str,
    },
    /// 404.
    NotFound,
    /// 405 with the methods the path allows (the `Allow` value).
    MethodNotAllowed(String),
    /// 413: body over the limit.
    PayloadTooLarge,
    /// 415: a body that is not JSON.
    UnsupportedMediaType,
    /// 429: Stytch rate-limited us (not retried).
    RateLimited {
        /// Seconds for `Retry-After`.
        retry_after_secs: u64,
    },
    /// 429: a rate limit of this worker.
    OverLimit {
        /// Which one (`ip` or `user`), for the log.
        which: &'static str,
        /// Seconds for `Retry-After`.
        retry_after_secs: u64,
    },
    /// 500: configuration is missing or invalid (detail names the variable).
    Misconfigured(String),
    /// 502: Stytch failed or answered nonsense.
    Upstream {
        /// Stytch's `error_type`, when it gave one.
        error_type: Option<String>,
        /// What happened, for the log.
        detail: String,
    },
    /// 503: no usable JWKS keys.
    JwksUnavailable(String),
    /// 504: Stytch did not answer in time.
    UpstreamTimeout,
    /// 502: the app behind the gateway could not be reached (detail: what happened).
    AppUnreachable(String),
    /// 504: the app behind the gateway did not answer in time.
    AppTimeout,
}

impl ApiError {
    /// HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidRequest(_) => 400,
            Self::InvalidToken(_)
            | Self::RejectedByStytch { .. }
            | Self::InvalidSession
            | Self::Unauthenticated(_) => 401,
            Self::ForbiddenOrigin
            | Self::Forbidden(_)
            | Self::InsufficientAuthentication { .. } => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed(_) => 405,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::RateLimited { .. } | Self::OverLimit { .. } => 429,
            Self::Misconfigured(_) => 500,
            Self::Upstream { .. } | Self::AppUnreachable(_) => 502,
            Self::JwksUnavailable(_) => 503,
            Self::UpstreamTimeout | Self::AppTimeout => 504,
        }
    }

    /// The `error` code of the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidToken(_) | Self::RejectedByStytch { .. } => "invalid_token",
            Self::InvalidSession => "invalid_session",
            Self::Unauthenticated(_) => "unauthenticated",
            Self::ForbiddenOrigin => "forbidden_origin",
            Self::Forbidden(_) => "forbidden",
            Self::InsufficientAuthentication { .. } => "insufficient_user_authentication",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::RateLimited { .. } | Self::OverLimit { .. } => "rate_limited",
            Self::Misconfigured(_) => "misconfigured",
            Self::Upstream { .. } => "upstream_error",
            Self::JwksUnavailable(_) => "jwks_unavailable",
            Self::UpstreamTimeout => "upstream_timeout",
            Self::AppUnreachable(_) => "app_unreachable",
            Self::AppTimeout => "app_timeout",
        }
    }

    /// The one-sentence `error_description` the client sees.
    pub fn description(&self) -> String {
        match self {
            Self::InvalidRequest(what) => (*what).to_owned(),
            Self::InvalidToken(_) => "The access token is invalid or expired.".into(),
            Self::RejectedByStytch {
                error_type: Some(t),
            } => {
                format!("Stytch rejected the access token ({t}).")
            }
            Self::RejectedByStytch { error_type: None } => {
                "Stytch rejected the access token.".into()
            }
            Self::InvalidSession => "There is no valid session; sign in again.".into(),
            Self::Unauthenticated(_) => "Sign in to continue.".into(),
            Self::ForbiddenOrigin => "This origin is not allowed to call this endpoint.".into(),
            Self::Forbidden(_) => "This session may not access this resource.".into(),
            Self::InsufficientAuthentication { required } => {
                format!("This resource requires a sign-in at {required}; sign in again.")
            }
            Self::NotFound => "No such endpoint.".into(),
            Self::MethodNotAllowed(_) => "This method is not allowed on this endpoint.".into(),
            Self::PayloadTooLarge => "The request body is larger than 16 KiB.".into(),
            Self::UnsupportedMediaType => {
                "The request body must be JSON (application/json).".into()
            }
            Self::RateLimited { .. } | Self::OverLimit { .. } => {
                "Too many sign-ins right now; try again shortly.".into()
            }
            Self::Misconfigured(_) => "The service is misconfigured.".into(),
            Self::Upstream {
                error_type: Some(t),
                ..
            } => format!("Stytch failed ({t})."),
            Self::Upstream {
                error_type: None, ..
            } => "Stytch failed or answered unexpectedly.".into(),
            Self::JwksUnavailable(_) => {
                "The signing keys cannot be fetched right now; try again shortly.".into()
            }
            Self::UpstreamTimeout => "Stytch did not answer in time.".into(),
            Self::AppUnreachable(_) => "The app behind the gateway could not be reached.".into(),
            Self::AppTimeout => "The app behind the gateway did not answer in time.".into(),
        }
    }

    /// What the log line should say beyond the code, if anything.
    pub fn log_detail(&self) -> Option<String> {
        match self {
            Self::InvalidToken(d)
            | Self::Misconfigured(d)
            | Self::JwksUnavailable(d)
            | Self::Unauthenticated(d)
            | Self::AppUnreachable(d) => Some(d.clone()),
            Self::Upstream { detail, .. } => Some(detail.clone()),
            Self::RejectedByStytch { error_type } => error_type.clone(),
            Self::OverLimit { which, .. } => Some(format!("{which} rate limit")),
            Self::Forbidden(unmet) => Some((*unmet).to_owned()),
            Self::InsufficientAuthentication { required } => Some(format!("aal below {required}")),
            _ => None,
        }
    }

    /// The response: JSON body, `Cache-Control: no-store`, the headers the status calls for,
    /// then `extra` (CORS, cleared cookies) in order.
    pub fn into_response(&self, extra: Vec<(String, String)>) -> Response {
        let mut headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("cache-control".to_owned(), "no-store".to_owned()),
        ];
        match self {
            Self::InvalidToken(_) | Self::RejectedByStytch { .. } => headers.push((
                "www-authenticate".into(),
                r#"Bearer error="invalid_token""#.into(),
            )),
            Self::MethodNotAllowed(allow) => headers.push(("allow".into(), allow.clone())),
            Self::RateLimited { retry_after_secs }
            | Self::OverLimit {
                retry_after_secs, ..
            } => {
                headers.push(("retry-after".into(), retry_after_secs.to_string()));
            }
            Self::JwksUnavailable(_) => {
                headers.push(("retry-after".into(), JWKS_RETRY_AFTER_SECS.to_string()));
            }
            _ => {}
        }
        headers.extend(extra);
        Response {
            status: self.status(),
            headers,
            // Serialising two strings cannot fail.
            body: serde_json::to_string(&ErrorBody {
                error: self.code(),
                error_description: &self.description(),
            })
            .unwrap_or_default(),
        }
    }
}

/// The JSON of every error answer.
#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl ApiError {
    /// A failed refresh of the cookies' session (`GET /api/session`): Stytch refusing the
    /// session token means there is no session (401 `invalid_session`); anything else maps
    /// as any Stytch failure does.
    pub fn from_session_refresh(e: StytchError) -> Self {
        if e.is_rejection() {
            Self::InvalidSession
        } else {
            e.into()
        }
    }
}

impl From<VerifyError> for ApiError {
    fn from(e: VerifyError) -> Self {
        Self::InvalidToken(e.to_string())
    }
}

impl From<ResolveError> for ApiError {
    fn from(e: ResolveError) -> Self {
        match e {
            ResolveError::Unavailable(why) => Self::JwksUnavailable(why),
            ResolveError::Key(e) => VerifyError::from(e).into(),
        }
    }
}

impl From<StytchError> for ApiError {
    fn from(e: StytchError) -> Self {
        let kind = e.kind();
        match e {
            StytchError::Rejected { error_type, .. } => Self::RejectedByStytch { error_type },
            StytchError::Misconfigured { status, error_type } => Self::Misconfigured(format!(
                "Stytch answered {status} {}: check STYTCH_PROJECT_ID, STYTCH_SECRET and SESSION_DURATION_MINUTES",
                error_type.as_deref().unwrap_or("-")
            )),
            StytchError::ProfileMismatch {
                status,
                error_type,
                profile_id,
            } => Self::Misconfigured(format!(
                "Stytch answered {status} {error_type} for Trusted Auth Token profile {}: the profile no longer matches the provider's tokens (its issuer, audience, key set or attribute mapping); every user is refused until it is fixed",
                profile_id.as_deref().unwrap_or("-")
            )),
            StytchError::RateLimited { retry_after_secs } => Self::RateLimited {
                retry_after_secs: retry_after_secs
                    .unwrap_or(RATE_LIMIT_RETRY_AFTER_SECS)
                    .clamp(1, 3600),
            },
            StytchError::Upstream { status, error_type } => Self::Upstream {
                detail: format!("{kind}: HTTP {status}"),
                error_type,
            },
            StytchError::Malformed(what) => Self::Upstream {
                error_type: None,
                detail: format!("{kind}: {what}"),
            },
            StytchError::Network(why) => Self::Upstream {
                error_type: None,
                detail: format!("{kind}: {why}"),
            },
            StytchError::Timeout => Self::UpstreamTimeout,
        }
    }
}

impl From<&ConfigError> for ApiError {
    fn from(e: &ConfigError) -> Self {
        Self::Misconfigured(e.to_string())
    }
}
