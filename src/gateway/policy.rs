//! Who may pass a gateway rule: the methods it applies to, what becomes of a CORS preflight,
//! whether a bearer token is accepted, and what the session must show.
//!
//! Decided in two steps around the session lookup, as identity-aware proxies do (oauth2-proxy
//! checks its skip rules before loading a session and its allowed groups after): the rule's
//! [`Access`] says before any session work whether the request needs one, and
//! [`Requirements::check`] judges the session once it is known. Both are pure; mapping a
//! refusal to 401, 403 or a redirect is `app/gateway.rs`'s.

use crate::jwt::assurance::Aal;
use crate::stytch::session::SessionFacts;

/// The methods a rule applies to unless it lists its own: every method a browser or an API
/// client uses. TRACE, TRACK and CONNECT are never passed (TRACE would echo the cookies and
/// the identity headers back to a script; CONNECT is not a request for a path).
pub const DEFAULT_METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
/// Methods no rule may pass.
const NEVER_PASSED: [&str; 3] = ["TRACE", "TRACK", "CONNECT"];
/// Most methods a rule may list.
pub const MAX_METHODS: usize = 32;
/// Longest method name accepted (WebDAV's `BASELINE-CONTROL` is 16).
pub const MAX_METHOD_BYTES: usize = 32;
/// Most roles or organizations a rule may list.
pub const MAX_NAMES: usize = 32;
/// Longest role or organization name a rule may list, and read from a session: Stytch's ids
/// and slugs are shorter.
pub const MAX_NAME_BYTES: usize = 128;

/// Whether `s` is a method name as a request can carry one: an RFC 9110 token of upper-case
/// letters, digits and `-`/`_` (methods are case-sensitive, and every registered one is
/// upper-case), at most [`MAX_METHOD_BYTES`].
pub fn is_method_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_METHOD_BYTES
        && s.bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'-' || c == b'_')
}

/// The methods a rule applies to, in the order configured, and whether the rule names them
/// (`methods`) or takes the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Methods {
    names: Vec<String>,
    named: bool,
}

impl Default for Methods {
    fn default() -> Self {
        Self {
            names: DEFAULT_METHODS.iter().map(|m| (*m).to_owned()).collect(),
            named: false,
        }
    }
}

/// The methods an app may take from a POST form's `_method` field (Rails, Laravel, Symfony):
/// a POST can become any of them after the gateway judged it.
const POST_CAN_BECOME: [&str; 3] = ["PUT", "PATCH", "DELETE"];

impl Methods {
    /// A rule's `methods`: one to [`MAX_METHODS`] method names, upper-case as sent, none of
    /// TRACE, TRACK or CONNECT.
    pub fn parse(names: &[String]) -> Result<Self, String> {
        if names.is_empty() || names.len() > MAX_METHODS {
            return Err(format!("must list 1 to {MAX_METHODS} methods"));
        }
        let mut out: Vec<String> = Vec::with_capacity(names.len());
        for name in names {
            if !is_method_name(name) {
                return Err(format!(
                    "{name} is not a method name (upper-case, as requests carry it: GET, POST, PROPFIND)"
                ));
            }
            if NEVER_PASSED.contains(&name.as_str()) {
                return Err(format!(
                    "{name} is never passed (TRACE and TRACK echo cookies; CONNECT is not for a path)"
                ));
            }
            if !out.contains(name) {
                out.push(name.clone());
            }
        }
        Ok(Self {
            names: out,
            named: true,
        })
    }

    /// Whether the rule applies to `method`. `HEAD` goes with `GET`: every framework answers
    /// a HEAD with the GET handler, so a rule for GET that let HEAD fall through to a laxer
    /// rule would hand that handler to whoever the laxer rule admits.
    pub fn allows(&self, method: &str) -> bool {
        self.names
            .iter()
            .any(|m| m == method || (method == "HEAD" && m == "GET"))
    }

    /// Whether every method `other` applies to, this one applies to too.
    pub fn covers_all_of(&self, other: &Self) -> bool {
        other.names().all(|m| self.allows(m))
    }

    /// The names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// Whether the rule names, apart from POST, a method a POST form can become.
    pub fn singles_out_what_post_can_become(&self) -> bool {
        self.named && !self.allows("POST") && POST_CAN_BECOME.iter().any(|m| self.allows(m))
    }
}

/// What becomes of a CORS preflight (`OPTIONS` with `Access-Control-Request-Method`) for a
/// path the rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preflight {
    /// Answered by the gateway, the app never sees it: 204 for an `ALLOWED_ORIGINS` origin,
    /// 403 for any other (browsers never preflight their own origin). Peers make forwarding
    /// opt-in for the same reason (Pomerium `cors_allow_preflight`, oauth2-proxy
    /// `--skip-auth-preflight`, Cloudflare Access `options_preflight_bypass`): a request that
    /// merely looks like a preflight would otherwise reach the app with no session.
    Answer,
    /// Sent on to the app, which answers CORS itself: with no body, no `Cookie`, no
    /// `Authorization` and no identity.
    Forward,
}

impl Preflight {
    /// Whether it fits the rule's methods: forwarding is for a rule whose methods include
    /// OPTIONS, as a forwarded preflight is an OPTIONS request, judged by the rule OPTIONS gets.
    pub fn check(self, methods: &Methods) -> Result<(), &'static str> {
        if self == Self::Forward && !methods.allows("OPTIONS") {
            Err(
                "forward only on a rule whose methods include OPTIONS (a forwarded preflight is an OPTIONS request, judged by the rule OPTIONS gets)",
            )
        } else {
            Ok(())
        }
    }
}

/// What a rule requires of the session, beyond its being one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Requirements {
    /// `require_aal`: the lowest assurance level; never below the [`Baseline`]'s floor.
    pub aal: Option<Aal>,
    /// `require_link` (default `true`): only sessions this deployment made, which carry its
    /// link, pass. `false` admits Stytch sessions made elsewhere (the Stytch SDK's own
    /// logins, a backend that mints sessions), which count as `aal1`.
    pub link: bool,
    /// `roles`: the session's Stytch RBAC roles must include one of these (empty: any).
    pub roles: Vec<String>,
    /// `organizations` (B2B): the member session's organization, by id or slug, must be one of
    /// these; `None`: any. A rule without the field gets the [`Baseline`]'s when it has some
    /// ([`Requirements::defaults`]).
    pub organizations: Option<Vec<String>>,
}

/// What every protected rule and every service-binding call requires at least, from the
/// providers' configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Baseline {
    /// The strictest `required_aal` (`REQUIRED_AAL`) among the providers: a session made for a
    /// weaker login (before the rule, or elsewhere) does not pass where the exchange would
    /// refuse that login now.
    pub floor: Option<Aal>,
    /// The providers' issuers: a link naming one of them was written by this deployment (or
    /// another one for the same provider and Stytch project).
    pub issuers: Vec<String>,
    /// B2B: the organizations the providers put every member in, when each provider names a
    /// fixed one; empty when any provider takes it from the token (then any organization).
    pub organizations: Vec<String>,
}

impl Baseline {
    /// The organizations a rule without `organizations` requires: the providers' fixed ones,
    /// or any (`None`).
    pub fn default_organizations(&self) -> Option<Vec<String>> {
        (!self.organizations.is_empty()).then(|| self.organizations.clone())
    }
}

/// Which requirement a session does not meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unmet {
    /// It carries no link of this deployment (made elsewhere, or before links existed).
    Link,
    /// B2B: its organization is not one of the rule's.
    Organization,
    /// Its login's assurance level is below the rule's (or the floor).
    Aal {
        /// The level required.
        required: Aal,
    },
    /// It has none of the rule's roles.
    Role,
}

impl Unmet {
    /// A stable name for the log and the service binding.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Link => "link",
            Self::Organization => "organization",
            Self::Aal { .. } => "aal",
            Self::Role => "roles",
        }
    }
}

/// The assurance level a session stands for: its link's (the level of the login it was made
/// or last extended for); `aal1` without a link or a level (a session made elsewhere, or
/// before links carried the level, proves no second factor).
pub fn session_aal(facts: &SessionFacts<'_>) -> Aal {
    facts.link.and_then(|l| l.aal).unwrap_or(Aal::Aal1)
}

impl Requirements {
    /// What a rule that names no requirement asks, and the service binding's `session()`:
    /// a session of this deployment, in the providers' organizations when they fix them.
    pub fn defaults(baseline: &Baseline) -> Self {
        Self {
            link: true,
            organizations: baseline.default_organizations(),
            ..Self::default()
        }
    }

    /// The level required, with the floor.
    pub fn required_aal(&self, baseline: &Baseline) -> Aal {
        self.aal.max(baseline.floor).unwrap_or(Aal::Aal1)
    }

    /// The requirements no refresh can change (a session's link and organization are fixed
    /// when Stytch creates it): checked on the session JWT as the browser sent it, before
    /// any call to Stytch.
    pub fn check_lasting(&self, s: &SessionFacts<'_>, baseline: &Baseline) -> Result<(), Unmet> {
        if self.link && !s.link.is_some_and(|l| baseline.issuers.contains(&l.iss)) {
            return Err(Unmet::Link);
        }
        if let (Some(org), Some(organizations)) = (s.organization, &self.organizations)
            && !organizations.iter().any(|o| org.is(o))
        {
            return Err(Unmet::Organization);
        }
        Ok(())
    }

    /// Every requirement, on the session as it is now (after a refresh, when one was made):
    /// the link and organization, then the assurance level, then the roles.
    pub fn check(&self, s: &SessionFacts<'_>, baseline: &Baseline) -> Result<(), Unmet> {
        self.check_lasting(s, baseline)?;
        let required = self.required_aal(baseline);
        if session_aal(s) < required {
            return Err(Unmet::Aal { required });
        }
        if !self.roles.is_empty() && !self.roles.iter().any(|r| s.roles.contains(r)) {
            return Err(Unmet::Role);
        }
        Ok(())
    }

    /// Whether every session these requirements admit, the `other` ones admit too.
    fn at_least(&self, other: &Self) -> bool {
        let subset = |mine: &[String], theirs: &[String]| {
            theirs.is_empty() || (!mine.is_empty() && mine.iter().all(|m| theirs.contains(m)))
        };
        self.aal.unwrap_or(Aal::Aal1) >= other.aal.unwrap_or(Aal::Aal1)
            && (self.link || !other.link)
            && subset(&self.roles, &other.roles)
            && match (&self.organizations, &other.organizations) {
                (_, None) => true,
                (None, Some(_)) => false,
                (Some(mine), Some(theirs)) => subset(mine, theirs),
            }
    }
}

/// Whether a rule needs a session, and what it requires of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionRule {
    /// `require_session: false`: requests go on without one (identity headers still removed).
    Public,
    /// A session that meets these.
    Required(Requirements),
}

/// Who may pass one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// `methods`: the rule applies to these; a request of another method goes on to the next
    /// rule.
    pub methods: Methods,
    /// `preflight`.
    pub preflight: Preflight,
    /// `bearer`: `Authorization: Bearer <Stytch session JWT>` is accepted in place of the
    /// cookies (never refreshed); the header is not passed on.
    pub bearer: bool,
    /// `require_session` and the requirements.
    pub session: SessionRule,
}

impl Default for Access {
    /// A protected rule with every default: the default methods, preflights answered, cookies
    /// only, a session of this deployment.
    fn default() -> Self {
        Self {
            methods: Methods::default(),
            preflight: Preflight::Answer,
            bearer: false,
            session: SessionRule::Required(Requirements {
                link: true,
                ..Requirements::default()
            }),
        }
    }
}

impl Access {
    /// Whether every request this access lets through, `other` lets through too: what a rule
    /// chosen on the canonical path must be, next to the rule another reading of the same path
    /// would choose (`gateway::Rules`). A forwarded preflight or an accepted bearer token lets
    /// through what answering and cookies alone would not.
    pub fn at_least(&self, other: &Self) -> bool {
        let preflight =
            self.preflight == Preflight::Answer || other.preflight == Preflight::Forward;
        let bearer = !self.bearer || other.bearer;
        preflight
            && match (&self.session, &other.session) {
                (_, SessionRule::Public) => true,
                (SessionRule::Public, SessionRule::Required(_)) => false,
                (SessionRule::Required(mine), SessionRule::Required(theirs)) => {
                    bearer && mine.at_least(theirs)
                }
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stytch::organization::Organization;
    use crate::stytch::session::Link;

    const ISS: &str = "https://abcd.supabase.co/auth/v1";

    fn link(aal: Option<Aal>) -> Link {
        Link {
            iss: ISS.into(),
            sub: "8d8a2b3c".into(),
            session_id: None,
            organization: None,
            aal,
        }
    }

    fn facts<'a>(
        link: Option<&'a Link>,
        roles: &'a [String],
        organization: Option<&'a Organization>,
    ) -> SessionFacts<'a> {
        SessionFacts {
            user_id: "user-test-1",
            session_id: "session-test-1",
            expires_at: "2026-12-02T18:00:00Z",
            link,
            organization,
            roles,
        }
    }

    fn baseline() -> Baseline {
        Baseline {
            floor: None,
            issuers: vec![ISS.into()],
            organizations: vec![],
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn required(link: bool) -> Requirements {
        Requirements {
            link,
            ..Requirements::default()
        }
    }

    #[test]
    fn methods_are_upper_case_names_and_never_trace() {
        assert!(Methods::default().allows("GET") && !Methods::default().allows("TRACE"));
        let dav = Methods::parse(&names(&["PROPFIND", "REPORT", "VERSION-CONTROL"])).unwrap();
        assert!(dav.allows("PROPFIND") && !dav.allows("GET"));
        for bad in [&[][..], &["get"], &["TRACE"], &["CONNECT"], &["G T"], &[""]] {
            assert!(Methods::parse(&names(bad)).is_err(), "{bad:?}");
        }
        let deduped = Methods::parse(&names(&["GET", "GET"])).unwrap();
        assert_eq!(deduped.names().collect::<Vec<_>>(), ["GET"]);
        assert!(deduped.allows("HEAD"), "HEAD goes with GET");
        assert!(!Methods::parse(&names(&["HEAD"])).unwrap().allows("GET"));
    }

    #[test]
    fn only_this_deployments_sessions_pass_unless_the_rule_says_otherwise() {
        let b = baseline();
        let ours = link(Some(Aal::Aal1));
        let theirs = Link {
            iss: "https://other.supabase.co/auth/v1".into(),
            ..link(Some(Aal::Aal1))
        };
        assert_eq!(
            required(true).check(&facts(Some(&ours), &[], None), &b),
            Ok(())
        );
        for l in [None, Some(&theirs)] {
            let s = facts(l, &[], None);
            assert_eq!(required(true).check(&s, &b), Err(Unmet::Link));
            assert_eq!(required(false).check(&s, &b), Ok(()));
        }
    }

    #[test]
    fn the_level_is_the_links_never_below_the_floor() {
        let aal1 = link(Some(Aal::Aal1));
        let aal2 = link(Some(Aal::Aal2));
        let before_levels = link(None);
        let rule = Requirements {
            aal: Some(Aal::Aal2),
            ..required(true)
        };
        let b = baseline();
        assert_eq!(rule.check(&facts(Some(&aal2), &[], None), &b), Ok(()));
        for l in [&aal1, &before_levels] {
            assert_eq!(
                rule.check(&facts(Some(l), &[], None), &b),
                Err(Unmet::Aal {
                    required: Aal::Aal2
                })
            );
        }
        // The floor (REQUIRED_AAL) holds on a rule that asks for less, and for sessions made
        // elsewhere (which count as aal1).
        let floor = Baseline {
            floor: Some(Aal::Aal2),
            ..baseline()
        };
        let lenient = Requirements {
            aal: Some(Aal::Aal1),
            ..required(false)
        };
        assert!(
            lenient
                .check(&facts(Some(&aal1), &[], None), &floor)
                .is_err()
        );
        assert!(lenient.check(&facts(None, &[], None), &floor).is_err());
        assert_eq!(
            lenient.check(&facts(Some(&aal2), &[], None), &floor),
            Ok(())
        );
        assert_eq!(lenient.check(&facts(Some(&aal1), &[], None), &b), Ok(()));
    }

    #[test]
    fn roles_any_of() {
        let l = link(Some(Aal::Aal1));
        let rule = Requirements {
            roles: names(&["admin", "billing"]),
            ..required(true)
        };
        let b = baseline();
        let has = names(&["stytch_user", "billing"]);
        let lacks = names(&["stytch_user"]);
        assert_eq!(rule.check(&facts(Some(&l), &has, None), &b), Ok(()));
        assert_eq!(
            rule.check(&facts(Some(&l), &lacks, None), &b),
            Err(Unmet::Role)
        );
        assert_eq!(
            rule.check(&facts(Some(&l), &[], None), &b),
            Err(Unmet::Role)
        );
    }

    #[test]
    fn organizations_by_id_or_slug_defaulting_to_the_providers() {
        let l = link(Some(Aal::Aal1));
        let acme = Organization {
            id: "organization-test-1".into(),
            slug: Some("acme".into()),
        };
        let rule = |orgs: Option<&[&str]>| Requirements {
            organizations: orgs.map(names),
            ..required(true)
        };
        let b = baseline();
        let s = facts(Some(&l), &[], Some(&acme));
        assert_eq!(rule(Some(&["acme"])).check(&s, &b), Ok(()));
        assert_eq!(rule(Some(&["organization-test-1"])).check(&s, &b), Ok(()));
        assert_eq!(
            rule(Some(&["globex"])).check(&s, &b),
            Err(Unmet::Organization)
        );
        assert_eq!(rule(None).check(&s, &b), Ok(()), "no default: any");
        let pinned = Baseline {
            organizations: names(&["globex"]),
            ..baseline()
        };
        assert_eq!(
            Requirements::defaults(&pinned).check(&s, &pinned),
            Err(Unmet::Organization)
        );
        assert_eq!(Requirements::defaults(&b).check(&s, &b), Ok(()));
        // What a refresh cannot change is checked alone, before one.
        assert_eq!(
            rule(Some(&["globex"])).check_lasting(&s, &b),
            Err(Unmet::Organization)
        );
    }

    #[test]
    fn strictness_orders_public_below_every_session_rule() {
        let public = Access {
            session: SessionRule::Public,
            ..Access::default()
        };
        let session = Access::default();
        let admins = Access {
            session: SessionRule::Required(Requirements {
                roles: names(&["admin"]),
                aal: Some(Aal::Aal2),
                ..required(true)
            }),
            ..Access::default()
        };
        assert!(session.at_least(&public) && !public.at_least(&session));
        assert!(admins.at_least(&session) && !session.at_least(&admins));
        assert!(public.at_least(&public) && admins.at_least(&admins));
        let bearer = Access {
            bearer: true,
            ..Access::default()
        };
        assert!(!bearer.at_least(&session) && session.at_least(&bearer));
        let forwarding = Access {
            preflight: Preflight::Forward,
            ..Access::default()
        };
        assert!(!forwarding.at_least(&session) && session.at_least(&forwarding));
        let any_org = Access {
            session: SessionRule::Required(required(false)),
            ..Access::default()
        };
        assert!(session.at_least(&any_org) && !any_org.at_least(&session));
    }
}
