//! `Set-Cookie` values for the Stytch session, built in one place.
//!
//! Names and attributes default to what Stytch's frontend SDK writes (`stytch_session`,
//! `stytch_session_jwt`, `Path=/`, `SameSite=Lax`, `Secure`, `Expires` = the session's
//! expiry), so the SDK picks the session up on the next page load. Each cookie is a separate
//! header value: callers must `append`, never `set`.

use crate::formats::time::format_http_date;
use std::fmt;

/// Default name of the opaque session token cookie (Stytch frontend SDK's default).
pub const DEFAULT_SESSION_COOKIE: &str = "stytch_session";
/// Default name of the session JWT cookie (Stytch frontend SDK's default).
pub const DEFAULT_JWT_COOKIE: &str = "stytch_session_jwt";

/// The `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// Sent on top-level navigations from other sites; the SDK's default.
    Lax,
    /// Never sent cross-site.
    Strict,
    /// Always sent (cookies stay `Secure`).
    None,
}

impl SameSite {
    /// Parses the exact attribute spelling used in `Set-Cookie`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Lax" => Some(Self::Lax),
            "Strict" => Some(Self::Strict),
            "None" => Some(Self::None),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Lax => "Lax",
            Self::Strict => "Strict",
            Self::None => "None",
        }
    }
}

/// How the session cookies are named and scoped (from configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookiePolicy {
    /// Name of the cookie holding Stytch's opaque `session_token`.
    pub session_name: String,
    /// Name of the cookie holding Stytch's `session_jwt`.
    pub jwt_name: String,
    /// `Domain=` attribute; `None` keeps the cookies host-only.
    pub domain: Option<String>,
    /// Whether to add `HttpOnly` (Stytch's browser SDK needs to read them when false).
    pub http_only: bool,
    /// The `SameSite` attribute.
    pub same_site: SameSite,
}

/// Which cookie setting a configuration problem is about (`config/` names the variable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieSetting {
    /// The session token cookie's name.
    SessionName,
    /// The session JWT cookie's name.
    JwtName,
    /// The `Domain` attribute.
    Domain,
}

impl CookiePolicy {
    /// The policy for these settings, each defaulting to what Stytch's frontend SDK writes
    /// (its cookie names, host-only); cookies are `HttpOnly` and `SameSite=Lax` until the
    /// caller says otherwise. Refused, naming the setting: a name that is not a cookie name,
    /// the same name twice, a `Domain` browsers would drop the cookies for, and a `__Host-`
    /// name with a `Domain` (browsers drop those).
    pub fn new(
        session_name: Option<String>,
        jwt_name: Option<String>,
        domain: Option<String>,
    ) -> Result<Self, (CookieSetting, &'static str)> {
        let name = |setting, given: Option<String>, default: &str| {
            let name = given.unwrap_or_else(|| default.to_owned());
            if is_cookie_name(&name) {
                Ok(name)
            } else {
                Err((setting, "is not a valid cookie name"))
            }
        };
        let session_name = name(
            CookieSetting::SessionName,
            session_name,
            DEFAULT_SESSION_COOKIE,
        )?;
        let jwt_name = name(CookieSetting::JwtName, jwt_name, DEFAULT_JWT_COOKIE)?;
        if same_cookie_name(&session_name, &jwt_name) {
            return Err((
                CookieSetting::JwtName,
                "must differ from COOKIE_NAME_SESSION (also as apps read names: in any case, with . and _ alike)",
            ));
        }
        if let Some(d) = &domain {
            if !is_cookie_domain(d) {
                return Err((
                    CookieSetting::Domain,
                    "is not a host name of two or more labels, like example.com (browsers drop cookies for anything else)",
                ));
            }
            for (setting, name) in [
                (CookieSetting::SessionName, &session_name),
                (CookieSetting::JwtName, &jwt_name),
            ] {
                if name.starts_with("__Host-") {
                    return Err((
                        setting,
                        "a __Host- cookie cannot have a Domain: unset COOKIE_DOMAIN or rename it",
                    ));
                }
            }
        }
        Ok(Self {
            session_name,
            jwt_name,
            domain,
            http_only: true,
            same_site: SameSite::Lax,
        })
    }

    /// The two cookies carrying a fresh session that expires at `expires_at` (Unix seconds).
    pub fn session_cookies(
        &self,
        session_token: &str,
        session_jwt: &str,
        expires_at: i64,
        now: i64,
    ) -> [String; 2] {
        let max_age = (expires_at - now).max(0);
        [
            self.builder(&self.session_name, session_token)
                .expires(expires_at, max_age)
                .to_string(),
            self.builder(&self.jwt_name, session_jwt)
                .expires(expires_at, max_age)
                .to_string(),
        ]
    }

    /// The two cookies that delete the session cookies (same Path and Domain, `Max-Age=0`).
    pub fn clearing_cookies(&self) -> [String; 2] {
        [
            self.builder(&self.session_name, "")
                .expires(0, 0)
                .to_string(),
            self.builder(&self.jwt_name, "").expires(0, 0).to_string(),
        ]
    }

    /// The cookies that delete the session cookies in every scope this worker can name: the
    /// host-only pair and, with a `Domain`, the `Domain` pair too. For a browser holding two
    /// cookies of one name (the worker's and one written by Stytch's frontend SDK or a sibling
    /// app): which scope the other has is unknown, so both are cleared.
    pub fn clearing_cookies_every_scope(&self) -> Vec<String> {
        let host_only = CookiePolicy {
            domain: None,
            ..self.clone()
        };
        let mut all = host_only.clearing_cookies().to_vec();
        if self.domain.is_some() {
            all.extend(self.clearing_cookies());
        }
        all
    }

    fn builder<'a>(&'a self, name: &'a str, value: &'a str) -> SetCookie<'a> {
        SetCookie {
            name,
            value,
            domain: self.domain.as_deref(),
            expires: None,
            http_only: self.http_only,
            same_site: self.same_site,
        }
    }
}

/// One `Set-Cookie` header value. `Path=/` and `Secure` are not optional.
#[derive(Debug, Clone)]
pub struct SetCookie<'a> {
    name: &'a str,
    value: &'a str,
    domain: Option<&'a str>,
    expires: Option<(i64, i64)>,
    http_only: bool,
    same_site: SameSite,
}

impl SetCookie<'_> {
    /// Sets both `Expires` (for old clients) and `Max-Age` (which wins where supported).
    #[must_use]
    pub fn expires(mut self, at_unix: i64, max_age: i64) -> Self {
        self.expires = Some((at_unix, max_age));
        self
    }
}

impl fmt::Display for SetCookie<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}; Path=/", self.name, self.value)?;
        if let Some((at, max_age)) = self.expires {
            write!(f, "; Expires={}; Max-Age={max_age}", format_http_date(at))?;
        }
        if let Some(domain) = self.domain {
            write!(f, "; Domain={domain}")?;
        }
        f.write_str("; Secure")?;
        if self.http_only {
            f.write_str("; HttpOnly")?;
        }
        write!(f, "; SameSite={}", self.same_site.as_str())
    }
}

/// A host name of at least two labels (browsers refuse cookies for a bare `com` and drop
/// those for `a..b`): labels of letters, digits and inner hyphens, up to 63 characters, 253
/// in all, the last not numeric (no IP address). One leading dot is allowed (browsers ignore it).
pub fn is_cookie_domain(domain: &str) -> bool {
    let host = domain.strip_prefix('.').unwrap_or(domain);
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() >= 2
        && host.len() <= 253
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && labels
            .last()
            .is_some_and(|tld| !tld.bytes().all(|c| c.is_ascii_digit()))
}

/// Whether `s` is a valid cookie name (an RFC 6265 token).
pub fn is_cookie_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
}

/// Whether `s` can be a cookie value without quoting (RFC 6265 `cookie-octet`s).
pub fn is_cookie_value(s: &str) -> bool {
    s.bytes()
        .all(|c| matches!(c, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e))
}

/// The name a cookie pair of a `Cookie` request header is read under: the text before its
/// first `=`, trimmed (browsers and the app frameworks behind the gateway trim it, so
/// `stytch_session_jwt =B` is a `stytch_session_jwt`); a pair without `=` is a bare name (a
/// nameless cookie's value, which some frameworks read as a name).
fn pair_name(pair: &str) -> &str {
    pair.split_once('=').map_or(pair, |(k, _)| k).trim()
}

/// Whether an app could read the cookie named `name` as the cookie `wanted`: the same name
/// once percent-decoded (PHP and older Rack decode names, `+` included), stripped of
/// surrounding spaces and control bytes (Python's `str.strip`, older PHP's leading spaces),
/// cut at a `[` that a `]` follows (PHP reads `name[0]` as an array under `name`), without
/// regard to ASCII case (ASP.NET Core's cookie collection), with `.`, space, `+` and a lone
/// `[` read as `_` (PHP's variable names). Only the exact name is ever used; a look-alike beside it makes the request's session
/// ambiguous.
pub fn same_cookie_name(name: &str, wanted: &str) -> bool {
    // Percent-encoding at most triples a name: anything longer cannot read as `wanted`.
    name.len() <= wanted.len() * 3 + 16 && read_as_app(name) == read_as_app(wanted)
}

/// A cookie name's bytes as the most lenient app reads them ([`same_cookie_name`]).
fn read_as_app(name: &str) -> Vec<u8> {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        i += 1;
        let hex = |at: usize| bytes.get(at).and_then(|h| (*h as char).to_digit(16));
        let b = match (c, hex(i), hex(i + 1)) {
            (b'%', Some(hi), Some(lo)) => {
                i += 2;
                u8::try_from(hi * 16 + lo).unwrap_or(u8::MAX)
            }
            _ => c,
        };
        // PHP: `name[key]` is an array under `name`; a `[` with no `]` after it is a `_`.
        let rest = name.get(i..).unwrap_or_default();
        if b == b'[' && (rest.contains(']') || rest.to_ascii_lowercase().contains("%5d")) {
            break;
        }
        out.push(match b {
            b'.' | b' ' | b'+' | b'[' => b'_',
            other => other.to_ascii_lowercase(),
        });
    }
    let blank = |b: &u8| *b <= b' ' || *b == 0x7f || *b == b'_';
    let start = out.iter().position(|b| !blank(b)).unwrap_or(out.len());
    let end = out.iter().rposition(|b| !blank(b)).map_or(start, |e| e + 1);
    out.get(start..end).unwrap_or_default().to_vec()
}

/// The names an app may read in one cookie pair (of a `Cookie` header, split on `;`, or a
/// `Set-Cookie` line's first part): the pair split further on `,` (ASP.NET Core, older Rack)
/// and on spaces (Python's `SimpleCookie`), each piece named by the text before its `=`, or for
/// a nameless piece (`=stytch_session_jwt=X`, which a browser sends back as
/// `stytch_session_jwt=X`) by the value's own leading name.
fn names_in(pair: &str) -> impl Iterator<Item = &str> {
    // Each `,` piece whole (PHP reads `stytch session jwt=X` under one name), and the words
    // after its first (Python reads `a=1 stytch_session_jwt=X` as two cookies).
    pair.split(',').flat_map(|piece| {
        piece_name(piece).into_iter().chain(
            piece
                .trim()
                .split([' ', '\t'])
                .skip(1)
                .filter_map(piece_name),
        )
    })
}

/// The name of one piece of a cookie pair ([`names_in`]).
fn piece_name(piece: &str) -> Option<&str> {
    let piece = piece.trim();
    if piece.is_empty() {
        return None;
    }
    Some(match piece.split_once('=') {
        Some((name, rest)) if name.trim().is_empty() => rest.split('=').next().unwrap_or(rest),
        Some((name, _)) => name,
        None => piece,
    })
}

/// How many cookies an app could read as the cookie `name` a `Cookie` request header
/// carries ([`same_cookie_name`], [`names_in`]), whatever their values: more than one means
/// the browser holds cookies of that name in several scopes, or look-alikes someone planted,
/// and which one a request means cannot be told.
pub fn count_cookie(cookie_header: &str, name: &str) -> usize {
    cookie_header
        .split(';')
        .flat_map(names_in)
        .filter(|n| same_cookie_name(n, name))
        .count()
}

/// The value of the first cookie `name` in a `Cookie` request header, if it is a valid
/// RFC 6265 value (cookie-octets, optionally inside one pair of double quotes) and not empty.
/// Anything else counts as absent: it could only be forwarded to Stytch or parsed as a token.
pub fn find_cookie<'a>(cookie_header: &'a str, name: &str) -> Option<&'a str> {
    cookie_header
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| {
            let v = v.trim();
            v.strip_prefix('"')
                .and_then(|inner| inner.strip_suffix('"'))
                .unwrap_or(v)
        })
        .filter(|v| !v.is_empty() && is_cookie_value(v))
}

/// The name a browser files a `Set-Cookie` line's cookie under, as it will send it back
/// (RFC 6265bis §5.6): the pair is the text before the first `;`; its name the text before
/// the first `=`, trimmed. A nameless cookie (`=stytch_session_jwt=X`, or a pair without `=`)
/// is sent back as its value alone, `stytch_session_jwt=X`, which every server reads as the
/// cookie `stytch_session_jwt`: its name is then the value's own leading name.
pub fn set_cookie_name(line: &str) -> &str {
    let pair = line.split(';').next().unwrap_or_default();
    match pair.split_once('=') {
        Some((name, _)) if !name.trim().is_empty() => name.trim(),
        Some((_, value)) => pair_name(value),
        None => pair.trim(),
    }
}

/// Whether an app could read one of `names` in the cookie pair (of a `Cookie` request header,
/// or a `Set-Cookie` line's first part): what must not pass where the session cookies must not.
pub fn pair_holds_one_of(pair: &str, names: &[&str]) -> bool {
    names_in(pair).any(|n| names.iter().any(|wanted| same_cookie_name(n, wanted)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> CookiePolicy {
        CookiePolicy {
            session_name: DEFAULT_SESSION_COOKIE.into(),
            jwt_name: DEFAULT_JWT_COOKIE.into(),
            domain: None,
            http_only: true,
            same_site: SameSite::Lax,
        }
    }

    #[test]
    fn session_cookies_carry_every_attribute() {
        let [s, j] = policy().session_cookies("tok", "jwt.a.b", 1_795_905_735, 1_795_902_135);
        assert_eq!(
            s,
            "stytch_session=tok; Path=/; Expires=Sat, 28 Nov 2026 22:42:15 GMT; Max-Age=3600; Secure; HttpOnly; SameSite=Lax"
        );
        assert!(j.starts_with("stytch_session_jwt=jwt.a.b; Path=/; Expires="));
    }

    #[test]
    fn http_only_and_domain_follow_policy() {
        let p = CookiePolicy {
            domain: Some("example.com".into()),
            http_only: false,
            same_site: SameSite::Strict,
            ..policy()
        };
        let [s, _] = p.session_cookies("t", "j", 100, 40);
        assert_eq!(
            s,
            "stytch_session=t; Path=/; Expires=Thu, 01 Jan 1970 00:01:40 GMT; Max-Age=60; Domain=example.com; Secure; SameSite=Strict"
        );
    }

    #[test]
    fn clearing_cookies_use_same_scope_and_max_age_zero() {
        let p = CookiePolicy {
            domain: Some("example.com".into()),
            ..policy()
        };
        let [s, j] = p.clearing_cookies();
        assert_eq!(
            s,
            "stytch_session=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Domain=example.com; Secure; HttpOnly; SameSite=Lax"
        );
        assert!(j.starts_with("stytch_session_jwt=; Path=/;"));
    }

    #[test]
    fn finds_cookies() {
        let h = "a=1; stytch_session=abc; stytch_session_jwt=x.y.z";
        assert_eq!(find_cookie(h, "stytch_session"), Some("abc"));
        assert_eq!(find_cookie(h, "stytch"), None);
        assert_eq!(find_cookie("stytch_session=", "stytch_session"), None);
        assert_eq!(find_cookie(r#"s="abc""#, "s"), Some("abc"));
        // Found by fuzzing: a space inside the quotes is not a cookie value.
        assert_eq!(find_cookie(r#"s="quoted "; a=1"#, "s"), None);
        assert_eq!(
            find_cookie(r#"s=""abc"""#, "s"),
            None,
            "one pair of quotes only"
        );
        assert_eq!(find_cookie("s=a\u{7f}b", "s"), None);
    }

    #[test]
    fn names_are_read_trimmed_as_apps_read_them() {
        // security review I1: `stytch_session_jwt =B` is the same cookie to an app.
        let h = "stytch_session_jwt=A; stytch_session_jwt =B";
        assert_eq!(count_cookie(h, "stytch_session_jwt"), 2);
        assert_eq!(
            count_cookie(" stytch_session_jwt\t=A", "stytch_session_jwt"),
            1
        );
        assert_eq!(
            count_cookie("stytch_session_jwt; a=1", "stytch_session_jwt"),
            1
        );
        assert_eq!(find_cookie("a=1;  s =v", "s"), Some("v"));
    }

    #[test]
    fn names_an_app_reads_as_the_session_cookies_count_as_them() {
        for look_alike in [
            "stytch.session.jwt",
            "STYTCH_SESSION_JWT",
            "stytch%5Fsession%5Fjwt",
            "stytch session jwt",
            "stytch+session+jwt",
            "stytch[session_jwt",
        ] {
            assert!(
                same_cookie_name(look_alike, "stytch_session_jwt"),
                "{look_alike}"
            );
            let h = format!("stytch_session_jwt=A; {look_alike}=B");
            assert_eq!(count_cookie(&h, "stytch_session_jwt"), 2, "{look_alike}");
        }
        assert!(!same_cookie_name("stytch_session", "stytch_session_jwt"));
        assert!(
            same_cookie_name("my.cookie", "my.cookie"),
            "a configured name is itself"
        );
        for more in [
            "stytch_session_jwt[0]",
            "%20stytch_session_jwt",
            "%00stytch_session_jwt",
            "\u{1c}stytch_session_jwt\u{1f}",
        ] {
            assert!(same_cookie_name(more, "stytch_session_jwt"), "{more:?}");
        }
        assert_eq!(
            count_cookie(
                "theme2=x stytch_session_jwt=B; stytch_session_jwt=A",
                "stytch_session_jwt"
            ),
            2,
            "Python's SimpleCookie splits on spaces"
        );
        assert!(pair_holds_one_of(
            "=stytch_session_jwt=x",
            &["stytch_session_jwt"]
        ));
        assert!(pair_holds_one_of(
            "a=1, STYTCH_SESSION_JWT=x",
            &["stytch_session_jwt"]
        ));
        assert!(!pair_holds_one_of(
            "theme=dark mode",
            &["stytch_session_jwt"]
        ));
        assert_eq!(
            count_cookie(
                "x=1,stytch_session_jwt=B; stytch_session_jwt=A",
                "stytch_session_jwt"
            ),
            2
        );
        // Only the exact name is read.
        assert_eq!(
            find_cookie("STYTCH_SESSION_JWT=B", "stytch_session_jwt"),
            None
        );
    }

    #[test]
    fn set_cookie_lines_are_named_as_the_browser_files_them() {
        for (line, name) in [
            ("stytch_session=x; Path=/", "stytch_session"),
            (" stytch_session =x", "stytch_session"),
            (
                "=stytch_session_jwt=x; Path=/app; Secure",
                "stytch_session_jwt",
            ),
            (" = stytch_session_jwt =x", "stytch_session_jwt"),
            ("stytch_session_jwt; Path=/", "stytch_session_jwt"),
            ("=stytch_session_jwt", "stytch_session_jwt"),
            ("app=1", "app"),
        ] {
            assert_eq!(set_cookie_name(line), name, "{line}");
        }
    }

    #[test]
    fn counts_cookies_of_one_name() {
        let h = "stytch_session=a; theme=x; stytch_session=b; stytch_session_jwt=";
        assert_eq!(count_cookie(h, "stytch_session"), 2);
        assert_eq!(
            count_cookie(h, "stytch_session_jwt"),
            1,
            "empty values count"
        );
        assert_eq!(count_cookie(h, "stytch"), 0);
    }

    #[test]
    fn clearing_in_every_scope_adds_the_domain_pair_only_with_a_domain() {
        let host_only = policy().clearing_cookies_every_scope();
        assert_eq!(host_only, policy().clearing_cookies().to_vec());
        let p = CookiePolicy {
            domain: Some("example.com".into()),
            ..policy()
        };
        let all = p.clearing_cookies_every_scope();
        assert_eq!(all.len(), 4);
        assert_eq!(all.iter().filter(|c| c.contains("Domain=")).count(), 2);
        assert!(all.iter().all(|c| c.contains("Max-Age=0")));
    }

    #[test]
    fn validates_names_and_values() {
        assert!(is_cookie_name("stytch_session"));
        assert!(!is_cookie_name("a b"));
        assert!(!is_cookie_name("a;b"));
        assert!(!is_cookie_name(""));
        assert!(is_cookie_value("abc-_.~=+/"));
        assert!(!is_cookie_value("a;b"));
        assert!(!is_cookie_value("a b"));
    }
}
