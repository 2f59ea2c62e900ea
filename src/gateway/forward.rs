//! What a request forwarded to the app carries, and what its answer carries back: every
//! header decision of the gateway, as pure functions over header lists (names lower-case).
//!
//! The rules come from what identity-aware proxies got wrong in public: identity headers the
//! client sent are removed under every spelling a backend might read as the same name
//! (oauth2-proxy CVE-2025-64484: `X_Forwarded_Email`), before `Connection` can name the ones
//! the gateway adds (Traefik CVE-2021-32813); forwarding headers are the gateway's own;
//! hop-by-hop headers stop here, both ways (RFC 9110 §7.6.1).

use super::LoginUrl;
use crate::cookies::pair_holds_one_of;
use crate::http::PREFLIGHT_MAX_AGE_SECS;

/// The prefix of every header the gateway writes for the app. Any request header whose
/// name, lower-cased with `_` read as `-`, starts with it is removed, on every rule.
pub const IDENTITY_PREFIX: &str = "edge-attest-";

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1, plus the
/// `Proxy-Connection` and `Keep-Alive` of older clients); `Upgrade` passes on a WebSocket
/// handshake only.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "proxy-authenticate",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Headers that tell an app where a request came from, or what it is: a client must not
/// choose them (Traefik CVE-2024-45410: `X-Forwarded-Prefix`); the gateway writes the ones it
/// vouches for. The method overrides (which Express's, Symfony's and Laravel's middleware
/// honour) would make the request another method than the one its rule was chosen for.
const FORWARDING: [&str; 12] = [
    "host",
    "forwarded",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-forwarded-uri",
    "x-original-url",
    "x-rewrite-url",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Who a proven session is, as the app receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity<'a> {
    /// The Stytch user id (B2B: the member id).
    pub subject: &'a str,
    /// B2B: the member's organization id.
    pub organization_id: Option<&'a str>,
    /// The Stytch session id.
    pub session_id: &'a str,
    /// When the session ends (RFC 3339): a socket opened now must close by then.
    pub expires_at: &'a str,
    /// The assurance level of the login the session was made for, from its link.
    pub aal: Option<&'a str>,
    /// The identity provider's issuer of that login, from its link.
    pub iss: Option<&'a str>,
    /// The session JWT itself, for an app that verifies rather than trusts the headers.
    pub jwt: &'a str,
}

impl Identity<'_> {
    /// The identity headers, each once; a value that is not plain printable ASCII is left
    /// out rather than passed on (none should be: each comes from a verified claim).
    pub fn headers(&self) -> Vec<(String, String)> {
        let (subject_name, org) = match self.organization_id {
            None => ("edge-attest-user-id", None),
            Some(org) => ("edge-attest-member-id", Some(org)),
        };
        [
            (subject_name, Some(self.subject)),
            ("edge-attest-organization-id", org),
            ("edge-attest-session-id", Some(self.session_id)),
            ("edge-attest-expires-at", Some(self.expires_at)),
            ("edge-attest-aal", self.aal),
            ("edge-attest-iss", self.iss),
            ("edge-attest-jwt", Some(self.jwt)),
        ]
        .into_iter()
        .filter_map(|(name, value)| {
            value
                .filter(|v| is_plain_value(v))
                .map(|v| (name.to_owned(), v.to_owned()))
        })
        .collect()
    }
}

/// Printable ASCII, no line break or NUL: a header value that cannot split a request.
fn is_plain_value(v: &str) -> bool {
    !v.is_empty() && v.bytes().all(|c| (0x20..0x7f).contains(&c))
}

/// Whether header names `a` and `b` (lower-case) are one name to some app: CGI, PHP-FPM and
/// Rack turn `-` into `_`, and PHP turns `.` into `_` too, so `Edge_Attest_User_Id` and
/// `Edge.Attest.User.Id` both arrive as `HTTP_EDGE_ATTEST_USER_ID`.
fn same_header_name(a: &str, b: &str) -> bool {
    let read = |c: u8| match c {
        b'_' | b'.' => b'-',
        other => other.to_ascii_lowercase(),
    };
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| read(x) == read(y))
}

/// Whether a header name is one of the gateway's own, under any spelling an app reads as one.
pub fn is_identity_header(name: &str) -> bool {
    name.get(..IDENTITY_PREFIX.len())
        .is_some_and(|prefix| same_header_name(prefix, IDENTITY_PREFIX))
}

/// The names a `Connection` header lists, lower-case.
fn connection_tokens(headers: &[(String, String)]) -> Vec<String> {
    headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Whether a request is a WebSocket handshake: `Connection` lists `upgrade` (Firefox sends
/// `keep-alive, Upgrade`) and `Upgrade` is `websocket`, in any case.
pub fn is_websocket_upgrade(headers: &[(String, String)]) -> bool {
    connection_tokens(headers).iter().any(|t| t == "upgrade")
        && headers.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("upgrade") && v.trim().eq_ignore_ascii_case("websocket")
        })
}

/// What becomes of the session cookies in the `Cookie` header the app receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieEdit<'a> {
    /// Passed as they came (the zone's own origin, which may run Stytch's backend SDK).
    Keep,
    /// Removed: another server is not handed the browser's Stytch session.
    Remove {
        /// The two cookie names.
        names: [&'a str; 2],
    },
    /// The values just refreshed with Stytch in place of the expired ones the browser sent.
    Replace {
        /// `[session token cookie, session JWT cookie]` names.
        names: [&'a str; 2],
        /// Their new values, in the same order.
        values: [&'a str; 2],
    },
}

/// What of the request's own message goes to the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// Its body, and the headers that describe it.
    WithBody,
    /// No body (GET, HEAD): no `Content-Length` either, which would leave the app waiting
    /// for a body that never comes.
    Bodiless,
    /// A CORS preflight a rule forwards: no body, no `Content-*`, no `Cookie`, no
    /// `Authorization` (a real preflight carries none of them; anything more is not a
    /// browser's preflight, and must not reach the app unauthenticated).
    Preflight,
    /// A `GET` whose answer the edge location's cache may keep for everyone (a public rule's
    /// `cache = "shared"`): only [`SHARED_REQUEST_HEADERS`] go along, nothing that could
    /// make the answer one client's (cookies, credentials, addresses, languages, origins).
    Shared,
}

/// What a [`Message::Shared`] request carries of the client's headers: what a static
/// answer may depend on for everyone. The cache key is the URL alone.
pub const SHARED_REQUEST_HEADERS: [&str; 2] = ["accept", "accept-encoding"];

/// How the request to the app is built.
#[derive(Debug, Clone)]
pub struct RequestPlan<'a> {
    /// Whether it is a WebSocket handshake (`Upgrade` and `Connection: Upgrade` pass).
    pub upgrade: bool,
    /// What of the message goes along.
    pub message: Message,
    /// Whether `Authorization` goes along: not on a rule that reads a bearer token from it
    /// (the token is the session, as the cookies are).
    pub authorization: bool,
    /// The proven session's identity; `None` on a public rule.
    pub identity: Option<Identity<'a>>,
    /// The session cookies.
    pub cookies: CookieEdit<'a>,
    /// For another server: the public host and scheme (`X-Forwarded-Host`,
    /// `X-Forwarded-Proto`), which it cannot see in `Host`. `None` for the zone's origin,
    /// which gets the public `Host` itself.
    pub forwarded: Option<(&'a str, &'a str)>,
}

/// The headers of the request the app receives: the client's, minus hop-by-hop headers (and
/// whatever `Connection` names), identity and forwarding headers, what `plan` leaves out of
/// the message, with the session cookies as `plan` says; then the gateway's own, each once.
pub fn request_headers(
    incoming: &[(String, String)],
    plan: &RequestPlan<'_>,
) -> Vec<(String, String)> {
    let named = connection_tokens(incoming);
    let mut out: Vec<(String, String)> = incoming
        .iter()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            let kept_for_upgrade = plan.upgrade && k == "upgrade";
            let message = match plan.message {
                Message::WithBody => true,
                Message::Bodiless => k != "content-length",
                Message::Preflight => {
                    !k.replace(['_', '.'], "-").starts_with("content-")
                        && k != "cookie"
                        && k != "authorization"
                }
                Message::Shared => SHARED_REQUEST_HEADERS.contains(&k.as_str()),
            };
            !is_identity_header(&k)
                && !FORWARDING.iter().any(|f| same_header_name(&k, f))
                && message
                && (plan.authorization || k != "authorization")
                && (kept_for_upgrade || (!HOP_BY_HOP.contains(&k.as_str()) && !named.contains(&k)))
        })
        .filter_map(|(k, v)| {
            if k.eq_ignore_ascii_case("cookie") {
                edit_cookies(v, plan.cookies).map(|v| (k.to_ascii_lowercase(), v))
            } else {
                Some((k.to_ascii_lowercase(), v.clone()))
            }
        })
        .collect();
    if plan.upgrade {
        out.push(("connection".into(), "Upgrade".into()));
    }
    if let Some((host, proto)) = plan.forwarded {
        out.push(("x-forwarded-host".into(), host.to_owned()));
        out.push(("x-forwarded-proto".into(), proto.to_owned()));
    }
    if let Some(identity) = &plan.identity {
        out.extend(identity.headers());
    }
    out
}

/// A `Cookie` header with the session cookies removed or replaced; `None` when nothing is
/// left of it. Names are compared as apps read them, trimmed.
fn edit_cookies(header: &str, how: CookieEdit<'_>) -> Option<String> {
    let names = match how {
        CookieEdit::Keep => return Some(header.to_owned()),
        CookieEdit::Remove { names } | CookieEdit::Replace { names, .. } => names,
    };
    let mut kept: Vec<String> = Vec::new();
    for pair in header.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        // Gone: the session cookies under every name an app could read them by.
        if !pair_holds_one_of(pair, &names) {
            kept.push(pair.to_owned());
        }
    }
    if let CookieEdit::Replace { names, values } = how {
        for (name, value) in names.iter().zip(values) {
            kept.push(format!("{name}={value}"));
        }
    }
    (!kept.is_empty()).then(|| kept.join("; "))
}

/// Whether the app's answer (`status`, `headers`) to a `cache = "shared"` rule's request may
/// be kept in the edge location's cache and served to anyone who asks for the URL: a 200 the
/// app marks for shared caches (`public`, or a positive `s-maxage`) and keeps to no one
/// (`private`, `no-store`, `no-cache`, or a zero age, in `Cache-Control` or in the headers
/// that speak to CDNs only: `CDN-Cache-Control`, `Cloudflare-CDN-Cache-Control`,
/// `Surrogate-Control`; `Pragma: no-cache`), with no `Set-Cookie`, no `Vary` but
/// `Accept-Encoding`, and no `Access-Control-Allow-Origin` but `*` (one origin's answer).
/// Anything else is passed on and not kept.
pub fn shared_cacheable(status: u16, headers: &[(String, String)]) -> bool {
    if status != 200 {
        return false;
    }
    let mut shareable = false;
    for (name, value) in headers {
        match name.as_str() {
            "set-cookie" => return false,
            "vary"
                if value
                    .split(',')
                    .map(str::trim)
                    .any(|v| !v.is_empty() && !v.eq_ignore_ascii_case("accept-encoding")) =>
            {
                return false;
            }
            "access-control-allow-origin" if value.trim() != "*" => return false,
            "pragma" if value.to_ascii_lowercase().contains("no-cache") => return false,
            "cache-control"
            | "cdn-cache-control"
            | "cloudflare-cdn-cache-control"
            | "surrogate-control" => match cache_directives(value) {
                None => return false,
                Some(marks_shared) => shareable |= marks_shared && name == "cache-control",
            },
            _ => {}
        }
    }
    shareable
}

/// A cache header's directives: `None` when they keep the answer from shared caches
/// (`private`, `no-store`, `no-cache`, a zero or unreadable age), else whether they mark it
/// for them (`public`, a positive `s-maxage`).
fn cache_directives(value: &str) -> Option<bool> {
    let mut marks_shared = false;
    for directive in value.split(',').map(str::trim) {
        let (key, arg) = directive.split_once('=').unwrap_or((directive, ""));
        match key.trim().to_ascii_lowercase().as_str() {
            "private" | "no-store" | "no-cache" => return None,
            "public" => marks_shared = true,
            age @ ("max-age" | "s-maxage") => {
                let positive = arg
                    .trim()
                    .trim_matches('"')
                    .parse::<u64>()
                    .is_ok_and(|n| n > 0);
                if !positive {
                    return None;
                }
                marks_shared |= age == "s-maxage";
            }
            _ => {}
        }
    }
    Some(marks_shared)
}

/// How the app's answer is passed back.
#[derive(Debug, Clone, Default)]
pub struct ResponsePlan<'a> {
    /// The app's status (101 keeps `Upgrade` and `Connection`).
    pub status: u16,
    /// Another server, which may not set the browser's Stytch session cookies: its
    /// `Set-Cookie` lines for these names are dropped.
    pub foreign_cookie_names: Option<[&'a str; 2]>,
    /// The answer is for a proven session: it may not be cached for anyone else.
    pub authenticated: bool,
    /// The cookies of a session just refreshed (`Set-Cookie` values), appended after the
    /// app's own; their answer is never cached.
    pub refreshed_cookies: Vec<String>,
    /// CORS headers for an allowed cross-origin caller, added when the app sent none.
    pub cors: Vec<(String, String)>,
}

/// The headers of the answer the browser receives: the app's, minus hop-by-hop and identity
/// headers (and the session cookies another server tried to set), made private when
/// authenticated, then the refreshed cookies, appended beside the app's own.
pub fn response_headers(
    upstream: &[(String, String)],
    plan: &ResponsePlan<'_>,
) -> Vec<(String, String)> {
    let named = connection_tokens(upstream);
    let switching = plan.status == 101;
    let mut out: Vec<(String, String)> = upstream
        .iter()
        .filter(|(k, v)| {
            let k = k.to_ascii_lowercase();
            let kept_for_upgrade = switching && (k == "upgrade" || k == "connection");
            // Judged by every name an app may read in what the browser will send back
            // (`=stytch_session_jwt=X` is a nameless cookie that comes back as
            // `stytch_session_jwt=X`; `a=1, stytch_session_jwt=X` holds one after a `,`).
            let foreign_session_cookie = k == "set-cookie"
                && plan.foreign_cookie_names.is_some_and(|names| {
                    pair_holds_one_of(v.split(';').next().unwrap_or_default(), &names)
                });
            !is_identity_header(&k)
                && !foreign_session_cookie
                && (kept_for_upgrade || (!HOP_BY_HOP.contains(&k.as_str()) && !named.contains(&k)))
        })
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    if plan.authenticated {
        let refreshed = !plan.refreshed_cookies.is_empty();
        let existing = out
            .iter()
            .position(|(k, _)| k == "cache-control")
            .map(|i| out.remove(i).1);
        out.push((
            "cache-control".into(),
            private_cache_control(existing.as_deref(), refreshed),
        ));
    }
    if !out.iter().any(|(k, _)| k == "access-control-allow-origin") {
        out.extend(plan.cors.iter().cloned());
    }
    out.extend(
        plan.refreshed_cookies
            .iter()
            .map(|c| ("set-cookie".to_owned(), c.clone())),
    );
    out
}

/// The `Cache-Control` of an answer made for one session: the app's own when it already keeps
/// it out of shared caches (`private` or `no-store`), otherwise `private` in front of it
/// (without `public` or `s-maxage`, which would contradict it); `no-store` when it carries
/// refreshed cookies.
fn private_cache_control(existing: Option<&str>, refreshed: bool) -> String {
    if refreshed {
        return "no-store".into();
    }
    let directives: Vec<&str> = existing
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    let is = |d: &str, name: &str| {
        d.split('=')
            .next()
            .is_some_and(|n| n.trim().eq_ignore_ascii_case(name))
    };
    if directives
        .iter()
        .any(|d| is(d, "private") || is(d, "no-store"))
    {
        return existing.unwrap_or_default().to_owned();
    }
    let mut out = vec!["private"];
    out.extend(
        directives
            .into_iter()
            .filter(|d| !is(d, "public") && !is(d, "s-maxage")),
    );
    out.join(", ")
}

/// Whether a request may change state on the app from another site (CSRF), in the order Go's
/// `CrossOriginProtection` uses: an allowed `Origin` may; otherwise a browser's
/// `Sec-Fetch-Site` must say `same-origin` (or `none`: typed by the user); otherwise an
/// `Origin` present is a foreign one. A request with neither header is not a browser's
/// cross-site request. GET, HEAD and OPTIONS change nothing, except a WebSocket handshake
/// (a GET that opens a socket with the user's cookies).
pub fn cross_site_refused(
    method: &str,
    upgrade: bool,
    origin: Option<&str>,
    origin_allowed: bool,
    sec_fetch_site: Option<&str>,
) -> bool {
    if matches!(method, "GET" | "HEAD" | "OPTIONS") && !upgrade {
        return false;
    }
    if origin.is_some() && origin_allowed {
        return false;
    }
    match sec_fetch_site {
        Some(site) => !matches!(site.trim(), "same-origin" | "none"),
        None => origin.is_some(),
    }
}

/// Whether a request without a session should be sent to the login page rather than answered
/// 401: only a page load (GET or HEAD navigating, or without Fetch Metadata, asking for HTML
/// and not marked as a script's request). A redirect is useless to `fetch()`, fatal to a
/// preflight, and a WebSocket cannot follow one.
pub fn is_page_load(
    method: &str,
    upgrade: bool,
    sec_fetch_mode: Option<&str>,
    accept: Option<&str>,
    x_requested_with: Option<&str>,
) -> bool {
    if !matches!(method, "GET" | "HEAD") || upgrade {
        return false;
    }
    match sec_fetch_mode {
        Some(mode) => mode.trim() == "navigate",
        None => accept.is_some_and(|a| a.contains("text/html")) && x_requested_with.is_none(),
    }
}

/// Longest `Access-Control-Request-Headers` echoed back.
const MAX_REQUEST_HEADERS_BYTES: usize = 1024;

/// The headers of the 204 the gateway answers a CORS preflight with, for a listed `origin`
/// asking for `method`: that origin with credentials, that method (the rule the preflight was
/// matched by allows it), the headers it asked for when they are a list of header names
/// (the actual request is judged again on its own: its session, its Origin), and how long to
/// cache it. `Vary` names what the answer depends on.
pub fn preflight_answer(
    origin: &str,
    method: &str,
    request_headers: Option<&str>,
) -> Vec<(String, String)> {
    let mut out = vec![
        ("access-control-allow-origin".to_owned(), origin.to_owned()),
        (
            "access-control-allow-credentials".to_owned(),
            "true".to_owned(),
        ),
        ("access-control-allow-methods".to_owned(), method.to_owned()),
    ];
    if let Some(asked) = request_headers.map(str::trim).filter(|h| {
        !h.is_empty()
            && h.len() <= MAX_REQUEST_HEADERS_BYTES
            && h.split(',').all(|name| is_header_name(name.trim()))
    }) {
        out.push(("access-control-allow-headers".to_owned(), asked.to_owned()));
    }
    out.push((
        "access-control-max-age".to_owned(),
        PREFLIGHT_MAX_AGE_SECS.to_string(),
    ));
    out.push((
        "vary".to_owned(),
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers".to_owned(),
    ));
    out
}

/// An RFC 9110 token: what a header name is.
fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
}

/// Why a request on a bearer rule is refused, as `WWW-Authenticate` tells its client
/// (RFC 6750 §3, RFC 9470 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerChallenge<'a> {
    /// No credentials at all: the challenge alone, no error code.
    Missing,
    /// `Authorization` not `Bearer <token>`.
    InvalidRequest,
    /// The session's login is below this level: sign in again with a stronger factor.
    InsufficientUserAuthentication(&'a str),
    /// The session lacks the rule's role or organization.
    InsufficientScope,
}

/// The `WWW-Authenticate` header for a refused bearer request.
pub fn bearer_challenge(challenge: BearerChallenge<'_>) -> (String, String) {
    let value = match challenge {
        BearerChallenge::Missing => "Bearer".to_owned(),
        BearerChallenge::InvalidRequest => r#"Bearer error="invalid_request""#.to_owned(),
        BearerChallenge::InsufficientUserAuthentication(level) => format!(
            r#"Bearer error="insufficient_user_authentication", error_description="A sign-in at {level} is required", acr_values="{level}""#
        ),
        BearerChallenge::InsufficientScope => r#"Bearer error="insufficient_scope""#.to_owned(),
    };
    ("www-authenticate".to_owned(), value)
}

/// Longest `next` carried to the login page: URLs beyond 16 KB are refused by the platform,
/// and a login page only needs to know where to come back to.
pub const MAX_NEXT_BYTES: usize = 2048;

/// The redirect target for a page load without a session: `login` with `next` = the path
/// and query asked for (`/` when longer than [`MAX_NEXT_BYTES`]), encoded as a query value.
/// A path that starts with several slashes is given one: `//evil.example/x` would be a
/// scheme-relative URL to a login page that navigates to `next` (the shape of oauth2-proxy's
/// open redirects, GHSA-5m6c-jp6f-2vcv), and the rule matched it as `/evil.example/x`.
pub fn login_location(login: &LoginUrl, path: &str, query: Option<&str>) -> String {
    let path = path.trim_start_matches('/');
    let mut next = format!("/{path}");
    if let Some(q) = query {
        next.push('?');
        next.push_str(q);
    }
    if next.len() > MAX_NEXT_BYTES {
        next = "/".into();
    }
    let mut encoded = String::with_capacity(next.len() * 3 / 2);
    for b in next.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    let url = login.as_str();
    let joiner = if url.contains('?') { '&' } else { '?' };
    format!("{url}{joiner}next={encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn names(headers: &[(String, String)]) -> Vec<&str> {
        headers.iter().map(|(k, _)| k.as_str()).collect()
    }

    const ID: Identity<'static> = Identity {
        subject: "user-test-1",
        organization_id: None,
        session_id: "session-test-1",
        expires_at: "2026-12-02T18:00:00Z",
        aal: Some("aal1"),
        iss: Some("https://abcd.supabase.co/auth/v1"),
        jwt: "a.b.c",
    };

    fn plan(identity: Option<Identity<'static>>) -> RequestPlan<'static> {
        RequestPlan {
            upgrade: false,
            message: Message::WithBody,
            authorization: true,
            identity,
            cookies: CookieEdit::Keep,
            forwarded: None,
        }
    }

    #[test]
    fn identity_headers_the_client_sent_are_removed_under_every_spelling() {
        let incoming = h(&[
            ("edge-attest-user-id", "forged"),
            ("Edge_Attest_User_Id", "forged"),
            ("Edge.Attest.Session.Id", "forged"),
            ("EDGE-ATTEST-JWT", "forged"),
            ("edge-attest-new-field", "forged"),
            ("edge-attestation", "kept: another name"),
            ("accept", "*/*"),
        ]);
        let out = request_headers(&incoming, &plan(None));
        assert_eq!(names(&out), ["edge-attestation", "accept"]);
        let out = request_headers(&incoming, &plan(Some(ID)));
        let user: Vec<&str> = out
            .iter()
            .filter(|(k, _)| k == "edge-attest-user-id")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(user, ["user-test-1"]);
        assert!(!out.iter().any(|(_, v)| v == "forged"));
    }

    #[test]
    fn connection_cannot_remove_what_the_gateway_adds() {
        let incoming = h(&[
            ("connection", "close, Edge-Attest-Jwt, X-Keep-Me-Not"),
            ("x-keep-me-not", "1"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("proxy-authorization", "Basic x"),
            ("x-forwarded-host", "evil.example"),
            ("x-original-url", "/public"),
            ("forwarded", "for=1.2.3.4"),
            ("host", "app.example.com"),
            ("content-type", "application/json"),
        ]);
        let out = request_headers(&incoming, &plan(Some(ID)));
        assert_eq!(
            names(&out),
            [
                "content-type",
                "edge-attest-user-id",
                "edge-attest-session-id",
                "edge-attest-expires-at",
                "edge-attest-aal",
                "edge-attest-iss",
                "edge-attest-jwt"
            ]
        );
    }

    #[test]
    fn another_server_gets_forwarding_headers_and_no_session_cookies() {
        let incoming = h(&[(
            "cookie",
            "theme=dark; stytch_session=tok; stytch_session_jwt=jwt; other=1",
        )]);
        let mut p = plan(Some(ID));
        p.cookies = CookieEdit::Remove {
            names: ["stytch_session", "stytch_session_jwt"],
        };
        p.forwarded = Some(("app.example.com", "https"));
        let out = request_headers(&incoming, &p);
        assert_eq!(out[0], ("cookie".into(), "theme=dark; other=1".into()));
        assert!(out.contains(&("x-forwarded-host".into(), "app.example.com".into())));
        assert!(out.contains(&("x-forwarded-proto".into(), "https".into())));
        let only_session = h(&[("cookie", "stytch_session=tok; stytch_session_jwt=jwt")]);
        assert!(!names(&request_headers(&only_session, &p)).contains(&"cookie"));
    }

    #[test]
    fn a_refresh_replaces_the_expired_cookies_the_origin_receives() {
        let incoming = h(&[(
            "cookie",
            "a=1; stytch_session=old; stytch_session_jwt=expired",
        )]);
        let mut p = plan(Some(ID));
        p.cookies = CookieEdit::Replace {
            names: ["stytch_session", "stytch_session_jwt"],
            values: ["new", "fresh"],
        };
        assert_eq!(
            request_headers(&incoming, &p)[0].1,
            "a=1; stytch_session=new; stytch_session_jwt=fresh"
        );
    }

    #[test]
    fn websocket_handshakes_keep_upgrade() {
        let incoming = h(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "WebSocket"),
            ("sec-websocket-key", "k"),
        ]);
        assert!(is_websocket_upgrade(&incoming));
        assert!(!is_websocket_upgrade(&h(&[("upgrade", "websocket")])));
        let mut p = plan(None);
        p.upgrade = true;
        let out = request_headers(&incoming, &p);
        assert_eq!(names(&out), ["upgrade", "sec-websocket-key", "connection"]);
    }

    #[test]
    fn identity_values_are_plain_ascii_or_left_out() {
        let mut id = ID;
        id.iss = Some("https://x\r\nInjected: 1");
        id.organization_id = Some("organization-test-1");
        let out = id.headers();
        assert!(!names(&out).contains(&"edge-attest-iss"));
        assert_eq!(
            names(&out)[..2],
            ["edge-attest-member-id", "edge-attest-organization-id"]
        );
    }

    #[test]
    fn answers_lose_hop_by_hop_identity_and_foreign_session_cookies() {
        let upstream = h(&[
            ("connection", "x-internal"),
            ("x-internal", "1"),
            ("transfer-encoding", "chunked"),
            ("edge-attest-jwt", "echoed"),
            ("set-cookie", "stytch_session=planted; Path=/"),
            ("set-cookie", "app=1; Path=/"),
            ("cache-control", "public, max-age=60, s-maxage=600"),
            ("content-type", "text/html"),
        ]);
        let plan = ResponsePlan {
            status: 200,
            foreign_cookie_names: Some(["stytch_session", "stytch_session_jwt"]),
            authenticated: true,
            refreshed_cookies: vec![],
            cors: vec![],
        };
        assert_eq!(
            response_headers(&upstream, &plan),
            h(&[
                ("set-cookie", "app=1; Path=/"),
                ("content-type", "text/html"),
                ("cache-control", "private, max-age=60"),
            ])
        );
    }

    #[test]
    fn refreshed_cookies_are_appended_and_never_cached() {
        let upstream = h(&[("set-cookie", "app=1"), ("cache-control", "max-age=60")]);
        let plan = ResponsePlan {
            status: 200,
            authenticated: true,
            refreshed_cookies: vec![
                "stytch_session=new".into(),
                "stytch_session_jwt=fresh".into(),
            ],
            ..ResponsePlan::default()
        };
        assert_eq!(
            response_headers(&upstream, &plan),
            h(&[
                ("set-cookie", "app=1"),
                ("cache-control", "no-store"),
                ("set-cookie", "stytch_session=new"),
                ("set-cookie", "stytch_session_jwt=fresh"),
            ])
        );
    }

    #[test]
    fn private_answers_stay_as_the_app_made_them() {
        assert_eq!(private_cache_control(Some("no-store"), false), "no-store");
        assert_eq!(
            private_cache_control(Some("Private, max-age=5"), false),
            "Private, max-age=5"
        );
        assert_eq!(private_cache_control(None, false), "private");
    }

    #[test]
    fn cross_site_writes_are_refused() {
        let refused = |m, up, o, allowed, site| cross_site_refused(m, up, o, allowed, site);
        assert!(!refused(
            "GET",
            false,
            Some("https://evil.example"),
            false,
            Some("cross-site")
        ));
        assert!(refused(
            "POST",
            false,
            Some("https://evil.example"),
            false,
            None
        ));
        assert!(refused("POST", false, Some("null"), false, None));
        assert!(refused("POST", false, None, false, Some("same-site")));
        assert!(refused("DELETE", false, None, false, Some("cross-site")));
        assert!(refused(
            "GET",
            true,
            Some("https://evil.example"),
            false,
            None
        ));
        assert!(!refused(
            "POST",
            false,
            Some("https://app.example.com"),
            true,
            Some("cross-site")
        ));
        assert!(!refused("POST", false, None, false, Some("same-origin")));
        assert!(!refused("POST", false, None, false, None));
    }

    #[test]
    fn only_page_loads_are_redirected() {
        assert!(is_page_load("GET", false, Some("navigate"), None, None));
        assert!(!is_page_load(
            "GET",
            false,
            Some("cors"),
            Some("text/html"),
            None
        ));
        assert!(is_page_load(
            "HEAD",
            false,
            None,
            Some("text/html,*/*"),
            None
        ));
        assert!(!is_page_load("GET", false, None, Some("*/*"), None));
        assert!(!is_page_load(
            "GET",
            false,
            None,
            Some("text/html"),
            Some("XMLHttpRequest")
        ));
        assert!(!is_page_load("POST", false, Some("navigate"), None, None));
        assert!(!is_page_load("GET", true, Some("navigate"), None, None));
    }

    #[test]
    fn next_is_the_path_and_query_encoded() {
        let login = LoginUrl::parse("/login").unwrap();
        assert_eq!(
            login_location(&login, "/app/x", Some("a=1&b=/c")),
            "/login?next=/app/x%3Fa%3D1%26b%3D/c"
        );
        let with_query = LoginUrl::parse("https://auth.example.com/in?app=1").unwrap();
        assert_eq!(
            login_location(&with_query, "/", None),
            "https://auth.example.com/in?app=1&next=/"
        );
        let long = "a".repeat(MAX_NEXT_BYTES);
        assert_eq!(login_location(&login, "/x", Some(&long)), "/login?next=/");
    }
}
