//! Test vectors from `tests/fixtures/tokens.json`, signed by jose and Node's WebCrypto
//! (see `tests/fixtures/generate.mjs`), never by this crate.

use edge_attest::jwt::token::UnverifiedToken;
use edge_attest::jwt::verify::{self, AnonymousRule, Policy, VerifiedToken, VerifyError};
use edge_attest::keys::crypto::RustCryptoBackend;
use edge_attest::keys::jwk::{Alg, KeySet};
use serde_json::Value;
use std::sync::OnceLock;

pub fn fixtures() -> &'static Value {
    static F: OnceLock<Value> = OnceLock::new();
    F.get_or_init(|| serde_json::from_str(include_str!("../fixtures/tokens.json")).unwrap())
}

pub fn now() -> i64 {
    fixtures()["now"].as_i64().unwrap()
}

pub fn issuer() -> String {
    fixtures()["issuer"].as_str().unwrap().to_owned()
}

pub fn jwks_json() -> String {
    fixtures()["jwks"].to_string()
}

pub fn keyset(which: &str) -> KeySet {
    KeySet::parse(fixtures()[which].to_string().as_bytes())
        .unwrap()
        .0
}

pub fn token(name: &str) -> String {
    case(name)["token"].as_str().unwrap().to_owned()
}

pub fn case(name: &str) -> &'static Value {
    fixtures()["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no fixture case {name}"))
}

/// A row of the session-JWT table (Stytch session JWTs signed by jose).
pub fn session_case(name: &str) -> &'static Value {
    fixtures()["stytch"]["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no session case {name}"))
}

/// That row's session JWT.
pub fn session_jwt(name: &str) -> String {
    session_case(name)["token"].as_str().unwrap().to_owned()
}

/// The policy the fixture expectations are written for: all three algorithms allowed.
pub fn policy() -> Policy {
    Policy {
        issuers: vec![issuer()],
        audiences: vec!["authenticated".into()],
        algorithms: vec![Alg::Es256, Alg::Rs256, Alg::EdDsa],
        skew_secs: 30,
        required_claims: vec![("role".into(), "authenticated".into())],
        anonymous: Some(AnonymousRule::SupabaseIsAnonymous),
        assurance: Default::default(),
    }
}

/// Parse, select the key as the worker does, verify with the pure-Rust backend.
pub fn run(token: &str, policy: &Policy, keys: &KeySet) -> Result<VerifiedToken, VerifyError> {
    let unverified = UnverifiedToken::parse(token)?;
    let alg = policy.allowed_alg(&unverified)?;
    let key = keys
        .select(unverified.header.kid.as_deref(), alg)
        .map_err(VerifyError::from)?;
    futures_executor::block_on(verify::verify(
        unverified,
        key,
        &RustCryptoBackend,
        policy,
        now(),
    ))
}

pub fn outcome(r: &Result<VerifiedToken, VerifyError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.kind(),
    }
}
