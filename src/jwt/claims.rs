//! Claims below the top level of a verified token, named by a dot path.
//!
//! Providers put what the worker needs in nested claims: a B2B tenant in Supabase's
//! `app_metadata.org_id`, an MFA flag a custom access-token hook adds. A [`ClaimPath`] names
//! one, and is only ever looked up in a [`VerifiedToken`].

use crate::jwt::verify::VerifiedToken;
use serde_json::{Map, Value};
use std::fmt;

/// Most segments in a claim path: real tokens nest a tenant id or a flag one or two levels
/// deep (`app_metadata.org_id`, `https://example.com/claims.org`).
pub const MAX_CLAIM_PATH_SEGMENTS: usize = 8;

/// A claim path: `app_metadata.org_id` is the member `org_id` of the object claim
/// `app_metadata`. Segments are split on `.` only, so a claim whose name has a dot cannot be
/// reached below the top level (documented).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPath(Vec<String>);

impl ClaimPath {
    /// Parses a dot path of 1 to [`MAX_CLAIM_PATH_SEGMENTS`] non-empty segments without
    /// spaces; the problem otherwise.
    pub fn parse(path: &str) -> Result<Self, &'static str> {
        let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
        if segments.len() > MAX_CLAIM_PATH_SEGMENTS {
            return Err("has more than 8 segments");
        }
        if segments
            .iter()
            .any(|s| s.is_empty() || s.len() > 128 || s.chars().any(char::is_whitespace))
        {
            return Err("must be claim names joined by dots, like app_metadata.org_id");
        }
        if matches!(
            segments.first().map(String::as_str),
            Some("iss" | "sub" | "aud" | "exp" | "nbf" | "iat")
        ) {
            return Err("must not be a registered claim");
        }
        Ok(Self(segments))
    }

    /// The value at this path in a verified token, if there is one.
    pub fn lookup<'a>(&self, token: &'a VerifiedToken) -> Option<&'a Value> {
        self.lookup_with(|name| token.claim(name))
    }

    /// The value at this path in a token's claims, for the verifier's own rules (which run
    /// once the signature has verified, before a [`VerifiedToken`] exists).
    pub fn lookup_in<'a>(&self, claims: &'a Map<String, Value>) -> Option<&'a Value> {
        self.lookup_with(|name| claims.get(name))
    }

    /// Puts `value` at this path in `claims`, making the objects on the way (replacing what
    /// is not one): how the start-up rehearsal (`crate::app::rehearsal`) writes a token that
    /// satisfies a provider's claim rules.
    pub fn insert_into(&self, claims: &mut Map<String, Value>, value: Value) {
        let Some((last, parents)) = self.0.split_last() else {
            return;
        };
        let mut map = claims;
        for segment in parents {
            let slot = map
                .entry(segment.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            let Value::Object(inner) = slot else { return };
            map = inner;
        }
        map.insert(last.clone(), value);
    }

    /// Whether the path starts under `top` (a claim whose members someone else writes).
    pub fn is_under(&self, top: &str) -> bool {
        self.0.first().is_some_and(|first| first == top)
    }

    fn lookup_with<'a>(&self, top: impl Fn(&str) -> Option<&'a Value>) -> Option<&'a Value> {
        let (first, rest) = self.0.split_first()?;
        rest.iter()
            .try_fold(top(first)?, |v, segment| v.get(segment))
    }
}

impl fmt::Display for ClaimPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_inserted_at_a_path_is_found_there_beside_what_was() {
        let mut claims = Map::new();
        claims.insert(
            "app_metadata".into(),
            serde_json::json!({"provider": "email"}),
        );
        claims.insert("flat".into(), Value::from(1));
        let org = ClaimPath::parse("app_metadata.org.id").unwrap();
        org.insert_into(&mut claims, Value::from("o-1"));
        ClaimPath::parse("flat.x")
            .unwrap()
            .insert_into(&mut claims, Value::from(true));
        assert_eq!(org.lookup_in(&claims), Some(&Value::from("o-1")));
        assert_eq!(claims["app_metadata"]["provider"], "email");
        assert_eq!(claims["flat"], serde_json::json!({"x": true}));
    }

    #[test]
    fn claim_paths_are_dot_separated_names() {
        assert_eq!(
            ClaimPath::parse("app_metadata.org_id").map(|p| p.to_string()),
            Ok("app_metadata.org_id".to_owned())
        );
        assert!(ClaimPath::parse("org_id").is_ok());
        for bad in [
            "",
            ".org",
            "app_metadata.",
            "a..b",
            "a b",
            "sub",
            "a.b.c.d.e.f.g.h.i",
        ] {
            assert!(ClaimPath::parse(bad).is_err(), "{bad}");
        }
    }
}
