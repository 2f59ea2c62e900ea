//! Native micro-benchmark of the pure-Rust core: `cargo run --release --example bench_core`.
//! Prints µs per operation (median of rounds) for parsing and claim checks alone, and for the
//! full verification with the pure-Rust signature backend, over the jose-signed fixtures.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use edge_attest::jwt::token::UnverifiedToken;
use edge_attest::jwt::verify::{self, AnonymousRule, Policy};
use edge_attest::keys::crypto::{KeyImportError, RustCryptoBackend, SignatureBackend};
use edge_attest::keys::jwk::{Alg, KeySet, PublicKey};
use std::hint::black_box;
use std::time::Instant;

/// Accepts every signature: isolates parsing, key selection and claims from the crypto.
struct NoCrypto;

impl SignatureBackend for NoCrypto {
    async fn verify(&self, _: &PublicKey, _: &[u8], _: &[u8]) -> Result<bool, KeyImportError> {
        Ok(true)
    }
}

fn main() {
    let fixtures: serde_json::Value =
        serde_json::from_str(include_str!("../tests/fixtures/tokens.json")).unwrap();
    let keys = KeySet::parse(fixtures["jwks"].to_string().as_bytes())
        .unwrap()
        .0;
    let now = fixtures["now"].as_i64().unwrap();
    let policy = Policy {
        issuers: vec![fixtures["issuer"].as_str().unwrap().to_owned()],
        audiences: vec!["authenticated".into()],
        algorithms: vec![Alg::Es256, Alg::Rs256, Alg::EdDsa],
        skew_secs: 30,
        required_claims: vec![("role".into(), "authenticated".into())],
        anonymous: Some(AnonymousRule::SupabaseIsAnonymous),
        assurance: Default::default(),
    };
    let token = |name: &str| {
        fixtures["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    println!("native core, µs per operation (median of 15 rounds)");
    println!("  token   parse+claims (no crypto)   full verify (pure Rust)");
    for name in ["valid_es256", "valid_rs256", "valid_eddsa"] {
        let t = token(name);
        let once = |backend: &dyn Fn(UnverifiedToken<'_>, &PublicKey) -> bool| {
            let u = UnverifiedToken::parse(black_box(&t)).unwrap();
            let alg = policy.allowed_alg(&u).unwrap();
            let key = keys.select(u.header.kid.as_deref(), alg).unwrap();
            assert!(backend(u, key));
        };
        let no_crypto = |u: UnverifiedToken<'_>, k: &PublicKey| {
            futures_executor::block_on(verify::verify(u, k, &NoCrypto, &policy, now)).is_ok()
        };
        let rust = |u: UnverifiedToken<'_>, k: &PublicKey| {
            futures_executor::block_on(verify::verify(u, k, &RustCryptoBackend, &policy, now))
                .is_ok()
        };
        let a = time(|| once(&no_crypto));
        let b = time(|| once(&rust));
        println!(
            "  {:<8}{a:>14.2}{b:>28.1}",
            name.trim_start_matches("valid_")
        );
    }
}

fn time(mut f: impl FnMut()) -> f64 {
    // Calibrate to about 20 ms per round, then take the median of 15 rounds.
    let mut n = 1_u32;
    loop {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        if t.elapsed().as_millis() >= 20 {
            break;
        }
        n *= 2;
    }
    let mut rounds: Vec<f64> = (0..15)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[7]
}
