#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! The gateway's rules, through the real handler with faithful fakes: no way around them
//! (preflights, encodings, other readings of a path) and who may pass each (methods, the
//! assurance level, this deployment's link, roles, organizations, bearer tokens), the refresh
//! a page's later requests share, and the service binding's `authorize`. Each finding of the
//! turn-4 security review has its attack request here, with its variants; the app and Stytch
//! are fakes that record what reached them (an unscripted Stytch call fails the test).

mod common;
use common::fakes::*;
use common::fixtures::{fixtures, now, session_jwt};
use edge_attest::http::{ForwardRequest, Platform as _, Response};
use serde_json::{Value, json};

const TOKEN: &str = "old-session-token-kept-in-the-browser";
const PARTNER: &str = "https://partner.example.com";

fn cookies(jwt: &str) -> String {
    format!("theme=dark; stytch_session={TOKEN}; stytch_session_jwt={jwt}")
}

fn with(jwt_name: &str) -> String {
    cookies(&session_jwt(jwt_name))
}

fn protect(rules: Value) -> World {
    World::new().var("PROTECT", &rules.to_string())
}

fn get(w: &World, path: &str, headers: &[(&str, &str)]) -> Response {
    w.request("GET", path, headers, "")
}

fn received(w: &World) -> Vec<(ForwardRequest, Vec<u8>)> {
    w.app.received.borrow().clone()
}

fn header<'a>(req: &'a ForwardRequest, name: &str) -> Vec<&'a str> {
    req.headers
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn error(r: &Response) -> String {
    body_json(r)["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Refused at the gateway: this status and code, the app not called, Stytch not called.
fn assert_refused(w: &World, r: &Response, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(error(r), code, "{}", r.body);
    assert!(w.app.received.borrow().is_empty(), "the app was not called");
    assert!(w.http.stytch_calls().is_empty(), "Stytch was not called");
}

// ---- preflights (security review H1) ----

fn app_rules() -> Value {
    json!([
        { "path": "/login", "upstream": "origin", "require_session": false },
        { "path": "/admin/*", "upstream": "origin" },
        { "path": "/*", "upstream": "origin" },
    ])
}

#[test]
fn a_preflight_is_answered_at_the_gateway_and_never_reaches_the_app() {
    let w = protect(app_rules()).var("ALLOWED_ORIGINS", PARTNER);
    let r = w.request(
        "OPTIONS",
        "/admin/export",
        &[
            ("origin", PARTNER),
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "content-type, x-csrf"),
        ],
        "",
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(r.header("access-control-allow-origin"), Some(PARTNER));
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(r.header("access-control-allow-methods"), Some("PUT"));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("content-type, x-csrf")
    );
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    assert!(
        r.header("vary")
            .unwrap()
            .contains("Access-Control-Request-Method")
    );
    assert_eq!(w.platform.last_log()["outcome"], "preflight");
    // The attack: the worker's own origin (which browsers never preflight), a body, a
    // session or none. Every origin but a listed one, and none at all, is 403.
    for origin in [
        Some(WORKER),
        Some("https://evil.example"),
        Some("null"),
        None,
    ] {
        for cookie in [None, Some(with("session_reusable"))] {
            let mut h = vec![
                ("access-control-request-method", "GET"),
                ("content-type", "application/x-www-form-urlencoded"),
            ];
            if let Some(o) = origin {
                h.push(("origin", o));
            }
            if let Some(c) = &cookie {
                h.push(("cookie", c));
            }
            let r = w.request("OPTIONS", "/admin/export.php", &h, "format=csv&scope=all");
            assert_refused(&w, &r, 403, "forbidden_origin");
        }
    }
    // A listed origin asking for headers that are not header names gets no allow-headers.
    let r = w.request(
        "OPTIONS",
        "/admin/x",
        &[
            ("origin", PARTNER),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", "x-a\u{7f}, (bad)"),
        ],
        "",
    );
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-headers"), None);
}

#[test]
fn an_options_request_that_is_no_preflight_needs_a_session() {
    let w = protect(app_rules()).var("ALLOWED_ORIGINS", PARTNER);
    let r = w.request(
        "OPTIONS",
        "/admin/export.php",
        &[("origin", WORKER), ("content-type", "text/plain")],
        "x=1",
    );
    assert_refused(&w, &r, 401, "unauthenticated");
    let r = w.request(
        "OPTIONS",
        "/admin/x",
        &[("cookie", &with("session_reusable"))],
        "",
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        header(&received(&w)[0].0, "edge-attest-user-id"),
        ["user-test-22222222"]
    );
}

#[test]
fn a_preflight_is_answered_for_the_method_it_asks_about() {
    let w = protect(json!([
        { "path": "/api/*", "upstream": "origin", "methods": ["GET", "HEAD"], "require_session": false },
        { "path": "/api/*", "upstream": "origin", "methods": ["POST"] },
    ]))
    .var("ALLOWED_ORIGINS", PARTNER);
    let preflight = |method: &str| {
        w.request(
            "OPTIONS",
            "/api/items",
            &[
                ("origin", PARTNER),
                ("access-control-request-method", method),
            ],
            "",
        )
    };
    for method in ["GET", "POST"] {
        let r = preflight(method);
        assert_eq!(r.status, 204, "{method}");
        assert_eq!(r.header("access-control-allow-methods"), Some(method));
    }
    // A method no rule of the path takes, or none at all.
    let r = preflight("DELETE");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST"));
    for bad in ["get", "GET POST", "", "G\tT"] {
        assert_eq!(preflight(bad).status, 400, "{bad:?}");
    }
    assert!(w.app.received.borrow().is_empty());
    // Forwarding is for a rule whose methods include OPTIONS: a forwarded preflight is one.
    let e = protect(json!([
        { "path": "/api/*", "upstream": "origin", "methods": ["GET"], "preflight": "forward" },
    ]))
    .config()
    .unwrap_err();
    assert!(
        e.problem
            .contains("preflight: forward only on a rule whose methods include OPTIONS"),
        "{}",
        e.problem
    );
}

#[test]
fn a_forwarding_rule_sends_the_app_a_bare_preflight() {
    let w = protect(json!([
        { "path": "/api/*", "upstream": "origin", "preflight": "forward" },
    ]));
    w.app.reply(
        204,
        &[
            ("access-control-allow-origin", "https://any.example"),
            ("access-control-allow-methods", "PUT"),
        ],
        "",
    );
    let r = w.request(
        "OPTIONS",
        "/api/items",
        &[
            ("origin", "https://any.example"),
            ("access-control-request-method", "PUT"),
            ("cookie", &with("session_reusable")),
            ("authorization", "Bearer x.y.z"),
            ("content-type", "text/plain"),
            ("content-length", "3"),
            ("edge-attest-user-id", "forged"),
        ],
        "abc",
    );
    assert_eq!(r.status, 204);
    // The app's CORS answer, and nothing of the gateway's.
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://any.example")
    );
    assert_eq!(
        r.headers_named("access-control-allow-credentials").count(),
        0
    );
    let got = received(&w);
    let req = &got[0].0;
    assert_eq!(req.method, "OPTIONS");
    assert!(!req.with_body, "no body");
    for gone in [
        "cookie",
        "authorization",
        "content-type",
        "content-length",
        "edge-attest-user-id",
    ] {
        assert!(header(req, gone).is_empty(), "{gone}");
    }
    assert_eq!(header(req, "access-control-request-method"), ["PUT"]);
    assert!(w.http.stytch_calls().is_empty());
}

// ---- methods ----

#[test]
fn a_rule_applies_to_its_methods_and_other_methods_go_on() {
    let w = protect(json!([
        { "path": "/docs/*", "upstream": "origin", "methods": ["GET", "HEAD"], "require_session": false },
        { "path": "/docs/*", "upstream": "origin", "methods": ["POST", "PROPFIND"] },
    ]));
    assert_eq!(get(&w, "/docs/a", &[]).status, 200);
    w.app.received.borrow_mut().clear();
    let r = w.request("POST", "/docs/a", &[], "x");
    assert_refused(&w, &r, 401, "unauthenticated");
    let r = w.request(
        "PROPFIND",
        "/docs/a",
        &[("cookie", &with("session_reusable"))],
        "",
    );
    assert_eq!(r.status, 200);
    assert!(received(&w).iter().any(|(req, _)| req.method == "PROPFIND"));
    for method in ["DELETE", "TRACE", "patch"] {
        let r = w.request(
            method,
            "/docs/a",
            &[("cookie", &with("session_reusable"))],
            "",
        );
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("allow"), Some("GET, HEAD, POST, PROPFIND"));
    }
}

#[test]
fn a_rule_for_some_methods_cannot_leave_the_others_to_a_laxer_rule() {
    // The attacks: a non-admin's POST with X-HTTP-Method-Override: DELETE, a HEAD of a
    // GET-only admin page, a bare OPTIONS to a handler that runs on every method.
    for rules in [
        json!([
            { "path": "/api/items/*", "upstream": "origin", "methods": ["DELETE"], "roles": ["admin"] },
            { "path": "/*", "upstream": "origin" },
        ]),
        json!([
            { "path": "/reports/*", "upstream": "origin", "methods": ["GET", "POST"] },
            { "path": "/*", "upstream": "origin", "require_session": false },
        ]),
    ] {
        let e = protect(rules.clone()).config().unwrap_err();
        assert!(
            e.problem.contains("rule #0")
                && e.problem
                    .contains("methods: the methods it does not list go on to rule #1 (/*)"),
            "{rules}: {}",
            e.problem
        );
    }
    // A POST that a form's _method turns into DELETE: the laxer POST rule first is refused
    // as well as the stricter DELETE rule first.
    let e = protect(json!([
        { "path": "/posts/*", "upstream": "origin", "methods": ["GET", "POST"] },
        { "path": "/posts/*", "upstream": "origin", "methods": ["DELETE"], "roles": ["admin"] },
    ]))
    .config()
    .unwrap_err();
    assert!(
        e.problem.contains("rule #1")
            && e.problem.contains("than rule #0 (/posts/*) asks for POST"),
        "{}",
        e.problem
    );
    // A public webhook beside a protected catch-all that names no method is fine.
    assert!(
        protect(json!([
            { "path": "/hooks/*", "upstream": "origin", "methods": ["POST"], "require_session": false },
            { "path": "/*", "upstream": "origin" },
        ]))
        .config()
        .is_ok()
    );
    // Public reads before protected writes is the way round that holds.
    assert!(
        protect(json!([
            { "path": "/docs/*", "upstream": "origin", "methods": ["GET"], "require_session": false },
            { "path": "/*", "upstream": "origin" },
        ]))
        .config()
        .is_ok()
    );
}

#[test]
fn head_goes_with_get_and_method_overrides_never_reach_the_app() {
    let w = protect(json!([
        { "path": "/reports/*", "upstream": "origin", "methods": ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"], "roles": ["admin"] },
        { "path": "/*", "upstream": "origin" },
    ]));
    assert_eq!(
        get(
            &w,
            "/reports/payroll",
            &[("cookie", &with("session_roles_admin"))]
        )
        .status,
        200
    );
    w.app.received.borrow_mut().clear();
    let r = w.request(
        "HEAD",
        "/reports/payroll",
        &[("cookie", &with("session_reusable"))],
        "",
    );
    assert_refused(&w, &r, 403, "forbidden");
    let w = protect(json!([{ "path": "/*", "upstream": "origin" }]));
    let r = w.request(
        "POST",
        "/api/items/7",
        &[
            ("cookie", &with("session_reusable")),
            ("x-http-method-override", "DELETE"),
            ("X-HTTP-Method", "DELETE"),
            ("x-method-override", "DELETE"),
        ],
        "",
    );
    assert_eq!(r.status, 200);
    let got = received(&w);
    for name in [
        "x-http-method-override",
        "x-http-method",
        "x-method-override",
    ] {
        assert!(header(&got[0].0, name).is_empty(), "{name}");
    }
}

#[test]
fn identity_and_override_headers_are_stripped_under_every_spelling_an_app_reads() {
    let w = protect(json!([{ "path": "/*", "upstream": "origin", "require_session": false }]));
    w.request(
        "POST",
        "/hooks/x",
        &[
            ("Edge.Attest.User.Id", "user-test-victim"),
            ("edge_attest_session.id", "forged"),
            ("X.HTTP.Method.Override", "DELETE"),
            ("X_HTTP_METHOD_OVERRIDE", "DELETE"),
            ("x-http_method", "DELETE"),
        ],
        "",
    );
    let got = received(&w);
    let names: Vec<&str> = got[0].0.headers.iter().map(|(k, _)| k.as_str()).collect();
    assert!(
        !names
            .iter()
            .any(|n| n.contains("attest") || n.contains("method")),
        "{names:?}"
    );
}

#[test]
fn a_preflight_is_forwarded_only_where_an_options_request_would_be() {
    // GET's rule would forward preflights while an OPTIONS request itself falls to the admin
    // rule: forwarded, a preflight would be an OPTIONS without the session the admin rule
    // asks for. Refused when the configuration is read.
    let e = protect(json!([
        { "path": "/api/*", "upstream": "origin", "methods": ["GET"], "preflight": "forward" },
        { "path": "/api/*", "upstream": "origin", "roles": ["admin"] },
    ]))
    .config()
    .unwrap_err();
    assert!(
        e.problem
            .contains("rule #0 (/api/*): preflight: forward only"),
        "{}",
        e.problem
    );
    // The rule an OPTIONS request gets is the one that forwards.
    let w = protect(json!([
        { "path": "/api/admin/*", "upstream": "origin", "roles": ["admin"] },
        { "path": "/api/*", "upstream": "origin", "preflight": "forward" },
    ]));
    let r = w.request(
        "OPTIONS",
        "/api/admin/purge?all=1",
        &[
            ("origin", "https://any.example"),
            ("access-control-request-method", "GET"),
        ],
        "",
    );
    assert_refused(&w, &r, 403, "forbidden_origin");
    let r = w.request(
        "OPTIONS",
        "/api/items",
        &[
            ("origin", "https://any.example"),
            ("access-control-request-method", "GET"),
        ],
        "",
    );
    assert_eq!(r.status, 200, "forwarded");
}

#[test]
fn get_and_head_go_on_without_a_body_or_its_length() {
    let w = protect(json!([{ "path": "/*", "upstream": "origin", "require_session": false }]));
    w.request("GET", "/x", &[("content-length", "5")], "hello");
    w.request(
        "POST",
        "/x",
        &[("content-length", "5"), ("content-type", "text/plain")],
        "hello",
    );
    let got = received(&w);
    assert!(!got[0].0.with_body && header(&got[0].0, "content-length").is_empty());
    assert!(got[1].0.with_body);
    assert_eq!(header(&got[1].0, "content-length"), ["5"]);
}

// ---- paths (security review M1, I4) ----

#[test]
fn an_encoded_sub_delimiter_is_matched_as_the_app_routes_it() {
    let w = protect(json!([
        { "path": "/v1/items:purge", "upstream": "origin" },
        { "path": "/@admin/*", "upstream": "origin" },
        { "path": "/odata/$batch", "upstream": "origin" },
        { "path": "/v1/*", "upstream": "origin", "require_session": false },
        { "path": "/*", "upstream": "origin", "require_session": false },
    ]));
    for path in [
        "/v1/items%3Apurge",
        "/v1/items%3apurge",
        "/V1/ITEMS%3APURGE",
        "/v1//items%3Apurge",
        "/%76%31/%69tems%3Apurge",
        "/%40admin/users",
        "/%40ADMIN/users",
        "/odata/%24batch",
        "/odata/%24BATCH",
    ] {
        let r = w.request("POST", path, &[("content-length", "0")], "");
        assert_refused(&w, &r, 401, "unauthenticated");
    }
    // The control: the public prefix itself.
    assert_eq!(w.request("POST", "/v1/items", &[], "").status, 200);
}

#[test]
fn escapes_that_would_move_segments_or_the_query_are_judged_as_they_would_move() {
    let w = protect(json!([
        { "path": "/admin", "upstream": "origin" },
        { "path": "/*", "upstream": "origin", "require_session": false },
    ]));
    // Refused outright: an encoded /, %, ; (segments, double decoding, parameters).
    for path in ["/a%2F", "/a%25", "/a%3B"] {
        let r = get(&w, path, &[]);
        assert_eq!(r.status, 400, "{path}");
        assert_eq!(error(&r), "invalid_request");
    }
    // An app that parses the decoded path again cuts it at a decoded ? or #: refused where
    // that reading is a stricter rule's, passed where it is not (a C# tag page).
    for path in ["/admin%3Fx=1", "/admin%3f", "/ADMIN%23top"] {
        assert_eq!(get(&w, path, &[]).status, 400, "{path}");
    }
    assert!(w.app.received.borrow().is_empty());
    assert_eq!(get(&w, "/questions/tagged/c%23", &[]).status, 200);
}

#[test]
fn a_path_another_app_would_route_to_a_stricter_rule_is_400() {
    let w = protect(json!([
        { "path": "/public/*", "upstream": "origin", "require_session": false },
        { "path": "/*", "upstream": "origin" },
    ]));
    assert_eq!(get(&w, "/public/x", &[]).status, 200);
    // A case-sensitive app, one that does not decode unreserved escapes, one that does not
    // merge slashes: each would run the protected catch-all for these.
    for path in [
        "/PUBLIC/x",
        "/Public/x",
        "/%70ublic/x",
        "/%70UBLIC/x",
        "//public/x",
        "/public%2Fx",
    ] {
        let r = get(&w, path, &[]);
        assert_eq!(r.status, 400, "{path}");
        let detail = w.platform.last_log()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(detail.starts_with("path:"), "{path}: {detail}");
    }
    // With a session, the same paths still do not pass: ambiguity is not a matter of who.
    assert_eq!(
        get(&w, "/PUBLIC/x", &[("cookie", &with("session_reusable"))]).status,
        400
    );
    assert_eq!(received(&w).len(), 1);
}

#[test]
fn a_path_the_most_lenient_apps_read_as_a_protected_one_is_400() {
    // Java's equalsIgnoreCase and Go's EqualFold fold İ, ı, ſ and the Kelvin sign to ASCII;
    // NFKC turns fullwidth letters into ASCII; Windows drops a segment's trailing dots and
    // spaces: each would run the protected handler the public catch-all let through.
    let w = protect(json!([
        { "path": "/admin/*", "upstream": "origin" },
        { "path": "/settings/*", "upstream": "origin" },
        { "path": "/kyc/*", "upstream": "origin" },
        { "path": "/first/*", "upstream": "origin" },
        { "path": "/*", "upstream": "origin", "require_session": false },
    ]));
    for path in [
        "/adm%C4%B0n/x",
        "/adm%C4%B1n/x",
        "/%C5%BFettings/x",
        "/%E2%84%AAyc/x",
        "/%EF%BD%81dmin/x",
        "/admin%20/x",
        "/admin./x",
        "/admin%2E/x",
        "/x/%EF%BC%8E%EF%BC%8E/admin",
        "/%E2%93%90dmin/x",
        "/%C2%AAdmin/x",
        "/admin%E2%80%A4/x",
        "/x/%E2%80%A5/admin/x",
        "/%EF%AC%81rst/x",
        "/admin::$INDEX_ALLOCATION/x",
        "/admin:$i30:$INDEX_ALLOCATION/x",
        "/ADMINI~1/x",
    ] {
        assert_eq!(get(&w, path, &[]).status, 400, "{path}");
    }
    assert!(w.app.received.borrow().is_empty());
    // A non-ASCII segment where no stricter pattern has a literal segment passes; where one
    // has, it is refused (in a "public unless listed" layout, `/café` could be `/admin` to
    // some app).
    assert_eq!(get(&w, "/blog/caf%C3%A9", &[]).status, 200);
    assert_eq!(get(&w, "/caf%C3%A9", &[]).status, 400);
}

// ---- the assurance level (security review M2) ----

fn aal2_rules() -> World {
    protect(json!([
        { "path": "/login", "upstream": "origin", "require_session": false },
        { "path": "/settings/*", "upstream": "origin", "require_aal": "aal2", "on_unauthenticated": "redirect", "login_url": "/login" },
        { "path": "/*", "upstream": "origin" },
    ]))
}

#[test]
fn a_session_below_the_rules_level_is_403_and_a_page_load_steps_up() {
    let w = aal2_rules();
    let r = get(
        &w,
        "/settings/mfa",
        &[("cookie", &with("session_reusable"))],
    );
    assert_refused(&w, &r, 403, "insufficient_user_authentication");
    assert_eq!(
        r.headers_named("set-cookie").count(),
        0,
        "the session stays"
    );
    assert_eq!(r.header("www-authenticate"), None, "not a bearer request");
    assert_eq!(w.platform.last_log()["prior"], "requirement: aal");
    let r = get(
        &w,
        "/settings/mfa",
        &[
            ("cookie", &with("session_reusable")),
            ("sec-fetch-mode", "navigate"),
        ],
    );
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("/login?next=/settings/mfa"));
    // A session made after the MFA challenge passes, and its level goes to the app.
    let r = get(
        &w,
        "/settings/mfa",
        &[("cookie", &with("session_link_aal2"))],
    );
    assert_eq!(r.status, 200);
    assert_eq!(header(&received(&w)[0].0, "edge-attest-aal"), ["aal2"]);
    // A link from before links carried the level counts as aal1.
    let r = get(
        &w,
        "/settings/mfa",
        &[("cookie", &with("session_link_without_aal"))],
    );
    assert_eq!(r.status, 403);
}

#[test]
fn required_aal_is_the_floor_of_every_protected_rule_and_of_the_binding() {
    // Security review M2, attack 1: REQUIRED_AAL went to aal2 after an aal1 session was made;
    // its JWT has expired, so the gateway refreshes it first, and Stytch's answer is still
    // the aal1 session.
    let w = World::new().var("REQUIRED_AAL", "aal2").var(
        "PROTECT",
        &json!([{ "path": "/*", "upstream": "origin", "require_aal": "aal1" }]).to_string(),
    );
    w.http.push_stytch(authenticate_answer(now() + 1800));
    let r = get(&w, "/app/settings", &[("cookie", &with("session_expired"))]);
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(error(&r), "insufficient_user_authentication");
    assert!(w.app.received.borrow().is_empty());
    // The refresh's cookies come back all the same: the session is good, only not enough.
    let set: Vec<&str> = r.headers_named("set-cookie").collect();
    assert_eq!(set.len(), 2);
    assert!(set[0].starts_with("stytch_session=refreshed-session-token;"));
    let r = get(&w, "/x", &[("cookie", &with("session_link_aal2"))]);
    assert_eq!(r.status, 200);
    let config = w.config();
    let services = w.services();
    let found = futures_executor::block_on(
        services.binding_session(config.as_ref(), &with("session_reusable")),
    );
    assert_eq!(found.unwrap(), None);
    assert_eq!(
        w.platform.last_log()["outcome"],
        "insufficient_user_authentication"
    );
}

// ---- this deployment's sessions (security review M2, attack 2) ----

#[test]
fn only_sessions_this_deployment_made_pass_unless_the_rule_admits_others() {
    let w = protect(json!([
        { "path": "/partners/*", "upstream": "origin", "require_link": false },
        { "path": "/*", "upstream": "origin" },
    ]));
    for made_elsewhere in [
        "session_no_link",
        "session_link_other_iss",
        "session_link_extra_member",
    ] {
        let r = get(&w, "/app/x", &[("cookie", &with(made_elsewhere))]);
        assert_refused(&w, &r, 401, "unauthenticated");
        assert_eq!(
            r.headers_named("set-cookie").count(),
            0,
            "{made_elsewhere}: a good Stytch session, not cleared"
        );
    }
    let r = get(&w, "/partners/x", &[("cookie", &with("session_no_link"))]);
    assert_eq!(r.status, 200);
    let req = &received(&w)[0].0;
    assert_eq!(header(req, "edge-attest-user-id"), ["user-test-22222222"]);
    assert!(header(req, "edge-attest-aal").is_empty());
}

#[test]
fn a_session_made_elsewhere_costs_no_stytch_call_even_when_its_jwt_expired() {
    let w = protect(json!([{ "path": "/*", "upstream": "origin", "require_aal": "aal2" }]));
    // An expired JWT with its token cookie, whose session carries no link of this deployment:
    // refused before any refresh (an unscripted Stytch call would fail the test).
    let r = get(&w, "/x", &[("cookie", &with("session_no_link_expired"))]);
    assert_refused(&w, &r, 401, "unauthenticated");
    let jwt = fixtures()["providers"]["sessions"]["auth0_same_login"]
        .as_str()
        .unwrap();
    let r = get(&w, "/x", &[("cookie", &cookies(jwt))]);
    assert_refused(&w, &r, 401, "unauthenticated");
    // A member session of another organization, likewise.
    let b2b = World::new().var("STYTCH_PRODUCT", "b2b").var(
        "PROTECT",
        &json!([{ "path": "/*", "upstream": "origin", "organizations": ["globex"] }]).to_string(),
    );
    let expired_acme = fixtures()["b2b"]["sessions"]["member_expired"]
        .as_str()
        .unwrap();
    let r = get(&b2b, "/x", &[("cookie", &cookies(expired_acme))]);
    assert_refused(&b2b, &r, 403, "forbidden");
}

#[test]
fn a_rule_naming_organizations_is_compared_with_the_providers_pinned_ones() {
    // A rule for acme members only before a catch-all the provider pins to globex: the
    // catch-all is no laxer than it (globex only), so /PARTNERS/x, which a case-sensitive
    // app would route to the catch-all, is refused rather than judged as acme's.
    let w = World::new()
        .var("STYTCH_PRODUCT", "b2b")
        .var("STYTCH_ORGANIZATION_ID", "globex")
        .var(
            "PROTECT",
            &json!([
                { "path": "/partners/*", "upstream": "origin", "organizations": ["acme"] },
                { "path": "/*", "upstream": "origin" },
            ])
            .to_string(),
        );
    let acme = fixtures()["b2b"]["sessions"]["member"].as_str().unwrap();
    assert_eq!(
        get(&w, "/partners/x", &[("cookie", &cookies(acme))]).status,
        200
    );
    assert_eq!(get(&w, "/other", &[("cookie", &cookies(acme))]).status, 403);
    for path in ["/PARTNERS/x", "/%70artners/x", "//partners/x"] {
        assert_eq!(
            get(&w, path, &[("cookie", &cookies(acme))]).status,
            400,
            "{path}"
        );
    }
}

// ---- roles ----

#[test]
fn a_rule_with_roles_needs_one_of_them_checked_after_a_refresh() {
    let w = protect(json!([
        { "path": "/admin/*", "upstream": "origin", "roles": ["admin", "owner"] },
        { "path": "/*", "upstream": "origin" },
    ]));
    let r = get(&w, "/admin/users", &[("cookie", &with("session_reusable"))]);
    assert_refused(&w, &r, 403, "forbidden");
    assert_eq!(w.platform.last_log()["prior"], "requirement: roles");
    assert_eq!(
        get(
            &w,
            "/admin/users",
            &[("cookie", &with("session_roles_admin"))]
        )
        .status,
        200
    );
    // The expired JWT says stytch_user only; the refresh says the role was granted since.
    let mut body = authenticate_body(now() + 1800);
    body["session"]["roles"] = json!(["stytch_user", "owner"]);
    w.http.push_stytch(json_reply(200, body));
    let r = get(&w, "/admin/users", &[("cookie", &with("session_expired"))]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(w.http.stytch_calls().len(), 1);
}

// ---- organizations (security review M2, attack 3) ----

#[test]
fn a_member_session_of_another_organization_does_not_pass() {
    let member = fixtures()["b2b"]["sessions"]["member"].as_str().unwrap();
    let globex = fixtures()["b2b"]["sessions"]["member_other_org"]
        .as_str()
        .unwrap();
    // The provider puts every member in acme: no session of another organization passes.
    let pinned = World::new()
        .var("STYTCH_PRODUCT", "b2b")
        .var("STYTCH_ORGANIZATION_ID", "acme")
        .var(
            "PROTECT",
            &json!([{ "path": "/*", "upstream": "origin" }]).to_string(),
        );
    let r = get(&pinned, "/x", &[("cookie", &cookies(globex))]);
    assert_refused(&pinned, &r, 403, "forbidden");
    assert_eq!(
        pinned.platform.last_log()["prior"],
        "requirement: organization"
    );
    assert_eq!(
        get(&pinned, "/x", &[("cookie", &cookies(member))]).status,
        200
    );
    // A rule names its own, by slug or id.
    let w = World::new().var("STYTCH_PRODUCT", "b2b").var(
        "PROTECT",
        &json!([
            { "path": "/acme/*", "upstream": "origin", "organizations": ["acme"] },
            { "path": "/by-id/*", "upstream": "origin", "organizations": ["organization-test-44444444"] },
            { "path": "/*", "upstream": "origin" },
        ])
        .to_string(),
    );
    assert_eq!(
        get(&w, "/acme/x", &[("cookie", &cookies(member))]).status,
        200
    );
    assert_eq!(
        get(&w, "/by-id/x", &[("cookie", &cookies(member))]).status,
        200
    );
    assert_eq!(
        get(&w, "/acme/x", &[("cookie", &cookies(globex))]).status,
        403
    );
    assert_eq!(
        get(&w, "/other", &[("cookie", &cookies(globex))]).status,
        200
    );
}

// ---- bearer tokens ----

fn bearer_rules() -> World {
    protect(json!([
        { "path": "/api/admin/*", "upstream": "origin", "bearer": true, "roles": ["admin"] },
        { "path": "/api/mfa/*", "upstream": "origin", "bearer": true, "require_aal": "aal2" },
        { "path": "/api/*", "upstream": "origin", "bearer": true },
        { "path": "/*", "upstream": "origin" },
    ]))
}

#[test]
fn a_bearer_rule_takes_the_session_jwt_in_authorization() {
    let w = bearer_rules();
    let jwt = session_jwt("session_reusable");
    let r = get(
        &w,
        "/api/orders",
        &[("authorization", &format!("Bearer {jwt}"))],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let got = received(&w);
    let req = &got[0].0;
    assert_eq!(header(req, "edge-attest-user-id"), ["user-test-22222222"]);
    assert_eq!(header(req, "edge-attest-jwt"), [jwt.as_str()]);
    assert!(
        header(req, "authorization").is_empty(),
        "the token is not passed on"
    );
    assert_eq!(w.platform.last_log()["session"], "bearer");
    assert!(w.http.stytch_calls().is_empty());
    // The scheme in any case.
    let r = get(
        &w,
        "/api/orders",
        &[("authorization", &format!("bearer  {jwt} "))],
    );
    assert_eq!(r.status, 200);
}

#[test]
fn a_bearer_token_that_does_not_verify_or_has_expired_is_401_invalid_token() {
    let w = bearer_rules();
    for name in [
        "session_expired",
        "session_tampered",
        "session_other_project_key",
        "session_ended",
        "session_no_link",
    ] {
        let r = get(
            &w,
            "/api/orders",
            &[
                ("authorization", &format!("Bearer {}", session_jwt(name))),
                ("cookie", &with("session_reusable")),
            ],
        );
        assert_refused(&w, &r, 401, "invalid_token");
        assert_eq!(
            r.header("www-authenticate"),
            Some(r#"Bearer error="invalid_token""#),
            "{name}"
        );
        assert_eq!(
            r.headers_named("set-cookie").count(),
            0,
            "{name}: cookies neither used nor cleared"
        );
    }
    for malformed in ["Bearer", "Bearer    "] {
        let r = get(&w, "/api/orders", &[("authorization", malformed)]);
        assert_refused(&w, &r, 400, "invalid_request");
        assert_eq!(
            r.header("www-authenticate"),
            Some(r#"Bearer error="invalid_request""#)
        );
    }
    // No credentials at all: the challenge alone.
    let r = get(&w, "/api/orders", &[]);
    assert_refused(&w, &r, 401, "unauthenticated");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
}

#[test]
fn a_bearer_request_is_judged_by_its_token_alone() {
    let w = bearer_rules();
    // Cookies of another session beside the token: neither used, nor cleared, nor passed on.
    let r = get(
        &w,
        "/api/orders",
        &[
            (
                "authorization",
                &format!("Bearer {}", session_jwt("session_link_aal2")),
            ),
            ("cookie", &with("session_tampered")),
        ],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.headers_named("set-cookie").count(), 0);
    let req = &received(&w)[0].0;
    assert_eq!(header(req, "edge-attest-aal"), ["aal2"]);
    assert_eq!(header(req, "cookie"), ["theme=dark"]);
}

#[test]
fn a_bearer_below_a_requirement_gets_the_rfc_challenge() {
    let w = bearer_rules();
    let auth = format!("Bearer {}", session_jwt("session_reusable"));
    let r = get(
        &w,
        "/api/mfa/x",
        &[("authorization", &auth), ("sec-fetch-mode", "navigate")],
    );
    assert_refused(&w, &r, 403, "insufficient_user_authentication");
    assert_eq!(
        r.header("www-authenticate"),
        Some(
            r#"Bearer error="insufficient_user_authentication", error_description="A sign-in at aal2 is required", acr_values="aal2""#
        )
    );
    let r = get(&w, "/api/admin/x", &[("authorization", &auth)]);
    assert_refused(&w, &r, 403, "forbidden");
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Bearer error="insufficient_scope""#)
    );
}

#[test]
fn a_rule_without_bearer_ignores_authorization_and_passes_it_on() {
    let w = bearer_rules();
    let auth = format!("Bearer {}", session_jwt("session_reusable"));
    let r = get(&w, "/other", &[("authorization", &auth)]);
    assert_refused(&w, &r, 401, "unauthenticated");
    assert_eq!(r.header("www-authenticate"), None);
    let r = get(
        &w,
        "/other",
        &[
            ("authorization", "Bearer app-own-token"),
            ("cookie", &with("session_reusable")),
        ],
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        header(&received(&w)[0].0, "authorization"),
        ["Bearer app-own-token"]
    );
    // A bearer rule with another scheme: the cookies judge, and Authorization stays here.
    let r = get(
        &w,
        "/api/x",
        &[
            ("authorization", "Basic dXNlcjpwYXNz"),
            ("cookie", &with("session_reusable")),
        ],
    );
    assert_eq!(r.status, 200);
    assert!(header(&received(&w)[1].0, "authorization").is_empty());
}

// ---- a refresh remembered ----

#[test]
fn a_pages_later_requests_with_the_old_jwt_share_its_refresh() {
    let w = protect(json!([{ "path": "/*", "upstream": "origin" }]));
    w.http.push_stytch(authenticate_answer(now() + 1800));
    let expired = with("session_expired");
    let first = get(&w, "/a", &[("cookie", &expired)]);
    assert_eq!(first.status, 200);
    let cookies_of = |r: &Response| -> Vec<String> {
        r.headers_named("set-cookie").map(str::to_owned).collect()
    };
    // Four more, 100 ms apart, after the first had finished: no second call (FakeHttp would
    // fail on it), the same new cookies, the same JWT to the app.
    for i in 0..4 {
        w.platform.now_ms.set(w.platform.now_ms.get() + 100);
        let r = get(&w, &format!("/b{i}"), &[("cookie", &expired)]);
        assert_eq!(r.status, 200);
        assert_eq!(cookies_of(&r), cookies_of(&first));
        assert_eq!(
            w.platform.last_log()["detail"],
            "answered from the refresh an earlier request made"
        );
    }
    assert_eq!(w.http.stytch_calls().len(), 1);
    let fresh = answered_jwt(now());
    assert!(
        received(&w)
            .iter()
            .all(|(req, _)| header(req, "edge-attest-jwt") == [fresh.as_str()])
    );
    // Not past the new JWT's own life less the 30 s margin: then it refreshes again.
    w.platform.advance_secs(300 - 30);
    w.http.push_stytch(authenticate_answer(now() + 1800));
    assert_eq!(get(&w, "/c", &[("cookie", &expired)]).status, 200);
    assert_eq!(w.http.stytch_calls().len(), 2);
}

#[test]
fn the_refreshes_remembered_stay_within_their_bound() {
    // More sessions refresh in one isolate than it remembers: the oldest go, memory stays
    // bounded whatever the traffic.
    let w = protect(json!([{ "path": "/*", "upstream": "origin" }]));
    let expired = session_jwt("session_expired");
    let bound = edge_attest::app::MAX_REMEMBERED_REFRESHES;
    for i in 0..bound + 40 {
        w.http.push_stytch(authenticate_answer(now() + 1800));
        let cookie = format!("stytch_session=token-{i}; stytch_session_jwt={expired}");
        assert_eq!(get(&w, "/x", &[("cookie", &cookie)]).status, 200);
    }
    assert_eq!(w.refreshes.remembered_count(), bound);
    // The newest is remembered (no Stytch call), the oldest is not (one more).
    let newest = format!(
        "stytch_session=token-{}; stytch_session_jwt={expired}",
        bound + 39
    );
    assert_eq!(get(&w, "/x", &[("cookie", &newest)]).status, 200);
    w.http.push_stytch(authenticate_answer(now() + 1800));
    let oldest = format!("stytch_session=token-0; stytch_session_jwt={expired}");
    assert_eq!(get(&w, "/x", &[("cookie", &oldest)]).status, 200);
    assert_eq!(w.http.stytch_calls().len(), bound + 41);
}

#[test]
fn a_failed_refresh_is_not_remembered_and_a_logout_forgets_the_session() {
    let w = protect(json!([{ "path": "/*", "upstream": "origin" }]));
    let expired = with("session_expired");
    w.http
        .push_stytch(stytch_error(500, "internal_server_error"));
    w.http
        .push_stytch(stytch_error(500, "internal_server_error"));
    assert_eq!(get(&w, "/a", &[("cookie", &expired)]).status, 502);
    w.http.push_stytch(authenticate_answer(now() + 1800));
    assert_eq!(get(&w, "/a", &[("cookie", &expired)]).status, 200);
    assert_eq!(w.refreshes.remembered_count(), 1);
    w.http.push_stytch(json_reply(
        200,
        json!({"status_code": 200, "request_id": "request-id-test-9"}),
    ));
    let r = w.request(
        "POST",
        "/api/logout",
        &[("cookie", &with("session_reusable"))],
        "",
    );
    assert_eq!(r.status, 200);
    assert_eq!(w.refreshes.remembered_count(), 0);
}

// ---- the low findings ----

#[test]
fn next_never_starts_with_two_slashes() {
    let w = protect(json!([
        { "path": "/login", "upstream": "origin", "require_session": false },
        { "path": "/*", "upstream": "origin", "on_unauthenticated": "redirect", "login_url": "/login" },
    ]));
    for (path, next) in [
        ("//evil.example/x", "/evil.example/x"),
        ("///evil.example", "/evil.example"),
        ("/ok//x", "/ok//x"),
    ] {
        let r = get(&w, path, &[("sec-fetch-mode", "navigate")]);
        assert_eq!(r.status, 302, "{path}");
        assert_eq!(
            r.header("location"),
            Some(&*format!("/login?next={next}")),
            "{path}"
        );
    }
}

#[test]
fn an_https_upstream_cannot_set_the_session_cookies_under_any_name_a_browser_files() {
    let w = protect(json!([{ "path": "/*", "upstream": "https://billing.internal.example.com" }]));
    w.app.reply(
        200,
        &[
            (
                "set-cookie",
                "=stytch_session_jwt=attacker; Path=/app; Secure",
            ),
            ("set-cookie", "=stytch_session=attacker; Path=/; Secure"),
            ("set-cookie", " stytch_session =attacker"),
            ("set-cookie", "stytch_session_jwt"),
            ("set-cookie", "billing=1; Path=/"),
        ],
        "",
    );
    let r = get(&w, "/invoices", &[("cookie", &with("session_reusable"))]);
    assert_eq!(r.status, 200);
    let set: Vec<&str> = r.headers_named("set-cookie").collect();
    assert_eq!(set, ["billing=1; Path=/"]);
}

#[test]
fn a_session_cookie_under_a_name_an_app_reads_as_it_is_a_second_one() {
    // Security review I1, and names PHP (`.`, space, `+`, percent-decoded), ASP.NET Core (any
    // case) and older Rack (split on `,`) read as the session cookie: planted by a sibling
    // subdomain beside the real one, the app would read the planted session.
    let w = protect(json!([{ "path": "/*", "upstream": "origin" }]));
    let other = session_jwt("session_link_aal2");
    for look_alike in [
        format!("stytch_session_jwt ={other}"),
        format!("stytch.session.jwt={other}"),
        format!("STYTCH_SESSION_JWT={other}"),
        format!("stytch%5Fsession%5Fjwt={other}"),
        format!("stytch session jwt={other}"),
        format!("x=1,stytch_session_jwt={other}"),
        format!("theme2=x stytch_session_jwt={other}"),
        format!("stytch_session_jwt[0]={other}"),
        format!("%20stytch_session_jwt={other}"),
        format!("%00stytch_session_jwt={other}"),
    ] {
        for cookie in [
            format!("{}; {look_alike}", with("session_reusable")),
            format!("{look_alike}; {}", with("session_reusable")),
        ] {
            let r = get(&w, "/x", &[("cookie", &cookie)]);
            assert_refused(&w, &r, 401, "unauthenticated");
            assert_eq!(
                w.platform.last_log()["prior"],
                "ambiguous_cookies",
                "{cookie}"
            );
            assert_eq!(r.headers_named("set-cookie").count(), 2);
        }
    }
}

#[test]
fn look_alike_session_cookies_neither_reach_an_https_upstream_nor_come_back_from_it() {
    let w = protect(
        json!([{ "path": "/*", "upstream": "https://billing.internal.example.com", "bearer": true }]),
    );
    w.app.reply(
        200,
        &[
            ("set-cookie", "STYTCH_SESSION_JWT=planted"),
            ("set-cookie", "stytch.session=planted"),
            ("set-cookie", "stytch%5Fsession=planted"),
            ("set-cookie", "a=1, stytch_session_jwt=planted"),
            ("set-cookie", "a=1 stytch_session=planted"),
            ("set-cookie", "stytch_session_jwt[0]=planted"),
            ("set-cookie", "billing=1"),
        ],
        "",
    );
    let r = get(
        &w,
        "/x",
        &[
            (
                "authorization",
                &format!("Bearer {}", session_jwt("session_reusable")),
            ),
            ("cookie", "a=1; stytch.session.jwt=x; STYTCH_SESSION=y"),
        ],
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.headers_named("set-cookie").collect::<Vec<_>>(),
        ["billing=1"]
    );
    assert_eq!(header(&received(&w)[0].0, "cookie"), ["a=1"]);
}

#[test]
fn an_ended_session_is_refused_without_asking_stytch() {
    // Security review L3: a JWT whose session's own expires_at has passed proves nothing.
    let w = protect(json!([{ "path": "/*", "upstream": "origin" }]));
    let r = get(&w, "/x", &[("cookie", &with("session_ended"))]);
    assert_refused(&w, &r, 401, "unauthenticated");
    assert_eq!(r.headers_named("set-cookie").count(), 2, "cleared");
    assert_eq!(w.platform.last_log()["prior"], "session_expired");
}

#[test]
fn a_jwt_with_little_left_and_no_token_goes_on_rather_than_signing_out() {
    let w = protect(json!([{ "path": "/*", "upstream": "origin" }]));
    let only_jwt = format!("stytch_session_jwt={}", session_jwt("session_near_expiry"));
    w.platform.advance_secs(40); // 19 s left: under the 30 s the gateway refreshes at
    let r = get(&w, "/x", &[("cookie", &only_jwt)]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.headers_named("set-cookie").count(), 0);
    w.platform.advance_secs(20); // expired
    w.app.received.borrow_mut().clear();
    let r = get(&w, "/x", &[("cookie", &only_jwt)]);
    assert_refused(&w, &r, 401, "unauthenticated");
    assert_eq!(r.headers_named("set-cookie").count(), 2);
}

// ---- the service binding: EdgeAttest.authorize(cookieHeader, options) ----

fn authorize(w: &World, cookie: &str, options: Value) -> Result<Value, String> {
    let config = w.config();
    let services = w.services();
    let found = futures_executor::block_on(services.binding_authorize(
        config.as_ref(),
        cookie,
        &options.to_string(),
    ));
    w.kv.flush(w.platform.now_ms());
    found
        .map(|v| serde_json::to_value(v).unwrap())
        .map_err(|e| e.code().to_owned())
}

#[test]
fn authorize_checks_a_rules_requirements_and_says_why_not() {
    let w = World::new();
    let ok = authorize(
        &w,
        &with("session_roles_admin"),
        json!({"roles": ["admin"]}),
    )
    .unwrap();
    assert_eq!(ok["refusal"], Value::Null);
    assert_eq!(ok["session"]["user_id"], "user-test-22222222");
    assert_eq!(ok["session"]["roles"], json!(["stytch_user", "admin"]));
    assert_eq!(ok["set_cookie"], json!([]));
    for (cookie, options, refusal) in [
        (
            with("session_reusable"),
            json!({"roles": ["admin"]}),
            "forbidden",
        ),
        (
            with("session_reusable"),
            json!({"require_aal": "aal2"}),
            "insufficient_user_authentication",
        ),
        (with("session_no_link"), json!({}), "unauthenticated"),
        (String::new(), json!(null), "unauthenticated"),
    ] {
        let got = authorize(&w, &cookie, options.clone()).unwrap();
        assert_eq!(got["refusal"], refusal, "{options}");
        assert_eq!(got["session"], Value::Null, "{options}");
        assert_eq!(w.platform.last_log()["outcome"], refusal);
    }
    let admitted = authorize(&w, &with("session_no_link"), json!({"require_link": false})).unwrap();
    assert_eq!(admitted["refusal"], Value::Null);
    // Cookies that prove no session: the clearing cookies to append (security review L6).
    let gone = authorize(&w, &with("session_tampered"), json!({})).unwrap();
    assert_eq!(gone["refusal"], "unauthenticated");
    let set = gone["set_cookie"].as_array().unwrap();
    assert_eq!(set.len(), 2);
    assert!(
        set.iter()
            .all(|c| c.as_str().unwrap().contains("Max-Age=0"))
    );
    // Options read as rule fields are, with the same errors.
    for bad in [
        json!({"role": ["admin"]}),
        json!({"require_aal": "aal9"}),
        json!({"organizations": ["acme"]}),
        json!(["admin"]),
    ] {
        assert_eq!(
            authorize(&w, &with("session_reusable"), bad.clone()),
            Err("invalid_request".into()),
            "{bad}"
        );
    }
    assert!(w.http.stytch_calls().is_empty());
}

#[test]
fn authorize_hands_back_a_refreshs_cookies_even_when_it_refuses() {
    let w = World::new();
    w.http.push_stytch(authenticate_answer(now() + 1800));
    let got = authorize(&w, &with("session_expired"), json!({"roles": ["admin"]})).unwrap();
    assert_eq!(got["refusal"], "forbidden");
    let set = got["set_cookie"].as_array().unwrap();
    assert!(
        set[0]
            .as_str()
            .unwrap()
            .starts_with("stytch_session=refreshed-session-token;")
    );
}
