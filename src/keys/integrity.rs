//! Authenticated KV entries: what the key cache writes to Workers KV carries an HMAC-SHA256
//! under a key only this worker has.
//!
//! The keys in KV decide which tokens verify: a key planted there under a provider's key-set
//! URL mints that provider's tokens for any user, and one under Stytch's session key-set URL
//! mints session JWTs, answered at the edge with no call to anyone. KV is not the worker's
//! alone to write: API tokens with KV edit rights, a second worker bound to the namespace, a
//! dashboard user without deploy rights. So an entry is believed only when its tag verifies
//! under a key derived from a secret of the worker's (HKDF-SHA256, RFC 5869, with a label of
//! its own, so the tag key is never the secret itself and never another use's key). Whoever
//! can write the namespace but not the secret can only make the worker refetch.

use std::fmt;

/// HKDF's `info`: what the derived key is for (and the entry format it authenticates).
pub const MAC_LABEL: &str = "edge-attest key cache entry v2";
/// Shortest dedicated secret accepted (`KEY_CACHE_SECRET`): 32 characters of a random string
/// carry well over the 128 bits a MAC key needs.
pub const MIN_SECRET_CHARS: usize = 32;
/// Length of a tag (HMAC-SHA256).
pub const TAG_BYTES: usize = 32;

/// The secret the tag key is derived from: `KEY_CACHE_SECRET`, or `STYTCH_SECRET` (with the
/// label, the derived key reveals nothing of it). Never logged: `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct CacheSecret(String);

impl CacheSecret {
    /// Wraps a secret read from the configuration.
    pub fn new(secret: String) -> Self {
        Self(secret)
    }

    /// The secret's bytes, for the MAC backend's key derivation only.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The secret as text, for a MAC backend that takes it so.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CacheSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CacheSecret(<redacted>)")
    }
}

/// Computes the tag of a KV entry: HMAC-SHA256 under `HKDF-SHA256(secret, salt = none,
/// info = MAC_LABEL)`.
#[allow(async_fn_in_trait)] // used through generics only, on a single-threaded runtime
pub trait EntryMac {
    /// The tag of `message`; an error when the backend cannot compute one (then nothing is
    /// believed and nothing is written).
    async fn tag(&self, secret: &CacheSecret, message: &[u8]) -> Result<[u8; TAG_BYTES], String>;
}

/// What a tag covers: the entry's KV key (which names the document's kind and URL), its two
/// timestamps and its body, each delimited so that no two entries share a message.
pub fn message(kv_key: &str, fetched_at_ms: u64, fresh_until_ms: u64, body: &str) -> Vec<u8> {
    let head = format!(
        "{MAC_LABEL}\n{}:{kv_key}\n{fetched_at_ms}\n{fresh_until_ms}\n",
        kv_key.len()
    );
    let mut m = Vec::with_capacity(head.len() + body.len());
    m.extend_from_slice(head.as_bytes());
    m.extend_from_slice(body.as_bytes());
    m
}

/// Compares two tags in time independent of where they differ.
pub fn tags_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_of_an_entry_is_covered_unambiguously() {
        let base = message("jwks:v2:https://a/k", 1, 2, "{}");
        for other in [
            message("jwks:v2:https://a/k2", 1, 2, "{}"),
            message("oidc:v2:https://a/k", 1, 2, "{}"),
            message("jwks:v2:https://a/k", 11, 2, "{}"),
            message("jwks:v2:https://a/k", 1, 3, "{}"),
            message("jwks:v2:https://a/k", 1, 2, "{ }"),
        ] {
            assert_ne!(base, other);
        }
        // A key that swallows the next field cannot pose as another entry.
        assert_ne!(message("a\n1", 2, 3, ""), message("a", 1, 2, "3\n"));
    }

    #[test]
    fn tags_compare_whole() {
        assert!(tags_equal(&[1, 2, 3], &[1, 2, 3]));
        assert!(!tags_equal(&[1, 2, 3], &[1, 2, 4]));
        assert!(!tags_equal(&[1, 2, 3], &[1, 2]));
        assert!(!format!("{:?}", CacheSecret::new("s3cr3t".into())).contains("s3cr3t"));
    }
}
