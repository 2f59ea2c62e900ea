#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Rate limits in front of Stytch, through the real handler with a fake of the Rate Limiting
//! binding that counts as the local runtime's simulation does (a fixed window per binding).
//! One test per rule, each failing if its rule is removed.

mod common;
use common::fakes::*;
use common::fixtures::{fixtures, now, session_jwt, token};
use edge_attest::app::limits::Limit;
use edge_attest::http::Response;
use serde_json::json;

const ADDRESS: &str = "203.0.113.7";

fn exchange_from(w: &World, ip: &str, token: &str, cookie: Option<&str>) -> Response {
    let body = json!({ "access_token": token }).to_string();
    let mut headers = vec![
        ("content-type", "application/json"),
        ("cf-connecting-ip", ip),
    ];
    if let Some(c) = cookie {
        headers.push(("cookie", c));
    }
    w.request("POST", "/api/exchange", &headers, &body)
}

fn assert_limited(w: &World, r: &Response, which: &str) {
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(body_json(r)["error"], "rate_limited");
    assert_eq!(r.header("retry-after"), Some("60"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let log = w.platform.last_log();
    assert_eq!(log["outcome"], "rate_limited");
    assert_eq!(log["detail"], format!("{which} rate limit"));
}

#[test]
fn without_bindings_there_is_no_limit() {
    let w = World::new();
    for _ in 0..20 {
        w.stytch_ok();
        assert_eq!(
            exchange_from(&w, ADDRESS, &token("valid_es256"), None).status,
            200
        );
    }
    // Asked every time, and every time there was no such limiter.
    assert_eq!(w.limits.calls.borrow().len(), 40);
}

#[test]
fn an_address_over_its_limit_gets_429_before_its_body_is_read() {
    let w = World::new();
    w.limits.ip.set(Some((2, 60)));
    for _ in 0..2 {
        w.stytch_ok();
        assert_eq!(
            exchange_from(&w, ADDRESS, &token("valid_es256"), None).status,
            200
        );
    }
    let stytch_before = w.http.stytch_calls().len();
    let r = exchange_from(&w, ADDRESS, &token("valid_es256"), None);
    assert_limited(&w, &r, "ip");
    assert_eq!(
        w.http.stytch_calls().len(),
        stytch_before,
        "nothing reached Stytch"
    );
    // Not even the body: an oversized one, or none at all, is still 429, not 413 or 400.
    let big = "x".repeat(20_000);
    let r = w.request(
        "POST",
        "/api/exchange",
        &[
            ("content-type", "application/json"),
            ("cf-connecting-ip", ADDRESS),
        ],
        &big,
    );
    assert_limited(&w, &r, "ip");
    // Another address is counted on its own; the window's end lifts the limit.
    w.stytch_ok();
    assert_eq!(
        exchange_from(&w, "198.51.100.9", &token("valid_es256"), None).status,
        200
    );
    w.platform.advance_secs(60);
    w.stytch_ok();
    assert_eq!(
        exchange_from(&w, ADDRESS, &token("valid_es256"), None).status,
        200
    );
}

#[test]
fn ipv6_addresses_of_one_64_bit_prefix_share_a_counter() {
    let w = World::new();
    w.limits.ip.set(Some((1, 60)));
    w.stytch_ok();
    let first = exchange_from(&w, "2001:db8:1:2::10", &token("valid_es256"), None);
    assert_eq!(first.status, 200);
    let r = exchange_from(&w, "2001:db8:1:2:ffff::99", &token("valid_es256"), None);
    assert_limited(&w, &r, "ip");
    assert_eq!(
        w.limits.calls.borrow()[0],
        (Limit::Ip, "ip:2001:db8:1:2::/64".to_owned())
    );
}

#[test]
fn a_user_over_its_limit_reaches_stytch_no_more() {
    let w = World::new();
    w.limits.user.set(Some((1, 60)));
    w.stytch_ok();
    assert_eq!(
        exchange_from(&w, ADDRESS, &token("valid_es256"), None).status,
        200
    );
    // The same user from another address: the user's limit, after verification.
    let r = exchange_from(&w, "198.51.100.9", &token("valid_rs256"), None);
    assert_limited(&w, &r, "user");
    assert_eq!(w.http.stytch_calls().len(), 1);
    let (limit, key) = w.limits.calls.borrow().last().cloned().unwrap();
    assert_eq!(limit, Limit::User);
    assert_eq!(
        key,
        format!(
            "user:{}\n{}",
            fixtures()["issuer"].as_str().unwrap(),
            fixtures()["stytch"]["link"]["sub"].as_str().unwrap()
        )
    );
    // A token that fails verification is refused as such: it never counts for anyone.
    let user_checks = || w.limits.checks_of(Limit::User);
    let before = user_checks();
    let r = exchange_from(&w, ADDRESS, &token("expired_long_ago"), None);
    assert_eq!(r.status, 401);
    assert_eq!(user_checks(), before);
}

#[test]
fn a_repeat_exchange_answered_at_the_edge_does_not_count_against_the_user() {
    let w = World::new();
    w.limits.user.set(Some((1, 60)));
    let cookie = format!(
        "stytch_session=old-token; stytch_session_jwt={}",
        session_jwt("session_reusable")
    );
    for _ in 0..5 {
        let r = exchange_from(&w, ADDRESS, &token("valid_es256"), Some(&cookie));
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(body_json(&r)["reused"], true);
    }
    assert!(w.limits.calls.borrow().iter().all(|(l, _)| *l == Limit::Ip));
    // The user's one call to Stytch is still there to be made.
    w.stytch_ok();
    assert_eq!(
        exchange_from(&w, ADDRESS, &token("valid_es256"), None).status,
        200
    );
}

#[test]
fn the_second_attest_after_a_refused_extension_counts_against_the_user() {
    let cookie = format!(
        "stytch_session=old-token; stytch_session_jwt={}",
        session_jwt("session_expired")
    );
    // One call allowed: the extension takes it; Stytch refuses it (the session is gone),
    // and the new session it would take instead is over the limit.
    let w = World::new();
    w.limits.user.set(Some((1, 60)));
    w.http.push_stytch(stytch_error(404, "session_not_found"));
    let r = exchange_from(&w, ADDRESS, &token("valid_es256"), Some(&cookie));
    assert_limited(&w, &r, "user");
    assert_eq!(
        w.http.stytch_calls().len(),
        1,
        "the second attest was not made"
    );
    // Two allowed: both attests are made, each counted.
    let w = World::new();
    w.limits.user.set(Some((2, 60)));
    w.http.push_stytch(stytch_error(404, "session_not_found"));
    w.stytch_ok();
    let r = exchange_from(&w, ADDRESS, &token("valid_es256"), Some(&cookie));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(w.http.stytch_calls().len(), 2);
    assert_eq!(w.limits.checks_of(Limit::User), 2);
}

#[test]
fn requests_without_an_address_are_not_counted_together_and_this_is_said_once() {
    // Behind a service binding or another proxy nobody has an address: one shared counter
    // would let any single client exhaust it for everybody.
    let w = World::new();
    w.limits.ip.set(Some((1, 60)));
    for _ in 0..3 {
        w.stytch_ok();
        let r = w.exchange(&token("valid_es256"));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert!(
        w.limits.calls.borrow().iter().all(|(l, _)| *l != Limit::Ip),
        "the per-address limiter was not asked"
    );
    let notices: Vec<String> = w
        .platform
        .logs
        .borrow()
        .iter()
        .filter(|l| l.contains(r#""notice":"no_client_address""#))
        .cloned()
        .collect();
    assert_eq!(notices.len(), 1, "once per isolate");
    // An address is counted as before, in the same isolate.
    w.stytch_ok();
    assert_eq!(
        exchange_from(&w, ADDRESS, &token("valid_es256"), None).status,
        200
    );
    assert_limited(
        &w,
        &exchange_from(&w, ADDRESS, &token("valid_es256"), None),
        "ip",
    );
    // Another isolate says it again.
    let other = World::new();
    other.stytch_ok();
    other.exchange(&token("valid_es256"));
    assert!(
        other
            .platform
            .logs
            .borrow()
            .iter()
            .any(|l| l.contains("no_client_address"))
    );
}

#[test]
fn a_failing_limiter_lets_requests_through_and_says_so() {
    let w = World::new();
    w.limits.ip.set(Some((1, 60)));
    w.limits.user.set(Some((1, 60)));
    w.limits.failing.set(true);
    for _ in 0..3 {
        w.stytch_ok();
        assert_eq!(
            exchange_from(&w, ADDRESS, &token("valid_es256"), None).status,
            200
        );
    }
    assert_eq!(
        w.platform.last_log()["rate_limit_error"],
        "user: the binding threw"
    );
}

#[test]
fn session_refreshes_and_logouts_count_per_address_but_local_answers_do_not() {
    let w = World::new();
    w.limits.ip.set(Some((1, 60)));
    let live = format!(
        "stytch_session=old-token; stytch_session_jwt={}",
        session_jwt("session_reusable")
    );
    let expired = format!(
        "stytch_session=old-token; stytch_session_jwt={}",
        session_jwt("session_expired")
    );
    let from = |cookie: &str| {
        [
            ("cookie", cookie.to_owned()),
            ("cf-connecting-ip", ADDRESS.to_owned()),
        ]
    };
    let get = |cookie: &str| {
        let h = from(cookie);
        let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
        w.request("GET", "/api/session", &h, "")
    };
    for _ in 0..3 {
        assert_eq!(get(&live).status, 200, "answered from the JWT: no count");
    }
    w.http
        .push_stytch(json_reply(200, attest_body(now() + 1800)));
    assert_eq!(get(&expired).status, 200, "the one refresh with Stytch");
    let r = get(&expired);
    assert_limited(&w, &r, "ip");
    assert_eq!(r.headers_named("set-cookie").count(), 0);
    // Logout over the limit keeps the cookies, so that a retry can still revoke.
    let h = from(&live);
    let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = w.request("POST", "/api/logout", &h, "");
    assert_limited(&w, &r, "ip");
    assert_eq!(r.headers_named("set-cookie").count(), 0);
    assert_eq!(w.http.stytch_calls().len(), 1);
}
