//! Public keys from a JWKS, validated once when the set is loaded.
//!
//! Only what can verify a Supabase access token survives loading: EC P-256, RSA of 2048 to
//! 4096 bits and Ed25519 keys whose `use`, `key_ops` and `alg` allow signature verification.
//! Anything else is skipped with a reason (for the log), never fatal to the rest of the set.

use crate::formats::b64;
use crate::formats::json::{self, StrictJsonError};
use serde_json::{Map, Value};
use std::fmt;
use std::rc::Rc;

/// Most keys a JWKS may hold. Supabase publishes a handful (current, standby, previous); a
/// bigger set is more likely an attack on CPU and memory than a real rotation.
pub const MAX_KEYS: usize = 16;
/// RSA moduli outside this range are refused (RFC 7518 §3.3 asks for at least 2048 bits;
/// over 4096 bits only costs CPU).
pub const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=4096;

/// The signature algorithms this worker can verify. HMAC and `none` do not exist here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// ECDSA P-256 with SHA-256; Supabase's recommended algorithm.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// Ed25519.
    EdDsa,
}

impl Alg {
    /// The algorithm named by a JOSE `alg` value, if it is one of ours.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "ES256" => Some(Self::Es256),
            "RS256" => Some(Self::Rs256),
            "EdDSA" => Some(Self::EdDsa),
            _ => None,
        }
    }

    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
            Self::EdDsa => "EdDSA",
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Key material, already decoded and size-checked.
#[derive(Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    /// Uncompressed P-256 point coordinates.
    P256 { x: [u8; 32], y: [u8; 32] },
    /// RSA modulus and exponent, big-endian without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// Ed25519 public key.
    Ed25519 { x: [u8; 32] },
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::P256 { .. } => f.write_str("P256"),
            Self::Rsa { n, .. } => write!(f, "Rsa({} bits)", n.len() * 8),
            Self::Ed25519 { .. } => f.write_str("Ed25519"),
        }
    }
}

impl KeyMaterial {
    /// The only algorithm this key may verify: the key decides, never the token header.
    pub fn alg(&self) -> Alg {
        match self {
            Self::P256 { .. } => Alg::Es256,
            Self::Rsa { .. } => Alg::Rs256,
            Self::Ed25519 { .. } => Alg::EdDsa,
        }
    }
}

/// One usable verification key from the JWKS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// The key's `kid`, if it has one.
    pub kid: Option<String>,
    /// Decoded key material.
    pub material: KeyMaterial,
    /// A stable identity of the material, used to cache imported keys across refetches.
    pub fingerprint: String,
}

/// The usable keys of one JWKS document. Keys are shared (`Rc`) so that handing one to a
/// request costs no copy of its material.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySet {
    keys: Vec<Rc<PublicKey>>,
}

/// Why a JWKS document as a whole was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksParseError {
    /// Not a JSON object (or has duplicate members).
    NotJson(StrictJsonError),
    /// No `keys` array.
    NoKeysArray,
    /// More entries than [`MAX_KEYS`].
    TooManyKeys(usize),
    /// Parsed, but no entry is usable for verification.
    NoUsableKeys,
}

impl fmt::Display for JwksParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotJson(e) => write!(f, "JWKS is not a JSON object ({e:?})"),
            Self::NoKeysArray => f.write_str("JWKS has no \"keys\" array"),
            Self::TooManyKeys(n) => write!(f, "JWKS has {n} keys, more than {MAX_KEYS}"),
            Self::NoUsableKeys => f.write_str("JWKS has no usable verification key"),
        }
    }
}

/// Why a key selected by a token cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLookupError {
    /// The token names a `kid` the set does not hold (a refetch may find it).
    UnknownKid,
    /// The token has no `kid` and the set holds more or fewer than one key.
    NoKidAmbiguous,
    /// The key exists, but its type cannot verify the header's `alg`.
    AlgMismatch,
}

impl KeySet {
    /// Parses a JWKS document, keeping the usable keys and reporting skipped ones.
    pub fn parse(bytes: &[u8]) -> Result<(Self, Vec<String>), JwksParseError> {
        let doc = json::parse_object(bytes).map_err(JwksParseError::NotJson)?;
        let Some(Value::Array(entries)) = doc.get("keys") else {
            return Err(JwksParseError::NoKeysArray);
        };
        if entries.len() > MAX_KEYS {
            return Err(JwksParseError::TooManyKeys(entries.len()));
        }
        let mut keys = Vec::with_capacity(entries.len());
        let mut skipped = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            match parse_key(entry) {
                Ok(key) => keys.push(Rc::new(key)),
                Err(reason) => {
                    let kid = entry.get("kid").and_then(Value::as_str).unwrap_or("-");
                    let kid: String = kid.chars().take(64).collect();
                    skipped.push(format!("key #{i} (kid {kid}): {reason}"));
                }
            }
        }
        if keys.is_empty() {
            return Err(JwksParseError::NoUsableKeys);
        }
        Ok((Self { keys }, skipped))
    }

    /// The usable keys.
    pub fn keys(&self) -> &[Rc<PublicKey>] {
        &self.keys
    }

    /// Picks the key for a token: by `kid`, or the only key when the token has none. The
    /// header `alg` must be what the chosen key verifies.
    pub fn select(&self, kid: Option<&str>, alg: Alg) -> Result<&Rc<PublicKey>, KeyLookupError> {
        let key = match kid {
            Some(kid) => {
                let mut named = self.keys.iter().filter(|k| k.kid.as_deref() == Some(kid));
                let first = named.next().ok_or(KeyLookupError::UnknownKid)?;
                // Two keys under one kid: take the one whose type fits, if any.
                std::iter::once(first)
                    .chain(named)
                    .find(|k| k.material.alg() == alg)
                    .unwrap_or(first)
            }
            None => match self.keys.as_slice() {
                [only] => only,
                _ => return Err(KeyLookupError::NoKidAmbiguous),
            },
        };
        if key.material.alg() == alg {
            Ok(key)
        } else {
            Err(KeyLookupError::AlgMismatch)
        }
    }
}

fn parse_key(entry: &Value) -> Result<PublicKey, &'static str> {
    let Value::Object(jwk) = entry else {
        return Err("not an object");
    };
    let kid = match jwk.get("kid") {
        None => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(_) => return Err("kid is not a non-empty string"),
    };
    match jwk.get("use") {
        None => {}
        Some(Value::String(u)) if u == "sig" => {}
        Some(_) => return Err("use is not \"sig\""),
    }
    match jwk.get("key_ops") {
        None => {}
        Some(Value::Array(ops)) if ops.iter().any(|o| o.as_str() == Some("verify")) => {}
        Some(_) => return Err("key_ops does not include \"verify\""),
    }
    if jwk.contains_key("d") || jwk.contains_key("p") || jwk.contains_key("k") {
        return Err("holds private or secret key material");
    }
    let material = match str_field(jwk, "kty")? {
        "EC" => {
            if str_field(jwk, "crv")? != "P-256" {
                return Err("EC curve is not P-256");
            }
            KeyMaterial::P256 {
                x: fixed_b64(jwk, "x")?,
                y: fixed_b64(jwk, "y")?,
            }
        }
        "RSA" => {
            let n = strip_zeros(b64_field(jwk, "n")?);
            let e = strip_zeros(b64_field(jwk, "e")?);
            let bits = bit_len(&n);
            if !RSA_BITS.contains(&bits) {
                return Err("RSA modulus is not 2048..4096 bits");
            }
            if e.is_empty() || e.len() > 4 || e.last().is_some_and(|b| b & 1 == 0) {
                return Err("RSA exponent is not an odd number of at most 32 bits");
            }
            KeyMaterial::Rsa { n, e }
        }
        "OKP" => {
            if str_field(jwk, "crv")? != "Ed25519" {
                return Err("OKP curve is not Ed25519");
            }
            KeyMaterial::Ed25519 {
                x: fixed_b64(jwk, "x")?,
            }
        }
        _ => return Err("kty is not EC, RSA or OKP"),
    };
    match jwk.get("alg") {
        None => {}
        Some(Value::String(a)) if Alg::from_name(a) == Some(material.alg()) => {}
        Some(_) => return Err("alg does not fit the key type"),
    }
    let fingerprint = fingerprint(&material);
    Ok(PublicKey {
        kid,
        material,
        fingerprint,
    })
}

fn fingerprint(material: &KeyMaterial) -> String {
    match material {
        KeyMaterial::P256 { x, y } => format!("EC:{}:{}", b64::encode(x), b64::encode(y)),
        KeyMaterial::Rsa { n, e } => format!("RSA:{}:{}", b64::encode(n), b64::encode(e)),
        KeyMaterial::Ed25519 { x } => format!("OKP:{}", b64::encode(x)),
    }
}

fn str_field<'a>(jwk: &'a Map<String, Value>, name: &str) -> Result<&'a str, &'static str> {
    jwk.get(name)
        .and_then(Value::as_str)
        .ok_or("a required member is missing or not a string")
}

fn b64_field(jwk: &Map<String, Value>, name: &str) -> Result<Vec<u8>, &'static str> {
    b64::decode(str_field(jwk, name)?).ok_or("a member is not strict base64url")
}

fn fixed_b64<const N: usize>(
    jwk: &Map<String, Value>,
    name: &str,
) -> Result<[u8; N], &'static str> {
    b64_field(jwk, name)?
        .try_into()
        .map_err(|_| "a coordinate has the wrong length")
}

fn strip_zeros(mut v: Vec<u8>) -> Vec<u8> {
    let zeros = v.iter().take_while(|b| **b == 0).count();
    v.drain(..zeros);
    v
}

fn bit_len(n: &[u8]) -> usize {
    n.first()
        .map_or(0, |top| n.len() * 8 - top.leading_zeros() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EC: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;

    fn set(entries: &[&str]) -> Result<(KeySet, Vec<String>), JwksParseError> {
        KeySet::parse(format!(r#"{{"keys":[{}]}}"#, entries.join(",")).as_bytes())
    }

    fn with(extra: &str) -> String {
        format!("{},{extra}}}", EC.trim_end_matches('}'))
    }

    #[test]
    fn keeps_usable_keys_and_skips_the_rest() {
        let bad_use = with(r#""kid":"a","use":"enc""#);
        let bad_ops = with(r#""kid":"b","key_ops":["sign"]"#);
        let bad_alg = with(r#""kid":"c","alg":"RS256""#);
        let private = with(r#""kid":"d","d":"AAAA""#);
        let good = with(r#""kid":"e","use":"sig","key_ops":["verify"],"alg":"ES256""#);
        let (ks, skipped) = set(&[
            &bad_use,
            &bad_ops,
            &bad_alg,
            &private,
            &good,
            r#"{"kty":"oct","k":"AA"}"#,
        ])
        .unwrap_or_default();
        assert_eq!(ks.keys().len(), 1);
        assert_eq!(ks.keys()[0].kid.as_deref(), Some("e"));
        assert_eq!(skipped.len(), 5);
    }

    #[test]
    fn refuses_sets_that_are_too_big_empty_or_not_json() {
        let many: Vec<String> = (0..17).map(|i| with(&format!(r#""kid":"{i}""#))).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(set(&refs).err(), Some(JwksParseError::TooManyKeys(17)));
        assert_eq!(set(&[]).err(), Some(JwksParseError::NoUsableKeys));
        assert_eq!(
            KeySet::parse(b"{}").err(),
            Some(JwksParseError::NoKeysArray)
        );
        assert!(matches!(
            KeySet::parse(b"nope"),
            Err(JwksParseError::NotJson(_))
        ));
    }

    #[test]
    fn the_key_decides_the_algorithm() {
        let (ks, _) = set(&[&with(r#""kid":"e""#)]).unwrap_or_default();
        assert!(ks.select(Some("e"), Alg::Es256).is_ok());
        assert_eq!(
            ks.select(Some("e"), Alg::Rs256),
            Err(KeyLookupError::AlgMismatch)
        );
        assert_eq!(
            ks.select(Some("x"), Alg::Es256),
            Err(KeyLookupError::UnknownKid)
        );
        assert!(
            ks.select(None, Alg::Es256).is_ok(),
            "one key and no kid: that key"
        );
        let (two, _) = set(&[&with(r#""kid":"e""#), &with(r#""kid":"f""#)]).unwrap_or_default();
        assert_eq!(
            two.select(None, Alg::Es256),
            Err(KeyLookupError::NoKidAmbiguous)
        );
    }
}
