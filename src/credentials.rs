//! What a request presents as its Stytch session: the session cookies, and (on gateway rules
//! that accept it) an `Authorization: Bearer` token. Read here, in one place, so that every
//! route and the gateway see the same credential in the same headers; what a credential is
//! worth is decided elsewhere (the session JWT check, the gateway's rules).

use crate::cookies::{CookiePolicy, count_cookie, find_cookie};
use crate::http::IncomingRequest;

/// The Stytch session cookies a request carries (configured names).
#[derive(Debug, Default)]
pub struct SessionCookies {
    /// The session JWT cookie.
    pub jwt: Option<String>,
    /// The opaque session token cookie.
    pub token: Option<String>,
    /// A configured name occurs more than once (the browser holds cookies of that name in
    /// several scopes: the worker's and the Stytch SDK's, a sibling app's, or planted ones).
    /// Which session the request means cannot be told, so it carries none: `jwt` and `token`
    /// are then `None`.
    pub ambiguous: bool,
}

impl SessionCookies {
    /// The session cookies of a request's `Cookie` headers.
    pub fn of<Body>(req: &IncomingRequest<Body>, names: &CookiePolicy) -> Self {
        Self::in_headers(
            || {
                req.headers
                    .iter()
                    .filter(|(k, _)| k == "cookie")
                    .map(|(_, v)| v.as_str())
            },
            names,
        )
    }

    /// The session cookies of these `Cookie` header values.
    pub fn in_headers<'h, I: Iterator<Item = &'h str>>(
        headers: impl Fn() -> I,
        names: &CookiePolicy,
    ) -> Self {
        let count = |name: &str| -> usize { headers().map(|v| count_cookie(v, name)).sum() };
        if count(&names.jwt_name) > 1 || count(&names.session_name) > 1 {
            return Self {
                ambiguous: true,
                ..Self::default()
            };
        }
        let find = |name: &str| {
            headers()
                .find_map(|v| find_cookie(v, name))
                .map(str::to_owned)
        };
        Self {
            jwt: find(&names.jwt_name),
            token: find(&names.session_name),
            ambiguous: false,
        }
    }

    /// Whether the request carries any of them (or carries them ambiguously).
    pub fn any(&self) -> bool {
        self.jwt.is_some() || self.token.is_some() || self.ambiguous
    }
}

/// An `Authorization` header that is not `Bearer <token>` (RFC 6750 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedBearer;

/// The token of an `Authorization: Bearer <token>` header value: `Ok(None)` without the
/// header, an error for another scheme or no token. The scheme is case-insensitive; the
/// token is taken as it is (trimmed): what it must look like is the verifier's to say.
pub fn bearer_token(authorization: Option<&str>) -> Result<Option<&str>, MalformedBearer> {
    let Some(value) = authorization else {
        return Ok(None);
    };
    match value.trim().split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            let token = token.trim();
            if token.is_empty() {
                Err(MalformedBearer)
            } else {
                Ok(Some(token))
            }
        }
        _ => Err(MalformedBearer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_header_is_one_scheme_and_one_token() {
        assert_eq!(bearer_token(None), Ok(None));
        assert_eq!(bearer_token(Some("Bearer a.b.c")), Ok(Some("a.b.c")));
        assert_eq!(bearer_token(Some(" bearer   a.b.c ")), Ok(Some("a.b.c")));
        for bad in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "a.b.c"] {
            assert_eq!(bearer_token(Some(bad)), Err(MalformedBearer), "{bad}");
        }
    }
}
