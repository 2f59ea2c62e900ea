//! `POST /api/exchange`: verify the identity provider's token, then answer from the Stytch
//! session the browser already holds for that login, extend it, or create one.

use super::limits::{self, Limit, RateLimiter};
use super::session::AMBIGUOUS_COOKIES;
use super::{
    Failure, MAX_BODY_BYTES, RequestLog, Services, clearing_cookies, failure, json_response,
    out_of_line, subject_ids, unix_secs, with_session_cookies,
};
use crate::config::{Config, Provider};
use crate::credentials::{SessionCookies, bearer_token};
use crate::error::ApiError;
use crate::formats::json::{self, StrictJsonError};
use crate::http::{BodyError, BodySource, HttpClient, IncomingRequest, Platform, Response};
use crate::jwt::assurance::Aal;
use crate::jwt::token::UnverifiedToken;
use crate::jwt::verify::{self, RefusedClaims, VerifyError};
use crate::keys::cache::KvStore;
use crate::keys::crypto::SignatureBackend;
use crate::keys::integrity::EntryMac;
use crate::stytch::api::{self as stytch, AttestArgs, Attested, Call};
use crate::stytch::organization::{Organization, OrganizationSource};
use crate::stytch::session::{Link, Prior, VerifiedSession, assess};
use serde::Serialize;
use serde_json::Value;

/// The exchange's 200 body (typed: serialising it costs less than building a JSON value;
/// members in the order the other bodies have, alphabetical). A consumer session names its
/// user; a B2B member session its member and organization instead.
#[derive(Serialize)]
struct ExchangeBody<'a> {
    /// The login's assurance level (`null` when its provider's tokens have none): what the
    /// session now stands for.
    aal: Option<Aal>,
    expires_at: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    member_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    organization_id: Option<&'a str>,
    request_id: Option<&'a str>,
    /// Answered from the browser's live session, without calling Stytch.
    reused: bool,
    session_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
}

/// Where an exchange's session came from.
#[derive(Debug, Clone, Copy)]
enum Answered<'a> {
    /// The browser's own live session, with no Stytch call (so no `request_id`).
    AtTheEdge,
    /// Stytch, with its `request_id` when it gave a well-formed one.
    ByStytch(Option<&'a str>),
}

impl<'a> ExchangeBody<'a> {
    /// The body for a session of `subject` (user or member) in `organization` (B2B only),
    /// for the login `link`; answered at the edge or by Stytch.
    fn new(
        subject: &'a str,
        session_id: &'a str,
        expires_at: &'a str,
        organization: Option<&'a Organization>,
        link: &Link,
        answered: Answered<'a>,
    ) -> Self {
        let [user_id, member_id, organization_id] = subject_ids(subject, organization);
        Self {
            aal: link.aal,
            expires_at,
            member_id,
            organization_id,
            request_id: match answered {
                Answered::AtTheEdge => None,
                Answered::ByStytch(id) => id,
            },
            reused: matches!(answered, Answered::AtTheEdge),
            session_id,
            user_id,
        }
    }
}

impl<H: HttpClient, K: KvStore, B: SignatureBackend + EntryMac, P: Platform, L: RateLimiter>
    Services<'_, H, K, B, P, L>
{
    pub(super) async fn exchange<Body: BodySource>(
        &self,
        config: &Config,
        req: IncomingRequest<Body>,
        log: &mut RequestLog,
        cors: &[(String, String)],
    ) -> Result<Response, Failure> {
        // Before the body is read: a client over its limit costs nothing more.
        self.within_ip_limit(req.header("cf-connecting-ip"), log)
            .await?;
        // Read before the body consumes the request.
        let cookies = SessionCookies::of(&req, &config.cookies);
        let token = extract_token(req).await.map_err(failure)?;

        let now_ms = self.platform.now_ms();
        let now = unix_secs(now_ms);
        let unverified = UnverifiedToken::parse(&token).map_err(failure)?;
        // The provider the token says issued it: its keys and rules verify it. An issuer no
        // provider has is refused before any key is looked up.
        let provider = unverified
            .unverified_issuer()
            .and_then(|iss| config.provider_for(iss))
            .ok_or(VerifyError::UnknownIssuer)
            .map_err(failure)?;
        log.provider = Some(provider.name.clone());
        let alg = provider.policy.allowed_alg(&unverified).map_err(failure)?;
        log.alg = Some(alg.name());

        let key = self
            .provider_key(config, provider, &unverified, alg, log)
            .await;
        let after_jwks = self.platform.now_ms();
        log.ms.jwks = Some(after_jwks.saturating_sub(now_ms));
        let key = key.map_err(failure)?;

        let verified =
            verify::verify_or_refused(unverified, &key, self.backend, &provider.policy, now).await;
        let after_verify = self.platform.now_ms();
        log.ms.verify = Some(after_verify.saturating_sub(after_jwks));
        let verified = match verified {
            Ok(verified) => verified,
            Err((e, refused)) => {
                // A genuine token of the provider that a claim rule refuses (an anonymous
                // sign-in, a level below the floor) while the browser holds another user's
                // session: a switch of user that failed, which must not leave the previous
                // user signed in.
                let switched = match refused {
                    // Out of the exchange's own code: only a refused token runs it.
                    Some(claims) => {
                        out_of_line(self.another_user(config, &claims, &cookies, log)).await
                    }
                    None => false,
                };
                let extra = if switched {
                    clearing_cookies(config)
                } else {
                    vec![]
                };
                return Err((e.into(), extra));
            }
        };
        // B2B: the organization this login asks for, when the provider names one; a token
        // without the claim that should name it goes no further (once its cookies are seen to).
        let organization = OrganizationSource::resolve(provider.organization.as_ref(), &verified);
        let link = Link::of(
            &verified,
            provider.session_claim.as_deref(),
            organization.clone().unwrap_or_default(),
        );
        let prior = self.prior_session(config, &cookies, &link, now, log).await;
        if cookies.jwt.is_some() {
            log.ms.session = Some(self.platform.now_ms().saturating_sub(after_verify));
        }
        // A failure from here on, while the browser holds the verified session of another
        // login (or one that has ended), clears that session's cookies: a switch of user that
        // fails must not leave the previous user signed in.
        let replaced = matches!(prior, Some((_, Prior::Replace(_))));
        let answer = match organization {
            Err(e) => Err(failure(e)),
            Ok(_) => {
                self.answer(config, provider, &token, &link, prior, &cookies, log, cors)
                    .await
            }
        };
        answer.map_err(|(e, mut extra)| {
            if replaced {
                extra.extend(clearing_cookies(config));
            }
            (e, extra)
        })
    }

    /// Whether the browser holds the verified session of another user than the refused
    /// token's (`claims`, whose signature verified): one with no link (whose user cannot be
    /// told), or a link to another issuer or user.
    async fn another_user(
        &self,
        config: &Config,
        claims: &RefusedClaims,
        cookies: &SessionCookies,
        log: &mut RequestLog,
    ) -> bool {
        let Some(jwt) = cookies.jwt.as_deref().filter(|_| !cookies.ambiguous) else {
            return false;
        };
        let Ok(session) = self.verified_session_jwt(config, jwt, log).await else {
            return false;
        };
        let (Some(iss), Some(sub)) = (claims.text("iss"), claims.text("sub")) else {
            return true;
        };
        let other = !session.link.is_some_and(|l| l.is_user(iss, sub));
        if other {
            log.prior = Some("another user's session, cleared".into());
        }
        other
    }

    /// The session the browser holds, if its JWT verifies under Stytch's keys, and what this
    /// login may do with it. A cookie that does not verify only means a new session: never an
    /// error for a valid login.
    async fn prior_session(
        &self,
        config: &Config,
        cookies: &SessionCookies,
        link: &Link,
        now: i64,
        log: &mut RequestLog,
    ) -> Option<(VerifiedSession, Prior)> {
        if cookies.ambiguous {
            log.prior = Some(AMBIGUOUS_COOKIES.into());
            return None;
        }
        match self
            .verified_session_jwt(config, cookies.jwt.as_deref()?, log)
            .await
        {
            Ok(session) => {
                let prior = assess(&session, link, now, &config.session);
                log.prior = Some(prior.describe().to_owned());
                Some((session, prior))
            }
            Err(problem) => {
                log.prior = Some(problem.describe());
                None
            }
        }
    }

    /// The answer for a verified login: from the browser's session at the edge, or from
    /// Stytch (that session extended, or a new one).
    #[allow(clippy::too_many_arguments)]
    async fn answer(
        &self,
        config: &Config,
        provider: &Provider,
        token: &str,
        link: &Link,
        prior: Option<(VerifiedSession, Prior)>,
        cookies: &SessionCookies,
        log: &mut RequestLog,
        cors: &[(String, String)],
    ) -> Result<Response, Failure> {
        if let Some((session, Prior::Reuse)) = &prior {
            log.outcome = "reused";
            log.session = Some("reused");
            return Ok(json_response(
                200,
                &ExchangeBody::new(
                    &session.user_id,
                    &session.session_id,
                    &session.expires_at,
                    session.organization.as_ref(),
                    link,
                    Answered::AtTheEdge,
                ),
                cors.to_vec(),
            ));
        }

        // A user's calls to Stytch are limited too (not the repeat exchanges answered above).
        let user_key = limits::user_key(&link.iss, &link.sub);
        self.within_limit(Limit::User, &user_key, log).await?;

        // Only a token that verified locally reaches Stytch. The old session token is sent
        // only for a session whose JWT verified and whose link is this very login.
        let extend = match &prior {
            Some((session, Prior::Extend(_))) => cookies.token.as_deref().map(|t| (session, t)),
            _ => None,
        };
        let args = AttestArgs {
            profile_id: &provider.stytch_profile_id,
            token,
            link: link.fits().then_some(link),
            session_token: extend.map(|(_, t)| t),
            organization_id: link.organization.as_deref(),
        };
        let mut call = self.timed_attest(config, args, log).await;
        let mut outcome = if extend.is_some() {
            "extended"
        } else {
            "created"
        };
        if let Some((session, _)) = extend
            && let Some(why) = refused(&call, session)
        {
            // The session is gone, or Stytch would not extend it: a new session instead. That
            // is a second call to Stytch for this user, and counts as one.
            log.prior = Some(format!(
                "{}; extension refused: {why}",
                log.prior.as_deref().unwrap_or_default()
            ));
            self.within_limit(Limit::User, &user_key, log).await?;
            let fresh = AttestArgs {
                session_token: None,
                ..args
            };
            call = self.timed_attest(config, fresh, log).await;
            outcome = "created";
        }
        let session = call.result.map_err(failure)?;
        // A member session in another organization than the one asked for is not this
        // login's: no cookie is set for it.
        if let (Some(requested), Some(org)) = (&link.organization, &session.organization)
            && !org.is(requested)
        {
            return Err(failure(ApiError::Upstream {
                error_type: None,
                detail: "stytch_malformed: answered for another organization".into(),
            }));
        }
        log.session = Some(outcome);

        let headers =
            with_session_cookies(config, cors, &session, unix_secs(self.platform.now_ms()));
        Ok(json_response(
            200,
            &ExchangeBody::new(
                &session.user_id,
                &session.session_id,
                &session.expires_at,
                session.organization.as_ref(),
                link,
                Answered::ByStytch(call.request_id.as_deref()),
            ),
            headers,
        ))
    }

    async fn timed_attest(
        &self,
        config: &Config,
        args: AttestArgs<'_>,
        log: &mut RequestLog,
    ) -> Call<Attested> {
        let started = self.platform.now_ms();
        let call = stytch::attest(self.http, self.platform, &config.stytch, args).await;
        log.stytch(&call, self.platform.now_ms().saturating_sub(started));
        call
    }
}

/// Why an attest that named `session`'s token did not extend that very session for the
/// same user, if it did not: the session is gone, any other refusal, or an answer about
/// another session or user (the session-token cookie was not the JWT cookie's: nothing
/// ties the two cookies together until Stytch has answered). Such an attest is made once
/// more without the token. A failure that is not a refusal (5xx, timeout) is final.
fn refused(call: &Call<Attested>, session: &VerifiedSession) -> Option<String> {
    match &call.result {
        Ok(s) if s.user_id != session.user_id => Some("answered for another user".into()),
        Ok(s) if s.session_id != session.session_id => Some("answered for another session".into()),
        Ok(_) => None,
        Err(e) if e.is_rejection() => {
            Some(format!("{} {}", e.kind(), e.error_type().unwrap_or("-")))
        }
        Err(_) => None,
    }
}

/// The token from `Authorization: Bearer` or the JSON body; both present must agree.
async fn extract_token<Body: BodySource>(req: IncomingRequest<Body>) -> Result<String, ApiError> {
    let declared_len = req
        .header("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared_len.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(ApiError::PayloadTooLarge);
    }
    let bearer = bearer_token(req.header("authorization"))
        .map_err(|_| {
            ApiError::InvalidRequest("The Authorization header must be 'Bearer <token>'.")
        })?
        .map(str::to_owned);
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
        // Strict, as tokens are: with two `access_token` members, which one counts would be
        // a guess.
        let doc = json::parse_object(&body).map_err(|e| {
            ApiError::InvalidRequest(match e {
                StrictJsonError::DuplicateKey => {
                    "The body must be a JSON object without duplicate members."
                }
                _ => "The body must be a JSON object.",
            })
        })?;
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
