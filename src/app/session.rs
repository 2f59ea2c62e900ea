//! The routes that work from the Stytch session cookies alone: `GET /api/session` and
//! `POST /api/logout`, and the check of a session JWT cookie the exchange shares.

use super::limits::RateLimiter;
use super::{
    Failure, KeySetRole, RequestLog, Services, clearing_cookies, failure, json_response,
    subject_ids, unix_secs, with_session_cookies,
};
use crate::config::Config;
use crate::cookies::{CookiePolicy, find_cookie};
use crate::error::ApiError;
use crate::http::{HttpClient, IncomingRequest, Platform, Response};
use crate::jwt::token::UnverifiedToken;
use crate::jwt::verify::{self, VerifyError};
use crate::keys::cache::{KvStore, ResolveError};
use crate::keys::crypto::SignatureBackend;
use crate::stytch::api::{self as stytch, Revoked};
use crate::stytch::organization::Organization;
use crate::stytch::session::{Link, VerifiedSession};
use serde::Serialize;

/// The Stytch session cookies a request carries (configured names).
#[derive(Debug, Default)]
pub(super) struct SessionCookies {
    /// The session JWT cookie.
    pub(super) jwt: Option<String>,
    /// The opaque session token cookie.
    pub(super) token: Option<String>,
}

impl SessionCookies {
    pub(super) fn of<Body>(req: &IncomingRequest<Body>, names: &CookiePolicy) -> Self {
        let find = |name: &str| {
            req.headers
                .iter()
                .filter(|(k, _)| k == "cookie")
                .find_map(|(_, v)| find_cookie(v, name))
                .map(str::to_owned)
        };
        Self {
            jwt: find(&names.jwt_name),
            token: find(&names.session_name),
        }
    }
}

/// Why a session JWT cookie describes no session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum CookieProblem {
    /// It does not verify, or its claims are not a Stytch session's.
    Invalid(String),
    /// Stytch's keys cannot be had right now (nothing cached, the key set unreachable).
    KeysUnavailable(String),
}

impl CookieProblem {
    /// What the log line says.
    pub(super) fn describe(&self) -> String {
        match self {
            Self::Invalid(why) => format!("invalid: {why}"),
            Self::KeysUnavailable(why) => format!("stytch_keys_unavailable: {why}"),
        }
    }
}

impl From<VerifyError> for CookieProblem {
    fn from(e: VerifyError) -> Self {
        Self::Invalid(e.to_string())
    }
}

/// `GET /api/session`'s 200 body (alphabetical, as the other bodies): a consumer session's
/// user, or a B2B session's member and organization.
#[derive(Serialize)]
struct SessionBody<'a> {
    expires_at: &'a str,
    /// The login the session was created for; `null` for a session this worker did not
    /// create.
    link: Option<&'a Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    member_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    organization_id: Option<&'a str>,
    session_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
}

impl<'a> SessionBody<'a> {
    fn new(
        subject: &'a str,
        session_id: &'a str,
        expires_at: &'a str,
        link: Option<&'a Link>,
        organization: Option<&'a Organization>,
    ) -> Self {
        let [user_id, member_id, organization_id] = subject_ids(subject, organization);
        Self {
            expires_at,
            link,
            member_id,
            organization_id,
            session_id,
            user_id,
        }
    }
}

/// `POST /api/logout`'s 200 body.
#[derive(Serialize)]
struct LogoutBody<'a> {
    request_id: Option<&'a str>,
    revoked: bool,
}

impl<H: HttpClient, K: KvStore, B: SignatureBackend, P: Platform, L: RateLimiter>
    Services<'_, H, K, B, P, L>
{
    /// Verifies a session JWT cookie under Stytch's keys (through the same key cache as the
    /// identity provider's), with the same strict parsing as any token, ignoring `exp`: the
    /// caller decides what an expired JWT of a live session is good for.
    pub(super) async fn cookie_session(
        &self,
        config: &Config,
        jwt: &str,
        log: &mut RequestLog,
    ) -> Result<VerifiedSession, CookieProblem> {
        let policy = &config.session.policy;
        let now_ms = self.platform.now_ms();
        let unverified = UnverifiedToken::parse(jwt)?;
        let alg = policy.allowed_alg(&unverified)?;
        let key = self
            .key(
                &config.session.jwks_url,
                KeySetRole::StytchSessions,
                &unverified,
                alg,
                log,
            )
            .await;
        let key = key.map_err(|e| match e {
            ResolveError::Unavailable(why) => CookieProblem::KeysUnavailable(why),
            ResolveError::Key(e) => VerifyError::from(e).into(),
        })?;
        let verified = verify::verify_ignoring_expiry(
            unverified,
            &key,
            self.backend,
            policy,
            unix_secs(now_ms),
        )
        .await?;
        VerifiedSession::from_token(&verified, config.stytch.product)
            .map_err(|e| CookieProblem::Invalid(e.kind().to_owned()))
    }

    /// `GET /api/session`: the session the cookies name. From the session JWT alone when it
    /// verifies and is live; refreshed with Stytch from the session token when the JWT has
    /// run out (or is missing or invalid); 401 `invalid_session`, cookies cleared, when there
    /// is no session or Stytch says it is gone.
    pub(super) async fn session<Body>(
        &self,
        config: &Config,
        req: &IncomingRequest<Body>,
        log: &mut RequestLog,
        cors: &[(String, String)],
    ) -> Result<Response, Failure> {
        let cookies = SessionCookies::of(req, &config.cookies);
        let mut keys_unavailable = None;
        if let Some(jwt) = &cookies.jwt {
            let started = self.platform.now_ms();
            let found = self.cookie_session(config, jwt, log).await;
            let now_ms = self.platform.now_ms();
            log.ms.session = Some(now_ms.saturating_sub(started));
            let now = unix_secs(now_ms);
            match found {
                Ok(s) if s.is_live(now, config.session.policy.skew_secs) => {
                    log.session = Some("local");
                    let body = SessionBody::new(
                        &s.user_id,
                        &s.session_id,
                        &s.expires_at,
                        s.link.as_ref(),
                        s.organization.as_ref(),
                    );
                    return Ok(json_response(200, &body, cors.to_vec()));
                }
                Ok(s) if s.expires_at_unix <= now => log.prior = Some("session_expired".into()),
                Ok(_) => log.prior = Some("jwt_expired".into()),
                Err(problem) => {
                    log.prior = Some(problem.describe());
                    if let CookieProblem::KeysUnavailable(why) = problem {
                        keys_unavailable = Some(why);
                    }
                }
            }
        }
        let Some(token) = &cookies.token else {
            // A JWT that could not be checked is not a missing session: no cookie is cleared.
            return Err(match keys_unavailable {
                Some(why) => failure(ApiError::JwksUnavailable(why)),
                None => (ApiError::InvalidSession, clearing_cookies(config)),
            });
        };
        self.within_ip_limit(req, log).await?;
        let started = self.platform.now_ms();
        let call = stytch::authenticate(self.http, self.platform, &config.stytch, token).await;
        log.stytch(&call, self.platform.now_ms().saturating_sub(started));
        match call.result {
            Ok(s) => {
                log.session = Some("refreshed");
                let body = SessionBody::new(
                    &s.user_id,
                    &s.session_id,
                    &s.expires_at,
                    s.link.as_ref(),
                    s.organization.as_ref(),
                );
                let headers =
                    with_session_cookies(config, cors, &s, unix_secs(self.platform.now_ms()));
                Ok(json_response(200, &body, headers))
            }
            Err(e) => {
                let e = ApiError::from_session_refresh(e);
                let extra = if e == ApiError::InvalidSession {
                    clearing_cookies(config)
                } else {
                    vec![]
                };
                Err((e, extra))
            }
        }
    }

    /// `POST /api/logout`: revokes the session the token cookie names and clears both
    /// cookies, whatever Stytch answers.
    pub(super) async fn logout<Body>(
        &self,
        config: &Config,
        req: &IncomingRequest<Body>,
        log: &mut RequestLog,
        cors: &[(String, String)],
    ) -> Result<Response, Failure> {
        let clear = clearing_cookies(config);
        let cookies = SessionCookies::of(req, &config.cookies);
        let (revoked, request_id) = match &cookies.token {
            None => (false, None),
            Some(token) => {
                // Over the limit, the cookies stay: a retry can still revoke the session.
                self.within_ip_limit(req, log).await?;
                let started = self.platform.now_ms();
                let call = stytch::revoke(self.http, self.platform, &config.stytch, token).await;
                log.stytch(&call, self.platform.now_ms().saturating_sub(started));
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
            &LogoutBody {
                request_id: request_id.as_deref(),
                revoked,
            },
            headers,
        ))
    }
}
