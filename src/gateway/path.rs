//! Paths as the gateway's rules see them: the patterns of `PROTECT`, and the request path
//! they are matched against.
//!
//! A rule must decide on the same path the app will act on. The request path is matched in a
//! canonical form (unreserved `%XX` decoded, repeated slashes merged, case folded), and a path
//! whose meaning the app could read differently from the gateway is refused before any rule
//! is looked at: an encoded `/`, `\`, `%`, `;` or control byte, a `;` (matrix parameters), a
//! `.` or `..` segment that survived the URL parser. Each of these has let requests past a
//! path rule in some proxy or framework (Envoy CVE-2019-9901 and CVE-2021-29492, Istio
//! CVE-2021-31920, Shiro CVE-2020-1957, Spring CVE-2016-5007). The request goes to the app
//! with its path exactly as it came.

/// A rule's path: exact, or a prefix of whole segments (`/app/*`), kept lower-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    /// The path without its `/*`; empty for `/*` (every path).
    base: String,
    /// Whether it covers the paths under `base` too.
    prefix: bool,
}

impl PathPattern {
    /// Reads a pattern: `/` followed by segments of letters, digits and `-._~!$&'()+,=:@`,
    /// optionally ending in `/*`. No `%`, `;`, `*` elsewhere, `//`, or `.`/`..` segment: the
    /// pattern is compared with canonical paths, which never contain them.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let (base, prefix) = match pattern.strip_suffix("/*") {
            Some(base) => (base, true),
            None => (pattern, false),
        };
        if !pattern.starts_with('/') {
            return Err(format!("{pattern} must start with /"));
        }
        let segments_ok = base.split('/').skip(1).enumerate().all(|(i, seg)| {
            // `/` alone (an exact root) has one empty segment; no other may be empty.
            (!seg.is_empty() || (i == 0 && base == "/"))
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"-._~!$&'()+,=:@".contains(&c))
        });
        if !segments_ok || (prefix && base == "/") {
            return Err(format!(
                "{pattern} is not a path like /app or /app/* (segments of letters, digits and -._~!$&'()+,=:@; no %, ;, //, . or .. segments; * only as a final /*)"
            ));
        }
        Ok(Self {
            base: base.to_ascii_lowercase(),
            prefix,
        })
    }

    /// Whether it covers `path` (canonical, see [`canonical`]). Prefixes are whole segments:
    /// `/app/*` covers `/app`, `/app/` and `/app/x`, never `/apple`; an exact `/app` covers
    /// `/app/` too.
    pub fn covers(&self, path: &str) -> bool {
        let rest = match path.strip_prefix(self.base.as_str()) {
            Some(rest) => rest,
            None => return false,
        };
        if self.prefix {
            rest.is_empty() || rest.starts_with('/')
        } else {
            rest.is_empty() || (rest == "/" && !self.base.ends_with('/'))
        }
    }

    /// The pattern as configured (lower-case).
    pub fn describe(&self) -> String {
        if self.prefix {
            format!("{}/*", self.base)
        } else {
            self.base.clone()
        }
    }
}

/// Why a request path is refused before any rule is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathProblem {
    /// An encoded `/`, `\`, `%`, `;` or control byte, or a broken `%` escape.
    Encoding,
    /// A raw `\`, `;`, control byte, space or non-ASCII byte.
    Character,
    /// A `.` or `..` segment (after decoding).
    DotSegment,
}

impl PathProblem {
    /// What the log line says.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Encoding => "path: ambiguous percent-encoding",
            Self::Character => "path: ambiguous character",
            Self::DotSegment => "path: dot segment",
        }
    }
}

/// The form of a request path (no query) that rules are matched against: unreserved `%XX`
/// decoded, other escapes kept (upper-case hex, so that case folding cannot change them),
/// repeated slashes merged, ASCII lower-cased. Refused when the app could read it as another
/// path than the gateway does.
pub fn canonical(path: &str) -> Result<String, PathProblem> {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        i += 1;
        let decoded = if c == b'%' {
            let hex = |at: usize| bytes.get(at).and_then(|h| (*h as char).to_digit(16));
            let (Some(hi), Some(lo)) = (hex(i), hex(i + 1)) else {
                return Err(PathProblem::Encoding);
            };
            i += 2;
            // Two hex digits: at most 255.
            let b = u8::try_from(hi * 16 + lo).unwrap_or(u8::MAX);
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                b
            } else if b < 0x20 || b == 0x7f || b"/\\%;".contains(&b) {
                return Err(PathProblem::Encoding);
            } else {
                out.push('%');
                out.push_str(&format!("{b:02X}"));
                continue;
            }
        } else if c <= 0x20 || c >= 0x7f || c == b'\\' || c == b';' {
            return Err(PathProblem::Character);
        } else {
            c
        };
        if decoded == b'/' && out.ends_with('/') {
            continue;
        }
        out.push(char::from(decoded.to_ascii_lowercase()));
    }
    if out.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(PathProblem::DotSegment);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_whole_segments() {
        let p = PathPattern::parse("/app/*").unwrap();
        for yes in ["/app", "/app/", "/app/x", "/app/x/y"] {
            assert!(p.covers(yes), "{yes}");
        }
        for no in ["/apple", "/ap", "/", "/x/app"] {
            assert!(!p.covers(no), "{no}");
        }
        let exact = PathPattern::parse("/app").unwrap();
        assert!(exact.covers("/app") && exact.covers("/app/"));
        assert!(!exact.covers("/app/x") && !exact.covers("/apple"));
        let all = PathPattern::parse("/*").unwrap();
        assert!(all.covers("/") && all.covers("/anything/at/all"));
        let root = PathPattern::parse("/").unwrap();
        assert!(root.covers("/") && !root.covers("/x"));
    }

    #[test]
    fn patterns_are_plain_paths() {
        for bad in [
            "app", "/app*", "/a/*/b", "/a//b", "/a/./b", "/a/../b", "/a%2fb", "/a;b", "/a b",
            "/a/", "//*", "/é",
        ] {
            assert!(PathPattern::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(PathPattern::parse("/App/*").unwrap().describe(), "/app/*");
    }

    #[test]
    fn canonical_paths_decode_unreserved_merge_slashes_and_fold_case() {
        assert_eq!(canonical("/ADMIN/x").unwrap(), "/admin/x");
        assert_eq!(canonical("/%61dmin/x").unwrap(), "/admin/x");
        assert_eq!(canonical("//admin//x").unwrap(), "/admin/x");
        assert_eq!(canonical("/a%20b").unwrap(), "/a%20b");
        assert_eq!(canonical("/a%3a").unwrap(), "/a%3A");
        assert_eq!(canonical("/caf%C3%A9").unwrap(), "/caf%C3%A9");
        assert_eq!(canonical("").unwrap(), "");
    }

    #[test]
    fn ambiguous_paths_are_refused() {
        for (bad, why) in [
            ("/public/..%2Fadmin", PathProblem::Encoding),
            ("/admin%2fx", PathProblem::Encoding),
            ("/admin%5Cx", PathProblem::Encoding),
            ("/a%252fb", PathProblem::Encoding),
            ("/a%00", PathProblem::Encoding),
            ("/a%0A", PathProblem::Encoding),
            ("/a%7F", PathProblem::Encoding),
            ("/admin%3B", PathProblem::Encoding),
            ("/a%2", PathProblem::Encoding),
            ("/a%zz", PathProblem::Encoding),
            ("/admin;x=1", PathProblem::Character),
            ("/public\\..\\admin", PathProblem::Character),
            ("/a\tb", PathProblem::Character),
            ("/public/%2e%2e/admin", PathProblem::DotSegment),
            ("/public/../admin", PathProblem::DotSegment),
            ("/./admin", PathProblem::DotSegment),
        ] {
            assert_eq!(canonical(bad), Err(why), "{bad}");
        }
    }
}
