#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Stytch B2B through the real handler with faithful fakes: the B2B endpoints, the
//! organization named from the configuration or the verified token, the member answer, the
//! B2B errors, and edge reuse, extension, refresh and logout of member sessions. The tokens
//! and member-session JWTs are the fixture file's `b2b` section (signed by jose).

mod common;
use common::fakes::*;
use common::fixtures::{fixtures, now, token};
use edge_attest::http::Response;
use serde_json::{Value, json};

const ORG_ID: &str = "organization-test-44444444";
const OLD_TOKEN: &str = "old-member-session-token";
const CLAIM: &str = "app_metadata.org_id";

fn b2b_token(name: &str) -> String {
    fixtures()["b2b"]["tokens"][name]
        .as_str()
        .unwrap()
        .to_owned()
}

fn member_jwt(name: &str) -> String {
    fixtures()["b2b"]["sessions"][name]
        .as_str()
        .unwrap()
        .to_owned()
}

fn cookies(jwt: &str) -> String {
    format!("stytch_session={OLD_TOKEN}; stytch_session_jwt={jwt}")
}

/// A worker of a B2B project taking the organization from `app_metadata.org_id`.
fn b2b() -> World {
    World::new()
        .var("STYTCH_PRODUCT", "b2b")
        .var("STYTCH_ORGANIZATION_ID_CLAIM", CLAIM)
}

/// The bodies of the calls to `path`, parsed.
fn bodies(w: &World, path: &str) -> Vec<Value> {
    w.http
        .calls_to(path)
        .iter()
        .map(|c| serde_json::from_str(c.body.as_deref().unwrap()).unwrap())
        .collect()
}

fn attests(w: &World) -> Vec<Value> {
    bodies(w, "/v1/b2b/sessions/attest")
}

/// The 200 of a member session made by Stytch, with both cookies.
fn assert_member_created(r: &Response) {
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        body_json(r),
        json!({
            "aal": "aal1",
            "expires_at": rfc3339(now() + 3600),
            "member_id": "member-test-22222222",
            "organization_id": ORG_ID,
            "request_id": "request-id-test-66666666",
            "reused": false,
            "session_id": "member-session-test-33333333",
        })
    );
    assert_eq!(r.headers_named("set-cookie").count(), 2);
}

#[test]
fn a_b2b_exchange_attests_at_the_b2b_endpoint_naming_the_tokens_organization() {
    let w = b2b();
    w.stytch_member_ok();
    let r = w.exchange(&b2b_token("org_slug"));
    assert_member_created(&r);
    let calls = w.http.stytch_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].url,
        "https://test.stytch.com/v1/b2b/sessions/attest"
    );
    let sent = &attests(&w)[0];
    assert_eq!(sent["organization_id"], "acme");
    assert_eq!(sent["profile_id"], PROFILE);
    assert_eq!(sent["token"], b2b_token("org_slug"));
    assert_eq!(sent["session_duration_minutes"], 60);
    // The link asks for the organization as the token named it.
    assert_eq!(
        sent["session_custom_claims"]["edge_attest"]["organization"],
        "acme"
    );
    assert_eq!(w.platform.last_log()["session"], "created");
}

#[test]
fn a_fixed_organization_is_named_whatever_the_token_says() {
    let w = World::new()
        .var("STYTCH_PRODUCT", "b2b")
        .var("STYTCH_ORGANIZATION_ID", ORG_ID);
    w.stytch_member_ok();
    assert_member_created(&w.exchange(&b2b_token("org_missing")));
    assert_eq!(attests(&w)[0]["organization_id"], ORG_ID);
}

#[test]
fn without_an_organization_source_the_profile_maps_it() {
    let w = World::new().var("STYTCH_PRODUCT", "b2b");
    w.stytch_member_ok();
    assert_member_created(&w.exchange(&b2b_token("org_slug")));
    let sent = &attests(&w)[0];
    assert!(sent.get("organization_id").is_none(), "{sent}");
    assert!(
        sent["session_custom_claims"]["edge_attest"]
            .get("organization")
            .is_none()
    );
}

#[test]
fn a_token_without_an_organization_at_the_claim_path_never_reaches_stytch() {
    for name in ["org_missing", "org_number", "org_not_a_slug"] {
        let w = b2b();
        let r = w.exchange(&b2b_token(name));
        assert_eq!(r.status, 401, "{name}: {}", r.body);
        assert_eq!(body_json(&r)["error"], "invalid_token");
        assert!(w.http.stytch_calls().is_empty(), "{name}");
        assert_eq!(
            w.platform.last_log()["detail"],
            "organization_claim: app_metadata.org_id"
        );
    }
}

#[test]
fn an_answer_for_another_organization_sets_no_cookie() {
    let w = b2b();
    let mut answer = attest_member_body(now() + 3600);
    answer["member_session"]["organization_id"] = json!("organization-test-55555555");
    answer["member_session"]["organization_slug"] = json!("globex");
    w.http.push_stytch(json_reply(200, answer));
    let r = w.exchange(&b2b_token("org_slug"));
    assert_eq!(r.status, 502, "{}", r.body);
    assert_eq!(r.headers_named("set-cookie").count(), 0);
    // The same answer is right for a token asking for globex.
    let w = b2b();
    let mut answer = attest_member_body(now() + 3600);
    answer["member_session"]["organization_slug"] = json!("globex");
    w.http.push_stytch(json_reply(200, answer));
    assert_eq!(w.exchange(&b2b_token("org_other")).status, 200);
}

#[test]
fn a_member_answer_without_its_organization_is_malformed() {
    let w = b2b();
    let mut answer = attest_member_body(now() + 3600);
    answer["member_session"]
        .as_object_mut()
        .unwrap()
        .remove("organization_id");
    w.http.push_stytch(json_reply(200, answer));
    let r = w.exchange(&b2b_token("org_slug"));
    assert_eq!(r.status, 502);
    assert_eq!(r.headers_named("set-cookie").count(), 0);
    // A consumer answer from a B2B endpoint is no member session either.
    let w = b2b();
    w.stytch_ok();
    assert_eq!(w.exchange(&b2b_token("org_slug")).status, 502);
}

#[test]
fn b2b_refusals_are_401_naming_stytchs_error_and_never_retried() {
    for (status, error_type) in [
        (400, "token_missing_organization_id_claim"),
        (400, "invalid_token_organization_id_claim"),
        (404, "organization_not_found"),
        (404, "member_not_found"),
    ] {
        let w = b2b();
        w.http.push_stytch(stytch_error(status, error_type));
        let r = w.exchange(&b2b_token("org_slug"));
        assert_eq!(r.status, 401, "{error_type}");
        assert_eq!(
            body_json(&r),
            json!({
                "error": "invalid_token",
                "error_description": format!("Stytch rejected the access token ({error_type})."),
            })
        );
        assert_eq!(w.http.stytch_calls().len(), 1, "{error_type}: not retried");
    }
}

#[test]
fn b2b_failures_are_retried_as_consumer_ones() {
    let w = b2b();
    w.http
        .push_stytch(stytch_error(500, "internal_server_error"));
    w.stytch_member_ok();
    assert_member_created(&w.exchange(&b2b_token("org_slug")));
    assert_eq!(w.http.stytch_calls().len(), 2);
    let w = b2b();
    w.http.push_stytch(stytch_error(429, "too_many_requests"));
    w.http.push_stytch(stytch_error(429, "too_many_requests"));
    assert_eq!(w.exchange(&b2b_token("org_slug")).status, 429);
    let w = b2b();
    w.http
        .push_stytch(stytch_error(401, "unauthorized_credentials"));
    assert_eq!(w.exchange(&b2b_token("org_slug")).status, 500);
}

#[test]
fn a_live_member_session_in_the_organization_asked_for_is_reused_at_the_edge() {
    let w = b2b();
    let r = w.exchange_with_cookies(&b2b_token("org_slug"), &cookies(&member_jwt("member")));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        body_json(&r),
        json!({
            "aal": "aal1",
            "expires_at": rfc3339(now() + 3000),
            "member_id": "member-test-22222222",
            "organization_id": ORG_ID,
            "request_id": null,
            "reused": true,
            "session_id": "member-session-test-33333333",
        })
    );
    assert_eq!(r.headers_named("set-cookie").count(), 0);
    assert!(w.http.stytch_calls().is_empty());
    // Verified under the B2B session key set.
    let fetched: Vec<String> = w
        .http
        .calls
        .borrow()
        .iter()
        .map(|c| c.url.clone())
        .filter(|u| u.contains(STYTCH_JWKS_PATH))
        .collect();
    assert_eq!(
        fetched,
        [format!(
            "https://test.stytch.com/v1/b2b/sessions/jwks/{PROJECT}"
        )]
    );
    // The organization named by its id, for a session made asking by id.
    let w = b2b();
    let r = w.exchange_with_cookies(&b2b_token("org_id"), &cookies(&member_jwt("member_by_id")));
    assert_eq!(body_json(&r)["reused"], true, "{}", r.body);
}

/// An exchange of `token` with the member JWT `jwt` in the cookie: a new session or an
/// extension, never reuse; returns the attest sent and the log's `prior`.
fn not_reused(w: &World, token: &str, jwt: &str) -> (Value, String) {
    w.stytch_member_ok();
    let r = w.exchange_with_cookies(token, &cookies(&member_jwt(jwt)));
    assert_member_created(&r);
    let sent = attests(w);
    assert_eq!(sent.len(), 1, "{jwt}");
    let prior = w.platform.last_log()["prior"].as_str().unwrap().to_owned();
    (sent[0].clone(), prior)
}

#[test]
fn a_member_session_in_another_organization_is_replaced() {
    let (sent, prior) = not_reused(&b2b(), &b2b_token("org_slug"), "member_other_org");
    assert_eq!(prior, "organization_mismatch");
    assert!(sent.get("session_token").is_none(), "never sent on");
    // The same login now asking for another organization: the link differs.
    let w = b2b();
    let mut answer = attest_member_body(now() + 3600);
    answer["member_session"]["organization_id"] = json!("organization-test-55555555");
    answer["member_session"]["organization_slug"] = json!("globex");
    w.http.push_stytch(json_reply(200, answer));
    let r = w.exchange_with_cookies(&b2b_token("org_other"), &cookies(&member_jwt("member")));
    assert_eq!(
        body_json(&r)["organization_id"],
        "organization-test-55555555"
    );
    assert_eq!(w.platform.last_log()["prior"], "link_mismatch");
    let sent = &attests(&w)[0];
    assert!(sent.get("session_token").is_none());
    assert_eq!(sent["organization_id"], "globex");
}

#[test]
fn a_session_jwt_without_an_organization_is_not_a_member_session() {
    let (sent, prior) = not_reused(&b2b(), &b2b_token("org_slug"), "member_no_org_claim");
    assert_eq!(prior, "invalid: session_claims: organization");
    assert!(sent.get("session_token").is_none());
    // Nor is a consumer session JWT.
    let w = b2b();
    w.stytch_member_ok();
    let consumer = common::fixtures::session_jwt("session_reusable");
    let r = w.exchange_with_cookies(&b2b_token("org_slug"), &cookies(&consumer));
    assert_member_created(&r);
    assert_eq!(
        w.platform.last_log()["prior"],
        "invalid: session_claims: organization"
    );
}

#[test]
fn an_organization_the_worker_does_not_name_is_never_answered_at_the_edge() {
    let w = World::new().var("STYTCH_PRODUCT", "b2b");
    let (sent, prior) = not_reused(&w, &b2b_token("org_slug"), "member_unnamed_org");
    assert_eq!(prior, "organization_unknown");
    assert_eq!(sent["session_token"], OLD_TOKEN, "extended instead");
    assert!(sent.get("organization_id").is_none());
}

#[test]
fn an_expired_member_jwt_extends_its_session_in_its_organization() {
    let w = b2b();
    let (sent, prior) = not_reused(&w, &b2b_token("org_slug"), "member_expired");
    assert_eq!(prior, "jwt_expired");
    assert_eq!(sent["session_token"], OLD_TOKEN);
    assert_eq!(sent["organization_id"], "acme");
    assert_eq!(w.platform.last_log()["session"], "extended");
}

#[test]
fn the_session_route_reads_and_refreshes_member_sessions() {
    let w = b2b();
    let r = w.request(
        "GET",
        "/api/session",
        &[("cookie", &cookies(&member_jwt("member")))],
        "",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        body_json(&r),
        json!({
            "aal": "aal1",
            "expires_at": rfc3339(now() + 3000),
            "link": {
                "aal": "aal1",
                "iss": common::fixtures::issuer(),
                "organization": "acme",
                "session_id": fixtures()["stytch"]["link"]["session_id"],
                "sub": fixtures()["stytch"]["link"]["sub"],
            },
            "member_id": "member-test-22222222",
            "organization_id": ORG_ID,
            "session_id": "member-session-test-33333333",
        })
    );
    assert!(w.http.stytch_calls().is_empty());
    // An expired JWT: refreshed through B2B authenticate, whose answer has no top-level
    // member_id.
    let w = b2b();
    let mut answer = attest_member_body(now() + 3600);
    answer.as_object_mut().unwrap().remove("member_id");
    w.http.push_stytch(json_reply(200, answer));
    let r = w.request(
        "GET",
        "/api/session",
        &[("cookie", &cookies(&member_jwt("member_expired")))],
        "",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(body_json(&r)["member_id"], "member-test-22222222");
    assert_eq!(body_json(&r)["organization_id"], ORG_ID);
    assert_eq!(
        bodies(&w, "/v1/b2b/sessions/authenticate"),
        [json!({ "session_token": OLD_TOKEN })]
    );
    assert_eq!(r.headers_named("set-cookie").count(), 2);
}

#[test]
fn logout_revokes_through_the_b2b_endpoint() {
    let w = b2b();
    w.http.push_stytch(json_reply(
        200,
        json!({ "request_id": "request-id-test-88888888", "status_code": 200 }),
    ));
    let r = w.request(
        "POST",
        "/api/logout",
        &[("cookie", &cookies(&member_jwt("member")))],
        "",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        bodies(&w, "/v1/b2b/sessions/revoke"),
        [json!({ "member_session_id": "member-session-test-33333333" })]
    );
    assert_eq!(w.http.stytch_calls().len(), 1);
}

#[test]
fn the_prewarm_renews_the_b2b_session_key_set() {
    let w = b2b();
    assert!(w.prewarm());
    assert!(
        w.http
            .calls
            .borrow()
            .iter()
            .any(|c| c.url == format!("https://test.stytch.com/v1/b2b/sessions/jwks/{PROJECT}"))
    );
    assert_eq!(
        w.http
            .calls_to(&format!("/v1/sessions/jwks/{PROJECT}"))
            .len(),
        0
    );
}

#[test]
fn a_consumer_project_is_unchanged() {
    let w = World::new();
    w.stytch_ok();
    let r = w.exchange(&token("valid_es256"));
    assert_eq!(r.status, 200);
    let body = body_json(&r);
    assert_eq!(body["user_id"], "user-test-22222222");
    assert!(body.get("member_id").is_none() && body.get("organization_id").is_none());
    assert_eq!(w.http.calls_to("/v1/sessions/attest").len(), 1);
    assert!(attests(&w).is_empty());
}

/// The configuration of `vars` on top of a consumer worker's: its error (variable, problem).
fn config_error(vars: &[(&str, &str)]) -> (String, String) {
    let w = vars.iter().fold(World::new(), |w, (k, v)| w.var(k, v));
    let e = w.config().expect_err(&format!("{vars:?}"));
    // And every request is 500, the log naming the variable.
    let r = w.request("GET", "/healthz", &[], "");
    assert_eq!(r.status, 500);
    assert!(
        w.platform.last_log()["detail"]
            .as_str()
            .unwrap()
            .starts_with(e.variable)
    );
    (e.variable.to_owned(), e.problem)
}

#[test]
fn b2b_configuration_errors_name_the_variable() {
    for (vars, variable, says) in [
        (
            &[("STYTCH_PRODUCT", "enterprise")][..],
            "STYTCH_PRODUCT",
            "consumer or b2b",
        ),
        (
            &[("STYTCH_ORGANIZATION_ID", ORG_ID)][..],
            "STYTCH_ORGANIZATION_ID",
            "only for a B2B",
        ),
        (
            &[("STYTCH_ORGANIZATION_ID_CLAIM", CLAIM)][..],
            "STYTCH_ORGANIZATION_ID_CLAIM",
            "only for a B2B",
        ),
        (
            &[
                ("STYTCH_PRODUCT", "b2b"),
                ("STYTCH_ORGANIZATION_ID", ORG_ID),
                ("STYTCH_ORGANIZATION_ID_CLAIM", CLAIM),
            ][..],
            "STYTCH_ORGANIZATION_ID",
            "not both",
        ),
        (
            &[("STYTCH_PRODUCT", "b2b"), ("STYTCH_ORGANIZATION_ID", "a b")][..],
            "STYTCH_ORGANIZATION_ID",
            "id or slug",
        ),
        (
            &[
                ("STYTCH_PRODUCT", "b2b"),
                ("STYTCH_ORGANIZATION_ID_CLAIM", "app_metadata..org"),
            ][..],
            "STYTCH_ORGANIZATION_ID_CLAIM",
            "joined by dots",
        ),
    ] {
        let (var, problem) = config_error(vars);
        assert_eq!(var, variable, "{vars:?}");
        assert!(problem.contains(says), "{vars:?}: {problem}");
    }
}

const A: &str =
    r#""name":"a","issuer":"https://a.example/","audiences":["x"],"stytch_profile_id":"p""#;
const B: &str =
    r#""name":"b","issuer":"https://b.example/","audiences":["x"],"stytch_profile_id":"q""#;

#[test]
fn providers_name_their_product_and_organization() {
    let w = World::new().var(
        "PROVIDERS",
        &format!(
            r#"[{{{A},"stytch_product":"b2b","organization_id_claim":"org"}},{{{B},"stytch_product":"b2b","organization_id":"acme"}}]"#
        ),
    );
    let c = w.config().unwrap();
    assert_eq!(c.stytch.product, edge_attest::stytch::project::Product::B2b);
    assert_eq!(
        c.session.jwks_url,
        format!("https://test.stytch.com/v1/b2b/sessions/jwks/{PROJECT}")
    );
    assert_eq!(
        c.providers[1].organization,
        Some(edge_attest::stytch::organization::OrganizationSource::Fixed("acme".into()))
    );
    // STYTCH_PRODUCT is the default of providers that do not say.
    let w = World::new()
        .var("STYTCH_PRODUCT", "b2b")
        .var("PROVIDERS", &format!("[{{{A}}}]"));
    assert_eq!(
        w.config().unwrap().stytch.product,
        edge_attest::stytch::project::Product::B2b
    );
    for (providers, says) in [
        (
            format!(r#"[{{{A},"stytch_product":"b2b"}},{{{B}}}]"#),
            "provider b: stytch_product: is consumer, but provider a's is b2b",
        ),
        (
            format!(r#"[{{{A},"stytch_product":"enterprise"}}]"#),
            "provider a: stytch_product: enterprise is not consumer or b2b",
        ),
        (
            format!(r#"[{{{A},"organization_id":"acme"}}]"#),
            "provider a: organization_id: only for a B2B",
        ),
        (
            format!(
                r#"[{{{A},"stytch_product":"b2b","organization_id":"acme","organization_id_claim":"org"}}]"#
            ),
            "provider a: organization_id: name the organization once",
        ),
        (
            format!(r#"[{{{A},"stytch_product":"b2b","organization_id_claim":"sub"}}]"#),
            "provider a: organization_id_claim: must not be a registered claim",
        ),
    ] {
        let (var, problem) = config_error(&[("PROVIDERS", &providers)]);
        assert_eq!(var, "PROVIDERS");
        assert!(problem.contains(says), "{providers}: {problem}");
    }
}
