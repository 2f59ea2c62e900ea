//! The auth gateway: the app's own routes, protected at the edge by the Stytch session the
//! exchange set.
//!
//! `PROTECT` lists rules, each a path pattern, who may pass ([`policy`]) and where matching
//! requests go. A request for a protected path goes on to the app only with a session its
//! cookies (or, where a rule allows, a bearer token) prove, the session JWT verified under
//! Stytch's keys as for edge reuse or refreshed with Stytch once it has run out, and meeting
//! the rule's requirements; it carries who it is in `Edge-Attest-*` headers the gateway alone
//! writes. Otherwise it is answered 401, 403 or sent to the login page, and the app never
//! sees it. This module owns the rules and every decision about headers; `app/gateway.rs`
//! runs a request through them.

pub mod forward;
pub mod logs;
pub mod path;
pub mod policy;

use crate::formats::urls;
pub use path::{PathPattern, PathProblem, canonical};
use policy::{Access, SessionRule};

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
    /// Who may pass: methods, preflights, bearer tokens, the session and its requirements.
    pub access: Access,
    /// Whether its answers may be kept in the edge location's cache (public rules only).
    pub cache: RuleCache,
}

/// Whether a rule's answers may be served from the edge location's cache (`cache` of a
/// rule). A protected answer never is: the cache's key holds neither the session nor the
/// identity, so it would be served to whoever asks next.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RuleCache {
    /// Every request goes to the app, nothing is kept (`"no-store"`, the default).
    #[default]
    NoStore,
    /// `"shared"`, on a public rule: a `GET` without `Authorization` or `Range` is answered
    /// from the location's cache when it holds the URL's answer, and otherwise sent to the
    /// app without cookies, its answer kept when the app marks it cacheable for everyone
    /// ([`forward::shared_cacheable`]).
    Shared,
}

impl Rule {
    /// Whether it needs a session.
    pub fn is_protected(&self) -> bool {
        matches!(self.access.session, SessionRule::Required(_))
    }
}

/// Which rule decides a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice<'r> {
    /// This one (its index, for the log).
    Rule(usize, &'r Rule),
    /// No rule covers the path: 404.
    NotFound,
    /// Rules cover the path, none for this method: 405 with these methods in `Allow`.
    MethodNotAllowed(Vec<&'r str>),
}

/// Whether a later rule may take the methods an earlier one does not list: when it lets
/// through no more than the earlier one.
fn laxer_ok(later: &Access, earlier: &Access) -> bool {
    later.at_least(earlier)
}

/// The gateway's rules, in order: the first that covers a path (for the request's method)
/// decides. Empty: no gateway.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    rules: Vec<Rule>,
    /// Whether a pattern has capitals (then case-sensitive readings of a path can differ).
    upper_case: bool,
}

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
            if let Some(r) = rules
                .iter()
                .find(|r| r.pattern.covers(&path) && r.access.methods.allows("GET"))
                && r.is_protected()
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
        // A rule for some methods passes the others on to the rules after it; one of those
        // that lets through less than it would hand the path's handler to whoever it admits
        // whenever the app runs that handler for every method (plain PHP, Go's
        // `http.HandleFunc`, Django function views), or takes the method from a header or a
        // form field.
        for (i, rule) in rules.iter().enumerate() {
            if let Some((j, laxer)) = rules.iter().enumerate().skip(i + 1).find(|(_, later)| {
                later.pattern.overlaps(&rule.pattern)
                    && !rule.access.methods.covers_all_of(&later.access.methods)
                    && !laxer_ok(&later.access, &rule.access)
            }) {
                return Err((
                    i,
                    format!(
                        "methods: the methods it does not list go on to rule #{j} ({}), which lets through less than this one: an app that runs one handler for every method (or takes the method from a header or a form) would be reached by them. List them here too, or give rule #{j} this rule's requirements",
                        laxer.pattern.describe()
                    ),
                ));
            }
        }
        // A POST form can become PUT, PATCH or DELETE in the app (`_method`, in the body the
        // gateway does not read): a rule written for those that asks more than the rule POST
        // gets on the same paths, before or after it, would be walked around by a POST.
        for (i, strict) in rules.iter().enumerate() {
            if !strict.access.methods.singles_out_what_post_can_become() {
                continue;
            }
            if let Some((j, post)) = rules.iter().enumerate().find(|(j, post)| {
                *j != i
                    && post.access.methods.allows("POST")
                    && post.pattern.overlaps(&strict.pattern)
                    && !post.access.at_least(&strict.access)
            }) {
                return Err((
                    i,
                    format!(
                        "methods: it asks more for {} than rule #{j} ({}) asks for POST on the same paths, and apps that take the method from a POST form's _method field (Rails, Laravel, Symfony) turn a POST into those: give POST the same requirements",
                        strict.access.methods.names().collect::<Vec<_>>().join(", "),
                        post.pattern.describe()
                    ),
                ));
            }
        }
        let upper_case = rules.iter().any(|r| r.pattern.has_upper_case());
        Ok(Self { rules, upper_case })
    }

    /// Whether there are any.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rule for a request of `method` for `path` (as the URL parser left it). The first
    /// rule covering the canonical path whose methods include `method` decides. The path as
    /// apps that skip decoding, slash merging or case folding read it must not fall under a
    /// rule that lets through less ([`Access::at_least`]): such a path is refused, since the
    /// app behind might be one of them and act on a path the gateway judged by a laxer rule
    /// (a public `/public/*` before a protected `/*` must not pass `/PUBLIC/x` to an app
    /// that routes case-sensitively).
    pub fn choose(&self, path: &str, method: &str) -> Result<Choice<'_>, PathProblem> {
        let readings = path::readings(path, self.upper_case)?;
        let Some((canonical, others)) = readings.split_first() else {
            return Ok(Choice::NotFound);
        };
        let first = |r: &path::Reading| {
            self.rules.iter().enumerate().find(|(_, rule)| {
                rule.pattern.covers_as(&r.path, r.case_sensitive)
                    && rule.access.methods.allows(method)
            })
        };
        let Some((index, rule)) = first(canonical) else {
            let mut allowed: Vec<&str> = Vec::new();
            for r in self
                .rules
                .iter()
                .filter(|r| r.pattern.covers(&canonical.path))
            {
                for m in r.access.methods.names() {
                    if !allowed.contains(&m) {
                        allowed.push(m);
                    }
                }
            }
            return Ok(if allowed.is_empty() {
                Choice::NotFound
            } else {
                Choice::MethodNotAllowed(allowed)
            });
        };
        // A reading no rule covers would be refused here (404 or 405): an app that routes it
        // to a handler of its own (a catch-all) is taken to need what a protected rule with no
        // requirement asks, at least.
        let uncovered = Access::default();
        for reading in others {
            let stricter = match first(reading) {
                Some((other, _)) if other == index => continue,
                Some((_, other)) => &other.access,
                None => &uncovered,
            };
            if !rule.access.at_least(stricter) {
                return Err(PathProblem::Straddles);
            }
        }
        // The most lenient apps' reading: every rule that may be the first to cover it.
        if let Some(segments) = path::lenient_segments(path)? {
            let mut surely_covered = false;
            for other in self
                .rules
                .iter()
                .filter(|r| r.access.methods.allows(method))
            {
                let (may, surely) = other.pattern.covers_segments(&segments);
                if may && !rule.access.at_least(&other.access) {
                    return Err(PathProblem::Straddles);
                }
                if surely {
                    surely_covered = true;
                    break;
                }
            }
            if !surely_covered && !rule.access.at_least(&uncovered) {
                return Err(PathProblem::Straddles);
            }
        }
        Ok(Choice::Rule(index, rule))
    }

    /// The rules, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use policy::{Methods, Requirements};

    fn rule(path: &str, require_session: bool, login: Option<&str>) -> Rule {
        Rule {
            pattern: PathPattern::parse(path).unwrap(),
            upstream: Upstream::Origin,
            cache: RuleCache::NoStore,
            on_unauthenticated: match login {
                Some(l) => Unauthenticated::Redirect(LoginUrl::parse(l).unwrap()),
                None => Unauthenticated::Status401,
            },
            access: Access {
                session: if require_session {
                    SessionRule::Required(Requirements {
                        link: true,
                        ..Requirements::default()
                    })
                } else {
                    SessionRule::Public
                },
                ..Access::default()
            },
        }
    }

    fn chosen(rules: &Rules, path: &str, method: &str) -> Result<Option<usize>, PathProblem> {
        rules.choose(path, method).map(|c| match c {
            Choice::Rule(i, _) => Some(i),
            _ => None,
        })
    }

    #[test]
    fn the_first_matching_rule_decides() {
        let rules = Rules::new(vec![
            rule("/app/public/*", false, None),
            rule("/app/*", true, None),
        ])
        .unwrap();
        assert_eq!(chosen(&rules, "/app/public/x", "GET"), Ok(Some(0)));
        assert_eq!(chosen(&rules, "/app/private", "GET"), Ok(Some(1)));
        assert_eq!(rules.choose("/other", "GET"), Ok(Choice::NotFound));
    }

    #[test]
    fn a_rule_applies_to_its_methods_and_the_rest_go_on() {
        let mut public_reads = rule("/docs/*", false, None);
        public_reads.access.methods =
            Methods::parse(&["GET".to_owned(), "HEAD".to_owned()]).unwrap();
        let mut writes = rule("/docs/*", true, None);
        writes.access.methods = Methods::parse(&["POST".to_owned()]).unwrap();
        let rules = Rules::new(vec![public_reads, writes]).unwrap();
        assert_eq!(chosen(&rules, "/docs/a", "GET"), Ok(Some(0)));
        assert_eq!(chosen(&rules, "/docs/a", "POST"), Ok(Some(1)));
        assert_eq!(
            rules.choose("/docs/a", "DELETE"),
            Ok(Choice::MethodNotAllowed(vec!["GET", "HEAD", "POST"]))
        );
    }

    #[test]
    fn an_encoded_sub_delimiter_is_matched_as_the_app_routes_it() {
        // security review M1: a protected custom method inside a public prefix.
        let rules = Rules::new(vec![
            rule("/v1/items:purge", true, None),
            rule("/v1/*", false, None),
            rule("/*", true, None),
        ])
        .unwrap();
        for p in [
            "/v1/items:purge",
            "/v1/items%3Apurge",
            "/v1/items%3apurge",
            "/V1/ITEMS%3APURGE",
        ] {
            assert_eq!(chosen(&rules, p, "POST"), Ok(Some(0)), "{p}");
        }
        assert_eq!(chosen(&rules, "/v1/items", "POST"), Ok(Some(1)));
    }

    #[test]
    fn a_path_another_app_would_put_under_a_stricter_rule_is_refused() {
        let rules =
            Rules::new(vec![rule("/public/*", false, None), rule("/*", true, None)]).unwrap();
        assert_eq!(chosen(&rules, "/public/x", "GET"), Ok(Some(0)));
        // A case-sensitive app, one that does not decode, one that does not merge slashes:
        // each routes these elsewhere than /public/*, which the gateway would have passed.
        for p in ["/PUBLIC/x", "/%70ublic/x", "//public/x", "/Public/x"] {
            assert_eq!(chosen(&rules, p, "GET"), Err(PathProblem::Straddles), "{p}");
        }
        // The other way round only makes the gateway stricter: allowed.
        let listed =
            Rules::new(vec![rule("/admin/*", true, None), rule("/*", false, None)]).unwrap();
        for p in ["/ADMIN/x", "/%61dmin/x", "//admin/x"] {
            assert_eq!(chosen(&listed, p, "GET"), Ok(Some(0)), "{p}");
        }
        // Between rules that let through the same, the canonical path decides.
        let same = Rules::new(vec![rule("/api/*", true, None), rule("/*", true, None)]).unwrap();
        assert_eq!(chosen(&same, "/API/x", "GET"), Ok(Some(0)));
        // A pattern with capitals is matched case-sensitively too.
        let pascal = Rules::new(vec![
            rule("/Account/Login", false, None),
            rule("/*", true, None),
        ])
        .unwrap();
        assert_eq!(chosen(&pascal, "/Account/Login", "GET"), Ok(Some(0)));
        assert_eq!(
            chosen(&pascal, "/account/login", "GET"),
            Err(PathProblem::Straddles)
        );
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
