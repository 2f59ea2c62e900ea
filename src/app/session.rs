//! The routes that work from the Stytch session cookies alone: `GET /api/session` and
//! `POST /api/logout`, and the check of a session JWT cookie the exchange shares.
//!
//! Both call Stytch with the project's secret, so neither sends it anything a request does
//! not prove: the session JWT cookie must verify under Stytch's keys first. Without that,
//! anyone could spend the project's Stytch quota with made-up cookie values.

use super::limits::{self, Limit, RateLimiter};
use super::refresh::{REFRESH_POLL_MS, REFRESH_WAIT_MS, refresh_failed};
use super::{
    Failure, KeySetRole, RequestLog, Services, clearing_cookies, failure, header_pairs,
    json_response, subject_ids, unix_secs, with_session_cookies,
};
use crate::config::Config;
use crate::credentials::SessionCookies;
use crate::error::ApiError;
use crate::http::{HttpClient, IncomingRequest, Platform, Response};
use crate::jwt::assurance::Aal;
use crate::jwt::token::UnverifiedToken;
use crate::jwt::verify::{self, VerifyError};
use crate::keys::cache::{KvStore, ResolveError};
use crate::keys::crypto::SignatureBackend;
use crate::keys::integrity::EntryMac;
use crate::stytch::api::{self as stytch, Attested, Revoked};
use crate::stytch::organization::Organization;
use crate::stytch::session::{Link, SessionFacts, VerifiedSession};
use serde::Serialize;

/// A session the cookies prove, as [`Services::current_session`] found it.
pub(super) enum Current {
    /// From the session JWT alone.
    Local(VerifiedSession),
    /// Refreshed with Stytch: its new token and JWT go back to the browser in cookies.
    Refreshed(Attested),
}

impl Current {
    /// The facts `GET /api/session` answers with and the gateway's identity is made of, the
    /// same whichever way the session was found.
    pub(super) fn facts(&self) -> SessionFacts<'_> {
        match self {
            Self::Local(s) => s.facts(),
            Self::Refreshed(s) => s.facts(),
        }
    }

    /// Stytch's answer, when the session was refreshed (its new cookies go to the browser).
    pub(super) fn refreshed(&self) -> Option<&Attested> {
        match self {
            Self::Local(_) => None,
            Self::Refreshed(s) => Some(s),
        }
    }

    /// The same, owned.
    pub(super) fn into_refreshed(self) -> Option<Attested> {
        match self {
            Self::Local(_) => None,
            Self::Refreshed(s) => Some(s),
        }
    }
}

/// Who a call to Stytch is made for, as the per-address limit counts it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Caller<'r> {
    /// A request from the Internet, with its `CF-Connecting-IP` (if any).
    Address(Option<&'r str>),
    /// Another Worker of the account, through the service binding: no address to count.
    Binding,
}

/// What the log line says of cookies that name no single session.
pub(super) const AMBIGUOUS_COOKIES: &str = "ambiguous_cookies";

/// Why a session JWT (a cookie, or a bearer token) describes no session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum JwtProblem {
    /// It does not verify, or its claims are not a Stytch session's.
    Invalid(String),
    /// Stytch's keys cannot be had right now (nothing cached, the key set unreachable).
    KeysUnavailable(String),
}

impl JwtProblem {
    /// What the log line says.
    pub(super) fn describe(&self) -> String {
        match self {
            Self::Invalid(why) => format!("invalid: {why}"),
            Self::KeysUnavailable(why) => format!("stytch_keys_unavailable: {why}"),
        }
    }
}

impl From<VerifyError> for JwtProblem {
    fn from(e: VerifyError) -> Self {
        Self::Invalid(e.to_string())
    }
}

/// `GET /api/session`'s 200 body (alphabetical, as the other bodies): a consumer session's
/// user, or a B2B session's member and organization.
#[derive(Serialize)]
struct SessionBody<'a> {
    /// The assurance level of the login the session was made (or last extended) for, from
    /// its link; `null` without one.
    aal: Option<Aal>,
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
            aal: link.and_then(|l| l.aal),
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

impl<H: HttpClient, K: KvStore, B: SignatureBackend + EntryMac, P: Platform, L: RateLimiter>
    Services<'_, H, K, B, P, L>
{
    /// Verifies a session JWT (a cookie, or a bearer token) under Stytch's keys (through the same key cache as the
    /// identity provider's), with the same strict parsing as any token, ignoring `exp`: the
    /// caller decides what an expired JWT of a live session is good for.
    pub(super) async fn verified_session_jwt(
        &self,
        config: &Config,
        jwt: &str,
        log: &mut RequestLog,
    ) -> Result<VerifiedSession, JwtProblem> {
        let policy = &config.session.policy;
        let now_ms = self.platform.now_ms();
        let unverified = UnverifiedToken::parse(jwt)?;
        let alg = policy.allowed_alg(&unverified)?;
        let key = self
            .key(
                config,
                &config.session.jwks_url,
                KeySetRole::StytchSessions,
                &unverified,
                alg,
                log,
            )
            .await;
        let key = key.map_err(|e| match e {
            ResolveError::Unavailable(why) => JwtProblem::KeysUnavailable(why),
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
            .map_err(|e| JwtProblem::Invalid(e.kind().to_owned()))
    }

    /// The session the request's cookies prove: its session JWT verified under Stytch's keys
    /// (expired or not). `Err` is the answer for a request that proves none: 503 when
    /// Stytch's keys cannot be had (the cookies kept: a retry may succeed), otherwise 401
    /// `invalid_session` with the cookies cleared (in every scope when they were ambiguous).
    /// Nothing of a request that proves no session ever reaches Stytch.
    pub(super) async fn proven_session(
        &self,
        config: &Config,
        cookies: &SessionCookies,
        log: &mut RequestLog,
    ) -> Result<VerifiedSession, Failure> {
        if cookies.ambiguous {
            log.prior = Some(AMBIGUOUS_COOKIES.into());
            return Err((
                ApiError::InvalidSession,
                header_pairs(config.cookies.clearing_cookies_every_scope()),
            ));
        }
        let Some(jwt) = &cookies.jwt else {
            log.prior = Some("no_session_jwt".into());
            return Err((ApiError::InvalidSession, clearing_cookies(config)));
        };
        let started = self.platform.now_ms();
        let found = self.verified_session_jwt(config, jwt, log).await;
        log.ms.session = Some(self.platform.now_ms().saturating_sub(started));
        found.map_err(|problem| {
            log.prior = Some(problem.describe());
            match problem {
                JwtProblem::KeysUnavailable(why) => failure(ApiError::JwksUnavailable(why)),
                JwtProblem::Invalid(_) => (ApiError::InvalidSession, clearing_cookies(config)),
            }
        })
    }

    /// `GET /api/session`: the session the cookies prove. From the session JWT alone while
    /// it is live; once it has run out, refreshed with Stytch from the session token (which
    /// must answer for that very session); 401 `invalid_session`, cookies cleared, when the
    /// cookies prove no session or Stytch says it is gone.
    pub(super) async fn session<Body>(
        &self,
        config: &Config,
        req: &IncomingRequest<Body>,
        log: &mut RequestLog,
        cors: &[(String, String)],
    ) -> Result<Response, Failure> {
        let cookies = SessionCookies::of(req, &config.cookies);
        let skew = config.session.policy.skew_secs;
        let caller = Caller::Address(req.header("cf-connecting-ip"));
        let current = self
            .current_session(config, &cookies, caller, |s, now| s.is_live(now, skew), log)
            .await?;
        let f = current.facts();
        let body = SessionBody::new(
            f.user_id,
            f.session_id,
            f.expires_at,
            f.link,
            f.organization,
        );
        let headers = match &current {
            Current::Local(_) => cors.to_vec(),
            Current::Refreshed(s) => {
                with_session_cookies(config, cors, s, unix_secs(self.platform.now_ms()))
            }
        };
        Ok(json_response(200, &body, headers))
    }

    /// The session the cookies prove, `good_enough` at `now` (Unix seconds) as its JWT
    /// shows it, or refreshed with Stytch: [`Self::proven_session`], then
    /// [`Self::fresh_session`].
    pub(super) async fn current_session(
        &self,
        config: &Config,
        cookies: &SessionCookies,
        caller: Caller<'_>,
        good_enough: impl Fn(&VerifiedSession, i64) -> bool,
        log: &mut RequestLog,
    ) -> Result<Current, Failure> {
        let proven = self.proven_session(config, cookies, log).await?;
        self.fresh_session(config, proven, cookies, caller, good_enough, log)
            .await
    }

    /// The session `proven` by the cookies' JWT, `good_enough` at `now` (Unix seconds) as
    /// the JWT shows it, or else refreshed from the session token: answered from a refresh
    /// this isolate made moments ago for the same token and JWT, from one under way, or by
    /// Stytch (counted against the caller's address and the session's limit); the answer must
    /// be for the session the JWT names. `Err`: 401 `invalid_session` with the cookies cleared
    /// when the session has ended by its own JWT (no call to Stytch: an old JWT is no proof
    /// of a session that lives on), there is no token to refresh with, or Stytch says the
    /// session is gone; Stytch's failure otherwise (cookies kept). A JWT that is not good
    /// enough but still valid, with no token beside it, is used as it is: it proves the
    /// session for as long as it lasts.
    pub(super) async fn fresh_session(
        &self,
        config: &Config,
        proven: VerifiedSession,
        cookies: &SessionCookies,
        caller: Caller<'_>,
        good_enough: impl Fn(&VerifiedSession, i64) -> bool,
        log: &mut RequestLog,
    ) -> Result<Current, Failure> {
        let now = unix_secs(self.platform.now_ms());
        if good_enough(&proven, now) {
            log.session = Some("local");
            return Ok(Current::Local(proven));
        }
        if proven.expires_at_unix <= now {
            log.prior = Some("session_expired".into());
            return Err((ApiError::InvalidSession, clearing_cookies(config)));
        }
        log.prior = Some("jwt_expired".into());
        let (Some(token), Some(jwt)) = (&cookies.token, &cookies.jwt) else {
            if proven.is_live(now, 0) {
                log.session = Some("local");
                return Ok(Current::Local(proven));
            }
            return Err((ApiError::InvalidSession, clearing_cookies(config)));
        };
        let call = if let Some(answer) = self.refreshes.remembered(token, jwt, now) {
            // The page's earlier request refreshed this very JWT moments ago: its answer is
            // this one's too (checked below like any other).
            log.detail = Some("answered from the refresh an earlier request made".into());
            stytch::Call {
                result: Ok(answer),
                request_id: None,
                attempts: 0,
            }
        } else if let Some(flight) = self.refreshes.joinable(token) {
            // Another request of this page is refreshing the same session: its answer is
            // this one's too (checked below against this request's own JWT like any other).
            log.detail = Some("waited for the refresh another request made".into());
            flight
                .outcome(self.platform, REFRESH_POLL_MS, REFRESH_WAIT_MS, || {
                    Ok(refresh_failed(
                        "the refresh in flight outlasted its timeout",
                    ))
                })
                .await?
        } else {
            // Registered before the rate limits, whose checks are I/O: the page's other
            // requests arriving meanwhile wait for this one instead of refreshing too.
            let guard = self.refreshes.start(token);
            let outcome = self.refresh(config, token, caller, &proven, log).await;
            if let Ok(stytch::Call { result: Ok(s), .. }) = &outcome
                && s.session_id == proven.session_id
                && s.user_id == proven.user_id
            {
                self.refreshes.remember(token, jwt, s, now);
            }
            if let Some(guard) = guard {
                guard.finish(&outcome);
            }
            outcome?
        };
        match call.result {
            // The token cookie is not proven by the JWT: Stytch's answer must be about the
            // session the JWT names, or it is not this browser's session.
            Ok(s) if s.session_id != proven.session_id || s.user_id != proven.user_id => {
                log.prior = Some("jwt_expired; refresh answered for another session".into());
                Err((ApiError::InvalidSession, clearing_cookies(config)))
            }
            Ok(s) => {
                log.session = Some("refreshed");
                Ok(Current::Refreshed(s))
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

    /// The refresh itself: the rate limits, then `sessions/authenticate`. The limit beside
    /// the address's is the session's, not the user's: anyone holding one of a session's old
    /// JWTs can spend it, and that must not lock the user's other sessions out.
    async fn refresh(
        &self,
        config: &Config,
        token: &str,
        caller: Caller<'_>,
        proven: &VerifiedSession,
        log: &mut RequestLog,
    ) -> Result<stytch::Call<Attested>, Failure> {
        if let Caller::Address(address) = caller {
            self.within_ip_limit(address, log).await?;
        }
        self.within_limit(
            Limit::User,
            &limits::stytch_session_key(&proven.session_id),
            log,
        )
        .await?;
        let started = self.platform.now_ms();
        let call = stytch::authenticate(self.http, self.platform, &config.stytch, token).await;
        log.stytch(&call, self.platform.now_ms().saturating_sub(started));
        Ok(call)
    }

    /// `POST /api/logout`: revokes the session the cookies prove and clears the cookies,
    /// whatever Stytch answers. Revoking needs proof of possession: a session JWT that has
    /// not expired (the session revoked by its id), or the session token cookie (revoked by
    /// that token). An expired JWT alone, which anyone who once saw it may hold, revokes
    /// nothing; cookies that prove no session are cleared without a call to Stytch. Counted
    /// against the address's limit only: revocation must work whatever the session's limit
    /// says.
    pub(super) async fn logout<Body>(
        &self,
        config: &Config,
        req: &IncomingRequest<Body>,
        log: &mut RequestLog,
        cors: &[(String, String)],
    ) -> Result<Response, Failure> {
        let cookies = SessionCookies::of(req, &config.cookies);
        let now = unix_secs(self.platform.now_ms());
        let skew = config.session.policy.skew_secs;
        let (revoked, request_id, clear) = match self.proven_session(config, &cookies, log).await {
            // Stytch's keys are out of reach: the cookies stay, so that a retry can revoke.
            Err((e @ ApiError::JwksUnavailable(_), extra)) => return Err((e, extra)),
            // Nothing proven, nothing revoked: only the cookies go.
            Err((_, clear)) => {
                log.session = Some("not_revoked");
                (false, None, clear)
            }
            Ok(proven) if !proven.is_live(now, skew) && cookies.token.is_none() => {
                log.session = Some("not_revoked");
                log.detail = Some("an expired session JWT alone proves no session".into());
                (false, None, clearing_cookies(config))
            }
            Ok(proven) => {
                // Over the limit, the cookies stay: a retry can still revoke the session.
                self.within_ip_limit(req.header("cf-connecting-ip"), log)
                    .await?;
                let clear = clearing_cookies(config);
                let started = self.platform.now_ms();
                let call = match &cookies.token {
                    Some(token) if !proven.is_live(now, skew) => {
                        stytch::revoke_token(self.http, self.platform, &config.stytch, token).await
                    }
                    _ => {
                        stytch::revoke(self.http, self.platform, &config.stytch, &proven.session_id)
                            .await
                    }
                };
                log.stytch(&call, self.platform.now_ms().saturating_sub(started));
                self.refreshes.forget_session(&proven.session_id);
                match call.result {
                    Ok(r) => {
                        log.session = Some(if r == Revoked::Yes { "revoked" } else { "gone" });
                        (r == Revoked::Yes, call.request_id, clear)
                    }
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
