//! Configuration, parsed once per isolate into a typed [`Config`].
//!
//! Every variable of the spec is read here and nowhere else; defaults are applied here.
//! An invalid value never falls back to a default: it is a [`ConfigError`] naming the
//! variable, which the worker answers with 500 `misconfigured` and logs.

pub mod providers;

use crate::cookies::{self, CookiePolicy, SameSite};
use crate::formats::urls::{self, UrlParts};
use crate::jwt::verify::Policy;
use crate::keys::integrity::{CacheSecret, MIN_SECRET_CHARS};
use crate::keys::jwk::Alg;
use crate::stytch::api::Product;
pub use providers::{ANY_ROLE, KeySource, Provider};
use std::fmt;

/// Allowed range for `SESSION_DURATION_MINUTES`, Stytch's own bounds (5 minutes to 366 days).
pub const SESSION_MINUTES: std::ops::RangeInclusive<u32> = 5..=527_040;
/// Largest accepted `CLOCK_SKEW_SECONDS`: skew widens the window for expired tokens, and
/// RFC 8725-era verifiers keep it within a minute or two.
pub const MAX_SKEW_SECS: i64 = 300;
/// Largest `SESSION_REUSE_MIN_SECONDS`. A Stytch session JWT lives 300 s; asking for more than
/// 240 s of it would leave a window of under a minute in which a JWT can be reused at all.
pub const MAX_REUSE_MIN_SECS: i64 = 240;
/// Default `SESSION_REUSE_MIN_SECONDS`: a reused JWT still has a minute to live, long enough
/// for the page that asked to use it before Stytch's frontend SDK refreshes it.
pub const DEFAULT_REUSE_MIN_SECS: i64 = 60;
const STYTCH_LIVE: &str = "https://api.stytch.com";
const STYTCH_TEST: &str = "https://test.stytch.com";

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
}

/// The Stytch session half of the configuration: answering repeat exchanges at the edge.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// `SESSION_REUSE`: answer a repeat exchange from the browser's live session JWT.
    pub reuse: bool,
    /// `SESSION_REUSE_MIN_SECONDS`: a JWT is reused only with at least this long left.
    pub reuse_min_secs: i64,
    /// What a Stytch session JWT must satisfy: RS256, one of Stytch's issuers for this
    /// project, the project id in `aud`, and the time claims with `CLOCK_SKEW_SECONDS`.
    pub policy: Policy,
    /// Stytch's session key set: `{STYTCH_API_BASE}/v1/sessions/jwks/{project_id}` (B2B:
    /// `/v1/b2b/sessions/jwks/`).
    pub jwks_url: String,
}

/// The Stytch half of the configuration.
#[derive(Clone)]
pub struct StytchConfig {
    /// Base URL without trailing slash, e.g. `https://test.stytch.com`.
    pub api_base: String,
    /// `STYTCH_PROJECT_ID`.
    pub project_id: String,
    /// `Basic base64(project_id:secret)`, built once: it holds the secret, so it is private
    /// and redacted from `Debug`.
    authorization: String,
    /// Sent with every attest call; without it Stytch creates no session.
    pub session_duration_minutes: u32,
    /// Consumer or B2B: which endpoints, and which answers.
    pub product: Product,
}

impl StytchConfig {
    fn new(
        api_base: String,
        project_id: String,
        secret: &str,
        session_duration_minutes: u32,
        product: Product,
    ) -> Self {
        let raw = format!("{project_id}:{secret}");
        let authorization = format!(
            "Basic {}",
            crate::formats::b64::encode_standard(raw.as_bytes())
        );
        Self {
            api_base,
            project_id,
            authorization,
            session_duration_minutes,
            product,
        }
    }

    /// `Authorization` header value: HTTP Basic `project_id:secret`.
    pub fn basic_auth(&self) -> &str {
        &self.authorization
    }
}

impl fmt::Debug for StytchConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StytchConfig")
            .field("api_base", &self.api_base)
            .field("project_id", &self.project_id)
            .field("authorization", &"<redacted>")
            .field("session_duration_minutes", &self.session_duration_minutes)
            .field("product", &self.product)
            .finish()
    }
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

impl Config {
    /// The provider a token's (unverified) `iss` selects, compared byte for byte.
    pub fn provider_for(&self, unverified_issuer: &str) -> Option<&Provider> {
        self.providers
            .iter()
            .find(|p| p.policy.issuers.iter().any(|i| i == unverified_issuer))
    }

    /// Reads and validates every variable through `get` (the worker passes its `Env`).
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::parse(get).map_err(|mut e| {
            e.allowed_origins = allowed_origins(get).ok();
            e
        })
    }

    fn parse(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        // Every variable is read through here, trimmed the same way; unset and empty (after
        // trimming) are the same: the default, or for a required one, an error.
        let opt = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let required = |name: &'static str| opt(name).ok_or_else(|| err(name, "is required"));

        let skew_secs = int_var(
            "CLOCK_SKEW_SECONDS",
            opt("CLOCK_SKEW_SECONDS"),
            0..=MAX_SKEW_SECS,
            30,
        )?;
        // The product of the Stytch project: `STYTCH_PRODUCT`, or what the providers say.
        let default_product = match opt("STYTCH_PRODUCT") {
            None => None,
            Some(name) => Some(
                Product::parse(&name)
                    .ok_or_else(|| err("STYTCH_PRODUCT", "must be consumer or b2b"))?,
            ),
        };
        // With PROVIDERS, that is the complete list; without, the Supabase project of
        // SUPABASE_URL and the variables that refine it.
        let (providers, product) = match opt("PROVIDERS") {
            Some(text) => providers::from_json(&text, skew_secs, default_product)?,
            None => {
                let product = default_product.unwrap_or(Product::Consumer);
                (
                    vec![providers::from_variables(&opt, skew_secs, product)?],
                    product,
                )
            }
        };

        let project_id = required("STYTCH_PROJECT_ID")?;
        if !project_id
            .bytes()
            .all(|c| c.is_ascii_graphic() && c != b':')
        {
            return Err(err(
                "STYTCH_PROJECT_ID",
                "must be printable ASCII without ':'",
            ));
        }
        let secret = required("STYTCH_SECRET")?;
        if secret.chars().any(char::is_control) {
            return Err(err("STYTCH_SECRET", "contains control characters"));
        }
        let key_cache_secret = match opt("KEY_CACHE_SECRET") {
            None => CacheSecret::new(secret.clone()),
            Some(own) if own.chars().count() >= MIN_SECRET_CHARS => CacheSecret::new(own),
            Some(_) => {
                return Err(err(
                    "KEY_CACHE_SECRET",
                    format!(
                        "must be at least {MIN_SECRET_CHARS} characters (a random string, e.g. openssl rand -base64 32)"
                    ),
                ));
            }
        };
        let api_base = match opt("STYTCH_API_BASE") {
            Some(u) => base_url("STYTCH_API_BASE", &u)?,
            None if project_id.starts_with("project-live-") => STYTCH_LIVE.into(),
            None => STYTCH_TEST.into(),
        };
        let session_duration_minutes = int_var(
            "SESSION_DURATION_MINUTES",
            opt("SESSION_DURATION_MINUTES"),
            SESSION_MINUTES,
            60,
        )?;

        let allowed_origins = allowed_origins(get)?;

        let cookie_name = |var: &'static str, default: &str| -> Result<String, ConfigError> {
            let name = opt(var).unwrap_or_else(|| default.to_owned());
            if cookies::is_cookie_name(&name) {
                Ok(name)
            } else {
                Err(err(var, "is not a valid cookie name"))
            }
        };
        let session_name = cookie_name("COOKIE_NAME_SESSION", cookies::DEFAULT_SESSION_COOKIE)?;
        let jwt_name = cookie_name("COOKIE_NAME_JWT", cookies::DEFAULT_JWT_COOKIE)?;
        if session_name == jwt_name {
            return Err(err(
                "COOKIE_NAME_JWT",
                "must differ from COOKIE_NAME_SESSION",
            ));
        }
        let domain = opt("COOKIE_DOMAIN");
        if let Some(d) = &domain {
            if !is_cookie_domain(d) {
                return Err(err(
                    "COOKIE_DOMAIN",
                    "is not a host name of two or more labels, like example.com (browsers drop cookies for anything else)",
                ));
            }
            // A `__Host-` cookie must not have a Domain attribute: browsers drop it.
            for (var, name) in [
                ("COOKIE_NAME_SESSION", &session_name),
                ("COOKIE_NAME_JWT", &jwt_name),
            ] {
                if name.starts_with("__Host-") {
                    return Err(err(
                        var,
                        "a __Host- cookie cannot have a Domain: unset COOKIE_DOMAIN or rename it",
                    ));
                }
            }
        }
        let http_only = bool_var("COOKIE_HTTP_ONLY", opt("COOKIE_HTTP_ONLY"), true)?;
        let same_site = match opt("COOKIE_SAMESITE") {
            Some(v) => SameSite::parse(&v)
                .ok_or_else(|| err("COOKIE_SAMESITE", "must be Lax, Strict or None"))?,
            None => SameSite::Lax,
        };

        let reuse = bool_var("SESSION_REUSE", opt("SESSION_REUSE"), true)?;
        let reuse_min_secs = int_var(
            "SESSION_REUSE_MIN_SECONDS",
            opt("SESSION_REUSE_MIN_SECONDS"),
            0..=MAX_REUSE_MIN_SECS,
            DEFAULT_REUSE_MIN_SECS,
        )?;
        // As Stytch's SDKs do: `stytch.com/{project_id}` for JWTs minted through Stytch's own
        // hosts, the API base for those minted through it (a custom domain), plus any other
        // custom domain the browser SDK may refresh through.
        let mut session_issuers = vec![format!("stytch.com/{project_id}"), api_base.clone()];
        if let Some(list) = opt("STYTCH_SESSION_ISSUERS") {
            for issuer in comma_list(&list) {
                issuer_origin(&issuer)?;
                if !session_issuers.contains(&issuer) {
                    session_issuers.push(issuer);
                }
            }
        }
        let session = SessionConfig {
            reuse,
            reuse_min_secs,
            policy: Policy {
                issuers: session_issuers,
                audiences: vec![project_id.clone()],
                algorithms: vec![Alg::Rs256],
                skew_secs,
                required_claims: Vec::new(),
                anonymous: None,
                assurance: Default::default(),
            },
            jwks_url: format!("{api_base}{}{project_id}", product.session_jwks_path()),
        };

        Ok(Self {
            providers,
            stytch: StytchConfig::new(
                api_base,
                project_id,
                &secret,
                session_duration_minutes,
                product,
            ),
            allowed_origins,
            cookies: CookiePolicy {
                session_name,
                jwt_name,
                domain,
                http_only,
                same_site,
            },
            session,
            key_cache_secret,
        })
    }
}

/// `ALLOWED_ORIGINS`, on its own (also read when another variable is invalid).
fn allowed_origins(get: &dyn Fn(&str) -> Option<String>) -> Result<Vec<String>, ConfigError> {
    match get("ALLOWED_ORIGINS") {
        Some(list) => comma_list(&list)
            .into_iter()
            .map(|o| exact_origin(&o).map(|()| o))
            .collect(),
        None => Ok(Vec::new()),
    }
}

fn comma_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An integer variable within `range`; `default` when unset.
/// A host name of at least two labels (browsers refuse cookies for a bare `com` and drop
/// those for `a..b`): labels of letters, digits and inner hyphens, up to 63 characters, 253
/// in all, the last not numeric (no IP address). One leading dot is allowed (browsers ignore it).
fn is_cookie_domain(domain: &str) -> bool {
    let host = domain.strip_prefix('.').unwrap_or(domain);
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() >= 2
        && host.len() <= 253
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && labels
            .last()
            .is_some_and(|tld| !tld.bytes().all(|c| c.is_ascii_digit()))
}

fn int_var<T>(
    name: &'static str,
    v: Option<String>,
    range: std::ops::RangeInclusive<T>,
    default: T,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + fmt::Display,
{
    match v {
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

fn bool_var(name: &'static str, v: Option<String>, default: bool) -> Result<bool, ConfigError> {
    match v.as_deref() {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(_) => Err(err(name, "must be true or false")),
    }
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
