#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! The JWKS cache rules, observed through the handler: what was fetched, what KV saw, what
//! the client got.

mod common;
use common::fakes::*;
use common::fixtures::token;
use edge_attest::http::{OutboundResponse, Platform as _, TransportError};
use edge_attest::keys::cache::kv_key;

fn ok(w: &World, name: &str) -> u16 {
    w.stytch_ok();
    let r = w.exchange(&token(name));
    if r.status != 200 {
        w.http.stytch.borrow_mut().clear();
    }
    r.status
}

#[test]
fn warm_isolate_makes_no_kv_read_and_no_fetch() {
    let w = World::new();
    assert_eq!(ok(&w, "valid_es256"), 200);
    assert_eq!((w.http.jwks_fetches(), w.kv.gets.get()), (1, 1));
    assert_eq!(w.platform.last_log()["cache"], "network");
    for _ in 0..5 {
        assert_eq!(ok(&w, "valid_rs256"), 200);
    }
    assert_eq!(
        (w.http.jwks_fetches(), w.kv.gets.get()),
        (1, 1),
        "memory only"
    );
    assert_eq!(w.platform.last_log()["cache"], "memory");
}

#[test]
fn fetched_keys_are_written_to_kv_after_the_response_and_reused_by_a_cold_isolate() {
    let w = World::new();
    ok(&w, "valid_es256");
    let fetch = &w.http.calls_to("jwks.json")[0];
    assert_eq!(
        (fetch.timeout_ms, fetch.max_response_bytes),
        (3000, 64 * 1024)
    );
    let (_, expires_ms) =
        w.kv.store
            .borrow()
            .get(&kv_key(JWKS_URL))
            .cloned()
            .expect("KV entry");
    // TTL covers freshness (600 s) plus the stale-if-error hour.
    assert_eq!(expires_ms - w.platform.now_ms(), (600 + 3600) * 1000);

    w.new_isolate();
    assert_eq!(ok(&w, "valid_es256"), 200);
    assert_eq!(
        w.http.jwks_fetches(),
        1,
        "the cold isolate read KV instead of the network"
    );
    assert_eq!(w.platform.last_log()["cache"], "kv");
    assert_eq!(w.platform.last_log()["kv_reads"], 1);
}

#[test]
fn kv_writes_wait_for_the_response() {
    let w = World::new();
    w.stytch_ok();
    // Run the handler without flushing: the write must still be pending.
    let cfg = w.config().unwrap();
    let services = w.services();
    let body = serde_json::json!({ "access_token": token("valid_es256") })
        .to_string()
        .into_bytes();
    let req = edge_attest::http::IncomingRequest {
        method: "POST".into(),
        url: format!("{WORKER}/api/exchange"),
        headers: vec![("content-type".into(), "application/json".into())],
        body,
    };
    let r = futures_executor::block_on(services.handle(Ok(&cfg), req, &w.app));
    assert_eq!(r.status(), 200);
    assert!(w.kv.store.borrow().is_empty());
    assert_eq!(w.kv.pending.borrow().len(), 1);
}

#[test]
fn freshness_follows_cache_control_clamped_to_60_600() {
    for (cc, fresh_secs) in [
        ("max-age=120", 120),
        ("max-age=5", 60),
        ("max-age=86400", 600),
        ("no-store", 60),
    ] {
        let w = World::new();
        w.serve_jwks("jwks", cc);
        ok(&w, "valid_es256");
        w.platform.advance_secs(fresh_secs - 1);
        ok(&w, "valid_es256");
        assert_eq!(
            w.http.jwks_fetches(),
            1,
            "{cc}: still fresh at {} s",
            fresh_secs - 1
        );
        w.platform.advance_secs(1);
        ok(&w, "valid_es256");
        assert_eq!(w.http.jwks_fetches(), 2, "{cc}: expired at {fresh_secs} s");
    }
    let w = World::new();
    *w.http.jwks_default.borrow_mut() = Some(Ok(OutboundResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/jwk-set+json".into())],
        body: common::fixtures::jwks_json().into_bytes(),
    }));
    ok(&w, "valid_es256");
    w.platform.advance_secs(599);
    ok(&w, "valid_es256");
    w.platform.advance_secs(1);
    ok(&w, "valid_es256");
    assert_eq!(w.http.jwks_fetches(), 2, "600 s without max-age");
}

#[test]
fn an_expired_kv_entry_is_refreshed_from_the_network() {
    let w = World::new();
    ok(&w, "valid_es256");
    w.new_isolate();
    w.platform.advance_secs(601);
    assert_eq!(ok(&w, "valid_es256"), 200);
    assert_eq!(w.http.jwks_fetches(), 2);
    assert_eq!(w.platform.last_log()["cache"], "network");
}

#[test]
fn unknown_kid_refetches_once_per_30_seconds() {
    let w = World::new();
    ok(&w, "valid_es256");
    w.platform.advance_secs(30);
    assert_eq!(ok(&w, "unknown_kid"), 401);
    assert_eq!(w.http.jwks_fetches(), 2, "one refetch for the unknown kid");
    w.platform.advance_secs(29);
    assert_eq!(ok(&w, "unknown_kid"), 401);
    assert_eq!(w.http.jwks_fetches(), 2, "cooldown: no refetch within 30 s");
    w.platform.advance_secs(1);
    assert_eq!(ok(&w, "unknown_kid"), 401);
    assert_eq!(w.http.jwks_fetches(), 3, "not cached as negative forever");
}

#[test]
fn an_unknown_kid_whose_refetch_failed_is_503_until_a_fetch_succeeds() {
    // A key rotated in while the issuer's key set is flaky: the set in hand lacks the new
    // key and the refetch for it fails. Its tokens are not refused (401, which signs the user
    // out); they wait for the keys (503, retried), and the old key's tokens still verify.
    let w = World::new();
    ok(&w, "valid_es256");
    w.serve_jwks("rotated_jwks", "max-age=600");
    w.platform.advance_secs(30);
    w.http
        .push_jwks(Err(TransportError::Network("connection reset".into())));
    let r = w.exchange(&token("unknown_kid"));
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.header("retry-after"), Some("5"));
    assert_eq!(w.http.jwks_fetches(), 2);
    // Within the unknown-kid cooldown: still 503, no fetch, nothing reaches Stytch.
    w.platform.advance_secs(10);
    let r = w.exchange(&token("unknown_kid"));
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(w.http.jwks_fetches(), 2);
    assert_eq!(
        w.http.stytch_calls().len(),
        1,
        "only the first exchange reached Stytch"
    );
    assert_eq!(ok(&w, "valid_es256"), 200);
    // The cooldown over, the refetch succeeds: the new key verifies.
    w.platform.advance_secs(20);
    assert_eq!(ok(&w, "unknown_kid"), 200);
    assert_eq!(w.http.jwks_fetches(), 3);
    // A kid the issuer does not publish, with the latest fetch a success: refused.
    w.platform.advance_secs(1);
    assert_eq!(
        ok(&w, "valid_rs256"),
        401,
        "rs-1 is gone from the rotated set"
    );
}

#[test]
fn a_set_fetched_moments_ago_is_not_refetched_for_an_unknown_kid() {
    let w = World::new();
    assert_eq!(ok(&w, "unknown_kid"), 401);
    assert_eq!(w.http.jwks_fetches(), 1);
}

#[test]
fn rotation_new_key_is_found_and_removed_key_stops_verifying() {
    let w = World::new();
    ok(&w, "valid_es256");
    w.serve_jwks("rotated_jwks", "max-age=600");
    w.platform.advance_secs(31);
    // The token signed by the new key ("nope") triggers a refetch and verifies.
    assert_eq!(ok(&w, "unknown_kid"), 200);
    assert_eq!(w.http.jwks_fetches(), 2);
    // rs-1 disappeared from the refetched set: its tokens stop verifying.
    assert_eq!(ok(&w, "valid_rs256"), 401);
}

#[test]
fn stale_keys_serve_for_an_hour_when_refresh_fails_then_fail_closed() {
    // Start at the earliest instant the fixture tokens verify (iat - skew) and use the
    // shortest freshness, so the whole stale hour fits inside the tokens' lifetime.
    let w = World::new();
    w.platform
        .now_ms
        .set((common::fixtures::now() as u64 - 630) * 1000);
    w.serve_jwks("jwks", "max-age=60");
    assert_eq!(ok(&w, "valid_es256"), 200);
    *w.http.jwks_default.borrow_mut() =
        Some(Err(TransportError::Network("connection refused".into())));
    w.platform.advance_secs(70);
    assert_eq!(ok(&w, "valid_es256"), 200, "stale-if-error");
    let log = w.platform.last_log();
    assert_eq!(log["cache"], "stale");
    assert!(
        log["jwks_notes"][0]
            .as_str()
            .unwrap()
            .contains("serving keys expired 10 s ago"),
        "{log}"
    );
    assert_eq!(w.http.jwks_fetches(), 2);
    w.platform.advance_secs(10);
    assert_eq!(ok(&w, "valid_es256"), 200);
    assert_eq!(
        w.http.jwks_fetches(),
        2,
        "backing off between refresh attempts"
    );
    w.platform.advance_secs(3659 - 80);
    assert_eq!(ok(&w, "valid_es256"), 200, "still within the hour");
    assert_eq!(w.http.jwks_fetches(), 3, "retried after the back-off");
    w.platform.advance_secs(1);
    let r = w.exchange(&token("valid_es256"));
    assert_eq!(r.status, 503, "an hour past expiry: fail closed");
    assert_eq!(r.header("retry-after"), Some("5"));
    assert!(
        w.http.stytch_calls().len() == 4,
        "the 503 did not reach Stytch"
    );
}

#[test]
fn stale_keys_are_replaced_when_the_issuer_recovers() {
    let w = World::new();
    ok(&w, "valid_es256");
    w.http.push_jwks(Err(TransportError::Timeout));
    w.platform.advance_secs(601);
    assert_eq!(ok(&w, "valid_es256"), 200);
    w.platform.advance_secs(30);
    assert_eq!(ok(&w, "valid_es256"), 200);
    assert_eq!(w.platform.last_log()["cache"], "network");
}

#[test]
fn cold_with_no_keys_is_503_and_nothing_reaches_stytch() {
    for failure in [
        Err(TransportError::Timeout),
        Err(TransportError::Network("dns".into())),
        Err(TransportError::TooLarge),
        json_reply(500, serde_json::json!({})),
        Ok(OutboundResponse {
            status: 302,
            headers: vec![("location".into(), "https://evil.example/jwks".into())],
            body: vec![],
        }),
        Ok(OutboundResponse {
            status: 200,
            headers: vec![("content-type".into(), "text/html".into())],
            body: common::fixtures::jwks_json().into_bytes(),
        }),
        json_reply(200, serde_json::json!({ "keys": [] })),
        json_reply(
            200,
            serde_json::json!({ "keys": (0..17).map(|_| common::fixtures::fixtures()["jwks"]["keys"][0].clone()).collect::<Vec<_>>() }),
        ),
    ] {
        let w = World::new();
        *w.http.jwks_default.borrow_mut() = Some(failure.clone());
        let r = w.exchange(&token("valid_es256"));
        assert_eq!(r.status, 503, "{failure:?}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["error"],
            "jwks_unavailable"
        );
        assert!(w.http.stytch_calls().is_empty());
    }
}

#[test]
fn invalid_keys_are_skipped_not_fatal() {
    let w = World::new();
    let mut jwks = common::fixtures::fixtures()["jwks"].clone();
    jwks["keys"].as_array_mut().unwrap().push(
        serde_json::json!({ "kty": "EC", "crv": "P-384", "kid": "p384", "x": "AA", "y": "AA" }),
    );
    *w.http.jwks_default.borrow_mut() = Some(json_reply(200, jwks));
    assert_eq!(ok(&w, "valid_es256"), 200);
    let notes = w.platform.last_log()["jwks_notes"].to_string();
    assert!(
        notes.contains("p384") && notes.contains("rs-weak"),
        "{notes}"
    );
}

#[test]
fn a_key_with_a_duplicated_member_is_skipped_and_the_others_keep_verifying() {
    let w = World::new();
    // The fixture set, with one more key whose "kid" appears twice. The whole body is
    // written by hand: serde_json's own writer cannot repeat a member.
    let jwks = common::fixtures::fixtures()["jwks"].to_string();
    let body = jwks.replacen(
        "\"keys\":[",
        r#""keys":[{"kty":"EC","crv":"P-256","kid":"twice","kid":"es-1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},"#,
        1,
    );
    *w.http.jwks_default.borrow_mut() = Some(Ok(OutboundResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.into_bytes(),
    }));
    assert_eq!(ok(&w, "valid_es256"), 200);
    let log = w.platform.last_log();
    assert_eq!(log["cache"], "network");
    let notes = log["jwks_notes"].to_string();
    assert!(
        notes.contains("key #0 (kid -): a member appears twice"),
        "{notes}"
    );
    assert_eq!(ok(&w, "valid_rs256"), 200, "the other keys keep verifying");
}

/// A KV entry of the fixture key set, with these timestamps and body, tagged under `secret`
/// for the entry at `tagged_as` (what a writer of KV who knows that secret could write).
fn tagged_entry(
    fetched_at_ms: u64,
    fresh_until_ms: u64,
    body: &str,
    secret: &str,
    tagged_as: &str,
) -> serde_json::Value {
    use edge_attest::keys::crypto::RustCryptoBackend;
    use edge_attest::keys::integrity::{CacheSecret, EntryMac, message};
    let tag = futures_executor::block_on(RustCryptoBackend.tag(
        &CacheSecret::new(secret.into()),
        &message(tagged_as, fetched_at_ms, fresh_until_ms, body),
    ))
    .unwrap();
    serde_json::json!({
        "v": 2,
        "url": JWKS_URL,
        "fetched_at_ms": fetched_at_ms,
        "fresh_until_ms": fresh_until_ms,
        "jwks": body,
        "mac": edge_attest::formats::b64::encode(&tag),
    })
}

fn put_entry(w: &World, entry: &serde_json::Value) {
    w.kv.store.borrow_mut().insert(
        kv_key(JWKS_URL),
        (entry.to_string(), w.platform.now_ms() + 3_600_000),
    );
}

/// A KV entry whose timestamps this worker could not have written, tagged as if it had.
fn forge_kv_entry(w: &World, fetched_at_ms: u64, fresh_until_ms: u64) {
    let body = common::fixtures::fixtures()["jwks"].to_string();
    put_entry(
        w,
        &tagged_entry(
            fetched_at_ms,
            fresh_until_ms,
            &body,
            SECRET,
            &kv_key(JWKS_URL),
        ),
    );
}

#[test]
fn kv_entries_are_believed_only_when_their_tag_verifies() {
    let now = World::new().platform.now_ms();
    let key = kv_key(JWKS_URL);
    let ours = common::fixtures::fixtures()["jwks"].to_string();
    // What someone who can write the namespace, but does not have the secret, can plant: the
    // rotated set (its extra key "nope" signs the unknown_kid token).
    let planted = common::fixtures::fixtures()["rotated_jwks"].to_string();
    let honest = tagged_entry(now - 1000, now + 599_000, &planted, SECRET, &key);
    let mut untagged = honest.clone();
    untagged.as_object_mut().unwrap().remove("mac");
    let mut retagged = honest.clone();
    retagged["jwks"] = serde_json::json!(ours);
    for (why, entry) in [
        ("no tag", untagged),
        ("a tag that is not base64url", {
            let mut e = honest.clone();
            e["mac"] = serde_json::json!("not a tag!");
            e
        }),
        (
            "a tag under another secret",
            tagged_entry(now - 1000, now + 599_000, &planted, "another-secret", &key),
        ),
        (
            "a tag of another entry (another URL)",
            tagged_entry(
                now - 1000,
                now + 599_000,
                &planted,
                SECRET,
                &kv_key("https://other.example/jwks.json"),
            ),
        ),
        (
            "a tag of another entry (as an OpenID configuration)",
            tagged_entry(
                now - 1000,
                now + 599_000,
                &planted,
                SECRET,
                &format!("oidc:v2:{JWKS_URL}"),
            ),
        ),
        ("a body swapped under a tag", retagged),
        ("a later fetched_at_ms under the tag", {
            let mut e = honest.clone();
            e["fetched_at_ms"] = serde_json::json!(now);
            e
        }),
    ] {
        let w = World::new();
        put_entry(&w, &entry);
        // The unknown_kid token would verify only with the planted key.
        let r = w.exchange(&token("unknown_kid"));
        assert_eq!(r.status, 401, "{why}: {}", r.body);
        assert!(w.http.stytch_calls().is_empty(), "{why}");
        assert_eq!(w.http.jwks_fetches(), 1, "{why}: refetched instead");
        let log = w.platform.last_log();
        assert_eq!(log["cache"], "network", "{why}");
        let notes = log["jwks_notes"].to_string();
        assert!(
            notes.contains("KV entry not authentic")
                || why == "no tag" && notes.contains("unreadable"),
            "{why}: {notes}"
        );
    }
    // The same entry tagged under the worker's secret is believed (the KEY_CACHE_SECRET when
    // there is one, STYTCH_SECRET otherwise).
    let w = World::new();
    put_entry(&w, &honest);
    w.stytch_ok();
    assert_eq!(w.exchange(&token("unknown_kid")).status, 200);
    assert_eq!(w.platform.last_log()["cache"], "kv");
    let own = "0123456789abcdef0123456789abcdef";
    let w = World::new().var("KEY_CACHE_SECRET", own);
    put_entry(&w, &honest);
    w.exchange(&token("unknown_kid"));
    assert_eq!(
        w.platform.last_log()["cache"],
        "network",
        "tagged with the other secret"
    );
    let w = World::new().var("KEY_CACHE_SECRET", own);
    put_entry(
        &w,
        &tagged_entry(now - 1000, now + 599_000, &planted, own, &key),
    );
    w.stytch_ok();
    assert_eq!(w.exchange(&token("unknown_kid")).status, 200);
    assert_eq!(w.platform.last_log()["cache"], "kv");
}

#[test]
fn what_the_worker_writes_to_kv_is_tagged() {
    let w = World::new();
    assert_eq!(ok(&w, "valid_es256"), 200);
    let (text, _) = w.kv.store.borrow().get(&kv_key(JWKS_URL)).cloned().unwrap();
    let entry: serde_json::Value = serde_json::from_str(&text).unwrap();
    let expected = tagged_entry(
        entry["fetched_at_ms"].as_u64().unwrap(),
        entry["fresh_until_ms"].as_u64().unwrap(),
        entry["jwks"].as_str().unwrap(),
        SECRET,
        &kv_key(JWKS_URL),
    );
    assert_eq!(entry, expected);
    assert!(kv_key(JWKS_URL).starts_with("jwks:v2:"));
}

#[test]
fn kv_entries_are_untrusted_input() {
    let now = World::new().platform.now_ms();
    for (why, fetched, fresh_until) in [
        ("freshness beyond 600 s", now - 1000, now - 1000 + 601_000),
        ("fresh for ever", now - 1000, u64::MAX),
        ("fetched in the future", now + 60_000, now + 120_000),
        ("both at the end of time", u64::MAX, u64::MAX),
    ] {
        let w = World::new();
        forge_kv_entry(&w, fetched, fresh_until);
        assert_eq!(ok(&w, "valid_es256"), 200, "{why}");
        assert_eq!(w.http.jwks_fetches(), 1, "{why}: the entry was ignored");
        let log = w.platform.last_log();
        assert_eq!(log["cache"], "network", "{why}");
        assert!(
            log["jwks_notes"]
                .to_string()
                .contains("KV entry unreadable"),
            "{why}: {log}"
        );
    }
    // The most an honest entry can claim is believed.
    let w = World::new();
    forge_kv_entry(&w, now - 1000, now - 1000 + 600_000);
    assert_eq!(ok(&w, "valid_es256"), 200);
    assert_eq!(w.http.jwks_fetches(), 0);
    assert_eq!(w.platform.last_log()["cache"], "kv");
}

fn unreachable_jwks(w: &World) {
    *w.http.jwks_default.borrow_mut() = Some(Err(TransportError::Timeout));
}

#[test]
fn a_cold_isolate_under_load_makes_one_fetch() {
    let w = World::new();
    w.http.jwks_pending_polls.set(3);
    for _ in 0..20 {
        w.stytch_ok();
    }
    let tokens = vec![token("valid_es256"); 20];
    let answers = w.exchange_all(&tokens);
    assert!(answers.iter().all(|r| r.status == 200));
    assert_eq!(
        w.http.jwks_fetches(),
        1,
        "one fetch, nineteen waited for it"
    );
    let waited = w
        .platform
        .logs
        .borrow()
        .iter()
        .filter(|l| l.contains("waited for the fetch another request made"))
        .count();
    assert_eq!(waited, 19);
}

#[test]
fn a_cold_isolate_with_the_jwks_down_fetches_once_then_backs_off() {
    let w = World::new();
    unreachable_jwks(&w);
    w.http.jwks_pending_polls.set(3);
    let tokens = vec![token("valid_es256"); 20];
    let answers = w.exchange_all(&tokens);
    assert!(answers.iter().all(|r| r.status == 503));
    assert_eq!(w.http.jwks_fetches(), 1, "20 requests, one fetch");
    let kv_reads = w.kv.gets.get();

    // For the next 30 s: 503 at once, with neither a fetch nor a KV read.
    w.platform.advance_secs(29);
    let r = w.exchange(&token("valid_es256"));
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("5"));
    assert_eq!(w.http.jwks_fetches(), 1);
    assert_eq!(w.kv.gets.get(), kv_reads);
    assert!(
        w.platform.last_log()["detail"]
            .as_str()
            .unwrap()
            .contains("the last fetch failed 29 s ago")
    );
    // Then one more try.
    w.platform.advance_secs(1);
    w.serve_jwks("jwks", "max-age=600");
    w.stytch_ok();
    assert_eq!(w.exchange(&token("valid_es256")).status, 200);
    assert_eq!(w.http.jwks_fetches(), 2);
}

#[test]
fn a_refresh_at_expiry_is_made_by_one_request() {
    let w = World::new();
    assert_eq!(ok(&w, "valid_es256"), 200);
    w.platform.advance_secs(600);
    w.http.jwks_pending_polls.set(3);
    for _ in 0..10 {
        w.stytch_ok();
    }
    let answers = w.exchange_all(&vec![token("valid_es256"); 10]);
    assert!(answers.iter().all(|r| r.status == 200));
    assert_eq!(
        w.http.jwks_fetches(),
        2,
        "the first fetch, then one refresh"
    );
}

#[test]
fn waiters_are_released_when_the_fetching_request_goes_away() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let w = World::new();
    w.http.jwks_pending_polls.set(1_000);
    let config = w.config().unwrap();
    let services = w.services();
    let request = || edge_attest::http::IncomingRequest {
        method: "POST".into(),
        url: format!("{WORKER}/api/exchange"),
        headers: vec![("content-type".into(), "application/json".into())],
        body: serde_json::json!({ "access_token": token("valid_es256") })
            .to_string()
            .into_bytes(),
    };
    let mut cx = Context::from_waker(Waker::noop());
    let mut fetching = Box::pin(services.handle(Ok(&config), request(), &w.app));
    let mut waiting = Box::pin(services.handle(Ok(&config), request(), &w.app));
    assert!(fetching.as_mut().poll(&mut cx).is_pending());
    assert!(waiting.as_mut().poll(&mut cx).is_pending());
    assert_eq!(w.http.jwks_fetches(), 1);
    drop(fetching); // the client went away, or the request was cancelled
    let Poll::Ready(r) = waiting.as_mut().poll(&mut cx) else {
        panic!("the waiting request must not wait for a fetch nobody makes");
    };
    assert_eq!(r.status(), 503);
    assert_eq!(w.http.jwks_fetches(), 1);
}

#[test]
fn a_kv_read_that_ends_after_another_requests_fetch_does_not_fetch_again() {
    let w = World::new();
    // KV is slow, the network fast: the first request's whole fetch ends while the others
    // are still reading KV.
    w.kv.pending_polls.set(3);
    w.http.jwks_pending_polls.set(1);
    for _ in 0..8 {
        w.stytch_ok();
    }
    let answers = w.exchange_all(&vec![token("valid_es256"); 8]);
    assert!(answers.iter().all(|r| r.status == 200));
    assert_eq!(w.http.jwks_fetches(), 1);
}

// ---- memory, then KV, then the network, on every path ----

/// Puts the fixture key set into KV as the scheduled prewarm (or an isolate elsewhere) would
/// have renewed it: fetched at `fetched_at_ms`, fresh for 600 s, tagged with the secret.
fn renewed_elsewhere(w: &World, fetched_at_ms: u64) {
    let body = common::fixtures::fixtures()["jwks"].to_string();
    put_entry(
        w,
        &tagged_entry(
            fetched_at_ms,
            fetched_at_ms + 600_000,
            &body,
            SECRET,
            &kv_key(JWKS_URL),
        ),
    );
}

#[test]
fn a_warm_isolate_whose_copy_expired_takes_kvs_renewed_entry_instead_of_fetching() {
    let w = World::new();
    assert_eq!(ok(&w, "valid_es256"), 200);
    assert_eq!((w.http.jwks_fetches(), w.kv.gets.get()), (1, 1));
    // Five minutes on, the prewarm renews KV in another location.
    w.platform.advance_secs(300);
    renewed_elsewhere(&w, w.platform.now_ms());
    // This isolate's copy expires at 600 s: its next request reads KV, and fetches nothing.
    w.platform.advance_secs(301);
    assert_eq!(ok(&w, "valid_es256"), 200);
    let log = w.platform.last_log();
    assert_eq!(log["cache"], "kv");
    assert_eq!(log["kv_reads"], 1);
    assert_eq!(w.http.jwks_fetches(), 1, "no fetch: KV's entry was fresh");
    // The copy taken from KV is memory's now: the next requests read nothing.
    for _ in 0..3 {
        assert_eq!(ok(&w, "valid_rs256"), 200);
    }
    assert_eq!(w.platform.last_log()["cache"], "memory");
    assert_eq!((w.http.jwks_fetches(), w.kv.gets.get()), (1, 2));
}

#[test]
fn when_kv_holds_nothing_newer_one_fetch_renews_memory_and_kv() {
    let w = World::new();
    assert_eq!(ok(&w, "valid_es256"), 200);
    assert_eq!(w.kv.puts.get(), 1);
    // Both copies expire together (KV holds this isolate's own entry).
    w.platform.advance_secs(601);
    assert_eq!(ok(&w, "valid_es256"), 200);
    let log = w.platform.last_log();
    assert_eq!(
        (log["cache"].as_str(), log["kv_reads"].as_u64()),
        (Some("network"), Some(1))
    );
    assert_eq!(w.http.jwks_fetches(), 2);
    assert_eq!(w.kv.puts.get(), 2, "KV held an older entry: renewed");
    // An older KV entry than memory's is never taken in its place.
    w.platform.advance_secs(601);
    renewed_elsewhere(&w, w.platform.now_ms() - 1_200_000);
    assert_eq!(ok(&w, "valid_es256"), 200);
    assert_eq!(w.platform.last_log()["cache"], "network");
    assert_eq!(w.http.jwks_fetches(), 3);
}

#[test]
fn a_fetch_writes_kv_only_over_an_older_entry() {
    use futures_util::future::join;
    let w = World::new();
    assert_eq!(ok(&w, "valid_es256"), 200);
    w.platform.advance_secs(601);
    // While this isolate's refresh is under way, another isolate writes KV an entry fetched
    // at the same instant: this one's write, after the response, is left out.
    w.http.jwks_pending_polls.set(3);
    w.stytch_ok();
    let config = w.config().unwrap();
    let services = w.services();
    let request = edge_attest::http::IncomingRequest {
        method: "POST".into(),
        url: format!("{WORKER}/api/exchange"),
        headers: vec![("content-type".into(), "application/json".into())],
        body: serde_json::json!({ "access_token": token("valid_es256") })
            .to_string()
            .into_bytes(),
    };
    // The entry is tagged before: the fake's executor cannot be entered twice.
    let key = kv_key(JWKS_URL);
    let now = w.platform.now_ms();
    let body = common::fixtures::fixtures()["jwks"].to_string();
    let entry = tagged_entry(now, now + 600_000, &body, SECRET, &key);
    let elsewhere = async {
        put_entry(&w, &entry);
    };
    let (r, ()) = futures_executor::block_on(join(
        services.handle(Ok(&config), request, &w.app),
        elsewhere,
    ));
    assert_eq!(r.status(), 200);
    assert_eq!(w.http.jwks_fetches(), 2);
    let puts = w.kv.puts.get();
    w.kv.flush(w.platform.now_ms());
    assert_eq!(w.kv.puts.get(), puts, "no redundant write");
    assert_eq!(w.kv.skipped_puts.get(), 1);
}

#[test]
fn one_kv_read_in_flight_per_set() {
    let w = World::new();
    assert_eq!(ok(&w, "valid_es256"), 200);
    w.platform.advance_secs(300);
    renewed_elsewhere(&w, w.platform.now_ms());
    w.platform.advance_secs(301);
    // A burst at expiry, KV slow: one read, the others wait for it.
    w.kv.pending_polls.set(3);
    for _ in 0..10 {
        w.stytch_ok();
    }
    let gets = w.kv.gets.get();
    let answers = w.exchange_all(&vec![token("valid_es256"); 10]);
    assert!(answers.iter().all(|r| r.status == 200));
    assert_eq!(w.kv.gets.get(), gets + 1);
    assert_eq!(w.http.jwks_fetches(), 1);
}

#[test]
fn during_an_outage_kv_is_looked_at_again_only_every_30_seconds() {
    let w = World::new();
    assert_eq!(ok(&w, "valid_es256"), 200);
    unreachable_jwks(&w);
    w.platform.advance_secs(601);
    // Expired: KV (nothing newer), the fetch fails, the stale copy serves.
    assert_eq!(ok(&w, "valid_es256"), 200);
    assert_eq!(w.platform.last_log()["cache"], "stale");
    let (fetches, gets) = (w.http.jwks_fetches(), w.kv.gets.get());
    for _ in 0..5 {
        w.platform.advance_secs(5);
        assert_eq!(ok(&w, "valid_es256"), 200);
    }
    assert_eq!(
        (w.http.jwks_fetches(), w.kv.gets.get()),
        (fetches, gets),
        "no read, no fetch per request"
    );
    // 30 s on, KV is looked at again: the prewarm got through elsewhere meanwhile.
    renewed_elsewhere(&w, w.platform.now_ms());
    w.platform.advance_secs(5);
    assert_eq!(ok(&w, "valid_es256"), 200);
    assert_eq!(w.platform.last_log()["cache"], "kv");
    assert_eq!(
        w.http.jwks_fetches(),
        fetches,
        "recovered from KV, without the network"
    );
}

#[test]
fn a_look_at_kv_that_found_a_fresh_entry_does_not_delay_the_next_one() {
    // Copies that expire quickly one after the other (short-lived entries renewed often): each
    // expiry looks at KV, however soon after the last look, as long as that one found something.
    let w = World::new();
    w.serve_jwks("jwks", "max-age=60");
    assert_eq!(ok(&w, "valid_es256"), 200);
    let body = common::fixtures::fixtures()["jwks"].to_string();
    let renew = |fresh_secs: u64| {
        let at = w.platform.now_ms();
        put_entry(
            &w,
            &tagged_entry(at, at + fresh_secs * 1000, &body, SECRET, &kv_key(JWKS_URL)),
        );
    };
    w.platform.advance_secs(50);
    renew(20); // fresh until 70 s
    w.platform.advance_secs(11);
    assert_eq!(ok(&w, "valid_es256"), 200); // 61 s: from KV
    assert_eq!(w.platform.last_log()["cache"], "kv");
    w.platform.advance_secs(4);
    renew(20); // fresh until 85 s
    w.platform.advance_secs(6);
    assert_eq!(ok(&w, "valid_es256"), 200); // 71 s: 10 s after the last look, from KV again
    assert_eq!(w.platform.last_log()["cache"], "kv");
    assert_eq!(w.http.jwks_fetches(), 1);
}

#[test]
fn a_set_taken_from_kv_that_was_fetched_after_this_isolates_failure_refuses_an_unknown_kid() {
    // This isolate's fetch failed; then another isolate (or the prewarm) fetched the set and
    // KV holds it, without the token's kid. Taken from KV, it is newer than the failure: the
    // provider's word that the kid is not published (401 within the cooldown), not a 503.
    let w = World::new();
    assert_eq!(ok(&w, "valid_es256"), 200);
    unreachable_jwks(&w);
    w.platform.advance_secs(601);
    // Expired: KV holds nothing newer, the fetch fails (last_failure_ms), stale serves.
    assert_eq!(ok(&w, "valid_es256"), 200);
    assert_eq!(w.platform.last_log()["cache"], "stale");
    // 25 s later a fetch elsewhere succeeds and renews KV (a set without "nope").
    w.platform.advance_secs(25);
    renewed_elsewhere(&w, w.platform.now_ms());
    // 5 s after that (30 s after the failure, so KV is looked at again): the set in hand is
    // KV's, fetched after the failure; the unknown-kid refetch is within its cooldown.
    w.platform.advance_secs(5);
    let fetches = w.http.jwks_fetches();
    let r = w.exchange(&token("unknown_kid"));
    assert_eq!(w.platform.last_log()["cache"], "kv");
    assert_eq!(
        w.http.jwks_fetches(),
        fetches,
        "no refetch within the cooldown"
    );
    assert_eq!(
        r.status, 401,
        "the keys in hand were fetched after the failure: {}",
        r.body
    );
}
