#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! `GATEWAY_LOG_SAMPLE_RATE`: the gateway's plain successes are logged at that rate, marked
//! with it; refusals, redirects, errors, the app's own errors, refreshes and every other
//! route's lines always. What the browser gets is the same either way.

mod common;
use common::fakes::*;
use common::fixtures::session_jwt;
use serde_json::{Value, json};

fn live() -> String {
    format!(
        "stytch_session=old-session-token; stytch_session_jwt={}",
        session_jwt("session_reusable")
    )
}

/// A gateway protecting `/app/*`, `/page/*` with a login redirect, and `/assets/*` public;
/// the sample rate `rate` when given.
fn world(rate: Option<&str>) -> World {
    let w = World::new().var(
        "PROTECT",
        &json!([
            { "path": "/assets/*", "upstream": "origin", "require_session": false },
            { "path": "/app/*", "upstream": "origin" },
            { "path": "/login", "upstream": "origin", "require_session": false },
            { "path": "/page/*", "upstream": "origin", "on_unauthenticated": "redirect", "login_url": "/login" },
        ])
        .to_string(),
    );
    match rate {
        Some(r) => w.var("GATEWAY_LOG_SAMPLE_RATE", r),
        None => w,
    }
}

fn lines(w: &World) -> Vec<Value> {
    w.platform
        .logs
        .borrow()
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        // Request lines only (not the isolate's once-only notices).
        .filter(|l| l.get("route").is_some())
        .collect()
}

/// Every kind of request the gateway answers, in order: two plain successes (a protected
/// path with a live session, a public asset), then a refusal, a redirect, the app's 503, and
/// an exchange. The statuses the browser got.
fn traffic(w: &World) -> Vec<u16> {
    let page = [
        ("sec-fetch-mode", "navigate"),
        ("sec-fetch-dest", "document"),
    ];
    let mut statuses = vec![
        w.request("GET", "/app/x", &[("cookie", &live())], "")
            .status,
        w.request("GET", "/assets/app.js", &[], "").status,
        w.request("GET", "/app/x", &[], "").status,
        w.request("GET", "/page/home", &page, "").status,
    ];
    w.app.reply(503, &[], "down");
    statuses.push(
        w.request("GET", "/app/x", &[("cookie", &live())], "")
            .status,
    );
    w.stytch_ok();
    statuses.push(w.exchange(&common::fixtures::token("valid_es256")).status);
    statuses
}

#[test]
fn without_the_setting_every_gateway_line_is_written() {
    let w = world(None);
    assert_eq!(traffic(&w), [200, 200, 401, 302, 503, 200]);
    let lines = lines(&w);
    assert_eq!(lines.len(), 6);
    assert!(lines.iter().all(|l| l.get("sample_rate").is_none()));
}

#[test]
fn at_rate_zero_only_the_plain_successes_go_unlogged() {
    let w = world(Some("0"));
    assert_eq!(
        traffic(&w),
        [200, 200, 401, 302, 503, 200],
        "the answers do not change"
    );
    let kept: Vec<(String, u64)> = lines(&w)
        .iter()
        .map(|l| {
            (
                l["route"].as_str().unwrap().to_owned(),
                l["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kept,
        [
            ("gateway".to_owned(), 401),
            ("gateway".to_owned(), 302),
            ("gateway".to_owned(), 503),
            ("exchange".to_owned(), 200),
        ]
    );
    assert_eq!(
        w.app.received.borrow().len(),
        3,
        "the app still got every forwarded request"
    );
}

#[test]
fn a_kept_success_line_says_the_rate_it_stands_for() {
    let w = world(Some("0.5"));
    w.platform.random.set(499_999);
    w.request("GET", "/app/x", &[("cookie", &live())], "");
    w.platform.random.set(1_500_000); // 500,000 in a million: past the rate
    w.request("GET", "/app/x", &[("cookie", &live())], "");
    let lines = lines(&w);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["sample_rate"], "0.5");
    assert_eq!(lines[0]["outcome"], "forwarded");
}

#[test]
fn a_refreshed_session_is_always_logged() {
    let w = world(Some("0"));
    w.http
        .push_stytch(authenticate_answer(common::fixtures::now() + 3600));
    let expired = format!(
        "stytch_session=old-session-token; stytch_session_jwt={}",
        session_jwt("session_expired")
    );
    let resp = w.request("GET", "/app/x", &[("cookie", &expired)], "");
    assert_eq!(resp.status, 200, "{}", resp.body);
    let lines = lines(&w);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["session"], "refreshed");
}

#[test]
fn a_rate_that_is_not_one_is_refused_at_start() {
    for bad in ["2", "10%", "0,1", "-0.5", "0.0000001"] {
        let e = world(Some(bad)).config().unwrap_err();
        assert_eq!(e.variable, "GATEWAY_LOG_SAMPLE_RATE", "{bad}");
    }
}

#[test]
fn a_request_that_sent_identity_headers_is_always_logged() {
    let w = world(Some("0"));
    let resp = w.request(
        "GET",
        "/assets/app.js",
        &[("edge_attest_user_id", "user-someone-else")],
        "",
    );
    assert_eq!(resp.status, 200);
    let kept = lines(&w);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0]["spoofed_identity"], true);
    // And a plain one is not marked.
    let w = world(None);
    w.request("GET", "/assets/app.js", &[], "");
    assert!(lines(&w)[0].get("spoofed_identity").is_none());
}
