//! The start-up rehearsal (src/app/rehearsal.rs): the exchange it plays reaches Stytch and
//! answers 200 under each kind of configuration, through the real handler; its token is
//! refused by a real signature check.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::fakes::{FakeApp, FakeKv, FakeLimiter, FakePlatform, World, incoming, response_of};
use edge_attest::app::rehearsal::{self, Rehearsal, RehearsalRequest};
use edge_attest::app::{IsolateNotes, Refreshes, Services};
use edge_attest::config::Config;
use edge_attest::http::{HttpClient, OutboundRequest, OutboundResponse, Response, TransportError};
use edge_attest::keys::cache::JwksMemory;
use edge_attest::keys::crypto::{KeyImportError, RustCryptoBackend, SignatureBackend};
use edge_attest::keys::integrity::{CacheSecret, EntryMac, TAG_BYTES};
use edge_attest::keys::jwk::PublicKey;
use std::cell::RefCell;

/// HTTP answered by the rehearsal, every request recorded.
struct Canned<'a> {
    rehearsal: &'a Rehearsal,
    sent: RefCell<Vec<String>>,
}

impl HttpClient for Canned<'_> {
    async fn send(&self, req: &OutboundRequest) -> Result<OutboundResponse, TransportError> {
        self.sent
            .borrow_mut()
            .push(format!("{:?} {}", req.method, req.url));
        self.rehearsal.answer(req)
    }
}

/// The rehearsal's signature check, as the glue's rehearsal mode has it: [`rehearsal::is_signature`] only.
struct RehearsalBackend;

impl SignatureBackend for RehearsalBackend {
    async fn verify(
        &self,
        _: &PublicKey,
        _: &[u8],
        signature: &[u8],
    ) -> Result<bool, KeyImportError> {
        Ok(rehearsal::is_signature(signature))
    }
}

impl EntryMac for RehearsalBackend {
    async fn tag(&self, _: &CacheSecret, _: &[u8]) -> Result<[u8; TAG_BYTES], String> {
        Ok([0; TAG_BYTES])
    }
}

/// Plays `config`'s rehearsal through the handler with `backend`.
fn play<B: SignatureBackend + EntryMac>(config: &Config, backend: &B) -> Played {
    play_at(config, backend, 1_800_000_000_000)
}

/// The same, with the clock at `now_ms` (deployed, the global scope's clock reads 0).
fn play_at<B: SignatureBackend + EntryMac>(config: &Config, backend: &B, now_ms: u64) -> Played {
    let platform = FakePlatform::new(now_ms);
    let rehearsal = Rehearsal::new(config, now_ms).expect("a rehearsal");
    let http = Canned {
        rehearsal: &rehearsal,
        sent: RefCell::default(),
    };
    let jwks = RefCell::new(JwksMemory::default());
    let (kv, limits, notes, refreshes) = (
        FakeKv::default(),
        FakeLimiter::default(),
        IsolateNotes::default(),
        Refreshes::default(),
    );
    let services = Services {
        http: &http,
        kv: &kv,
        backend,
        platform: &platform,
        jwks: &jwks,
        limits: &limits,
        notes: &notes,
        refreshes: &refreshes,
    };
    let app = FakeApp::default();
    let play = |r: RehearsalRequest| {
        let headers: Vec<(&str, &str)> = r.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let mut req = incoming(r.method, "/", &headers, &r.body);
        req.url = r.url;
        response_of(futures_executor::block_on(services.handle(
            Ok(config),
            req,
            &app,
        )))
    };
    let exchange = play(rehearsal.exchange_request());
    let gateway = rehearsal.gateway_request().map(play);
    let forwarded = app
        .received
        .take()
        .into_iter()
        .map(|(req, _)| req.headers)
        .collect();
    Played {
        exchange,
        gateway,
        forwarded,
        sent: http.sent.into_inner(),
        logs: platform.logs.take(),
    }
}

/// What a rehearsal did.
struct Played {
    exchange: Response,
    /// The request through the gateway, when there was one.
    gateway: Option<Response>,
    /// The headers of each request the app received.
    forwarded: Vec<Vec<(String, String)>>,
    /// The outbound requests, `Method URL`.
    sent: Vec<String>,
    logs: Vec<String>,
}

fn config_of(world: World) -> Config {
    world.config().expect("a valid configuration")
}

/// Plays the rehearsal of the configuration `vars` make (over the fixtures' defaults) and
/// expects a session from Stytch.
fn rehearse(vars: &[(&str, &str)]) -> Played {
    let world = vars.iter().fold(World::new(), |w, (k, v)| w.var(k, v));
    let played = play(&config_of(world), &RehearsalBackend);
    let resp = &played.exchange;
    assert_eq!(resp.status, 200, "{} {:?}", resp.body, played.logs);
    assert!(
        resp.headers
            .iter()
            .any(|(n, v)| n == "set-cookie" && v.starts_with("stytch_session=")),
        "{:?}",
        resp.headers
    );
    played
}

#[test]
fn the_rehearsal_reaches_stytch_and_answers_200_for_a_supabase_project() {
    let played = rehearse(&[]);
    assert_eq!(
        played.sent,
        [
            "Get https://abcd.supabase.co/auth/v1/.well-known/jwks.json",
            "Post https://test.stytch.com/v1/sessions/attest"
        ]
    );
    assert!(
        played.logs[0].contains(r#""session":"created""#),
        "{:?}",
        played.logs
    );
    assert!(
        played.gateway.is_none(),
        "no gateway, no request through it"
    );
}

#[test]
fn the_rehearsal_meets_the_assurance_a_deployment_requires() {
    rehearse(&[("REQUIRED_AAL", "aal2")]);
    rehearse(&[("MFA_ENROLLED_CLAIM", "app_metadata.mfa_enrolled")]);
}

#[test]
fn the_rehearsal_of_a_b2b_project_creates_a_member_session() {
    let played = rehearse(&[
        ("STYTCH_PRODUCT", "b2b"),
        ("STYTCH_ORGANIZATION_ID_CLAIM", "app_metadata.org_id"),
    ]);
    assert_eq!(
        played.sent[1],
        "Post https://test.stytch.com/v1/b2b/sessions/attest"
    );
    assert!(
        played.exchange.body.contains("member-rehearsal"),
        "{}",
        played.exchange.body
    );
    rehearse(&[
        ("STYTCH_PRODUCT", "b2b"),
        ("STYTCH_ORGANIZATION_ID", "organization-test-1"),
    ]);
}

#[test]
fn the_rehearsal_plays_the_first_provider_whatever_it_is() {
    let auth0 = r#"[{"name":"auth0","issuer":"https://tenant.auth0.example/","audiences":["https://api.example"],"stytch_profile_id":"profile-auth0"}]"#;
    let sent = rehearse(&[("PROVIDERS", auth0)]).sent;
    assert_eq!(
        sent[..2],
        [
            "Get https://tenant.auth0.example/.well-known/openid-configuration",
            "Get https://rehearsal.invalid/jwks"
        ]
    );
    let firebase = r#"[{"name":"firebase","issuer":"https://securetoken.google.com/p","jwks_url":"https://www.googleapis.example/jwk","audiences":["p"],"anonymous_users":"firebase","stytch_profile_id":"profile-firebase"}]"#;
    rehearse(&[("PROVIDERS", firebase)]);
    rehearse(&[("JWT_ALGORITHMS", "RS256")]);
    rehearse(&[("JWT_ALGORITHMS", "EdDSA")]);
}

#[test]
fn a_real_signature_check_refuses_the_rehearsal_token_before_stytch() {
    let played = play(&config_of(World::new()), &RustCryptoBackend);
    assert_eq!(played.exchange.status, 401, "{}", played.exchange.body);
    assert!(
        played.logs[0].contains("bad_signature"),
        "{:?}",
        played.logs
    );
    assert!(
        played.sent.iter().all(|s| !s.contains("stytch")),
        "{:?}",
        played.sent
    );
}

/// A gateway protecting `/app/*` behind the public `/app/public/*`, and `/page/*` with a
/// login redirect.
const PROTECT: &str = r#"[
    {"path": "/app/public/*", "upstream": "origin", "require_session": false},
    {"path": "/app/*", "upstream": "origin"},
    {"path": "/login", "upstream": "origin", "require_session": false},
    {"path": "/page/*", "upstream": "origin", "on_unauthenticated": "redirect", "login_url": "/login"}
]"#;

/// The identity the app received on each forwarded request (user or member id).
fn identities(played: &Played) -> Vec<String> {
    played
        .forwarded
        .iter()
        .flat_map(|h| {
            h.iter()
                .filter(|(n, _)| n == "edge-attest-user-id" || n == "edge-attest-member-id")
        })
        .map(|(_, v)| v.clone())
        .collect()
}

#[test]
fn with_a_gateway_the_rehearsal_passes_a_protected_rule_with_the_session_it_made() {
    let played = rehearse(&[("PROTECT", PROTECT)]);
    let gateway = played
        .gateway
        .as_ref()
        .expect("a request through the gateway");
    assert_eq!(gateway.status, 200, "{} {:?}", gateway.body, played.logs);
    assert_eq!(identities(&played), ["user-rehearsal-00000000"]);
    // Stytch's session keys fetched for the session JWT; no other Stytch call.
    assert_eq!(played.sent.len(), 3, "{:?}", played.sent);
    assert!(played.sent[2].starts_with("Get https://test.stytch.com/v1/sessions/jwks/"));
    assert!(
        played.logs[1].contains(r#""route":"gateway""#),
        "{:?}",
        played.logs
    );

    let b2b = rehearse(&[
        ("PROTECT", PROTECT),
        ("STYTCH_PRODUCT", "b2b"),
        ("STYTCH_ORGANIZATION_ID_CLAIM", "app_metadata.org_id"),
        ("REQUIRED_AAL", "aal2"),
    ]);
    assert_eq!(
        b2b.gateway.as_ref().map(|r| r.status),
        Some(200),
        "{:?}",
        b2b.logs
    );
    assert_eq!(identities(&b2b), ["member-rehearsal-00000000"]);
}

#[test]
fn a_gateway_whose_rules_are_all_public_gets_no_gateway_rehearsal() {
    let public = r#"[{"path": "/*", "upstream": "origin", "require_session": false}]"#;
    assert!(rehearse(&[("PROTECT", public)]).gateway.is_none());
}

#[test]
fn the_gateway_rehearsal_prefers_a_rule_its_session_meets() {
    let protect = r#"[
        {"path": "/admin/*", "upstream": "origin", "roles": ["admin"]},
        {"path": "/strict/*", "upstream": "origin", "require_aal": "aal2"},
        {"path": "/app/*", "upstream": "origin"}
    ]"#;
    let played = rehearse(&[("PROTECT", protect)]);
    assert_eq!(
        played.gateway.as_ref().map(|r| r.status),
        Some(200),
        "{:?}",
        played.logs
    );
    assert!(played.logs[1].contains(r#""rule":2"#), "{:?}", played.logs);
    // With none it meets, it still plays the first (most of the path is compiled before the
    // refusal).
    let only_admin = r#"[{"path": "/admin/*", "upstream": "origin", "roles": ["admin"]}]"#;
    let played = rehearse(&[("PROTECT", only_admin)]);
    assert_eq!(played.gateway.as_ref().map(|r| r.status), Some(403));
}

#[test]
fn the_rehearsal_works_with_the_clock_the_global_scope_has_when_deployed() {
    // Cloudflare's global scope reads the clock as 0 (the Unix epoch) until a request comes.
    for now_ms in [0, 1_000] {
        let config = config_of(World::new().var("PROTECT", PROTECT));
        let played = play_at(&config, &RehearsalBackend, now_ms);
        assert_eq!(played.exchange.status, 200, "{now_ms}: {:?}", played.logs);
        assert_eq!(
            played.gateway.map(|r| r.status),
            Some(200),
            "{now_ms}: {:?}",
            played.logs
        );
    }
}
