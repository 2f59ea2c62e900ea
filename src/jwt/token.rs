//! Parsing a compact JWS without trusting any of it.
//!
//! [`UnverifiedToken`] is all that can be known before the signature is checked: its header
//! (read only to choose a key) and the raw segments. Claims are not even decoded until the
//! signature over those raw segments has verified; only [`crate::jwt::verify`] turns an
//! `UnverifiedToken` into a [`crate::jwt::verify::VerifiedToken`].

use crate::formats::b64;
use crate::formats::json::{self, StrictJsonError};
use crate::jwt::verify::VerifyError;
use serde_json::Value;

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
    payload_segment: &'a str,
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
        // The payload's encoding is checked here too; its JSON waits for the signature.
        if !p
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        {
            return Err(VerifyError::Malformed("payload encoding"));
        }

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
            payload_segment: p,
            signature,
        })
    }

    /// `base64url(header) "." base64url(payload)`: the bytes the signature covers.
    pub fn signing_input(&self) -> &[u8] {
        self.signing_input.as_bytes()
    }

    /// The decoded signature.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The raw payload segment, for the verifier to decode after the signature check.
    pub(crate) fn payload_segment(&self) -> &str {
        self.payload_segment
    }
}
