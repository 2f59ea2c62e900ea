//! The properties every fuzz target checks, shared by the libFuzzer targets
//! (`fuzz/fuzz_targets/*.rs`, `make fuzz`) and the native smoke in `cargo test`
//! (`tests/fuzz_smoke.rs`), which includes this file with `#[path]`.
//!
//! Each function takes arbitrary bytes and panics when a property fails: never a panic of the
//! code under test, never an acceptance the strict rules refuse, and (libFuzzer's `-timeout`)
//! time bounded by the input's size.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use edge_attest::cookies::{find_cookie, is_cookie_value};
use edge_attest::http::wire::{self, ABSENT};
use edge_attest::http::{IncomingRequest, OutboundResponse, REQUEST_HEADERS};
use edge_attest::jwt::token::{MAX_KID_BYTES, MAX_TOKEN_BYTES, UnverifiedToken};
use edge_attest::jwt::verify::{self, AnonymousRule, Policy};
use edge_attest::keys::crypto::RustCryptoBackend;
use edge_attest::keys::jwk::{Alg, KeyMaterial, KeySet, MAX_KEYS, RSA_BITS};
use edge_attest::stytch::api::read_session_answer;
use edge_attest::stytch::organization::is_organization_ref;
use edge_attest::stytch::project::Product;
use serde_json::Value;
use std::sync::OnceLock;

/// The fixture table: test-only keys and tokens signed by jose.
pub fn fixtures() -> &'static Value {
    static F: OnceLock<Value> = OnceLock::new();
    F.get_or_init(|| serde_json::from_str(include_str!("../tests/fixtures/tokens.json")).unwrap())
}

fn policy() -> Policy {
    Policy {
        issuers: vec![fixtures()["issuer"].as_str().unwrap().to_owned()],
        audiences: vec!["authenticated".into()],
        algorithms: vec![Alg::Es256, Alg::Rs256, Alg::EdDsa],
        skew_secs: 30,
        required_claims: vec![("role".into(), "authenticated".into())],
        anonymous: Some(AnonymousRule::SupabaseIsAnonymous),
        assurance: Default::default(),
    }
}

/// The fixture tokens that verify: the only ones any input may verify as, since nothing
/// else carries a signature of the fixture keys.
fn valid_tokens() -> &'static Vec<String> {
    static V: OnceLock<Vec<String>> = OnceLock::new();
    V.get_or_init(|| {
        fixtures()["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["token"].as_str().unwrap().to_owned())
            .filter(|t| verifies(t))
            .collect()
    })
}

thread_local! {
    static KEYS: KeySet = KeySet::parse(fixtures()["jwks"].to_string().as_bytes()).unwrap().0;
}

fn verifies(text: &str) -> bool {
    let Ok(token) = UnverifiedToken::parse(text) else {
        return false;
    };
    let policy = policy();
    let Ok(alg) = policy.allowed_alg(&token) else {
        return false;
    };
    let Ok(key) = KEYS.with(|k| k.select(token.header.kid.as_deref(), alg).cloned()) else {
        return false;
    };
    let now = fixtures()["now"].as_i64().unwrap();
    futures_executor::block_on(verify::verify(
        token,
        &key,
        &RustCryptoBackend,
        &policy,
        now,
    ))
    .is_ok()
}

/// The token parser and verifier: a parsed token has the strict shape; a token that verifies
/// is one of the fixture's valid tokens, byte for byte.
pub fn token(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = UnverifiedToken::parse(text) else {
        return;
    };
    assert!(text.len() <= MAX_TOKEN_BYTES);
    assert_eq!(text.split('.').count(), 3);
    assert!(
        text.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.'),
        "only base64url segments parse"
    );
    if let Some(kid) = &parsed.header.kid {
        assert!(!kid.is_empty() && kid.len() <= MAX_KID_BYTES);
    }
    if verifies(text) {
        assert!(
            valid_tokens().iter().any(|t| t == text),
            "accepted a token no fixture key signed: {text}"
        );
    }
}

/// The key-set parser: whatever it keeps is usable and within bounds.
pub fn jwks(data: &[u8]) {
    let Ok((set, skipped)) = KeySet::parse(data) else {
        return;
    };
    assert!(!set.keys().is_empty() && set.keys().len() <= MAX_KEYS);
    assert!(set.keys().len() + skipped.len() <= MAX_KEYS);
    for key in set.keys() {
        if let KeyMaterial::Rsa { n, e } = &key.material {
            let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
            assert!(RSA_BITS.contains(&bits), "{bits}-bit modulus kept");
            let exponent = e.iter().fold(0_u64, |a, b| (a << 8) | u64::from(*b));
            assert!(
                exponent >= 3 && exponent % 2 == 1,
                "exponent {exponent} kept"
            );
        }
        assert!(key.kid.as_ref().is_none_or(|k| !k.is_empty()));
    }
    for reason in &skipped {
        assert!(reason.len() < 256, "a skip note is bounded: {reason}");
    }
}

/// The `Cookie` header parser: a found value is a non-empty piece of the header, without the
/// separators, and `find_cookie` never panics.
pub fn cookie(data: &[u8]) {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    for name in ["stytch_session", "stytch_session_jwt", "a", ""] {
        if let Some(value) = find_cookie(header, name) {
            assert!(!value.is_empty());
            assert!(header.contains(value));
            assert!(!value.contains(';'));
            assert_eq!(value, value.trim());
            assert!(!value.starts_with('"') && !value.ends_with('"'));
        }
    }
}

/// The one-crossing head format and the request flow behind it: any head the runtime could
/// hand over, with any body, is split without panicking and answered with a documented
/// status and a well-formed JSON body, and no header line break is ever written.
pub fn request_head(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let names: Vec<&'static str> = REQUEST_HEADERS
        .iter()
        .copied()
        .chain(wire::BODY_HEADERS)
        .collect();
    let (method, url, headers) = wire::split_request_head(head, &names);
    assert!(headers.len() <= names.len());
    for (name, value) in &headers {
        assert!(names.contains(&name.as_str()));
        assert_ne!(value, ABSENT);
    }
    if let Some(n) = wire::exact_length(&headers) {
        let declared = headers.iter().find(|(k, _)| k == "content-length").unwrap();
        assert_eq!(declared.1.trim().parse::<usize>().ok(), Some(n));
    }
    let world = crate::common::fakes::World::new();
    world.stytch_ok();
    let response = world.run(IncomingRequest {
        method,
        url,
        headers,
        body: body.as_bytes().to_vec(),
    });
    assert!(
        [
            200, 204, 400, 401, 403, 404, 405, 413, 415, 429, 500, 502, 503, 504
        ]
        .contains(&response.status),
        "undocumented status {}",
        response.status
    );
    assert!(
        wire::header_lines(
            response
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
        )
        .is_some(),
        "a line break in an answer header"
    );
    if response.status != 204 {
        let body: Value = serde_json::from_str(&response.body).expect("a JSON body");
        if response.status >= 400 {
            assert!(body["error"].is_string() && body["error_description"].is_string());
        }
    }
}

/// The Stytch answer parser, consumer and B2B: whatever it accepts is safe to put in cookies,
/// bodies and logs.
pub fn stytch_answer(data: &[u8]) {
    let (status_byte, body) = data.split_first().unwrap_or((&0, &[]));
    let status = [200, 200, 200, 400, 401, 404, 429, 500][usize::from(*status_byte % 8)];
    let product = if status_byte & 0x80 == 0 {
        Product::Consumer
    } else {
        Product::B2b
    };
    let resp = OutboundResponse {
        status,
        headers: vec![(
            "retry-after".into(),
            String::from_utf8_lossy(body).chars().take(8).collect(),
        )],
        body: body.to_vec(),
    };
    let (result, request_id) = read_session_answer(&resp, product);
    let clean = |s: &str| {
        !s.is_empty()
            && s.len() <= 96
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    };
    if let Some(id) = &request_id {
        assert!(clean(id));
    }
    match result {
        Ok(session) => {
            assert_eq!(status, 200);
            assert!(clean(&session.user_id) && clean(&session.session_id));
            assert!(is_cookie_value(&session.session_token) && !session.session_token.is_empty());
            assert!(is_cookie_value(&session.session_jwt) && !session.session_jwt.is_empty());
            assert_eq!(
                edge_attest::formats::time::parse_rfc3339(&session.expires_at),
                Some(session.expires_at_unix)
            );
            // A member session always names its organization, a user session never does.
            match (&session.organization, product) {
                (Some(org), Product::B2b) => {
                    assert!(clean(&org.id));
                    assert!(org.slug.as_deref().is_none_or(is_organization_ref));
                }
                (None, Product::Consumer) => {}
                other => panic!("organization {other:?}"),
            }
        }
        Err(e) => {
            if let Some(t) = e.error_type() {
                assert!(clean(t));
            }
        }
    }
}

// ---- the gateway ----

/// The rule sets the path property runs against: protected by default with public exceptions
/// (sub-delimiters in patterns, capitals), public unless listed, and rules per method.
pub const GATEWAY_LAYOUTS: [&str; 3] = [
    r#"[{"path":"/login","upstream":"origin","require_session":false},
        {"path":"/v1/items:purge","upstream":"origin"},
        {"path":"/v1/*","upstream":"origin","require_session":false},
        {"path":"/@admin/*","upstream":"origin"},
        {"path":"/odata/$batch","upstream":"origin"},
        {"path":"/Account/Login","upstream":"origin","require_session":false},
        {"path":"/public/*","upstream":"origin","require_session":false},
        {"path":"/*","upstream":"origin"}]"#,
    r#"[{"path":"/admin/*","upstream":"origin"},
        {"path":"/settings","upstream":"origin","roles":["admin"]},
        {"path":"/api/*","upstream":"origin","require_aal":"aal2"},
        {"path":"/*","upstream":"origin","require_session":false}]"#,
    r#"[{"path":"/docs/*","upstream":"origin","methods":["GET"],"require_session":false},
        {"path":"/hooks/*","upstream":"origin","methods":["POST"],"require_session":false},
        {"path":"/*","upstream":"origin"}]"#,
];

/// The methods the path property sends.
const GATEWAY_METHODS: [&str; 6] = ["GET", "POST", "DELETE", "PUT", "HEAD", "OPTIONS"];

/// A layout as the worker reads it, and as the app's own router (patterns as configured, and
/// their methods) sees it.
type Layout = (edge_attest::gateway::Rules, Vec<(String, Vec<String>)>);

/// The rules of each layout, read once as the worker reads `PROTECT`.
fn gateway_rules() -> &'static Vec<Layout> {
    static R: OnceLock<Vec<Layout>> = OnceLock::new();
    R.get_or_init(|| {
        GATEWAY_LAYOUTS
            .iter()
            .map(|layout| {
                let world = crate::common::fakes::World::new().var("PROTECT", layout);
                let rules = world.config().expect("a valid layout").protect;
                let raw: Value = serde_json::from_str(layout).unwrap();
                let patterns = raw
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| {
                        let methods = r["methods"].as_array().map_or_else(
                            || {
                                edge_attest::gateway::policy::DEFAULT_METHODS
                                    .iter()
                                    .map(|m| (*m).to_owned())
                                    .collect()
                            },
                            |ms| ms.iter().map(|m| m.as_str().unwrap().to_owned()).collect(),
                        );
                        (r["path"].as_str().unwrap().to_owned(), methods)
                    })
                    .collect();
                (rules, patterns)
            })
            .collect()
    })
}

/// An app's own router, written apart from the gateway's: `pattern` (as configured, `/x` or
/// `/x/*`) covers `path` (compared with or without regard to ASCII case).
fn app_covers(pattern: &str, path: &str, fold_case: bool) -> bool {
    let (pattern, path) = if fold_case {
        (pattern.to_ascii_lowercase(), path.to_ascii_lowercase())
    } else {
        (pattern.to_owned(), path.to_owned())
    };
    match pattern.strip_suffix("/*") {
        Some(base) => path == base || path.starts_with(&format!("{base}/")) || base.is_empty(),
        None => path == pattern || path == format!("{pattern}/"),
    }
}

/// How an app that decodes percent-escapes (`twice`: twice), reads `\` as `/`, drops `;`
/// parameters, resolves dot segments and merges slashes routes `path`.
fn app_reading(path: &str, twice: bool) -> String {
    let decode = |s: &[u8]| -> Vec<u8> {
        let mut out = Vec::with_capacity(s.len());
        let mut i = 0;
        while i < s.len() {
            if s[i] == b'%' {
                let hex = |c: u8| (c as char).to_digit(16);
                if let (Some(a), Some(b)) = (
                    s.get(i + 1).and_then(|c| hex(*c)),
                    s.get(i + 2).and_then(|c| hex(*c)),
                ) {
                    out.push((a * 16 + b) as u8);
                    i += 3;
                    continue;
                }
            }
            out.push(s[i]);
            i += 1;
        }
        out
    };
    let mut bytes = decode(path.as_bytes());
    if twice {
        bytes = decode(&bytes);
    }
    let text = String::from_utf8_lossy(&bytes).replace('\\', "/");
    let mut segments: Vec<&str> = Vec::new();
    for seg in text.split('/') {
        let seg = seg.split(';').next().unwrap_or_default();
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let trailing = text.ends_with('/') && !segments.is_empty();
    format!("/{}{}", segments.join("/"), if trailing { "/" } else { "" })
}

/// Rule matching: a path the gateway forwards under a rule is one that an app decoding
/// percent-escapes (once and twice), reading `\` as `/`, dropping `;` parameters, resolving dot
/// segments and merging slashes, routing with or without regard to case, would route to a
/// rule that lets through no less, or to none; otherwise the gateway refuses it.
pub fn gateway_path(data: &[u8]) {
    let [layout, method, rest @ ..] = data else {
        return;
    };
    let Ok(path) = std::str::from_utf8(rest) else {
        return;
    };
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    let (rules, patterns) = &gateway_rules()[usize::from(*layout) % GATEWAY_LAYOUTS.len()];
    let method = GATEWAY_METHODS[usize::from(*method) % GATEWAY_METHODS.len()];
    let Ok(edge_attest::gateway::Choice::Rule(_, chosen)) = rules.choose(&path, method) else {
        return;
    };
    let all: Vec<_> = rules.iter().collect();
    for twice in [false, true] {
        let read = app_reading(&path, twice);
        for fold_case in [false, true] {
            let app_rule = patterns.iter().position(|(pattern, methods)| {
                app_covers(pattern, &read, fold_case)
                    && methods
                        .iter()
                        .any(|m| m == method || (method == "HEAD" && m == "GET"))
            });
            if let Some(j) = app_rule {
                assert!(
                    chosen.access.at_least(&all[j].access),
                    "{path} ({method}) forwarded under {:?}, but an app reads {read} (twice: {twice}, fold case: {fold_case}) as {}",
                    chosen.pattern.describe(),
                    patterns[j].0
                );
            }
        }
    }
}

/// The request the app receives: no header the client sent under the gateway's prefix, under
/// any spelling an app reads as it; each identity header once, with the proven values; no
/// hop-by-hop header, nor one the client's `Connection` names, but what a WebSocket handshake
/// keeps; no forwarding or method-override header but the gateway's own.
pub fn gateway_request_head(data: &[u8]) {
    use edge_attest::gateway::forward::{
        CookieEdit, Identity, Message, RequestPlan, SHARED_REQUEST_HEADERS, request_headers,
    };
    let (flags, rest) = data.split_first().unwrap_or((&0, &[]));
    let text = String::from_utf8_lossy(rest);
    let incoming: Vec<(String, String)> = text
        .split('\n')
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .collect();
    let identity = Identity {
        subject: "user-test-1",
        organization_id: (flags & 1 != 0).then_some("organization-test-1"),
        session_id: "session-test-1",
        expires_at: "2026-12-02T18:00:00Z",
        aal: Some("aal2"),
        iss: Some("https://abcd.supabase.co/auth/v1"),
        jwt: "a.b.c",
    };
    let names = ["stytch_session", "stytch_session_jwt"];
    let plan = RequestPlan {
        upgrade: flags & 2 != 0,
        message: [
            Message::WithBody,
            Message::Bodiless,
            Message::Preflight,
            Message::Shared,
        ][usize::from(flags >> 2) % 4],
        authorization: flags & 16 != 0,
        identity: (flags & 32 != 0).then_some(identity),
        cookies: if flags & 64 != 0 {
            CookieEdit::Remove { names }
        } else {
            CookieEdit::Keep
        },
        forwarded: (flags & 128 != 0).then_some(("app.example.com", "https")),
    };
    let out = request_headers(&incoming, &plan);
    let read = |k: &str| k.to_ascii_lowercase().replace(['_', '.'], "-");
    let named: Vec<String> = incoming
        .iter()
        .filter(|(k, _)| k == "connection")
        .flat_map(|(_, v)| v.split(',').map(|t| t.trim().to_ascii_lowercase()))
        .collect();
    let ours: Vec<(String, String)> = plan.identity.map(|i| i.headers()).unwrap_or_default();
    for (k, v) in &out {
        let key = read(k);
        if key.starts_with("edge-attest-") {
            assert!(
                ours.contains(&(k.clone(), v.clone())),
                "{k}: {v} reached the app"
            );
        }
        let gateways_own = (plan.upgrade && (k == "upgrade" || k == "connection"))
            || (plan.forwarded.is_some() && (k == "x-forwarded-host" || k == "x-forwarded-proto"))
            || ours.iter().any(|(n, _)| n == k);
        if !gateways_own {
            // Hop-by-hop headers by their exact names (they are the runtime's, which reads no
            // other spelling); what an app reads (forwarding, overrides) under every spelling.
            const HOP_BY_HOP: [&str; 8] = [
                "connection",
                "keep-alive",
                "proxy-connection",
                "proxy-authorization",
                "te",
                "trailer",
                "transfer-encoding",
                "upgrade",
            ];
            const APP_READS: [&str; 12] = [
                "host",
                "forwarded",
                "x-forwarded-host",
                "x-forwarded-proto",
                "x-forwarded-port",
                "x-forwarded-prefix",
                "x-forwarded-uri",
                "x-original-url",
                "x-rewrite-url",
                "x-http-method-override",
                "x-http-method",
                "x-method-override",
            ];
            assert!(!HOP_BY_HOP.contains(&k.as_str()), "{k} reached the app");
            assert!(!APP_READS.contains(&key.as_str()), "{k} reached the app");
            assert!(
                !named.contains(k),
                "{k}, which Connection names, reached the app"
            );
        }
        if !plan.authorization {
            assert_ne!(key, "authorization");
        }
        if plan.message == Message::Preflight {
            assert!(
                key != "cookie" && !key.starts_with("content-"),
                "{k} on a preflight"
            );
        }
        if plan.message == Message::Shared {
            // A request whose answer is shared: the client's headers but the allowed few,
            // then the gateway's own.
            assert!(
                SHARED_REQUEST_HEADERS.contains(&key.as_str())
                    || ["x-forwarded-host", "x-forwarded-proto", "connection"]
                        .contains(&key.as_str())
                    || (plan.upgrade && key == "upgrade")
                    || (plan.identity.is_some() && k.starts_with("edge-attest-")),
                "{k} on a request whose answer is shared"
            );
        }
        if matches!(plan.cookies, CookieEdit::Remove { .. }) && k == "cookie" {
            for piece in v.split([';', ',']) {
                let name = piece
                    .split('=')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase();
                assert!(!names.contains(&name.as_str()), "{name} passed in {v}");
            }
        }
    }
    for (name, value) in &ours {
        let sent: Vec<&String> = out
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v)
            .collect();
        assert_eq!(sent, [value], "{name} once, the proven value");
    }
}

/// What an https upstream may set: no `Set-Cookie` line that a browser files under a name it
/// sends back as a session cookie's (RFC 6265bis §5.6: the pair before the first `;`, the name
/// before its first `=`, trimmed; a nameless cookie is sent back as its value alone), in any
/// case; and no identity or hop-by-hop header comes back.
pub fn gateway_set_cookie(data: &[u8]) {
    use edge_attest::gateway::forward::{ResponsePlan, response_headers};
    let text = String::from_utf8_lossy(data);
    let upstream: Vec<(String, String)> = text
        .split('\n')
        .map(|l| match l.split_once(": ") {
            Some((k, v)) if !k.is_empty() && !k.contains(' ') => {
                (k.to_ascii_lowercase(), v.to_owned())
            }
            _ => ("set-cookie".to_owned(), l.to_owned()),
        })
        .collect();
    let plan = ResponsePlan {
        status: 200,
        foreign_cookie_names: Some(["stytch_session", "stytch_session_jwt"]),
        authenticated: true,
        ..ResponsePlan::default()
    };
    for (k, v) in response_headers(&upstream, &plan) {
        assert!(!k.starts_with("edge-attest-") && k != "connection" && k != "transfer-encoding");
        if k != "set-cookie" {
            continue;
        }
        let pair = v.split(';').next().unwrap_or_default();
        let sent_back = match pair.split_once('=') {
            Some((name, value)) if !name.trim_matches([' ', '\t']).is_empty() => {
                format!(
                    "{}={}",
                    name.trim_matches([' ', '\t']),
                    value.trim_matches([' ', '\t'])
                )
            }
            Some(_) | None => pair
                .split_once('=')
                .map_or(pair, |(_, value)| value)
                .trim_matches([' ', '\t'])
                .to_owned(),
        };
        let name = sent_back
            .split('=')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        assert!(
            name != "stytch_session" && name != "stytch_session_jwt",
            "Set-Cookie: {v} comes back as {sent_back}"
        );
    }
}

/// The bearer reader, alone and on a bearer rule: a token is what follows the case-insensitive
/// `Bearer` scheme, never empty nor padded; the gateway answers 200 only for a session JWT that
/// verifies (a fixture), passes no `Authorization` on, and challenges what it refuses.
pub fn gateway_bearer(data: &[u8]) {
    use edge_attest::credentials::bearer_token;
    let (choice, rest) = data.split_first().unwrap_or((&0, &[]));
    let mut value = String::from_utf8_lossy(rest).into_owned();
    if choice % 4 == 0 {
        // Put a fixture session JWT where the input says.
        let cases = fixtures()["stytch"]["cases"].as_array().unwrap();
        let jwt = cases[usize::from(*choice / 4) % cases.len()]["token"]
            .as_str()
            .unwrap();
        value = value.replacen("JWT", jwt, 1);
    }
    match bearer_token(Some(&value)) {
        Ok(Some(token)) => {
            assert!(!token.is_empty() && token.trim() == token);
            assert!(value.trim().len() > token.len());
            let scheme = value.trim().split(' ').next().unwrap_or_default();
            assert!(scheme.eq_ignore_ascii_case("bearer"));
        }
        Ok(None) => unreachable!("a header was given"),
        Err(_) => {}
    }
    if value.contains(['\r', '\n', '\0']) || value.len() > 16 * 1024 {
        return;
    }
    let world = crate::common::fakes::World::new().var(
        "PROTECT",
        r#"[{"path":"/api/*","upstream":"origin","bearer":true}]"#,
    );
    let r = world.request("GET", "/api/x", &[("authorization", &value)], "");
    assert!(
        [200, 400, 401, 403].contains(&r.status),
        "{} for {value:?}",
        r.status
    );
    let received = world.app.received.borrow();
    if r.status == 200 {
        let (req, _) = &received[0];
        assert!(!req.headers.iter().any(|(k, _)| k == "authorization"));
        let jwt = req
            .headers
            .iter()
            .find(|(k, _)| k == "edge-attest-jwt")
            .map(|(_, v)| v.as_str())
            .expect("the identity");
        assert!(
            fixtures()["stytch"]["cases"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["token"] == jwt),
            "only a fixture's signature verifies"
        );
    } else {
        assert!(received.is_empty());
        if r.status == 401 || r.status == 400 {
            assert!(
                r.header("www-authenticate")
                    .is_some_and(|c| c.starts_with("Bearer"))
            );
        }
    }
}

/// A property: panics when the input breaks it.
pub type Property = fn(&[u8]);

/// Every target, by name: for the smoke test and for seeding.
pub const TARGETS: [(&str, Property); 9] = [
    ("token", token),
    ("jwks", jwks),
    ("cookie", cookie),
    ("request_head", request_head),
    ("stytch_answer", stytch_answer),
    ("gateway_path", gateway_path),
    ("gateway_request_head", gateway_request_head),
    ("gateway_set_cookie", gateway_set_cookie),
    ("gateway_bearer", gateway_bearer),
];
