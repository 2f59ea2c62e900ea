//! Strict, unpadded base64url (RFC 7515 §2).
//!
//! Leniency here would let one token have several spellings (padding, `+`/`/`, non-zero
//! trailing bits, whitespace), which breaks anything keyed on the token string and hides
//! tampering in logs. The signature is always computed over the raw segments, never over a
//! re-encoding.

use base64::Engine as _;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

const STRICT_URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Decodes strict unpadded base64url; `None` for anything else (padding, other alphabets,
/// whitespace, non-canonical trailing bits).
pub fn decode(segment: &str) -> Option<Vec<u8>> {
    STRICT_URL_SAFE.decode(segment).ok()
}

/// Encodes unpadded base64url.
pub fn encode(bytes: &[u8]) -> String {
    STRICT_URL_SAFE.encode(bytes)
}

/// Standard base64 with padding, for the HTTP Basic credentials sent to Stytch.
pub fn encode_standard(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_canonical_unpadded() {
        assert_eq!(decode("aGk").as_deref(), Some(&b"hi"[..]));
        assert_eq!(decode("-_8").as_deref(), Some(&[0xfb, 0xff][..]));
    }

    #[test]
    fn rejects_padding_alphabet_whitespace_and_trailing_bits() {
        assert_eq!(decode("aGk="), None);
        assert_eq!(decode("+/8"), None);
        assert_eq!(decode("aG k"), None);
        assert_eq!(decode("aGl"), None, "non-zero trailing bits");
    }
}
