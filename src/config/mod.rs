//! Configuration, parsed once per isolate into a typed [`Config`].
//!
//! This is the one place that reads variables: each section below reads and checks its
//! variables, then calls the constructor of the type that owns them ([`StytchConfig`] in
//! `stytch/`, [`SessionConfig`] with the session rules, [`CookiePolicy`] in `cookies.rs`, the
//! providers' [`Policy`] in `jwt/`), which applies its own defaults. An invalid value never
//! falls back to a default: it is a [`ConfigError`] naming the variable, which the worker
//! answers with 500 `misconfigured` and logs.

mod fields;
pub mod protect;
pub mod providers;

use crate::cookies::{CookiePolicy, CookieSetting, SameSite};
use crate::formats::urls::{self, UrlParts};
use crate::gateway::Rules;
use crate::gateway::logs::LogSampling;
use crate::gateway::policy::Baseline;
use crate::keys::integrity::{CacheSecret, MIN_SECRET_CHARS};
use crate::keys::jwk::Alg;
use crate::stytch::organization::OrganizationSource;
use crate::stytch::project::{Product, SESSION_MINUTES, StytchConfig};
use crate::stytch::session::{DEFAULT_REUSE_MIN_SECS, MAX_REUSE_MIN_SECS, SessionConfig};
pub use providers::{ANY_ROLE, KeySource, Provider};
use std::fmt;

/// Largest accepted `CLOCK_SKEW_SECONDS`: skew widens the window for expired tokens, and
/// RFC 8725-era verifiers keep it within a minute or two.
pub const MAX_SKEW_SECS: i64 = 300;
/// `CLOCK_SKEW_SECONDS` when unset.
pub const DEFAULT_SKEW_SECS: i64 = 30;
/// `SESSION_DURATION_MINUTES` when unset: what Stytch's SDKs suggest for a web session.
pub const DEFAULT_SESSION_MINUTES: u32 = 60;

/// Everything the worker needs, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The identity providers, each selected by its issuers (at least one).
    pub providers: Vec<Provider>,
    /// Stytch endpoint, credentials and session length.
    pub stytch: StytchConfig,
    /// Exact origins allowed besides the worker's own; empty means same origin only.
    pub allowed_origins: Vec<String>,
    /// Cookie names and attributes.
    pub cookies: CookiePolicy,
    /// How the Stytch session the browser already holds is verified and reused.
    pub session: SessionConfig,
    /// What the key cache's KV entries are tagged with: `KEY_CACHE_SECRET`, else
    /// `STYTCH_SECRET` (the tag key is derived with a label of its own either way).
    pub key_cache_secret: CacheSecret,
    /// The auth gateway's rules (`PROTECT`); empty without a gateway.
    pub protect: Rules,
    /// Which of the gateway's log lines are written (`GATEWAY_LOG_SAMPLE_RATE`).
    pub gateway_log: LogSampling,
    /// What every protected rule and service-binding call requires at least, from the
    /// providers: `REQUIRED_AAL`'s floor, their issuers (this deployment's links), their
    /// fixed B2B organizations.
    pub baseline: Baseline,
}

/// A variable that is missing or invalid. The message never contains the value of
/// `STYTCH_SECRET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable (or binding) at fault.
    pub variable: &'static str,
    /// What is wrong with it.
    pub problem: String,
    /// `ALLOWED_ORIGINS`, when it is valid itself: the 500 that a broken configuration
    /// answers still carries CORS headers for the origins it names, so a browser shows the
    /// JSON instead of a network error. `None`: only the worker's own origin is known.
    pub allowed_origins: Option<Vec<String>>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.problem)
    }
}

fn err(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.into(),
        allowed_origins: None,
    }
}

/// The variables as the runtime hands them over (the worker passes its `Env`). Every one is
/// read through here and trimmed the same way; unset and empty (after trimming) are the same:
/// the default, or for a required one, an error.
/// Every variable the worker reads, and no other: `edge-attest check` warns about a `vars`
/// name not in it (a typo such as `REQUIRE_AAL` would otherwise be ignored without a word),
/// and every read asserts its name is listed (debug builds and tests).
pub const VARIABLES: [&str; 31] = [
    "SUPABASE_URL",
    "JWT_ISSUER",
    "JWKS_URL",
    "JWT_AUDIENCE",
    "JWT_ALGORITHMS",
    "CLOCK_SKEW_SECONDS",
    "REQUIRED_ROLE",
    "ALLOW_ANONYMOUS",
    "REQUIRED_AAL",
    "MFA_ENROLLED_CLAIM",
    "STYTCH_PROJECT_ID",
    "STYTCH_SECRET",
    "KEY_CACHE_SECRET",
    "STYTCH_PROFILE_ID",
    "STYTCH_API_BASE",
    "SESSION_DURATION_MINUTES",
    "ALLOWED_ORIGINS",
    "COOKIE_DOMAIN",
    "COOKIE_HTTP_ONLY",
    "COOKIE_SAMESITE",
    "COOKIE_NAME_SESSION",
    "COOKIE_NAME_JWT",
    "SESSION_REUSE",
    "SESSION_REUSE_MIN_SECONDS",
    "STYTCH_SESSION_ISSUERS",
    "PROVIDERS",
    "STYTCH_PRODUCT",
    "STYTCH_ORGANIZATION_ID",
    "STYTCH_ORGANIZATION_ID_CLAIM",
    "PROTECT",
    "GATEWAY_LOG_SAMPLE_RATE",
];

pub(crate) struct Vars<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
}

impl Vars<'_> {
    /// A variable's value, trimmed; `None` when unset or empty.
    fn opt(&self, name: &str) -> Option<String> {
        debug_assert!(VARIABLES.contains(&name), "{name} is not in VARIABLES");
        (self.get)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// A variable that must be set.
    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.opt(name).ok_or_else(|| err(name, "is required"))
    }

    /// An integer variable within `range`; `default` when unset.
    fn int<T>(
        &self,
        name: &'static str,
        range: std::ops::RangeInclusive<T>,
        default: T,
    ) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + fmt::Display,
    {
        match self.opt(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<T>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| {
                    err(
                        name,
                        format!("must be an integer in {}..={}", range.start(), range.end()),
                    )
                }),
        }
    }

    /// `true` or `false`; `default` when unset.
    fn bool(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.opt(name).as_deref() {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(_) => Err(err(name, "must be true or false")),
        }
    }
}

impl Config {
    /// The provider a token's (unverified) `iss` selects, compared byte for byte.
    pub fn provider_for(&self, unverified_issuer: &str) -> Option<&Provider> {
        self.providers
            .iter()
            .find(|p| p.policy.issuers.iter().any(|i| i == unverified_issuer))
    }

    /// Reads and validates every variable through `get` (the worker passes its `Env`).
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars { get };
        Self::parse(&vars).map_err(|mut e| {
            e.allowed_origins = allowed_origins(&vars).ok();
            e
        })
    }

    fn parse(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let skew_secs = vars.int("CLOCK_SKEW_SECONDS", 0..=MAX_SKEW_SECS, DEFAULT_SKEW_SECS)?;
        let (providers, product) = providers::read(vars, skew_secs)?;
        let (stytch, secret) = stytch_project(vars, product)?;
        let allowed_origins = allowed_origins(vars)?;
        let cookies = cookie_policy(vars)?;
        let session = session_rules(vars, &stytch, skew_secs)?;
        let key_cache_secret = key_cache_secret(vars, secret)?;
        let baseline = baseline(&providers, product);
        let protect = protect::read(vars, product, &baseline)?;
        let gateway_log = match vars.opt("GATEWAY_LOG_SAMPLE_RATE") {
            None => LogSampling::default(),
            Some(rate) => {
                LogSampling::parse(&rate).map_err(|p| err("GATEWAY_LOG_SAMPLE_RATE", p))?
            }
        };
        Ok(Self {
            providers,
            stytch,
            allowed_origins,
            cookies,
            session,
            key_cache_secret,
            protect,
            gateway_log,
            baseline,
        })
    }
}

/// The [`Baseline`] of these providers: the strictest level they require, every issuer, and
/// (B2B) the organizations they name when each names a fixed one.
fn baseline(providers: &[Provider], product: Product) -> Baseline {
    let fixed: Vec<String> = providers
        .iter()
        .filter_map(|p| match &p.organization {
            Some(OrganizationSource::Fixed(id)) => Some(id.clone()),
            _ => None,
        })
        .collect();
    Baseline {
        floor: providers.iter().map(|p| p.policy.assurance.required).max(),
        issuers: providers
            .iter()
            .flat_map(|p| p.policy.issuers.iter().cloned())
            .collect(),
        organizations: if product == Product::B2b && fixed.len() == providers.len() {
            fixed
        } else {
            Vec::new()
        },
    }
}

/// The Stytch project: `STYTCH_PROJECT_ID`, `STYTCH_SECRET`, `STYTCH_API_BASE`,
/// `SESSION_DURATION_MINUTES`, for the providers' product; and the secret, which the key
/// cache's tags may be keyed from.
fn stytch_project(
    vars: &Vars<'_>,
    product: Product,
) -> Result<(StytchConfig, String), ConfigError> {
    let project_id = vars.required("STYTCH_PROJECT_ID")?;
    if !project_id
        .bytes()
        .all(|c| c.is_ascii_graphic() && c != b':')
    {
        return Err(err(
            "STYTCH_PROJECT_ID",
            "must be printable ASCII without ':'",
        ));
    }
    let secret = vars.required("STYTCH_SECRET")?;
    if secret.chars().any(char::is_control) {
        return Err(err("STYTCH_SECRET", "contains control characters"));
    }
    let api_base = match vars.opt("STYTCH_API_BASE") {
        Some(u) => base_url("STYTCH_API_BASE", &u)?,
        None => StytchConfig::default_api_base(&project_id).to_owned(),
    };
    let minutes = vars.int(
        "SESSION_DURATION_MINUTES",
        SESSION_MINUTES,
        DEFAULT_SESSION_MINUTES,
    )?;
    let project = StytchConfig::new(api_base, project_id, &secret, minutes, product);
    Ok((project, secret))
}

/// The session rules: `SESSION_REUSE`, `SESSION_REUSE_MIN_SECONDS`, `STYTCH_SESSION_ISSUERS`.
fn session_rules(
    vars: &Vars<'_>,
    stytch: &StytchConfig,
    skew_secs: i64,
) -> Result<SessionConfig, ConfigError> {
    let reuse = vars.bool("SESSION_REUSE", true)?;
    let reuse_min_secs = vars.int(
        "SESSION_REUSE_MIN_SECONDS",
        0..=MAX_REUSE_MIN_SECS,
        DEFAULT_REUSE_MIN_SECS,
    )?;
    let mut custom_issuers = Vec::new();
    if let Some(list) = vars.opt("STYTCH_SESSION_ISSUERS") {
        for issuer in comma_list(&list) {
            issuer_origin(&issuer)?;
            custom_issuers.push(issuer);
        }
    }
    Ok(SessionConfig::new(
        stytch,
        custom_issuers,
        skew_secs,
        reuse,
        reuse_min_secs,
    ))
}

/// `KEY_CACHE_SECRET`, else the Stytch secret.
fn key_cache_secret(vars: &Vars<'_>, stytch_secret: String) -> Result<CacheSecret, ConfigError> {
    match vars.opt("KEY_CACHE_SECRET") {
        None => Ok(CacheSecret::new(stytch_secret)),
        Some(own) if own.chars().count() >= MIN_SECRET_CHARS => Ok(CacheSecret::new(own)),
        Some(_) => Err(err(
            "KEY_CACHE_SECRET",
            format!(
                "must be at least {MIN_SECRET_CHARS} characters (a random string, e.g. openssl rand -base64 32)"
            ),
        )),
    }
}

/// `ALLOWED_ORIGINS`, on its own (also read when another variable is invalid).
fn allowed_origins(vars: &Vars<'_>) -> Result<Vec<String>, ConfigError> {
    match vars.opt("ALLOWED_ORIGINS") {
        Some(list) => comma_list(&list)
            .into_iter()
            .map(|o| exact_origin(&o).map(|()| o))
            .collect(),
        None => Ok(Vec::new()),
    }
}

/// The cookies: `COOKIE_NAME_SESSION`, `COOKIE_NAME_JWT`, `COOKIE_DOMAIN`,
/// `COOKIE_HTTP_ONLY`, `COOKIE_SAMESITE`; `cookies.rs` has the defaults.
fn cookie_policy(vars: &Vars<'_>) -> Result<CookiePolicy, ConfigError> {
    let mut policy = CookiePolicy::new(
        vars.opt("COOKIE_NAME_SESSION"),
        vars.opt("COOKIE_NAME_JWT"),
        vars.opt("COOKIE_DOMAIN"),
    )
    .map_err(|(setting, problem)| {
        err(
            match setting {
                CookieSetting::SessionName => "COOKIE_NAME_SESSION",
                CookieSetting::JwtName => "COOKIE_NAME_JWT",
                CookieSetting::Domain => "COOKIE_DOMAIN",
            },
            problem,
        )
    })?;
    policy.http_only = vars.bool("COOKIE_HTTP_ONLY", policy.http_only)?;
    if let Some(v) = vars.opt("COOKIE_SAMESITE") {
        policy.same_site = SameSite::parse(&v)
            .ok_or_else(|| err("COOKIE_SAMESITE", "must be Lax, Strict or None"))?;
    }
    Ok(policy)
}

fn comma_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A comma list of algorithm names; the problem otherwise.
fn parse_algorithms(list: &str) -> Result<Vec<Alg>, String> {
    let mut algs = Vec::new();
    for name in comma_list(list) {
        let alg = Alg::from_name(&name).ok_or_else(|| {
            format!("{name} is not supported (ES256, RS256, EdDSA; HS* and none never are)")
        })?;
        if !algs.contains(&alg) {
            algs.push(alg);
        }
    }
    if algs.is_empty() {
        return Err("lists no algorithm".into());
    }
    Ok(algs)
}

/// https, or http to a loopback host (local development and tests only).
fn checked_url<'a>(name: &'static str, raw: &'a str) -> Result<UrlParts<'a>, ConfigError> {
    let url = urls::parse(raw).ok_or_else(|| {
        err(
            name,
            "is not an http(s) URL with a host (and no credentials)",
        )
    })?;
    match url.scheme {
        "https" => {}
        "http" if urls::is_loopback_host(url.host) => {}
        _ => return Err(err(name, "must use https (http only for loopback hosts)")),
    }
    if url.fragment.is_some() {
        return Err(err(name, "must not contain a fragment"));
    }
    Ok(url)
}

/// A base URL without query, returned without its trailing slash.
fn base_url(name: &'static str, raw: &str) -> Result<String, ConfigError> {
    let url = checked_url(name, raw)?;
    if url.query.is_some() {
        return Err(err(name, "must not contain a query"));
    }
    // The worker appends its own paths (`/auth/v1/…`, `/v1/…`): a base with a path of its
    // own, like the issuer `https://<ref>.supabase.co/auth/v1` a Stytch profile asks for,
    // would point every request one level too deep, and pass every check until then.
    if !url.path.trim_end_matches('/').is_empty() {
        return Err(err(
            name,
            format!(
                "must be an origin like https://<ref>.supabase.co, with no path (not {})",
                url.path
            ),
        ));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

/// A Stytch custom-domain issuer: `https://host[:port]` exactly, as Stytch writes `iss` (the
/// base URL without a trailing slash); `http` only for loopback hosts.
fn issuer_origin(issuer: &str) -> Result<(), ConfigError> {
    let name = "STYTCH_SESSION_ISSUERS";
    let url = checked_url(name, issuer)?;
    if url.origin != issuer || issuer.bytes().any(|c| c.is_ascii_uppercase()) {
        return Err(err(
            name,
            format!(
                "{issuer} is not an issuer like https://login.example.com (no path or trailing slash)"
            ),
        ));
    }
    Ok(())
}

/// `scheme://host[:port]` exactly as browsers send it in `Origin`: lower-case, no path,
/// no default port; `http` only for loopback hosts (credentialed CORS to a plaintext origin
/// would hand sessions to anyone on that network).
fn exact_origin(o: &str) -> Result<(), ConfigError> {
    if urls::parse(o).is_some_and(|u| u.scheme == "http" && !urls::is_loopback_host(u.host)) {
        return Err(err(
            "ALLOWED_ORIGINS",
            format!(
                "{o} is plain http: only https origins, or http on a loopback host, may receive sessions"
            ),
        ));
    }
    let exact = urls::parse(o).is_some_and(|u| {
        u.origin == o
            && !o.bytes().any(|c| c.is_ascii_uppercase())
            && !matches!(
                (u.scheme, u.port),
                ("https", Some(443)) | ("http", Some(80))
            )
    });
    if exact {
        Ok(())
    } else {
        Err(err(
            "ALLOWED_ORIGINS",
            format!(
                "{o} is not an exact origin like https://app.example.com (no path or trailing slash)"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::verify::AnonymousRule;
    use std::collections::HashMap;

    fn base() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            ("SUPABASE_URL", "https://abcd.supabase.co"),
            ("STYTCH_PROJECT_ID", "project-test-123"),
            ("STYTCH_SECRET", "secret-test-xyz"),
            ("STYTCH_PROFILE_ID", "trusted-auth-token-profile-test-1"),
        ])
    }

    fn parse(vars: &HashMap<&'static str, &'static str>) -> Result<Config, ConfigError> {
        Config::from_lookup(&|n| vars.get(n).map(|v| (*v).to_owned()))
    }

    fn fails(var: &'static str, value: &'static str) -> ConfigError {
        let mut vars = base();
        vars.insert(var, value);
        let e = parse(&vars).expect_err(var);
        assert_eq!(e.variable, var, "{e}");
        e
    }

    /// Each variable `PROVIDERS` shadows changes the configuration without it and nothing
    /// with it: what `edge-attest check` warns about when both are set.
    #[test]
    fn providers_shadows_exactly_the_variables_it_lists() {
        const PROVIDERS: &str = r#"[{"name":"supabase","preset":"supabase","project_url":"https://x.supabase.co","stytch_profile_id":"trusted-auth-token-profile-test-1"}]"#;
        let other = |name: &str| match name {
            "SUPABASE_URL" => "https://other.supabase.co",
            "STYTCH_PROFILE_ID" => "trusted-auth-token-profile-test-2",
            "JWT_ISSUER" => "https://issuer.example",
            "JWKS_URL" => "https://keys.example/jwks.json",
            "JWT_AUDIENCE" => "other",
            "JWT_ALGORITHMS" => "RS256",
            "REQUIRED_ROLE" => "admin",
            "ALLOW_ANONYMOUS" => "true",
            "REQUIRED_AAL" => "aal2",
            "MFA_ENROLLED_CLAIM" => "mfa_enrolled",
            "STYTCH_ORGANIZATION_ID" => "organization-test-00000000-0000-0000-0000-000000000001",
            _ => "org_id",
        };
        let seen = |vars: &HashMap<&'static str, &'static str>| match parse(vars) {
            Ok(c) => format!("{c:?}"),
            Err(e) => format!("error {e}"),
        };
        for name in providers::SHADOWED_BY_PROVIDERS {
            let mut vars = base();
            vars.insert("STYTCH_PRODUCT", "b2b");
            let without = seen(&vars);
            vars.insert(name, other(name));
            assert_ne!(seen(&vars), without, "{name} is read without PROVIDERS");
            vars.remove(name);
            vars.insert("PROVIDERS", PROVIDERS);
            let with = seen(&vars);
            assert!(!with.starts_with("error"), "{with}");
            vars.insert(name, other(name));
            assert_eq!(seen(&vars), with, "{name} is ignored with PROVIDERS");
        }
    }

    #[test]
    fn a_base_url_with_a_path_is_refused() {
        for (var, value) in [
            ("SUPABASE_URL", "https://abcd.supabase.co/auth/v1"),
            (
                "SUPABASE_URL",
                "https://abcd.supabase.co/dashboard/project/abcd",
            ),
            ("STYTCH_API_BASE", "https://login.example.com/v1"),
        ] {
            let e = fails(var, value);
            assert!(e.problem.contains("no path"), "{e}");
        }
        let mut vars = base();
        vars.insert("SUPABASE_URL", "https://abcd.supabase.co/");
        assert!(parse(&vars).is_ok(), "a trailing slash is no path");
    }

    #[test]
    fn defaults_follow_the_spec() {
        let c = parse(&base()).unwrap();
        assert_eq!(
            c.providers[0].policy.issuers,
            ["https://abcd.supabase.co/auth/v1"]
        );
        assert_eq!(
            c.providers[0].keys,
            KeySource::Jwks("https://abcd.supabase.co/auth/v1/.well-known/jwks.json".into())
        );
        assert_eq!(c.providers[0].policy.audiences, ["authenticated"]);
        assert_eq!(c.providers[0].policy.algorithms, [Alg::Es256, Alg::Rs256]);
        assert_eq!(c.providers[0].policy.skew_secs, 30);
        assert_eq!(
            c.providers[0].policy.required_claims,
            [("role".to_owned(), "authenticated".into())]
        );
        assert_eq!(
            c.providers[0].policy.anonymous,
            Some(AnonymousRule::SupabaseIsAnonymous)
        );
        assert_eq!(c.stytch.api_base, "https://test.stytch.com");
        assert_eq!(c.stytch.session_duration_minutes, 60);
        assert!(c.allowed_origins.is_empty());
        assert_eq!(c.cookies.session_name, "stytch_session");
        assert_eq!(c.cookies.jwt_name, "stytch_session_jwt");
        assert!(c.cookies.http_only);
        assert_eq!(c.cookies.same_site, SameSite::Lax);
        assert_eq!(c.cookies.domain, None);
        assert!(c.session.reuse);
        assert_eq!(c.session.reuse_min_secs, 60);
        assert_eq!(
            c.session.jwks_url,
            "https://test.stytch.com/v1/sessions/jwks/project-test-123"
        );
        assert_eq!(
            c.session.policy.issuers,
            ["stytch.com/project-test-123", "https://test.stytch.com"]
        );
        assert_eq!(c.session.policy.audiences, ["project-test-123"]);
        assert_eq!(c.session.policy.algorithms, [Alg::Rs256]);
        assert_eq!(c.session.policy.skew_secs, c.providers[0].policy.skew_secs);
        assert!(c.session.policy.required_claims.is_empty());
    }

    #[test]
    fn session_reuse_settings() {
        let mut v = base();
        v.extend([
            ("SESSION_REUSE", "false"),
            ("SESSION_REUSE_MIN_SECONDS", "240"),
            (
                "STYTCH_SESSION_ISSUERS",
                "https://login.example.com, http://127.0.0.1:4010,https://login.example.com",
            ),
            ("STYTCH_API_BASE", "https://auth.example.com"),
        ]);
        let c = parse(&v).unwrap();
        assert!(!c.session.reuse);
        assert_eq!(c.session.reuse_min_secs, 240);
        assert_eq!(
            c.session.policy.issuers,
            [
                "stytch.com/project-test-123",
                "https://auth.example.com",
                "https://login.example.com",
                "http://127.0.0.1:4010"
            ]
        );
        assert_eq!(
            c.session.jwks_url,
            "https://auth.example.com/v1/sessions/jwks/project-test-123"
        );
        for (var, bad) in [
            ("SESSION_REUSE", "yes"),
            ("SESSION_REUSE_MIN_SECONDS", "241"),
            ("SESSION_REUSE_MIN_SECONDS", "-1"),
            ("SESSION_REUSE_MIN_SECONDS", "1m"),
            ("STYTCH_SESSION_ISSUERS", "login.example.com"),
            ("STYTCH_SESSION_ISSUERS", "https://login.example.com/"),
            ("STYTCH_SESSION_ISSUERS", "https://Login.example.com"),
            ("STYTCH_SESSION_ISSUERS", "https://login.example.com/v1"),
            ("STYTCH_SESSION_ISSUERS", "http://login.example.com"),
        ] {
            fails(var, bad);
        }
    }

    #[test]
    fn live_projects_use_the_live_host() {
        let mut v = base();
        v.insert("STYTCH_PROJECT_ID", "project-live-9");
        assert_eq!(parse(&v).unwrap().stytch.api_base, "https://api.stytch.com");
        v.insert("STYTCH_API_BASE", "https://login.example.com/");
        assert_eq!(
            parse(&v).unwrap().stytch.api_base,
            "https://login.example.com"
        );
    }

    #[test]
    fn overrides_are_applied() {
        let mut v = base();
        v.extend([
            ("JWT_ISSUER", "https://a/auth/v1, https://a/auth/v1/"),
            ("JWKS_URL", "http://127.0.0.1:9999/jwks"),
            ("JWT_ALGORITHMS", "ES256,EdDSA"),
            ("CLOCK_SKEW_SECONDS", "0"),
            ("REQUIRED_ROLE", "*"),
            ("ALLOW_ANONYMOUS", "true"),
            ("SESSION_DURATION_MINUTES", "527040"),
            (
                "ALLOWED_ORIGINS",
                "https://app.example.com, http://localhost:5173",
            ),
            ("COOKIE_DOMAIN", "example.com"),
            ("COOKIE_HTTP_ONLY", "false"),
            ("COOKIE_SAMESITE", "Strict"),
            ("COOKIE_NAME_SESSION", "s"),
            ("COOKIE_NAME_JWT", "j"),
        ]);
        let c = parse(&v).unwrap();
        assert_eq!(
            c.providers[0].policy.issuers,
            ["https://a/auth/v1", "https://a/auth/v1/"]
        );
        assert_eq!(
            c.providers[0].keys,
            KeySource::Jwks("http://127.0.0.1:9999/jwks".into())
        );
        assert_eq!(c.providers[0].policy.algorithms, [Alg::Es256, Alg::EdDsa]);
        assert_eq!(c.providers[0].policy.skew_secs, 0);
        assert!(c.providers[0].policy.required_claims.is_empty());
        assert_eq!(c.providers[0].policy.anonymous, None);
        assert_eq!(c.stytch.session_duration_minutes, 527_040);
        assert_eq!(
            c.allowed_origins,
            ["https://app.example.com", "http://localhost:5173"]
        );
        assert_eq!(c.cookies.domain.as_deref(), Some("example.com"));
        assert!(!c.cookies.http_only);
        assert_eq!(c.cookies.same_site, SameSite::Strict);
        assert_eq!(
            (c.cookies.session_name.as_str(), c.cookies.jwt_name.as_str()),
            ("s", "j")
        );
    }

    #[test]
    fn every_variable_is_trimmed_the_same_way() {
        let mut v = base();
        v.extend([
            ("JWT_AUDIENCE", " authenticated \n"),
            ("STYTCH_SECRET", " secret-test-xyz\n"),
            ("STYTCH_PROJECT_ID", "\tproject-test-123 "),
            ("REQUIRED_ROLE", "   "),
            ("COOKIE_SAMESITE", " Strict "),
            ("SESSION_REUSE_MIN_SECONDS", " 30 "),
        ]);
        let c = parse(&v).unwrap();
        assert_eq!(c.providers[0].policy.audiences, ["authenticated"]);
        assert_eq!(c.stytch.project_id, "project-test-123");
        let expected = crate::formats::b64::encode_standard(b"project-test-123:secret-test-xyz");
        assert_eq!(c.stytch.basic_auth(), format!("Basic {expected}"));
        assert_eq!(
            c.providers[0].policy.required_claims,
            [("role".to_owned(), "authenticated".into())],
            "empty is the default, never 'no check'"
        );
        assert_eq!(c.cookies.same_site, SameSite::Strict);
        assert_eq!(c.session.reuse_min_secs, 30);
    }

    #[test]
    fn footguns_are_refused() {
        // Credentialed CORS to a plaintext origin: only on this machine.
        for ok in [
            "http://localhost:5173",
            "http://127.0.0.1:5174",
            "http://[::1]:3000",
        ] {
            let mut v = base();
            v.insert("ALLOWED_ORIGINS", ok);
            assert!(parse(&v).is_ok(), "{ok}");
        }
        fails("ALLOWED_ORIGINS", "http://app.example.com");
        fails(
            "ALLOWED_ORIGINS",
            "https://app.example.com, http://192.168.1.10:8080",
        );
        // Domains browsers would drop the cookies for.
        for bad in [
            "com",
            ".com",
            "a..b",
            "example..com",
            "-a.example.com",
            "a-.example.com",
            "1.2.3.4",
            "exa_mple.com",
            "example.com.",
            "localhost",
        ] {
            fails("COOKIE_DOMAIN", bad);
        }
        for ok in [
            "example.com",
            ".example.com",
            "app.example.co.uk",
            "xn--bcher-kva.example",
        ] {
            let mut v = base();
            v.insert("COOKIE_DOMAIN", ok);
            assert!(parse(&v).is_ok(), "{ok}");
        }
        // A __Host- cookie cannot have a Domain.
        let mut v = base();
        v.extend([
            ("COOKIE_DOMAIN", "example.com"),
            ("COOKIE_NAME_SESSION", "__Host-session"),
        ]);
        assert_eq!(parse(&v).unwrap_err().variable, "COOKIE_NAME_SESSION");
        let mut v = base();
        v.extend([
            ("COOKIE_DOMAIN", "example.com"),
            ("COOKIE_NAME_JWT", "__Host-jwt"),
        ]);
        assert_eq!(parse(&v).unwrap_err().variable, "COOKIE_NAME_JWT");
        let mut v = base();
        v.insert("COOKIE_NAME_SESSION", "__Host-session");
        assert!(
            parse(&v).is_ok(),
            "without COOKIE_DOMAIN a __Host- name is fine"
        );
    }

    #[test]
    fn required_variables_are_named_when_missing() {
        for var in [
            "SUPABASE_URL",
            "STYTCH_PROJECT_ID",
            "STYTCH_SECRET",
            "STYTCH_PROFILE_ID",
        ] {
            let mut v = base();
            v.remove(var);
            assert_eq!(parse(&v).map(|_| ()).unwrap_err().variable, var);
        }
    }

    #[test]
    fn invalid_values_fail_instead_of_falling_back() {
        fails("SUPABASE_URL", "http://abcd.supabase.co");
        fails("SUPABASE_URL", "not a url");
        fails("JWKS_URL", "http://example.com/jwks.json");
        fails("JWKS_URL", "https://user:pw@example.com/jwks.json");
        fails("JWT_ALGORITHMS", "HS256");
        fails("JWT_ALGORITHMS", "none");
        fails("JWT_ALGORITHMS", "ES256,PS256");
        fails("JWT_ALGORITHMS", ",");
        fails("CLOCK_SKEW_SECONDS", "-1");
        fails("CLOCK_SKEW_SECONDS", "301");
        fails("CLOCK_SKEW_SECONDS", "thirty");
        fails("ALLOW_ANONYMOUS", "yes");
        fails("SESSION_DURATION_MINUTES", "4");
        fails("SESSION_DURATION_MINUTES", "527041");
        fails("STYTCH_API_BASE", "http://api.stytch.com");
        fails("STYTCH_PROJECT_ID", "project:test");
        fails("ALLOWED_ORIGINS", "https://app.example.com/");
        fails("ALLOWED_ORIGINS", "app.example.com");
        fails("ALLOWED_ORIGINS", "https://App.example.com");
        fails("ALLOWED_ORIGINS", "https://app.example.com:443");
        fails("SUPABASE_URL", "https://abcd.supabase.co/?x=1");
        fails("JWKS_URL", "https://a.example/jwks.json#frag");
        fails("COOKIE_HTTP_ONLY", "1");
        fails("COOKIE_SAMESITE", "lax");
        fails("COOKIE_DOMAIN", "exa mple.com");
        fails("COOKIE_NAME_SESSION", "a;b");
        fails("COOKIE_NAME_JWT", "stytch_session");
    }

    #[test]
    fn the_key_cache_secret_is_its_own_or_stytchs() {
        let c = parse(&base()).unwrap();
        assert_eq!(c.key_cache_secret.expose(), b"secret-test-xyz");
        let mut v = base();
        v.insert("KEY_CACHE_SECRET", "0123456789abcdef0123456789abcdef");
        let c = parse(&v).unwrap();
        assert_eq!(
            c.key_cache_secret.expose(),
            b"0123456789abcdef0123456789abcdef"
        );
        let e = fails("KEY_CACHE_SECRET", "too-short");
        assert!(!e.to_string().contains("too-short"));
        assert!(!format!("{c:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn the_secret_never_appears_in_debug_or_errors() {
        let c = parse(&base()).unwrap();
        assert!(!format!("{c:?}").contains("secret-test-xyz"));
        let e = fails("STYTCH_SECRET", "bad\u{7}secret");
        assert!(!e.to_string().contains("bad"));
        assert!(c.stytch.basic_auth().starts_with("Basic "));
    }
}
