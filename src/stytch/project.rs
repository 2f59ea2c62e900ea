//! The Stytch project the worker talks to: which product it is, where its API is, its
//! credentials and the session length every attest asks for. Read once from the
//! configuration (`config/` calls [`StytchConfig::new`]).

use std::fmt;

/// Stytch's own bounds for `session_duration_minutes`: 5 minutes to 366 days.
pub const SESSION_MINUTES: std::ops::RangeInclusive<u32> = 5..=527_040;
/// The API of live projects (`project-live-…` ids).
pub const LIVE_API_BASE: &str = "https://api.stytch.com";
/// The API of test projects (any other id).
pub const TEST_API_BASE: &str = "https://test.stytch.com";

/// Which of Stytch's two products the project is (a project is one or the other): the same
/// calls under other paths, answering with a member in an organization instead of a user
/// (<https://stytch.com/docs/b2b/api/attest-session>; stytch-node `lib/b2b/sessions.ts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Product {
    /// Users: `/v1/sessions/*`.
    Consumer,
    /// Members of organizations: `/v1/b2b/sessions/*`.
    B2b,
}

impl Product {
    /// `consumer` or `b2b`, as configured.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "consumer" => Some(Self::Consumer),
            "b2b" => Some(Self::B2b),
            _ => None,
        }
    }

    /// The configured name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Consumer => "consumer",
            Self::B2b => "b2b",
        }
    }

    /// Attest Session.
    pub fn attest_path(self) -> &'static str {
        match self {
            Self::Consumer => "/v1/sessions/attest",
            Self::B2b => "/v1/b2b/sessions/attest",
        }
    }

    /// Authenticate Session: refreshes a session's JWT from its session token.
    pub fn authenticate_path(self) -> &'static str {
        match self {
            Self::Consumer => "/v1/sessions/authenticate",
            Self::B2b => "/v1/b2b/sessions/authenticate",
        }
    }

    /// Revoke Session.
    pub fn revoke_path(self) -> &'static str {
        match self {
            Self::Consumer => "/v1/sessions/revoke",
            Self::B2b => "/v1/b2b/sessions/revoke",
        }
    }

    /// The member of a revoke request that names a session by its id.
    pub(crate) fn session_id_name(self) -> &'static str {
        match self {
            Self::Consumer => "session_id",
            Self::B2b => "member_session_id",
        }
    }

    /// The session key set, followed by the project id (public, no credentials).
    pub fn session_jwks_path(self) -> &'static str {
        match self {
            Self::Consumer => "/v1/sessions/jwks/",
            Self::B2b => "/v1/b2b/sessions/jwks/",
        }
    }

    /// The members of a 200 answer carrying a session: the top-level subject id, the session
    /// object, and the session's id and subject inside it.
    pub(crate) fn answer_names(self) -> [&'static str; 4] {
        match self {
            Self::Consumer => ["user_id", "session", "session_id", "user_id"],
            Self::B2b => [
                "member_id",
                "member_session",
                "member_session_id",
                "member_id",
            ],
        }
    }
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
    /// The project at `api_base` with these credentials (the secret is kept only inside the
    /// `Authorization` value it makes), its session length and product.
    pub fn new(
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

impl StytchConfig {
    /// Where a project's API is when no custom base is configured: Stytch's SDKs pick the live
    /// host for `project-live-` ids and the test host for any other.
    pub fn default_api_base(project_id: &str) -> &'static str {
        if project_id.starts_with("project-live-") {
            LIVE_API_BASE
        } else {
            TEST_API_BASE
        }
    }
}
