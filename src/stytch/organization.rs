//! Stytch B2B: the organization a member session is in, asked for and answered.
//!
//! A B2B attest puts the member in an organization. The worker names it (`organization_id`:
//! Stytch accepts an organization's id or its slug wherever an id is expected) from the
//! provider's configuration, either one organization for every token or the verified token's
//! claim at a dot path; or it leaves the organization to the Trusted Auth Token profile,
//! which maps the token's own claim (<https://stytch.com/docs/b2b/api/attest-session>,
//! <https://stytch.com/docs/b2b/guides/trusted-auth-tokens>). Stytch writes the
//! organization of a member session into its JWT as [`ORGANIZATION_CLAIM`].

use crate::jwt::claims::ClaimPath;
use crate::jwt::verify::{VerifiedToken, VerifyError};
use crate::stytch::ids::clean_id;
use serde_json::Value;

/// Stytch's claim naming a B2B session JWT's organization: `{organization_id, slug}`
/// (stytch-node `lib/b2b/sessions.ts`, `authenticateJwtLocal`).
pub const ORGANIZATION_CLAIM: &str = "https://stytch.com/organization";
/// Longest organization reference accepted: Stytch's slugs are 2 to 128 characters; its ids
/// (`organization-test-<uuid>`) are shorter.
pub const MAX_ORGANIZATION_BYTES: usize = 128;

/// Whether `s` can name an organization: an id or a slug, which Stytch limits to letters,
/// digits and `-` `.` `_` `~`. Anything else never reaches Stytch, a log or a body.
pub fn is_organization_ref(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ORGANIZATION_BYTES
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `s` is shaped like a Stytch organization id (`organization-test-…`,
/// `organization-live-…`), as opposed to a slug.
pub fn is_organization_id(s: &str) -> bool {
    s.starts_with("organization-test-") || s.starts_with("organization-live-")
}

/// Where a B2B provider's organization comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrganizationSource {
    /// `organization_id`: every member this provider signs in joins this organization.
    Fixed(String),
    /// `organization_id_claim`: the organization the verified token names at this path.
    Claim(ClaimPath),
}

impl OrganizationSource {
    /// The organization to name in the attest, for a verified token: `None` without a source
    /// (the profile maps the token's claim). A token without a usable value at the claim
    /// path is refused here, before Stytch: it names no organization it could be admitted to.
    pub fn resolve(
        source: Option<&Self>,
        token: &VerifiedToken,
    ) -> Result<Option<String>, VerifyError> {
        match source {
            None => Ok(None),
            Some(Self::Fixed(id)) => Ok(Some(id.clone())),
            Some(Self::Claim(path)) => match path.lookup(token) {
                Some(Value::String(s)) if is_organization_ref(s) => Ok(Some(s.clone())),
                _ => Err(VerifyError::OrganizationClaim(path.to_string())),
            },
        }
    }
}

/// The organization of a member session, as Stytch answered it or wrote it into the JWT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// `organization_id`.
    pub id: String,
    /// `organization_slug` (`slug` in the JWT claim), when given.
    pub slug: Option<String>,
}

impl Organization {
    /// Reads the id and slug members of an answer or a claim: the id must be a Stytch
    /// identifier (what [`clean_id`] keeps); a slug that is not a valid slug counts as absent.
    pub fn read(id: Option<&Value>, slug: Option<&Value>) -> Option<Self> {
        Some(Self {
            id: clean_id(id.and_then(Value::as_str))?,
            slug: slug
                .and_then(Value::as_str)
                .filter(|s| is_organization_ref(s))
                .map(str::to_owned),
        })
    }

    /// The organization a session JWT names ([`ORGANIZATION_CLAIM`]).
    pub fn of_jwt(jwt: &VerifiedToken) -> Option<Self> {
        let claim = jwt.claim(ORGANIZATION_CLAIM)?;
        Self::read(claim.get("organization_id"), claim.get("slug"))
    }

    /// Whether this is the organization `requested` names: by its id when `requested` is
    /// shaped like a Stytch organization id, else by its slug (Stytch takes either). Never
    /// both ways: a slug is chosen by whoever creates or renames the organization, so a slug
    /// spelled like another organization's id must not pass for that organization.
    pub fn is(&self, requested: &str) -> bool {
        if is_organization_id(requested) {
            self.id == requested
        } else {
            self.slug.as_deref() == Some(requested)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organization_references_are_ids_or_slugs() {
        for ok in ["organization-test-1234", "acme", "acme.corp_~x"] {
            assert!(is_organization_ref(ok), "{ok}");
        }
        for bad in ["", "a b", "a/b", "ä", &"x".repeat(129)] {
            assert!(!is_organization_ref(bad), "{bad}");
        }
    }

    #[test]
    fn an_organization_is_named_by_its_id_or_slug() {
        let org = Organization::read(
            Some(&Value::from("organization-test-1")),
            Some(&Value::from("acme")),
        )
        .unwrap();
        assert!(org.is("organization-test-1") && org.is("acme"));
        assert!(!org.is("organization-test-2") && !org.is("other"));
        // A slug spelled like another organization's id is no name for that organization.
        let impostor = Organization::read(
            Some(&Value::from("organization-test-2")),
            Some(&Value::from("organization-test-1")),
        )
        .unwrap();
        assert!(!impostor.is("organization-test-1"));
        assert_eq!(Organization::read(Some(&Value::from("a b")), None), None);
        let no_slug = Organization::read(
            Some(&Value::from("organization-test-1")),
            Some(&Value::from("not a slug")),
        )
        .unwrap();
        assert_eq!(no_slug.slug, None);
        assert!(!no_slug.is("not a slug"));
    }
}
