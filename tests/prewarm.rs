#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! The scheduled key-set prewarm through the real handler with faithful fakes: what it
//! fetches, what it leaves alone, what it keeps when a fetch fails, and its log line.

mod common;
use common::fakes::*;
use common::fixtures::token;
use edge_attest::http::{OutboundResponse, TransportError};
use edge_attest::keys::cache::{KV_DISCOVERY_PREFIX, kv_key};
use serde_json::{Value, json};

fn stytch_jwks_url() -> String {
    format!("https://test.stytch.com/v1/sessions/jwks/{PROJECT}")
}

fn run_log(w: &World) -> Value {
    let log = w.platform.last_log();
    assert_eq!(log["route"], "scheduled");
    assert_eq!(log["cron"], "*/5 * * * *");
    log
}

fn summary(log: &Value) -> Vec<(String, String, String)> {
    log["sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["of"].as_str().unwrap().to_owned(),
                s["kind"].as_str().unwrap().to_owned(),
                s["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Each document's result in the last run.
fn results(w: &World) -> Vec<String> {
    summary(&run_log(w)).into_iter().map(|s| s.2).collect()
}

#[test]
fn a_run_fills_an_empty_kv_and_a_cold_isolate_then_fetches_nothing() {
    let w = World::new();
    assert!(w.prewarm());
    let log = run_log(&w);
    assert_eq!(log["outcome"], "ok");
    assert_eq!(
        log["sets"],
        json!([
            { "of": "supabase", "kind": "key_set", "url": JWKS_URL, "result": "fetched", "keys": 3, "fresh_for_s": 600 },
            { "of": "stytch_sessions", "kind": "key_set", "url": stytch_jwks_url(), "result": "fetched", "keys": 1, "fresh_for_s": 600 },
        ])
    );
    // Written now (awaited), not after some response.
    assert!(w.kv.store.borrow().contains_key(&kv_key(JWKS_URL)));
    assert!(
        w.kv.store
            .borrow()
            .contains_key(&kv_key(&stytch_jwks_url()))
    );
    let fetched = w.http.calls.borrow().len();
    // Any isolate, cold: the keys are in KV.
    w.new_isolate();
    w.stytch_ok();
    assert_eq!(w.exchange(&token("valid_es256")).status, 200);
    let exchange = w.platform.last_log();
    assert_eq!(exchange["cache"], "kv");
    assert_eq!(w.http.jwks_fetches(), 1, "only the run's fetch");
    assert_eq!(
        w.http.calls.borrow().len(),
        fetched + 1,
        "the attest call only"
    );
}

#[test]
fn entries_fresh_past_the_next_run_are_left_alone_and_the_others_renewed() {
    let w = World::new();
    assert!(w.prewarm());
    let calls = w.http.calls.borrow().len();
    // A minute on, 540 s of the 600 are left: more than the renewal window (360 s).
    w.platform.advance_secs(60);
    assert!(w.prewarm());
    assert_eq!(results(&w), ["fresh", "fresh"]);
    assert_eq!(w.http.calls.borrow().len(), calls, "nothing fetched");
    // Five minutes on, 300 s left: renewed.
    w.platform.advance_secs(240);
    assert!(w.prewarm());
    assert_eq!(results(&w), ["fetched", "fetched"]);
}

#[test]
fn a_failed_fetch_keeps_the_entry_and_fails_the_run() {
    let w = World::new();
    assert!(w.prewarm());
    let before = w.kv.store.borrow().get(&kv_key(JWKS_URL)).cloned().unwrap();
    w.platform.advance_secs(300);
    *w.http.jwks_default.borrow_mut() = Some(Err(TransportError::Timeout));
    assert!(!w.prewarm(), "the run reports failure");
    let log = run_log(&w);
    assert_eq!(log["outcome"], "failed");
    assert_eq!(
        log["sets"][0],
        json!({ "of": "supabase", "kind": "key_set", "url": JWKS_URL, "result": "failed", "fresh_for_s": 300, "error": "JWKS fetch timed out" })
    );
    assert_eq!(
        log["sets"][1]["result"], "fetched",
        "the other set is renewed regardless"
    );
    assert_eq!(w.kv.store.borrow().get(&kv_key(JWKS_URL)), Some(&before));
    // A cold isolate keeps verifying from it.
    w.new_isolate();
    w.stytch_ok();
    assert_eq!(w.exchange(&token("valid_es256")).status, 200);
}

#[test]
fn a_key_set_that_does_not_parse_is_not_written() {
    let w = World::new();
    *w.http.jwks_default.borrow_mut() = Some(Ok(OutboundResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: br#"{"keys":[]}"#.to_vec(),
    }));
    assert!(!w.prewarm());
    assert_eq!(
        run_log(&w)["sets"][0]["error"],
        "JWKS has no usable verification key"
    );
    assert!(!w.kv.store.borrow().contains_key(&kv_key(JWKS_URL)));
}

#[test]
fn a_kv_write_that_fails_fails_the_run() {
    let w = World::new();
    w.kv.failing_puts.set(true);
    assert!(!w.prewarm());
    let log = run_log(&w);
    assert_eq!(log["sets"][0]["result"], "failed");
    assert_eq!(log["sets"][0]["error"], "KV write failed: KV put failed");
}

#[test]
fn providers_with_discovery_and_a_shared_key_set_are_each_renewed_once() {
    let auth0 = "https://tenant.auth0.example/";
    let discovery = format!("{auth0}.well-known/openid-configuration");
    let auth0_jwks = format!("{auth0}.well-known/jwks.json");
    let providers = json!([
        { "name": "supabase", "preset": "supabase", "project_url": SUPABASE, "stytch_profile_id": "p1", "required_claims": { "email_verified": true } },
        { "name": "auth0", "issuer": auth0, "audiences": ["a"], "stytch_profile_id": "p2" },
        // A second project whose keys are the first one's URL (as Firebase projects share Google's).
        { "name": "twin", "issuer": "https://twin.example/", "jwks_url": JWKS_URL, "audiences": ["a"], "stytch_profile_id": "p3" },
    ]);
    let w = World::new().var("PROVIDERS", &providers.to_string());
    w.http.route(
        &discovery,
        json_reply(200, json!({ "issuer": auth0, "jwks_uri": auth0_jwks })),
    );
    assert!(w.prewarm());
    let log = run_log(&w);
    assert_eq!(
        summary(&log),
        [
            ("supabase".into(), "key_set".into(), "fetched".into()),
            (
                "auth0".into(),
                "openid_configuration".into(),
                "fetched".into()
            ),
            ("auth0".into(), "key_set".into(), "fetched".into()),
            ("stytch_sessions".into(), "key_set".into(), "fetched".into()),
        ]
    );
    assert_eq!(log["sets"][2]["url"], auth0_jwks.as_str());
    assert!(
        w.kv.store
            .borrow()
            .contains_key(&format!("{KV_DISCOVERY_PREFIX}{discovery}"))
    );
    assert_eq!(w.http.calls_of(JWKS_URL), 1, "the shared set once");
    // The configuration down: its KV entry still says where the keys are.
    w.platform.advance_secs(300);
    w.http.route(&discovery, Err(TransportError::Timeout));
    assert!(!w.prewarm());
    let log = run_log(&w);
    assert_eq!(log["sets"][1]["result"], "failed");
    assert_eq!(log["sets"][2]["result"], "fetched");
}

#[test]
fn a_run_with_a_broken_configuration_says_so() {
    let mut w = World::new();
    w.vars.remove("STYTCH_PROJECT_ID");
    assert!(!w.prewarm());
    let log = run_log(&w);
    assert_eq!(log["outcome"], "misconfigured");
    assert_eq!(log["detail"], "STYTCH_PROJECT_ID: is required");
    assert!(w.http.calls.borrow().is_empty());
}
