//! The properties every fuzz target checks, shared by the libFuzzer targets
//! (`fuzz/fuzz_targets/*.rs`, `make fuzz`) and the native smoke in `cargo test`
//! (`tests/fuzz_smoke.rs`), which includes this file with `#[path]`.
//!
//! Each function takes arbitrary bytes and panics when a property fails: never a panic of the
//! code under test, never an acceptance the strict rules refuse, and (libFuzzer's `-timeout`)
//! time bounded by the input's size.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use edge_attest::cookies::{find_cookie, is_cookie_value};
use edge_attest::http::wire::{self, ABSENT};
use edge_attest::http::{IncomingRequest, OutboundResponse, REQUEST_HEADERS};
use edge_attest::jwt::token::{MAX_KID_BYTES, MAX_TOKEN_BYTES, UnverifiedToken};
use edge_attest::jwt::verify::{self, AnonymousRule, Policy};
use edge_attest::keys::crypto::RustCryptoBackend;
use edge_attest::keys::jwk::{Alg, KeyMaterial, KeySet, MAX_KEYS, RSA_BITS};
use edge_attest::stytch::api::read_session_answer;
use edge_attest::stytch::organization::is_organization_ref;
use edge_attest::stytch::project::Product;
use serde_json::Value;
use std::sync::OnceLock;

/// The fixture table: test-only keys and tokens signed by jose.
pub fn fixtures() -> &'static Value {
    static F: OnceLock<Value> = OnceLock::new();
    F.get_or_init(|| serde_json::from_str(include_str!("../tests/fixtures/tokens.json")).unwrap())
}

fn policy() -> Policy {
    Policy {
        issuers: vec![fixtures()["issuer"].as_str().unwrap().to_owned()],
        audiences: vec!["authenticated".into()],
        algorithms: vec![Alg::Es256, Alg::Rs256, Alg::EdDsa],
        skew_secs: 30,
        required_claims: vec![("role".into(), "authenticated".into())],
        anonymous: Some(AnonymousRule::SupabaseIsAnonymous),
        assurance: Default::default(),
    }
}

/// The fixture tokens that verify: the only ones any input may verify as, since nothing
/// else carries a signature of the fixture keys.
fn valid_tokens() -> &'static Vec<String> {
    static V: OnceLock<Vec<String>> = OnceLock::new();
    V.get_or_init(|| {
        fixtures()["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["token"].as_str().unwrap().to_owned())
            .filter(|t| verifies(t))
            .collect()
    })
}

thread_local! {
    static KEYS: KeySet = KeySet::parse(fixtures()["jwks"].to_string().as_bytes()).unwrap().0;
}

fn verifies(text: &str) -> bool {
    let Ok(token) = UnverifiedToken::parse(text) else {
        return false;
    };
    let policy = policy();
    let Ok(alg) = policy.allowed_alg(&token) else {
        return false;
    };
    let Ok(key) = KEYS.with(|k| k.select(token.header.kid.as_deref(), alg).cloned()) else {
        return false;
    };
    let now = fixtures()["now"].as_i64().unwrap();
    futures_executor::block_on(verify::verify(
        token,
        &key,
        &RustCryptoBackend,
        &policy,
        now,
    ))
    .is_ok()
}

/// The token parser and verifier: a parsed token has the strict shape; a token that verifies
/// is one of the fixture's valid tokens, byte for byte.
pub fn token(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = UnverifiedToken::parse(text) else {
        return;
    };
    assert!(text.len() <= MAX_TOKEN_BYTES);
    assert_eq!(text.split('.').count(), 3);
    assert!(
        text.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.'),
        "only base64url segments parse"
    );
    if let Some(kid) = &parsed.header.kid {
        assert!(!kid.is_empty() && kid.len() <= MAX_KID_BYTES);
    }
    if verifies(text) {
        assert!(
            valid_tokens().iter().any(|t| t == text),
            "accepted a token no fixture key signed: {text}"
        );
    }
}

/// The key-set parser: whatever it keeps is usable and within bounds.
pub fn jwks(data: &[u8]) {
    let Ok((set, skipped)) = KeySet::parse(data) else {
        return;
    };
    assert!(!set.keys().is_empty() && set.keys().len() <= MAX_KEYS);
    assert!(set.keys().len() + skipped.len() <= MAX_KEYS);
    for key in set.keys() {
        if let KeyMaterial::Rsa { n, e } = &key.material {
            let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
            assert!(RSA_BITS.contains(&bits), "{bits}-bit modulus kept");
            let exponent = e.iter().fold(0_u64, |a, b| (a << 8) | u64::from(*b));
            assert!(
                exponent >= 3 && exponent % 2 == 1,
                "exponent {exponent} kept"
            );
        }
        assert!(key.kid.as_ref().is_none_or(|k| !k.is_empty()));
    }
    for reason in &skipped {
        assert!(reason.len() < 256, "a skip note is bounded: {reason}");
    }
}

/// The `Cookie` header parser: a found value is a non-empty piece of the header, without the
/// separators, and `find_cookie` never panics.
pub fn cookie(data: &[u8]) {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    for name in ["stytch_session", "stytch_session_jwt", "a", ""] {
        if let Some(value) = find_cookie(header, name) {
            assert!(!value.is_empty());
            assert!(header.contains(value));
            assert!(!value.contains(';'));
            assert_eq!(value, value.trim());
            assert!(!value.starts_with('"') && !value.ends_with('"'));
        }
    }
}

/// The one-crossing head format and the request flow behind it: any head the runtime could
/// hand over, with any body, is split without panicking and answered with a documented
/// status and a well-formed JSON body, and no header line break is ever written.
pub fn request_head(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let names: Vec<&'static str> = REQUEST_HEADERS
        .iter()
        .copied()
        .chain(wire::BODY_HEADERS)
        .collect();
    let (method, url, headers) = wire::split_request_head(head, &names);
    assert!(headers.len() <= names.len());
    for (name, value) in &headers {
        assert!(names.contains(&name.as_str()));
        assert_ne!(value, ABSENT);
    }
    if let Some(n) = wire::exact_length(&headers) {
        let declared = headers.iter().find(|(k, _)| k == "content-length").unwrap();
        assert_eq!(declared.1.trim().parse::<usize>().ok(), Some(n));
    }
    let world = crate::common::fakes::World::new();
    world.stytch_ok();
    let response = world.run(IncomingRequest {
        method,
        url,
        headers,
        body: body.as_bytes().to_vec(),
    });
    assert!(
        [
            200, 204, 400, 401, 403, 404, 405, 413, 415, 429, 500, 502, 503, 504
        ]
        .contains(&response.status),
        "undocumented status {}",
        response.status
    );
    assert!(
        wire::header_lines(
            response
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
        )
        .is_some(),
        "a line break in an answer header"
    );
    if response.status != 204 {
        let body: Value = serde_json::from_str(&response.body).expect("a JSON body");
        if response.status >= 400 {
            assert!(body["error"].is_string() && body["error_description"].is_string());
        }
    }
}

/// The Stytch answer parser, consumer and B2B: whatever it accepts is safe to put in cookies,
/// bodies and logs.
pub fn stytch_answer(data: &[u8]) {
    let (status_byte, body) = data.split_first().unwrap_or((&0, &[]));
    let status = [200, 200, 200, 400, 401, 404, 429, 500][usize::from(*status_byte % 8)];
    let product = if status_byte & 0x80 == 0 {
        Product::Consumer
    } else {
        Product::B2b
    };
    let resp = OutboundResponse {
        status,
        headers: vec![(
            "retry-after".into(),
            String::from_utf8_lossy(body).chars().take(8).collect(),
        )],
        body: body.to_vec(),
    };
    let (result, request_id) = read_session_answer(&resp, product);
    let clean = |s: &str| {
        !s.is_empty()
            && s.len() <= 96
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    };
    if let Some(id) = &request_id {
        assert!(clean(id));
    }
    match result {
        Ok(session) => {
            assert_eq!(status, 200);
            assert!(clean(&session.user_id) && clean(&session.session_id));
            assert!(is_cookie_value(&session.session_token) && !session.session_token.is_empty());
            assert!(is_cookie_value(&session.session_jwt) && !session.session_jwt.is_empty());
            assert_eq!(
                edge_attest::formats::time::parse_rfc3339(&session.expires_at),
                Some(session.expires_at_unix)
            );
            // A member session always names its organization, a user session never does.
            match (&session.organization, product) {
                (Some(org), Product::B2b) => {
                    assert!(clean(&org.id));
                    assert!(org.slug.as_deref().is_none_or(is_organization_ref));
                }
                (None, Product::Consumer) => {}
                other => panic!("organization {other:?}"),
            }
        }
        Err(e) => {
            if let Some(t) = e.error_type() {
                assert!(clean(t));
            }
        }
    }
}

/// A property: panics when the input breaks it.
pub type Property = fn(&[u8]);

/// Every target, by name: for the smoke test and for seeding.
pub const TARGETS: [(&str, Property); 5] = [
    ("token", token),
    ("jwks", jwks),
    ("cookie", cookie),
    ("request_head", request_head),
    ("stytch_answer", stytch_answer),
];
