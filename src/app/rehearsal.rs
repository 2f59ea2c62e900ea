//! The start-up rehearsal: a first exchange, and with `PROTECT` a first request through the
//! gateway with the session it made, played through the real handler at module evaluation,
//! against canned answers, so that V8 compiles the request path while the isolate
//! starts (on a new connection, inside the TLS handshake) rather than on the first request a
//! user waits for.
//!
//! V8 compiles a WebAssembly function the first time it is called (lazy compilation, the
//! default workerd keeps); nothing else makes it compile one. Calling the exchange's functions
//! means calling them with the same concrete types a request uses, so the runtime glue runs
//! this rehearsal through its own I/O types in a rehearsal mode, each answering from here:
//! [`Rehearsal::answer`] for HTTP, nothing in KV, every rate limit passing, and a signature
//! check that accepts [`is_signature`] only. docs/benchmarks.md ("The first request of a loaded
//! isolate") has what it moves and what it costs at start-up.
//!
//! What keeps it apart from real requests: the rehearsal mode is a value only the glue's
//! start-up function builds, in an isolate state of its own (its own key memory, refreshes,
//! notes and imported keys) that is dropped when the rehearsal ends; every request builds its
//! I/O from the isolate's real state, which has none. The canned keys' ids and the token's
//! subject are this module's (its issuer is the first provider's, so its rules apply), and
//! its signature, which no signer makes, is refused by the real backend.

use super::routes::Route;
use crate::config::{Config, KeySource, Provider};
use crate::formats::time::format_rfc3339;
use crate::formats::{b64, json};
use crate::gateway::Choice;
use crate::gateway::policy::{Requirements, SessionRule};
use crate::http::{Method, OutboundRequest, OutboundResponse, TransportError};
use crate::jwt::assurance::Aal;
use crate::jwt::verify::AnonymousRule;
use crate::keys::jwk::Alg;
use crate::stytch::ids::clean_id;
use crate::stytch::organization::{ORGANIZATION_CLAIM, OrganizationSource};
use crate::stytch::project::Product;
use crate::stytch::session::SESSION_CLAIM;
use serde_json::{Map, Value};
use std::cell::RefCell;

/// What every rehearsal signature is made of, repeated to the length the algorithm's
/// signatures have (64 bytes, or an RSA key's 256). Not a signature of anything: the real
/// backend refuses it, and the rehearsal's accepts nothing else ([`is_signature`]).
const SIGNATURE_TEXT: &[u8] = b"edge-attest start-up rehearsal, not a signature. ";

/// The rehearsal's signature of `len` bytes.
fn signature(len: usize) -> Vec<u8> {
    SIGNATURE_TEXT.iter().copied().cycle().take(len).collect()
}

/// Whether `sig` is a rehearsal signature: the only signature the rehearsal's backend
/// accepts.
pub fn is_signature(sig: &[u8]) -> bool {
    matches!(sig.len(), 64 | 256) && sig == signature(sig.len())
}

/// The rehearsal request's origin: a reserved name (RFC 6761) no deployment serves.
pub const ORIGIN: &str = "https://rehearsal.invalid";

/// The address the rehearsal's requests come from, as Cloudflare names a client's: TEST-NET-1
/// (RFC 5737), so that the per-address rate limit runs as for a real client.
const CLIENT_ADDRESS: &str = "192.0.2.1";

/// The key ids of the rehearsal's keys, one per algorithm.
const KIDS: [(Alg, &str); 3] = [
    (Alg::Es256, "edge-attest-rehearsal-es256"),
    (Alg::Rs256, "edge-attest-rehearsal-rs256"),
    (Alg::EdDsa, "edge-attest-rehearsal-eddsa"),
];

/// How long the rehearsal's token lives, from the clock it is made with.
const TOKEN_SECS: i64 = 600;

/// The identifiers in the canned answers: named so no one mistakes them for a real user's.
const SUBJECT: &str = "edge-attest-rehearsal";
const USER_ID: &str = "user-rehearsal-00000000";
const MEMBER_ID: &str = "member-rehearsal-00000000";
const ORGANIZATION_ID: &str = "organization-rehearsal-00000000";
const SESSION_ID: &str = "session-rehearsal-00000000";
const SESSION_TOKEN: &str = "rehearsal-session-token-00000000000000";

/// A rehearsal for one configuration: the request to play and the answers to give.
#[derive(Debug)]
pub struct Rehearsal {
    /// The exchange's body: `{"access_token": …}`, as the client module sends it.
    exchange_body: String,
    /// The provider's key-set location, answered with the canned key set.
    discovery: Option<(String, String)>,
    /// Consumer or B2B: which attest answer.
    product: Product,
    /// The clock the token and the answers are made with (Unix seconds).
    now: i64,
    /// Stytch's issuer and audience for this project's session JWTs.
    project_id: String,
    /// The session cookies' names: the session token's, the session JWT's.
    cookie_names: [String; 2],
    /// A path a protected rule covers, when the gateway has one.
    gateway_path: Option<String>,
    /// The session JWT of the last attest answer, which the gateway request presents.
    minted: RefCell<Option<String>>,
}

/// A request of a rehearsal: method, URL, headers (lower-case), body.
#[derive(Debug)]
pub struct RehearsalRequest {
    /// `POST` or `GET`.
    pub method: &'static str,
    /// [`ORIGIN`] and the path.
    pub url: String,
    /// What the client module sends, and the address Cloudflare adds.
    pub headers: Vec<(&'static str, String)>,
    /// The JSON body.
    pub body: String,
}

impl Rehearsal {
    /// The rehearsal of `config`'s first provider at `now_ms`: a token that provider's rules
    /// accept (its issuer and audience, its required claims, not anonymous, the required
    /// assurance level, the organization claim it reads), or `None` when its rules cannot be
    /// met by a token made here (it accepts no algorithm the rehearsal has a key for).
    pub fn new(config: &Config, now_ms: u64) -> Option<Self> {
        let provider = config.providers.first()?;
        let now = i64::try_from(now_ms / 1000).ok()?;
        let (alg, kid) = provider
            .policy
            .algorithms
            .iter()
            .find_map(|a| KIDS.iter().find(|(k, _)| k == a))?;
        let header = format!(r#"{{"alg":"{}","kid":"{kid}","typ":"JWT"}}"#, alg.name());
        let mut claims = String::new();
        write_json(&mut claims, &Value::Object(token_claims(provider, now)))?;
        let token = format!(
            "{}.{}.{}",
            b64::encode(header.as_bytes()),
            b64::encode(claims.as_bytes()),
            b64::encode(&signature(if *alg == Alg::Rs256 { 256 } else { 64 }))
        );
        let discovery = match &provider.keys {
            KeySource::Jwks(_) => None,
            KeySource::Discovery { url, issuer } => Some((url.clone(), issuer.clone())),
        };
        // A path a protected rule covers and answers for, not one of the worker's own routes:
        // preferably a rule the rehearsal's session meets (no roles, the organizations and
        // assurance level every session has), so that the forwarding is compiled too.
        let required = provider.policy.assurance.required;
        let candidates = || {
            config
                .protect
                .iter()
                .filter_map(|rule| match &rule.access.session {
                    SessionRule::Required(r) => Some((rule.pattern.example(), r)),
                    SessionRule::Public => None,
                })
                .filter(|(path, _)| {
                    Route::at(path).is_none()
                        && matches!(config.protect.choose(path, "GET"), Ok(Choice::Rule(_, rule)) if rule.is_protected())
                })
        };
        let met = |r: &Requirements| {
            r.roles.is_empty()
                && r.aal.is_none_or(|aal| aal <= required)
                && r.organizations
                    .as_ref()
                    .is_none_or(|o| *o == config.baseline.organizations)
        };
        let gateway_path = candidates()
            .find(|(_, r)| met(r))
            .or_else(|| candidates().next())
            .map(|(path, _)| path);
        Some(Self {
            exchange_body: format!(r#"{{"access_token":"{token}"}}"#),
            discovery,
            product: config.stytch.product,
            now,
            project_id: config.stytch.project_id.clone(),
            cookie_names: [
                config.cookies.session_name.clone(),
                config.cookies.jwt_name.clone(),
            ],
            gateway_path,
            minted: RefCell::default(),
        })
    }

    /// The exchange request to play, same-origin as a browser on the app's host sends it.
    pub fn exchange_request(&self) -> RehearsalRequest {
        RehearsalRequest {
            method: "POST",
            url: format!("{ORIGIN}{}", Route::Exchange.path()),
            headers: vec![
                ("content-type", "application/json".to_owned()),
                ("origin", ORIGIN.to_owned()),
                ("content-length", self.exchange_body.len().to_string()),
                ("cf-connecting-ip", CLIENT_ADDRESS.to_owned()),
            ],
            body: self.exchange_body.clone(),
        }
    }

    /// The request through the gateway, once the exchange has made a session: a `GET` of a
    /// path a protected rule covers, with the session's cookies. `None` without a gateway
    /// (or a protected rule), or before the exchange.
    pub fn gateway_request(&self) -> Option<RehearsalRequest> {
        let path = self.gateway_path.as_deref()?;
        let jwt = self.minted.borrow().clone()?;
        let [session, jwt_name] = &self.cookie_names;
        Some(RehearsalRequest {
            method: "GET",
            url: format!("{ORIGIN}{path}"),
            headers: vec![
                (
                    "cookie",
                    format!("{session}={SESSION_TOKEN}; {jwt_name}={jwt}"),
                ),
                ("cf-connecting-ip", CLIENT_ADDRESS.to_owned()),
            ],
            body: String::new(),
        })
    }

    /// The canned answer to an outbound request: the provider's OpenID configuration, a key
    /// set, or Stytch's attest answer; 404 for anything else.
    pub fn answer(&self, req: &OutboundRequest) -> Result<OutboundResponse, TransportError> {
        let json = |status: u16, body: String| {
            Ok(OutboundResponse {
                status,
                headers: vec![
                    ("content-type".to_owned(), "application/json".to_owned()),
                    ("cache-control".to_owned(), "max-age=600".to_owned()),
                ],
                body: body.into_bytes(),
            })
        };
        match req.method {
            Method::Get => match &self.discovery {
                Some((url, issuer)) if *url == req.url => json(
                    200,
                    format!(
                        r#"{{"issuer":{},"jwks_uri":"{ORIGIN}/jwks"}}"#,
                        quoted(issuer)
                    ),
                ),
                _ => json(200, KEY_SET.to_owned()),
            },
            Method::Post if req.url.ends_with(self.product.attest_path()) => {
                // B2B: the member joins the organization the worker asked for; the session
                // JWT carries the custom claims asked for; as Stytch answers.
                let [asked, custom] = req
                    .body
                    .as_deref()
                    .and_then(|b| {
                        json::pick(b.as_bytes(), &["organization_id", "session_custom_claims"]).ok()
                    })
                    .and_then(|v| <[Option<Value>; 2]>::try_from(v).ok())
                    .unwrap_or_default();
                let asked = asked.as_ref().and_then(Value::as_str);
                json(200, self.attest_answer(asked, custom.as_ref()))
            }
            Method::Post => json(404, r#"{"status_code":404}"#.to_owned()),
        }
    }

    /// Stytch's answer to an attest (consumer or B2B), shaped as stytch-node's
    /// `SessionsAttestResponse` and `B2BSessionsAttestResponse`; B2B in the organization
    /// `asked` (by id or slug), as Stytch answers.
    fn attest_answer(&self, asked: Option<&str>, custom: Option<&Value>) -> String {
        let now = self.now;
        let times = format!(
            r#""started_at":"{0}","last_accessed_at":"{0}","expires_at":"{1}","authentication_factors":[],"roles":[]"#,
            format_rfc3339(now),
            format_rfc3339(now + 3600)
        );
        let id = quoted(&clean_id(asked).unwrap_or_else(|| ORGANIZATION_ID.to_owned()));
        let slug = quoted(asked.unwrap_or("rehearsal"));
        let jwt = self.session_jwt(&times, custom, [&id, &slug]);
        let common = format!(
            r#""status_code":200,"request_id":"request-id-rehearsal-0000","session_token":"{SESSION_TOKEN}","session_jwt":"{jwt}""#
        );
        *self.minted.borrow_mut() = Some(jwt);
        match self.product {
            Product::Consumer => format!(
                r#"{{{common},"user_id":"{USER_ID}","user":{{"user_id":"{USER_ID}","status":"active"}},"session":{{"session_id":"{SESSION_ID}","user_id":"{USER_ID}",{times}}}}}"#
            ),
            Product::B2b => {
                let organization = format!(r#""organization_id":{id},"organization_slug":{slug}"#);
                format!(
                    r#"{{{common},"member_id":"{MEMBER_ID}","member":{{"member_id":"{MEMBER_ID}","status":"active"}},"organization":{{{organization}}},"member_session":{{"member_session_id":"{SESSION_ID}","member_id":"{MEMBER_ID}",{organization},{times}}}}}"#
                )
            }
        }
    }
}

impl Rehearsal {
    /// A session JWT as Stytch mints one for the session (`times`: its session claim's
    /// members), with the `custom` claims the attest asked for and, B2B, the organization
    /// (`[id, slug]`, JSON strings): RS256 under the rehearsal's key, for the project.
    fn session_jwt(&self, times: &str, custom: Option<&Value>, [id, slug]: [&str; 2]) -> String {
        let (now, project) = (self.now, &self.project_id);
        let subject = match self.product {
            Product::Consumer => USER_ID,
            Product::B2b => MEMBER_ID,
        };
        let mut claims = format!(
            r#"{{"aud":["{project}"],"exp":{},"iat":{now},"iss":"stytch.com/{project}","nbf":{now},"sub":"{subject}","{SESSION_CLAIM}":{{"id":"{SESSION_ID}",{times}}}"#,
            now + 300
        );
        if self.product == Product::B2b {
            claims.push_str(&format!(
                r#","{ORGANIZATION_CLAIM}":{{"organization_id":{id},"slug":{slug}}}"#
            ));
        }
        let mut members = String::new();
        // The custom claims' members, among the JWT's own.
        if let Some(custom @ Value::Object(_)) = custom
            && write_json(&mut members, custom).is_some()
            && let Some(inner) = members.get(1..members.len() - 1).filter(|m| !m.is_empty())
        {
            claims.push(',');
            claims.push_str(inner);
        }
        claims.push('}');
        format!(
            "{}.{}.{}",
            b64::encode(
                format!(r#"{{"alg":"RS256","kid":"{}","typ":"JWT"}}"#, KIDS[1].1).as_bytes()
            ),
            b64::encode(claims.as_bytes()),
            b64::encode(&signature(256))
        )
    }
}

/// The claims of a token `provider`'s rules accept at `now`.
fn token_claims(provider: &Provider, now: i64) -> Map<String, Value> {
    let policy = &provider.policy;
    // One by one: collecting into the map would sort, and bring a sort into the WASM.
    let mut claims = Map::new();
    for (name, value) in &policy.required_claims {
        claims.insert(name.clone(), value.clone());
    }
    if let Some(iss) = policy.issuers.first() {
        claims.insert("iss".into(), iss.clone().into());
    }
    if let Some(aud) = policy.audiences.first() {
        claims.insert("aud".into(), aud.clone().into());
    }
    claims.insert("sub".into(), SUBJECT.into());
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), (now + TOKEN_SECS).into());
    if let Some(name) = &provider.session_claim {
        claims.insert(name.clone(), SESSION_ID.into());
    }
    match policy.anonymous {
        Some(AnonymousRule::SupabaseIsAnonymous) => {
            claims.insert("is_anonymous".into(), false.into());
        }
        Some(AnonymousRule::FirebaseSignInProvider) => {
            let mut firebase = Map::new();
            firebase.insert("sign_in_provider".into(), "password".into());
            claims.insert("firebase".into(), Value::Object(firebase));
        }
        None => {}
    }
    let required = policy.assurance.required;
    if required != Aal::Aal1 || provider.session_claim.is_some() {
        claims.insert("aal".into(), required.name().into());
    }
    if let Some(path) = &policy.assurance.mfa_enrolled_claim {
        path.insert_into(&mut claims, false.into());
    }
    if let Some(OrganizationSource::Claim(path)) = &provider.organization {
        path.insert_into(&mut claims, ORGANIZATION_ID.into());
    }
    claims
}

/// A JSON string.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// `value` as JSON, written here rather than by `serde_json`'s `Value` serialiser, which would
/// bring its float formatting into the WASM for this alone (about 20 KB gzip, measured); a
/// number that is not an integer gives `None` (no rehearsal).
fn write_json(out: &mut String, value: &Value) -> Option<()> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(
            &n.as_i64()
                .map(|i| i.to_string())
                .or_else(|| n.as_u64().map(|u| u.to_string()))?,
        ),
        Value::String(s) => out.push_str(&quoted(s)),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item)?;
            }
            out.push(']');
        }
        Value::Object(members) => {
            out.push('{');
            for (i, (name, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&quoted(name));
                out.push(':');
                write_json(out, item)?;
            }
            out.push('}');
        }
    }
    Some(())
}

/// The rehearsal's key set: one public key per algorithm, each under its own key id.
/// Their private halves play no part: only [`is_signature`] is accepted, and only in a
/// rehearsal.
const KEY_SET: &str = concat!(
    r#"{"keys":["#,
    r#"{"kty":"EC","crv":"P-256","alg":"ES256","use":"sig","kid":"edge-attest-rehearsal-es256","x":"vHqiCEzZVChU_wFDKUFE408qMzkX6ti7lIOUWOyH2eI","y":"vryN7rSL8R1VOIwYSsbQmCNjiBgMZH-10sXyQIv5o7I"},"#,
    r#"{"kty":"RSA","alg":"RS256","use":"sig","kid":"edge-attest-rehearsal-rs256","e":"AQAB","n":"0vCZ9Ce10yWeRUj28L1n7Pu8x1rtGy3TsEGW0RLkH0XNM2cMZHtSpaxtl_87i_SRnETtH2uq9DlCwT-td6Y0dlPRgAXV6Nz6dpLI1_jaG_6vWkjWJsUesc3IbIQCsfdIolTIt16leu6qw_yJ1TiIh6FBasbgBQog_ywL-7SRQ2TeZ13M3yhinvLHnn22vfyjVKOBTm_LDoYIvWx_dHNFrwMUP1b-3hooH7GZB6E2p_TEEElYLS_UxWoCJwPeIJiAGHBdrD0PYEm6IoTKe3W1aNZYM8TEn_2D-M7cO1lrWcxynXZMpgccjUEJJssk15Idud05eeograu0OJaT6oBUnQ"},"#,
    r#"{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","use":"sig","kid":"edge-attest-rehearsal-eddsa","x":"3p6k2rk1SCBoOvXLnzb2fd4i3KtvQgfxGHzIKGHyCAY"}"#,
    r#"]}"#
);
