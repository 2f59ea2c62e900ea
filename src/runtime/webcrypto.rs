//! The crypto backend used in the worker: the runtime's WebCrypto, for signatures and for the
//! tags of KV entries.
//!
//! Keys are imported once per isolate and kept as `CryptoKey`s by fingerprint, so a warm
//! request pays only `crypto.subtle.verify` (about 75 µs for ES256 in workerd, against 241 µs
//! for the pure-Rust P-256 check natively, before WASM slows it down; docs/benchmarks.md).
//! The tag key is derived once per isolate too.

use crate::app::rehearsal;
use crate::formats::b64;
use crate::keys::crypto::{KeyImportError, SignatureBackend};
use crate::keys::integrity::{CacheSecret, EntryMac, MAC_LABEL, TAG_BYTES};
use crate::keys::jwk::{KeyMaterial, PublicKey};
use crate::runtime::promise::{js_message, settled};
use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;

/// Imported keys kept per isolate. Rotation adds a key every few months; the cap only
/// guards against a JWKS that churns.
const MAX_CACHED_KEYS: usize = 32;

#[wasm_bindgen]
extern "C" {
    /// `crypto.subtle`.
    #[derive(Debug, Clone)]
    type SubtleCrypto;

    #[wasm_bindgen(method, catch, js_name = importKey)]
    fn import_key(
        this: &SubtleCrypto,
        format: &str,
        key_data: &JsValue,
        algorithm: &JsValue,
        extractable: bool,
        usages: &JsValue,
    ) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn verify(
        this: &SubtleCrypto,
        algorithm: &JsValue,
        key: &JsValue,
        signature: &[u8],
        data: &[u8],
    ) -> Result<Promise, JsValue>;

}

/// WebCrypto verification with an isolate-wide `CryptoKey` cache.
#[derive(Debug)]
pub struct WebCryptoBackend {
    subtle: SubtleCrypto,
    /// By fingerprint. A list, not a map: it holds a handful (at most [`MAX_CACHED_KEYS`]),
    /// and a `HashMap` cost its hasher, random seeding and rehashing in the WASM.
    keys: RefCell<Vec<(String, JsValue)>>,
    ecdsa_sha256: JsValue,
    rsa_pkcs1: JsValue,
    ed25519: JsValue,
    verify_usage: JsValue,
    /// The start-up rehearsal's backend (src/app/rehearsal.rs): accepts the rehearsal's
    /// signature only, tags with zeros, and never calls WebCrypto (whose promises would not
    /// settle before the rehearsal ends). Only [`Self::for_rehearsal`] sets it.
    rehearsal: bool,
}

fn object(pairs: &[(&str, &str)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        // Setting a property on a fresh plain object cannot fail.
        let _ = Reflect::set(&o, &JsValue::from_str(k), &JsValue::from_str(v));
    }
    o.into()
}

impl WebCryptoBackend {
    /// Binds to `globalThis.crypto.subtle`.
    pub fn new() -> Result<Self, String> {
        let crypto =
            Reflect::get(&js_sys::global(), &"crypto".into()).map_err(|e| js_message(&e))?;
        let subtle = Reflect::get(&crypto, &"subtle".into()).map_err(|e| js_message(&e))?;
        if subtle.is_undefined() {
            return Err("crypto.subtle is not available".into());
        }
        Ok(Self {
            subtle: subtle.unchecked_into(),
            keys: RefCell::default(),
            ecdsa_sha256: object(&[("name", "ECDSA"), ("hash", "SHA-256")]),
            rsa_pkcs1: object(&[("name", "RSASSA-PKCS1-v1_5"), ("hash", "SHA-256")]),
            ed25519: object(&[("name", "Ed25519")]),
            verify_usage: Array::of1(&"verify".into()).into(),
            rehearsal: false,
        })
    }

    /// The start-up rehearsal's backend, with a key memory of its own.
    pub(crate) fn for_rehearsal() -> Result<Self, String> {
        Self::new().map(|b| Self {
            rehearsal: true,
            ..b
        })
    }

    async fn crypto_key(&self, key: &PublicKey) -> Result<JsValue, KeyImportError> {
        if let Some((_, k)) = self
            .keys
            .borrow()
            .iter()
            .find(|(fingerprint, _)| *fingerprint == key.fingerprint)
        {
            return Ok(k.clone());
        }
        let fail = |e: JsValue| KeyImportError(js_message(&e));
        let promise = match &key.material {
            KeyMaterial::P256 { x, y } => {
                let raw: Vec<u8> = std::iter::once(4)
                    .chain(x.iter().copied())
                    .chain(y.iter().copied())
                    .collect();
                let alg = object(&[("name", "ECDSA"), ("namedCurve", "P-256")]);
                self.subtle.import_key(
                    "raw",
                    &Uint8Array::from(raw.as_slice()).into(),
                    &alg,
                    false,
                    &self.verify_usage,
                )
            }
            KeyMaterial::Rsa { n, e } => {
                let jwk = object(&[
                    ("kty", "RSA"),
                    ("n", &b64::encode(n)),
                    ("e", &b64::encode(e)),
                ]);
                self.subtle
                    .import_key("jwk", &jwk, &self.rsa_pkcs1, false, &self.verify_usage)
            }
            KeyMaterial::Ed25519 { x } => self.subtle.import_key(
                "raw",
                &Uint8Array::from(&x[..]).into(),
                &self.ed25519,
                false,
                &self.verify_usage,
            ),
        }
        .map_err(fail)?;
        let crypto_key = settled(&promise).await.map_err(fail)?;
        let mut keys = self.keys.borrow_mut();
        if keys.len() >= MAX_CACHED_KEYS {
            keys.clear();
        }
        keys.push((key.fingerprint.clone(), crypto_key.clone()));
        Ok(crypto_key)
    }
}

impl SignatureBackend for WebCryptoBackend {
    async fn verify(
        &self,
        key: &PublicKey,
        message: &[u8],
        signature: &[u8],
    ) -> Result<bool, KeyImportError> {
        if self.rehearsal {
            return Ok(rehearsal::is_signature(signature));
        }
        let crypto_key = self.crypto_key(key).await?;
        let alg = match key.material {
            KeyMaterial::P256 { .. } => &self.ecdsa_sha256,
            KeyMaterial::Rsa { .. } => &self.rsa_pkcs1,
            KeyMaterial::Ed25519 { .. } => &self.ed25519,
        };
        // WebCrypto copies both byte views synchronously, before the promise is returned.
        let Ok(promise) = self.subtle.verify(alg, &crypto_key, signature, message) else {
            return Ok(false);
        };
        Ok(settled(&promise)
            .await
            .is_ok_and(|v| v.as_bool() == Some(true)))
    }
}

#[wasm_bindgen(module = "/src/runtime/glue.js")]
extern "C" {
    /// HKDF-SHA256 then HMAC-SHA256 in one crossing, the derived key kept in JS for the
    /// isolate: a promise of the 32-byte tag.
    #[wasm_bindgen(catch)]
    fn entry_tag(secret: &str, info: &str, message: &[u8]) -> Result<Promise, JsValue>;
}

impl EntryMac for WebCryptoBackend {
    async fn tag(&self, secret: &CacheSecret, message: &[u8]) -> Result<[u8; TAG_BYTES], String> {
        if self.rehearsal {
            return Ok([0; TAG_BYTES]);
        }
        let fail = |e: JsValue| js_message(&e);
        let promise = entry_tag(secret.as_str(), MAC_LABEL, message).map_err(fail)?;
        let tag = settled(&promise).await.map_err(fail)?;
        <[u8; TAG_BYTES]>::try_from(Uint8Array::new(&tag).to_vec())
            .map_err(|_| "HMAC answered a tag of another length".to_owned())
    }
}
