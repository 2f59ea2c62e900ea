//! Signature backends: the one operation that differs between `cargo test` and workerd.
//!
//! In the worker the check goes through the runtime's WebCrypto (BoringSSL, in-thread): about
//! 0.1 ms per ES256 token against about 1.9 ms for pure-Rust P-256 compiled to WASM
//! (shared/research/verify-cost.md). Natively, and as the reference the WebCrypto backend is
//! compared against in workerd, [`RustCryptoBackend`] uses jwt-compact's p256/rsa/ed25519.
//!
//! Backends only answer "does this signature verify under this key". Every rule about which
//! key, which algorithm and which signature encodings are acceptable is enforced by
//! [`crate::jwt::verify`] before a backend is asked.

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

/// Pure-Rust verification through jwt-compact.
#[derive(Debug, Default, Clone, Copy)]
pub struct RustCryptoBackend;

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
