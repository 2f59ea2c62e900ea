//! Paths as the gateway's rules see them: the patterns of `PROTECT`, and the request path
//! they are matched against.
//!
//! A rule must decide on the same path the app will act on. The request path is matched in a
//! canonical form (every escape of a byte a pattern may contain decoded, repeated slashes
//! merged, case folded), and a path whose meaning the app could read differently from the
//! gateway is refused before any rule is looked at: an encoded `/`, `\`, `%`, `;`, `?`, `#`
//! or control byte, a `;` (matrix parameters), a `.` or `..` segment that survived the URL
//! parser. Each of these has let requests past a path rule in some proxy or framework (Envoy
//! CVE-2019-9901 and CVE-2021-29492, Istio CVE-2021-31920, Shiro CVE-2020-1957, Spring
//! CVE-2016-5007). An app may also skip what the canonical form does (decode, merge slashes,
//! fold case): [`readings`] gives the path as such an app reads it, and `gateway::Rules`
//! refuses a path that one of them would put under a stricter rule. The request goes to the
//! app with its path exactly as it came.

/// The bytes a pattern's segments may hold besides letters and digits: RFC 3986's unreserved
/// punctuation and the sub-delimiters an app routes on (`:` in Google-style custom methods,
/// `@` in profile paths, `$` in OData).
pub const PATTERN_PUNCTUATION: &[u8] = b"-._~!$&'()+,=:@";

/// Whether an escaped byte is decoded before matching: every byte a pattern may contain, and
/// `*` (which `encodeURIComponent` leaves alone and apps decode): otherwise `/v1/items%3Apurge`
/// would miss the rule for `/v1/items:purge` while a decoding app runs `purge`.
fn is_decoded(b: u8) -> bool {
    b.is_ascii_alphanumeric() || PATTERN_PUNCTUATION.contains(&b) || b == b'*'
}

/// Whether an escaped byte makes the path ambiguous: a decoded `/`, `\` or `;` changes where
/// the path's segments or parameters are for an app that decodes before routing; a decoded
/// `%` decodes again in an app that decodes twice; control bytes end strings and lines. (A
/// decoded `?` or `#` only moves the query for an app that parses the decoded path again:
/// that is a reading of its own, [`readings`].)
fn is_refused_escape(b: u8) -> bool {
    b < 0x20 || b == 0x7f || b"/\\%;".contains(&b)
}

/// The characters that some app reads as `.`, `/`, `\`, `;`, `?`, `#` or `%` (every code
/// point whose NFKC form, case folding, upper or lower case holds one of them: `‥` as `..`,
/// `／` as `/`, `﹖` as `?`, …; generated from Unicode's tables). A path holding one is
/// refused: which path it is depends on the app.
const READ_AS_PATH_PUNCTUATION: [u32; 52] = [
    0x037E, 0x2024, 0x2025, 0x2026, 0x2047, 0x2048, 0x2049, 0x2100, 0x2101, 0x2105, 0x2106, 0x2488,
    0x2489, 0x248A, 0x248B, 0x248C, 0x248D, 0x248E, 0x248F, 0x2490, 0x2491, 0x2492, 0x2493, 0x2494,
    0x2495, 0x2496, 0x2497, 0x2498, 0x2499, 0x249A, 0x249B, 0x33C2, 0x33C7, 0x33D8, 0xFE14, 0xFE16,
    0xFE19, 0xFE30, 0xFE52, 0xFE54, 0xFE56, 0xFE5F, 0xFE68, 0xFE6A, 0xFF03, 0xFF05, 0xFF0E, 0xFF0F,
    0xFF1B, 0xFF1F, 0xFF3C, 0x1F100,
];

/// A rule's path: exact, or a prefix of whole segments (`/app/*`), kept lower-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    /// The path without its `/*`, lower-case; empty for `/*` (every path).
    base: String,
    /// The same, in the case configured: what an app that routes case-sensitively matches.
    exact_base: String,
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
                    .all(|c| c.is_ascii_alphanumeric() || PATTERN_PUNCTUATION.contains(&c))
        });
        if !segments_ok || (prefix && base == "/") {
            return Err(format!(
                "{pattern} is not a path like /app or /app/* (segments of letters, digits and -._~!$&'()+,=:@; no %, ;, //, . or .. segments; * only as a final /*)"
            ));
        }
        Ok(Self {
            base: base.to_ascii_lowercase(),
            exact_base: base.to_owned(),
            prefix,
        })
    }

    /// A path it covers, in the case configured: the base, with a `/` after a prefix's (the
    /// start-up rehearsal's request through the gateway, src/app/rehearsal.rs).
    pub fn example(&self) -> String {
        match (self.prefix, self.exact_base.as_str()) {
            (true, base) => format!("{base}/"),
            (false, "") => "/".to_owned(),
            (false, base) => base.to_owned(),
        }
    }

    /// Whether it covers `path` (canonical, see [`canonical`]). Prefixes are whole segments:
    /// `/app/*` covers `/app`, `/app/` and `/app/x`, never `/apple`; an exact `/app` covers
    /// `/app/` too.
    pub fn covers(&self, path: &str) -> bool {
        self.covers_as(path, false)
    }

    /// Whether it covers `path` as an app compares it: without regard to case (a lower-case
    /// `path`), or case-sensitively, against the pattern in the case configured.
    pub fn covers_as(&self, path: &str, case_sensitive: bool) -> bool {
        let base = if case_sensitive {
            &self.exact_base
        } else {
            &self.base
        };
        let Some(rest) = path.strip_prefix(base.as_str()) else {
            return false;
        };
        if self.prefix {
            rest.is_empty() || rest.starts_with('/')
        } else {
            rest.is_empty() || (rest == "/" && !base.ends_with('/'))
        }
    }

    /// Whether it may cover, and whether it surely covers, a path read as `segments` (what
    /// [`lenient_segments`] gives): `(may, surely)`.
    pub fn covers_segments(&self, segments: &[Segment]) -> (bool, bool) {
        let base: Vec<&str> = if self.base.is_empty() {
            Vec::new()
        } else {
            self.base.split('/').skip(1).collect()
        };
        let trailing_slash = segments.len() == base.len() + 1
            && segments.last() == Some(&Segment::Is(String::new()))
            && !self.base.ends_with('/');
        if segments.len() < base.len()
            || (!self.prefix && segments.len() != base.len() && !trailing_slash)
        {
            return (false, false);
        }
        let mut surely = true;
        for (pattern, seg) in base.iter().zip(segments) {
            match seg {
                Segment::Is(s) if s == pattern => {}
                Segment::Is(_) => return (false, false),
                Segment::Any => surely = false,
            }
        }
        (true, surely)
    }

    /// Whether some path is covered by both this pattern and `other`.
    pub fn overlaps(&self, other: &Self) -> bool {
        match (self.prefix, other.prefix) {
            (false, false) => {
                self.base.trim_end_matches('/') == other.base.trim_end_matches('/')
                    || self.base == other.base
            }
            (true, false) => self.covers(&other.base),
            (false, true) => other.covers(&self.base),
            (true, true) => self.covers(&other.base) || other.covers(&self.base),
        }
    }

    /// Whether it has upper-case letters (then case-sensitive readings compare differently).
    pub fn has_upper_case(&self) -> bool {
        self.exact_base != self.base
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
    /// An encoded `/`, `\`, `%`, `;`, `?`, `#` or control byte, or a broken `%` escape.
    Encoding,
    /// A raw `\`, `;`, control byte, space or non-ASCII byte.
    Character,
    /// A `.` or `..` segment (after decoding).
    DotSegment,
    /// Read as some app would (without decoding, merging slashes or folding case), it falls
    /// under a rule that lets through less than the one its canonical form falls under.
    Straddles,
    /// A character some app reads as `.`, `/`, `\`, `;`, `?`, `#` or `%`.
    LookAlike,
}

impl PathProblem {
    /// What the log line says.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Encoding => "path: ambiguous percent-encoding",
            Self::Character => "path: ambiguous character",
            Self::DotSegment => "path: dot segment",
            Self::Straddles => "path: read another way, a stricter rule covers it",
            Self::LookAlike => "path: a character some apps read as path punctuation",
        }
    }
}

/// The form of a request path (no query) that rules are matched against: escapes of the
/// bytes patterns may hold decoded, other escapes kept (upper-case hex, so that case folding
/// cannot change them), repeated slashes merged, ASCII lower-cased. Refused when the app
/// could read it as another path than the gateway does.
pub fn canonical(path: &str) -> Result<String, PathProblem> {
    Ok(fold(&merged(&decoded(path, true)?)))
}

/// `path` checked, with the escapes of [`is_decoded`] bytes decoded (`decode`) or kept as they
/// came; other escapes upper-cased.
fn decoded(path: &str, decode: bool) -> Result<String, PathProblem> {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        i += 1;
        if c == b'%' {
            let hex = |at: usize| bytes.get(at).and_then(|h| (*h as char).to_digit(16));
            let (Some(hi), Some(lo)) = (hex(i), hex(i + 1)) else {
                return Err(PathProblem::Encoding);
            };
            i += 2;
            // Two hex digits: at most 255.
            let b = u8::try_from(hi * 16 + lo).unwrap_or(u8::MAX);
            if is_refused_escape(b) {
                return Err(PathProblem::Encoding);
            }
            if decode && is_decoded(b) {
                out.push(char::from(b));
            } else {
                out.push('%');
                out.push_str(&format!("{b:02X}"));
            }
        } else if c <= 0x20 || c >= 0x7f || c == b'\\' || c == b';' {
            return Err(PathProblem::Character);
        } else {
            out.push(char::from(c));
        }
    }
    if out.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(PathProblem::DotSegment);
    }
    Ok(out)
}

/// Repeated slashes merged.
fn merged(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    out
}

/// ASCII lower-cased (escapes are upper-case hex already, and stay so: `%3A` is not `%3a`).
fn fold(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut escape = 0;
    for c in path.chars() {
        if c == '%' {
            escape = 2;
            out.push(c);
        } else if escape > 0 {
            escape -= 1;
            out.push(c);
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// A request path as one kind of app reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// The path.
    pub path: String,
    /// Compared with patterns case-sensitively (an app that does not fold case).
    pub case_sensitive: bool,
}

/// The readings of a request path, the [`canonical`] one first: the same path as apps that
/// skip any of decoding, merging slashes and folding case read it, and as an app that parses
/// the decoded path again (cutting it at a decoded `?` or `#`), each once. A path the
/// canonical form refuses is refused. `patterns_have_upper_case`: whether any pattern has an
/// upper-case letter (when none has, and the path has none either, case cannot matter).
pub fn readings(path: &str, patterns_have_upper_case: bool) -> Result<Vec<Reading>, PathProblem> {
    let canonical = canonical(path)?;
    let mut out = vec![Reading {
        path: canonical,
        case_sensitive: false,
    }];
    let plain = !path.contains('%') && !path.contains("//");
    let case_matters = patterns_have_upper_case || path.bytes().any(|b| b.is_ascii_uppercase());
    if plain && !case_matters {
        return Ok(out);
    }
    let mut add = |r: Reading| {
        if !out.contains(&r) {
            out.push(r);
        }
    };
    let forms = [decoded(path, false)?, decoded(path, true)?];
    for form in &forms {
        for merge in [false, true] {
            let path = if merge { merged(form) } else { form.clone() };
            add(Reading {
                path: fold(&path),
                case_sensitive: false,
            });
            if case_matters {
                add(Reading {
                    path,
                    case_sensitive: true,
                });
            }
        }
    }
    // Parsed again after decoding: a `%3F` or `%23` ends the path.
    let decoded_form = &forms[1];
    if let Some(cut) = ["%3F", "%23"]
        .iter()
        .filter_map(|e| decoded_form.find(e))
        .min()
    {
        add(Reading {
            path: fold(&merged(decoded_form.get(..cut).unwrap_or_default())),
            case_sensitive: false,
        });
    }
    Ok(out)
}

/// One segment of a path as the most lenient apps may read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Read as these bytes (lower-case).
    Is(String),
    /// Read as some segment of ASCII letters that cannot be told from here: it holds a
    /// character that Unicode case folding or NFKC may turn into ASCII (`İ`, `ſ`, `ａ`, `ﬁ`, …,
    /// in Java's `equalsIgnoreCase`, Go's `EqualFold`, an app that normalises), or a Windows
    /// short name (`ADMINI~1`).
    Any,
}

/// The path as the most lenient apps may read it, segment by segment, when that reading can
/// differ from the canonical one: fully decoded; a segment holding a non-ASCII character or a
/// Windows short name is any segment ([`Segment::Any`]); an NTFS stream suffix
/// (`admin::$INDEX_ALLOCATION`) dropped; each segment's trailing dots and spaces dropped (as
/// Windows and IIS resolve `/admin.` and `/admin%20`); empty segments merged. `None` when the
/// path has none of these. Refused: a character some app reads as path punctuation
/// ([`READ_AS_PATH_PUNCTUATION`]), and a segment of dots and spaces only (`...`, which Windows
/// reads as `.`).
pub fn lenient_segments(path: &str) -> Result<Option<Vec<Segment>>, PathProblem> {
    // Only escapes, `~`, `:` and a segment's trailing dot can make this reading differ (the
    // URL parser has escaped every non-ASCII byte and space): a plain path costs one scan.
    if !path.contains(['%', '~', ':']) && !path.split('/').any(|seg| seg.ends_with('.')) {
        return Ok(None);
    }
    let bytes = path.as_bytes();
    let mut raw: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        let hex = |at: usize| bytes.get(at).and_then(|h| (*h as char).to_digit(16));
        match (c, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                raw.push(u8::try_from(hi * 16 + lo).unwrap_or(u8::MAX));
                i += 3;
            }
            _ => {
                raw.push(c);
                i += 1;
            }
        }
    }
    let text = String::from_utf8_lossy(&raw);
    if text.chars().any(|ch| {
        READ_AS_PATH_PUNCTUATION
            .binary_search(&u32::from(ch))
            .is_ok()
    }) {
        return Err(PathProblem::LookAlike);
    }
    let mut lenient = false;
    let mut segments = Vec::new();
    for seg in text.split('/').skip(1) {
        let is_short_name = seg
            .as_bytes()
            .windows(2)
            .any(|w| w.first() == Some(&b'~') && w.get(1).is_some_and(u8::is_ascii_digit));
        if !seg.is_ascii() || is_short_name {
            lenient = true;
            segments.push(Segment::Any);
            continue;
        }
        let mut read = seg;
        if let Some(at) = read.find(':')
            && read.get(at..).is_some_and(|rest| rest.contains('$'))
        {
            read = read.get(..at).unwrap_or_default();
        }
        let trimmed = read.trim_end_matches(['.', ' ']);
        if trimmed.is_empty() && !seg.is_empty() {
            return Err(PathProblem::DotSegment);
        }
        lenient |= trimmed.len() != seg.len();
        if trimmed.is_empty()
            && segments
                .last()
                .is_some_and(|s| *s == Segment::Is(String::new()))
        {
            continue;
        }
        segments.push(Segment::Is(trimmed.to_ascii_lowercase()));
    }
    Ok(lenient.then_some(segments))
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
    fn patterns_overlap_where_one_path_is_covered_by_both() {
        let p = |s: &str| PathPattern::parse(s).unwrap();
        for (a, b) in [
            ("/a/*", "/*"),
            ("/a/*", "/a/b"),
            ("/a", "/a"),
            ("/a/*", "/a/b/*"),
            ("/a", "/a/*"),
        ] {
            assert!(p(a).overlaps(&p(b)) && p(b).overlaps(&p(a)), "{a} {b}");
        }
        for (a, b) in [
            ("/a/*", "/b/*"),
            ("/a", "/ab"),
            ("/a/*", "/ab/*"),
            ("/a/b", "/a/c"),
        ] {
            assert!(!p(a).overlaps(&p(b)), "{a} {b}");
        }
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
        assert_eq!(canonical("/caf%c3%a9").unwrap(), "/caf%C3%A9");
        assert_eq!(canonical("/").unwrap(), "/");
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

    #[test]
    fn every_escape_a_pattern_may_contain_is_decoded() {
        // Each byte of the pattern alphabet (and `*`), escaped in either case of hex, reads as
        // the byte itself: /v1/items%3Apurge is /v1/items:purge.
        for &b in PATTERN_PUNCTUATION.iter().chain(b"*aZ09") {
            for escape in [format!("%{b:02X}"), format!("%{b:02x}")] {
                let c = char::from(b).to_ascii_lowercase();
                assert_eq!(
                    canonical(&format!("/x{escape}y")).unwrap(),
                    format!("/x{c}y"),
                    "{escape}"
                );
            }
        }
        assert_eq!(canonical("/v1/items%3Apurge").unwrap(), "/v1/items:purge");
        assert_eq!(canonical("/%40ada/x").unwrap(), "/@ada/x");
        assert_eq!(canonical("/odata/%24batch").unwrap(), "/odata/$batch");
        // Idempotent, and what it keeps escaped is nothing a pattern can hold.
        for p in ["/a%20b%3A", "//X%2a/%C3%A9", "/v1/items%3Apurge"] {
            let once = canonical(p).unwrap();
            assert_eq!(canonical(&once).unwrap(), once, "{p}");
        }
    }

    #[test]
    fn readings_are_the_path_as_apps_that_skip_a_step_read_it() {
        let paths = |p: &str, upper: bool| -> Vec<(String, bool)> {
            readings(p, upper)
                .unwrap()
                .into_iter()
                .map(|r| (r.path, r.case_sensitive))
                .collect()
        };
        // A plain path: one reading, unless a pattern has capitals.
        assert_eq!(paths("/app/x", false), [("/app/x".into(), false)]);
        assert_eq!(
            paths("/app/x", true),
            [("/app/x".into(), false), ("/app/x".into(), true)]
        );
        let all = paths("//V1/items%3Apurge", false);
        assert_eq!(all[0], ("/v1/items:purge".into(), false));
        for expected in [
            ("//V1/items%3Apurge", true),
            ("/v1/items%3Apurge", false),
            ("/V1/items:purge", true),
            ("//v1/items:purge", false),
        ] {
            assert!(
                all.contains(&(expected.0.into(), expected.1)),
                "{expected:?} in {all:?}"
            );
        }
        assert!(readings("/a%2Fb", false).is_err());
    }

    #[test]
    fn the_most_lenient_reading_has_look_alikes_as_any_segment_and_trims_segment_ends() {
        let any = Segment::Any;
        let is = |s: &str| Segment::Is(s.to_owned());
        for (p, read) in [
            ("/adm%C4%B0n/x", vec![any.clone(), is("x")]),
            ("/%EF%BD%81dmin/x", vec![any.clone(), is("x")]),
            ("/%E2%93%90dmin/x", vec![any.clone(), is("x")]),
            ("/%EF%AC%81rst/x", vec![any.clone(), is("x")]),
            ("/ADMINI~1/x", vec![any.clone(), is("x")]),
            ("/admin%20/x", vec![is("admin"), is("x")]),
            ("/admin./x", vec![is("admin"), is("x")]),
            ("/Admin::$INDEX_ALLOCATION/x", vec![is("admin"), is("x")]),
            (
                "/admin:$i30:$INDEX_ALLOCATION/x",
                vec![is("admin"), is("x")],
            ),
        ] {
            assert_eq!(lenient_segments(p), Ok(Some(read)), "{p}");
        }
        assert_eq!(lenient_segments("/v1/items:purge"), Ok(None));
        assert_eq!(lenient_segments("/plain/path"), Ok(None));
        for punctuation in [
            "/x/%E2%80%A5/admin",
            "/a%EF%BC%8Fb",
            "/a%E2%80%A4",
            "/a%EF%B9%96b",
        ] {
            assert_eq!(
                lenient_segments(punctuation),
                Err(PathProblem::LookAlike),
                "{punctuation}"
            );
        }
        assert_eq!(lenient_segments("/a/.../b"), Err(PathProblem::DotSegment));
        assert!(
            READ_AS_PATH_PUNCTUATION.windows(2).all(|w| w[0] < w[1]),
            "sorted"
        );
    }

    #[test]
    fn patterns_may_or_surely_cover_a_lenient_reading() {
        let any = Segment::Any;
        let is = |s: &str| Segment::Is(s.to_owned());
        let p = |s: &str| PathPattern::parse(s).unwrap();
        assert_eq!(
            p("/admin/*").covers_segments(&[any.clone(), is("x")]),
            (true, false)
        );
        assert_eq!(
            p("/admin/*").covers_segments(&[is("admin"), is("x")]),
            (true, true)
        );
        assert_eq!(
            p("/admin/*").covers_segments(&[is("other"), any.clone()]),
            (false, false)
        );
        assert_eq!(
            p("/*").covers_segments(std::slice::from_ref(&any)),
            (true, true)
        );
        assert_eq!(
            p("/admin").covers_segments(std::slice::from_ref(&any)),
            (true, false)
        );
        assert_eq!(
            p("/admin").covers_segments(&[any.clone(), is("x")]),
            (false, false)
        );
        assert_eq!(
            p("/admin").covers_segments(&[is("admin"), is("")]),
            (true, true)
        );
    }
}
