//! `PROTECT`: the gateway's rules, a JSON array (text, or a structured value in `[vars]`)
//! of `{"path", "upstream", "on_unauthenticated", "login_url", "require_session"}`. Read
//! like `PROVIDERS`; the rule types and their checks are the gateway's own.

use super::fields::{EntryError, Fields, json_list};
use super::{ConfigError, Vars, err};
use crate::gateway::{
    LoginUrl, MAX_RULES, MAX_RULES_BYTES, PathPattern, Rule, Rules, Unauthenticated, Upstream,
};
use serde_json::Value;

/// The members a rule may have; anything else is a typo, and refused.
/// docs/gateway.md documents each (a test checks it).
pub const FIELDS: [&str; 5] = [
    "path",
    "upstream",
    "on_unauthenticated",
    "login_url",
    "require_session",
];

/// The rules of `PROTECT`; none when it is unset.
pub(super) fn read(vars: &Vars<'_>) -> Result<Rules, ConfigError> {
    let Some(text) = vars.opt("PROTECT") else {
        return Ok(Rules::default());
    };
    let entries = json_list("PROTECT", &text, MAX_RULES_BYTES, MAX_RULES, "rules")?;
    let rules = entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            rule(entry).map_err(|(name, problem)| {
                let who = name.map_or_else(|| format!("#{i}"), |n| format!("#{i} ({n})"));
                err("PROTECT", format!("rule {who}: {problem}"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Rules::new(rules).map_err(|(i, problem)| err("PROTECT", format!("rule #{i}: {problem}")))
}

/// One rule object; on error, its path (when readable) and "field: problem".
fn rule(entry: &Value) -> Result<Rule, EntryError> {
    let Value::Object(object) = entry else {
        return Err((None, "is not a JSON object".into()));
    };
    let path = match object.get("path") {
        Some(Value::String(p)) => p.clone(),
        _ => {
            return Err((
                None,
                "path: is required (a path like /app or /app/*)".into(),
            ));
        }
    };
    let fields = Fields::new(path.clone(), object, &FIELDS, "a rule field")?;
    let pattern = PathPattern::parse(&path).map_err(|e| fields.fail(format!("path: {e}")))?;
    let upstream = fields.text("upstream")?.ok_or_else(|| {
        fields.fail("upstream: is required (\"origin\" or an https origin)".into())
    })?;
    let upstream = Upstream::parse(&upstream).map_err(|e| fields.fail(format!("upstream: {e}")))?;
    let login_url = match fields.text("login_url")? {
        Some(url) => {
            Some(LoginUrl::parse(&url).map_err(|e| fields.fail(format!("login_url: {e}")))?)
        }
        None => None,
    };
    // 401 written as a number means the same as "401".
    let status = match fields.get("on_unauthenticated") {
        Some(Value::Number(n)) if n.as_u64() == Some(401) => Some("401".to_owned()),
        _ => fields.text("on_unauthenticated")?,
    };
    let on_unauthenticated = match (status.as_deref(), login_url) {
        (None | Some("401"), None) => Unauthenticated::Status401,
        (Some("redirect"), Some(login)) => Unauthenticated::Redirect(login),
        (Some("redirect"), None) => {
            return Err(
                fields.fail("login_url: is required with on_unauthenticated redirect".into())
            );
        }
        (None | Some("401"), Some(_)) => {
            return Err(fields.fail("login_url: only with on_unauthenticated redirect".into()));
        }
        (Some(other), _) => {
            return Err(fields.fail(format!(
                "on_unauthenticated: {other} is not \"401\" or \"redirect\""
            )));
        }
    };
    let require_session = fields.bool_or("require_session", true)?;
    if !require_session && on_unauthenticated != Unauthenticated::Status401 {
        return Err(fields.fail(
            "on_unauthenticated: a public rule (require_session false) never answers unauthenticated".into(),
        ));
    }
    Ok(Rule {
        pattern,
        upstream,
        on_unauthenticated,
        require_session,
    })
}
