//! Reading a variable that holds a JSON list of objects (`PROVIDERS`, `PROTECT`): the list
//! itself, bounded, then each object's fields by name, every failure naming the entry and the
//! field.

use super::{ConfigError, err};
use crate::formats::json;
use serde_json::{Map, Value};

/// An entry's failure: the entry's name when known, and "field: problem".
pub(super) type EntryError = (Option<String>, String);

/// The entries of `variable`'s JSON array: at most `max_bytes` of text, duplicate-free JSON,
/// 1 to `max_entries` entries (`what` names them in the error).
pub(super) fn json_list(
    variable: &'static str,
    text: &str,
    max_bytes: usize,
    max_entries: usize,
    what: &str,
) -> Result<Vec<Value>, ConfigError> {
    let fail = |problem: String| err(variable, problem);
    if text.len() > max_bytes {
        return Err(fail(format!("is longer than {max_bytes} bytes")));
    }
    let Value::Array(entries) = json::parse_value(text.as_bytes())
        .map_err(|e| fail(format!("is not JSON without duplicate members ({e:?})")))?
    else {
        return Err(fail(format!("must be a JSON array of {what}")));
    };
    if entries.is_empty() || entries.len() > max_entries {
        return Err(fail(format!("must list 1 to {max_entries} {what}")));
    }
    Ok(entries)
}

/// One object of such a list being read: its name (for errors), and its fields' readers.
pub(super) struct Fields<'a> {
    pub(super) name: String,
    object: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    /// The object named `name`, refused when it has a member `allowed` does not list (a
    /// typo would otherwise silently mean the default). `kind` says what a member is, for
    /// that error.
    pub(super) fn new(
        name: String,
        object: &'a Map<String, Value>,
        allowed: &[&str],
        kind: &str,
    ) -> Result<Self, EntryError> {
        let fields = Self { name, object };
        if let Some(unknown) = object.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(fields.fail(format!("{unknown}: is not {kind} ({})", allowed.join(", "))));
        }
        Ok(fields)
    }

    pub(super) fn fail(&self, problem: String) -> EntryError {
        (Some(self.name.clone()), problem)
    }

    pub(super) fn get(&self, field: &str) -> Option<&'a Value> {
        self.object.get(field)
    }

    /// A string field, non-empty and without surrounding spaces.
    pub(super) fn text(&self, field: &str) -> Result<Option<String>, EntryError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() && s.trim() == s => Ok(Some(s.clone())),
            Some(_) => Err(self.fail(format!(
                "{field}: must be a non-empty string without surrounding spaces"
            ))),
        }
    }

    /// A non-empty array of such strings.
    pub(super) fn texts(&self, field: &str) -> Result<Option<Vec<String>>, EntryError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|v| match v {
                    Value::String(s) if !s.is_empty() && s.trim() == s => Ok(s.clone()),
                    _ => Err(self.fail(format!("{field}: must hold non-empty strings"))),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(self.fail(format!("{field}: must be a non-empty array of strings"))),
        }
    }

    /// A boolean field, `default` when absent.
    pub(super) fn bool_or(&self, field: &str, default: bool) -> Result<bool, EntryError> {
        match self.get(field) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(self.fail(format!("{field}: must be true or false"))),
        }
    }

    /// A boolean field, `false` when absent.
    pub(super) fn flag(&self, field: &str) -> Result<bool, EntryError> {
        self.bool_or(field, false)
    }
}
