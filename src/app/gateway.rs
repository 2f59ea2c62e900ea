//! The auth gateway's request flow: a request for a path a `PROTECT` rule covers goes on to
//! the app with the identity its Stytch session cookies prove, or is answered here and never
//! reaches the app. Every decision about paths and headers is `crate::gateway`'s; this runs a
//! request through them, with the session check `GET /api/session` uses.
//!
//! In order, and nothing is sent anywhere before the last step: the path in canonical form
//! (ambiguous ones are 400), the rule, the method (TRACE would echo cookies), the cross-site
//! check for requests that can change state, the session (from the JWT cookie alone while it
//! has [`MIN_JWT_SECS_LEFT`] left, else refreshed with Stytch once), then the app. A streamed
//! body cannot be sent twice, so nothing is tried first and retried.

use super::limits::RateLimiter;
use super::routes::RouteName;
use super::session::{Caller, Current};
use super::{Failure, RequestLog, Services, failure, origin_allowed, unix_secs};
use crate::config::{Config, ConfigError};
use crate::credentials::SessionCookies;
use crate::error::ApiError;
use crate::formats::urls::UrlParts;
use crate::gateway::forward::{self, CookieEdit, Identity, RequestPlan, ResponsePlan};
use crate::gateway::{
    MIN_JWT_SECS_LEFT, Rule, UPSTREAM_HEADERS_TIMEOUT_MS, Unauthenticated, Upstream, canonical,
};
use crate::http::{
    AllHeaders, Answer, ForwardRequest, Forwarded, Forwarder, HttpClient, IncomingRequest,
    Platform, Response, TransportError,
};
use crate::jwt::assurance::Aal;
use crate::keys::cache::KvStore;
use crate::keys::crypto::SignatureBackend;
use crate::keys::integrity::EntryMac;
use crate::stytch::session::VerifiedSession;
use serde::Serialize;

/// The methods a gateway rule passes on (TRACE and TRACK would echo the cookies and the
/// identity headers back to a script; CONNECT is not a request for a path).
const PASSED_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

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
        let path = canonical(url.path).map_err(|problem| {
            log.detail = Some(problem.describe().into());
            failure(ApiError::InvalidRequest("The request path is ambiguous."))
        })?;
        let Some((index, rule)) = config.protect.matching(&path) else {
            return Err(failure(ApiError::NotFound));
        };
        log.rule = Some(index);
        let method = req.method.as_str();
        if !PASSED_METHODS.contains(&method) {
            return Err(failure(ApiError::MethodNotAllowed(PASSED_METHODS)));
        }
        let headers = req.body.all_headers(&req.headers);
        let find = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let upgrade = forward::is_websocket_upgrade(&headers);
        let origin = find("origin");
        let allowed = origin.is_some_and(|o| origin_allowed(o, url, &config.allowed_origins));
        let cors: Vec<(String, String)> = match origin {
            Some(o) if allowed => vec![
                ("access-control-allow-origin".into(), o.to_owned()),
                ("access-control-allow-credentials".into(), "true".into()),
                ("vary".into(), "Origin".into()),
            ],
            _ => vec![],
        };
        let preflight = method == "OPTIONS" && find("access-control-request-method").is_some();
        if forward::cross_site_refused(method, upgrade, origin, allowed, find("sec-fetch-site"))
            || (preflight && !allowed)
        {
            return Err((
                ApiError::ForbiddenOrigin,
                vec![("vary".into(), "Origin".into())],
            ));
        }

        // The session, unless the rule is public or this is a preflight (which carries no
        // cookies, and asks only whether the real request may be sent).
        let cookies = SessionCookies::in_headers(
            || {
                headers
                    .iter()
                    .filter(|(k, _)| k == "cookie")
                    .map(|(_, v)| v.as_str())
            },
            &config.cookies,
        );
        let current = if !rule.require_session || preflight {
            log.session = Some(if preflight { "preflight" } else { "public" });
            None
        } else if cookies.jwt.is_none() && cookies.token.is_none() && !cookies.ambiguous {
            log.prior = Some("no_session_cookies".into());
            return self.unauthenticated(rule, method, upgrade, &headers, url, vec![], &cors, log);
        } else {
            let caller = Caller::Address(find("cf-connecting-ip"));
            let lasts = |s: &VerifiedSession, now| s.lasts(now, MIN_JWT_SECS_LEFT);
            match self
                .current_session(config, &cookies, caller, lasts, log)
                .await
            {
                Ok(current) => Some(current),
                Err((ApiError::InvalidSession, cleared)) => {
                    return self.unauthenticated(
                        rule, method, upgrade, &headers, url, cleared, &cors, log,
                    );
                }
                Err((e, extra)) => return Err((e, [cors, extra].concat())),
            }
        };

        let names = [
            config.cookies.session_name.as_str(),
            config.cookies.jwt_name.as_str(),
        ];
        let now = unix_secs(self.platform.now_ms());
        let identity = current
            .as_ref()
            .map(|c| identity_of(c, cookies.jwt.as_deref()));
        let refreshed = match &current {
            Some(Current::Refreshed(s)) => Some(s),
            _ => None,
        };
        if let Some(identity) = &identity {
            log.user_id = Some(identity.subject.to_owned());
        }
        let public_host = url.origin.split_once("://").map_or("", |(_, h)| h);
        let (target, session_cookies, forwarded_for) = match &rule.upstream {
            Upstream::Origin => (
                req.url.clone(),
                match refreshed {
                    Some(s) => CookieEdit::Replace {
                        names,
                        values: [&s.session_token, &s.session_jwt],
                    },
                    None => CookieEdit::Keep,
                },
                None,
            ),
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
        let plan = RequestPlan {
            upgrade,
            identity,
            cookies: session_cookies,
            forwarded: forwarded_for,
        };
        let outgoing = ForwardRequest {
            url: target,
            method: method.to_owned(),
            headers: forward::request_headers(&headers, &plan),
            headers_timeout_ms: UPSTREAM_HEADERS_TIMEOUT_MS,
        };
        let refreshed_cookies: Vec<String> = refreshed
            .map(|s| {
                config
                    .cookies
                    .session_cookies(&s.session_token, &s.session_jwt, s.expires_at_unix, now)
                    .into_iter()
                    .collect()
            })
            .unwrap_or_default();
        let authenticated = plan.identity.is_some();
        let foreign = matches!(rule.upstream, Upstream::Url(_)).then_some(names);
        let started = self.platform.now_ms();
        let answer = forwarder.forward(outgoing, req.body).await;
        log.ms.upstream = Some(self.platform.now_ms().saturating_sub(started));
        let answer = answer.map_err(|e| {
            (
                match e {
                    TransportError::Timeout => ApiError::AppTimeout,
                    other => ApiError::AppUnreachable(other.to_string()),
                },
                cors.clone(),
            )
        })?;
        log.upstream_status = Some(answer.status);
        log.outcome = "forwarded";
        let headers = forward::response_headers(
            &answer.headers,
            &ResponsePlan {
                status: answer.status,
                foreign_cookie_names: foreign,
                authenticated,
                refreshed_cookies,
                cors,
            },
        );
        Ok(Answer::Forwarded(Forwarded {
            status: answer.status,
            headers,
            body: answer.body,
        }))
    }

    /// `EdgeAttest.session(cookieHeader)`, the service binding's call from another Worker of
    /// the account: the identity the `Cookie` header proves, by the gateway's rules (the JWT
    /// used while it has [`MIN_JWT_SECS_LEFT`] left, else refreshed with Stytch, counted
    /// against the user's limit), with the `Set-Cookie` values of a refresh for the caller
    /// to pass on. `Ok(None)`: no session. `Err`: the configuration, or a failure that says
    /// nothing about the session (Stytch or its keys out of reach, a limit). One log line.
    pub async fn binding_session(
        &self,
        config: Result<&Config, &ConfigError>,
        cookie_header: &str,
    ) -> Result<Option<BindingSession>, ApiError> {
        let started = self.platform.now_ms();
        let mut log = RequestLog::new("RPC".into());
        log.route = Some(RouteName::Binding);
        let result = self.binding_identity(config, cookie_header, &mut log).await;
        match &result {
            Ok(Some(s)) => {
                log.status = 200;
                log.outcome = "ok";
                log.user_id = Some(s.subject().to_owned());
            }
            Ok(None) => {
                log.status = 401;
                log.outcome = "unauthenticated";
            }
            Err(e) => {
                log.status = e.status();
                log.outcome = e.code();
                log.detail = e.log_detail().or(log.detail.take());
            }
        }
        log.ms.total = self.platform.now_ms().saturating_sub(started);
        if let Ok(line) = serde_json::to_string(&log) {
            self.platform.log(&line);
        }
        result
    }

    async fn binding_identity(
        &self,
        config: Result<&Config, &ConfigError>,
        cookie_header: &str,
        log: &mut RequestLog,
    ) -> Result<Option<BindingSession>, ApiError> {
        let config = config.map_err(ApiError::from)?;
        let cookies =
            SessionCookies::in_headers(|| std::iter::once(cookie_header), &config.cookies);
        if cookies.jwt.is_none() && cookies.token.is_none() && !cookies.ambiguous {
            log.prior = Some("no_session_cookies".into());
            return Ok(None);
        }
        let lasts = |s: &VerifiedSession, now| s.lasts(now, MIN_JWT_SECS_LEFT);
        let current = match self
            .current_session(config, &cookies, Caller::Binding, lasts, log)
            .await
        {
            Ok(current) => current,
            Err((ApiError::InvalidSession, _)) => return Ok(None),
            Err((e, _)) => return Err(e),
        };
        let identity = identity_of(&current, cookies.jwt.as_deref());
        let set_cookie = match &current {
            Current::Refreshed(s) => config
                .cookies
                .session_cookies(
                    &s.session_token,
                    &s.session_jwt,
                    s.expires_at_unix,
                    unix_secs(self.platform.now_ms()),
                )
                .into_iter()
                .collect(),
            Current::Local(_) => vec![],
        };
        Ok(Some(BindingSession::new(&identity, set_cookie)))
    }

    /// The answer for a request a protected rule covers that proves no session: a redirect to
    /// the login page for a page load when the rule says so (never for the login page itself),
    /// otherwise 401 `unauthenticated`; `cleared` (the session cookies, when there were some)
    /// either way. The app is not called.
    #[allow(clippy::too_many_arguments)]
    fn unauthenticated<A>(
        &self,
        rule: &Rule,
        method: &str,
        upgrade: bool,
        headers: &[(String, String)],
        url: &UrlParts<'_>,
        cleared: Vec<(String, String)>,
        cors: &[(String, String)],
        log: &mut RequestLog,
    ) -> Result<Answer<A>, Failure> {
        let find = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let why = log.prior.clone().unwrap_or_else(|| "no session".into());
        if let Unauthenticated::Redirect(login) = &rule.on_unauthenticated {
            let page_load = forward::is_page_load(
                method,
                upgrade,
                find("sec-fetch-mode"),
                find("accept"),
                find("x-requested-with"),
            );
            let for_login_page = login
                .own_path(Some(url.origin))
                .is_some_and(|p| canonical(p).ok() == canonical(url.path).ok());
            if page_load && !for_login_page {
                log.outcome = "redirected";
                log.detail = Some(why);
                let mut headers = vec![
                    (
                        "location".to_owned(),
                        forward::login_location(login, url.path, url.query),
                    ),
                    ("cache-control".to_owned(), "no-store".to_owned()),
                ];
                headers.extend(cleared);
                return Ok(Answer::Own(Response {
                    status: 302,
                    headers,
                    body: String::new(),
                }));
            }
        }
        Err((
            ApiError::Unauthenticated(why),
            [cors.to_vec(), cleared].concat(),
        ))
    }
}

/// Who a proven session is, for the app's headers or the service binding.
fn identity_of<'a>(current: &'a Current, jwt_cookie: Option<&'a str>) -> Identity<'a> {
    let f = current.facts();
    Identity {
        subject: f.user_id,
        organization_id: f.organization.map(|o| o.id.as_str()),
        session_id: f.session_id,
        expires_at: f.expires_at,
        aal: f.link.and_then(|l| l.aal).map(Aal::name),
        iss: f.link.map(|l| l.iss.as_str()),
        // The JWT the session now has: the browser's, or the refresh's.
        jwt: match current {
            Current::Local(_) => jwt_cookie.unwrap_or_default(),
            Current::Refreshed(s) => &s.session_jwt,
        },
    }
}

/// What `EdgeAttest.session()` returns to another Worker: the identity headers' values under
/// the same names (snake case), and the `Set-Cookie` values of a refresh, which the caller
/// appends to its answer (or the browser keeps the expired JWT and every call refreshes).
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
    jwt: String,
    set_cookie: Vec<String>,
}

impl BindingSession {
    fn new(identity: &Identity<'_>, set_cookie: Vec<String>) -> Self {
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
            jwt: identity.jwt.to_owned(),
            set_cookie,
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
