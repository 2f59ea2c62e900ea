//! Calls to Stytch: Attest Session (Trusted Auth Tokens), Authenticate Session and Revoke
//! Session.
//!
//! Request and response shapes follow Stytch's SDKs (stytch-node `lib/b2c/sessions.ts`,
//! `lib/b2b/sessions.ts`) and API reference (<https://stytch.com/docs/api/attest-session>).
//! One retry at most, only for failures that a second try can fix (network error, 5xx),
//! after a short jittered pause; a 4xx is an answer, never retried; a timeout is not retried
//! either, so the worst case stays near one timeout. A 429 is not retried: Stytch's limits
//! are per project and reset at the top of the hour (its rate-limit docs ask for backoff), so
//! a retry within a few hundred milliseconds only adds to the load that caused it.

use crate::formats::json;
use crate::formats::time::parse_rfc3339;
use crate::http::{
    HttpClient, Method, OutboundRequest, OutboundResponse, Platform, TransportError,
};
use crate::stytch::ids::clean_id;
use crate::stytch::organization::Organization;
use crate::stytch::project::{Product, StytchConfig};
use crate::stytch::session::{LINK_CLAIM, Link, SessionFacts, roles_of};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::Value;

/// Per-attempt timeout. Stytch's SDKs default to minutes; a browser waiting on a login
/// should not.
pub const TIMEOUT_MS: u32 = 5_000;
/// Largest Stytch answer read. The `user` object can carry metadata, so this is generous.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;
/// First try plus at most one retry.
pub const MAX_ATTEMPTS: u32 = 2;
/// Pause before the retry: this many milliseconds…
pub const BACKOFF_MIN_MS: u32 = 100;
/// …plus a random share of this many, so isolates retrying together spread out.
pub const BACKOFF_JITTER_MS: u32 = 200;
/// Error types that mean the Trusted Auth Token profile no longer matches the deployment,
/// whatever the user: the worker has already checked the token's signature, issuer,
/// audience and expiry, so Stytch refusing one of those is the profile's (a trailing slash
/// in its issuer is the classic), not the user's. Names from Stytch's error-type list
/// (stytch-browser `StytchAPIErrorType.ts`); their statuses are not documented.
const PROFILE_ERROR_TYPES: [&str; 5] = [
    "trusted_token_profile_not_found",
    "trusted_token_profile_invalid_request",
    "jwt_invalid_issuer",
    "jwt_invalid_audience",
    "jwt_invalid_claims",
];
/// Error types that mean the worker's own variables are wrong, whatever the token.
const CONFIG_ERROR_TYPES: [&str; 2] = [
    "unauthorized_credentials",
    "invalid_session_duration_minutes",
];

/// A session as Stytch answered it (created or extended by Attest, or authenticated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attested {
    /// Stytch user id; in a B2B project, the member id.
    pub user_id: String,
    /// Stytch session id (B2B: `member_session_id`).
    pub session_id: String,
    /// Opaque session token (cookie only, never in a body or log).
    pub session_token: String,
    /// Session JWT (cookie only, never in a body or log).
    pub session_jwt: String,
    /// `session.expires_at` as Stytch wrote it (RFC 3339).
    pub expires_at: String,
    /// The same instant, Unix seconds.
    pub expires_at_unix: i64,
    /// The login the session was created for (its [`LINK_CLAIM`] custom claim), if any.
    pub link: Option<Link>,
    /// B2B: the organization the member session is in (always present in a B2B answer).
    pub organization: Option<Organization>,
    /// The session's Stytch RBAC roles (`session.roles`; B2B `member_session.roles`).
    pub roles: Vec<String>,
}

impl Attested {
    /// Its facts.
    pub fn facts(&self) -> SessionFacts<'_> {
        SessionFacts {
            user_id: &self.user_id,
            session_id: &self.session_id,
            expires_at: &self.expires_at,
            link: self.link.as_ref(),
            organization: self.organization.as_ref(),
            roles: &self.roles,
        }
    }
}

/// The result of Revoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// Stytch revoked the session.
    Yes,
    /// Stytch did not know the session (already revoked or expired).
    AlreadyGone,
}

/// How a Stytch call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StytchError {
    /// 400/401/404 about the token, the user or the session.
    Rejected {
        /// HTTP status.
        status: u16,
        /// Stytch's `error_type`, when it gave a well-formed one.
        error_type: Option<String>,
    },
    /// Stytch says our credentials or session length are wrong.
    Misconfigured {
        /// HTTP status.
        status: u16,
        /// Stytch's `error_type`.
        error_type: Option<String>,
    },
    /// Stytch says the Trusted Auth Token profile is unknown or no longer matches the
    /// provider's tokens ([`PROFILE_ERROR_TYPES`]).
    ProfileMismatch {
        /// HTTP status.
        status: u16,
        /// Stytch's `error_type`.
        error_type: String,
        /// The profile the attest named (set by [`attest`]; configuration, not a secret).
        profile_id: Option<String>,
    },
    /// 429 (never retried).
    RateLimited {
        /// Stytch's `Retry-After`, when given.
        retry_after_secs: Option<u64>,
    },
    /// 5xx after the retry, or another unexpected status.
    Upstream {
        /// HTTP status.
        status: u16,
        /// Stytch's `error_type`.
        error_type: Option<String>,
    },
    /// A 200 (or error) body that does not have the documented shape.
    Malformed(&'static str),
    /// No answer within [`TIMEOUT_MS`].
    Timeout,
    /// Connection failure, still after the retry.
    Network(String),
}

impl StytchError {
    /// Whether Stytch answered that it will not accept this token, user or session (a 4xx
    /// that a retry cannot change), as opposed to failing.
    pub fn is_rejection(&self) -> bool {
        matches!(self, Self::Rejected { .. })
    }

    /// Stytch's `error_type`, when the answer named one.
    pub fn error_type(&self) -> Option<&str> {
        match self {
            Self::Rejected { error_type, .. }
            | Self::Misconfigured { error_type, .. }
            | Self::Upstream { error_type, .. } => error_type.as_deref(),
            Self::ProfileMismatch { error_type, .. } => Some(error_type),
            _ => None,
        }
    }

    /// A stable snake_case name for the log.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Rejected { .. } => "stytch_rejected",
            Self::Misconfigured { .. } => "stytch_credentials",
            Self::ProfileMismatch { .. } => "stytch_profile",
            Self::RateLimited { .. } => "stytch_rate_limited",
            Self::Upstream { .. } => "stytch_upstream",
            Self::Malformed(_) => "stytch_malformed",
            Self::Timeout => "stytch_timeout",
            Self::Network(_) => "stytch_network",
        }
    }
}

/// One Stytch call: its result, Stytch's `request_id` when there was one, and how many
/// attempts it took.
#[derive(Debug, Clone)]
pub struct Call<T> {
    /// Outcome.
    pub result: Result<T, StytchError>,
    /// Stytch's `request_id`, for support and for the log.
    pub request_id: Option<String>,
    /// 1 or 2.
    pub attempts: u32,
}

/// What to attest: the verified token, the login it links the session to, and the session
/// to extend instead of creating one.
#[derive(Debug, Clone, Copy)]
pub struct AttestArgs<'a> {
    /// The Trusted Auth Token profile of the token's provider.
    pub profile_id: &'a str,
    /// The identity-provider token, verified locally.
    pub token: &'a str,
    /// Sent as the session's [`LINK_CLAIM`] custom claim.
    pub link: Option<&'a Link>,
    /// An existing session's token: Stytch adds the factor to it and extends it.
    pub session_token: Option<&'a str>,
    /// B2B: the organization (id or slug) to put the member in; `None` leaves it to the
    /// profile's mapping of the token's claim.
    pub organization_id: Option<&'a str>,
}

/// The attest request body (typed: serialising it costs less than building a JSON value).
#[derive(Serialize)]
struct AttestRequest<'a> {
    profile_id: &'a str,
    token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    organization_id: Option<&'a str>,
    session_duration_minutes: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_custom_claims: Option<CustomClaims<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_token: Option<&'a str>,
}

/// `session_custom_claims`: `{LINK_CLAIM: link}`.
struct CustomClaims<'a>(&'a Link);

impl Serialize for CustomClaims<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(LINK_CLAIM, self.0)?;
        map.end()
    }
}

/// The body of authenticate: a session named by its token.
#[derive(Serialize)]
struct SessionTokenRequest<'a> {
    session_token: &'a str,
}

/// The body of revoke: a session named by its id (`session_id`; B2B `member_session_id`).
struct SessionIdRequest<'a> {
    name: &'static str,
    session_id: &'a str,
}

impl Serialize for SessionIdRequest<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(self.name, self.session_id)?;
        map.end()
    }
}

/// A request body as JSON. Serialising structs of strings and integers cannot fail.
fn to_json(body: &impl Serialize) -> String {
    serde_json::to_string(body).unwrap_or_default()
}

/// Exchanges a verified identity-provider token for a Stytch session: a new one, or the one
/// named by `args.session_token`, extended.
pub async fn attest<H: HttpClient, P: Platform>(
    http: &H,
    platform: &P,
    cfg: &StytchConfig,
    args: AttestArgs<'_>,
) -> Call<Attested> {
    let body = AttestRequest {
        profile_id: args.profile_id,
        token: args.token,
        organization_id: args.organization_id,
        session_duration_minutes: cfg.session_duration_minutes,
        session_custom_claims: args.link.map(CustomClaims),
        session_token: args.session_token,
    };
    let mut call = session_call(
        http,
        platform,
        cfg,
        cfg.product.attest_path(),
        to_json(&body),
    )
    .await;
    if let Err(StytchError::ProfileMismatch { profile_id, .. }) = &mut call.result {
        *profile_id = Some(args.profile_id.to_owned());
    }
    call
}

/// Authenticates a session by its token: the session as it is now, with a fresh JWT.
pub async fn authenticate<H: HttpClient, P: Platform>(
    http: &H,
    platform: &P,
    cfg: &StytchConfig,
    session_token: &str,
) -> Call<Attested> {
    let body = SessionTokenRequest { session_token };
    let path = cfg.product.authenticate_path();
    session_call(http, platform, cfg, path, to_json(&body)).await
}

/// A call whose 200 answer is a session (attest, authenticate).
async fn session_call<H: HttpClient, P: Platform>(
    http: &H,
    platform: &P,
    cfg: &StytchConfig,
    path: &str,
    body: String,
) -> Call<Attested> {
    let (resp, attempts) = send(http, platform, cfg, path, body).await;
    let (result, request_id) = match resp {
        Ok(resp) => read_session_answer(&resp, cfg.product),
        Err(e) => (Err(transport_error(e)), None),
    };
    Call {
        result,
        request_id,
        attempts,
    }
}

/// Stytch's answer to a call whose 200 carries a session (attest, authenticate): the session,
/// or how the call failed, and Stytch's `request_id` when it gave a well-formed one. Every
/// string that may reach a cookie, a body or a log is checked here.
pub fn read_session_answer(
    resp: &OutboundResponse,
    product: Product,
) -> (Result<Attested, StytchError>, Option<String>) {
    if resp.status != 200 {
        let (e, id) = classify_error(resp);
        return (Err(e), id);
    }
    let parsed = SessionAnswer::read(&resp.body, product);
    let request_id = parsed
        .as_ref()
        .and_then(|b| clean_id(b.request_id.as_deref()));
    (
        parsed
            .ok_or(StytchError::Malformed("answer is not JSON"))
            .and_then(SessionAnswer::into_attested),
        request_id,
    )
}

/// Revokes a session by its id: the id of a live session JWT that verified, so that only a
/// session the browser proves it holds is ever revoked.
pub async fn revoke<H: HttpClient, P: Platform>(
    http: &H,
    platform: &P,
    cfg: &StytchConfig,
    session_id: &str,
) -> Call<Revoked> {
    let body = SessionIdRequest {
        name: cfg.product.session_id_name(),
        session_id,
    };
    revoke_call(http, platform, cfg, to_json(&body)).await
}

/// Revoke Session by the session token (`POST /v1/sessions/revoke {session_token}`; B2B
/// `/v1/b2b/sessions/revoke`): for a logout whose session JWT has expired, where the token
/// cookie is the proof that the browser holds the session.
pub async fn revoke_token<H: HttpClient, P: Platform>(
    http: &H,
    platform: &P,
    cfg: &StytchConfig,
    session_token: &str,
) -> Call<Revoked> {
    let body = SessionTokenRequest { session_token };
    revoke_call(http, platform, cfg, to_json(&body)).await
}

/// A revoke: 200 is revoked; a rejection means the session was already gone.
async fn revoke_call<H: HttpClient, P: Platform>(
    http: &H,
    platform: &P,
    cfg: &StytchConfig,
    body: String,
) -> Call<Revoked> {
    let path = cfg.product.revoke_path();
    let (resp, attempts) = send(http, platform, cfg, path, body).await;
    let (result, request_id) = match resp {
        Ok(resp) if resp.status == 200 => {
            let parsed = ErrorBody::read(&resp.body);
            (
                Ok(Revoked::Yes),
                parsed.and_then(|b| clean_id(b.request_id.as_deref())),
            )
        }
        Ok(resp) => match classify_error(&resp) {
            (StytchError::Rejected { .. }, id) => (Ok(Revoked::AlreadyGone), id),
            (e, id) => (Err(e), id),
        },
        Err(e) => (Err(transport_error(e)), None),
    };
    Call {
        result,
        request_id,
        attempts,
    }
}

async fn send<H: HttpClient, P: Platform>(
    http: &H,
    platform: &P,
    cfg: &StytchConfig,
    path: &str,
    body: String,
) -> (Result<OutboundResponse, TransportError>, u32) {
    let req = OutboundRequest {
        method: Method::Post,
        url: format!("{}{path}", cfg.api_base),
        headers: vec![
            ("authorization", cfg.basic_auth().to_owned()),
            ("content-type", "application/json".into()),
            ("accept", "application/json".into()),
        ],
        body: Some(body),
        timeout_ms: TIMEOUT_MS,
        max_response_bytes: MAX_RESPONSE_BYTES,
    };
    let mut attempt = 1;
    loop {
        let result = http.send(&req).await;
        let retryable = match &result {
            Err(TransportError::Network(_)) => true,
            Err(_) => false,
            Ok(resp) => resp.status >= 500,
        };
        if !retryable || attempt >= MAX_ATTEMPTS {
            return (result, attempt);
        }
        platform
            .sleep(BACKOFF_MIN_MS + platform.random_u32() % BACKOFF_JITTER_MS)
            .await;
        attempt += 1;
    }
}

fn transport_error(e: TransportError) -> StytchError {
    match e {
        TransportError::Timeout => StytchError::Timeout,
        TransportError::Network(why) => StytchError::Network(why),
        TransportError::TooLarge => StytchError::Malformed("answer too large"),
    }
}

fn classify_error(resp: &OutboundResponse) -> (StytchError, Option<String>) {
    let body = ErrorBody::read(&resp.body);
    let request_id = body
        .as_ref()
        .and_then(|b| clean_id(b.request_id.as_deref()));
    let error_type = body
        .as_ref()
        .and_then(|b| clean_id(b.error_type.as_deref().or(b.error.as_deref())));
    let status = resp.status;
    let err = match (status, error_type) {
        (_, Some(t)) if PROFILE_ERROR_TYPES.contains(&t.as_str()) => StytchError::ProfileMismatch {
            status,
            error_type: t,
            profile_id: None,
        },
        (_, error_type)
            if error_type
                .as_deref()
                .is_some_and(|t| CONFIG_ERROR_TYPES.contains(&t)) =>
        {
            StytchError::Misconfigured { status, error_type }
        }
        (400 | 401 | 404, error_type) => StytchError::Rejected { status, error_type },
        // Delay-seconds only: an HTTP-date (or anything else) leaves the default.
        (429, _) => StytchError::RateLimited {
            retry_after_secs: resp
                .header("retry-after")
                .and_then(|v| v.trim().parse().ok()),
        },
        (_, error_type) => StytchError::Upstream { status, error_type },
    };
    (err, request_id)
}

/// A member read as a string; any other type counts as absent (and fails the check that
/// needs it).
fn text(v: Option<Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

struct ErrorBody {
    request_id: Option<String>,
    error_type: Option<String>,
    /// OAuth-style errors use `error` instead of `error_type`.
    error: Option<String>,
}

impl ErrorBody {
    fn read(body: &[u8]) -> Option<Self> {
        let [request_id, error_type, error] =
            <[_; 3]>::try_from(json::pick(body, &["request_id", "error_type", "error"]).ok()?)
                .ok()?;
        Some(Self {
            request_id: text(request_id),
            error_type: text(error_type),
            error: text(error),
        })
    }
}

/// A 200 answer carrying a session: Attest Session and Authenticate Session. Attest puts the
/// user (member) id at the top level; Authenticate only in the session. Only these members
/// are read (the user, member and organization records are skipped); the session strictly,
/// all of it.
struct SessionAnswer {
    request_id: Option<String>,
    user_id: Option<String>,
    session_token: Option<String>,
    session_jwt: Option<String>,
    session: Option<SessionBody>,
    product: Product,
}

struct SessionBody {
    session_id: Option<String>,
    user_id: Option<String>,
    expires_at: Option<String>,
    custom_claims: Option<Value>,
    organization: Option<Organization>,
    roles: Vec<String>,
}

impl SessionAnswer {
    fn read(body: &[u8], product: Product) -> Option<Self> {
        let [user, session, session_id, session_user] = product.answer_names();
        let [
            request_id,
            user_id,
            session_token,
            session_jwt,
            session_value,
        ] = <[_; 5]>::try_from(
            json::pick(
                body,
                &["request_id", user, "session_token", "session_jwt", session],
            )
            .ok()?,
        )
        .ok()?;
        let session = match session_value {
            Some(Value::Object(mut s)) => Some(SessionBody {
                session_id: text(s.remove(session_id)),
                user_id: text(s.remove(session_user)),
                expires_at: text(s.remove("expires_at")),
                custom_claims: s.remove("custom_claims"),
                roles: roles_of(s.get("roles")),
                organization: Organization::read(
                    s.get("organization_id"),
                    s.get("organization_slug"),
                ),
            }),
            _ => None,
        };
        Some(Self {
            request_id: text(request_id),
            user_id: text(user_id),
            session_token: text(session_token),
            session_jwt: text(session_jwt),
            session,
            product,
        })
    }

    fn into_attested(self) -> Result<Attested, StytchError> {
        use crate::cookies::is_cookie_value;
        let non_empty = |v: Option<String>| v.filter(|s| !s.is_empty());
        let session = self
            .session
            .ok_or(StytchError::Malformed("no session in the answer"))?;
        let user_id = clean_id(self.user_id.as_deref().or(session.user_id.as_deref()))
            .ok_or(StytchError::Malformed("user_id"))?;
        // A member session is in an organization; one that does not say which is no answer.
        let organization = match self.product {
            Product::Consumer => None,
            Product::B2b => Some(
                session
                    .organization
                    .ok_or(StytchError::Malformed("organization_id"))?,
            ),
        };
        let session_id =
            clean_id(session.session_id.as_deref()).ok_or(StytchError::Malformed("session_id"))?;
        let session_token = non_empty(self.session_token)
            .filter(|t| is_cookie_value(t))
            .ok_or(StytchError::Malformed("session_token"))?;
        let session_jwt = non_empty(self.session_jwt)
            .filter(|t| is_cookie_value(t))
            .ok_or(StytchError::Malformed("session_jwt"))?;
        let expires_at = session
            .expires_at
            .ok_or(StytchError::Malformed("expires_at"))?;
        let expires_at_unix =
            parse_rfc3339(&expires_at).ok_or(StytchError::Malformed("expires_at"))?;
        // Custom claims without a readable link only mean no link: the session is fine.
        let link = Link::from_claim(
            session
                .custom_claims
                .as_ref()
                .and_then(|c| c.get(LINK_CLAIM)),
        );
        Ok(Attested {
            user_id,
            session_id,
            session_token,
            session_jwt,
            expires_at,
            expires_at_unix,
            link,
            organization,
            roles: session.roles,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn the_link_travels_under_the_link_claim_and_the_session_token_only_when_given() {
        let link = Link {
            iss: "https://abcd.supabase.co/auth/v1".into(),
            sub: "8d8a2b3c".into(),
            session_id: None,
            organization: None,
            aal: None,
        };
        let body = AttestRequest {
            profile_id: "p",
            token: "t",
            organization_id: None,
            session_duration_minutes: 60,
            session_custom_claims: Some(CustomClaims(&link)),
            session_token: None,
        };
        let v: Value = serde_json::from_str(&to_json(&body)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "profile_id": "p", "token": "t", "session_duration_minutes": 60,
                "session_custom_claims": { LINK_CLAIM: { "iss": link.iss, "sub": link.sub } }
            })
        );
        let plain = AttestRequest {
            session_custom_claims: None,
            session_token: Some("tok"),
            ..body
        };
        let v: Value = serde_json::from_str(&to_json(&plain)).unwrap();
        assert_eq!(v["session_token"], "tok");
        assert!(v.get("session_custom_claims").is_none());
    }

    fn answer(body: Value) -> OutboundResponse {
        OutboundResponse {
            status: 200,
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
        }
    }

    fn session_answer() -> Value {
        serde_json::json!({
            "request_id": "request-id-test-1",
            "user_id": "user-test-1",
            "user": { "emails": [], "trusted_metadata": {} },
            "session_token": "token-1",
            "session_jwt": "a.b.c",
            "session": {
                "session_id": "session-test-1",
                "expires_at": "2026-12-01T00:00:00Z",
                "custom_claims": { LINK_CLAIM: { "iss": "https://i", "sub": "s" } },
                "authentication_factors": []
            }
        })
    }

    #[test]
    fn a_session_answer_is_read_from_its_named_members_only() {
        let (a, id) = read_session_answer(&answer(session_answer()), Product::Consumer);
        let a = a.unwrap();
        assert_eq!(
            (a.user_id.as_str(), a.session_id.as_str()),
            ("user-test-1", "session-test-1")
        );
        assert_eq!(a.link.map(|l| l.sub), Some("s".to_owned()));
        assert_eq!(id.as_deref(), Some("request-id-test-1"));
        // The user record is skipped unread: even a member named twice there is no concern.
        let text = session_answer()
            .to_string()
            .replace(r#""trusted_metadata":{}"#, r#""x":1,"x":2"#);
        let resp = OutboundResponse {
            status: 200,
            headers: Vec::new(),
            body: text.into_bytes(),
        };
        assert!(read_session_answer(&resp, Product::Consumer).0.is_ok());
    }

    #[test]
    fn a_session_answer_naming_a_session_member_twice_is_malformed() {
        for (from, to) in [
            (
                r#""session_id":"session-test-1""#,
                r#""session_id":"session-test-1","session_id":"session-test-2""#,
            ),
            (r#""sub":"s""#, r#""sub":"s","sub":"t""#),
            (
                r#""session_token":"token-1""#,
                r#""session_token":"token-1","session_token":"token-2""#,
            ),
        ] {
            let text = session_answer().to_string().replace(from, to);
            let resp = OutboundResponse {
                status: 200,
                headers: Vec::new(),
                body: text.into_bytes(),
            };
            assert!(
                matches!(
                    read_session_answer(&resp, Product::Consumer).0,
                    Err(StytchError::Malformed(_))
                ),
                "{to}"
            );
        }
        // A member of the wrong type is a missing one.
        let mut v = session_answer();
        v["user_id"] = serde_json::json!(7);
        assert!(matches!(
            read_session_answer(&answer(v), Product::Consumer).0,
            Err(StytchError::Malformed("user_id"))
        ));
    }

    /// A B2B answer, shaped like stytch-node's `B2BSessionsAttestResponse`.
    fn member_answer() -> Value {
        serde_json::json!({
            "request_id": "request-id-test-2",
            "member_id": "member-test-1",
            "member": { "member_id": "member-test-1", "email_address": "ada@example.com" },
            "organization": { "organization_id": "organization-test-1", "organization_slug": "acme" },
            "session_token": "token-2",
            "session_jwt": "a.b.c",
            "member_session": {
                "member_session_id": "member-session-test-1",
                "member_id": "member-test-1",
                "expires_at": "2026-12-01T00:00:00Z",
                "organization_id": "organization-test-1",
                "organization_slug": "acme",
                "custom_claims": { LINK_CLAIM: { "iss": "https://i", "sub": "s", "organization": "acme" } },
                "authentication_factors": [],
                "roles": ["stytch_member"]
            }
        })
    }

    #[test]
    fn a_member_session_answer_is_read_from_the_b2b_names() {
        let (a, id) = read_session_answer(&answer(member_answer()), Product::B2b);
        let a = a.unwrap();
        assert_eq!(
            (a.user_id.as_str(), a.session_id.as_str()),
            ("member-test-1", "member-session-test-1")
        );
        let org = a.organization.unwrap();
        assert_eq!(
            (org.id.as_str(), org.slug.as_deref()),
            ("organization-test-1", Some("acme"))
        );
        assert_eq!(a.link.unwrap().organization.as_deref(), Some("acme"));
        assert_eq!(id.as_deref(), Some("request-id-test-2"));
        // Authenticate has no top-level member_id: the session's is read.
        let mut v = member_answer();
        v.as_object_mut().unwrap().remove("member_id");
        assert!(read_session_answer(&answer(v), Product::B2b).0.is_ok());
        // A consumer answer is not a member session, nor a member session a consumer one.
        assert!(
            read_session_answer(&answer(session_answer()), Product::B2b)
                .0
                .is_err()
        );
        assert!(
            read_session_answer(&answer(member_answer()), Product::Consumer)
                .0
                .is_err()
        );
        // A member session without an organization is malformed.
        let mut v = member_answer();
        v["member_session"]
            .as_object_mut()
            .unwrap()
            .remove("organization_id");
        assert_eq!(
            read_session_answer(&answer(v), Product::B2b).0,
            Err(StytchError::Malformed("organization_id"))
        );
    }

    #[test]
    fn a_b2b_attest_names_its_organization_only_when_given() {
        let body = AttestRequest {
            profile_id: "p",
            token: "t",
            organization_id: Some("organization-test-1"),
            session_duration_minutes: 60,
            session_custom_claims: None,
            session_token: None,
        };
        let v: Value = serde_json::from_str(&to_json(&body)).unwrap();
        assert_eq!(v["organization_id"], "organization-test-1");
        let v: Value = serde_json::from_str(&to_json(&AttestRequest {
            organization_id: None,
            ..body
        }))
        .unwrap();
        assert!(v.get("organization_id").is_none());
    }
}
