#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! A public rule with `cache = "shared"`: its GETs are answered from the edge location's
//! cache when it holds the URL's answer (the fake app keeps it as the glue does), sent
//! without cookies, and kept only when the app marks the answer for everyone. Protected
//! rules never; `Authorization` and `Range` bypass it.

mod common;
use common::fakes::*;
use common::fixtures::session_jwt;
use serde_json::{Value, json};

fn world(cache: &str) -> World {
    World::new().var(
        "PROTECT",
        &json!([
            { "path": "/assets/*", "upstream": "origin", "require_session": false, "cache": cache },
            { "path": "/ext/*", "upstream": "https://cdn.example.com", "require_session": false, "cache": cache },
            { "path": "/*", "upstream": "origin" },
        ])
        .to_string(),
    )
}

const IMMUTABLE: [(&str, &str); 2] = [
    ("cache-control", "public, max-age=31536000, immutable"),
    ("content-type", "text/javascript"),
];

fn last_line(w: &World) -> Value {
    w.platform.last_log()
}

#[test]
fn a_shared_rule_answers_the_second_get_from_the_cache_without_asking_the_app() {
    let w = world("shared");
    w.app.reply(200, &IMMUTABLE, "console.log(1)");
    let first = w.request("GET", "/assets/app.js", &[("cookie", "theme=dark")], "");
    assert_eq!((first.status, first.body.as_str()), (200, "console.log(1)"));
    assert_eq!(last_line(&w)["upstream_cache"], "miss");
    let second = w.request("GET", "/assets/app.js", &[], "");
    assert_eq!(
        (second.status, second.body.as_str()),
        (200, "console.log(1)")
    );
    assert_eq!(last_line(&w)["upstream_cache"], "hit");
    assert_eq!(w.app.received.borrow().len(), 1, "the app was asked once");
    let sent = &w.app.received.borrow()[0].0;
    assert_eq!(
        sent.shared_cache.as_deref(),
        Some("https://app.example.com/assets/app.js")
    );
    assert!(
        sent.headers.iter().all(|(n, _)| n != "cookie"),
        "no cookie goes with a request whose answer is shared: {:?}",
        sent.headers
    );
}

#[test]
fn no_cookie_goes_to_another_server_either() {
    let w = world("shared");
    w.request("GET", "/ext/app.js", &[("cookie", "theme=dark")], "");
    let sent = &w.app.received.borrow()[0].0;
    assert!(
        sent.shared_cache.is_some() && sent.headers.iter().all(|(n, _)| n != "cookie"),
        "{:?}",
        sent.headers
    );
}

#[test]
fn an_answer_the_app_keeps_to_one_client_is_not_kept() {
    for headers in [
        vec![("cache-control", "private, max-age=600")],
        vec![
            ("cache-control", "public, max-age=600"),
            ("set-cookie", "a=b"),
        ],
        vec![("cache-control", "no-store")],
        vec![("cache-control", "public, max-age=600"), ("vary", "Cookie")],
        vec![("cache-control", "max-age=0")],
        vec![("cache-control", "max-age=600")],
        vec![
            ("cache-control", "public, max-age=600"),
            ("cdn-cache-control", "no-store"),
        ],
        vec![
            ("cache-control", "public, max-age=600"),
            ("cloudflare-cdn-cache-control", "private"),
        ],
        vec![
            ("cache-control", "public, max-age=600"),
            ("surrogate-control", "max-age=0"),
        ],
        vec![
            ("cache-control", "public, max-age=600"),
            ("pragma", "no-cache"),
        ],
        vec![
            ("cache-control", "public, max-age=600"),
            ("access-control-allow-origin", "https://partner.example"),
        ],
        vec![],
    ] {
        let w = world("shared");
        w.app.reply(200, &headers, "x");
        w.request("GET", "/assets/a.css", &[], "");
        w.request("GET", "/assets/a.css", &[], "");
        assert_eq!(w.app.received.borrow().len(), 2, "{headers:?}");
    }
    let w = world("shared");
    w.app
        .reply(404, &[("cache-control", "public, max-age=600")], "no");
    w.request("GET", "/assets/gone.css", &[], "");
    w.request("GET", "/assets/gone.css", &[], "");
    assert_eq!(w.app.received.borrow().len(), 2, "only a 200 is kept");
}

#[test]
fn authorization_range_and_other_methods_bypass_the_cache() {
    let w = world("shared");
    w.app.reply(200, &IMMUTABLE, "x");
    w.request("GET", "/assets/app.js", &[], "");
    for (method, headers) in [
        ("GET", vec![("authorization", "Bearer t")]),
        ("GET", vec![("range", "bytes=0-1")]),
        ("HEAD", vec![]),
    ] {
        w.request(method, "/assets/app.js", &headers, "");
    }
    let received = w.app.received.borrow();
    assert_eq!(received.len(), 4);
    assert!(received[1..].iter().all(|(r, _)| r.shared_cache.is_none()));
}

#[test]
fn without_the_setting_every_request_goes_to_the_app_with_its_cookies() {
    let w = world("no-store");
    w.app.reply(200, &IMMUTABLE, "x");
    w.request("GET", "/assets/app.js", &[("cookie", "theme=dark")], "");
    w.request("GET", "/assets/app.js", &[], "");
    let received = w.app.received.borrow();
    assert_eq!(received.len(), 2);
    assert!(
        received[0]
            .0
            .headers
            .iter()
            .any(|(n, v)| n == "cookie" && v == "theme=dark")
    );
    assert!(last_line(&w).get("upstream_cache").is_none());
}

#[test]
fn a_protected_rule_cannot_be_shared() {
    let w = World::new().var(
        "PROTECT",
        &json!([{ "path": "/app/*", "upstream": "origin", "cache": "shared" }]).to_string(),
    );
    let e = w.config().unwrap_err();
    assert!(e.problem.contains("only on a public rule"), "{}", e.problem);
    let w = world("yes");
    assert!(
        w.config()
            .unwrap_err()
            .problem
            .contains("is not \"no-store\" or \"shared\"")
    );
    // And a signed-in request under a protected rule is never looked up.
    let w = world("shared");
    let cookie = format!(
        "stytch_session=t; stytch_session_jwt={}",
        session_jwt("session_reusable")
    );
    w.request("GET", "/page", &[("cookie", &cookie)], "");
    assert!(w.app.received.borrow()[0].0.shared_cache.is_none());
}

#[test]
fn a_shared_request_carries_only_what_a_static_answer_may_depend_on() {
    let w = world("shared");
    w.request(
        "GET",
        "/ext/home.html",
        &[
            ("accept", "text/html"),
            ("accept-encoding", "gzip"),
            ("accept-language", "fr"),
            ("x-api-key", "alice-secret"),
            ("x-forwarded-for", "10.9.9.9"),
            ("cf-connecting-ip", "10.9.9.9"),
            ("origin", "https://evil.example"),
            ("user-agent", "alice"),
            ("if-none-match", "\"v1\""),
        ],
        "",
    );
    let sent = &w.app.received.borrow()[0].0;
    let names: Vec<&str> = sent.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "accept",
            "accept-encoding",
            "x-forwarded-host",
            "x-forwarded-proto"
        ],
        "{:?}",
        sent.headers
    );
}

#[test]
fn each_public_host_and_scheme_has_its_own_entry() {
    let w = world("shared");
    w.app.reply(200, &IMMUTABLE, "tenant a over http");
    let a = w.run(incoming_at("http://tenant-a.example.com/ext/home.js"));
    assert_eq!(a.body, "tenant a over http");
    w.app.reply(200, &IMMUTABLE, "tenant b");
    let b = w.run(incoming_at("https://tenant-b.example.com/ext/home.js"));
    assert_eq!(b.body, "tenant b", "not tenant a's answer");
    let keys: Vec<Option<String>> = w
        .app
        .received
        .borrow()
        .iter()
        .map(|(r, _)| r.shared_cache.clone())
        .collect();
    assert_eq!(
        keys,
        [
            Some("http://tenant-a.example.com/ext/home.js".to_owned()),
            Some("https://tenant-b.example.com/ext/home.js".to_owned())
        ]
    );
}

/// A GET of `url` (any host), as the runtime hands it over.
fn incoming_at(url: &str) -> edge_attest::http::IncomingRequest<Vec<u8>> {
    let mut req = incoming("GET", "/", &[], "");
    req.url = url.to_owned();
    req
}

#[test]
fn a_websocket_handshake_is_never_shared() {
    let w = world("shared");
    w.request(
        "GET",
        "/assets/socket",
        &[
            ("upgrade", "websocket"),
            ("connection", "Upgrade"),
            ("sec-websocket-key", "x"),
            ("sec-websocket-version", "13"),
        ],
        "",
    );
    assert!(w.app.received.borrow()[0].0.shared_cache.is_none());
}
