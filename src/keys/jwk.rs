//! Public keys from a JWKS, validated once when the set is loaded.
//!
//! Only what can verify a token survives loading: EC P-256, RSA of 2048 to 4096 bits with an
//! odd exponent of at least 3, and Ed25519 keys whose `use`, `key_ops` and `alg` allow
//! signature verification. Anything else (an unknown `kty`, bad base64, a wrong size, a
//! duplicated member inside the key) is skipped with a reason for the log, never fatal to the
//! rest of the set: each key is parsed on its own. The document itself is strict where it
//! matters: an object, one `keys` array, at most [`MAX_KEYS`] entries.

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
    /// Not a JSON object.
    NotJson,
    /// No `keys` array, or two.
    NoKeysArray,
    /// More entries than [`MAX_KEYS`].
    TooManyKeys(usize),
    /// Parsed, but no entry is usable for verification.
    NoUsableKeys,
}

impl fmt::Display for JwksParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotJson => f.write_str("JWKS is not a JSON object"),
            Self::NoKeysArray => f.write_str("JWKS has no single \"keys\" array"),
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
        let text = std::str::from_utf8(bytes).map_err(|_| JwksParseError::NotJson)?;
        if !text.trim_start().starts_with('{') {
            return Err(JwksParseError::NotJson);
        }
        // One `keys` array whose entries are parsed one by one. A second `keys` member is an
        // error; other members (Stytch adds `request_id`, `status_code`) are skipped.
        let entries = match json::pick_items(bytes, "keys") {
            Ok(Some(entries)) => entries,
            Ok(None) | Err(StrictJsonError::NotAnObject | StrictJsonError::DuplicateKey) => {
                return Err(JwksParseError::NoKeysArray);
            }
            Err(StrictJsonError::Syntax) => return Err(JwksParseError::NotJson),
        };
        if entries.len() > MAX_KEYS {
            return Err(JwksParseError::TooManyKeys(entries.len()));
        }
        let mut keys = Vec::with_capacity(entries.len());
        let mut skipped = Vec::new();
        for (i, entry) in entries.into_iter().enumerate() {
            // Each key as strictly as a token: a duplicated member makes it ambiguous, but
            // only that key.
            let parsed = match entry {
                Ok(Value::Object(jwk)) => {
                    parse_key(&jwk).map_err(|reason| (reason, jwk.get("kid").cloned()))
                }
                Err(StrictJsonError::DuplicateKey) => Err(("a member appears twice", None)),
                _ => Err(("not an object", None)),
            };
            match parsed {
                Ok(key) => keys.push(Rc::new(key)),
                Err((reason, kid)) => {
                    let kid = kid.as_ref().and_then(Value::as_str).unwrap_or("-");
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

fn parse_key(jwk: &Map<String, Value>) -> Result<PublicKey, &'static str> {
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
            // e = 1 makes every signature verify (s^1 = s); even exponents are not RSA.
            let exponent = e.iter().fold(0_u64, |acc, b| (acc << 8) | u64::from(*b));
            if e.is_empty() || e.len() > 4 || exponent < 3 || exponent % 2 == 0 {
                return Err("RSA exponent is not an odd number from 3 to 32 bits");
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
        assert_eq!(KeySet::parse(b"nope").err(), Some(JwksParseError::NotJson));
        assert_eq!(KeySet::parse(b"[]").err(), Some(JwksParseError::NotJson));
        assert_eq!(
            KeySet::parse(br#"{"keys":{}}"#).err(),
            Some(JwksParseError::NoKeysArray)
        );
        let two_arrays = format!(r#"{{"keys":[{EC}],"keys":[{EC}]}}"#);
        assert_eq!(
            KeySet::parse(two_arrays.as_bytes()).err(),
            Some(JwksParseError::NoKeysArray),
            "which of two key lists would count is ambiguous"
        );
    }

    #[test]
    fn one_bad_key_never_sinks_the_set() {
        let duplicated = with(r#""kid":"dup","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU""#);
        let nested = with(r#""kid":"nested","key_ops":[{"a":1,"a":2}]"#);
        let bad_b64 = r#"{"kty":"EC","crv":"P-256","kid":"b64","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVE=","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
        let short = r#"{"kty":"EC","crv":"P-256","kid":"short","x":"AAAA","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
        let unknown = r#"{"kty":"PQC","kid":"pq","pub":"AAAA"}"#;
        let not_object = r#"[1,2]"#;
        let good = with(r#""kid":"good""#);
        let (ks, skipped) = set(&[
            &duplicated,
            &nested,
            bad_b64,
            short,
            unknown,
            not_object,
            &good,
        ])
        .unwrap();
        assert_eq!(ks.keys().len(), 1);
        assert_eq!(ks.keys()[0].kid.as_deref(), Some("good"));
        assert_eq!(skipped.len(), 6, "{skipped:?}");
        assert!(
            skipped[0].contains("a member appears twice"),
            "{}",
            skipped[0]
        );
        assert!(
            skipped[1].contains("a member appears twice"),
            "{}",
            skipped[1]
        );
        assert!(skipped[2].contains("kid b64") && skipped[2].contains("base64url"));
        assert!(skipped[3].contains("wrong length"));
        assert!(skipped[4].contains("kty"));
        assert!(skipped[5].contains("not an object"));
    }

    #[test]
    fn rsa_exponents_must_be_odd_and_at_least_3() {
        let n = b64::encode(&[0xc5; 256]);
        let rsa = |e: &[u8]| {
            format!(
                r#"{{"kty":"RSA","kid":"r","n":"{n}","e":"{}"}}"#,
                b64::encode(e)
            )
        };
        for ok in [&[3][..], &[1, 0, 1], &[0, 0, 0, 3]] {
            assert_eq!(
                set(&[&rsa(ok)]).map(|(k, _)| k.keys().len()),
                Ok(1),
                "{ok:?}"
            );
        }
        for bad in [&[1][..], &[0, 1], &[2], &[1, 0, 0], &[1, 0, 0, 0, 1]] {
            assert_eq!(
                set(&[&rsa(bad)]).err(),
                Some(JwksParseError::NoUsableKeys),
                "{bad:?}"
            );
        }
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
