//! The little URL handling the worker needs, without a URL library: the request URL is
//! already serialized by the runtime (WHATWG), and configured URLs are validated to a simple
//! `scheme://host[:port][/path]` form. (The `url` crate's IDNA tables alone were a third of
//! the WASM module.)

/// The parts of an absolute `http(s)` URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlParts<'a> {
    /// `http` or `https`, as written.
    pub scheme: &'a str,
    /// Host name, IPv4 address or bracketed IPv6 address.
    pub host: &'a str,
    /// Explicit port, if any.
    pub port: Option<u16>,
    /// `scheme://host[:port]`.
    pub origin: &'a str,
    /// Path (starting with `/`, or empty), without query or fragment.
    pub path: &'a str,
    /// Query without `?`, if present.
    pub query: Option<&'a str>,
    /// Fragment without `#`, if present.
    pub fragment: Option<&'a str>,
}

/// Splits an absolute `http`/`https` URL; `None` for anything else, including URLs with
/// credentials, an empty or malformed host, or a bad port.
pub fn parse(url: &str) -> Option<UrlParts<'_>> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_len);
    if authority.contains('@') {
        return None;
    }
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority.ends_with(']') => {
            let (h, p) = authority.split_at(i);
            let p = p.get(1..)?;
            if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            (h, Some(p.parse::<u16>().ok()?))
        }
        _ => (authority, None),
    };
    if !valid_host(host) {
        return None;
    }
    let (before_fragment, fragment) = match tail.split_once('#') {
        Some((a, f)) => (a, Some(f)),
        None => (tail, None),
    };
    let (path, query) = match before_fragment.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (before_fragment, None),
    };
    let origin = url.get(..scheme.len() + 3 + authority.len())?;
    Some(UrlParts {
        scheme,
        host,
        port,
        origin,
        path,
        query,
        fragment,
    })
}

fn valid_host(host: &str) -> bool {
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return !v6.is_empty()
            && v6
                .bytes()
                .all(|c| c.is_ascii_hexdigit() || c == b':' || c == b'.');
    }
    !host.is_empty()
        && !host.starts_with(['.', '-'])
        && !host.ends_with(['-'])
        && !host.contains("..")
        && host
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
}

/// Whether `host` is this machine: `localhost`, 127.0.0.0/8 or `[::1]`.
pub fn is_loopback_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") || host == "[::1]" {
        return true;
    }
    let octets: Vec<&str> = host.split('.').collect();
    octets.len() == 4
        && octets.first() == Some(&"127")
        && octets
            .iter()
            .all(|o| !o.is_empty() && o.len() <= 3 && o.parse::<u8>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_urls() {
        let u = parse("https://app.example.com:8443/api/exchange?x=1#f").unwrap();
        assert_eq!(
            (
                u.scheme, u.host, u.port, u.origin, u.path, u.query, u.fragment
            ),
            (
                "https",
                "app.example.com",
                Some(8443),
                "https://app.example.com:8443",
                "/api/exchange",
                Some("x=1"),
                Some("f")
            )
        );
        let u = parse("http://127.0.0.1:8787").unwrap();
        assert_eq!(
            (u.origin, u.path, u.query),
            ("http://127.0.0.1:8787", "", None)
        );
        let u = parse("http://[::1]:9/x").unwrap();
        assert_eq!((u.host, u.port, u.path), ("[::1]", Some(9), "/x"));
        assert_eq!(
            parse("https://a.b?q").map(|u| (u.path, u.query)),
            Some(("", Some("q")))
        );
    }

    #[test]
    fn refuses_what_is_not_a_plain_http_url() {
        for bad in [
            "ftp://a.b/",
            "https//a.b",
            "https://user:pw@a.b/",
            "https://",
            "https://a b/",
            "https://a.b:/",
            "https://a.b:99999/",
            "https://a.b:x/",
            "https://.a.b/",
            "https://a..b/",
            "not a url",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn knows_loopback() {
        for h in ["localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "[::1]"] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "example.com",
            "128.0.0.1",
            "127.0.0",
            "127.0.0.256",
            "localhost.example.com",
            "[::2]",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }
}
