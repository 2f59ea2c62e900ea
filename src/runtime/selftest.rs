//! Test-only route (feature `selftest`, never deployed): runs the WebCrypto and the
//! pure-Rust backends on the same signatures inside workerd, so the integration tests can
//! check they agree (valid, high-S, tampered, r = s = 0, ...).
//!
//! `POST /__selftest/backends` with `{"jwks": {...}, "tokens": ["..."]}` answers
//! `[{"webcrypto": bool|"error: …", "rust": bool|"error: …"}]`, one entry per token. The
//! signature goes to both backends as-is: the core's own shape checks are bypassed on
//! purpose, so this compares the backends, not the policy.
//!
//! `/__selftest/mac` compares the two backends' tags of KV entries.
//! `/__selftest/verify-loop` is the in-workerd verification micro-benchmark (bench/micro.mjs);
//! `/__selftest/trap?when=sync|async` panics (a WASM trap, as `panic = "abort"` makes every
//! panic) before or after an await, for the test of the entry module's recovery;
//! `/__selftest/refused-header?when=sync|async` (in glue.rs) builds a response the runtime
//! refuses, for the test that a JS exception fails only its own request.

use crate::jwt::token::UnverifiedToken;
use crate::keys::crypto::{RustCryptoBackend, SignatureBackend};
use crate::keys::jwk::{Alg, KeySet};
use crate::runtime::glue::IsolateState;
use serde::Deserialize;
use serde_json::{Value, json};
use worker::{Request, Response};

#[derive(Deserialize)]
struct Input {
    jwks: Value,
    tokens: Vec<String>,
}

pub(crate) async fn run(mut req: Request, state: &IsolateState) -> worker::Result<Response> {
    let input: Input = req.json().await?;
    let (keys, _) = KeySet::parse(input.jwks.to_string().as_bytes())
        .map_err(|e| worker::Error::RustError(e.to_string()))?;
    let Ok(webcrypto) = &state.backend else {
        return Response::error("no WebCrypto", 500);
    };
    let mut out = Vec::new();
    for token in &input.tokens {
        let parsed = UnverifiedToken::parse(token)
            .map_err(|e| e.to_string())
            .and_then(|t| {
                let alg = Alg::from_name(&t.header.alg).ok_or("unknown alg")?;
                let key = keys
                    .select(t.header.kid.as_deref(), alg)
                    .map_err(|e| format!("{e:?}"))?
                    .clone();
                Ok((t, key))
            });
        let (token, key) = match parsed {
            Ok(v) => v,
            Err(e) => {
                out.push(json!({ "error": e }));
                continue;
            }
        };
        let answer = |r: Result<bool, crate::keys::crypto::KeyImportError>| match r {
            Ok(b) => json!(b),
            Err(e) => json!(format!("error: {e}")),
        };
        let web = webcrypto
            .verify(&key, token.signing_input(), token.signature())
            .await;
        let rust = RustCryptoBackend
            .verify(&key, token.signing_input(), token.signature())
            .await;
        out.push(json!({ "webcrypto": answer(web), "rust": answer(rust) }));
    }
    Response::from_json(&out)
}

#[derive(Deserialize)]
struct MacInput {
    secret: String,
    messages: Vec<String>,
}

/// `POST /__selftest/mac` with `{"secret": "…", "messages": ["…"]}`: the tag of each message
/// from both backends (hex), which must agree: KV entries are tagged by WebCrypto in the
/// worker and by the Rust backend in the native tests.
pub(crate) async fn mac(mut req: Request, state: &IsolateState) -> worker::Result<Response> {
    use crate::keys::integrity::{CacheSecret, EntryMac};
    let input: MacInput = req.json().await?;
    let Ok(webcrypto) = &state.backend else {
        return Response::error("no WebCrypto", 500);
    };
    let secret = CacheSecret::new(input.secret);
    let hex = |r: Result<[u8; 32], String>| match r {
        Ok(tag) => json!(tag.iter().map(|b| format!("{b:02x}")).collect::<String>()),
        Err(e) => json!(format!("error: {e}")),
    };
    let mut out = Vec::new();
    for m in &input.messages {
        let web = webcrypto.tag(&secret, m.as_bytes()).await;
        let rust = RustCryptoBackend.tag(&secret, m.as_bytes()).await;
        out.push(json!({ "webcrypto": hex(web), "rust": hex(rust) }));
    }
    Response::from_json(&out)
}

#[derive(Deserialize)]
struct LoopInput {
    jwks: Value,
    token: String,
    issuer: String,
    now: i64,
    n: u32,
}

/// `POST /__selftest/verify-loop`: the whole local verification (parse, key selection,
/// WebCrypto signature check, claims) `n` times in one request, for the in-workerd
/// micro-benchmark (bench/micro.mjs). Answers how many verified.
pub(crate) async fn verify_loop(
    mut req: Request,
    state: &IsolateState,
) -> worker::Result<Response> {
    use crate::jwt::verify::{self, AnonymousRule, Policy};
    let input: LoopInput = req.json().await?;
    let (keys, _) = KeySet::parse(input.jwks.to_string().as_bytes())
        .map_err(|e| worker::Error::RustError(e.to_string()))?;
    let Ok(webcrypto) = &state.backend else {
        return Response::error("no WebCrypto", 500);
    };
    let policy = Policy {
        issuers: vec![input.issuer],
        audiences: vec!["authenticated".into()],
        algorithms: vec![Alg::Es256, Alg::Rs256, Alg::EdDsa],
        skew_secs: 30,
        required_claims: vec![("role".into(), "authenticated".into())],
        anonymous: Some(AnonymousRule::SupabaseIsAnonymous),
        assurance: Default::default(),
    };
    let mut ok = 0_u32;
    for _ in 0..input.n {
        let Ok(token) = UnverifiedToken::parse(&input.token) else {
            continue;
        };
        let Ok(alg) = policy.allowed_alg(&token) else {
            continue;
        };
        let Ok(key) = keys.select(token.header.kid.as_deref(), alg) else {
            continue;
        };
        if verify::verify(token, key, webcrypto, &policy, input.now)
            .await
            .is_ok()
        {
            ok += 1;
        }
    }
    Response::from_json(&json!({ "verified": ok }))
}

/// Panics, synchronously or from a promise callback after an await: what a bug would do.
#[allow(clippy::panic, reason = "the point of this test-only route")]
pub(crate) async fn trap(url: &str) -> Option<worker::Result<Response>> {
    if url.ends_with("when=async") {
        let _ = crate::runtime::promise::settled(&js_sys::Promise::resolve(
            &wasm_bindgen::JsValue::NULL,
        ))
        .await;
    }
    panic!("selftest trap");
}
