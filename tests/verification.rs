#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Every verification rule of the spec, as a row of the fixture table (tokens made by jose).
//! Each named test below fails if the rule it names is removed from the verifier.

mod common;
use common::fixtures::*;
use edge_attest::keys::jwk::Alg;

fn expect(name: &str) {
    let c = case(name);
    let result = run(&token(name), &policy(), &keyset("jwks"));
    assert_eq!(
        outcome(&result),
        c["expect"].as_str().unwrap(),
        "case {name}: {result:?}"
    );
}

macro_rules! rule_tests {
    ($($name:ident),* $(,)?) => { $( #[test] fn $name() { expect(stringify!($name)); } )* };
}

rule_tests!(
    valid_es256,
    valid_rs256,
    valid_eddsa,
    valid_es256_high_s,
    valid_aud_array,
    valid_without_typ,
    valid_nbf_past,
    valid_exp_inside_skew,
    valid_iat_inside_skew,
    valid_nbf_inside_skew,
    too_large,
    two_segments,
    four_segments,
    empty_signature,
    padded_header,
    standard_alphabet_signature,
    non_canonical_header,
    whitespace_in_token,
    non_canonical_payload,
    padded_payload,
    header_not_object,
    header_not_json,
    payload_not_object,
    duplicate_header_key,
    duplicate_payload_key,
    duplicate_nested_key,
    kid_too_long,
    alg_none,
    alg_none_with_signature,
    hs256_public_key_as_secret,
    hs256_anon_key,
    alg_rs256_on_ec_key,
    alg_es256_on_rsa_key,
    alg_es384,
    header_crit,
    header_jku,
    header_x5u,
    header_jwk,
    header_x5c,
    typ_not_jwt,
    typ_lowercase,
    unknown_kid,
    kid_use_enc,
    kid_key_ops_encrypt,
    kid_weak_rsa,
    kid_hmac,
    signed_by_other_key,
    tampered_payload,
    tampered_signature,
    tampered_rs256,
    tampered_eddsa,
    es256_der_signature,
    es256_r_zero,
    es256_s_zero,
    es256_r_s_zero,
    es256_s_equals_n,
    es256_r_above_n,
    rs256_short_signature,
    iss_trailing_slash,
    iss_other_project,
    iss_missing,
    iss_array,
    aud_wrong,
    aud_array_without,
    aud_missing,
    aud_number,
    exp_missing,
    iat_missing,
    exp_string,
    exp_float,
    iat_string,
    nbf_string,
    exp_huge,
    expired_at_skew_boundary,
    expired_long_ago,
    iat_in_future,
    nbf_in_future,
    sub_empty,
    sub_missing,
    sub_number,
    role_anon,
    role_missing,
    role_service,
    is_anonymous_string,
    valid_anonymous,
    valid_long_subject,
    valid_no_kid,
    eddsa_not_in_default_list,
    valid_aal2,
    aal_missing,
    aal_not_a_level,
    aal_number,
    mfa_enrolled_aal1,
    mfa_enrolled_aal2,
    mfa_not_enrolled_aal1,
    mfa_enrolled_string,
    mfa_enrolled_user_written,
    valid_email_verified,
);

#[test]
fn every_fixture_row_has_a_named_test() {
    let src = include_str!("verification.rs");
    for c in fixtures()["cases"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        assert!(
            src.contains(&format!(" {name},")),
            "fixture {name} has no named test"
        );
    }
}

#[test]
fn eddsa_is_refused_by_the_default_algorithms() {
    let mut p = policy();
    p.algorithms = vec![Alg::Es256, Alg::Rs256];
    let r = run(&token("valid_eddsa"), &p, &keyset("jwks"));
    assert_eq!(outcome(&r), "alg_not_allowed");
    assert_eq!(
        outcome(&run(&token("valid_es256"), &p, &keyset("jwks"))),
        "ok"
    );
}

#[test]
fn anonymous_users_pass_when_allowed() {
    let mut p = policy();
    p.anonymous = None;
    assert_eq!(
        outcome(&run(&token("valid_anonymous"), &p, &keyset("jwks"))),
        "ok"
    );
}

/// The outcome of each named token under an assurance rule.
fn under(assurance: edge_attest::jwt::assurance::Assurance, names: &[(&str, &str)]) {
    let mut p = policy();
    p.assurance = assurance;
    for (name, expected) in names {
        let r = run(&token(name), &p, &keyset("jwks"));
        assert_eq!(outcome(&r), *expected, "{name}: {r:?}");
    }
}

#[test]
fn required_aal2_refuses_aal1_and_tokens_without_a_level() {
    use edge_attest::jwt::assurance::{Aal, Assurance};
    under(
        Assurance {
            required: Aal::Aal2,
            mfa_enrolled_claim: None,
        },
        &[
            ("valid_aal2", "ok"),
            ("mfa_enrolled_aal2", "ok"),
            ("valid_es256", "assurance"),
            ("aal_missing", "assurance"),
            ("mfa_not_enrolled_aal1", "assurance"),
        ],
    );
    let r = run(&token("valid_es256"), &policy(), &keyset("jwks")).unwrap();
    assert_eq!(r.aal(), Some(Aal::Aal1), "the verified level");
    let r = run(&token("aal_missing"), &policy(), &keyset("jwks")).unwrap();
    assert_eq!(r.aal(), None);
}

#[test]
fn an_enrolled_user_needs_aal2_and_the_enrolment_claim_must_be_a_boolean() {
    use edge_attest::jwt::assurance::{Aal, Assurance};
    use edge_attest::jwt::claims::ClaimPath;
    under(
        Assurance {
            required: Aal::Aal1,
            mfa_enrolled_claim: ClaimPath::parse("mfa_enrolled").ok(),
        },
        &[
            ("mfa_enrolled_aal2", "ok"),
            ("mfa_not_enrolled_aal1", "ok"),
            ("mfa_enrolled_aal1", "assurance"),
            ("mfa_enrolled_string", "assurance"),
            // No claim at all: the hook is not running. Not read as "no second factor".
            ("valid_es256", "assurance"),
            ("valid_aal2", "assurance"),
        ],
    );
}

#[test]
fn no_kid_uses_the_only_key() {
    let r = run(
        &token("valid_no_kid"),
        &policy(),
        &keyset("single_key_jwks"),
    );
    assert_eq!(outcome(&r), "ok");
}

#[test]
fn without_required_claims_no_role_is_checked() {
    let mut p = policy();
    p.required_claims.clear();
    assert_eq!(
        outcome(&run(&token("role_anon"), &p, &keyset("jwks"))),
        "ok"
    );
    assert_eq!(
        outcome(&run(&token("role_missing"), &p, &keyset("jwks"))),
        "ok"
    );
}

#[test]
fn skew_is_configurable_and_applied_once() {
    let mut p = policy();
    p.skew_secs = 0;
    for name in [
        "valid_exp_inside_skew",
        "valid_iat_inside_skew",
        "valid_nbf_inside_skew",
    ] {
        assert_ne!(
            outcome(&run(&token(name), &p, &keyset("jwks"))),
            "ok",
            "{name}"
        );
    }
}

#[test]
fn issuer_list_is_byte_exact_and_may_hold_several() {
    let mut p = policy();
    p.issuers = vec!["https://other".into(), format!("{}/", issuer())];
    assert_eq!(
        outcome(&run(&token("iss_trailing_slash"), &p, &keyset("jwks"))),
        "ok"
    );
    assert_eq!(
        outcome(&run(&token("valid_es256"), &p, &keyset("jwks"))),
        "issuer"
    );
}

#[test]
fn verified_token_exposes_subject_and_session() {
    let v = run(&token("valid_es256"), &policy(), &keyset("jwks")).unwrap();
    assert_eq!(v.subject(), "8d8a2b3c-3f0e-4d8e-9d7a-2f6f2c1a0b11");
    assert_eq!(
        v.claim("session_id").and_then(|c| c.as_str()),
        Some("0b6f8a52-5a7e-4a43-8d4e-1c9d3b2a7e10")
    );
    assert_eq!(v.expires_at(), now() + 3000);
    assert_eq!(v.alg(), Alg::Es256);
}

#[test]
fn verified_token_exposes_issuer_and_any_claim() {
    let v = run(&token("valid_es256"), &policy(), &keyset("jwks")).unwrap();
    assert_eq!(v.issuer(), issuer());
    assert_eq!(
        v.claim("email").and_then(|e| e.as_str()),
        Some("ada@example.com")
    );
    assert_eq!(v.claim("nope"), None);
}

/// `verify_ignoring_expiry` (for Stytch session JWTs) waives `exp` and nothing else.
#[test]
fn ignoring_expiry_waives_exp_only() {
    let ignoring = |name: &str| {
        let t = token(name);
        let u = edge_attest::jwt::token::UnverifiedToken::parse(&t).unwrap();
        let alg = policy().allowed_alg(&u).unwrap();
        let keys = keyset("jwks");
        let key = keys.select(u.header.kid.as_deref(), alg).unwrap();
        futures_executor::block_on(edge_attest::jwt::verify::verify_ignoring_expiry(
            u,
            key,
            &edge_attest::keys::crypto::RustCryptoBackend,
            &policy(),
            now(),
        ))
    };
    for name in ["expired_at_skew_boundary", "expired_long_ago"] {
        let v = ignoring(name).unwrap();
        assert!(
            edge_attest::jwt::verify::is_expired(v.expires_at(), now(), 30),
            "{name}"
        );
    }
    for (name, kind) in [
        ("tampered_signature", "bad_signature"),
        ("iss_other_project", "issuer"),
        ("aud_wrong", "audience"),
        ("nbf_in_future", "not_yet_valid"),
        ("iat_in_future", "issued_in_future"),
        ("exp_missing", "missing_claim"),
        ("exp_string", "bad_claim_type"),
        ("role_anon", "required_claim"),
    ] {
        assert_eq!(ignoring(name).err().map(|e| e.kind()), Some(kind), "{name}");
    }
}

#[test]
fn high_s_is_really_high() {
    // Guards the fixture itself: s must be above n/2 for the high-S row to mean anything.
    let t = token("valid_es256_high_s");
    let sig = edge_attest::formats::b64::decode(t.rsplit('.').next().unwrap()).unwrap();
    let half_n: [u8; 32] = [
        0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31,
        0x92, 0xa8,
    ];
    assert!(sig[32..] > half_n[..]);
}
