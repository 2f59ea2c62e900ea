//! Signature backends: the one operation that differs between `cargo test` and workerd.
//!
//! In the worker the check goes through the runtime's WebCrypto (BoringSSL, in-thread): about
//! 75 µs per ES256 token in workerd, against 241 µs for the pure-Rust P-256 check natively,
//! before WASM slows it down (docs/benchmarks.md). Natively, and as the reference the WebCrypto backend is
//! compared against in workerd, [`RustCryptoBackend`] uses jwt-compact's p256/rsa/ed25519.
//!
//! Backends only answer "does this signature verify under this key". Every rule about which
//! key, which algorithm and which signature encodings are acceptable is enforced by the
//! verifier (`jwt/verify.rs`) before a backend is asked.

use crate::keys::integrity::{CacheSecret, EntryMac, MAC_LABEL, TAG_BYTES};
use crate::keys::jwk::{KeyMaterial, PublicKey};
use std::fmt;

/// A backend could not use a key at all (for example a point not on the curve).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyImportError(pub String);

impl fmt::Display for KeyImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key rejected by the signature backend: {}", self.0)
    }
}

/// Checks a signature with the algorithm fixed by the key's type.
#[allow(async_fn_in_trait)] // used through generics only, on a single-threaded runtime
pub trait SignatureBackend {
    /// `Ok(true)` when `signature` is valid for `message` under `key`.
    async fn verify(
        &self,
        key: &PublicKey,
        message: &[u8],
        signature: &[u8],
    ) -> Result<bool, KeyImportError>;
}

/// Pure-Rust verification through jwt-compact, and KV entry tags through `hmac`/`sha2`.
#[derive(Debug, Default, Clone, Copy)]
pub struct RustCryptoBackend;

impl EntryMac for RustCryptoBackend {
    async fn tag(&self, secret: &CacheSecret, message: &[u8]) -> Result<[u8; TAG_BYTES], String> {
        // HKDF-SHA256 (RFC 5869) with no salt (a zero key) and one block of output: the tag key.
        let prk = hmac_sha256(&[0; 32], &[secret.expose()])?;
        let key = hmac_sha256(&prk, &[MAC_LABEL.as_bytes(), &[1]])?;
        hmac_sha256(&key, &[message])
    }
}

/// HMAC-SHA256 of the concatenated `parts` under `key`.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Result<[u8; TAG_BYTES], String> {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).map_err(|e| e.to_string())?;
    for part in parts {
        mac.update(part);
    }
    Ok(mac.finalize().into_bytes().into())
}

impl SignatureBackend for RustCryptoBackend {
    async fn verify(
        &self,
        key: &PublicKey,
        message: &[u8],
        signature: &[u8],
    ) -> Result<bool, KeyImportError> {
        rust_verify(&key.material, message, signature)
    }
}

fn rust_verify(
    material: &KeyMaterial,
    message: &[u8],
    signature: &[u8],
) -> Result<bool, KeyImportError> {
    use jwt_compact::alg::{Ed25519, Es256, Rsa, RsaPublicKey, VerifyingKey as _};
    use jwt_compact::jwk::JsonWebKey;
    use jwt_compact::{Algorithm, AlgorithmSignature};
    use std::borrow::Cow;

    let import = |e: &dyn fmt::Display| KeyImportError(e.to_string());
    Ok(match material {
        KeyMaterial::P256 { x, y } => {
            // SEC1 uncompressed point: 0x04 || x || y.
            let sec1: Vec<u8> = std::iter::once(4)
                .chain(x.iter().copied())
                .chain(y.iter().copied())
                .collect();
            let key =
                <Es256 as Algorithm>::VerifyingKey::from_slice(&sec1).map_err(|e| import(&e))?;
            match <Es256 as Algorithm>::Signature::try_from_slice(signature) {
                Ok(sig) => Es256.verify_signature(&sig, &key, message),
                Err(_) => false,
            }
        }
        KeyMaterial::Rsa { n, e } => {
            let jwk = JsonWebKey::Rsa {
                modulus: Cow::Borrowed(n),
                public_exponent: Cow::Borrowed(e),
                private_parts: None,
            };
            let key = RsaPublicKey::try_from(&jwk).map_err(|e| import(&e))?;
            match <Rsa as Algorithm>::Signature::try_from_slice(signature) {
                Ok(sig) => Rsa::rs256().verify_signature(&sig, &key, message),
                Err(_) => false,
            }
        }
        KeyMaterial::Ed25519 { x } => {
            let key =
                <Ed25519 as Algorithm>::VerifyingKey::from_slice(x).map_err(|e| import(&e))?;
            match <Ed25519 as Algorithm>::Signature::try_from_slice(signature) {
                Ok(sig) => Ed25519.verify_signature(&sig, &key, message),
                Err(_) => false,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5869 test case 3 (SHA-256, no salt, no info) pins the HKDF construction; the
    /// label's key is then checked against a vector Node's WebCrypto computed
    /// (`crypto.subtle.deriveBits({name: "HKDF", hash: "SHA-256", salt: new Uint8Array(),
    /// info}, ...)`), the same derivation the worker's WebCrypto backend runs.
    #[test]
    fn hkdf_and_hmac_match_the_references() {
        let ikm = [0x0b_u8; 22];
        let prk = hmac_sha256(&[0; 32], &[&ikm]).unwrap();
        let okm = hmac_sha256(&prk, &[&[1]]).unwrap();
        assert_eq!(
            okm[..],
            [
                0x8d, 0xa4, 0xe7, 0x75, 0xa5, 0x63, 0xc1, 0x8f, 0x71, 0x5f, 0x80, 0x2a, 0x06, 0x3c,
                0x5a, 0x31, 0xb8, 0xa1, 0x1f, 0x5c, 0x5e, 0xe1, 0x87, 0x9e, 0xc3, 0x45, 0x4e, 0x5f,
                0x3c, 0x73, 0x8d, 0x2d
            ]
        );
        let secret = CacheSecret::new("secret-test-SHOULD-NEVER-LEAK".into());
        let tag = futures_executor::block_on(RustCryptoBackend.tag(&secret, b"message")).unwrap();
        assert_eq!(
            hex(&tag),
            "499615106e7f3c49897cbad9a1cec1cd7c372d6174ca53cbfa9c32b5345383d7"
        );
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
