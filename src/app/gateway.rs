//! The auth gateway's request flow: a request for a path a `PROTECT` rule covers goes on to
//! the app with the identity its Stytch session proves, or is answered here and never reaches
//! the app. Every decision about paths, rules and headers is `crate::gateway`'s; this runs a
//! request through them, with the session check `GET /api/session` uses.
//!
//! In order, and nothing is sent anywhere before the last step: the rule for the path (in
//! canonical form; ambiguous ones are 400) and the method (a CORS preflight by the method it
//! asks about, and answered here unless its rule forwards it), the cross-site check for
//! requests that can change state, then on a protected rule the session: a bearer token where
//! the rule takes one, else the cookies (the JWT alone while it has [`MIN_JWT_SECS_LEFT`]
//! left, else refreshed with Stytch once), and the rule's requirements (those a refresh
//! cannot change before it), then the app. A streamed body cannot be sent twice, so nothing
//! is tried first and retried.

use super::limits::RateLimiter;
use super::routes::RouteName;
use super::session::{Caller, Current, JwtProblem};
use super::{Failure, RequestLog, Services, failure, origin_allowed, unix_secs};
use crate::config::{Config, ConfigError, protect};
use crate::credentials::{SessionCookies, bearer_token};
use crate::error::ApiError;
use crate::formats::urls::UrlParts;
use crate::gateway::forward::{
    self, BearerChallenge, CookieEdit, Identity, Message, RequestPlan, ResponsePlan,
};
use crate::gateway::policy::{Preflight, Requirements, SessionRule, Unmet, is_method_name};
use crate::gateway::{
    Choice, MIN_JWT_SECS_LEFT, Rule, RuleCache, UPSTREAM_HEADERS_TIMEOUT_MS, Unauthenticated,
    Upstream, canonical,
};
use crate::http::{
    AllHeaders, Answer, ForwardRequest, Forwarded, Forwarder, HttpClient, IncomingRequest,
    LogLevel, Platform, Response, TransportError,
};
use crate::jwt::assurance::Aal;
use crate::keys::cache::KvStore;
use crate::keys::crypto::SignatureBackend;
use crate::keys::integrity::EntryMac;
use crate::stytch::api::Attested;
use crate::stytch::session::{SessionFacts, VerifiedSession};
use serde::Serialize;

/// A request's head as the gateway reads it.
struct Head<'h> {
    method: &'h str,
    headers: &'h [(String, String)],
    upgrade: bool,
}

impl<'h> Head<'h> {
    /// A header's value (names are lower-case; the runtime joins repeated ones).
    fn get(&self, name: &str) -> Option<&'h str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether it is a page load, which a redirect to the login page serves.
    fn is_page_load(&self) -> bool {
        forward::is_page_load(
            self.method,
            self.upgrade,
            self.get("sec-fetch-mode"),
            self.get("accept"),
            self.get("x-requested-with"),
        )
    }
}

/// What proved the session of a request on a protected rule.
enum Proof {
    /// The cookies: the session as they prove it (refreshed or not), and the JWT cookie as
    /// it came.
    Cookies(Current, String),
    /// A bearer token, the session JWT itself.
    Bearer(VerifiedSession, String),
}

impl Proof {
    fn facts(&self) -> SessionFacts<'_> {
        match self {
            Self::Cookies(current, _) => current.facts(),
            Self::Bearer(session, _) => session.facts(),
        }
    }

    fn refreshed(&self) -> Option<&Attested> {
        match self {
            Self::Cookies(current, _) => current.refreshed(),
            Self::Bearer(..) => None,
        }
    }

    /// The session JWT the app gets: the token, the refresh's, or the cookie's.
    fn jwt(&self) -> &str {
        match self {
            Self::Cookies(Current::Refreshed(s), _) => &s.session_jwt,
            Self::Cookies(Current::Local(_), jwt) | Self::Bearer(_, jwt) => jwt,
        }
    }
}

/// What a request takes to the app, besides itself.
struct Pass<'a> {
    identity: Option<Identity<'a>>,
    /// The session cookies in the `Cookie` header the zone's origin receives (another server
    /// never gets them).
    cookies: CookieEdit<'a>,
    authorization: bool,
    message: Message,
    refreshed_cookies: Vec<String>,
    /// CORS headers added to the answer when the app sent none.
    cors: Vec<(String, String)>,
}

/// What a request's cookies prove, judged against a rule's requirements.
enum Verdict {
    /// A session that meets them.
    Passed(Current),
    /// A session that does not, and the refresh made on the way, if any (the browser keeps
    /// its new cookies: the session is good, only not enough).
    Refused(Unmet, Option<Attested>),
    /// No session: the cookies that clear what the request carried (none when it carried
    /// none).
    NoSession(Vec<(String, String)>),
}

impl<H: HttpClient, K: KvStore, B: SignatureBackend + EntryMac, P: Platform, L: RateLimiter>
    Services<'_, H, K, B, P, L>
{
    /// A request for a path that is not one of the worker's own routes: the gateway's when a
    /// rule covers it, else 404.
    pub(super) async fn gateway<Body: AllHeaders, F: Forwarder<Body>>(
        &self,
        config: &Config,
        req: IncomingRequest<Body>,
        url: &UrlParts<'_>,
        log: &mut RequestLog,
        forwarder: &F,
    ) -> Result<Answer<F::Answer>, Failure> {
        if config.protect.is_empty() {
            return Err(failure(ApiError::NotFound));
        }
        let IncomingRequest {
            method,
            url: request_url,
            headers,
            body,
        } = req;
        let all_headers = body.all_headers(&headers);
        let head = Head {
            method: method.as_str(),
            headers: &all_headers,
            upgrade: forward::is_websocket_upgrade(&all_headers),
        };
        // A CORS preflight is judged by the rule of the request it asks about: the method it
        // names picks the rule, as the request itself would.
        let preflight = match head.get("access-control-request-method") {
            Some(asked) if head.method == "OPTIONS" => {
                let asked = asked.trim();
                if !is_method_name(asked) {
                    return Err(failure(ApiError::InvalidRequest(
                        "Access-Control-Request-Method is not a method.",
                    )));
                }
                Some(asked)
            }
            _ => None,
        };
        let rule = match config
            .protect
            .choose(url.path, preflight.unwrap_or(head.method))
        {
            Err(problem) => {
                log.detail = Some(problem.describe().into());
                return Err(failure(ApiError::InvalidRequest(
                    "The request path is ambiguous.",
                )));
            }
            Ok(Choice::NotFound) => return Err(failure(ApiError::NotFound)),
            Ok(Choice::MethodNotAllowed(allow)) => {
                return Err(failure(ApiError::MethodNotAllowed(allow.join(", "))));
            }
            Ok(Choice::Rule(index, rule)) => {
                log.rule = Some(index);
                rule
            }
        };
        let origin = head.get("origin");
        let allowed = origin.is_some_and(|o| origin_allowed(o, url, &config.allowed_origins));
        let cors: Vec<(String, String)> = match origin {
            Some(o) if allowed => vec![
                ("access-control-allow-origin".into(), o.to_owned()),
                ("access-control-allow-credentials".into(), "true".into()),
                ("vary".into(), "Origin".into()),
            ],
            _ => vec![],
        };

        if let Some(asked) = preflight {
            log.session = Some("preflight");
            // Forwarded, it is an OPTIONS request to the app: the rule an OPTIONS request
            // gets must be the one that forwards it (and so admits an OPTIONS without a
            // session), whatever rule the method it asks about has.
            let forwarded = matches!(
                config.protect.choose(url.path, "OPTIONS"),
                Ok(Choice::Rule(_, options_rule)) if options_rule.access.preflight == Preflight::Forward
            );
            if !forwarded {
                // Browsers never preflight a request to their own origin: only a listed
                // origin gets the answer, and anything else is not a browser's preflight.
                let listed = origin.filter(|o| config.allowed_origins.iter().any(|a| a == o));
                let Some(listed) = listed else {
                    return Err((
                        ApiError::ForbiddenOrigin,
                        vec![("vary".into(), "Origin".into())],
                    ));
                };
                log.outcome = "preflight";
                return Ok(Answer::Own(Response {
                    status: 204,
                    headers: forward::preflight_answer(
                        listed,
                        asked,
                        head.get("access-control-request-headers"),
                    ),
                    body: String::new(),
                }));
            }
            let pass = Pass {
                identity: None,
                cookies: CookieEdit::Keep,
                authorization: false,
                message: Message::Preflight,
                refreshed_cookies: vec![],
                cors: vec![],
            };
            return self
                .send(
                    config,
                    rule,
                    body,
                    &request_url,
                    url,
                    &head,
                    pass,
                    log,
                    forwarder,
                )
                .await;
        }

        if forward::cross_site_refused(
            head.method,
            head.upgrade,
            origin,
            allowed,
            head.get("sec-fetch-site"),
        ) {
            return Err((
                ApiError::ForbiddenOrigin,
                vec![("vary".into(), "Origin".into())],
            ));
        }
        let message = if matches!(head.method, "GET" | "HEAD") {
            Message::Bodiless
        } else {
            Message::WithBody
        };
        let SessionRule::Required(requirements) = &rule.access.session else {
            log.session = Some("public");
            let pass = Pass {
                identity: None,
                cookies: CookieEdit::Keep,
                authorization: true,
                message,
                refreshed_cookies: vec![],
                cors,
            };
            return self
                .send(
                    config,
                    rule,
                    body,
                    &request_url,
                    url,
                    &head,
                    pass,
                    log,
                    forwarder,
                )
                .await;
        };

        let names = [
            config.cookies.session_name.as_str(),
            config.cookies.jwt_name.as_str(),
        ];
        let proof = match self
            .proof(config, rule, requirements, &head, url, &cors, log)
            .await?
        {
            Ok(proof) => proof,
            Err(refusal) => return refusal,
        };
        let refreshed_cookies = self.cookie_values_of(config, proof.refreshed());
        let facts = proof.facts();
        let identity = identity_of(&proof, &facts);
        log.user_id = Some(identity.subject.to_owned());
        let (cookies, authorization) = match &proof {
            Proof::Bearer(..) => (CookieEdit::Remove { names }, false),
            Proof::Cookies(Current::Refreshed(s), _) => (
                CookieEdit::Replace {
                    names,
                    values: [&s.session_token, &s.session_jwt],
                },
                !rule.access.bearer,
            ),
            Proof::Cookies(Current::Local(_), _) => (CookieEdit::Keep, !rule.access.bearer),
        };
        let pass = Pass {
            identity: Some(identity),
            cookies,
            authorization,
            message,
            refreshed_cookies,
            cors,
        };
        self.send(
            config,
            rule,
            body,
            &request_url,
            url,
            &head,
            pass,
            log,
            forwarder,
        )
        .await
    }

    /// The session a request on a protected rule proves: its bearer token where the rule
    /// takes one and the request carries `Authorization: Bearer`, else its cookies (refreshed
    /// when their JWT has under [`MIN_JWT_SECS_LEFT`] left), with the requirements a refresh
    /// cannot change checked before one. `Ok(Err(answer))`: the request is answered here
    /// (401, 403, a redirect); `Err`: a failure that says nothing of the session (Stytch or
    /// its keys out of reach, a rate limit).
    #[allow(clippy::too_many_arguments)]
    async fn proof<A>(
        &self,
        config: &Config,
        rule: &Rule,
        requirements: &Requirements,
        head: &Head<'_>,
        url: &UrlParts<'_>,
        cors: &[(String, String)],
        log: &mut RequestLog,
    ) -> Result<Result<Proof, Result<Answer<A>, Failure>>, Failure> {
        let authorization = head.get("authorization").filter(|a| {
            a.trim()
                .split(' ')
                .next()
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer"))
        });
        if rule.access.bearer
            && let Some(authorization) = authorization
        {
            log.session = Some("bearer");
            let Ok(Some(token)) = bearer_token(Some(authorization)) else {
                return Err((
                    ApiError::InvalidRequest("The Authorization header must be 'Bearer <token>'."),
                    [
                        cors.to_vec(),
                        vec![forward::bearer_challenge(BearerChallenge::InvalidRequest)],
                    ]
                    .concat(),
                ));
            };
            let started = self.platform.now_ms();
            let found = self.verified_session_jwt(config, token, log).await;
            log.ms.session = Some(self.platform.now_ms().saturating_sub(started));
            // `invalid_token` carries its own `WWW-Authenticate` (error.rs).
            let invalid = |why: String| Err((ApiError::InvalidToken(why), cors.to_vec()));
            let session = match found {
                Ok(session) => session,
                Err(JwtProblem::KeysUnavailable(why)) => {
                    return Err((ApiError::JwksUnavailable(why), cors.to_vec()));
                }
                Err(problem) => return Ok(Err(invalid(problem.describe()))),
            };
            // A bearer token is never refreshed: it proves the session while it lasts.
            if !session.is_live(unix_secs(self.platform.now_ms()), 0) {
                return Ok(Err(invalid("bearer: expired".into())));
            }
            if let Err(unmet) = requirements.check(&session.facts(), &config.baseline) {
                return Ok(Err(self.refused(
                    rule,
                    head,
                    url,
                    unmet,
                    true,
                    cors.to_vec(),
                    log,
                )));
            }
            return Ok(Ok(Proof::Bearer(session, token.to_owned())));
        }

        let cookies = SessionCookies::in_headers(
            || {
                head.headers
                    .iter()
                    .filter(|(k, _)| k == "cookie")
                    .map(|(_, v)| v.as_str())
            },
            &config.cookies,
        );
        let caller = Caller::Address(head.get("cf-connecting-ip"));
        let verdict = self
            .judged_session(config, &cookies, requirements, caller, log)
            .await
            .map_err(|(e, extra)| (e, [cors.to_vec(), extra].concat()))?;
        Ok(match verdict {
            Verdict::Passed(current) => Ok(Proof::Cookies(
                current,
                cookies.jwt.clone().unwrap_or_default(),
            )),
            Verdict::Refused(unmet, refreshed) => {
                let extra = [cors.to_vec(), self.cookies_of(config, refreshed.as_ref())].concat();
                Err(self.refused(rule, head, url, unmet, false, extra, log))
            }
            Verdict::NoSession(cleared) => {
                Err(self.unauthenticated(rule, head, url, cleared, cors, log))
            }
        })
    }

    /// What the cookies prove, judged against `requirements`: the session JWT verified
    /// (without one, or with one that does not verify, no session, and the cookies to clear),
    /// what a refresh cannot change checked on it (no Stytch call for a session that could
    /// never pass), then refreshed when it has under [`MIN_JWT_SECS_LEFT`] left, then every
    /// requirement on the session as it is now. The gateway and the service binding judge
    /// alike through this. `Err`: a failure that says nothing of the session.
    async fn judged_session(
        &self,
        config: &Config,
        cookies: &SessionCookies,
        requirements: &Requirements,
        caller: Caller<'_>,
        log: &mut RequestLog,
    ) -> Result<Verdict, Failure> {
        if !cookies.any() {
            log.prior = Some("no_session_cookies".into());
            return Ok(Verdict::NoSession(vec![]));
        }
        let proven = match self.proven_session(config, cookies, log).await {
            Ok(proven) => proven,
            Err((ApiError::InvalidSession, cleared)) => return Ok(Verdict::NoSession(cleared)),
            Err(e) => return Err(e),
        };
        if let Err(unmet) = requirements.check_lasting(&proven.facts(), &config.baseline) {
            return Ok(Verdict::Refused(unmet, None));
        }
        let lasts = |s: &VerifiedSession, now| s.lasts(now, MIN_JWT_SECS_LEFT);
        let current = match self
            .fresh_session(config, proven, cookies, caller, lasts, log)
            .await
        {
            Ok(current) => current,
            Err((ApiError::InvalidSession, cleared)) => return Ok(Verdict::NoSession(cleared)),
            Err(e) => return Err(e),
        };
        Ok(
            match requirements.check(&current.facts(), &config.baseline) {
                Ok(()) => Verdict::Passed(current),
                Err(unmet) => Verdict::Refused(unmet, current.into_refreshed()),
            },
        )
    }

    /// The `Set-Cookie` headers of a refresh, if one was made.
    fn cookies_of(&self, config: &Config, refreshed: Option<&Attested>) -> Vec<(String, String)> {
        set_cookie_pairs(self.cookie_values_of(config, refreshed))
    }

    /// The `Set-Cookie` values of a refresh, if one was made.
    fn cookie_values_of(&self, config: &Config, refreshed: Option<&Attested>) -> Vec<String> {
        let now = unix_secs(self.platform.now_ms());
        refreshed
            .map(|s| {
                config
                    .cookies
                    .session_cookies(&s.session_token, &s.session_jwt, s.expires_at_unix, now)
                    .into_iter()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sends the request on to the rule's upstream with what `pass` says, and passes its
    /// answer back.
    #[allow(clippy::too_many_arguments)]
    async fn send<Body, F: Forwarder<Body>>(
        &self,
        config: &Config,
        rule: &Rule,
        body: Body,
        request_url: &str,
        url: &UrlParts<'_>,
        head: &Head<'_>,
        pass: Pass<'_>,
        log: &mut RequestLog,
        forwarder: &F,
    ) -> Result<Answer<F::Answer>, Failure> {
        let names = [
            config.cookies.session_name.as_str(),
            config.cookies.jwt_name.as_str(),
        ];
        let public_host = url.origin.split_once("://").map_or("", |(_, h)| h);
        log.spoofed_identity = head
            .headers
            .iter()
            .any(|(name, _)| forward::is_identity_header(name));
        // A `cache = "shared"` rule's GET (not a WebSocket handshake), unless it carries what
        // makes an answer one client's (`Authorization`) or part of one (`Range`): looked up
        // in and kept in the location's cache, so sent with only the headers such an answer
        // may depend on (`Message::Shared`: it must not depend on who asked).
        let shared_cache = rule.cache == RuleCache::Shared
            && head.method == "GET"
            && !head.upgrade
            && head.get("authorization").is_none()
            && head.get("range").is_none();
        let (target, cookies, forwarded) = match &rule.upstream {
            Upstream::Origin => (request_url.to_owned(), pass.cookies, None),
            Upstream::Url(base) => {
                let mut target =
                    format!("{base}{}", if url.path.is_empty() { "/" } else { url.path });
                if let Some(q) = url.query {
                    target.push('?');
                    target.push_str(q);
                }
                (
                    target,
                    CookieEdit::Remove { names },
                    Some((public_host, url.scheme)),
                )
            }
        };
        let authenticated = pass.identity.is_some();
        let plan = RequestPlan {
            upgrade: head.upgrade,
            message: if shared_cache {
                Message::Shared
            } else {
                pass.message
            },
            authorization: pass.authorization,
            identity: pass.identity,
            cookies,
            forwarded,
        };
        let outgoing = ForwardRequest {
            url: target,
            method: head.method.to_owned(),
            headers: forward::request_headers(head.headers, &plan),
            with_body: pass.message == Message::WithBody,
            headers_timeout_ms: UPSTREAM_HEADERS_TIMEOUT_MS,
            // Keyed by the public URL, host and scheme included: the app (another server
            // too, through X-Forwarded-Host and -Proto) may answer each host its own page.
            shared_cache: shared_cache.then(|| request_url.to_owned()),
        };
        let foreign = matches!(rule.upstream, Upstream::Url(_)).then_some(names);
        let started = self.platform.now_ms();
        let answer = forwarder.forward(outgoing, body).await;
        log.ms.upstream = Some(self.platform.now_ms().saturating_sub(started));
        let answer = answer.map_err(|e| {
            (
                match e {
                    TransportError::Timeout => ApiError::AppTimeout,
                    other => ApiError::AppUnreachable(other.to_string()),
                },
                pass.cors.clone(),
            )
        })?;
        log.upstream_status = Some(answer.status);
        log.outcome = "forwarded";
        if shared_cache {
            log.upstream_cache = Some(if answer.from_cache { "hit" } else { "miss" });
        }
        let headers = forward::response_headers(
            &answer.headers,
            &ResponsePlan {
                status: answer.status,
                foreign_cookie_names: foreign,
                authenticated,
                refreshed_cookies: pass.refreshed_cookies,
                cors: pass.cors,
            },
        );
        Ok(Answer::Forwarded(Forwarded {
            status: answer.status,
            headers,
            body: answer.body,
            from_cache: answer.from_cache,
        }))
    }

    /// The answer for a session that does not meet the rule: one not made by this deployment
    /// is no session here (401, or the login page for a page load on a redirect rule); a login
    /// below the rule's level may step up (403 `insufficient_user_authentication`, or the login
    /// page); a missing role or organization is 403 `forbidden`. A bearer request gets the
    /// matching `WWW-Authenticate`. `extra`: CORS and a refresh's cookies (the session is
    /// good, and the browser keeps its new JWT). The app is not called.
    #[allow(clippy::too_many_arguments)]
    fn refused<A>(
        &self,
        rule: &Rule,
        head: &Head<'_>,
        url: &UrlParts<'_>,
        unmet: Unmet,
        bearer: bool,
        extra: Vec<(String, String)>,
        log: &mut RequestLog,
    ) -> Result<Answer<A>, Failure> {
        log.prior = Some(format!("requirement: {}", unmet.kind()));
        let challenge = |c| bearer.then(|| forward::bearer_challenge(c));
        let (error, challenge) = match unmet {
            Unmet::Link if bearer => (
                ApiError::InvalidToken("bearer: not a session of this deployment".into()),
                None,
            ),
            Unmet::Link => {
                log.prior = Some("session made elsewhere (no link of this deployment)".into());
                let (cookies, cors): (Vec<_>, Vec<_>) =
                    extra.into_iter().partition(|(k, _)| k == "set-cookie");
                return self.unauthenticated(rule, head, url, cookies, &cors, log);
            }
            Unmet::Aal { required } => {
                if !bearer && let Some(redirect) = self.login_redirect(rule, head, url, &extra, log)
                {
                    return Ok(redirect);
                }
                (
                    ApiError::InsufficientAuthentication {
                        required: required.name(),
                    },
                    challenge(BearerChallenge::InsufficientUserAuthentication(
                        required.name(),
                    )),
                )
            }
            Unmet::Role | Unmet::Organization => (
                ApiError::Forbidden(unmet.kind()),
                challenge(BearerChallenge::InsufficientScope),
            ),
        };
        Err((error, [extra, challenge.into_iter().collect()].concat()))
    }

    /// The answer for a request a protected rule covers that proves no session: a redirect to
    /// the login page for a page load when the rule says so (never for the login page itself),
    /// otherwise 401 `unauthenticated` (with `WWW-Authenticate: Bearer` on a rule that takes
    /// bearer tokens); `cleared` (the session cookies, when there were some) either way. The
    /// app is not called.
    fn unauthenticated<A>(
        &self,
        rule: &Rule,
        head: &Head<'_>,
        url: &UrlParts<'_>,
        cleared: Vec<(String, String)>,
        cors: &[(String, String)],
        log: &mut RequestLog,
    ) -> Result<Answer<A>, Failure> {
        if let Some(redirect) = self.login_redirect(rule, head, url, &cleared, log) {
            return Ok(redirect);
        }
        let why = log.prior.clone().unwrap_or_else(|| "no session".into());
        let challenge = rule
            .access
            .bearer
            .then(|| forward::bearer_challenge(BearerChallenge::Missing));
        Err((
            ApiError::Unauthenticated(why),
            [cors.to_vec(), cleared, challenge.into_iter().collect()].concat(),
        ))
    }

    /// The 302 to the login page, with `next`, for a page load on a redirect rule (never for
    /// the login page itself); `set_cookie`'s cookies go along.
    fn login_redirect<A>(
        &self,
        rule: &Rule,
        head: &Head<'_>,
        url: &UrlParts<'_>,
        set_cookie: &[(String, String)],
        log: &mut RequestLog,
    ) -> Option<Answer<A>> {
        let Unauthenticated::Redirect(login) = &rule.on_unauthenticated else {
            return None;
        };
        let for_login_page = login
            .own_path(Some(url.origin))
            .is_some_and(|p| canonical(p).ok() == canonical(url.path).ok());
        if !head.is_page_load() || for_login_page {
            return None;
        }
        log.outcome = "redirected";
        log.detail = Some(log.prior.clone().unwrap_or_else(|| "no session".into()));
        let mut headers = vec![
            (
                "location".to_owned(),
                forward::login_location(login, url.path, url.query),
            ),
            ("cache-control".to_owned(), "no-store".to_owned()),
        ];
        headers.extend(
            set_cookie
                .iter()
                .filter(|(k, _)| k == "set-cookie")
                .cloned(),
        );
        Some(Answer::Own(Response {
            status: 302,
            headers,
            body: String::new(),
        }))
    }

    /// `EdgeAttest.session(cookieHeader)`, the service binding's call from another Worker of
    /// the account: the identity the `Cookie` header proves, by the gateway's rules (the JWT
    /// used while it has [`MIN_JWT_SECS_LEFT`] left, else refreshed with Stytch, counted
    /// against the session's limit; the session made by this deployment, at `REQUIRED_AAL` at
    /// least), with the `Set-Cookie` values of a refresh for the caller to pass on.
    /// `Ok(None)`: no session that passes. `Err`: the configuration, or a failure that says
    /// nothing about the session (Stytch or its keys out of reach, a limit). One log line.
    pub async fn binding_session(
        &self,
        config: Result<&Config, &ConfigError>,
        cookie_header: &str,
    ) -> Result<Option<BindingSession>, ApiError> {
        let verdict = self.binding(config, cookie_header, None).await?;
        Ok(match verdict.refusal {
            None => verdict.session.map(|mut s| {
                s.set_cookie = Some(verdict.set_cookie);
                s
            }),
            Some(_) => None,
        })
    }

    /// `EdgeAttest.authorize(cookieHeader, options)`: as [`Self::binding_session`], with the
    /// requirements of `options` (a JSON object of the rule fields `require_aal`,
    /// `require_link`, `roles`, `organizations`, read by the same code as `PROTECT`), and an
    /// answer that says why a session does not pass and carries the cookies to clear. `Err`
    /// also for options that cannot be read (`invalid_request`).
    pub async fn binding_authorize(
        &self,
        config: Result<&Config, &ConfigError>,
        cookie_header: &str,
        options: &str,
    ) -> Result<BindingVerdict, ApiError> {
        self.binding(config, cookie_header, Some(options)).await
    }

    /// Either binding call, with its log line.
    async fn binding(
        &self,
        config: Result<&Config, &ConfigError>,
        cookie_header: &str,
        options: Option<&str>,
    ) -> Result<BindingVerdict, ApiError> {
        let started = self.platform.now_ms();
        let mut log = RequestLog::new(
            if options.is_some() {
                "RPC authorize"
            } else {
                "RPC"
            }
            .into(),
        );
        log.route = Some(RouteName::Binding);
        let result = self
            .binding_verdict(config, cookie_header, options, &mut log)
            .await;
        match &result {
            Ok(BindingVerdict {
                session: Some(s),
                refusal: None,
                ..
            }) => {
                log.status = 200;
                log.outcome = "ok";
                log.user_id = Some(s.subject().to_owned());
            }
            Ok(v) => {
                let refusal = v.refusal.unwrap_or("unauthenticated");
                log.status = if refusal == "unauthenticated" {
                    401
                } else {
                    403
                };
                log.outcome = refusal;
            }
            Err(e) => {
                log.status = e.status();
                log.outcome = e.code();
                log.detail = e.log_detail().or(log.detail.take());
            }
        }
        log.ms.total = self.platform.now_ms().saturating_sub(started);
        if let Ok(line) = serde_json::to_string(&log) {
            self.platform.log(LogLevel::of_status(log.status), &line);
        }
        result
    }

    async fn binding_verdict(
        &self,
        config: Result<&Config, &ConfigError>,
        cookie_header: &str,
        options: Option<&str>,
        log: &mut RequestLog,
    ) -> Result<BindingVerdict, ApiError> {
        let config = config.map_err(ApiError::from)?;
        let requirements = match options {
            None => Requirements::defaults(&config.baseline),
            Some(text) => {
                protect::binding_requirements(text, config.stytch.product, &config.baseline)
                    .map_err(|problem| {
                        log.detail = Some(problem);
                        ApiError::InvalidRequest("The authorize options are invalid (see the log).")
                    })?
            }
        };
        let cookies =
            SessionCookies::in_headers(|| std::iter::once(cookie_header), &config.cookies);
        let verdict = self
            .judged_session(config, &cookies, &requirements, Caller::Binding, log)
            .await
            .map_err(|(e, _)| e)?;
        Ok(match verdict {
            Verdict::Passed(current) => {
                let set_cookie = self.cookie_values_of(config, current.refreshed());
                let proof = Proof::Cookies(current, cookies.jwt.clone().unwrap_or_default());
                let facts = proof.facts();
                BindingVerdict {
                    session: Some(BindingSession::new(
                        &identity_of(&proof, &facts),
                        facts.roles,
                    )),
                    refusal: None,
                    set_cookie,
                }
            }
            Verdict::Refused(unmet, refreshed) => {
                log.prior = Some(format!("requirement: {}", unmet.kind()));
                BindingVerdict {
                    session: None,
                    refusal: Some(binding_refusal(&unmet)),
                    set_cookie: self.cookie_values_of(config, refreshed.as_ref()),
                }
            }
            Verdict::NoSession(cleared) => BindingVerdict {
                session: None,
                refusal: Some("unauthenticated"),
                set_cookie: cleared.into_iter().map(|(_, v)| v).collect(),
            },
        })
    }
}

/// The binding's name for an unmet requirement: the code the gateway answers it with.
fn binding_refusal(unmet: &Unmet) -> &'static str {
    match unmet {
        Unmet::Link => "unauthenticated",
        Unmet::Aal { .. } => "insufficient_user_authentication",
        Unmet::Role | Unmet::Organization => "forbidden",
    }
}

/// `Set-Cookie` headers of these values.
fn set_cookie_pairs(values: Vec<String>) -> Vec<(String, String)> {
    values
        .into_iter()
        .map(|v| ("set-cookie".to_owned(), v))
        .collect()
}

/// Who a proven session is, for the app's headers or the service binding.
fn identity_of<'a>(proof: &'a Proof, facts: &SessionFacts<'a>) -> Identity<'a> {
    Identity {
        subject: facts.user_id,
        organization_id: facts.organization.map(|o| o.id.as_str()),
        session_id: facts.session_id,
        expires_at: facts.expires_at,
        aal: facts.link.and_then(|l| l.aal).map(Aal::name),
        iss: facts.link.map(|l| l.iss.as_str()),
        jwt: proof.jwt(),
    }
}

/// What `EdgeAttest.session()` returns to another Worker: the identity headers' values under
/// the same names (snake case), the session's roles, and (from `session()`) the `Set-Cookie`
/// values of a refresh, which the caller appends to its answer (or the browser keeps the
/// expired JWT and every call refreshes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BindingSession {
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    member_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    organization_id: Option<String>,
    session_id: String,
    expires_at: String,
    aal: Option<String>,
    iss: Option<String>,
    roles: Vec<String>,
    jwt: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    set_cookie: Option<Vec<String>>,
}

impl BindingSession {
    fn new(identity: &Identity<'_>, roles: &[String]) -> Self {
        let subject = Some(identity.subject.to_owned());
        let (user_id, member_id) = match identity.organization_id {
            None => (subject, None),
            Some(_) => (None, subject),
        };
        Self {
            user_id,
            member_id,
            organization_id: identity.organization_id.map(str::to_owned),
            session_id: identity.session_id.to_owned(),
            expires_at: identity.expires_at.to_owned(),
            aal: identity.aal.map(str::to_owned),
            iss: identity.iss.map(str::to_owned),
            roles: roles.to_vec(),
            jwt: identity.jwt.to_owned(),
            set_cookie: None,
        }
    }

    /// The Stytch user (B2B: member).
    pub fn subject(&self) -> &str {
        self.user_id
            .as_deref()
            .or(self.member_id.as_deref())
            .unwrap_or_default()
    }
}

/// What `EdgeAttest.authorize()` returns: the session when it passes, else `null` and the
/// refusal's code (`unauthenticated`, `insufficient_user_authentication`, `forbidden`), and the
/// `Set-Cookie` values to append either way: a refresh's new cookies, or the clearing ones
/// when the cookies prove no session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BindingVerdict {
    session: Option<BindingSession>,
    refusal: Option<&'static str>,
    set_cookie: Vec<String>,
}
