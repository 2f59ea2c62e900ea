//! The auth gateway: the app's own routes, protected at the edge by the Stytch session the
//! exchange set.
//!
//! `PROTECT` lists rules, each a path pattern and where matching requests go. A request for
//! a protected path goes on to the app only with a session its cookies prove (the session JWT
//! verified under Stytch's keys, as for edge reuse, or refreshed with Stytch once it has run
//! out), carrying who it is in `Edge-Attest-*` headers the gateway alone writes; otherwise it
//! is answered 401 or sent to the login page, and the app never sees it. This module owns the
//! rules and every decision about headers; `app/gateway.rs` runs a request through them.

pub mod forward;
pub mod path;

use crate::formats::urls;
pub use path::{PathPattern, PathProblem, canonical};

/// Most rules `PROTECT` may hold: each request is matched against them in order.
pub const MAX_RULES: usize = 64;
/// Largest `PROTECT` value read.
pub const MAX_RULES_BYTES: usize = 32 * 1024;
/// A session JWT with less time left than this is refreshed before it is forwarded: the app
/// checks `exp` with its own clock, after the request has travelled, and Stytch's JWTs live
/// five minutes, so a refresh this early costs one Stytch call per session per 270 s instead
/// of per 300 s.
pub const MIN_JWT_SECS_LEFT: i64 = 30;
/// How long the app may take to answer with its status and headers. Its body then streams
/// for as long as it lasts (server-sent events, downloads): a total timeout would cut those.
pub const UPSTREAM_HEADERS_TIMEOUT_MS: u32 = 30_000;

/// Where a rule sends the requests it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// On to the zone's own origin: the request's own URL, fetched from the Worker (which
    /// reaches the origin when the Worker runs on a route of that zone).
    Origin,
    /// Another server: `scheme://host[:port]`, to which the request's path and query are
    /// appended unchanged.
    Url(String),
}

impl Upstream {
    /// Reads `"origin"` or an origin URL: https (http only for a loopback host), no path
    /// beyond `/`, no query, fragment or credentials.
    pub fn parse(value: &str) -> Result<Self, String> {
        if value == "origin" {
            return Ok(Self::Origin);
        }
        let shape = || {
            format!(
                "{value} is not \"origin\" or a URL like https://api.internal.example.com (no path, query or fragment)"
            )
        };
        let url = urls::parse(value).ok_or_else(shape)?;
        if url.query.is_some()
            || url.fragment.is_some()
            || !(url.path.is_empty() || url.path == "/")
        {
            return Err(shape());
        }
        match url.scheme {
            "https" => {}
            "http" if urls::is_loopback_host(url.host) => {}
            _ => {
                return Err(format!(
                    "{value} must use https (http only for loopback hosts)"
                ));
            }
        }
        Ok(Self::Url(url.origin.to_ascii_lowercase()))
    }
}

/// What a protected rule answers a request that proves no session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unauthenticated {
    /// 401 JSON `unauthenticated`.
    Status401,
    /// For a page load, 302 to this login URL with `next` (the path and query asked for); a
    /// 401 for everything else, which a redirect would only break.
    Redirect(LoginUrl),
}

/// Where a redirect sends a browser that must sign in: a path on this origin, or an https
/// URL (http only for a loopback host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginUrl(String);

impl LoginUrl {
    /// Reads a login URL: `/path[?query]` (never `//` or `\`), or an absolute URL without
    /// fragment.
    pub fn parse(value: &str) -> Result<Self, String> {
        if value
            .bytes()
            .any(|c| c <= 0x20 || c >= 0x7f || c == b'\\' || c == b'#')
        {
            return Err(format!(
                "{value} must be printable ASCII without spaces, \\ or a fragment"
            ));
        }
        if value.starts_with('/') {
            if value.starts_with("//") {
                return Err(format!(
                    "{value} starts with // (another host): give an absolute URL"
                ));
            }
            return Ok(Self(value.to_owned()));
        }
        let url = urls::parse(value)
            .ok_or_else(|| format!("{value} is not a path like /login or an absolute URL"))?;
        match url.scheme {
            "https" => Ok(Self(value.to_owned())),
            "http" if urls::is_loopback_host(url.host) => Ok(Self(value.to_owned())),
            _ => Err(format!(
                "{value} must use https (http only for loopback hosts)"
            )),
        }
    }

    /// Its path, when it is on the worker's own origin `origin` (a relative URL always is):
    /// the gateway never redirects a request for the login page itself.
    pub fn own_path<'a>(&'a self, origin: Option<&str>) -> Option<&'a str> {
        let rest = if self.0.starts_with('/') {
            self.0.as_str()
        } else {
            let url = urls::parse(&self.0)?;
            if Some(url.origin) != origin {
                return None;
            }
            self.0.get(url.origin.len()..)?
        };
        Some(rest.split('?').next().unwrap_or(rest))
    }

    /// The URL as configured.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One rule of `PROTECT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The paths it covers.
    pub pattern: PathPattern,
    /// Where the requests go.
    pub upstream: Upstream,
    /// What a request without a session gets.
    pub on_unauthenticated: Unauthenticated,
    /// `false`: a public rule; requests go on without a session check (identity headers
    /// still removed).
    pub require_session: bool,
}

/// The gateway's rules, in order: the first that covers a path decides. Empty: no gateway.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules(Vec<Rule>);

impl Rules {
    /// Rules checked as a whole: a login page a protected rule covers would redirect to
    /// itself forever.
    pub fn new(rules: Vec<Rule>) -> Result<Self, (usize, String)> {
        for (i, rule) in rules.iter().enumerate() {
            let Unauthenticated::Redirect(login) = &rule.on_unauthenticated else {
                continue;
            };
            let Some(login_path) = login.own_path(None) else {
                continue;
            };
            let path = canonical(login_path).unwrap_or_default();
            if let Some(r) = rules.iter().find(|r| r.pattern.covers(&path))
                && r.require_session
            {
                return Err((
                    i,
                    format!(
                        "login_url: {} is covered by the protected rule {}: it would redirect to itself (add a public rule for it first)",
                        login.as_str(),
                        r.pattern.describe()
                    ),
                ));
            }
        }
        Ok(Self(rules))
    }

    /// Whether there are any.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first rule covering the canonical `path`, with its index.
    pub fn matching(&self, path: &str) -> Option<(usize, &Rule)> {
        self.0
            .iter()
            .enumerate()
            .find(|(_, r)| r.pattern.covers(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(path: &str, require_session: bool, login: Option<&str>) -> Rule {
        Rule {
            pattern: PathPattern::parse(path).unwrap(),
            upstream: Upstream::Origin,
            on_unauthenticated: match login {
                Some(l) => Unauthenticated::Redirect(LoginUrl::parse(l).unwrap()),
                None => Unauthenticated::Status401,
            },
            require_session,
        }
    }

    #[test]
    fn the_first_matching_rule_decides() {
        let rules = Rules::new(vec![
            rule("/app/public/*", false, None),
            rule("/app/*", true, None),
        ])
        .unwrap();
        assert_eq!(rules.matching("/app/public/x").map(|(i, _)| i), Some(0));
        assert_eq!(rules.matching("/app/private").map(|(i, _)| i), Some(1));
        assert_eq!(rules.matching("/other"), None);
    }

    #[test]
    fn a_login_page_behind_its_own_rule_is_refused() {
        let looping = Rules::new(vec![rule("/*", true, Some("/login?from=gw"))]);
        assert!(looping.unwrap_err().1.contains("redirect to itself"));
        let fine = Rules::new(vec![
            rule("/login", false, None),
            rule("/*", true, Some("/login")),
        ]);
        assert!(fine.is_ok());
        // Elsewhere: no loop to find here (the request for it is never redirected either).
        assert!(
            Rules::new(vec![rule(
                "/*",
                true,
                Some("https://auth.example.com/login")
            )])
            .is_ok()
        );
    }

    #[test]
    fn upstreams_are_origins() {
        assert_eq!(Upstream::parse("origin"), Ok(Upstream::Origin));
        assert_eq!(
            Upstream::parse("https://API.example.com/"),
            Ok(Upstream::Url("https://api.example.com".into()))
        );
        assert_eq!(
            Upstream::parse("http://127.0.0.1:9000"),
            Ok(Upstream::Url("http://127.0.0.1:9000".into()))
        );
        for bad in [
            "http://api.example.com",
            "https://a.example.com/base",
            "https://a.example.com?x",
            "https://u:p@a.example.com",
            "ftp://a.example.com",
            "Origin",
        ] {
            assert!(Upstream::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn login_urls_stay_on_a_known_host() {
        assert!(LoginUrl::parse("/login?x=1").is_ok());
        assert!(LoginUrl::parse("https://auth.example.com/login").is_ok());
        for bad in [
            "//evil.example/login",
            "/\\evil",
            "login",
            "http://a.example.com/",
            "/a b",
            "/a#f",
        ] {
            assert!(LoginUrl::parse(bad).is_err(), "{bad}");
        }
        let abs = LoginUrl::parse("https://app.example.com/login?x").unwrap();
        assert_eq!(
            abs.own_path(Some("https://app.example.com")),
            Some("/login")
        );
        assert_eq!(abs.own_path(Some("https://other.example.com")), None);
    }
}
