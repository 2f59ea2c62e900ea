//! The identity providers whose tokens the worker exchanges: each an issuer with its own
//! keys, rules and Stytch Trusted Auth Token profile.
//!
//! Two ways to configure them. With `PROVIDERS`, a JSON array (text, or a structured value
//! in `[vars]`), which is then the complete list; a Supabase project can be written as the
//! preset `{"name": …, "preset": "supabase", "project_url": …, "stytch_profile_id": …}`.
//! Without it, the zero-configuration Supabase provider of `SUPABASE_URL` and the variables
//! that refine it (`JWT_ISSUER`, `JWKS_URL`, `JWT_AUDIENCE`, `JWT_ALGORITHMS`,
//! `REQUIRED_ROLE`, `ALLOW_ANONYMOUS`, `REQUIRED_AAL`, `MFA_ENROLLED_CLAIM`,
//! `STYTCH_PROFILE_ID`, and for a B2B project
//! `STYTCH_ORGANIZATION_ID` or `STYTCH_ORGANIZATION_ID_CLAIM`), exactly as before providers.

use super::fields::{EntryError, Fields, json_list};
use super::{ConfigError, Vars, base_url, checked_url, comma_list, err, parse_algorithms};
use crate::jwt::assurance::{Aal, Assurance};
use crate::jwt::claims::ClaimPath;
use crate::jwt::verify::{AnonymousRule, Policy};
use crate::keys::jwk::Alg;
use crate::stytch::organization::{OrganizationSource, is_organization_ref};
use crate::stytch::project::Product;
use serde_json::{Map, Value};

/// Most providers one worker may have: issuers are looked up one by one, and a migration
/// rarely involves more than a handful.
pub const MAX_PROVIDERS: usize = 16;
/// Largest `PROVIDERS` value read.
pub const MAX_PROVIDERS_BYTES: usize = 32 * 1024;
/// Where an OpenID Connect issuer publishes its configuration, after the issuer URL.
pub const DISCOVERY_PATH: &str = ".well-known/openid-configuration";
/// The session claim of a provider that does not name one: OpenID Connect's session id
/// (Front-Channel and Back-Channel Logout), which Auth0, Clerk and Keycloak put in their
/// tokens. A token without it links by issuer and subject alone.
pub const OIDC_SESSION_CLAIM: &str = "sid";
/// Supabase's session claim: the login's id, the same in every refreshed access token.
pub const SUPABASE_SESSION_CLAIM: &str = "session_id";
/// The claim a provider's tokens must carry as `true` unless its `required_claims` say
/// otherwise: Stytch finds (or creates) the user by the mapped email, so an address nobody
/// proved they own would sign its owner's Stytch account in. `"required_claims": {}` or
/// `"allow_unverified_email": true` opts out (with several providers, only the latter).
pub const EMAIL_VERIFIED_CLAIM: &str = "email_verified";
/// `REQUIRED_ROLE` value that accepts a token whatever its `role`.
pub const ANY_ROLE: &str = "*";

/// One identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    /// Its name, for the log.
    pub name: String,
    /// What its tokens must satisfy; `issuers` are the ones that select it.
    pub policy: Policy,
    /// Where its keys are.
    pub keys: KeySource,
    /// The Stytch Trusted Auth Token profile that trusts this issuer.
    pub stytch_profile_id: String,
    /// The claim naming the login a token belongs to, stable across its refreshes: recorded
    /// in the session link so that a repeat exchange reuses only that login's Stytch session.
    /// `None`: links name the user alone.
    pub session_claim: Option<String>,
    /// B2B: the organization to put members in; `None` leaves it to the profile's mapping of
    /// the token's own claim (and for a consumer project, there is none).
    pub organization: Option<OrganizationSource>,
}

/// Where a provider's keys are published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A key set at this URL.
    Jwks(String),
    /// The key set the provider's OpenID Connect configuration names: the document at `url`,
    /// which must name `issuer` exactly and an https key set.
    Discovery {
        /// `{issuer}/.well-known/openid-configuration`.
        url: String,
        /// The issuer the document must name.
        issuer: String,
    },
}

impl KeySource {
    fn discovery(issuer: &str) -> Self {
        let slash = if issuer.ends_with('/') { "" } else { "/" };
        Self::Discovery {
            url: format!("{issuer}{slash}{DISCOVERY_PATH}"),
            issuer: issuer.to_owned(),
        }
    }
}

/// The Supabase provider of a project URL: issuer `<url>/auth/v1`, its JWKS, audience
/// `authenticated`, ES256 and RS256, `role: authenticated` required, anonymous users refused.
fn supabase(project_url: &str, skew_secs: i64, profile_id: String, name: String) -> Provider {
    let issuer = format!("{project_url}/auth/v1");
    Provider {
        name,
        policy: Policy {
            issuers: vec![issuer.clone()],
            audiences: vec!["authenticated".to_owned()],
            algorithms: vec![Alg::Es256, Alg::Rs256],
            skew_secs,
            required_claims: vec![("role".to_owned(), Value::from("authenticated"))],
            anonymous: Some(AnonymousRule::SupabaseIsAnonymous),
            assurance: Default::default(),
        },
        keys: KeySource::Jwks(format!("{issuer}/.well-known/jwks.json")),
        stytch_profile_id: profile_id,
        session_claim: Some(SUPABASE_SESSION_CLAIM.to_owned()),
        organization: None,
    }
}

/// The variables of the zero-configuration Supabase provider, which `PROVIDERS` replaces
/// whole: when both are set these are ignored, and `edge-attest check` warns about each one
/// set, since a deployment that still sets one most likely expects it to apply.
pub const SHADOWED_BY_PROVIDERS: [&str; 12] = [
    "SUPABASE_URL",
    "STYTCH_PROFILE_ID",
    "JWT_ISSUER",
    "JWKS_URL",
    "JWT_AUDIENCE",
    "JWT_ALGORITHMS",
    "REQUIRED_ROLE",
    "ALLOW_ANONYMOUS",
    "REQUIRED_AAL",
    "MFA_ENROLLED_CLAIM",
    "STYTCH_ORGANIZATION_ID",
    "STYTCH_ORGANIZATION_ID_CLAIM",
];

/// The identity providers and the product of the Stytch project they use: `PROVIDERS` when
/// set (the complete list), otherwise the zero-configuration Supabase provider; the product
/// from `STYTCH_PRODUCT`, or what the providers say.
pub(super) fn read(
    vars: &Vars<'_>,
    skew_secs: i64,
) -> Result<(Vec<Provider>, Product), ConfigError> {
    let default_product = match vars.opt("STYTCH_PRODUCT") {
        None => None,
        Some(name) => Some(
            Product::parse(&name)
                .ok_or_else(|| err("STYTCH_PRODUCT", "must be consumer or b2b"))?,
        ),
    };
    match vars.opt("PROVIDERS") {
        Some(text) => from_json(&text, skew_secs, default_product),
        None => {
            let product = default_product.unwrap_or(Product::Consumer);
            Ok((vec![from_variables(vars, skew_secs, product)?], product))
        }
    }
}

/// The zero-configuration provider: `SUPABASE_URL` and the variables that refine it, for a
/// Stytch project of `product`.
fn from_variables(
    vars: &Vars<'_>,
    skew_secs: i64,
    product: Product,
) -> Result<Provider, ConfigError> {
    let project_url = base_url("SUPABASE_URL", &vars.required("SUPABASE_URL")?)?;
    let profile_id = vars.required("STYTCH_PROFILE_ID")?;
    let mut p = supabase(&project_url, skew_secs, profile_id, "supabase".to_owned());
    if let Some(list) = vars.opt("JWT_ISSUER") {
        p.policy.issuers = comma_list(&list);
        if p.policy.issuers.is_empty() {
            return Err(err("JWT_ISSUER", "lists no issuer"));
        }
    }
    if let Some(url) = vars.opt("JWKS_URL") {
        checked_url("JWKS_URL", &url)?;
        p.keys = KeySource::Jwks(url);
    }
    if let Some(audience) = vars.opt("JWT_AUDIENCE") {
        p.policy.audiences = vec![audience];
    }
    if let Some(list) = vars.opt("JWT_ALGORITHMS") {
        p.policy.algorithms =
            parse_algorithms(&list).map_err(|problem| err("JWT_ALGORITHMS", problem))?;
    }
    // `*` accepts any role. Empty is the default like everywhere else: a check that an
    // empty value switched off would fail open on a typo or a blanked variable.
    match vars.opt("REQUIRED_ROLE").as_deref() {
        None => {}
        Some(ANY_ROLE) => p.policy.required_claims.clear(),
        Some(role) => p.policy.required_claims = vec![("role".to_owned(), Value::from(role))],
    }
    if vars.bool("ALLOW_ANONYMOUS", false)? {
        p.policy.anonymous = None;
    }
    p.policy.assurance = assurance(vars.opt("REQUIRED_AAL"), vars.opt("MFA_ENROLLED_CLAIM"))
        .map_err(|(field, problem)| {
            err(
                match field {
                    REQUIRED_AAL => "REQUIRED_AAL",
                    _ => "MFA_ENROLLED_CLAIM",
                },
                problem,
            )
        })?;
    p.organization = organization_source(
        product,
        vars.opt("STYTCH_ORGANIZATION_ID"),
        vars.opt("STYTCH_ORGANIZATION_ID_CLAIM"),
    )
    .map_err(|(field, problem)| {
        err(
            match field {
                ORGANIZATION_ID => "STYTCH_ORGANIZATION_ID",
                _ => "STYTCH_ORGANIZATION_ID_CLAIM",
            },
            problem,
        )
    })?;
    Ok(p)
}

/// The provider field naming the lowest assurance level accepted.
const REQUIRED_AAL: &str = "required_aal";
/// The provider field naming the claim that says a user has a second factor enrolled.
const MFA_ENROLLED_CLAIM: &str = "mfa_enrolled_claim";
/// A claim the user writes: Supabase copies `user_metadata` into every access token, and
/// any signed-in user can change it (`auth.updateUser({ data })`). A rule read from it is
/// the user's own say-so, so no claim path may start there.
pub const USER_WRITABLE_CLAIM: &str = "user_metadata";

/// A provider's assurance rule, from its required level and its enrolment claim; on error,
/// the field at fault and the problem.
fn assurance(
    required: Option<String>,
    claim: Option<String>,
) -> Result<Assurance, (&'static str, String)> {
    let required = match required.as_deref() {
        None | Some("aal1") => Aal::Aal1,
        Some("aal2") => Aal::Aal2,
        Some(_) => return Err((REQUIRED_AAL, "must be aal1 or aal2".into())),
    };
    let mfa_enrolled_claim = match claim {
        None => None,
        Some(path) => {
            Some(trusted_claim_path(&path).map_err(|problem| (MFA_ENROLLED_CLAIM, problem))?)
        }
    };
    Ok(Assurance {
        required,
        mfa_enrolled_claim,
    })
}

/// A claim path a rule may be read from: not under [`USER_WRITABLE_CLAIM`].
fn trusted_claim_path(path: &str) -> Result<ClaimPath, String> {
    let parsed = ClaimPath::parse(path).map_err(str::to_owned)?;
    if parsed.is_under(USER_WRITABLE_CLAIM) {
        return Err(format!(
            "{USER_WRITABLE_CLAIM} is written by the user (Supabase copies it into every token): use a claim only your server sets, like app_metadata or one a Custom Access Token hook adds"
        ));
    }
    Ok(parsed)
}

/// The provider field naming one organization.
const ORGANIZATION_ID: &str = "organization_id";
/// The provider field naming the token's organization claim.
const ORGANIZATION_ID_CLAIM: &str = "organization_id_claim";

/// A provider's organization, from a fixed id or slug or a claim path (at most one of them,
/// and only in a B2B project); on error, the field at fault and the problem.
fn organization_source(
    product: Product,
    id: Option<String>,
    claim: Option<String>,
) -> Result<Option<OrganizationSource>, (&'static str, String)> {
    let field = if id.is_some() {
        ORGANIZATION_ID
    } else {
        ORGANIZATION_ID_CLAIM
    };
    match (id, claim) {
        (None, None) => Ok(None),
        _ if product != Product::B2b => Err((
            field,
            "only for a B2B Stytch project (stytch_product b2b): consumer sessions have no organization".into(),
        )),
        (Some(_), Some(_)) => Err((
            field,
            "name the organization once: organization_id or organization_id_claim, not both"
                .into(),
        )),
        (Some(id), None) if is_organization_ref(&id) => Ok(Some(OrganizationSource::Fixed(id))),
        (Some(_), None) => Err((
            field,
            "must be an organization id or slug (letters, digits, - . _ ~; at most 128)".into(),
        )),
        (None, Some(path)) => trusted_claim_path(&path)
            .map(|p| Some(OrganizationSource::Claim(p)))
            .map_err(|problem| (field, problem)),
    }
}

/// `PROVIDERS`: a JSON array of providers, the complete list, and the product of the Stytch
/// project they all use (`default_product`, `STYTCH_PRODUCT`, for those that do not say).
fn from_json(
    text: &str,
    skew_secs: i64,
    default_product: Option<Product>,
) -> Result<(Vec<Provider>, Product), ConfigError> {
    let fail = |problem: String| err("PROVIDERS", problem);
    let entries = json_list(
        "PROVIDERS",
        text,
        MAX_PROVIDERS_BYTES,
        MAX_PROVIDERS,
        "providers",
    )?;
    let mut providers: Vec<Provider> = Vec::with_capacity(entries.len());
    let mut project: Option<(Product, String)> = None;
    for (i, entry) in entries.iter().enumerate() {
        let (p, product, unverified_email) =
            provider(entry, skew_secs, default_product).map_err(|(name, problem)| {
                let who = name.unwrap_or_else(|| format!("#{i}"));
                fail(format!("provider {who}: {problem}"))
            })?;
        // Stytch finds its user by the mapped email. With several providers, an address one of
        // them lets someone claim without proving it would sign in the Stytch user another
        // provider's owner of that address has: each provider vouches, or says it cannot.
        if entries.len() > 1 && !unverified_email && !requires_verified_email(&p.policy) {
            return Err(fail(format!(
                "provider {}: required_claims: with several providers each must require {EMAIL_VERIFIED_CLAIM}: true (Stytch joins users by email; for Supabase, a Custom Access Token hook adds it) or say \"{ALLOW_UNVERIFIED_EMAIL}\": true",
                p.name
            )));
        }
        // One project, one product: its endpoints, key set and cookies serve every provider.
        match &project {
            Some((first, whose)) if *first != product => {
                return Err(fail(format!(
                    "provider {}: stytch_product: is {}, but provider {whose}'s is {} (a Stytch project is either consumer or b2b)",
                    p.name,
                    product.name(),
                    first.name()
                )));
            }
            Some(_) => {}
            None => project = Some((product, p.name.clone())),
        }
        if providers.iter().any(|q| q.name == p.name) {
            return Err(fail(format!("provider {}: name: is used twice", p.name)));
        }
        if let Some(q) = providers.iter().find(|q| {
            q.policy
                .issuers
                .iter()
                .any(|i| p.policy.issuers.contains(i))
        }) {
            return Err(fail(format!(
                "provider {}: issuer: is already {}'s (an issuer selects one provider)",
                p.name, q.name
            )));
        }
        providers.push(p);
    }
    let product = project.map_or(Product::Consumer, |(product, _)| product);
    Ok((providers, product))
}

/// Whether a policy requires `email_verified: true`.
fn requires_verified_email(policy: &Policy) -> bool {
    policy
        .required_claims
        .iter()
        .any(|(name, value)| name == EMAIL_VERIFIED_CLAIM && *value == Value::Bool(true))
}

/// The provider field that accepts a provider whose tokens do not vouch for their emails
/// next to others (`"allow_unverified_email": true`).
const ALLOW_UNVERIFIED_EMAIL: &str = "allow_unverified_email";

/// The members a provider object may have; anything else is a typo, and refused.
/// docs/providers.md documents each (a test checks it).
pub const FIELDS: [&str; 18] = [
    "name",
    "preset",
    "project_url",
    "issuer",
    "jwks_url",
    "audiences",
    "algorithms",
    "required_claims",
    "anonymous_users",
    "allow_anonymous",
    "stytch_profile_id",
    "session_claim",
    "stytch_product",
    ORGANIZATION_ID,
    ORGANIZATION_ID_CLAIM,
    REQUIRED_AAL,
    MFA_ENROLLED_CLAIM,
    ALLOW_UNVERIFIED_EMAIL,
];

/// A provider's failure: its name when known, and "field: problem".
type ProviderError = EntryError;

/// A provider object's valid name, then its fields (none it may not have).
fn provider_fields(entry: &Value) -> Result<Fields<'_>, ProviderError> {
    let Value::Object(object) = entry else {
        return Err((None, "is not a JSON object".into()));
    };
    let name = match object.get("name") {
        Some(Value::String(n))
            if !n.is_empty()
                && n.len() <= 64
                && n.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_') =>
        {
            n.clone()
        }
        _ => return Err((None, "name: must be 1 to 64 letters, digits, - or _".into())),
    };
    Fields::new(name, object, &FIELDS, "a provider field")
}

/// One provider object, its Stytch product and whether it accepts unverified emails
/// (`allow_unverified_email`); on error, its name (when known) and "field: problem".
fn provider(
    entry: &Value,
    skew_secs: i64,
    default_product: Option<Product>,
) -> Result<(Provider, Product, bool), ProviderError> {
    let fields = provider_fields(entry)?;
    let mut p = issuer_and_defaults(&fields, skew_secs)?;
    keys_and_audience(&fields, &mut p)?;
    let unverified_email = email_rule(&fields, &mut p)?;
    login_rules(&fields, &mut p)?;
    let product = stytch_product(&fields, &mut p, default_product)?;
    if unverified_email && requires_verified_email(&p.policy) {
        return Err(fields.fail(format!(
            "{ALLOW_UNVERIFIED_EMAIL}: true, but required_claims requires {EMAIL_VERIFIED_CLAIM}: true (say one or the other)"
        )));
    }
    Ok((p, product, unverified_email))
}

/// The provider its `preset` or `issuer` describes, with that kind's defaults, and its Stytch
/// profile.
fn issuer_and_defaults(fields: &Fields<'_>, skew_secs: i64) -> Result<Provider, ProviderError> {
    let fail = |problem: String| fields.fail(problem);
    let profile_id = fields
        .text("stytch_profile_id")?
        .ok_or_else(|| fail("stytch_profile_id: is required".into()))?;
    let name = fields.name.clone();
    match fields.text("preset")?.as_deref() {
        Some("supabase") => {
            let url = fields
                .text("project_url")?
                .ok_or_else(|| fail("project_url: is required with preset supabase".into()))?;
            let url = base_url("PROVIDERS", &url)
                .map_err(|e| fail(format!("project_url: {}", e.problem)))?;
            if fields.get("issuer").is_some() {
                return Err(fail(
                    "issuer: comes from project_url with preset supabase".into(),
                ));
            }
            Ok(supabase(&url, skew_secs, profile_id, name))
        }
        Some(other) => Err(fail(format!("preset: {other} is not a preset (supabase)"))),
        None => {
            if fields.get("project_url").is_some() {
                return Err(fail("project_url: only with preset supabase".into()));
            }
            let issuer = fields
                .text("issuer")?
                .ok_or_else(|| fail("issuer: is required".into()))?;
            checked_url("PROVIDERS", &issuer)
                .map_err(|e| fail(format!("issuer: {}", e.problem)))?;
            let audiences = fields
                .texts("audiences")?
                .ok_or_else(|| fail("audiences: is required (the aud your tokens carry)".into()))?;
            Ok(Provider {
                name,
                keys: KeySource::discovery(&issuer),
                policy: Policy {
                    issuers: vec![issuer],
                    audiences,
                    algorithms: vec![Alg::Rs256],
                    skew_secs,
                    required_claims: vec![(EMAIL_VERIFIED_CLAIM.to_owned(), Value::Bool(true))],
                    anonymous: None,
                    assurance: Default::default(),
                },
                stytch_profile_id: profile_id,
                session_claim: Some(OIDC_SESSION_CLAIM.to_owned()),
                organization: None,
            })
        }
    }
}

/// `jwks_url`, `audiences`, `algorithms`.
fn keys_and_audience(fields: &Fields<'_>, p: &mut Provider) -> Result<(), ProviderError> {
    if let Some(url) = fields.text("jwks_url")? {
        checked_url("PROVIDERS", &url)
            .map_err(|e| fields.fail(format!("jwks_url: {}", e.problem)))?;
        p.keys = KeySource::Jwks(url);
    }
    if let Some(audiences) = fields.texts("audiences")? {
        p.policy.audiences = audiences;
    }
    if let Some(names) = fields.texts("algorithms")? {
        p.policy.algorithms = parse_algorithms(&names.join(","))
            .map_err(|problem| fields.fail(format!("algorithms: {problem}")))?;
    }
    Ok(())
}

/// `allow_unverified_email` and `required_claims`; whether the provider accepts unverified
/// emails.
fn email_rule(fields: &Fields<'_>, p: &mut Provider) -> Result<bool, ProviderError> {
    let unverified_email = fields.flag(ALLOW_UNVERIFIED_EMAIL)?;
    match fields.get("required_claims") {
        // Saying the provider's emails are unverified drops the default that requires them.
        None if unverified_email => p
            .policy
            .required_claims
            .retain(|(name, _)| name != EMAIL_VERIFIED_CLAIM),
        None => {}
        // The preset keeps its role rule: its claims are added to it (a `role` of their own
        // replaces it). Any other provider's are the complete list (`{}`: none).
        Some(Value::Object(claims)) if fields.get("preset").is_some() => {
            for (name, value) in required_claims(claims).map_err(|e| fields.fail(e))? {
                p.policy.required_claims.retain(|(n, _)| *n != name);
                p.policy.required_claims.push((name, value));
            }
        }
        Some(Value::Object(claims)) => {
            p.policy.required_claims = required_claims(claims).map_err(|e| fields.fail(e))?;
        }
        Some(_) => {
            return Err(fields.fail("required_claims: must be an object of claim: value".into()));
        }
    }
    Ok(unverified_email)
}

/// `anonymous_users`, `session_claim`, `allow_anonymous`, `required_aal`,
/// `mfa_enrolled_claim`.
fn login_rules(fields: &Fields<'_>, p: &mut Provider) -> Result<(), ProviderError> {
    match fields.text("anonymous_users")?.as_deref() {
        None => {}
        Some("supabase") => p.policy.anonymous = Some(AnonymousRule::SupabaseIsAnonymous),
        Some("firebase") => p.policy.anonymous = Some(AnonymousRule::FirebaseSignInProvider),
        Some(other) => {
            return Err(fields.fail(format!(
                "anonymous_users: {other} is not a rule (supabase, firebase)"
            )));
        }
    }
    match fields.get("session_claim") {
        None => {}
        Some(Value::String(name))
            if !name.is_empty()
                && name.len() <= 64
                && !matches!(name.as_str(), "iss" | "sub" | "aud" | "exp" | "nbf" | "iat") =>
        {
            p.session_claim = Some(name.clone());
        }
        // `false`: the provider's tokens have no claim that tells logins apart.
        Some(Value::Bool(false)) => p.session_claim = None,
        Some(_) => {
            return Err(fields.fail(
                "session_claim: must be a claim name (not iss, sub, aud, exp, nbf or iat) or false"
                    .into(),
            ));
        }
    }
    if fields.flag("allow_anonymous")? {
        p.policy.anonymous = None;
    }
    p.policy.assurance = assurance(fields.text(REQUIRED_AAL)?, fields.text(MFA_ENROLLED_CLAIM)?)
        .map_err(|(field, problem)| fields.fail(format!("{field}: {problem}")))?;
    Ok(())
}

/// `stytch_product`, `organization_id`, `organization_id_claim`; the product.
fn stytch_product(
    fields: &Fields<'_>,
    p: &mut Provider,
    default_product: Option<Product>,
) -> Result<Product, ProviderError> {
    let product = match fields.text("stytch_product")? {
        None => default_product.unwrap_or(Product::Consumer),
        Some(name) => Product::parse(&name)
            .ok_or_else(|| fields.fail(format!("stytch_product: {name} is not consumer or b2b")))?,
    };
    p.organization = organization_source(
        product,
        fields.text(ORGANIZATION_ID)?,
        fields.text(ORGANIZATION_ID_CLAIM)?,
    )
    .map_err(|(field, problem)| fields.fail(format!("{field}: {problem}")))?;
    Ok(product)
}

/// Exact-value claims: top-level names, any JSON value but null (a claim that must be absent
/// is not what "required" means).
fn required_claims(claims: &Map<String, Value>) -> Result<Vec<(String, Value)>, String> {
    claims
        .iter()
        .map(|(name, value)| {
            if name.is_empty() || value.is_null() {
                Err(format!(
                    "required_claims: {name:?} needs a name and a value"
                ))
            } else if matches!(name.as_str(), "iss" | "aud" | "exp" | "nbf" | "iat" | "sub") {
                Err(format!(
                    "required_claims: {name} is checked by its own rule"
                ))
            } else if name == USER_WRITABLE_CLAIM {
                Err(format!(
                    "required_claims: {USER_WRITABLE_CLAIM} is written by the user: it proves nothing"
                ))
            } else {
                Ok((name.clone(), value.clone()))
            }
        })
        .collect()
}
