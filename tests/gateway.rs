#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! The auth gateway through the real handler with faithful fakes: `PROTECT` read and refused,
//! paths matched and refused, the session proven from the JWT cookie (fixtures signed by
//! jose) or refreshed with Stytch, what the app receives (identity, headers, cookies, body)
//! and what the browser gets back. One named test per rule, each failing if its rule goes.

mod common;
use common::fakes::*;
use common::fixtures::{fixtures, now, session_jwt};
use edge_attest::app::limits::Limit;
use edge_attest::http::{ForwardRequest, Platform as _, Response, TransportError};
use serde_json::json;

const TOKEN: &str = "old-session-token-kept-in-the-browser";
const APP: &str = "https://api.internal.example.com";

fn cookies(jwt: &str) -> String {
    format!("theme=dark; stytch_session={TOKEN}; stytch_session_jwt={jwt}")
}

fn live() -> String {
    cookies(&session_jwt("session_reusable"))
}

/// A worker protecting `/app/*` (to the zone's origin) and `/ext/*` (to another server),
/// with `/app/public/*` public and `/page/*` redirecting page loads to `/login`.
fn world() -> World {
    World::new().var(
        "PROTECT",
        &json!([
            { "path": "/app/public/*", "upstream": "origin", "require_session": false },
            { "path": "/app/*", "upstream": "origin" },
            { "path": "/ext/*", "upstream": APP },
            { "path": "/login", "upstream": "origin", "require_session": false },
            { "path": "/page/*", "upstream": "origin", "on_unauthenticated": "redirect", "login_url": "/login" },
        ])
        .to_string(),
    )
}

fn get(w: &World, path: &str, headers: &[(&str, &str)]) -> Response {
    w.request("GET", path, headers, "")
}

/// What the app received, one request.
fn received(w: &World) -> ForwardRequest {
    let got = w.app.received.borrow();
    assert_eq!(got.len(), 1, "the app was called once");
    got[0].0.clone()
}

fn header<'a>(req: &'a ForwardRequest, name: &str) -> Vec<&'a str> {
    req.headers
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn identity(req: &ForwardRequest) -> Vec<(String, String)> {
    req.headers
        .iter()
        .filter(|(k, _)| k.starts_with("edge-attest-"))
        .cloned()
        .collect()
}

fn expected_identity(jwt: &str) -> Vec<(String, String)> {
    let link = &fixtures()["stytch"]["link"];
    [
        ("edge-attest-user-id", "user-test-22222222"),
        ("edge-attest-session-id", "session-test-33333333"),
        ("edge-attest-expires-at", &rfc3339(now() + 3000)),
        ("edge-attest-aal", "aal1"),
        ("edge-attest-iss", link["iss"].as_str().unwrap()),
        ("edge-attest-jwt", jwt),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

fn assert_unauthenticated(w: &World, r: &Response, cleared: bool) {
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(body_json(r)["error"], "unauthenticated");
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let set: Vec<&str> = r.headers_named("set-cookie").collect();
    if cleared {
        assert_eq!(set.len(), 2, "{set:?}");
        assert!(set.iter().all(|c| c.contains("Max-Age=0")));
    } else {
        assert!(set.is_empty(), "{set:?}");
    }
    assert!(w.app.received.borrow().is_empty(), "the app was not called");
}

// ---- configuration ----

#[test]
fn protect_is_read_as_text_and_refused_when_wrong_naming_the_rule_and_field() {
    let cases = [
        (
            json!({"path": "/a/*"}),
            "rule #0 (/a/*): upstream: is required",
        ),
        (
            json!({"path": "/a/*", "upstream": "origin", "method": ["GET"]}),
            "method: is not a rule field",
        ),
        (
            json!({"path": "/a/*", "upstream": "origin", "methods": ["get"]}),
            "rule #0 (/a/*): methods: get is not a method name",
        ),
        (
            json!({"path": "/a/*", "upstream": "origin", "methods": ["GET", "TRACE"]}),
            "methods: TRACE is never passed",
        ),
        (
            json!({"path": "/a/*", "upstream": "origin", "methods": []}),
            "methods: must be a non-empty array",
        ),
        (
            json!({"path": "/a/*", "upstream": "origin", "preflight": "allow"}),
            "preflight: allow is not \"answer\" or \"forward\"",
        ),
        (
            json!({"path": "/a/*", "upstream": "origin", "require_aal": "aal3"}),
            "require_aal: aal3 is not \"aal1\" or \"aal2\"",
        ),
        (
            json!({"path": "/a/*", "upstream": "origin", "require_link": "yes"}),
            "require_link: must be true or false",
        ),
        (
            json!({"path": "/a/*", "upstream": "origin", "roles": "admin"}),
            "roles: must be a non-empty array of strings",
        ),
        (
            json!({"path": "/a/*", "upstream": "origin", "roles": ["a dmin"]}),
            "roles: a dmin is not a Stytch role id",
        ),
        (
            json!({"path": "/a/*", "upstream": "origin", "organizations": ["acme"]}),
            "organizations: only for a B2B Stytch project",
        ),
        (
            json!({"path": "/a/*", "upstream": "origin", "bearer": 1}),
            "bearer: must be true or false",
        ),
        (
            json!({"path": "/a/*", "upstream": "origin", "require_session": false, "roles": ["admin"]}),
            "roles: only on a rule that requires a session",
        ),
        (
            json!({"path": "/a/*", "upstream": "origin", "require_session": false, "bearer": true}),
            "bearer: only on a rule that requires a session",
        ),
        (
            json!({"path": "/a/*", "upstream": "origin", "require_session": false, "require_aal": "aal2"}),
            "require_aal: only on a rule that requires a session",
        ),
        (
            json!({"path": "a", "upstream": "origin"}),
            "rule #0 (a): path: a must start with /",
        ),
        (
            json!({"path": "/a/*/b", "upstream": "origin"}),
            "path: /a/*/b is not a path",
        ),
        (
            json!({"path": "/a", "upstream": "http://api.example.com"}),
            "upstream: http://api.example.com must use https",
        ),
        (
            json!({"path": "/a", "upstream": "https://api.example.com/base"}),
            "upstream: https://api.example.com/base is not \"origin\" or a URL",
        ),
        (
            json!({"path": "/a", "upstream": "origin", "on_unauthenticated": "redirect"}),
            "login_url: is required with on_unauthenticated redirect",
        ),
        (
            json!({"path": "/a", "upstream": "origin", "login_url": "/in"}),
            "login_url: only with on_unauthenticated redirect",
        ),
        (
            json!({"path": "/a", "upstream": "origin", "on_unauthenticated": "403"}),
            "on_unauthenticated: 403 is not",
        ),
        (
            json!({"path": "/a", "upstream": "origin", "on_unauthenticated": "redirect", "login_url": "//evil.example/in"}),
            "login_url: //evil.example/in starts with //",
        ),
        (
            json!({"path": "/a", "upstream": "origin", "require_session": "no"}),
            "require_session: must be true or false",
        ),
        (
            json!({"path": "/*", "upstream": "origin", "on_unauthenticated": "redirect", "login_url": "/login"}),
            "login_url: /login is covered by the protected rule /*",
        ),
    ];
    for (rule, expected) in cases {
        let w = World::new().var("PROTECT", &json!([rule]).to_string());
        let e = w.config().unwrap_err();
        assert_eq!(e.variable, "PROTECT");
        assert!(e.problem.contains(expected), "{rule}: {}", e.problem);
        // Every request answers it, the gateway's paths included.
        let r = get(&w, "/a", &[]);
        assert_eq!(r.status, 500);
        assert_eq!(body_json(&r)["error"], "misconfigured");
    }
    let many = json!(
        (0..65)
            .map(|i| json!({"path": format!("/r{i}"), "upstream": "origin"}))
            .collect::<Vec<_>>()
    );
    let e = World::new()
        .var("PROTECT", &many.to_string())
        .config()
        .unwrap_err();
    assert!(
        e.problem.contains("must list 1 to 64 rules"),
        "{}",
        e.problem
    );
    for bad in ["{}", "[]", "not json"] {
        assert!(World::new().var("PROTECT", bad).config().is_err(), "{bad}");
    }
    // 401 written as a number is "401".
    let w = World::new().var(
        "PROTECT",
        r#"[{"path":"/a","upstream":"origin","on_unauthenticated":401}]"#,
    );
    assert!(w.config().is_ok());
}

#[test]
fn without_protect_unknown_paths_stay_404() {
    let w = World::new();
    let r = get(&w, "/app/x", &[("cookie", &live())]);
    assert_eq!(r.status, 404);
    assert_eq!(w.platform.last_log()["route"], "unknown");
    assert!(w.app.received.borrow().is_empty());
}

#[test]
fn paths_no_rule_covers_are_404_and_the_workers_own_routes_are_never_matched() {
    let w = World::new().var("PROTECT", r#"[{"path":"/*","upstream":"origin"}]"#);
    assert_eq!(get(&w, "/healthz", &[]).status, 200);
    assert_eq!(get(&w, "/api/session", &[]).status, 401);
    assert_eq!(
        body_json(&get(&w, "/api/session", &[]))["error"],
        "invalid_session"
    );
    assert!(w.app.received.borrow().is_empty());
    let w = world();
    assert_eq!(get(&w, "/elsewhere", &[("cookie", &live())]).status, 404);
    assert_eq!(
        get(&w, "/apple", &[("cookie", &live())]).status,
        404,
        "prefixes are whole segments"
    );
    assert!(w.app.received.borrow().is_empty());
}

// ---- a live session ----

#[test]
fn a_live_session_goes_to_the_app_with_its_identity_and_no_subrequest_but_the_app() {
    let w = world();
    let r = w.request(
        "POST",
        "/app/orders?page=2&sort=desc",
        &[
            ("cookie", &live()),
            ("content-type", "application/json"),
            ("x-custom", "kept"),
        ],
        r#"{"item":1}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, "ok");
    let req = received(&w);
    assert_eq!(req.url, format!("{WORKER}/app/orders?page=2&sort=desc"));
    assert_eq!(req.method, "POST");
    assert_eq!(w.app.received.borrow()[0].1, br#"{"item":1}"#);
    assert_eq!(header(&req, "x-custom"), ["kept"]);
    assert_eq!(header(&req, "content-type"), ["application/json"]);
    assert_eq!(
        identity(&req),
        expected_identity(&session_jwt("session_reusable"))
    );
    // The zone's origin gets the browser's cookies as they came.
    assert_eq!(header(&req, "cookie"), [live().as_str()]);
    assert!(header(&req, "x-forwarded-host").is_empty());
    // Nothing else: no Stytch call, and Stytch's keys fetched once for the isolate.
    assert!(w.http.stytch_calls().is_empty());
    assert_eq!(w.http.stytch_jwks_fetches(), 1);
    get(&w, "/app/again", &[("cookie", &live())]);
    assert_eq!(w.http.stytch_jwks_fetches(), 1);
    assert!(w.http.stytch_calls().is_empty());
}

#[test]
fn identity_headers_the_client_sent_never_reach_the_app() {
    for rule in ["/app/x", "/app/public/x"] {
        let w = world();
        let r = get(
            &w,
            rule,
            &[
                ("cookie", &live()),
                ("edge-attest-user-id", "user-test-forged"),
                ("Edge_Attest_User_Id", "user-test-forged"),
                ("EDGE-ATTEST-JWT", "forged"),
                ("edge-attest-role", "admin"),
            ],
        );
        assert_eq!(r.status, 200);
        let req = received(&w);
        assert!(
            !req.headers
                .iter()
                .any(|(_, v)| v.contains("forged") || v == "admin"),
            "{rule}: {:?}",
            req.headers
        );
        if rule == "/app/x" {
            assert_eq!(header(&req, "edge-attest-user-id"), ["user-test-22222222"]);
        } else {
            assert!(
                identity(&req).is_empty(),
                "a public rule forwards no identity"
            );
        }
    }
}

#[test]
fn another_server_gets_the_path_and_query_forwarding_headers_and_no_session_cookies() {
    let w = world();
    let r = get(
        &w,
        "/ext/v1/items?q=a%20b",
        &[
            ("cookie", &live()),
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-proto", "http"),
            ("forwarded", "host=evil.example"),
            ("x-original-url", "/app/public/x"),
        ],
    );
    assert_eq!(r.status, 200);
    let req = received(&w);
    assert_eq!(req.url, format!("{APP}/ext/v1/items?q=a%20b"));
    assert_eq!(header(&req, "cookie"), ["theme=dark"]);
    assert_eq!(header(&req, "x-forwarded-host"), ["app.example.com"]);
    assert_eq!(header(&req, "x-forwarded-proto"), ["https"]);
    assert!(header(&req, "forwarded").is_empty());
    assert!(header(&req, "x-original-url").is_empty());
    assert_eq!(header(&req, "edge-attest-user-id"), ["user-test-22222222"]);
}

#[test]
fn hop_by_hop_headers_and_those_connection_names_stop_at_the_gateway() {
    let w = world();
    get(
        &w,
        "/app/x",
        &[
            ("cookie", &live()),
            ("connection", "close, Edge-Attest-Jwt, X-Secret-Hop"),
            ("x-secret-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("proxy-authorization", "Basic eA=="),
            ("upgrade", "h2c"),
        ],
    );
    let req = received(&w);
    for gone in [
        "connection",
        "x-secret-hop",
        "keep-alive",
        "te",
        "proxy-authorization",
        "upgrade",
    ] {
        assert!(header(&req, gone).is_empty(), "{gone}");
    }
    assert_eq!(
        header(&req, "edge-attest-jwt"),
        [session_jwt("session_reusable").as_str()]
    );
}

#[test]
fn the_apps_answer_passes_back_private_and_without_hop_by_hop_or_identity_headers() {
    let w = world();
    w.app.reply(
        201,
        &[
            ("content-type", "application/json"),
            ("cache-control", "public, max-age=60"),
            ("connection", "x-internal"),
            ("x-internal", "1"),
            ("edge-attest-jwt", "echoed"),
            ("set-cookie", "cart=1; Path=/"),
            ("set-cookie", "stytch_session=from-the-app; Path=/"),
        ],
        r#"{"created":true}"#,
    );
    let r = get(&w, "/app/x", &[("cookie", &live())]);
    assert_eq!(r.status, 201);
    assert_eq!(r.body, r#"{"created":true}"#);
    assert_eq!(r.header("cache-control"), Some("private, max-age=60"));
    assert!(r.header("x-internal").is_none() && r.header("connection").is_none());
    assert!(r.header("edge-attest-jwt").is_none());
    // The zone's own origin may set the session cookies (it may run Stytch's SDK).
    assert_eq!(r.headers_named("set-cookie").count(), 2);
    // Another server may not.
    let w = world();
    w.app.reply(
        200,
        &[
            ("set-cookie", "stytch_session=planted; Path=/"),
            ("set-cookie", "stytch_session_jwt=planted"),
            ("set-cookie", "ok=1"),
        ],
        "",
    );
    let r = get(&w, "/ext/x", &[("cookie", &live())]);
    assert_eq!(r.headers_named("set-cookie").collect::<Vec<_>>(), ["ok=1"]);
}

// ---- no session ----

#[test]
fn no_session_cookies_is_401_with_nothing_cleared_and_the_app_not_called() {
    let w = world();
    let r = get(&w, "/app/x", &[("cookie", "theme=dark")]);
    assert_unauthenticated(&w, &r, false);
    assert_eq!(w.http.stytch_jwks_fetches(), 0, "nothing to check");
    let log = w.platform.last_log();
    assert_eq!(log["route"], "gateway");
    assert_eq!(log["rule"], 1);
    assert_eq!(log["outcome"], "unauthenticated");
}

#[test]
fn a_forged_foreign_or_ambiguous_session_is_401_with_the_cookies_cleared() {
    for jwt in [
        "session_tampered",
        "session_other_project_key",
        "session_wrong_aud",
        "session_wrong_iss",
        "session_alg_none",
    ] {
        let w = world();
        let r = get(&w, "/app/x", &[("cookie", &cookies(&session_jwt(jwt)))]);
        assert_unauthenticated(&w, &r, true);
        assert!(
            w.http.stytch_calls().is_empty(),
            "{jwt}: nothing reaches Stytch"
        );
    }
    let w = world();
    let doubled = format!("{}; stytch_session_jwt=other", live());
    let r = get(&w, "/app/x", &[("cookie", &doubled)]);
    assert_eq!(r.status, 401);
    assert!(
        r.headers_named("set-cookie").count() >= 2,
        "cleared in every scope"
    );
    assert!(w.app.received.borrow().is_empty());
    assert_eq!(w.platform.last_log()["prior"], "ambiguous_cookies");
}

#[test]
fn page_loads_go_to_the_login_page_with_next_and_scripts_get_401() {
    let w = world();
    let r = get(&w, "/page/report?id=7", &[("sec-fetch-mode", "navigate")]);
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some("/login?next=/page/report%3Fid%3D7")
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(w.platform.last_log()["outcome"], "redirected");
    // Without Fetch Metadata, an HTML page load.
    let r = get(
        &w,
        "/page/x",
        &[("accept", "text/html,application/xhtml+xml")],
    );
    assert_eq!(r.status, 302);
    // fetch(), XHR, JSON, other methods: 401.
    for headers in [
        vec![("sec-fetch-mode", "cors")],
        vec![("accept", "*/*")],
        vec![
            ("accept", "text/html"),
            ("x-requested-with", "XMLHttpRequest"),
        ],
    ] {
        assert_eq!(get(&w, "/page/x", &headers).status, 401, "{headers:?}");
    }
    let r = w.request(
        "POST",
        "/page/x",
        &[
            ("sec-fetch-mode", "navigate"),
            ("sec-fetch-site", "same-origin"),
        ],
        "",
    );
    assert_eq!(r.status, 401);
    // A stale session is cleared on the way to the login page.
    let r = get(
        &w,
        "/page/x",
        &[
            ("sec-fetch-mode", "navigate"),
            ("cookie", &cookies(&session_jwt("session_tampered"))),
        ],
    );
    assert_eq!(r.status, 302);
    assert_eq!(r.headers_named("set-cookie").count(), 2);
    assert!(w.app.received.borrow().is_empty());
}

#[test]
fn the_login_page_itself_is_never_redirected() {
    let w = World::new().var(
        "PROTECT",
        &json!([{ "path": "/*", "upstream": "origin", "on_unauthenticated": "redirect", "login_url": format!("{WORKER}/login") }]).to_string(),
    );
    let r = get(&w, "/login", &[("sec-fetch-mode", "navigate")]);
    assert_eq!(r.status, 401);
    assert_eq!(
        get(&w, "/other", &[("sec-fetch-mode", "navigate")]).status,
        302
    );
}

// ---- refresh ----

#[test]
fn an_expired_jwt_is_refreshed_once_and_the_app_gets_the_fresh_one() {
    let w = world();
    w.http.push_stytch(authenticate_answer(now() + 1800));
    w.app.reply(200, &[("set-cookie", "cart=1")], "ok");
    let r = get(
        &w,
        "/app/x",
        &[("cookie", &cookies(&session_jwt("session_expired")))],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let calls = w.http.stytch_calls();
    assert_eq!(calls.len(), 1);
    assert!(calls[0].url.ends_with("/v1/sessions/authenticate"));
    assert_eq!(
        calls[0].body.as_deref(),
        Some(&*format!(r#"{{"session_token":"{TOKEN}"}}"#))
    );
    let req = received(&w);
    let fresh = &answered_jwt(now());
    assert_eq!(header(&req, "edge-attest-jwt"), [fresh.as_str()]);
    assert_eq!(
        header(&req, "edge-attest-expires-at"),
        [rfc3339(now() + 1800).as_str()]
    );
    // The origin's Cookie carries the refreshed values, not the expired ones.
    assert_eq!(
        header(&req, "cookie"),
        [
            format!(
                "theme=dark; stytch_session=refreshed-session-token; stytch_session_jwt={fresh}"
            )
            .as_str()
        ]
    );
    // The browser gets the app's cookie, then the refreshed session's, and no cache.
    let set: Vec<&str> = r.headers_named("set-cookie").collect();
    assert_eq!(set.len(), 3, "{set:?}");
    assert_eq!(set[0], "cart=1");
    assert!(set[1].starts_with("stytch_session=refreshed-session-token;"));
    assert!(set[2].starts_with(&format!("stytch_session_jwt={fresh};")));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(w.platform.last_log()["session"], "refreshed");
}

#[test]
fn a_page_load_of_requests_with_one_expired_jwt_makes_one_refresh() {
    let w = world();
    w.http.stytch_pending_polls.set(3);
    w.http.push_stytch(authenticate_answer(now() + 1800));
    let expired = cookies(&session_jwt("session_expired"));
    let answers = w.request_all(5, "GET", "/app/x", &[("cookie", &expired)]);
    assert_eq!(
        w.http.stytch_calls().len(),
        1,
        "one sessions/authenticate, four requests waited for it"
    );
    let fresh = &answered_jwt(now());
    for r in &answers {
        assert_eq!(r.status, 200, "{}", r.body);
        let set: Vec<&str> = r.headers_named("set-cookie").collect();
        assert_eq!(
            set.len(),
            2,
            "each answer carries the refreshed cookies: {set:?}"
        );
        assert!(set[1].starts_with(&format!("stytch_session_jwt={fresh};")));
    }
    let got = w.app.received.borrow();
    assert_eq!(got.len(), 5);
    for (req, _) in got.iter() {
        assert_eq!(header(req, "edge-attest-jwt"), [fresh.as_str()]);
    }
    let logs = w.platform.logs.borrow();
    let waited = logs
        .iter()
        .filter(|l| l.contains("waited for the refresh another request made"))
        .count();
    assert_eq!(waited, 4);
    // The refresh is over: a request of another session token refreshes on its own.
    drop((got, logs));
    w.http.push_stytch(authenticate_answer(now() + 1800));
    let other = format!(
        "stytch_session=another-token; stytch_session_jwt={}",
        session_jwt("session_expired")
    );
    assert_eq!(get(&w, "/app/x", &[("cookie", &other)]).status, 200);
    assert_eq!(w.http.stytch_calls().len(), 2);
}

#[test]
fn the_refresh_is_shared_from_before_the_rate_limits_whose_checks_take_time() {
    let w = world();
    w.limits.user.set(Some((10, 60)));
    w.limits.ip.set(Some((100, 60)));
    w.limits.pending_polls.set(2);
    w.http.stytch_pending_polls.set(3);
    w.http.push_stytch(authenticate_answer(now() + 1800));
    let expired = cookies(&session_jwt("session_expired"));
    let answers = w.request_all(5, "GET", "/app/x", &[("cookie", &expired)]);
    assert!(answers.iter().all(|r| r.status == 200));
    assert_eq!(w.http.stytch_calls().len(), 1);
    assert_eq!(
        w.limits.checks_of(Limit::User),
        1,
        "the waiters count against no limit"
    );
}

#[test]
fn a_refresh_over_the_users_limit_refuses_its_waiters_too() {
    let w = world();
    w.limits.user.set(Some((0, 60)));
    w.limits.pending_polls.set(2);
    let expired = cookies(&session_jwt("session_expired"));
    let answers = w.request_all(4, "GET", "/app/x", &[("cookie", &expired)]);
    for r in &answers {
        assert_eq!(r.status, 429, "{}", r.body);
        assert!(r.header("retry-after").is_some());
        assert_eq!(r.headers_named("set-cookie").count(), 0, "cookies kept");
    }
    assert!(w.http.stytch_calls().is_empty());
    assert!(w.app.received.borrow().is_empty());
}

#[test]
fn requests_waiting_for_a_refresh_stytch_refuses_are_refused_with_it() {
    let w = world();
    w.http.stytch_pending_polls.set(3);
    w.http.push_stytch(stytch_error(404, "session_not_found"));
    let expired = cookies(&session_jwt("session_expired"));
    let answers = w.request_all(3, "GET", "/app/x", &[("cookie", &expired)]);
    assert_eq!(w.http.stytch_calls().len(), 1);
    for r in &answers {
        assert_eq!(r.status, 401, "{}", r.body);
        assert_eq!(r.headers_named("set-cookie").count(), 2, "cookies cleared");
    }
    assert!(w.app.received.borrow().is_empty());
}

#[test]
fn a_jwt_with_under_thirty_seconds_left_is_refreshed_before_it_goes() {
    let w = world();
    get(
        &w,
        "/app/x",
        &[("cookie", &cookies(&session_jwt("session_near_expiry")))],
    );
    assert!(
        w.http.stytch_calls().is_empty(),
        "59 s left: forwarded as it is"
    );
    let w = world();
    w.platform.advance_secs(30);
    w.http.push_stytch(authenticate_answer(now() + 1800));
    let r = get(
        &w,
        "/app/x",
        &[("cookie", &cookies(&session_jwt("session_near_expiry")))],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(w.http.stytch_calls().len(), 1, "29 s left: refreshed");
}

#[test]
fn a_session_stytch_says_is_gone_is_401_with_the_cookies_cleared() {
    let w = world();
    w.http.push_stytch(stytch_error(404, "session_not_found"));
    let r = get(
        &w,
        "/app/x",
        &[("cookie", &cookies(&session_jwt("session_expired")))],
    );
    assert_unauthenticated(&w, &r, true);
    // An expired JWT without its token cookie cannot be refreshed.
    let w = world();
    let only_jwt = format!("stytch_session_jwt={}", session_jwt("session_expired"));
    let r = get(&w, "/app/x", &[("cookie", &only_jwt)]);
    assert_unauthenticated(&w, &r, true);
    assert!(w.http.stytch_calls().is_empty());
}

#[test]
fn stytch_failing_is_not_a_sign_out_the_cookies_stay_and_the_app_is_not_called() {
    let w = world();
    w.http
        .push_stytch(stytch_error(500, "internal_server_error"));
    w.http
        .push_stytch(stytch_error(500, "internal_server_error"));
    let r = get(
        &w,
        "/app/x",
        &[("cookie", &cookies(&session_jwt("session_expired")))],
    );
    assert_eq!(r.status, 502);
    assert_eq!(r.headers_named("set-cookie").count(), 0);
    assert!(w.app.received.borrow().is_empty());
    // Stytch's keys out of reach: 503, cookies kept.
    let w = world();
    *w.http.stytch_jwks.borrow_mut() = Some(Err(TransportError::Network("down".into())));
    let r = get(&w, "/app/x", &[("cookie", &live())]);
    assert_eq!(r.status, 503);
    assert_eq!(r.headers_named("set-cookie").count(), 0);
    assert!(w.app.received.borrow().is_empty());
}

#[test]
fn a_refresh_counts_against_the_users_limit_and_plain_requests_do_not() {
    let w = world();
    w.limits.user.set(Some((0, 60)));
    w.limits.ip.set(Some((0, 60)));
    let r = get(
        &w,
        "/app/x",
        &[("cookie", &live()), ("cf-connecting-ip", "203.0.113.9")],
    );
    assert_eq!(r.status, 200, "a live session spends no quota");
    let r = get(
        &w,
        "/app/x",
        &[
            ("cookie", &cookies(&session_jwt("session_expired"))),
            ("cf-connecting-ip", "203.0.113.9"),
        ],
    );
    assert_eq!(r.status, 429);
    assert!(w.http.stytch_calls().is_empty());
    assert_eq!(w.app.received.borrow().len(), 1);
}

// ---- cross-site requests ----

#[test]
fn a_cross_site_write_is_403_and_never_reaches_the_app() {
    let w = world().var("ALLOWED_ORIGINS", "https://partner.example.com");
    for headers in [
        vec![("origin", "https://evil.example")],
        vec![("origin", "null")],
        vec![("origin", "https://app.example.com.evil.io")],
        vec![("sec-fetch-site", "same-site")],
        vec![("sec-fetch-site", "cross-site")],
    ] {
        let mut h = headers.clone();
        let c = live();
        h.push(("cookie", &c));
        let r = w.request("POST", "/app/x", &h, "{}");
        assert_eq!(r.status, 403, "{headers:?}");
        assert_eq!(body_json(&r)["error"], "forbidden_origin");
    }
    assert!(w.app.received.borrow().is_empty());
    // The app's own pages, an allowed origin, and a client that is not a browser may.
    for headers in [
        vec![("origin", WORKER), ("sec-fetch-site", "same-origin")],
        vec![
            ("origin", "https://partner.example.com"),
            ("sec-fetch-site", "cross-site"),
        ],
        vec![],
    ] {
        let mut h = headers.clone();
        let c = live();
        h.push(("cookie", &c));
        assert_eq!(
            w.request("DELETE", "/app/x", &h, "").status,
            200,
            "{headers:?}"
        );
    }
    // An allowed caller reads the answer (CORS added when the app sent none).
    let r = w.request(
        "POST",
        "/app/x",
        &[
            ("origin", "https://partner.example.com"),
            ("cookie", &live()),
        ],
        "{}",
    );
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://partner.example.com")
    );
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    // ... and its 401 too.
    let r = w.request(
        "GET",
        "/app/x",
        &[("origin", "https://partner.example.com")],
        "",
    );
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://partner.example.com")
    );
}

#[test]
fn a_websocket_handshake_from_another_site_is_refused() {
    let w = world();
    let r = get(
        &w,
        "/app/socket",
        &[
            ("cookie", &live()),
            ("connection", "Upgrade"),
            ("upgrade", "websocket"),
            ("origin", "https://evil.example"),
        ],
    );
    assert_eq!(r.status, 403);
    let r = get(
        &w,
        "/app/socket",
        &[
            ("cookie", &live()),
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "websocket"),
            ("origin", WORKER),
            ("sec-websocket-key", "k"),
        ],
    );
    assert_eq!(r.status, 200);
    let req = received(&w);
    assert_eq!(header(&req, "upgrade"), ["websocket"]);
    assert_eq!(header(&req, "connection"), ["Upgrade"]);
    assert_eq!(header(&req, "sec-websocket-key"), ["k"]);
}

// ---- paths and methods ----

#[test]
fn ambiguous_paths_are_400_before_any_rule_and_case_does_not_escape_a_rule() {
    let w = world();
    for bad in [
        "/app/public/..%2Fsecret",
        "/app/public/%2e%2e/secret",
        "/app;x=1/y",
        "/app%2Fx",
    ] {
        let r = get(&w, bad, &[]);
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(body_json(&r)["error"], "invalid_request");
    }
    assert!(w.app.received.borrow().is_empty());
    // /APP/x and //app/x are /app/x: protected.
    for path in ["/APP/x", "//app/x", "/%61pp/x"] {
        assert_eq!(get(&w, path, &[]).status, 401, "{path}");
    }
    // A public path in another case: an app that routes case-sensitively would take it to a
    // handler no rule covers, which the gateway would refuse: 400.
    assert_eq!(get(&w, "/APP/Public/X", &[]).status, 400);
    // The app gets the path as it came.
    let r = get(&w, "/app/public/%58", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(received(&w).url, format!("{WORKER}/app/public/%58"));
}

#[test]
fn trace_and_connect_are_refused() {
    let w = world();
    for method in ["TRACE", "TRACK", "CONNECT"] {
        let r = w.request(method, "/app/x", &[("cookie", &live())], "");
        assert_eq!(r.status, 405, "{method}");
        assert!(r.header("allow").unwrap().contains("GET"));
    }
    assert!(w.app.received.borrow().is_empty());
}

// ---- the app failing ----

#[test]
fn an_app_that_does_not_answer_is_504_and_one_that_cannot_be_reached_502() {
    let w = world();
    w.app.fail(TransportError::Timeout);
    let r = get(&w, "/app/x", &[("cookie", &live())]);
    assert_eq!(r.status, 504);
    assert_eq!(body_json(&r)["error"], "app_timeout");
    w.app
        .fail(TransportError::Network("connection refused".into()));
    let r = get(&w, "/app/x", &[("cookie", &live())]);
    assert_eq!(r.status, 502);
    assert_eq!(body_json(&r)["error"], "app_unreachable");
    assert_eq!(
        w.platform.last_log()["detail"],
        "network error: connection refused"
    );
}

// ---- the log ----

#[test]
fn one_log_line_per_request_with_the_rule_user_and_status_and_no_token() {
    let w = world();
    w.app.reply(418, &[], "");
    get(&w, "/app/x?secret-query=1", &[("cookie", &live())]);
    let log = w.platform.last_log();
    assert_eq!(log["route"], "gateway");
    assert_eq!(log["rule"], 1);
    assert_eq!(log["outcome"], "forwarded");
    assert_eq!(log["session"], "local");
    assert_eq!(log["user_id"], "user-test-22222222");
    assert_eq!(log["upstream_status"], 418);
    assert_eq!(log["status"], 418);
    assert!(log["ms"].get("upstream").is_some());
    let line = log.to_string();
    for secret in [TOKEN, &session_jwt("session_reusable"), "secret-query"] {
        assert!(!line.contains(secret), "{line}");
    }
    assert_eq!(w.platform.logs.borrow().len(), 1);
}

// ---- B2B ----

#[test]
fn a_member_session_goes_with_its_member_and_organization() {
    let w = world().var("STYTCH_PRODUCT", "b2b");
    let jwt = fixtures()["b2b"]["sessions"]["member"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = get(&w, "/app/x", &[("cookie", &cookies(&jwt))]);
    assert_eq!(r.status, 200, "{}", r.body);
    let req = received(&w);
    assert_eq!(
        header(&req, "edge-attest-member-id"),
        ["member-test-22222222"]
    );
    assert_eq!(
        header(&req, "edge-attest-organization-id"),
        ["organization-test-44444444"]
    );
    assert!(header(&req, "edge-attest-user-id").is_empty());
}

// ---- the service binding: EdgeAttest.session(cookieHeader) ----

fn binding(
    w: &World,
    cookie: &str,
) -> Result<Option<serde_json::Value>, edge_attest::error::ApiError> {
    let config = w.config();
    let services = w.services();
    let found = futures_executor::block_on(services.binding_session(config.as_ref(), cookie));
    w.kv.flush(w.platform.now_ms());
    found.map(|s| s.map(|s| serde_json::to_value(s).unwrap()))
}

#[test]
fn another_worker_gets_the_same_identity_from_the_cookie_header() {
    let w = world();
    let got = binding(&w, &live()).unwrap().unwrap();
    let link = &fixtures()["stytch"]["link"];
    assert_eq!(
        got,
        json!({
            "user_id": "user-test-22222222",
            "session_id": "session-test-33333333",
            "expires_at": rfc3339(now() + 3000),
            "aal": "aal1",
            "iss": link["iss"],
            "roles": ["stytch_user"],
            "jwt": session_jwt("session_reusable"),
            "set_cookie": [],
        })
    );
    assert!(w.http.stytch_calls().is_empty());
    let log = w.platform.last_log();
    assert_eq!(log["route"], "binding");
    assert_eq!(log["outcome"], "ok");
    assert_eq!(log["user_id"], "user-test-22222222");
    assert!(!log.to_string().contains(&session_jwt("session_reusable")));
}

#[test]
fn the_binding_refreshes_by_the_same_rules_and_hands_back_the_cookies() {
    let w = world();
    w.limits.ip.set(Some((0, 60)));
    w.http.push_stytch(authenticate_answer(now() + 1800));
    let got = binding(&w, &cookies(&session_jwt("session_expired")))
        .unwrap()
        .unwrap();
    assert_eq!(got["jwt"], answered_jwt(now()));
    let set = got["set_cookie"].as_array().unwrap();
    assert_eq!(set.len(), 2);
    assert!(
        set[0]
            .as_str()
            .unwrap()
            .starts_with("stytch_session=refreshed-session-token;")
    );
    // Counted against the user's limit, not an address (a binding call has none).
    let calls = w.limits.calls.borrow();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].0, Limit::User);
}

#[test]
fn the_binding_says_null_for_no_session_and_throws_for_what_is_not_the_users_fault() {
    let w = world();
    assert_eq!(binding(&w, "").unwrap(), None);
    assert_eq!(binding(&w, "theme=dark").unwrap(), None);
    assert_eq!(
        binding(&w, &cookies(&session_jwt("session_tampered"))).unwrap(),
        None
    );
    let doubled = format!("{}; stytch_session_jwt=x", live());
    assert_eq!(binding(&w, &doubled).unwrap(), None);
    assert_eq!(w.platform.last_log()["outcome"], "unauthenticated");
    w.http.push_stytch(stytch_error(404, "session_not_found"));
    assert_eq!(
        binding(&w, &cookies(&session_jwt("session_expired"))).unwrap(),
        None
    );
    w.http
        .push_stytch(stytch_error(500, "internal_server_error"));
    w.http
        .push_stytch(stytch_error(500, "internal_server_error"));
    let e = binding(&w, &cookies(&session_jwt("session_expired"))).unwrap_err();
    assert_eq!(e.code(), "upstream_error");
    let broken = world().var("PROTECT", "[]");
    assert_eq!(
        binding(&broken, &live()).unwrap_err().code(),
        "misconfigured"
    );
}
