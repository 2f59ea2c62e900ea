#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Several identity providers (`PROVIDERS`): selection by issuer, each provider's own keys,
//! rules and Stytch profile, OpenID Connect discovery, cross-provider attacks, and the
//! validation of the variable. Tokens from `tests/fixtures/generate.mjs` (signed by jose).

mod common;
use common::fakes::*;
use common::fixtures::{fixtures, token};
use edge_attest::config::{Config, KeySource};
use edge_attest::http::{OutboundResponse, TransportError};
use edge_attest::jwt::verify::AnonymousRule;
use serde_json::{Value, json};

const AUTH0_DISCOVERY: &str = "https://tenant.auth0.example/.well-known/openid-configuration";
const AUTH0_JWKS: &str = "https://tenant.auth0.example/.well-known/jwks.json";
const FIREBASE_JWKS: &str = "https://www.googleapis.example/service_accounts/v1/jwk/securetoken";

fn provider(name: &str) -> &'static Value {
    &fixtures()["providers"][name]
}

fn case(name: &str) -> &'static Value {
    fixtures()["providers"]["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no provider case {name}"))
}

fn providers() -> Value {
    json!([
        // The fixture's Supabase tokens carry no top-level email_verified (no hook): with
        // several providers that must be said.
        { "name": "supabase", "preset": "supabase", "project_url": SUPABASE, "stytch_profile_id": "profile-supabase", "allow_unverified_email": true },
        {
            "name": "auth0",
            "issuer": provider("auth0")["issuer"],
            "audiences": [provider("auth0")["audience"]],
            "stytch_profile_id": "profile-auth0"
        },
        {
            "name": "firebase",
            "issuer": provider("firebase")["issuer"],
            "jwks_url": FIREBASE_JWKS,
            "audiences": [provider("firebase")["audience"]],
            "anonymous_users": "firebase",
            "stytch_profile_id": "profile-firebase"
        }
    ])
}

fn discovery_doc(issuer: &Value, jwks_uri: &str) -> Reply {
    json_reply(
        200,
        json!({ "issuer": issuer, "jwks_uri": jwks_uri, "response_types_supported": ["code"] }),
    )
}

/// Three providers, their documents served as the providers serve them.
fn world() -> World {
    let w = World::new().var("PROVIDERS", &providers().to_string());
    w.http.route(
        AUTH0_DISCOVERY,
        discovery_doc(&provider("auth0")["issuer"], AUTH0_JWKS),
    );
    w.http.route(
        AUTH0_JWKS,
        json_reply(200, provider("auth0")["jwks"].clone()),
    );
    w.http.route(
        FIREBASE_JWKS,
        json_reply(200, provider("firebase")["jwks"].clone()),
    );
    w
}

fn attest_body_sent(w: &World) -> Value {
    let calls = w.http.stytch_calls();
    serde_json::from_str(calls.last().unwrap().body.as_deref().unwrap()).unwrap()
}

#[test]
fn each_provider_exchanges_with_its_own_profile_and_link() {
    let w = world();
    for (t, profile, issuer, name) in [
        (
            token("valid_es256"),
            "profile-supabase",
            fixtures()["issuer"].clone(),
            "supabase",
        ),
        (
            case("auth0_valid")["token"].as_str().unwrap().to_owned(),
            "profile-auth0",
            provider("auth0")["issuer"].clone(),
            "auth0",
        ),
        (
            case("firebase_valid")["token"].as_str().unwrap().to_owned(),
            "profile-firebase",
            provider("firebase")["issuer"].clone(),
            "firebase",
        ),
    ] {
        w.stytch_ok();
        let r = w.exchange(&t);
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        let body = attest_body_sent(&w);
        assert_eq!(body["profile_id"], profile);
        assert_eq!(body["session_custom_claims"]["edge_attest"]["iss"], issuer);
        assert_eq!(w.platform.last_log()["provider"], name);
    }
    // Auth0's keys came through its OpenID configuration, once; each set was fetched once.
    assert_eq!(w.http.calls_of(AUTH0_DISCOVERY), 1);
    assert_eq!(w.http.calls_of(AUTH0_JWKS), 1);
    assert_eq!(w.http.calls_of(FIREBASE_JWKS), 1);
    assert_eq!(
        w.http.jwks_fetches() - w.http.calls_of(AUTH0_JWKS),
        1,
        "Supabase's"
    );
}

/// Runs a provider case; what the exchange must answer is in the fixture table.
fn expect_case(name: &str) {
    let c = case(name);
    let w = world();
    let expect = c["expect"].as_str().unwrap();
    if expect == "ok" {
        w.stytch_ok();
    }
    let r = w.exchange(c["token"].as_str().unwrap());
    if expect == "ok" {
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        return;
    }
    assert_eq!(r.status, 401, "{name}: {}", r.body);
    assert!(w.http.stytch_calls().is_empty(), "{name} reached Stytch");
    let log = w.platform.last_log();
    assert!(
        log["detail"].as_str().unwrap().starts_with(expect),
        "{name}: {log}"
    );
    if expect == "unknown_issuer" {
        assert!(
            w.http.calls.borrow().is_empty(),
            "{name}: nothing fetched for an unknown issuer"
        );
    }
}

macro_rules! provider_case_tests {
    ($($name:ident),* $(,)?) => { $( #[test] fn $name() { expect_case(stringify!($name)); } )* };
}

provider_case_tests!(
    auth0_valid,
    auth0_shared_kid,
    firebase_valid,
    firebase_anonymous,
    firebase_unverified_email,
    auth0_iss_signed_by_firebase_key,
    auth0_iss_signed_by_firebase_shared_kid,
    firebase_iss_signed_by_auth0_shared_kid,
    auth0_iss_without_slash,
    auth0_iss_upper_case,
    auth0_iss_prefix,
    firebase_iss_other_project,
    auth0_wrong_audience,
    auth0_no_iss,
);

#[test]
fn every_provider_row_has_a_named_test() {
    let src = include_str!("providers.rs");
    for c in fixtures()["providers"]["cases"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        assert!(
            src.contains(&format!(" {name},")),
            "provider fixture {name} has no named test"
        );
    }
}

#[test]
fn a_supabase_token_with_another_issuer_is_unknown_before_any_fetch() {
    let w = world();
    let r = w.exchange(&token("iss_other_project"));
    assert_eq!(r.status, 401);
    assert!(w.http.calls.borrow().is_empty());
    assert_eq!(w.platform.last_log()["detail"], "unknown_issuer");
}

#[test]
fn the_openid_configuration_is_cached_like_a_key_set() {
    let w = world();
    let auth0 = case("auth0_valid")["token"].as_str().unwrap().to_owned();
    let fetched = |w: &World| {
        (
            w.http.calls_of(AUTH0_DISCOVERY),
            w.http.calls_of(AUTH0_JWKS),
        )
    };
    for _ in 0..3 {
        w.stytch_ok();
        assert_eq!(w.exchange(&auth0).status, 200);
    }
    assert_eq!(fetched(&w), (1, 1));
    assert!(
        w.kv.store
            .borrow()
            .contains_key(&format!("oidc:v2:{AUTH0_DISCOVERY}"))
    );
    assert!(
        w.kv.store
            .borrow()
            .contains_key(&edge_attest::keys::cache::kv_key(AUTH0_JWKS))
    );
    // A cold isolate finds both in KV.
    w.new_isolate();
    w.stytch_ok();
    assert_eq!(w.exchange(&auth0).status, 200);
    assert_eq!(fetched(&w), (1, 1));
    assert_eq!(w.platform.last_log()["kv_reads"], 2);
}

#[test]
fn an_openid_configuration_that_cannot_be_trusted_is_refused() {
    let issuer = provider("auth0")["issuer"].clone();
    for (why, reply) in [
        ("a plaintext key set", discovery_doc(&issuer, "http://tenant.auth0.example/jwks.json")),
        ("another issuer", discovery_doc(&json!("https://evil.example/"), AUTH0_JWKS)),
        ("no jwks_uri", json_reply(200, json!({ "issuer": issuer }))),
        (
            "a redirect, to another host",
            Ok(OutboundResponse {
                status: 302,
                headers: vec![("location".into(), "https://evil.example/openid-configuration".into())],
                body: vec![],
            }),
        ),
        ("over the size cap", Err(TransportError::TooLarge)),
        ("a duplicated member", Ok(OutboundResponse {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: format!(r#"{{"issuer":{issuer},"jwks_uri":"{AUTH0_JWKS}","jwks_uri":"https://evil.example/jwks"}}"#).into_bytes(),
        })),
    ] {
        let w = world();
        w.http.route(AUTH0_DISCOVERY, reply);
        let r = w.exchange(case("auth0_valid")["token"].as_str().unwrap());
        assert_eq!(r.status, 503, "{why}: {}", r.body);
        assert_eq!(body_json(&r)["error"], "jwks_unavailable");
        assert_eq!(w.http.calls.borrow().len(), 1, "{why}: only the configuration was fetched");
        assert!(w.http.stytch_calls().is_empty());
    }
}

#[test]
fn anonymous_users_of_a_provider_can_be_allowed() {
    let mut p = providers();
    p[2]["allow_anonymous"] = json!(true);
    // Anonymous users have no email to vouch for.
    p[2]["allow_unverified_email"] = json!(true);
    let w = world().var("PROVIDERS", &p.to_string());
    w.stytch_ok();
    let r = w.exchange(case("firebase_anonymous")["token"].as_str().unwrap());
    assert_eq!(r.status, 200, "{}", r.body);
}

fn provider_session(name: &str) -> String {
    fixtures()["providers"]["sessions"][name]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A repeat exchange is answered at the edge only from a Stytch session made for the same
/// provider's same login: the link holds the provider's issuer, and its session claim (`sid`
/// for an OpenID Connect provider); a provider whose tokens name no login links by user.
#[test]
fn repeat_exchanges_reuse_only_the_same_providers_login() {
    let auth0 = case("auth0_valid")["token"].as_str().unwrap().to_owned();
    let firebase = case("firebase_valid")["token"].as_str().unwrap().to_owned();
    let cookie = |jwt: &str| format!("stytch_session=old-token; stytch_session_jwt={jwt}");
    for (token, session, reused, prior) in [
        (&auth0, "auth0_same_login", true, "reusable"),
        (&auth0, "auth0_other_login", false, "link_mismatch"),
        (&auth0, "auth0_user_only", false, "link_mismatch"),
        (&auth0, "firebase_user", false, "link_mismatch"),
        (&auth0, "supabase_login", false, "link_mismatch"),
        (&firebase, "firebase_user", true, "reusable"),
        (&firebase, "auth0_same_login", false, "link_mismatch"),
    ] {
        let w = world();
        w.stytch_ok();
        let r = w.exchange_with_cookies(token, &cookie(&provider_session(session)));
        assert_eq!(r.status, 200, "{session}: {}", r.body);
        assert_eq!(body_json(&r)["reused"], reused, "{session}");
        let log = w.platform.last_log();
        assert_eq!(log["prior"], prior, "{session}");
        let attests = w.http.stytch_calls();
        if reused {
            assert!(attests.is_empty(), "{session}: nothing reached Stytch");
        } else {
            let body = attest_body_sent(&w);
            assert!(
                body.get("session_token").is_none(),
                "{session}: another login's session is never extended"
            );
        }
    }
    // The link an Auth0 exchange sends records its sid as the login.
    let w = world();
    w.stytch_ok();
    assert_eq!(w.exchange(&auth0).status, 200);
    assert_eq!(
        attest_body_sent(&w)["session_custom_claims"]["edge_attest"],
        json!({ "iss": provider("auth0")["issuer"], "sub": "auth0|64f1c2d3e4b5a6978877", "session_id": "auth0-login-7f3a" })
    );
    // With session_claim false, the same token links by user alone, and a session made for
    // the user is reused.
    let mut p = providers();
    p[1]["session_claim"] = json!(false);
    let w = world().var("PROVIDERS", &p.to_string());
    let r = w.exchange_with_cookies(&auth0, &cookie(&provider_session("auth0_user_only")));
    assert_eq!(body_json(&r)["reused"], true, "{}", r.body);
}

/// `email_verified: true` is required unless the provider says otherwise; `{}` opts out.
#[test]
fn a_verified_email_is_required_unless_opted_out() {
    let unverified = case("firebase_unverified_email")["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let w = world();
    assert_eq!(w.exchange(&unverified).status, 401);
    assert_eq!(
        w.platform.last_log()["detail"],
        "required_claim: email_verified"
    );
    let mut p = providers();
    p[2]["allow_unverified_email"] = json!(true);
    let w = world().var("PROVIDERS", &p.to_string());
    w.stytch_ok();
    assert_eq!(w.exchange(&unverified).status, 200);
    // Alone, a provider may also opt out with an empty list.
    let mut alone = providers();
    alone[2]["required_claims"] = json!({});
    let w = World::new().var("PROVIDERS", &json!([alone[2]]).to_string());
    assert!(w.config().is_ok());
}

#[test]
fn with_several_providers_each_vouches_for_its_emails_or_says_it_cannot() {
    // The preset without an email rule, next to another provider: refused, naming it.
    let mut p = providers();
    p[0].as_object_mut()
        .unwrap()
        .remove("allow_unverified_email");
    let e = parse(&p.to_string()).unwrap_err();
    assert!(
        e.problem
            .starts_with("provider supabase: required_claims: with several providers"),
        "{}",
        e.problem
    );
    // An empty list is no longer enough for another provider either.
    let mut p = providers();
    p[1]["required_claims"] = json!({});
    assert!(
        parse(&p.to_string())
            .unwrap_err()
            .problem
            .starts_with("provider auth0: ")
    );
    // The preset's required_claims are added to its role rule: a hook's email_verified.
    let mut p = providers();
    p[0].as_object_mut()
        .unwrap()
        .remove("allow_unverified_email");
    p[0]["required_claims"] = json!({ "email_verified": true });
    let c = parse(&p.to_string()).unwrap();
    assert_eq!(
        c.providers[0].policy.required_claims,
        [
            ("role".to_owned(), json!("authenticated")),
            ("email_verified".to_owned(), json!(true))
        ]
    );
    let w = world().var("PROVIDERS", &p.to_string());
    assert_eq!(w.exchange(&token("valid_es256")).status, 401);
    assert_eq!(
        w.platform.last_log()["detail"],
        "required_claim: email_verified"
    );
    // user_metadata.email_verified is the user's own say-so: it does not count.
    assert_eq!(w.exchange(&token("mfa_enrolled_user_written")).status, 401);
    w.stytch_ok();
    assert_eq!(w.exchange(&token("valid_email_verified")).status, 200);
    // Saying both is refused.
    let mut p = providers();
    p[1]["allow_unverified_email"] = json!(true);
    p[1]["required_claims"] = json!({ "email_verified": true });
    assert!(
        parse(&p.to_string())
            .unwrap_err()
            .problem
            .contains("say one or the other")
    );
}

#[test]
fn user_metadata_is_never_where_a_rule_reads_from() {
    for (field, value) in [
        ("mfa_enrolled_claim", json!("user_metadata.mfa_enrolled")),
        (
            "required_claims",
            json!({ "user_metadata": { "org": "x" } }),
        ),
    ] {
        let mut p = providers();
        p[0][field] = value;
        let e = parse(&p.to_string()).unwrap_err();
        assert!(
            e.problem.contains("user_metadata"),
            "{field}: {}",
            e.problem
        );
        assert!(
            e.problem
                .starts_with(&format!("provider supabase: {field}: "))
        );
    }
    let b2b = json!([{ "name": "s", "preset": "supabase", "project_url": SUPABASE, "stytch_profile_id": "p", "stytch_product": "b2b", "organization_id_claim": "user_metadata.org_id" }]);
    let e = parse(&b2b.to_string()).unwrap_err();
    assert!(
        e.problem
            .starts_with("provider s: organization_id_claim: user_metadata"),
        "{}",
        e.problem
    );
    for (var, value) in [
        ("STYTCH_ORGANIZATION_ID_CLAIM", "user_metadata.org_id"),
        ("MFA_ENROLLED_CLAIM", "user_metadata.mfa"),
    ] {
        let w = World::new().var("STYTCH_PRODUCT", "b2b").var(var, value);
        assert_eq!(w.config().unwrap_err().variable, var);
    }
}

#[test]
fn assurance_fields_are_read_and_checked() {
    use edge_attest::jwt::assurance::Aal;
    let mut p = providers();
    p[0]["required_aal"] = json!("aal2");
    p[1]["mfa_enrolled_claim"] = json!("https://example.com/mfa");
    let c = parse(&p.to_string()).unwrap();
    assert_eq!(c.providers[0].policy.assurance.required, Aal::Aal2);
    assert_eq!(c.providers[1].policy.assurance.required, Aal::Aal1);
    assert_eq!(
        c.providers[1]
            .policy
            .assurance
            .mfa_enrolled_claim
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("https://example.com/mfa")
    );
    for bad in [json!("aal3"), json!("AAL2"), json!(2)] {
        let mut p = providers();
        p[0]["required_aal"] = bad.clone();
        let e = parse(&p.to_string()).unwrap_err();
        assert!(
            e.problem.starts_with("provider supabase: required_aal: "),
            "{bad}: {}",
            e.problem
        );
    }
    let w = World::new().var("REQUIRED_AAL", "aal3");
    assert_eq!(w.config().unwrap_err().variable, "REQUIRED_AAL");
    let w = World::new().var("MFA_ENROLLED_CLAIM", "a..b");
    assert_eq!(w.config().unwrap_err().variable, "MFA_ENROLLED_CLAIM");
}

// ---- the variable ----

fn parse(providers: &str) -> Result<Config, edge_attest::config::ConfigError> {
    let w = World::new().var("PROVIDERS", providers);
    w.config()
}

#[test]
fn providers_are_read_into_their_rules() {
    let c = parse(&providers().to_string()).unwrap();
    assert_eq!(c.providers.len(), 3);
    let [supabase, auth0, firebase] = [&c.providers[0], &c.providers[1], &c.providers[2]];
    assert_eq!(supabase.policy.issuers, [format!("{SUPABASE}/auth/v1")]);
    assert_eq!(supabase.keys, KeySource::Jwks(JWKS_URL.into()));
    assert_eq!(
        supabase.policy.anonymous,
        Some(AnonymousRule::SupabaseIsAnonymous)
    );
    assert_eq!(
        supabase.policy.required_claims,
        [("role".to_owned(), json!("authenticated"))]
    );
    assert_eq!(
        auth0.keys,
        KeySource::Discovery {
            url: AUTH0_DISCOVERY.into(),
            issuer: provider("auth0")["issuer"].as_str().unwrap().into()
        }
    );
    assert_eq!(
        auth0.policy.algorithms,
        [edge_attest::keys::jwk::Alg::Rs256],
        "RS256 unless said otherwise"
    );
    assert_eq!(auth0.policy.anonymous, None);
    assert_eq!(
        auth0.policy.required_claims,
        [("email_verified".to_owned(), json!(true))],
        "a verified email unless said otherwise"
    );
    assert_eq!(firebase.keys, KeySource::Jwks(FIREBASE_JWKS.into()));
    assert_eq!(
        firebase.policy.anonymous,
        Some(AnonymousRule::FirebaseSignInProvider)
    );
    assert_eq!(firebase.stytch_profile_id, "profile-firebase");
    // Logins are told apart by Supabase's session_id, by OpenID Connect's sid elsewhere.
    assert_eq!(supabase.session_claim.as_deref(), Some("session_id"));
    assert_eq!(auth0.session_claim.as_deref(), Some("sid"));
    let c = parse(r#"[{"name":"k","issuer":"https://id.example.com/","audiences":["app"],"session_claim":"origin_jti","stytch_profile_id":"p"},{"name":"n","issuer":"https://n.example.com/","audiences":["app"],"session_claim":false,"stytch_profile_id":"p"}]"#).unwrap();
    assert_eq!(c.providers[0].session_claim.as_deref(), Some("origin_jti"));
    assert_eq!(c.providers[1].session_claim, None);
    // Without a trailing slash, discovery adds one.
    let c = parse(r#"[{"name":"k","issuer":"https://id.example.com/realms/app","audiences":["app"],"stytch_profile_id":"p"}]"#).unwrap();
    assert_eq!(
        c.providers[0].keys,
        KeySource::Discovery {
            url: "https://id.example.com/realms/app/.well-known/openid-configuration".into(),
            issuer: "https://id.example.com/realms/app".into()
        }
    );
}

#[test]
fn providers_replace_the_supabase_variables() {
    // SUPABASE_URL and STYTCH_PROFILE_ID are ignored: PROVIDERS is the complete list.
    let mut w = World::new().var(
        "PROVIDERS",
        r#"[{"name":"k","issuer":"https://id.example.com/","audiences":["app"],"stytch_profile_id":"p"}]"#,
    );
    w.vars.remove("STYTCH_PROFILE_ID");
    let c = w.config().unwrap();
    assert_eq!(c.providers.len(), 1);
    assert_eq!(c.providers[0].name, "k");
}

#[test]
fn invalid_providers_are_500_naming_the_provider_and_field() {
    let ok =
        r#"{"name":"a","issuer":"https://a.example/","audiences":["x"],"stytch_profile_id":"p"}"#;
    for (providers, says) in [
        ("not json", "is not JSON"),
        (r#"{"name":"a"}"#, "must be a JSON array"),
        ("[]", "must list 1 to 16"),
        (r#"[{"issuer":"https://a.example/"}]"#, "provider #0: name:"),
        (
            r#"[{"name":"a b","issuer":"https://a.example/"}]"#,
            "provider #0: name:",
        ),
        (
            r#"[{"name":"a","audiences":["x"],"stytch_profile_id":"p"}]"#,
            "provider a: issuer: is required",
        ),
        (
            r#"[{"name":"a","issuer":"http://a.example/","audiences":["x"],"stytch_profile_id":"p"}]"#,
            "provider a: issuer:",
        ),
        (
            r#"[{"name":"a","issuer":"https://a.example/","stytch_profile_id":"p"}]"#,
            "provider a: audiences: is required",
        ),
        (
            r#"[{"name":"a","issuer":"https://a.example/","audiences":[],"stytch_profile_id":"p"}]"#,
            "provider a: audiences:",
        ),
        (
            r#"[{"name":"a","issuer":"https://a.example/","audiences":["x"]}]"#,
            "provider a: stytch_profile_id: is required",
        ),
        (
            r#"[{"name":"a","issuer":"https://a.example/","audience":["x"],"stytch_profile_id":"p"}]"#,
            "provider a: audience: is not a provider field",
        ),
        (
            r#"[{"name":"a","issuer":"https://a.example/","audiences":["x"],"algorithms":["HS256"],"stytch_profile_id":"p"}]"#,
            "provider a: algorithms: HS256",
        ),
        (
            r#"[{"name":"a","issuer":"https://a.example/","audiences":["x"],"jwks_url":"http://a.example/k","stytch_profile_id":"p"}]"#,
            "provider a: jwks_url:",
        ),
        (
            r#"[{"name":"a","issuer":"https://a.example/","audiences":["x"],"required_claims":{"role":null},"stytch_profile_id":"p"}]"#,
            "provider a: required_claims:",
        ),
        (
            r#"[{"name":"a","issuer":"https://a.example/","audiences":["x"],"required_claims":{"aud":"x"},"stytch_profile_id":"p"}]"#,
            "provider a: required_claims: aud",
        ),
        (
            r#"[{"name":"a","issuer":"https://a.example/","audiences":["x"],"anonymous_users":"clerk","stytch_profile_id":"p"}]"#,
            "provider a: anonymous_users:",
        ),
        (
            r#"[{"name":"a","issuer":"https://a.example/","audiences":["x"],"allow_anonymous":"yes","stytch_profile_id":"p"}]"#,
            "provider a: allow_anonymous:",
        ),
        (
            r#"[{"name":"a","issuer":"https://a.example/","audiences":["x"],"session_claim":"sub","stytch_profile_id":"p"}]"#,
            "provider a: session_claim:",
        ),
        (
            r#"[{"name":"a","issuer":"https://a.example/","audiences":["x"],"session_claim":true,"stytch_profile_id":"p"}]"#,
            "provider a: session_claim:",
        ),
        (
            r#"[{"name":"a","preset":"auth0","stytch_profile_id":"p"}]"#,
            "provider a: preset:",
        ),
        (
            r#"[{"name":"a","preset":"supabase","stytch_profile_id":"p"}]"#,
            "provider a: project_url: is required",
        ),
        (
            r#"[{"name":"a","preset":"supabase","project_url":"https://x.supabase.co","issuer":"https://x/","stytch_profile_id":"p"}]"#,
            "provider a: issuer: comes from project_url",
        ),
        (
            r#"[{"name":"a","issuer":" https://a.example/","audiences":["x"],"stytch_profile_id":"p"}]"#,
            "provider a: issuer:",
        ),
        (&format!("[{ok},{ok}]"), "provider a: name: is used twice"),
        (
            &format!(r#"[{ok},{}]"#, ok.replace(r#""name":"a""#, r#""name":"b""#)),
            "provider b: issuer: is already a's",
        ),
        (
            r#"[{"name":"a","name":"b","issuer":"https://a.example/","audiences":["x"],"stytch_profile_id":"p"}]"#,
            "duplicate",
        ),
    ] {
        let e = parse(providers).expect_err(providers);
        assert_eq!(e.variable, "PROVIDERS");
        assert!(
            e.problem.contains(says),
            "{providers}\n  says: {}\n  expected: {says}",
            e.problem
        );
        // And a request answers 500 misconfigured, the log naming it.
        let w = World::new().var("PROVIDERS", providers);
        let r = w.request("GET", "/healthz", &[], "");
        assert_eq!(r.status, 500);
        assert!(
            w.platform.last_log()["detail"]
                .as_str()
                .unwrap()
                .starts_with("PROVIDERS: ")
        );
    }
}
