#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! A short smoke of every fuzz target in `cargo test`: the properties of
//! `fuzz/properties.rs` over seeds made from the fixtures, over every input kept under
//! `fuzz/regressions/<target>/` (crashes found by `make fuzz`, kept as regression tests), and
//! over a fixed number of deterministic mutations of the seeds. `make fuzz` runs the same
//! properties under libFuzzer, coverage-guided, for longer.

mod common;
#[path = "../fuzz/properties.rs"]
mod properties;

use common::fakes::attest_body;
use properties::{TARGETS, fixtures};
use std::path::Path;

/// Mutations per seed in the smoke.
const MUTATIONS_PER_SEED: usize = 40;

/// Inputs that exercise each target's interesting paths, built from the fixture table.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let f = fixtures();
    let tokens = || {
        f["cases"]
            .as_array()
            .unwrap()
            .iter()
            .chain(f["stytch"]["cases"].as_array().unwrap())
            .map(|c| c["token"].as_str().unwrap().to_owned())
    };
    let valid = tokens().next().unwrap();
    match target {
        "token" => tokens().map(String::into_bytes).collect(),
        "jwks" => [
            f["jwks"].to_string(),
            f["single_key_jwks"].to_string(),
            f["rotated_jwks"].to_string(),
            f["stytch"]["jwks"].to_string(),
            r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"a","kid":"b","x":"AA","y":"AA"}]}"#.into(),
            r#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQ"}],"keys":[]}"#.into(),
        ]
        .into_iter()
        .map(String::into_bytes)
        .collect(),
        "cookie" => [
            format!("theme=dark; stytch_session=abc; stytch_session_jwt={valid}"),
            "stytch_session=\"quoted\"; a=1;;; =x; stytch_session=".into(),
            "a".into(),
        ]
        .into_iter()
        .map(String::into_bytes)
        .collect(),
        "request_head" => {
            let body = format!(r#"{{"access_token":"{valid}"}}"#);
            [
                format!(
                    "POST\nhttps://app.example.com/api/exchange\nhttps://app.example.com\napplication/json\n{}\n\0\nstytch_session=a\n\0\n\n{body}",
                    body.len()
                ),
                format!("POST\nhttps://app.example.com/api/exchange\n\0\n\0\n\0\nBearer {valid}\n\0\ngzip\n\n"),
                "GET\nhttps://app.example.com/api/session\n\0\n\0\n\0\n\0\nstytch_session_jwt=x.y.z\n\0".into(),
                "OPTIONS\nhttps://app.example.com/api/logout\nhttp://localhost:5173".into(),
                "GET\nhttps://app.example.com/healthz".into(),
            ]
            .into_iter()
            .map(String::into_bytes)
            .collect()
        }
        "stytch_answer" => {
            let ok = attest_body(1_790_003_600).to_string();
            let error = r#"{"status_code":404,"request_id":"request-id-test-1","error_type":"session_not_found"}"#;
            [
                [&[0_u8][..], ok.as_bytes()].concat(),
                [&[5_u8][..], error.as_bytes()].concat(),
                [&[6_u8][..], b"{}".as_slice()].concat(),
            ]
            .to_vec()
        }
        "gateway_path" => {
            let paths = [
                "/v1/items:purge", "/v1/items%3Apurge", "/v1/items%3alist", "/V1/x", "//v1/x",
                "/%40admin/x", "/@admin/x", "/odata/%24batch", "/Account/Login", "/account/login",
                "/public/x", "/PUBLIC/x", "/%70ublic/x", "/public/..%2Fx", "/admin/x",
                "/ADMIN/x", "/adm%C4%B0n/x", "/admin%20/x", "/admin./x", "/admin%3Fx",
                "/settings", "/settings/", "/api/x", "/docs/a", "/hooks/b", "/a;b/c",
                "/a\\b", "/x/%2e%2e/admin", "/caf%C3%A9",
            ];
            let mut out = Vec::new();
            for (layout, method) in [(0u8, 0u8), (1, 1), (2, 2), (0, 4), (1, 5)] {
                for p in paths {
                    out.push([&[layout, method][..], p.as_bytes()].concat());
                }
            }
            out
        }
        "gateway_request_head" => {
            let head = "cookie: a=1; stytch_session=t; stytch_session_jwt=j\nconnection: keep-alive, Edge-Attest-Jwt, x-a\nx-a: 1\nedge_attest_user_id: forged\nEdge.Attest.Aal: aal2\nx-http-method-override: DELETE\nx-forwarded-host: evil\nupgrade: websocket\nauthorization: Bearer x\ncontent-length: 3\nte: trailers\naccept: */*";
            (0..=255u8)
                .step_by(17)
                .map(|flags| [&[flags][..], head.as_bytes()].concat())
                .collect()
        }
        "gateway_set_cookie" => [
            "=stytch_session_jwt=x; Path=/app",
            " stytch_session =x",
            "STYTCH_SESSION_JWT=x",
            "stytch_session_jwt",
            "a=1, stytch_session_jwt=x\nset-cookie: app=1\nedge-attest-user-id: echoed\nconnection: x-y\nx-y: 1",
            "app=1; Path=/",
        ]
        .into_iter()
        .map(|s| s.as_bytes().to_vec())
        .collect(),
        "gateway_bearer" => [
            "Bearer JWT", "bearer  JWT ", "Bearer", "Bearer ", "Basic JWT", "Bearer JWT, Bearer JWT",
            "JWT", "Bearer a b",
        ]
        .into_iter()
        .enumerate()
        .map(|(i, s)| [&[(i as u8) * 4][..], s.as_bytes()].concat())
        .collect(),
        other => panic!("no seeds for {other}"),
    }
}

/// The inputs `make fuzz` found failing once, kept so they never fail again.
fn regressions(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return vec![];
    };
    entries
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect()
}

/// xorshift64*: deterministic, so a failure here reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap()
    }
}

/// Bytes the parsers give meaning to.
const INTERESTING: &[u8] = b".\"{}[]:,;=\n\0\\ -_+/A0\xff";

fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = at.min(v.len() - 1);
                v[i] ^= 1 << rng.below(8);
            }
            1 => v.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            2 if !v.is_empty() => {
                let end = (at + rng.below(16)).min(v.len());
                v.drain(at.min(end)..end);
            }
            3 if !v.is_empty() => {
                let start = rng.below(v.len());
                let end = (start + rng.below(32)).min(v.len());
                let piece = v[start..end].to_vec();
                v.splice(at..at, piece);
            }
            4 if !other.is_empty() => {
                let start = rng.below(other.len());
                let end = (start + rng.below(64)).min(other.len());
                v.splice(at..at, other[start..end].iter().copied());
            }
            _ => v.truncate(at),
        }
    }
    v
}

#[test]
fn every_target_holds_on_seeds_regressions_and_mutations() {
    for (name, property) in TARGETS {
        let seeds = seeds(name);
        for input in seeds.iter().chain(&regressions(name)) {
            property(input);
        }
        let mut rng = Rng(0x5eed_0000 ^ name.len() as u64);
        for (i, seed) in seeds.iter().enumerate() {
            let other = &seeds[(i + 1) % seeds.len()];
            for _ in 0..MUTATIONS_PER_SEED {
                property(&mutate(&mut rng, seed, other));
            }
        }
    }
}

/// `make fuzz` calls this first: it writes the seeds to `fuzz/seeds/<target>/` for libFuzzer.
#[test]
#[ignore = "writes files; run by make fuzz"]
fn write_seeds() {
    for (name, _) in TARGETS {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/seeds")
            .join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for (i, seed) in seeds(name).iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i:03}")), seed).unwrap();
        }
    }
}
