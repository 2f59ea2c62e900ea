//! Parsing a compact JWS without trusting any of it.
//!
//! [`UnverifiedToken`] is all that can be known before the signature is checked: its header
//! (read only to choose a key), the claims as the sender wrote them (of which only `iss` is
//! ever read before the check, to choose whose keys and rules apply), and the raw segments.
//! The payload is parsed here, as strictly as the header, so that the verifier reuses it;
//! only [`crate::jwt::verify`] turns an `UnverifiedToken` into a
//! [`crate::jwt::verify::VerifiedToken`], after the signature over the raw segments verified.

use crate::formats::b64;
use crate::formats::json::{self, StrictJsonError};
use crate::jwt::verify::VerifyError;
use serde_json::{Map, Value};

/// Longest token accepted, checked before any decoding. Supabase access tokens are about
/// 1 KiB; custom claims rarely push them past 4 KiB.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Longest `kid` accepted. It is only ever a lookup key into the fetched set.
pub const MAX_KID_BYTES: usize = 256;
/// Header members that would let the token choose its own key or extend the rules:
/// `crit` (RFC 7515 §4.1.11, extensions we do not understand), and the key-carrying or
/// key-locating `jku`, `x5u`, `jwk`, `x5c` (RFC 8725 §3.10). Present means rejected.
pub const FORBIDDEN_HEADERS: [&str; 5] = ["crit", "jku", "x5u", "jwk", "x5c"];

/// The token header, as claimed by the (unverified) sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedHeader {
    /// `alg` exactly as written.
    pub alg: String,
    /// `kid`, if present.
    pub kid: Option<String>,
}

/// A structurally valid token whose signature has not been checked.
#[derive(Debug, Clone)]
pub struct UnverifiedToken<'a> {
    /// The header, to choose a key with.
    pub header: UnverifiedHeader,
    signing_input: &'a str,
    claims: Map<String, Value>,
    signature: Vec<u8>,
}

impl<'a> UnverifiedToken<'a> {
    /// Splits and decodes a compact JWS, checking size, shape, encoding and header rules.
    pub fn parse(token: &'a str) -> Result<Self, VerifyError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(VerifyError::TooLarge);
        }
        let mut parts = token.splitn(4, '.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(VerifyError::Malformed("not three segments"));
        };
        if h.is_empty() || p.is_empty() || s.is_empty() {
            return Err(VerifyError::Malformed("empty segment"));
        }
        let header_bytes = b64::decode(h).ok_or(VerifyError::Malformed("header encoding"))?;
        let header = json::parse_object(&header_bytes).map_err(|e| match e {
            StrictJsonError::DuplicateKey => VerifyError::DuplicateKey,
            _ => VerifyError::Malformed("header is not a JSON object"),
        })?;
        let signature = b64::decode(s).ok_or(VerifyError::Malformed("signature encoding"))?;
        let payload = b64::decode(p).ok_or(VerifyError::Malformed("payload encoding"))?;
        let claims = json::parse_object(&payload).map_err(|e| match e {
            StrictJsonError::DuplicateKey => VerifyError::DuplicateKey,
            _ => VerifyError::Malformed("payload is not a JSON object"),
        })?;

        if let Some(name) = FORBIDDEN_HEADERS.iter().find(|n| header.contains_key(**n)) {
            return Err(VerifyError::ForbiddenHeader(name));
        }
        let Some(Value::String(alg)) = header.get("alg") else {
            return Err(VerifyError::Malformed("alg is missing or not a string"));
        };
        match header.get("typ") {
            None => {}
            Some(Value::String(t)) if t == "JWT" => {}
            Some(_) => return Err(VerifyError::BadTyp),
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(k)) if !k.is_empty() && k.len() <= MAX_KID_BYTES => Some(k.clone()),
            Some(_) => {
                return Err(VerifyError::Malformed(
                    "kid is not a short non-empty string",
                ));
            }
        };
        let signing_input = token
            .get(..h.len() + 1 + p.len())
            .ok_or(VerifyError::Malformed("segments"))?;
        Ok(Self {
            header: UnverifiedHeader {
                alg: alg.clone(),
                kid,
            },
            signing_input,
            claims,
            signature,
        })
    }

    /// `iss` as the sender wrote it, unchecked: only to choose which provider's keys and rules
    /// verify the token, never to trust anything with. `None` unless a string.
    pub fn unverified_issuer(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }

    /// `exp` as the sender wrote it, unchecked: only for a JWT that came from Stytch's own
    /// answer (over TLS, to a request made with the project's secret), to bound how long that
    /// answer is kept. `None` unless an integer.
    pub fn unverified_expiry(&self) -> Option<i64> {
        self.claims.get("exp").and_then(Value::as_i64)
    }

    /// `base64url(header) "." base64url(payload)`: the bytes the signature covers.
    pub fn signing_input(&self) -> &[u8] {
        self.signing_input.as_bytes()
    }

    /// The decoded signature.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The claims, for the verifier to check once the signature has verified.
    pub(crate) fn into_claims(self) -> Map<String, Value> {
        self.claims
    }
}
