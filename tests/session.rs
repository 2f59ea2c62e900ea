#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Repeat exchanges answered at the edge, extended or replaced, and `GET /api/session`,
//! through the real handler with faithful fakes. The session JWTs are the fixture table's
//! (`tests/fixtures/generate.mjs`, signed by jose): one named test per row, each failing if
//! its rule is removed.

mod common;
use common::fakes::*;
use common::fixtures::{fixtures, now, session_case, session_jwt, token};
use edge_attest::http::{OutboundResponse, Response, TransportError};
use serde_json::{Value, json};

/// The session token the browser holds next to the session JWT.
const OLD_TOKEN: &str = "old-session-token-kept-in-the-browser";

fn jwt(name: &str) -> String {
    session_jwt(name)
}

fn cookies(jwt: &str) -> String {
    format!("theme=dark; stytch_session={OLD_TOKEN}; stytch_session_jwt={jwt}")
}

fn iso(unix: i64) -> String {
    rfc3339(unix)
}

/// The attest calls' bodies, parsed.
fn attest_bodies(w: &World) -> Vec<Value> {
    w.http
        .stytch_calls()
        .iter()
        .filter(|c| c.url.ends_with("/v1/sessions/attest"))
        .map(|c| serde_json::from_str(c.body.as_deref().unwrap()).unwrap())
        .collect()
}

fn assert_reused(w: &World, r: &Response) {
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        body_json(r),
        json!({
            "aal": "aal1",
            "expires_at": iso(now() + 3000),
            "request_id": null,
            "reused": true,
            "session_id": "session-test-33333333",
            "user_id": "user-test-22222222",
        })
    );
    assert_eq!(r.headers_named("set-cookie").count(), 0, "no new cookies");
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(w.http.stytch_calls().is_empty(), "nothing reached Stytch");
    let log = w.platform.last_log();
    assert_eq!(log["outcome"], "reused");
    assert_eq!(log["session"], "reused");
    assert_eq!(log["prior"], "reusable");
    assert!(log.get("stytch_attempts").is_none(), "{log}");
}

/// Runs one row of the session table: an exchange of `valid_es256` with that JWT in the
/// cookie must do what the row says.
fn expect_session(name: &str) {
    let expect = session_case(name)["expect"].as_str().unwrap();
    let w = World::new();
    if expect == "reused" {
        let r = w.exchange_with_cookies(&token("valid_es256"), &cookies(&jwt(name)));
        assert_reused(&w, &r);
        return;
    }
    w.stytch_ok();
    let r = w.exchange_with_cookies(&token("valid_es256"), &cookies(&jwt(name)));
    assert_eq!(r.status, 200, "{name}: {}", r.body);
    assert_eq!(body_json(&r)["reused"], false);
    assert_eq!(r.headers_named("set-cookie").count(), 2, "{name}");
    let bodies = attest_bodies(&w);
    assert_eq!(bodies.len(), 1, "{name}");
    let log = w.platform.last_log();
    let prior = log["prior"].as_str().unwrap();
    let (kind, why) = expect.split_once(": ").unwrap();
    match kind {
        "extend" => {
            assert_eq!(bodies[0]["session_token"], OLD_TOKEN, "{name}");
            assert_eq!(prior, why);
            assert_eq!(log["session"], "extended");
        }
        "replace" => {
            assert!(bodies[0].get("session_token").is_none(), "{name}");
            assert_eq!(prior, why);
            assert_eq!(log["session"], "created");
        }
        "invalid" => {
            assert!(bodies[0].get("session_token").is_none(), "{name}");
            assert!(
                prior.starts_with(&format!("invalid: {why}")),
                "{name}: {prior}"
            );
            assert_eq!(log["session"], "created");
        }
        other => panic!("unknown expectation {other}"),
    }
}

macro_rules! session_rule_tests {
    ($($name:ident),* $(,)?) => { $( #[test] fn $name() { expect_session(stringify!($name)); } )* };
}

session_rule_tests!(
    session_reusable,
    session_aud_string,
    session_custom_domain_issuer,
    session_other_project_key,
    session_unknown_kid,
    session_wrong_aud,
    session_wrong_iss,
    session_expired,
    session_near_expiry,
    session_ended,
    session_no_link,
    session_link_other_iss,
    session_link_other_sub,
    session_link_other_session,
    session_link_without_session_id,
    session_link_extra_member,
    session_alg_none,
    session_hs256,
    session_es256,
    session_duplicate_member,
    session_tampered,
    session_nbf_future,
    session_no_session_claim,
    session_link_aal2,
    session_link_without_aal,
    session_link_bad_aal,
    session_roles_admin,
    session_no_link_expired,
);

#[test]
fn every_session_row_has_a_named_test() {
    let src = include_str!("session.rs");
    for c in fixtures()["stytch"]["cases"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        assert!(
            src.contains(&format!(" {name},")),
            "session fixture {name} has no named test"
        );
    }
    assert_eq!(fixtures()["stytch"]["project_id"], PROJECT);
}

// ---- the link ----

#[test]
fn attest_links_the_session_to_the_login() {
    let w = World::new();
    w.stytch_ok();
    w.exchange(&token("valid_es256"));
    let body = &attest_bodies(&w)[0];
    assert_eq!(
        body["session_custom_claims"],
        json!({ "edge_attest": fixtures()["stytch"]["link"] })
    );
    assert!(body.get("session_token").is_none());
    assert_eq!(w.platform.last_log()["session"], "created");
}

#[test]
fn a_link_that_would_not_fit_is_not_sent() {
    let w = World::new();
    w.stytch_ok();
    assert_eq!(w.exchange(&token("valid_long_subject")).status, 200);
    assert!(attest_bodies(&w)[0].get("session_custom_claims").is_none());
}

// ---- assurance ----

#[test]
fn an_aal1_session_is_extended_for_the_aal2_token_of_its_login_then_reused() {
    // The browser's session was made from the aal1 token of this login (before the MFA
    // challenge); the aal2 token of the same login arrives. Never answered at the edge:
    // extended, which rewrites the link with aal2.
    let w = World::new();
    w.stytch_ok();
    let r = w.exchange_with_cookies(&token("valid_aal2"), &cookies(&jwt("session_reusable")));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(body_json(&r)["reused"], false);
    assert_eq!(body_json(&r)["aal"], "aal2");
    let bodies = attest_bodies(&w);
    assert_eq!(bodies[0]["session_token"], OLD_TOKEN);
    assert_eq!(
        bodies[0]["session_custom_claims"]["edge_attest"]["aal"],
        "aal2"
    );
    let log = w.platform.last_log();
    assert_eq!(
        (log["prior"].as_str(), log["session"].as_str()),
        (Some("aal_upgrade"), Some("extended"))
    );
    // The session, now linked at aal2, is reused for the aal2 login.
    let w = World::new();
    let r = w.exchange_with_cookies(&token("valid_aal2"), &cookies(&jwt("session_link_aal2")));
    assert_eq!(body_json(&r)["reused"], true);
    assert_eq!(body_json(&r)["aal"], "aal2");
    assert!(w.http.stytch_calls().is_empty());
}

#[test]
fn required_aal2_refuses_the_pre_mfa_token_before_stytch() {
    let w = World::new().var("REQUIRED_AAL", "aal2");
    let r = w.exchange(&token("valid_es256"));
    assert_eq!(r.status, 401);
    assert_eq!(body_json(&r)["error"], "invalid_token");
    assert!(w.http.stytch_calls().is_empty());
    assert_eq!(
        w.platform.last_log()["detail"],
        "assurance: aal1 below the required aal2 (required_aal)"
    );
    w.stytch_ok();
    assert_eq!(w.exchange(&token("valid_aal2")).status, 200);
}

#[test]
fn mfa_enrolled_claim_requires_aal2_of_enrolled_users_only() {
    let w = World::new().var("MFA_ENROLLED_CLAIM", "mfa_enrolled");
    w.stytch_ok();
    let r = w.exchange(&token("mfa_not_enrolled_aal1"));
    assert_eq!(
        (r.status, body_json(&r)["aal"].as_str()),
        (200, Some("aal1"))
    );
    for name in ["mfa_enrolled_aal1", "mfa_enrolled_string", "valid_es256"] {
        let r = w.exchange(&token(name));
        assert_eq!(r.status, 401, "{name}");
        assert!(
            w.platform.last_log()["detail"]
                .as_str()
                .unwrap()
                .starts_with("assurance: "),
            "{name}"
        );
    }
    w.stytch_ok();
    assert_eq!(w.exchange(&token("mfa_enrolled_aal2")).status, 200);
    assert_eq!(w.http.stytch_calls().len(), 2);
}

#[test]
fn the_answers_carry_the_level() {
    let w = World::new();
    w.stytch_ok();
    assert_eq!(body_json(&w.exchange(&token("valid_es256")))["aal"], "aal1");
    w.stytch_ok();
    assert_eq!(
        body_json(&w.exchange(&token("aal_missing")))["aal"],
        Value::Null
    );
    let r = get_session(&w, Some(&cookies(&jwt("session_link_aal2"))));
    assert_eq!(body_json(&r)["aal"], "aal2");
    let r = get_session(&w, Some(&cookies(&jwt("session_no_link"))));
    assert_eq!(body_json(&r)["aal"], Value::Null);
}

// ---- issuers and configuration ----

#[test]
fn custom_domain_issuers_are_accepted_when_configured() {
    let w = World::new().var("STYTCH_SESSION_ISSUERS", "https://login.example.com");
    let r = w.exchange_with_cookies(
        &token("valid_es256"),
        &cookies(&jwt("session_custom_domain_issuer")),
    );
    assert_reused(&w, &r);
    // As Stytch's SDKs do, the API base (a custom domain) is an issuer too.
    let w = World::new().var("STYTCH_API_BASE", "https://login.example.com");
    let r = w.exchange_with_cookies(
        &token("valid_es256"),
        &cookies(&jwt("session_custom_domain_issuer")),
    );
    assert_reused(&w, &r);
    assert_eq!(
        w.http.calls.borrow()[1].url,
        format!("https://login.example.com/v1/sessions/jwks/{PROJECT}")
    );
}

#[test]
fn reuse_can_be_switched_off_and_then_extends() {
    let w = World::new().var("SESSION_REUSE", "false");
    w.stytch_ok();
    let r = w.exchange_with_cookies(&token("valid_es256"), &cookies(&jwt("session_reusable")));
    assert_eq!(body_json(&r)["reused"], false);
    assert_eq!(attest_bodies(&w)[0]["session_token"], OLD_TOKEN);
    assert_eq!(w.platform.last_log()["prior"], "reuse_disabled");
}

#[test]
fn the_minimum_left_is_configurable() {
    // session_near_expiry has 59 s left: reused once 59 s are enough.
    let w = World::new().var("SESSION_REUSE_MIN_SECONDS", "59");
    let r = w.exchange_with_cookies(&token("valid_es256"), &cookies(&jwt("session_near_expiry")));
    assert_eq!(r.status, 200);
    assert_eq!(body_json(&r)["reused"], true);
}

// ---- extending ----

#[test]
fn without_the_token_cookie_an_expired_session_is_replaced() {
    let w = World::new();
    w.stytch_ok();
    let cookie = format!("stytch_session_jwt={}", jwt("session_expired"));
    w.exchange_with_cookies(&token("valid_es256"), &cookie);
    assert!(attest_bodies(&w)[0].get("session_token").is_none());
    assert_eq!(w.platform.last_log()["session"], "created");
}

#[test]
fn a_session_stytch_no_longer_has_is_replaced_once() {
    let w = World::new();
    w.http.push_stytch(stytch_error(404, "session_not_found"));
    w.stytch_ok();
    let r = w.exchange_with_cookies(&token("valid_es256"), &cookies(&jwt("session_expired")));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.headers_named("set-cookie").count(), 2);
    let bodies = attest_bodies(&w);
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0]["session_token"], OLD_TOKEN);
    assert!(bodies[1].get("session_token").is_none());
    assert_eq!(
        bodies[1]["session_custom_claims"],
        bodies[0]["session_custom_claims"]
    );
    let log = w.platform.last_log();
    assert_eq!(log["session"], "created");
    assert_eq!(log["stytch_attempts"], 2);
    assert!(
        log["prior"]
            .as_str()
            .unwrap()
            .contains("extension refused: stytch_rejected session_not_found"),
        "{log}"
    );
}

#[test]
fn an_extension_answered_for_another_user_is_not_handed_out() {
    let w = World::new();
    let mut other = attest_body(now() + 3600);
    other["user_id"] = json!("user-test-someone-else");
    other["session_token"] = json!("someone-elses-session");
    w.http.push_stytch(json_reply(200, other));
    w.stytch_ok();
    let r = w.exchange_with_cookies(&token("valid_es256"), &cookies(&jwt("session_expired")));
    assert_eq!(r.status, 200);
    assert_eq!(body_json(&r)["user_id"], "user-test-22222222");
    assert!(
        r.headers_named("set-cookie")
            .all(|c| !c.contains("someone-elses-session"))
    );
    assert_eq!(attest_bodies(&w).len(), 2);
}

#[test]
fn an_extension_answered_for_another_session_of_the_user_is_not_handed_out() {
    // The token cookie is not tied to the JWT cookie: Stytch extended some other session of
    // the same user (a token from another tab's login, or planted). It is not this login's.
    let w = World::new();
    let mut other = attest_body(now() + 3600);
    other["session"]["session_id"] = json!("session-test-another-one");
    other["session_token"] = json!("another-sessions-token");
    w.http.push_stytch(json_reply(200, other));
    w.stytch_ok();
    let r = w.exchange_with_cookies(&token("valid_es256"), &cookies(&jwt("session_expired")));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(body_json(&r)["session_id"], "session-test-33333333");
    assert!(
        r.headers_named("set-cookie")
            .all(|c| !c.contains("another-sessions-token"))
    );
    let bodies = attest_bodies(&w);
    assert_eq!(bodies.len(), 2);
    assert!(
        bodies[1].get("session_token").is_none(),
        "a new session instead"
    );
    assert!(
        w.platform.last_log()["prior"]
            .as_str()
            .unwrap()
            .ends_with("extension refused: answered for another session")
    );
}

#[test]
fn a_failed_extension_is_not_retried_as_a_new_session() {
    let w = World::new();
    w.http
        .push_stytch(stytch_error(500, "internal_server_error"));
    w.http
        .push_stytch(stytch_error(503, "internal_server_error"));
    let r = w.exchange_with_cookies(&token("valid_es256"), &cookies(&jwt("session_expired")));
    assert_eq!(r.status, 502);
    assert_eq!(attest_bodies(&w).len(), 2, "one retry, as any attest");
    assert!(
        attest_bodies(&w)
            .iter()
            .all(|b| b["session_token"] == OLD_TOKEN)
    );
}

// ---- Stytch's keys go through the key cache ----

#[test]
fn stytch_keys_are_cached_like_the_providers() {
    let w = World::new();
    let c = cookies(&jwt("session_reusable"));
    for _ in 0..3 {
        assert_reused(&w, &w.exchange_with_cookies(&token("valid_es256"), &c));
    }
    assert_eq!(w.http.stytch_jwks_fetches(), 1, "then memory");
    let fetch = w
        .http
        .calls
        .borrow()
        .iter()
        .find(|c| c.url.contains(STYTCH_JWKS_PATH))
        .cloned()
        .unwrap();
    assert_eq!(
        fetch.url,
        format!("https://test.stytch.com/v1/sessions/jwks/{PROJECT}")
    );
    assert!(
        fetch.headers.iter().all(|(k, _)| *k != "authorization"),
        "the key set is public: no credentials"
    );
    assert_eq!(
        (fetch.timeout_ms, fetch.max_response_bytes),
        (3000, 64 * 1024)
    );
    let kv_key = edge_attest::keys::cache::kv_key(&fetch.url);
    assert!(w.kv.store.borrow().contains_key(&kv_key), "written to KV");

    w.new_isolate();
    assert_reused(&w, &w.exchange_with_cookies(&token("valid_es256"), &c));
    assert_eq!(w.http.stytch_jwks_fetches(), 1, "a cold isolate reads KV");
    assert_eq!(w.platform.last_log()["session_keys"], "kv");
}

#[test]
fn stytch_keys_unavailable_means_a_new_session_not_an_error() {
    let w = World::new();
    *w.http.stytch_jwks.borrow_mut() = Some(Err(TransportError::Network("reset".into())));
    w.stytch_ok();
    let r = w.exchange_with_cookies(&token("valid_es256"), &cookies(&jwt("session_reusable")));
    assert_eq!(r.status, 200);
    assert!(attest_bodies(&w)[0].get("session_token").is_none());
    assert!(
        w.platform.last_log()["prior"]
            .as_str()
            .unwrap()
            .starts_with("stytch_keys_unavailable:")
    );
}

#[test]
fn a_forged_cookie_never_turns_a_valid_login_into_an_error() {
    for cookie in [
        "stytch_session_jwt=garbage; stytch_session=x".to_owned(),
        format!("stytch_session_jwt={}", "a".repeat(9000)),
        cookies(&jwt("session_tampered")),
    ] {
        let w = World::new();
        w.stytch_ok();
        let r = w.exchange_with_cookies(&token("valid_es256"), &cookie);
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(attest_bodies(&w)[0].get("session_token").is_none());
    }
    // And an invalid login stays invalid, whatever the cookie.
    let w = World::new();
    let r = w.exchange_with_cookies(
        &token("tampered_signature"),
        &cookies(&jwt("session_reusable")),
    );
    assert_eq!(r.status, 401);
    assert_eq!(
        w.http.stytch_jwks_fetches(),
        0,
        "the cookie is not even looked at"
    );
}

// ---- GET /api/session ----

fn get_session(w: &World, cookie: Option<&str>) -> Response {
    let headers: Vec<(&str, &str)> = cookie.map(|c| ("cookie", c)).into_iter().collect();
    w.request("GET", "/api/session", &headers, "")
}

fn assert_cleared(r: &Response) {
    let set: Vec<&str> = r.headers_named("set-cookie").collect();
    assert_eq!(set.len(), 2, "{set:?}");
    assert!(set.iter().all(|c| c.contains("Max-Age=0")), "{set:?}");
}

#[test]
fn session_route_answers_from_a_live_jwt_without_a_subrequest() {
    let w = World::new();
    let r = get_session(&w, Some(&cookies(&jwt("session_reusable"))));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        body_json(&r),
        json!({
            "aal": "aal1",
            "expires_at": iso(now() + 3000),
            "link": fixtures()["stytch"]["link"],
            "session_id": "session-test-33333333",
            "user_id": "user-test-22222222",
        })
    );
    assert_eq!(r.headers_named("set-cookie").count(), 0);
    assert!(w.http.stytch_calls().is_empty());
    assert_eq!(w.platform.last_log()["session"], "local");
    // A session this worker did not create has no link.
    let r = get_session(&w, Some(&cookies(&jwt("session_no_link"))));
    assert_eq!(body_json(&r)["link"], Value::Null);
}

#[test]
fn session_route_refreshes_an_expired_jwt_with_the_session_token() {
    let w = World::new();
    w.http.push_stytch(authenticate_answer(now() + 1800));
    let r = get_session(&w, Some(&cookies(&jwt("session_expired"))));
    assert_eq!(r.status, 200, "{}", r.body);
    let calls = w.http.stytch_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].url,
        "https://test.stytch.com/v1/sessions/authenticate"
    );
    assert_eq!(
        calls[0].body.as_deref(),
        Some(&*format!(r#"{{"session_token":"{OLD_TOKEN}"}}"#))
    );
    assert_eq!(
        body_json(&r),
        json!({
            "aal": "aal1",
            "expires_at": iso(now() + 1800),
            "link": fixtures()["stytch"]["link"],
            "session_id": "session-test-33333333",
            "user_id": "user-test-22222222",
        })
    );
    let set: Vec<&str> = r.headers_named("set-cookie").collect();
    assert!(set[0].starts_with("stytch_session=refreshed-session-token;"));
    assert!(set[1].starts_with("stytch_session_jwt=eyJ"));
    assert!(set.iter().all(|c| c.contains("Max-Age=1800")));
    let log = w.platform.last_log();
    assert_eq!(
        (log["session"].as_str(), log["prior"].as_str()),
        (Some("refreshed"), Some("jwt_expired"))
    );
}

#[test]
fn session_route_never_calls_stytch_without_a_proven_session() {
    // A token cookie alone, or next to a JWT that does not verify, proves nothing: sending it
    // to Stytch with the project's secret would let anyone spend the project's quota.
    for cookie in [
        format!("stytch_session={OLD_TOKEN}"),
        cookies(&jwt("session_tampered")),
        cookies(&jwt("session_other_project_key")),
        cookies(&jwt("session_wrong_iss")),
        format!("stytch_session={OLD_TOKEN}; stytch_session_jwt=not.a.jwt"),
    ] {
        let w = World::new();
        let r = get_session(&w, Some(&cookie));
        assert_eq!(r.status, 401, "{cookie}: {}", r.body);
        assert_eq!(body_json(&r)["error"], "invalid_session");
        assert_cleared(&r);
        assert!(w.http.stytch_calls().is_empty(), "{cookie}");
        assert!(w.platform.last_log()["prior"].is_string());
    }
}

#[test]
fn a_refresh_must_answer_for_the_session_the_jwt_names() {
    for (member, value) in [
        ("session_id", "session-test-another-one"),
        ("user_id", "user-test-someone-else"),
    ] {
        let w = World::new();
        let Ok(mut reply) = authenticate_answer(now() + 1800) else {
            unreachable!()
        };
        let mut body: Value = serde_json::from_slice(&reply.body).unwrap();
        body["session"][member] = json!(value);
        reply.body = body.to_string().into_bytes();
        w.http.push_stytch(Ok(reply));
        let r = get_session(&w, Some(&cookies(&jwt("session_expired"))));
        assert_eq!(r.status, 401, "{member}: {}", r.body);
        assert_eq!(body_json(&r)["error"], "invalid_session");
        assert_cleared(&r);
        assert!(
            r.headers_named("set-cookie")
                .all(|c| !c.contains("refreshed-session-token"))
        );
        assert_eq!(
            w.platform.last_log()["prior"],
            "jwt_expired; refresh answered for another session"
        );
    }
}

#[test]
fn refreshes_count_against_the_sessions_limit_and_logout_never_does() {
    let w = World::new();
    w.limits.user.set(Some((1, 60)));
    w.http.push_stytch(authenticate_answer(now() + 1800));
    assert_eq!(
        get_session(&w, Some(&cookies(&jwt("session_expired")))).status,
        200
    );
    // Another token beside the same expired JWT: a refresh of its own, over the session's
    // limit.
    let other = format!(
        "stytch_session=another-token; stytch_session_jwt={}",
        jwt("session_expired")
    );
    let r = get_session(&w, Some(&other));
    assert_eq!(r.status, 429);
    assert_eq!(r.headers_named("set-cookie").count(), 0);
    // Revocation is never held back by the session's limit (anyone with one of its old JWTs
    // could spend it).
    w.http.push_stytch(json_reply(
        200,
        json!({"status_code": 200, "request_id": "request-id-test-1"}),
    ));
    let r = w.request(
        "POST",
        "/api/logout",
        &[("cookie", &cookies(&jwt("session_reusable")))],
        "",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(body_json(&r)["revoked"], true);
    assert_eq!(w.http.stytch_calls().len(), 2);
    let keys: Vec<String> = w
        .limits
        .calls
        .borrow()
        .iter()
        .filter(|(l, _)| *l == edge_attest::app::limits::Limit::User)
        .map(|(_, k)| k.clone())
        .collect();
    assert_eq!(keys, vec!["session:stytch\nsession-test-33333333"; 2]);
    // A session answered from its live JWT costs nothing.
    let checks = w.limits.calls.borrow().len();
    assert_eq!(
        get_session(&w, Some(&cookies(&jwt("session_reusable")))).status,
        200
    );
    assert_eq!(w.limits.calls.borrow().len(), checks);
}

// ---- cookies of one name in several scopes ----

/// Cookies of the configured names twice over: the worker's and, say, the Stytch SDK's.
fn doubled(first: &str, second: &str) -> String {
    format!(
        "stytch_session={OLD_TOKEN}; stytch_session_jwt={first}; stytch_session=sdk-token; stytch_session_jwt={second}"
    )
}

#[test]
fn ambiguous_cookies_are_never_reused_nor_extended() {
    for cookie in [
        doubled(&jwt("session_reusable"), &jwt("session_link_other_sub")),
        doubled(&jwt("session_reusable"), &jwt("session_reusable")),
        format!(
            "{}; stytch_session=another",
            cookies(&jwt("session_reusable"))
        ),
    ] {
        let w = World::new();
        w.stytch_ok();
        let r = w.exchange_with_cookies(&token("valid_es256"), &cookie);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(body_json(&r)["reused"], false);
        let bodies = attest_bodies(&w);
        assert!(bodies[0].get("session_token").is_none(), "never extended");
        let log = w.platform.last_log();
        assert_eq!(log["prior"], "ambiguous_cookies");
        assert_eq!(log["session"], "created");
        assert_eq!(
            w.http.stytch_jwks_fetches(),
            0,
            "no cookie was even verified"
        );
    }
}

#[test]
fn ambiguous_cookies_are_no_session_and_are_cleared_in_every_scope() {
    let cookie = doubled(&jwt("session_reusable"), &jwt("session_link_other_sub"));
    let w = World::new().var("COOKIE_DOMAIN", "example.com");
    let r = get_session(&w, Some(&cookie));
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(body_json(&r)["error"], "invalid_session");
    let set: Vec<&str> = r.headers_named("set-cookie").collect();
    assert_eq!(set.len(), 4, "{set:?}");
    assert!(set.iter().all(|c| c.contains("Max-Age=0")));
    assert_eq!(
        set.iter()
            .filter(|c| c.contains("Domain=example.com"))
            .count(),
        2
    );
    assert_eq!(w.platform.last_log()["prior"], "ambiguous_cookies");
    // Logout: which session is meant cannot be told, so none is revoked; all are cleared.
    let r = w.request("POST", "/api/logout", &[("cookie", &cookie)], "");
    assert_eq!(r.status, 200);
    assert_eq!(body_json(&r)["revoked"], false);
    assert_eq!(r.headers_named("set-cookie").count(), 4);
    assert!(w.http.stytch_calls().is_empty());
    assert_eq!(w.http.stytch_jwks_fetches(), 0);
    // Host-only cookies only: the host-only pair.
    let w = World::new();
    assert_eq!(
        get_session(&w, Some(&cookie))
            .headers_named("set-cookie")
            .count(),
        2
    );
}

// ---- a failed switch of user ----

#[test]
fn a_failed_exchange_clears_the_cookies_of_another_logins_session() {
    // The browser holds another login's session (or one made without a link, or one that
    // has ended); the new login is refused by Stytch: the old cookies must not stay.
    for session in ["session_link_other_sub", "session_no_link", "session_ended"] {
        let w = World::new();
        w.http
            .push_stytch(stytch_error(400, "invalid_trusted_auth_token"));
        let r = w.exchange_with_cookies(&token("valid_es256"), &cookies(&jwt(session)));
        assert_eq!(r.status, 401, "{session}");
        assert_cleared(&r);
    }
    // Over the user's limit: the same.
    let w = World::new();
    w.limits.user.set(Some((0, 60)));
    let r = w.exchange_with_cookies(
        &token("valid_es256"),
        &cookies(&jwt("session_link_other_sub")),
    );
    assert_eq!(r.status, 429);
    assert_cleared(&r);
}

#[test]
fn a_failed_exchange_keeps_the_cookies_of_its_own_login_or_unproven_ones() {
    // Its own login's session (to be extended): a 5xx leaves it as it is.
    let w = World::new();
    w.http
        .push_stytch(stytch_error(500, "internal_server_error"));
    w.http
        .push_stytch(stytch_error(500, "internal_server_error"));
    let r = w.exchange_with_cookies(&token("valid_es256"), &cookies(&jwt("session_expired")));
    assert_eq!(r.status, 502);
    assert_eq!(r.headers_named("set-cookie").count(), 0);
    // A cookie that does not verify is no session of anyone's: left alone.
    let w = World::new();
    w.http
        .push_stytch(stytch_error(400, "invalid_trusted_auth_token"));
    let r = w.exchange_with_cookies(&token("valid_es256"), &cookies(&jwt("session_tampered")));
    assert_eq!(r.status, 401);
    assert_eq!(r.headers_named("set-cookie").count(), 0);
    // A token that does not verify says nothing of whose login it is: nothing is cleared.
    let w = World::new();
    let r = w.exchange_with_cookies(
        &token("tampered_signature"),
        &cookies(&jwt("session_link_other_sub")),
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.headers_named("set-cookie").count(), 0);
}

#[test]
fn a_token_a_claim_rule_refuses_clears_another_users_cookies() {
    // Security review T3-L3: the browser holds another user's session, and supabase-js now
    // signs in anonymously (or with a token below the floor): the exchange refuses the token
    // before Stytch, and the other user's cookies go with it.
    for (refused, session) in [
        ("valid_anonymous", "session_link_other_sub"),
        ("role_anon", "session_link_other_iss"),
        ("aal_not_a_level", "session_no_link"),
        ("expired_long_ago", "session_link_other_sub"),
    ] {
        let w = World::new();
        let r = w.exchange_with_cookies(&token(refused), &cookies(&jwt(session)));
        assert_eq!(r.status, 401, "{refused}: {}", r.body);
        assert_eq!(body_json(&r)["error"], "invalid_token");
        assert_cleared(&r);
        assert!(w.http.stytch_calls().is_empty());
    }
    // The same user's session stays, of this login or another: a stale or refused token of
    // one's own is no switch of user.
    for refused in ["valid_anonymous", "role_anon", "expired_long_ago"] {
        for session in ["session_reusable", "session_link_other_session"] {
            let w = World::new();
            let r = w.exchange_with_cookies(&token(refused), &cookies(&jwt(session)));
            assert_eq!(r.status, 401);
            assert_eq!(
                r.headers_named("set-cookie").count(),
                0,
                "{refused} {session}"
            );
        }
    }
}

#[test]
fn revoking_needs_a_live_jwt_or_the_token_cookie() {
    // Security review L3: a JWT from last month, alone, revokes nothing (and asks Stytch
    // nothing); the cookies are cleared all the same.
    let w = World::new();
    let old_jwt_only = format!("stytch_session_jwt={}", jwt("session_expired"));
    let r = w.request("POST", "/api/logout", &[("cookie", &old_jwt_only)], "");
    assert_eq!(r.status, 200);
    assert_eq!(body_json(&r)["revoked"], false);
    assert_cleared(&r);
    assert!(w.http.stytch_calls().is_empty());
    assert_eq!(w.platform.last_log()["session"], "not_revoked");
    // With the token cookie beside it, the session is revoked by that token.
    let revoked = || {
        json_reply(
            200,
            json!({"status_code": 200, "request_id": "request-id-test-7"}),
        )
    };
    w.http.push_stytch(revoked());
    let r = w.request(
        "POST",
        "/api/logout",
        &[("cookie", &cookies(&jwt("session_expired")))],
        "",
    );
    assert_eq!(body_json(&r)["revoked"], true);
    let calls = w.http.stytch_calls();
    assert!(calls[0].url.ends_with("/v1/sessions/revoke"));
    assert_eq!(
        calls[0].body.as_deref(),
        Some(&*format!(r#"{{"session_token":"{OLD_TOKEN}"}}"#))
    );
    // A live JWT revokes by its own session id.
    w.http.push_stytch(revoked());
    w.request(
        "POST",
        "/api/logout",
        &[("cookie", &cookies(&jwt("session_reusable")))],
        "",
    );
    assert_eq!(
        w.http.stytch_calls()[1].body.as_deref(),
        Some(r#"{"session_id":"session-test-33333333"}"#)
    );
}

#[test]
fn session_route_is_401_and_clears_cookies_without_a_session() {
    let w = World::new();
    for cookie in [
        None,
        Some("theme=dark".to_owned()),
        Some(format!("stytch_session_jwt={}", jwt("session_expired"))),
    ] {
        let r = get_session(&w, cookie.as_deref());
        assert_eq!(r.status, 401, "{}", r.body);
        assert_eq!(body_json(&r)["error"], "invalid_session");
        assert_cleared(&r);
    }
    assert!(w.http.stytch_calls().is_empty());
    // Stytch says the session is gone.
    w.http.push_stytch(stytch_error(404, "session_not_found"));
    let r = get_session(&w, Some(&cookies(&jwt("session_expired"))));
    assert_eq!(r.status, 401);
    assert_eq!(body_json(&r)["error"], "invalid_session");
    assert_cleared(&r);
}

#[test]
fn session_route_keeps_the_cookies_when_stytch_or_its_keys_fail() {
    let w = World::new();
    w.http
        .push_stytch(stytch_error(500, "internal_server_error"));
    w.http
        .push_stytch(stytch_error(500, "internal_server_error"));
    let r = get_session(&w, Some(&cookies(&jwt("session_expired"))));
    assert_eq!(r.status, 502);
    assert_eq!(r.headers_named("set-cookie").count(), 0);

    let w = World::new();
    *w.http.stytch_jwks.borrow_mut() = Some(Ok(OutboundResponse {
        status: 500,
        headers: vec![],
        body: vec![],
    }));
    let r = get_session(
        &w,
        Some(&format!("stytch_session_jwt={}", jwt("session_reusable"))),
    );
    assert_eq!(r.status, 503);
    assert_eq!(body_json(&r)["error"], "jwks_unavailable");
    assert_eq!(r.headers_named("set-cookie").count(), 0);
}

#[test]
fn session_route_methods_and_cors() {
    let w = World::new().var("ALLOWED_ORIGINS", "http://localhost:5173");
    let r = w.request("POST", "/api/session", &[], "");
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, OPTIONS")));
    let r = w.request(
        "OPTIONS",
        "/api/session",
        &[("origin", "http://localhost:5173")],
        "",
    );
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-methods"), Some("GET"));
    let c = cookies(&jwt("session_reusable"));
    let r = w.request(
        "GET",
        "/api/session",
        &[("origin", "http://localhost:5173"), ("cookie", &c)],
        "",
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    let r = w.request(
        "GET",
        "/api/session",
        &[("origin", "https://evil.example"), ("cookie", &c)],
        "",
    );
    assert_eq!(r.status, 403);
    assert!(
        w.http
            .calls
            .borrow()
            .iter()
            .all(|c| !c.url.contains("evil"))
    );
}
