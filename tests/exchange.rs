#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! The HTTP contract of POST /api/exchange, OPTIONS, /api/logout, /healthz, 404/405, run
//! natively through the same handler the worker runs, with faithful fakes for I/O.

mod common;
use common::fakes::*;
use common::fixtures::token;
use edge_attest::http::{IncomingRequest, TransportError};
use serde_json::json;

fn assert_error(r: &edge_attest::http::Response, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(body_json(r)["error"], code, "{}", r.body);
    assert!(
        body_json(r)["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("content-type"), Some("application/json"));
}

// ---- success ----

#[test]
fn valid_token_in_body_gets_a_session_in_cookies() {
    let w = World::new();
    w.stytch_ok();
    let r = w.exchange(&token("valid_es256"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let b = body_json(&r);
    assert_eq!(b["user_id"], "user-test-22222222");
    assert_eq!(b["session_id"], "session-test-33333333");
    assert_eq!(b["request_id"], "request-id-test-55555555");
    let exp = common::fixtures::now() + 3600;
    assert_eq!(b["expires_at"], rfc3339(exp));
    assert!(
        !r.body.contains("mZAYn5aLEq") && !r.body.contains("eyJhbGciOiJSUzI1NiJ9"),
        "tokens only in cookies"
    );

    let cookies: Vec<&str> = r.headers_named("set-cookie").collect();
    let expires = edge_attest::formats::time::format_http_date(exp);
    assert_eq!(
        cookies,
        [
            format!(
                "stytch_session=mZAYn5aLEqKUlZ_Ad9U_fWr38GaAQ1oFAhT8ds245v7Q; Path=/; Expires={expires}; Max-Age=3600; Secure; HttpOnly; SameSite=Lax"
            ),
            format!(
                "stytch_session_jwt=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2ln; Path=/; Expires={expires}; Max-Age=3600; Secure; HttpOnly; SameSite=Lax"
            ),
        ]
    );
}

#[test]
fn stytch_receives_basic_auth_profile_token_and_duration() {
    let w = World::new().var("SESSION_DURATION_MINUTES", "90");
    w.stytch_ok();
    let t = token("valid_es256");
    w.exchange(&t);
    let calls = w.http.stytch_calls();
    assert_eq!(calls.len(), 1);
    let c = &calls[0];
    assert_eq!(c.url, "https://test.stytch.com/v1/sessions/attest");
    let auth = c
        .headers
        .iter()
        .find(|(k, _)| *k == "authorization")
        .unwrap();
    let expected =
        edge_attest::formats::b64::encode_standard(format!("{PROJECT}:{SECRET}").as_bytes());
    assert_eq!(auth.1, format!("Basic {expected}"));
    let body: serde_json::Value = serde_json::from_str(c.body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({
            "profile_id": PROFILE,
            "token": t,
            "session_duration_minutes": 90,
            // The link to the login, as a custom claim of the session (no session token:
            // the request carried no session).
            "session_custom_claims": { "edge_attest": {
                "aal": "aal1",
                "iss": common::fixtures::issuer(),
                "sub": "8d8a2b3c-3f0e-4d8e-9d7a-2f6f2c1a0b11",
                "session_id": "0b6f8a52-5a7e-4a43-8d4e-1c9d3b2a7e10",
            } }
        })
    );
    assert_eq!(c.timeout_ms, 5000);
}

#[test]
fn live_project_ids_call_the_live_host_and_api_base_overrides() {
    let w = World::new().var("STYTCH_PROJECT_ID", "project-live-1");
    w.stytch_ok();
    w.exchange(&token("valid_es256"));
    assert_eq!(
        w.http.stytch_calls()[0].url,
        "https://api.stytch.com/v1/sessions/attest"
    );
    let w = World::new().var("STYTCH_API_BASE", "http://127.0.0.1:4010");
    w.stytch_ok();
    w.exchange(&token("valid_es256"));
    assert_eq!(
        w.http.stytch_calls()[0].url,
        "http://127.0.0.1:4010/v1/sessions/attest"
    );
}

#[test]
fn rs256_and_eddsa_tokens_exchange_when_allowed() {
    for name in ["valid_rs256", "valid_eddsa", "valid_es256_high_s"] {
        let w = World::new();
        w.stytch_ok();
        assert_eq!(w.exchange(&token(name)).status, 200, "{name}");
    }
    let w = World::new().var("JWT_ALGORITHMS", "ES256,RS256");
    assert_error(&w.exchange(&token("valid_eddsa")), 401, "invalid_token");
}

#[test]
fn bearer_header_works_and_must_agree_with_the_body() {
    let w = World::new();
    let t = token("valid_es256");
    let bearer = format!("Bearer {t}");
    w.stytch_ok();
    assert_eq!(
        w.request("POST", "/api/exchange", &[("authorization", &bearer)], "")
            .status,
        200
    );
    w.stytch_ok();
    let same = json!({ "access_token": t }).to_string();
    let r = w.request(
        "POST",
        "/api/exchange",
        &[
            ("authorization", &bearer),
            ("content-type", "application/json"),
        ],
        &same,
    );
    assert_eq!(r.status, 200);
    let other = json!({ "access_token": token("valid_rs256") }).to_string();
    let r = w.request(
        "POST",
        "/api/exchange",
        &[
            ("authorization", &bearer),
            ("content-type", "application/json"),
        ],
        &other,
    );
    assert_error(&r, 400, "invalid_request");
    assert_eq!(w.http.stytch_calls().len(), 2);
}

// ---- request errors ----

#[test]
fn request_errors_are_400_413_415() {
    let w = World::new();
    let json_ct = [("content-type", "application/json")];
    assert_error(
        &w.request("POST", "/api/exchange", &json_ct, "{not json"),
        400,
        "invalid_request",
    );
    assert_error(
        &w.request("POST", "/api/exchange", &json_ct, "[1]"),
        400,
        "invalid_request",
    );
    assert_error(
        &w.request("POST", "/api/exchange", &json_ct, "{}"),
        400,
        "invalid_request",
    );
    assert_error(
        &w.request("POST", "/api/exchange", &json_ct, r#"{"access_token":42}"#),
        400,
        "invalid_request",
    );
    let twice = format!(
        r#"{{"access_token":"{}","access_token":"{}"}}"#,
        token("valid_es256"),
        token("valid_rs256")
    );
    let r = w.request("POST", "/api/exchange", &json_ct, &twice);
    assert_error(&r, 400, "invalid_request");
    assert!(r.body.contains("duplicate"), "{}", r.body);
    assert_error(
        &w.request("POST", "/api/exchange", &[], ""),
        400,
        "invalid_request",
    );
    assert_error(
        &w.request(
            "POST",
            "/api/exchange",
            &[("authorization", "Basic abc")],
            "",
        ),
        400,
        "invalid_request",
    );
    let body = json!({ "access_token": token("valid_es256") }).to_string();
    assert_error(
        &w.request(
            "POST",
            "/api/exchange",
            &[("content-type", "text/plain")],
            &body,
        ),
        415,
        "unsupported_media_type",
    );
    assert_error(
        &w.request("POST", "/api/exchange", &[], &body),
        415,
        "unsupported_media_type",
    );
    let big = format!(r#"{{"access_token":"{}"}}"#, "a".repeat(16 * 1024));
    assert_error(
        &w.request("POST", "/api/exchange", &json_ct, &big),
        413,
        "payload_too_large",
    );
    let r = w.request(
        "POST",
        "/api/exchange",
        &[
            ("content-type", "application/json"),
            ("content-length", "20000"),
        ],
        "{}",
    );
    assert_error(&r, 413, "payload_too_large");
    assert!(w.http.calls.borrow().is_empty(), "nothing left the worker");
}

#[test]
fn content_type_with_charset_is_json() {
    let w = World::new();
    w.stytch_ok();
    let body = json!({ "access_token": token("valid_es256") }).to_string();
    let r = w.request(
        "POST",
        "/api/exchange",
        &[("content-type", "application/json; charset=utf-8")],
        &body,
    );
    assert_eq!(r.status, 200);
}

// ---- verification failures never reach Stytch ----

#[test]
fn rejected_tokens_are_401_and_never_reach_stytch() {
    for name in [
        "tampered_signature",
        "expired_at_skew_boundary",
        "iss_trailing_slash",
        "aud_wrong",
        "alg_none",
        "hs256_public_key_as_secret",
        "header_jku",
        "duplicate_payload_key",
        "es256_r_s_zero",
        "role_anon",
        "valid_anonymous",
        "too_large",
        "unknown_kid",
        "padded_header",
    ] {
        let w = World::new();
        let r = w.exchange(&token(name));
        assert_error(&r, 401, "invalid_token");
        assert_eq!(
            r.header("www-authenticate"),
            Some(r#"Bearer error="invalid_token""#),
            "{name}"
        );
        assert!(w.http.stytch_calls().is_empty(), "{name} reached Stytch");
        let log = w.platform.last_log();
        assert_eq!(log["outcome"], "invalid_token");
        assert!(
            log["detail"].as_str().is_some(),
            "{name}: detail goes to the log"
        );
    }
}

#[test]
fn the_client_never_learns_which_check_failed() {
    let w = World::new();
    let a = w.exchange(&token("tampered_signature"));
    let b = w.exchange(&token("expired_long_ago"));
    assert_eq!(a.body, b.body);
}

#[test]
fn anonymous_users_pass_with_allow_anonymous() {
    let w = World::new().var("ALLOW_ANONYMOUS", "true");
    w.stytch_ok();
    assert_eq!(w.exchange(&token("valid_anonymous")).status, 200);
}

// ---- Stytch failure mapping ----

#[test]
fn stytch_rejecting_the_token_is_401_with_its_error_type_and_no_retry() {
    for (status, error_type) in [
        (400, "invalid_trusted_auth_token"),
        (401, "invalid_trusted_auth_token"),
        (404, "user_not_found"),
    ] {
        let w = World::new();
        w.http.push_stytch(stytch_error(status, error_type));
        let r = w.exchange(&token("valid_es256"));
        assert_error(&r, 401, "invalid_token");
        assert!(
            body_json(&r)["error_description"]
                .as_str()
                .unwrap()
                .contains(error_type)
        );
        assert_eq!(w.http.stytch_calls().len(), 1, "4xx is never retried");
        assert_eq!(
            w.platform.last_log()["stytch_request_id"],
            "request-id-test-err"
        );
    }
}

#[test]
fn bad_stytch_credentials_are_500_misconfigured() {
    let w = World::new();
    w.http
        .push_stytch(stytch_error(401, "unauthorized_credentials"));
    let r = w.exchange(&token("valid_es256"));
    assert_error(&r, 500, "misconfigured");
    assert_eq!(w.http.stytch_calls().len(), 1);
    let log = w.platform.last_log();
    assert!(log["detail"].as_str().unwrap().contains("STYTCH_SECRET"));
    assert!(!w.platform.logs.borrow().iter().any(|l| l.contains(SECRET)));
}

#[test]
fn a_profile_that_no_longer_matches_is_500_misconfigured_naming_type_and_profile() {
    // The worker checked issuer, audience, signature and expiry itself: Stytch refusing one
    // of them is the profile's fault, and every user would get it.
    for (status, error_type) in [
        (400, "jwt_invalid_issuer"),
        (401, "jwt_invalid_audience"),
        (400, "jwt_invalid_claims"),
        (400, "trusted_token_profile_invalid_request"),
        (404, "trusted_token_profile_not_found"),
    ] {
        let w = World::new();
        w.http.push_stytch(stytch_error(status, error_type));
        let r = w.exchange(&token("valid_es256"));
        assert_error(&r, 500, "misconfigured");
        assert_eq!(r.header("www-authenticate"), None, "not a bad user token");
        assert_eq!(
            w.http.stytch_calls().len(),
            1,
            "{error_type}: never retried"
        );
        let log = w.platform.last_log();
        let detail = log["detail"].as_str().unwrap();
        assert!(detail.contains(error_type), "{detail}");
        assert!(detail.contains(PROFILE), "{detail}");
        assert_eq!(log["stytch_request_id"], "request-id-test-err");
    }
}

#[test]
fn a_refused_extension_never_retries_a_profile_error() {
    let w = World::new();
    w.http.push_stytch(stytch_error(400, "jwt_invalid_issuer"));
    let jwt = common::fixtures::session_jwt("session_expired");
    let r = w.exchange_with_cookies(
        &token("valid_es256"),
        &format!("stytch_session=old-token; stytch_session_jwt={jwt}"),
    );
    assert_error(&r, 500, "misconfigured");
    assert_eq!(
        w.http.stytch_calls().len(),
        1,
        "no second attest without the token"
    );
}

#[test]
fn a_5xx_is_retried_once_with_jittered_backoff() {
    let w = World::new();
    w.http
        .push_stytch(stytch_error(503, "internal_server_error"));
    w.stytch_ok();
    let r = w.exchange(&token("valid_es256"));
    assert_eq!(r.status, 200);
    assert_eq!(w.http.stytch_calls().len(), 2);
    let sleeps = w.platform.sleeps.borrow().clone();
    assert_eq!(sleeps.len(), 1);
    assert!((100..300).contains(&sleeps[0]), "{sleeps:?}");
    w.platform.random.set(7);
    w.http
        .push_stytch(stytch_error(500, "internal_server_error"));
    w.stytch_ok();
    w.exchange(&token("valid_es256"));
    assert_ne!(
        w.platform.sleeps.borrow()[1],
        sleeps[0],
        "the pause depends on the random draw"
    );
    assert_eq!(w.platform.last_log()["stytch_attempts"], 2);
}

#[test]
fn two_5xx_are_502_with_stytch_error_type() {
    let w = World::new();
    w.http
        .push_stytch(stytch_error(500, "internal_server_error"));
    w.http
        .push_stytch(stytch_error(502, "internal_server_error"));
    let r = w.exchange(&token("valid_es256"));
    assert_error(&r, 502, "upstream_error");
    assert!(
        body_json(&r)["error_description"]
            .as_str()
            .unwrap()
            .contains("internal_server_error")
    );
    assert_eq!(w.http.stytch_calls().len(), 2, "at most one retry");
}

#[test]
fn a_429_is_not_retried_and_passes_stytchs_retry_after_on() {
    // Without Retry-After: 10 s.
    let w = World::new();
    w.http.push_stytch(stytch_error(429, "too_many_requests"));
    let r = w.exchange(&token("valid_es256"));
    assert_error(&r, 429, "rate_limited");
    assert_eq!(r.header("retry-after"), Some("10"));
    assert_eq!(w.http.stytch_calls().len(), 1, "a 429 is not retried");
    assert!(
        w.platform.sleeps.borrow().is_empty(),
        "no backoff pause either"
    );
    // With it: Stytch's own delay.
    let w = World::new();
    let Ok(mut reply) = stytch_error(429, "too_many_requests") else {
        unreachable!()
    };
    reply.headers.push(("retry-after".into(), "1800".into()));
    w.http.push_stytch(Ok(reply));
    let r = w.exchange(&token("valid_es256"));
    assert_error(&r, 429, "rate_limited");
    assert_eq!(r.header("retry-after"), Some("1800"));
    assert_eq!(w.http.stytch_calls().len(), 1);
}

#[test]
fn network_errors_are_retried_once_then_502() {
    let w = World::new();
    w.http
        .push_stytch(Err(TransportError::Network("connection reset".into())));
    w.stytch_ok();
    assert_eq!(w.exchange(&token("valid_es256")).status, 200);
    let w = World::new();
    w.http
        .push_stytch(Err(TransportError::Network("connection reset".into())));
    w.http
        .push_stytch(Err(TransportError::Network("connection reset".into())));
    assert_error(&w.exchange(&token("valid_es256")), 502, "upstream_error");
    assert_eq!(w.http.stytch_calls().len(), 2);
}

#[test]
fn a_timeout_is_504_and_not_retried() {
    let w = World::new();
    w.http.push_stytch(Err(TransportError::Timeout));
    assert_error(&w.exchange(&token("valid_es256")), 504, "upstream_timeout");
    assert_eq!(w.http.stytch_calls().len(), 1);
}

#[test]
fn malformed_stytch_answers_are_502() {
    let exp = common::fixtures::now() + 3600;
    let mut no_session = attest_body(exp);
    no_session.as_object_mut().unwrap().remove("session");
    let mut bad_expiry = attest_body(exp);
    bad_expiry["session"]["expires_at"] = json!("tomorrow");
    let mut unsafe_cookie = attest_body(exp);
    unsafe_cookie["session_token"] = json!("a;b");
    let mut empty_jwt = attest_body(exp);
    empty_jwt["session_jwt"] = json!("");
    for body in [no_session, bad_expiry, unsafe_cookie, empty_jwt] {
        let w = World::new();
        w.http.push_stytch(json_reply(200, body));
        let r = w.exchange(&token("valid_es256"));
        assert_error(&r, 502, "upstream_error");
        assert_eq!(r.headers_named("set-cookie").count(), 0);
    }
    let w = World::new();
    w.http.push_stytch(Ok(edge_attest::http::OutboundResponse {
        status: 200,
        headers: vec![],
        body: b"<html>".to_vec(),
    }));
    assert_error(&w.exchange(&token("valid_es256")), 502, "upstream_error");
}

// ---- cookies ----

#[test]
fn cookie_settings_are_applied() {
    let w = World::new()
        .var("COOKIE_HTTP_ONLY", "false")
        .var("COOKIE_DOMAIN", "example.com")
        .var("COOKIE_SAMESITE", "Strict")
        .var("COOKIE_NAME_SESSION", "sess")
        .var("COOKIE_NAME_JWT", "sess_jwt");
    w.stytch_ok();
    let r = w.exchange(&token("valid_es256"));
    let cookies: Vec<&str> = r.headers_named("set-cookie").collect();
    assert_eq!(cookies.len(), 2);
    assert!(cookies[0].starts_with("sess=mZAYn5"));
    assert!(cookies[1].starts_with("sess_jwt=eyJ"));
    for c in cookies {
        assert!(
            c.contains("; Domain=example.com; Secure; SameSite=Strict"),
            "{c}"
        );
        assert!(!c.contains("HttpOnly"), "{c}");
    }
}

// ---- CORS and Origin ----

#[test]
fn a_disallowed_origin_is_403_before_anything_else() {
    let w = World::new();
    let req = IncomingRequest {
        method: "POST".into(),
        url: format!("{WORKER}/api/exchange"),
        headers: vec![
            ("origin".into(), "https://evil.example".into()),
            ("content-type".into(), "text/plain".into()),
            ("content-length".into(), "999999".into()),
        ],
        body: UnreadableBody,
    };
    let r = w.run(req);
    assert_error(&r, 403, "forbidden_origin");
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert!(w.http.calls.borrow().is_empty());
}

#[test]
fn same_origin_is_allowed_by_default_and_the_list_adds_origins() {
    let w = World::new();
    w.stytch_ok();
    let body = json!({ "access_token": token("valid_es256") }).to_string();
    let r = w.post_json_from(WORKER, &body);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some(WORKER));
    let r = w.post_json_from("http://localhost:5173", &body);
    assert_error(&r, 403, "forbidden_origin");

    let w = World::new().var(
        "ALLOWED_ORIGINS",
        "http://localhost:5173,https://other.example",
    );
    w.stytch_ok();
    let r = w.post_json_from("http://localhost:5173", &body);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(r.header("vary"), Some("Origin"));
    assert_eq!(r.headers_named("set-cookie").count(), 2);
}

#[test]
fn errors_to_allowed_origins_carry_cors_headers() {
    let w = World::new().var("ALLOWED_ORIGINS", "http://localhost:5173");
    let r = w.post_json_from("http://localhost:5173", "{}");
    assert_error(&r, 400, "invalid_request");
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    let body = json!({ "access_token": token("tampered_signature") }).to_string();
    let r = w.post_json_from("http://localhost:5173", &body);
    assert_error(&r, 401, "invalid_token");
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
}

#[test]
fn preflight_allows_post_with_content_type_and_authorization() {
    let w = World::new().var("ALLOWED_ORIGINS", "http://localhost:5173");
    let r = w.request(
        "OPTIONS",
        "/api/exchange",
        &[
            ("origin", "http://localhost:5173"),
            ("access-control-request-method", "POST"),
        ],
        "",
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(r.header("access-control-allow-methods"), Some("POST"));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("Content-Type, Authorization")
    );
    assert_eq!(r.header("vary"), Some("Origin"));
    assert_ne!(r.header("access-control-allow-origin"), Some("*"));

    let r = w.request(
        "OPTIONS",
        "/api/exchange",
        &[("origin", "https://evil.example")],
        "",
    );
    assert_eq!(r.status, 403);
    assert!(
        r.headers
            .iter()
            .all(|(k, _)| !k.starts_with("access-control-"))
    );

    let r = w.request("OPTIONS", "/api/logout", &[], "");
    assert_eq!((r.status, r.header("allow")), (204, Some("POST, OPTIONS")));
    assert!(w.http.calls.borrow().is_empty());
}

// ---- routes ----

#[test]
fn healthz_404_and_405() {
    let w = World::new();
    let r = w.request("GET", "/healthz", &[], "");
    assert_eq!(r.status, 200);
    assert_eq!(
        body_json(&r),
        json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") })
    );
    assert!(!r.body.contains(SECRET));
    assert_error(&w.request("GET", "/nope", &[], ""), 404, "not_found");
    assert_error(
        &w.request("GET", "/api/exchange/x", &[], ""),
        404,
        "not_found",
    );
    let r = w.request("GET", "/api/exchange", &[], "");
    assert_error(&r, 405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("POST, OPTIONS"));
    let r = w.request("POST", "/healthz", &[], "");
    assert_error(&r, 405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("GET"));
    let r = w.request("DELETE", "/api/logout", &[], "");
    assert_eq!(r.header("allow"), Some("POST, OPTIONS"));
}

#[test]
fn misconfiguration_is_500_and_the_log_names_the_variable() {
    let w = World::new().var("SESSION_DURATION_MINUTES", "1");
    let r = w.exchange(&token("valid_es256"));
    assert_error(&r, 500, "misconfigured");
    let log = w.platform.last_log();
    assert!(
        log["detail"]
            .as_str()
            .unwrap()
            .starts_with("SESSION_DURATION_MINUTES:"),
        "{log}"
    );
    let mut w = World::new();
    w.vars.remove("STYTCH_SECRET");
    let r = w.request("GET", "/healthz", &[], "");
    assert_error(&r, 500, "misconfigured");
    assert!(
        w.platform.last_log()["detail"]
            .as_str()
            .unwrap()
            .starts_with("STYTCH_SECRET:")
    );
}

// ---- logout ----

#[test]
fn logout_without_a_session_clears_cookies_and_calls_nobody() {
    let w = World::new();
    let r = w.request("POST", "/api/logout", &[], "");
    assert_eq!(r.status, 200);
    assert_eq!(
        body_json(&r),
        json!({ "revoked": false, "request_id": null })
    );
    let cookies: Vec<&str> = r.headers_named("set-cookie").collect();
    assert_eq!(cookies.len(), 2);
    assert!(cookies[0].starts_with("stytch_session=; Path=/;") && cookies[0].contains("Max-Age=0"));
    assert!(
        cookies[1].starts_with("stytch_session_jwt=; Path=/;") && cookies[1].contains("Max-Age=0")
    );
    assert!(w.http.calls.borrow().is_empty());
}

/// A Cookie header holding a session the fixture table's JWT `name` describes, and its token.
fn session_cookies(name: &str) -> String {
    format!(
        "x=1; stytch_session=tok-abc; stytch_session_jwt={}",
        common::fixtures::session_jwt(name)
    )
}

#[test]
fn logout_revokes_the_proven_session_by_its_id() {
    let w = World::new().var("COOKIE_DOMAIN", "example.com");
    w.http.push_stytch(json_reply(
        200,
        json!({ "status_code": 200, "request_id": "request-id-revoke" }),
    ));
    let r = w.request(
        "POST",
        "/api/logout",
        &[("cookie", &session_cookies("session_reusable"))],
        "",
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        body_json(&r),
        json!({ "revoked": true, "request_id": "request-id-revoke" })
    );
    let call = &w.http.stytch_calls()[0];
    assert_eq!(call.url, "https://test.stytch.com/v1/sessions/revoke");
    assert_eq!(
        call.body.as_deref(),
        Some(r#"{"session_id":"session-test-33333333"}"#),
        "by the JWT's session id, never by the unproven token cookie"
    );
    assert!(
        r.headers_named("set-cookie")
            .all(|c| c.contains("Domain=example.com") && c.contains("Max-Age=0"))
    );
    assert_eq!(w.platform.last_log()["session"], "revoked");
    assert!(
        !w.platform
            .logs
            .borrow()
            .iter()
            .any(|l| l.contains("tok-abc")),
        "cookies never logged"
    );
    // A JWT that has expired still proves its session: the session itself may live on.
    w.http
        .push_stytch(json_reply(200, json!({ "status_code": 200 })));
    let r = w.request(
        "POST",
        "/api/logout",
        &[("cookie", &session_cookies("session_expired"))],
        "",
    );
    assert_eq!(body_json(&r)["revoked"], true);
}

#[test]
fn logout_without_a_proven_session_clears_the_cookies_and_calls_nobody() {
    for cookie in [
        "stytch_session=tok-abc".to_owned(),
        "stytch_session=tok-abc; stytch_session_jwt=forged.jwt.value".to_owned(),
        session_cookies("session_tampered"),
        session_cookies("session_wrong_aud"),
    ] {
        let w = World::new();
        let r = w.request("POST", "/api/logout", &[("cookie", &cookie)], "");
        assert_eq!(r.status, 200, "{cookie}");
        assert_eq!(
            body_json(&r),
            json!({ "revoked": false, "request_id": null })
        );
        assert_eq!(r.headers_named("set-cookie").count(), 2);
        assert!(
            w.http.stytch_calls().is_empty(),
            "{cookie}: nothing reached Stytch"
        );
        let log = w.platform.last_log();
        assert_eq!(log["session"], "not_revoked");
        assert!(log["prior"].is_string(), "the log says why: {log}");
    }
}

#[test]
fn logout_keeps_the_cookies_when_stytchs_keys_are_out_of_reach() {
    let w = World::new();
    *w.http.stytch_jwks.borrow_mut() = Some(Err(TransportError::Timeout));
    let r = w.request(
        "POST",
        "/api/logout",
        &[("cookie", &session_cookies("session_reusable"))],
        "",
    );
    assert_error(&r, 503, "jwks_unavailable");
    assert_eq!(
        r.headers_named("set-cookie").count(),
        0,
        "a retry can still revoke"
    );
    assert!(w.http.stytch_calls().is_empty());
}

#[test]
fn logout_of_an_unknown_session_still_succeeds() {
    let w = World::new();
    w.http.push_stytch(stytch_error(404, "session_not_found"));
    let r = w.request(
        "POST",
        "/api/logout",
        &[("cookie", &session_cookies("session_reusable"))],
        "",
    );
    assert_eq!(r.status, 200);
    assert_eq!(body_json(&r)["revoked"], false);
    assert_eq!(w.platform.last_log()["session"], "gone");
}

#[test]
fn logout_when_stytch_fails_reports_it_and_still_clears_cookies() {
    let w = World::new();
    w.http
        .push_stytch(stytch_error(500, "internal_server_error"));
    w.http
        .push_stytch(stytch_error(500, "internal_server_error"));
    let r = w.request(
        "POST",
        "/api/logout",
        &[("cookie", &session_cookies("session_reusable"))],
        "",
    );
    assert_error(&r, 502, "upstream_error");
    assert_eq!(r.headers_named("set-cookie").count(), 2);
}

// ---- logging ----

#[test]
fn one_json_log_line_per_request_without_secrets() {
    let w = World::new();
    w.stytch_ok();
    let t = token("valid_es256");
    let body = json!({ "access_token": t }).to_string();
    w.request(
        "POST",
        "/api/exchange",
        &[
            ("content-type", "application/json"),
            ("cf-connecting-ip", "203.0.113.9"),
        ],
        &body,
    );
    let logs = w.platform.logs.borrow().clone();
    assert_eq!(logs.len(), 1);
    let line = &logs[0];
    for secret in [
        t.as_str(),
        SECRET,
        "mZAYn5aLEq",
        "eyJhbGciOiJSUzI1NiJ9",
        "ada@example.com",
    ] {
        assert!(!line.contains(secret), "log line leaks {secret}: {line}");
    }
    let log: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(log["route"], "exchange");
    assert_eq!(log["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(log["status"], 200);
    assert_eq!(log["outcome"], "ok");
    assert_eq!(log["cache"], "network");
    assert_eq!(log["stytch_request_id"], "request-id-test-55555555");
    for k in ["total", "jwks", "verify", "stytch"] {
        assert!(log["ms"][k].is_u64(), "ms.{k} in {log}");
    }
}

#[test]
fn a_log_line_is_written_at_the_level_of_its_status() {
    use edge_attest::http::LogLevel;
    let w = World::new();
    let ip = [("cf-connecting-ip", "203.0.113.9")];
    let exchange = |name: &str| {
        let body = json!({ "access_token": token(name) }).to_string();
        w.request(
            "POST",
            "/api/exchange",
            &[("content-type", "application/json"), ip[0]],
            &body,
        )
    };
    w.stytch_ok();
    assert_eq!(exchange("valid_es256").status, 200);
    assert_error(&exchange("expired_long_ago"), 401, "invalid_token");
    w.http
        .push_stytch(stytch_error(500, "internal_server_error"));
    w.http
        .push_stytch(stytch_error(503, "internal_server_error"));
    assert_error(&exchange("valid_es256"), 502, "upstream_error");
    assert_eq!(w.request("GET", "/healthz", &ip, "").status, 200);
    assert_eq!(w.request("GET", "/nowhere", &ip, "").status, 404);
    let statuses: Vec<u64> = w
        .platform
        .logs
        .borrow()
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["status"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(statuses, [200, 401, 502, 200, 404]);
    assert_eq!(
        *w.platform.levels.borrow(),
        [
            LogLevel::Info,
            LogLevel::Warn,
            LogLevel::Error,
            LogLevel::Info,
            LogLevel::Warn
        ]
    );
}

#[test]
fn every_answer_of_a_known_route_carries_cors_for_an_allowed_origin() {
    let origin = "http://localhost:5173";
    let cors_of = |r: &edge_attest::http::Response| {
        (
            r.header("access-control-allow-origin").map(str::to_owned),
            r.header("access-control-allow-credentials")
                .map(str::to_owned),
            r.header("vary").map(str::to_owned),
        )
    };
    let expected = (
        Some(origin.to_owned()),
        Some("true".to_owned()),
        Some("Origin".to_owned()),
    );
    let w = World::new().var("ALLOWED_ORIGINS", origin);
    // 405 on each known route.
    for (method, path) in [
        ("GET", "/api/exchange"),
        ("PUT", "/api/logout"),
        ("POST", "/api/session"),
        ("POST", "/healthz"),
    ] {
        let r = w.request(method, path, &[("origin", origin)], "");
        assert_error(&r, 405, "method_not_allowed");
        assert_eq!(cors_of(&r), expected, "{method} {path}");
    }
    // 500 misconfigured: another variable is broken, ALLOWED_ORIGINS is fine.
    let w = World::new()
        .var("ALLOWED_ORIGINS", origin)
        .var("SESSION_DURATION_MINUTES", "1");
    for (method, path) in [
        ("POST", "/api/exchange"),
        ("GET", "/api/session"),
        ("POST", "/api/logout"),
        ("GET", "/healthz"),
        ("OPTIONS", "/api/exchange"),
    ] {
        let r = w.request(method, path, &[("origin", origin)], "{}");
        assert_error(&r, 500, "misconfigured");
        assert_eq!(cors_of(&r), expected, "{method} {path}");
    }
    // ... and a disallowed origin is still 403 first.
    let r = w.request(
        "POST",
        "/api/exchange",
        &[("origin", "https://evil.example")],
        "{}",
    );
    assert_error(&r, 403, "forbidden_origin");
    // ALLOWED_ORIGINS itself broken: the configuration error, without CORS for a foreign
    // origin (whether it is allowed cannot be known), with it for the worker's own.
    let w = World::new().var("ALLOWED_ORIGINS", "http://app.example.com");
    let r = w.request("POST", "/api/exchange", &[("origin", origin)], "{}");
    assert_error(&r, 500, "misconfigured");
    assert_eq!(r.header("access-control-allow-origin"), None);
    let r = w.request("POST", "/api/exchange", &[("origin", WORKER)], "{}");
    assert_error(&r, 500, "misconfigured");
    assert_eq!(r.header("access-control-allow-origin"), Some(WORKER));
    // 404 is not a known route: no CORS.
    let w = World::new().var("ALLOWED_ORIGINS", origin);
    let r = w.request("GET", "/nope", &[("origin", origin)], "");
    assert_error(&r, 404, "not_found");
    assert_eq!(r.header("access-control-allow-origin"), None);
}
