//! Authenticator assurance: how strongly a login was authenticated, as the token's `aal`
//! claim says, and the rule a provider's tokens must meet.
//!
//! Supabase Auth issues an `aal1` access token right after the password step, also to users
//! who enrolled a second factor; only after the MFA challenge does the same login (same
//! `session_id`) get `aal2` tokens (GoTrue `internal/tokens/service.go`; NIST SP 800-63B
//! names the levels). A valid signature says nothing of which step a token comes from, so
//! the level is checked here with the other claims, and the session link records it, so that
//! an `aal1` session is never answered for an `aal2` login.
//!
//! The token alone does not say whether its user has a second factor. For apps where MFA is
//! optional, a claim that a Supabase Custom Access Token hook adds (`mfa_enrolled`, a
//! boolean) tells: when it is `true`, `aal2` is required.

use crate::jwt::claims::ClaimPath;
use crate::jwt::verify::VerifyError;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

/// The claim naming a token's assurance level.
pub const AAL_CLAIM: &str = "aal";

/// An authenticator assurance level, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Aal {
    /// One factor (a password, a magic link, an OAuth sign-in).
    Aal1,
    /// Two factors (the MFA challenge passed).
    Aal2,
    /// Hardware-bound second factor (named by NIST; Supabase does not issue it today).
    Aal3,
}

impl Aal {
    /// `aal1`, `aal2` or `aal3`, exactly.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "aal1" => Some(Self::Aal1),
            "aal2" => Some(Self::Aal2),
            "aal3" => Some(Self::Aal3),
            _ => None,
        }
    }

    /// The claim's spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Aal1 => "aal1",
            Self::Aal2 => "aal2",
            Self::Aal3 => "aal3",
        }
    }

    /// A token's level: `Ok(None)` when it has no `aal` claim (most providers' tokens), an
    /// error when the claim is there but names no level (a provider that writes something
    /// else there is not one whose levels can be compared).
    pub fn of_claims(claims: &Map<String, Value>) -> Result<Option<Self>, VerifyError> {
        match claims.get(AAL_CLAIM) {
            None => Ok(None),
            Some(Value::String(s)) => Self::parse(s)
                .map(Some)
                .ok_or_else(|| VerifyError::Assurance("aal: not aal1, aal2 or aal3".into())),
            Some(_) => Err(VerifyError::Assurance("aal: not a string".into())),
        }
    }
}

impl Serialize for Aal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// What a provider's tokens must show of their assurance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assurance {
    /// The lowest level accepted (`required_aal`, `REQUIRED_AAL`). Above `aal1`, a token
    /// without an `aal` claim is refused: it does not show the level.
    pub required: Aal,
    /// A claim (dot path) that is `true` for users with a second factor enrolled, who then
    /// need `aal2` (`mfa_enrolled_claim`). It must be a boolean in every token: a missing
    /// one means the hook that writes it is not running, and is refused rather than read as
    /// "no second factor".
    pub mfa_enrolled_claim: Option<ClaimPath>,
}

impl Default for Assurance {
    /// Any level: `aal1`, no enrolment claim.
    fn default() -> Self {
        Self {
            required: Aal::Aal1,
            mfa_enrolled_claim: None,
        }
    }
}

impl Assurance {
    /// The token's level, if its claims meet this rule; which rule they fail otherwise.
    pub fn check(&self, claims: &Map<String, Value>) -> Result<Option<Aal>, VerifyError> {
        let found = Aal::of_claims(claims)?;
        let (required, rule) = match &self.mfa_enrolled_claim {
            None => (self.required, "required_aal".to_owned()),
            Some(path) => match path.lookup_in(claims) {
                Some(Value::Bool(true)) => (
                    self.required.max(Aal::Aal2),
                    format!("mfa_enrolled_claim {path}"),
                ),
                Some(Value::Bool(false)) => (self.required, "required_aal".to_owned()),
                _ => {
                    return Err(VerifyError::Assurance(format!(
                        "mfa_enrolled_claim {path}: missing or not a boolean (is the access token hook that adds it installed?)"
                    )));
                }
            },
        };
        if required > Aal::Aal1 && found.is_none_or(|aal| aal < required) {
            return Err(VerifyError::Assurance(format!(
                "{} below the required {} ({rule})",
                found.map_or("no aal", Aal::name),
                required.name()
            )));
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn enrolled() -> Assurance {
        Assurance {
            required: Aal::Aal1,
            mfa_enrolled_claim: ClaimPath::parse("mfa_enrolled").ok(),
        }
    }

    #[test]
    fn levels_are_ordered_and_read_exactly() {
        assert!(Aal::Aal1 < Aal::Aal2 && Aal::Aal2 < Aal::Aal3);
        assert_eq!(Aal::parse("aal2"), Some(Aal::Aal2));
        for bad in ["AAL2", "aal", "aal4", " aal1", ""] {
            assert_eq!(Aal::parse(bad), None, "{bad}");
        }
        assert_eq!(serde_json::to_string(&Aal::Aal2).unwrap(), r#""aal2""#);
    }

    #[test]
    fn by_default_any_level_and_no_level_pass() {
        let rule = Assurance::default();
        assert_eq!(rule.check(&claims(json!({}))), Ok(None));
        assert_eq!(
            rule.check(&claims(json!({ "aal": "aal1" }))),
            Ok(Some(Aal::Aal1))
        );
        // A claim that names no level is never compared.
        for bad in [json!({ "aal": "aal9" }), json!({ "aal": 2 })] {
            assert!(matches!(
                rule.check(&claims(bad)),
                Err(VerifyError::Assurance(_))
            ));
        }
    }

    #[test]
    fn a_required_level_refuses_lower_and_missing_levels() {
        let rule = Assurance {
            required: Aal::Aal2,
            mfa_enrolled_claim: None,
        };
        assert_eq!(
            rule.check(&claims(json!({ "aal": "aal2" }))),
            Ok(Some(Aal::Aal2))
        );
        assert_eq!(
            rule.check(&claims(json!({ "aal": "aal3" }))),
            Ok(Some(Aal::Aal3))
        );
        assert_eq!(
            rule.check(&claims(json!({ "aal": "aal1" }))),
            Err(VerifyError::Assurance(
                "aal1 below the required aal2 (required_aal)".into()
            ))
        );
        assert_eq!(
            rule.check(&claims(json!({}))),
            Err(VerifyError::Assurance(
                "no aal below the required aal2 (required_aal)".into()
            ))
        );
    }

    #[test]
    fn an_enrolled_user_needs_aal2_and_the_claim_must_be_there() {
        let rule = enrolled();
        assert_eq!(
            rule.check(&claims(json!({ "aal": "aal1", "mfa_enrolled": false }))),
            Ok(Some(Aal::Aal1))
        );
        assert_eq!(
            rule.check(&claims(json!({ "aal": "aal2", "mfa_enrolled": true }))),
            Ok(Some(Aal::Aal2))
        );
        assert_eq!(
            rule.check(&claims(json!({ "aal": "aal1", "mfa_enrolled": true }))),
            Err(VerifyError::Assurance(
                "aal1 below the required aal2 (mfa_enrolled_claim mfa_enrolled)".into()
            ))
        );
        for missing in [
            json!({ "aal": "aal1" }),
            json!({ "aal": "aal1", "mfa_enrolled": "true" }),
            json!({ "aal": "aal1", "mfa_enrolled": null }),
        ] {
            assert!(matches!(
                rule.check(&claims(missing)),
                Err(VerifyError::Assurance(why)) if why.contains("missing or not a boolean")
            ));
        }
        // A nested claim, and a required level that stays when the user has no factor.
        let nested = Assurance {
            required: Aal::Aal2,
            mfa_enrolled_claim: ClaimPath::parse("app_metadata.mfa").ok(),
        };
        assert!(
            nested
                .check(&claims(
                    json!({ "aal": "aal1", "app_metadata": { "mfa": false } })
                ))
                .is_err()
        );
        assert!(
            nested
                .check(&claims(
                    json!({ "aal": "aal2", "app_metadata": { "mfa": true } })
                ))
                .is_ok()
        );
    }
}
