//! `PROTECT`: the gateway's rules, a JSON array (text, or a structured value in `[vars]`)
//! of rule objects (`FIELDS`). Read like `PROVIDERS`; the rule types and their checks are
//! the gateway's own. The requirement fields are also what another Worker passes to the
//! service binding's `authorize`, read by the same code ([`binding_requirements`]).

use super::fields::{EntryError, Fields, json_list};
use super::{ConfigError, Vars, err};
use crate::formats::json;
use crate::gateway::policy::{
    Access, Baseline, MAX_NAME_BYTES, MAX_NAMES, Methods, Preflight, Requirements, SessionRule,
};
use crate::gateway::{
    LoginUrl, MAX_RULES, MAX_RULES_BYTES, PathPattern, Rule, RuleCache, Rules, Unauthenticated,
    Upstream,
};
use crate::jwt::assurance::Aal;
use crate::stytch::organization::is_organization_ref;
use crate::stytch::project::Product;
use serde_json::Value;

/// The members a rule may have; anything else is a typo, and refused.
/// docs/gateway.md documents each (a test checks it).
pub const FIELDS: [&str; 13] = [
    "path",
    "upstream",
    "on_unauthenticated",
    "login_url",
    "require_session",
    "methods",
    "preflight",
    "bearer",
    "require_aal",
    "require_link",
    "roles",
    "organizations",
    "cache",
];

/// What a session must show, as a rule's fields and the service binding's options name it.
pub const REQUIREMENT_FIELDS: [&str; 4] = ["require_aal", "require_link", "roles", "organizations"];

/// Largest options object `authorize` reads.
pub const MAX_OPTIONS_BYTES: usize = 8 * 1024;

/// The rules of `PROTECT`; none when it is unset. `product`: the Stytch project's, which
/// decides whether `organizations` can mean anything; `baseline`: the providers' defaults.
pub(super) fn read(
    vars: &Vars<'_>,
    product: Product,
    baseline: &Baseline,
) -> Result<Rules, ConfigError> {
    let Some(text) = vars.opt("PROTECT") else {
        return Ok(Rules::default());
    };
    let entries = json_list("PROTECT", &text, MAX_RULES_BYTES, MAX_RULES, "rules")?;
    let rules = entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            rule(entry, product, baseline).map_err(|(name, problem)| {
                let who = name.map_or_else(|| format!("#{i}"), |n| format!("#{i} ({n})"));
                err("PROTECT", format!("rule {who}: {problem}"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Rules::new(rules).map_err(|(i, problem)| err("PROTECT", format!("rule #{i}: {problem}")))
}

/// The options of `EdgeAttest.authorize(cookieHeader, options)`: a JSON object of
/// [`REQUIREMENT_FIELDS`] (`{}` or `null` for the defaults), read by the same code as a rule's.
pub fn binding_requirements(
    text: &str,
    product: Product,
    baseline: &Baseline,
) -> Result<Requirements, String> {
    if text.len() > MAX_OPTIONS_BYTES {
        return Err(format!("options: longer than {MAX_OPTIONS_BYTES} bytes"));
    }
    let value = json::parse_value(text.as_bytes())
        .map_err(|_| "options: not JSON without duplicate members".to_owned())?;
    let empty = serde_json::Map::new();
    let object = match &value {
        Value::Null => &empty,
        Value::Object(o) => o,
        _ => return Err("options: must be an object".into()),
    };
    let fields = Fields::new("options".into(), object, &REQUIREMENT_FIELDS, "an option")
        .map_err(|(_, problem)| format!("options: {problem}"))?;
    requirements(&fields, product, baseline).map_err(|(_, problem)| format!("options: {problem}"))
}

/// One rule object; on error, its path (when readable) and "field: problem".
fn rule(entry: &Value, product: Product, baseline: &Baseline) -> Result<Rule, EntryError> {
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
    let methods = match fields.texts("methods")? {
        None => Methods::default(),
        Some(names) => Methods::parse(&names).map_err(|e| fields.fail(format!("methods: {e}")))?,
    };
    let preflight = match fields.text("preflight")?.as_deref() {
        None | Some("answer") => Preflight::Answer,
        Some("forward") => Preflight::Forward,
        Some(other) => {
            return Err(fields.fail(format!(
                "preflight: {other} is not \"answer\" or \"forward\""
            )));
        }
    };
    preflight
        .check(&methods)
        .map_err(|e| fields.fail(format!("preflight: {e}")))?;
    let bearer = fields.flag("bearer")?;
    let require_session = fields.bool_or("require_session", true)?;
    let session = if require_session {
        SessionRule::Required(requirements(&fields, product, baseline)?)
    } else {
        // A public rule lets everyone through: a field that asks something of a session or
        // of a token would be a mistake read as a lock.
        let asks: Vec<&str> = ["bearer"]
            .into_iter()
            .chain(REQUIREMENT_FIELDS)
            .filter(|f| fields.get(f).is_some())
            .collect();
        if let Some(field) = asks.first() {
            return Err(fields.fail(format!(
                "{field}: only on a rule that requires a session (require_session is false)"
            )));
        }
        if on_unauthenticated != Unauthenticated::Status401 {
            return Err(fields.fail(
                "on_unauthenticated: a public rule (require_session false) never answers unauthenticated".into(),
            ));
        }
        SessionRule::Public
    };
    let cache = match fields.text("cache")?.as_deref() {
        None | Some("no-store") => RuleCache::NoStore,
        Some("shared") if !require_session => RuleCache::Shared,
        Some("shared") => {
            return Err(fields.fail(
                "cache: \"shared\" only on a public rule (require_session false): a protected answer is someone's own".into(),
            ));
        }
        Some(other) => {
            return Err(fields.fail(format!("cache: {other} is not \"no-store\" or \"shared\"")));
        }
    };
    Ok(Rule {
        pattern,
        upstream,
        cache,
        on_unauthenticated,
        access: Access {
            methods,
            preflight,
            bearer,
            session,
        },
    })
}

/// The requirement fields of a rule or of the binding's options, with the `baseline`'s
/// organizations where `organizations` is not given.
fn requirements(
    fields: &Fields<'_>,
    product: Product,
    baseline: &Baseline,
) -> Result<Requirements, EntryError> {
    let aal = match fields.text("require_aal")?.as_deref() {
        None => None,
        Some("aal1") => Some(Aal::Aal1),
        Some("aal2") => Some(Aal::Aal2),
        Some(other) => {
            return Err(fields.fail(format!("require_aal: {other} is not \"aal1\" or \"aal2\"")));
        }
    };
    let link = fields.bool_or("require_link", true)?;
    let names = |field: &str, valid: &dyn Fn(&str) -> bool, what: &str| {
        let Some(list) = fields.texts(field)? else {
            return Ok(None);
        };
        if list.len() > MAX_NAMES {
            return Err(fields.fail(format!("{field}: at most {MAX_NAMES}")));
        }
        if let Some(bad) = list.iter().find(|n| !valid(n)) {
            return Err(fields.fail(format!("{field}: {bad} is not {what}")));
        }
        Ok(Some(list))
    };
    let roles = names(
        "roles",
        &|r| r.len() <= MAX_NAME_BYTES && r.bytes().all(|c| c.is_ascii_graphic() && c != b','),
        "a Stytch role id (printable ASCII, no spaces or commas)",
    )?
    .unwrap_or_default();
    let organizations = names(
        "organizations",
        &is_organization_ref,
        "an organization id or slug (letters, digits, - . _ ~; at most 128)",
    )?;
    if organizations.is_some() && product != Product::B2b {
        return Err(fields.fail(
            "organizations: only for a B2B Stytch project (consumer sessions have no organization)"
                .into(),
        ));
    }
    Ok(Requirements {
        aal,
        link,
        roles,
        organizations: organizations.or_else(|| baseline.default_organizations()),
    })
}
