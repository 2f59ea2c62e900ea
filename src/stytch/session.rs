//! The Stytch session the browser already holds: what its session JWT says, how it is tied
//! to the login that created it, and whether a repeat exchange may be answered from it.
//!
//! Every Stytch session this worker creates carries a custom claim, [`LINK_CLAIM`], naming
//! the identity-provider login it was made for (`iss`, `sub`, `session_id` of the verified
//! token). Stytch keeps custom claims on the session and writes them into every session JWT,
//! including the ones its frontend SDK mints later
//! (<https://stytch.com/docs/guides/sessions/custom-claims>). A
//! repeat exchange whose verified token matches the link of a verified, live session JWT
//! needs no call to Stytch; one whose JWT has run out extends that session instead of
//! creating another; anything else gets a new session, and the old session token is never
//! sent anywhere.

use crate::formats::time::parse_rfc3339;
use crate::jwt::assurance::{Aal, Assurance};
use crate::jwt::verify::{Policy, VerifiedToken, is_expired};
use crate::keys::jwk::Alg;
use crate::stytch::ids::clean_id;
use crate::stytch::organization::Organization;
use crate::stytch::project::{Product, StytchConfig};
use serde::Serialize;
use serde_json::Value;

/// The custom claim holding the [`Link`]: a plain name, not one Stytch reserves (`iss`,
/// `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`, anything under `https://stytch.com/`).
pub const LINK_CLAIM: &str = "edge_attest";
/// Stytch's own claim in its session JWTs: `{id, started_at, last_accessed_at, expires_at,
/// attributes, authentication_factors, roles}` (stytch-go `SessionClaim`).
pub const SESSION_CLAIM: &str = "https://stytch.com/session";
/// Largest link sent to Stytch, serialised. Stytch caps all custom claims of a session at
/// 4 KB; a login whose identifiers do not fit in a quarter of that gets a session without a
/// link (and so is never answered at the edge) rather than an error.
pub const MAX_LINK_BYTES: usize = 1024;

/// Largest `SESSION_REUSE_MIN_SECONDS`. A Stytch session JWT lives 300 s; asking for more than
/// 240 s of it would leave a window of under a minute in which a JWT can be reused at all.
pub const MAX_REUSE_MIN_SECS: i64 = 240;
/// Default `SESSION_REUSE_MIN_SECONDS`: a reused JWT still has a minute to live, long enough
/// for the page that asked to use it before Stytch's frontend SDK refreshes it.
pub const DEFAULT_REUSE_MIN_SECS: i64 = 60;

/// How the Stytch session the browser already holds is verified and reused.
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

impl SessionConfig {
    /// The session rules of `project`. Its session JWTs are RS256 for the project id as
    /// audience, issued as `stytch.com/{project_id}` when minted through Stytch's own hosts
    /// or as the API base when minted through it (a custom domain), as Stytch's SDKs accept,
    /// or as one of `custom_issuers` (other custom domains the browser SDK may refresh
    /// through); checked with `skew_secs`.
    pub fn new(
        project: &StytchConfig,
        custom_issuers: Vec<String>,
        skew_secs: i64,
        reuse: bool,
        reuse_min_secs: i64,
    ) -> Self {
        let mut issuers = vec![
            format!("stytch.com/{}", project.project_id),
            project.api_base.clone(),
        ];
        for issuer in custom_issuers {
            if !issuers.contains(&issuer) {
                issuers.push(issuer);
            }
        }
        Self {
            reuse,
            reuse_min_secs,
            policy: Policy {
                issuers,
                audiences: vec![project.project_id.clone()],
                algorithms: vec![Alg::Rs256],
                skew_secs,
                required_claims: Vec::new(),
                anonymous: None,
                assurance: Assurance::default(),
            },
            jwks_url: format!(
                "{}{}{}",
                project.api_base,
                project.product.session_jwks_path(),
                project.project_id
            ),
        }
    }
}

/// The login a Stytch session was created for. Compared member by member, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    /// `iss` of the identity-provider token.
    pub iss: String,
    /// `sub` of the identity-provider token.
    pub sub: String,
    /// The identity-provider login's own id, when its token names one: the value of the
    /// provider's session claim (Supabase's `session_id`, OpenID Connect's `sid`), which stays
    /// the same across the token refreshes of one login.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// B2B: the organization (id or slug) the worker asked Stytch to put the member in, when
    /// it named one. A login reuses only a session made for the organization it asks for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// The assurance level of the token the session was made (or last extended) for, when
    /// its provider's tokens have one: an `aal1` session is never answered for an `aal2`
    /// login, and the app's backend can require `aal2` from the session JWT itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aal: Option<Aal>,
}

impl Link {
    /// The link for a verified identity-provider token whose provider names its logins in
    /// `session_claim` (a claim that is not a string counts as absent), asking for the B2B
    /// `organization` when there is one.
    pub fn of(
        token: &VerifiedToken,
        session_claim: Option<&str>,
        organization: Option<String>,
    ) -> Self {
        Self {
            iss: token.issuer().to_owned(),
            sub: token.subject().to_owned(),
            session_id: session_claim
                .and_then(|name| token.claim(name))
                .and_then(Value::as_str)
                .map(str::to_owned),
            organization,
            aal: token.aal(),
        }
    }

    /// Whether this link may be sent to Stytch ([`MAX_LINK_BYTES`]).
    pub fn fits(&self) -> bool {
        serde_json::to_string(self).is_ok_and(|s| s.len() <= MAX_LINK_BYTES)
    }

    /// The link in a custom-claims map (a session JWT's payload, or a session's
    /// `custom_claims`): `None` when absent or not exactly a link (an object of string `iss`
    /// and `sub`, optional strings `session_id` and `organization`, an optional assurance
    /// level `aal`, nothing else). Read by hand: a serde `Deserialize` over `Value` cost
    /// 2.6 KB of WASM for these members.
    pub fn from_claim(value: Option<&Value>) -> Option<Self> {
        let Some(Value::Object(members)) = value else {
            return None;
        };
        if members.keys().any(|k| {
            !matches!(
                k.as_str(),
                "iss" | "sub" | "session_id" | "organization" | "aal"
            )
        }) {
            return None;
        }
        // Some(None): absent; None: present but not a string (not a link).
        let optional = |name: &str| match members.get(name) {
            None => Some(None),
            Some(Value::String(s)) => Some(Some(s.clone())),
            Some(_) => None,
        };
        let aal = match optional("aal")? {
            None => None,
            Some(level) => Some(Aal::parse(&level)?),
        };
        Some(Self {
            iss: optional("iss")??,
            sub: optional("sub")??,
            session_id: optional("session_id")?,
            organization: optional("organization")?,
            aal,
        })
    }

    /// Whether this link was made for the user `sub` of the issuer `iss`, whatever the login,
    /// level or organization: a token of that user that a claim rule refuses (a stale aal1
    /// token after the MFA challenge, an expired one) is not a switch of user.
    pub fn is_user(&self, iss: &str, sub: &str) -> bool {
        self.iss == iss && self.sub == sub
    }

    /// Whether `login` is this link's login at a higher assurance level (the same user,
    /// login and organization; the MFA challenge passed since, or the session predates
    /// links that carry the level): such a session is extended, which rewrites its link.
    fn upgraded_by(&self, login: &Self) -> bool {
        self.aal < login.aal
            && *login
                == Self {
                    aal: login.aal,
                    ..self.clone()
                }
    }
}

/// Most roles read from a session: more than any project defines for one user.
pub const MAX_SESSION_ROLES: usize = 64;
/// Longest role id read: Stytch's role ids are short identifiers.
pub const MAX_ROLE_BYTES: usize = 128;

/// A session's Stytch RBAC roles, from the `roles` array of its session claim or of Stytch's
/// session answer (consumer `session.roles`, B2B `member_session.roles`). Only role ids that
/// are printable ASCII without spaces or commas, up to [`MAX_ROLE_BYTES`], are kept, at most
/// [`MAX_SESSION_ROLES`]: a value that could not be a role id can only fail to match a rule.
pub fn roles_of(value: Option<&Value>) -> Vec<String> {
    let Some(Value::Array(items)) = value else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(Value::as_str)
        .filter(|r| {
            !r.is_empty()
                && r.len() <= MAX_ROLE_BYTES
                && r.bytes().all(|c| c.is_ascii_graphic() && c != b',')
        })
        .take(MAX_SESSION_ROLES)
        .map(str::to_owned)
        .collect()
}

/// Why a session JWT that verified cannot describe a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionClaimError {
    /// `sub` is not a Stytch identifier.
    Subject,
    /// No [`SESSION_CLAIM`] object, or its `id` is not a Stytch identifier.
    SessionId,
    /// The session claim's `expires_at` is missing or not RFC 3339.
    ExpiresAt,
    /// B2B: no organization claim (`https://stytch.com/organization`) with an id.
    Organization,
}

impl SessionClaimError {
    /// A stable name for the log.
    pub fn kind(self) -> &'static str {
        match self {
            Self::Subject => "session_claims: sub",
            Self::SessionId => "session_claims: id",
            Self::ExpiresAt => "session_claims: expires_at",
            Self::Organization => "session_claims: organization",
        }
    }
}

/// A Stytch session, as a session JWT that verified under Stytch's keys describes it.
/// Built only from a [`VerifiedToken`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSession {
    /// Stytch user id (`sub`).
    pub user_id: String,
    /// Stytch session id (the session claim's `id`).
    pub session_id: String,
    /// The session's own expiry as Stytch wrote it (RFC 3339), not the JWT's.
    pub expires_at: String,
    /// The same instant, Unix seconds.
    pub expires_at_unix: i64,
    /// The JWT's `exp`, Unix seconds: five minutes after Stytch minted it.
    pub jwt_expires_at: i64,
    /// The login the session was created for, when it carries one.
    pub link: Option<Link>,
    /// B2B: the organization the member session is in (its `https://stytch.com/organization`).
    pub organization: Option<Organization>,
    /// The session's Stytch RBAC roles (the session claim's `roles`), as [`roles_of`] reads
    /// them.
    pub roles: Vec<String>,
}

impl VerifiedSession {
    /// Reads the session from a verified session JWT of `product`: `sub` is the user (B2B:
    /// the member), and a member session must name its organization.
    pub fn from_token(jwt: &VerifiedToken, product: Product) -> Result<Self, SessionClaimError> {
        let user_id = clean_id(Some(jwt.subject())).ok_or(SessionClaimError::Subject)?;
        let claim = jwt.claim(SESSION_CLAIM);
        let field = |name: &str| claim.and_then(|c| c.get(name)).and_then(Value::as_str);
        let session_id = clean_id(field("id")).ok_or(SessionClaimError::SessionId)?;
        let expires_at = field("expires_at").ok_or(SessionClaimError::ExpiresAt)?;
        let expires_at_unix = parse_rfc3339(expires_at).ok_or(SessionClaimError::ExpiresAt)?;
        let organization = match product {
            Product::Consumer => None,
            Product::B2b => Some(Organization::of_jwt(jwt).ok_or(SessionClaimError::Organization)?),
        };
        Ok(Self {
            user_id,
            session_id,
            expires_at: expires_at.to_owned(),
            expires_at_unix,
            jwt_expires_at: jwt.expires_at(),
            link: Link::from_claim(jwt.claim(LINK_CLAIM)),
            organization,
            roles: roles_of(claim.and_then(|c| c.get("roles"))),
        })
    }

    /// Whether the JWT has not expired (with `skew`) and the session itself has not ended:
    /// what `GET /api/session` answers from without asking Stytch.
    pub fn is_live(&self, now: i64, skew: i64) -> bool {
        !is_expired(self.jwt_expires_at, now, skew) && self.expires_at_unix > now
    }

    /// Whether the JWT has at least `secs` left and the session itself has not ended: what
    /// the gateway forwards without refreshing it first (the app checks `exp` itself).
    pub fn lasts(&self, now: i64, secs: i64) -> bool {
        self.jwt_expires_at.saturating_sub(now) >= secs && self.expires_at_unix > now
    }
}

/// What a session says of itself, whichever way it was found (its verified JWT, or Stytch's
/// answer to a refresh): what `GET /api/session` answers with, the gateway's identity is made
/// of, and its rules are checked against.
#[derive(Debug, Clone, Copy)]
pub struct SessionFacts<'a> {
    /// The Stytch user (B2B: member).
    pub user_id: &'a str,
    /// The Stytch session.
    pub session_id: &'a str,
    /// When the session ends (RFC 3339).
    pub expires_at: &'a str,
    /// The login it was made for, when it carries a link.
    pub link: Option<&'a Link>,
    /// B2B: its organization.
    pub organization: Option<&'a Organization>,
    /// Its Stytch RBAC roles.
    pub roles: &'a [String],
}

impl VerifiedSession {
    /// Its facts.
    pub fn facts(&self) -> SessionFacts<'_> {
        SessionFacts {
            user_id: &self.user_id,
            session_id: &self.session_id,
            expires_at: &self.expires_at,
            link: self.link.as_ref(),
            organization: self.organization.as_ref(),
            roles: &self.roles,
        }
    }
}

/// What a repeat exchange may do with the session the browser holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prior {
    /// Answer from it, with no call to Stytch.
    Reuse,
    /// Attest with its session token, so that Stytch extends it (why it is not reused).
    Extend(&'static str),
    /// Create a new session; never send the old session token (why).
    Replace(&'static str),
}

impl Prior {
    /// What the log line says about the browser's session.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Reuse => "reusable",
            Self::Extend(why) | Self::Replace(why) => why,
        }
    }
}

/// Decides what a repeat exchange for the login `link` does with the verified session
/// `session` at `now` (Unix seconds). The link comes first: a session made for another
/// login, or in B2B for another organization, is never reused or extended, whatever its
/// state. A session of this login made at a lower assurance level (before the MFA
/// challenge) is never reused: it is extended, which rewrites its link with the level of
/// the token that extends it; one made at a higher level than the login shows is replaced. A B2B login whose organization the worker does not know (the profile maps it from
/// the token) is never answered at the edge: the token may name another organization now.
/// Which product is told by the two sides themselves: only a B2B login asks for an
/// organization, and only a member session has one ([`VerifiedSession::from_token`]).
pub fn assess(session: &VerifiedSession, link: &Link, now: i64, cfg: &SessionConfig) -> Prior {
    let upgrade = match &session.link {
        None => return Prior::Replace("no_link"),
        Some(l) if l.upgraded_by(link) => true,
        Some(l) if l != link => return Prior::Replace("link_mismatch"),
        Some(_) => false,
    };
    if let Some(requested) = &link.organization
        && !session
            .organization
            .as_ref()
            .is_some_and(|o| o.is(requested))
    {
        return Prior::Replace("organization_mismatch");
    }
    if session.expires_at_unix <= now {
        return Prior::Replace("session_expired");
    }
    if upgrade {
        return Prior::Extend("aal_upgrade");
    }
    if is_expired(session.jwt_expires_at, now, cfg.policy.skew_secs) {
        return Prior::Extend("jwt_expired");
    }
    if session.jwt_expires_at.saturating_sub(now) < cfg.reuse_min_secs {
        return Prior::Extend("jwt_near_expiry");
    }
    if !cfg.reuse {
        return Prior::Extend("reuse_disabled");
    }
    if session.organization.is_some() && link.organization.is_none() {
        return Prior::Extend("organization_unknown");
    }
    Prior::Reuse
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_790_000_000;

    /// The session rules of a test project: reuse on or off, with this minimum left.
    fn rules(reuse: bool, reuse_min_secs: i64) -> SessionConfig {
        let project = StytchConfig::new(
            "https://test.stytch.com".into(),
            "project-test-1".into(),
            "secret",
            60,
            Product::Consumer,
        );
        SessionConfig::new(&project, Vec::new(), 30, reuse, reuse_min_secs)
    }

    fn cfg() -> SessionConfig {
        rules(true, DEFAULT_REUSE_MIN_SECS)
    }

    fn link() -> Link {
        Link {
            iss: "https://abcd.supabase.co/auth/v1".into(),
            sub: "8d8a2b3c".into(),
            session_id: Some("0b6f8a52".into()),
            organization: None,
            aal: Some(Aal::Aal1),
        }
    }

    fn session(jwt_left: i64, session_left: i64) -> VerifiedSession {
        VerifiedSession {
            user_id: "user-test-1".into(),
            session_id: "session-test-1".into(),
            expires_at: String::new(),
            expires_at_unix: NOW + session_left,
            jwt_expires_at: NOW + jwt_left,
            link: Some(link()),
            organization: None,
            roles: Vec::new(),
        }
    }

    /// A member session in organization `organization-test-1` (slug `acme`), made for the
    /// login `link` asking for `requested`.
    fn member_session(requested: Option<&str>) -> (VerifiedSession, Link) {
        let link = Link {
            organization: requested.map(str::to_owned),
            ..link()
        };
        let session = VerifiedSession {
            link: Some(link.clone()),
            organization: Some(Organization {
                id: "organization-test-1".into(),
                slug: Some("acme".into()),
            }),
            ..session(300, 3600)
        };
        (session, link)
    }

    #[test]
    fn a_member_session_is_reused_only_in_the_organization_asked_for() {
        let b2b = cfg();
        for requested in ["organization-test-1", "acme"] {
            let (s, l) = member_session(Some(requested));
            assert_eq!(assess(&s, &l, NOW, &b2b), Prior::Reuse, "{requested}");
        }
        // The link asks for another organization than the one the session is in (a link
        // Stytch would never have: the JWT is the judge).
        let (s, l) = member_session(Some("organization-test-2"));
        assert_eq!(
            assess(&s, &l, NOW, &b2b),
            Prior::Replace("organization_mismatch")
        );
        // The same login asking for another organization than the session's link.
        let (s, _) = member_session(Some("acme"));
        let other = Link {
            organization: Some("globex".into()),
            ..link()
        };
        assert_eq!(
            assess(&s, &other, NOW, &b2b),
            Prior::Replace("link_mismatch")
        );
        // No organization asked for (the profile maps it): never reused, only extended.
        let (s, l) = member_session(None);
        assert_eq!(
            assess(&s, &l, NOW, &b2b),
            Prior::Extend("organization_unknown")
        );
    }

    #[test]
    fn a_live_session_of_the_same_login_is_reused() {
        assert_eq!(
            assess(&session(300, 3600), &link(), NOW, &cfg()),
            Prior::Reuse
        );
        assert_eq!(
            assess(&session(60, 3600), &link(), NOW, &cfg()),
            Prior::Reuse,
            "exactly the minimum left"
        );
    }

    #[test]
    fn a_jwt_near_or_past_expiry_extends_instead() {
        let c = cfg();
        assert_eq!(
            assess(&session(59, 3600), &link(), NOW, &c),
            Prior::Extend("jwt_near_expiry")
        );
        assert_eq!(
            assess(&session(-31, 3600), &link(), NOW, &c),
            Prior::Extend("jwt_expired")
        );
        let strict = rules(true, 0);
        assert_eq!(
            assess(&session(1, 3600), &link(), NOW, &strict),
            Prior::Reuse
        );
        assert_eq!(
            assess(&session(-1, 3600), &link(), NOW, &strict),
            Prior::Extend("jwt_near_expiry"),
            "within the skew the JWT verifies, but has no time left to reuse"
        );
        let off = rules(false, DEFAULT_REUSE_MIN_SECS);
        assert_eq!(
            assess(&session(300, 3600), &link(), NOW, &off),
            Prior::Extend("reuse_disabled")
        );
    }

    #[test]
    fn an_ended_session_or_another_login_is_replaced() {
        let c = cfg();
        assert_eq!(
            assess(&session(300, 0), &link(), NOW, &c),
            Prior::Replace("session_expired")
        );
        for other in [
            Link {
                iss: "https://other.supabase.co/auth/v1".into(),
                ..link()
            },
            Link {
                sub: "someone-else".into(),
                ..link()
            },
            Link {
                session_id: Some("another-login".into()),
                ..link()
            },
            Link {
                session_id: None,
                ..link()
            },
        ] {
            assert_eq!(
                assess(&session(300, 3600), &other, NOW, &c),
                Prior::Replace("link_mismatch"),
                "{other:?}"
            );
        }
        let unlinked = VerifiedSession {
            link: None,
            ..session(300, 3600)
        };
        assert_eq!(
            assess(&unlinked, &link(), NOW, &c),
            Prior::Replace("no_link")
        );
    }

    #[test]
    fn an_aal1_session_is_extended_for_an_aal2_login_never_reused() {
        let c = cfg();
        let aal2 = Link {
            aal: Some(Aal::Aal2),
            ..link()
        };
        // The session was made before the MFA challenge: the same login, one level lower.
        assert_eq!(
            assess(&session(300, 3600), &aal2, NOW, &c),
            Prior::Extend("aal_upgrade")
        );
        // A session made before links carried the level counts as the lowest.
        let unlevelled = VerifiedSession {
            link: Some(Link {
                aal: None,
                ..link()
            }),
            ..session(300, 3600)
        };
        assert_eq!(
            assess(&unlevelled, &link(), NOW, &c),
            Prior::Extend("aal_upgrade")
        );
        // An aal2 session is not handed to an aal1 login: replaced.
        let upgraded = VerifiedSession {
            link: Some(aal2.clone()),
            ..session(300, 3600)
        };
        assert_eq!(
            assess(&upgraded, &link(), NOW, &c),
            Prior::Replace("link_mismatch")
        );
        assert_eq!(assess(&upgraded, &aal2, NOW, &c), Prior::Reuse);
        // Another login at a higher level is another login.
        let other = Link {
            session_id: Some("another".into()),
            ..aal2.clone()
        };
        assert_eq!(
            assess(&session(300, 3600), &other, NOW, &c),
            Prior::Replace("link_mismatch")
        );
        // An ended session is not extended, whatever the level.
        assert_eq!(
            assess(&session(300, 0), &aal2, NOW, &c),
            Prior::Replace("session_expired")
        );
    }

    #[test]
    fn links_are_read_strictly_and_capped() {
        let l = link();
        let v = serde_json::to_value(&l).unwrap();
        assert_eq!(Link::from_claim(Some(&v)), Some(l.clone()));
        let mut extra = v.clone();
        extra["role"] = "admin".into();
        assert_eq!(Link::from_claim(Some(&extra)), None);
        let mut numeric = v.clone();
        numeric["sub"] = 7.into();
        assert_eq!(Link::from_claim(Some(&numeric)), None);
        let mut no_level = v.clone();
        no_level["aal"] = "aal9".into();
        assert_eq!(Link::from_claim(Some(&no_level)), None);
        assert_eq!(v["aal"], "aal1");
        assert_eq!(Link::from_claim(Some(&Value::from("x"))), None);
        assert_eq!(Link::from_claim(None), None);
        assert!(l.fits());
        let huge = Link {
            sub: "x".repeat(MAX_LINK_BYTES),
            ..l
        };
        assert!(!huge.fits());
    }
}
