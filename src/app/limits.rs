//! Rate limits in front of Stytch: one per client address on every route that can reach
//! Stytch, one per verified user on the calls an exchange makes to Stytch.
//!
//! Stytch rate-limits the whole project, so one client minting sessions in a loop (a stolen
//! token, a broken script) could lock every user out. The limits here stop it at the edge,
//! with the Workers Rate Limiting binding: counters per Cloudflare location, kept on the
//! machine and synced in the background, so a check costs no network wait. The binding
//! decides the numbers (`simple = { limit, period }` in `wrangler.toml`); without a binding
//! there is no limit.
//!
//! When a limiter itself fails, the request goes on (and the log says so): the limit guards
//! Stytch's quota, not authentication, and Stytch's own 429 still applies behind it.

use std::net::Ipv6Addr;

/// The binding that limits requests per client address.
pub const IP_BINDING: &str = "IP_RATE_LIMITER";
/// The binding that limits Stytch calls per verified user (`iss` and `sub`: an exchange's
/// attests) and per Stytch session (its refreshes).
pub const USER_BINDING: &str = "USER_RATE_LIMITER";
/// `Retry-After` of a request over a limit: the longest period a binding can have (the
/// runtime takes 10 or 60 s), so that a client honouring it is never back too early.
pub const RETRY_AFTER_SECS: u64 = 60;

/// Which limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Per client address ([`IP_BINDING`]).
    Ip,
    /// Per verified user ([`USER_BINDING`]).
    User,
}

impl Limit {
    /// The binding that implements it.
    pub fn binding(self) -> &'static str {
        match self {
            Self::Ip => IP_BINDING,
            Self::User => USER_BINDING,
        }
    }

    /// How the log names it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ip => "ip",
            Self::User => "user",
        }
    }
}

/// The rate limiting bindings, as the glue (or a test) provides them.
#[allow(async_fn_in_trait)]
pub trait RateLimiter {
    /// Counts one request against `key` under `limit`: `Ok(Some(true))` when it may go on,
    /// `Ok(Some(false))` when it is over the limit, `Ok(None)` when no such limiter is
    /// configured, `Err` when the limiter failed.
    async fn check(&self, limit: Limit, key: &str) -> Result<Option<bool>, String>;
}

/// The per-address key for the `CF-Connecting-IP` header: an IPv4 address as it is, an
/// IPv6 address by its /64 prefix (one subscriber usually holds a whole /64, and counting
/// each of its 2^64 addresses apart would be no limit at all). `None` without an address:
/// such requests are not counted at all, rather than all in one shared counter that any one
/// client could fill for everybody (a worker reached through a service binding that builds
/// new requests, or behind another proxy, sees no address for anyone).
pub fn ip_key(header: Option<&str>) -> Option<String> {
    let addr = header.map(str::trim).filter(|a| !a.is_empty())?;
    Some(match addr.parse::<Ipv6Addr>() {
        Ok(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("ip:{v4}"),
            None => {
                let s = v6.segments();
                format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        // IPv4, or whatever the header holds: as it is (bounded, it is a header value).
        Err(_) => format!("ip:{}", addr.chars().take(64).collect::<String>()),
    })
}

/// The per-user key: the verified token's issuer and subject (a user of one provider is not
/// the same user at another).
pub fn user_key(iss: &str, sub: &str) -> String {
    format!("user:{iss}\n{sub}")
}

/// The key under which a Stytch session's refreshes are counted ([`USER_BINDING`]): per
/// session, so that whoever holds one of its old JWTs can at worst slow that session's
/// refreshes, never the user's others.
pub fn stytch_session_key(session_id: &str) -> String {
    format!("session:stytch\n{session_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_keyed_by_host_or_by_their_64_bit_prefix() {
        assert_eq!(ip_key(Some("203.0.113.7")).unwrap(), "ip:203.0.113.7");
        assert_eq!(
            ip_key(Some("2001:db8:85a3:8d3:1319:8a2e:370:7348")).unwrap(),
            "ip:2001:db8:85a3:8d3::/64"
        );
        assert_eq!(
            ip_key(Some("2001:db8:85a3:8d3::1")),
            ip_key(Some("2001:0db8:85a3:08d3:ffff::2"))
        );
        assert_eq!(
            ip_key(Some("::ffff:198.51.100.1")).unwrap(),
            "ip:198.51.100.1"
        );
        assert_eq!(ip_key(None), None);
        assert_eq!(ip_key(Some("  ")), None);
        assert_eq!(ip_key(Some(&"x".repeat(500))).unwrap().len(), 3 + 64);
    }

    #[test]
    fn malformed_addresses_are_keyed_as_they_are() {
        assert_eq!(ip_key(Some("1::2::3")).unwrap(), "ip:1::2::3");
        assert_eq!(ip_key(Some("not an address")).unwrap(), "ip:not an address");
    }

    #[test]
    fn users_are_keyed_by_issuer_and_subject() {
        assert_ne!(user_key("https://a/", "1"), user_key("https://b/", "1"));
        assert_ne!(user_key("https://a/", "1"), user_key("https://a/", "2"));
        assert_ne!(
            stytch_session_key("session-1"),
            stytch_session_key("session-2")
        );
        assert!(!stytch_session_key("x").starts_with("user:"));
    }
}
