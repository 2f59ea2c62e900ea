//! JSON objects with no duplicate keys, at any depth.
//!
//! RFC 7515 §5.2 and RFC 7519 §4 allow a parser to reject duplicate member names, and
//! differing "last one wins"/"first one wins" behaviour between parsers is a known source of
//! confusion attacks (a duplicated `sub` or `role`). `serde_json::Value` silently keeps the
//! last value, so this module parses through its own visitor and refuses any duplicate.
//!
//! It is also the crate's only JSON reader: upstream answers and KV entries are read with
//! [`pick`] rather than serde-derived structs. Typed deserialization would pull in serde's
//! type-mismatch messages, and with them the float formatting they use, for about 10 KB of
//! gzipped WASM (measured); here every visitor accepts any JSON value.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::cell::Cell;
use std::fmt;

/// Why a document was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrictJsonError {
    /// Not JSON, or not valid UTF-8.
    Syntax,
    /// Valid JSON, but the top level is not an object.
    NotAnObject,
    /// An object (at any depth) names the same member twice.
    DuplicateKey,
}

const DUPLICATE_MARKER: &str = "duplicate member name";
const NOT_OBJECT_MARKER: &str = "not an object";

/// Parses `bytes` as a JSON object, refusing duplicate member names anywhere inside it.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, StrictJsonError> {
    match parse_value(bytes)? {
        Value::Object(map) => Ok(map),
        _ => Err(StrictJsonError::NotAnObject),
    }
}

/// Parses `bytes` as any JSON value, refusing duplicate member names anywhere inside it.
pub fn parse_value(bytes: &[u8]) -> Result<Value, StrictJsonError> {
    run(bytes, Strict(None))
}

/// The members `names` of the JSON object `bytes`, in that order, each parsed like
/// [`parse_value`]. The other members are skipped without being built (a Stytch answer's
/// user record costs no allocation); one of `names` appearing twice is a `DuplicateKey`.
pub fn pick(bytes: &[u8], names: &[&str]) -> Result<Vec<Option<Value>>, StrictJsonError> {
    run(
        bytes,
        Pick {
            names,
            items: false,
        },
    )
    .map(|picked| picked.into_iter().map(|p| p.map(|(v, _)| v)).collect())
}

/// The member `name` of the JSON object `bytes` when it is an array, each element parsed on
/// its own: an element naming a member twice (at any depth) is `Err(DuplicateKey)` and the
/// others still parse, so that one ambiguous key does not sink a key set. `None` when the
/// member is absent; `Err(NotAnObject)` when it is not an array.
#[allow(clippy::type_complexity)]
pub fn pick_items(
    bytes: &[u8],
    name: &str,
) -> Result<Option<Vec<Result<Value, StrictJsonError>>>, StrictJsonError> {
    let mut picked = run(
        bytes,
        Pick {
            names: &[name],
            items: true,
        },
    )?;
    Ok(picked.pop().flatten().map(|(_, items)| items))
}

/// Deserializes all of `bytes` with `seed`, mapping serde_json's errors to ours.
fn run<'de, S: DeserializeSeed<'de>>(
    bytes: &'de [u8],
    seed: S,
) -> Result<S::Value, StrictJsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match seed.deserialize(&mut de).and_then(|v| de.end().map(|()| v)) {
        Ok(v) => Ok(v),
        // The visitors' own errors are the only ones carrying these texts; serde_json
        // appends a position, so a prefix test is exact.
        Err(e) => {
            let text = e.to_string();
            Err(if text.starts_with(DUPLICATE_MARKER) {
                StrictJsonError::DuplicateKey
            } else if text.starts_with(NOT_OBJECT_MARKER) {
                StrictJsonError::NotAnObject
            } else {
                StrictJsonError::Syntax
            })
        }
    }
}

/// The visits of the scalar JSON types, for a visitor that takes only a container: each an
/// error of our own. (serde's default visits would build type-mismatch messages instead.)
macro_rules! refuse_scalars {
    () => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(E::custom(NOT_OBJECT_MARKER))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(E::custom(NOT_OBJECT_MARKER))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(E::custom(NOT_OBJECT_MARKER))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(E::custom(NOT_OBJECT_MARKER))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Err(E::custom(NOT_OBJECT_MARKER))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Err(E::custom(NOT_OBJECT_MARKER))
        }
    };
}

/// Any JSON value, strictly. With a flag, a duplicated member is recorded there and skipped
/// instead of failing the whole document.
#[derive(Clone, Copy)]
struct Strict<'c>(Option<&'c Cell<bool>>);

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(self)? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key_seed(Key)? {
            if map.contains_key(&key) {
                let Some(flag) = self.0 else {
                    return Err(de::Error::custom(DUPLICATE_MARKER));
                };
                flag.set(true);
                access.next_value::<IgnoredAny>()?;
                continue;
            }
            let v = access.next_value_seed(self)?;
            map.insert(key, v);
        }
        Ok(Value::Object(map))
    }
}

/// A member name. (`String`'s own `Deserialize` would bring serde's type-mismatch messages.)
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer
            .deserialize_any(Strict(None))
            .and_then(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(de::Error::custom("member name is not a string")),
            })
    }
}

/// The wanted members of an object; with `items`, the one wanted member's array elements,
/// each strict on its own.
struct Pick<'n> {
    names: &'n [&'n str],
    items: bool,
}

/// A picked value, and with `items` its elements.
type Picked = (Value, Vec<Result<Value, StrictJsonError>>);

impl<'de> DeserializeSeed<'de> for Pick<'_> {
    type Value = Vec<Option<Picked>>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Pick<'_> {
    type Value = Vec<Option<Picked>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    refuse_scalars!();
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom(NOT_OBJECT_MARKER))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut picked: Vec<Option<Picked>> = self.names.iter().map(|_| None).collect();
        while let Some(key) = access.next_key_seed(Key)? {
            let slot = self
                .names
                .iter()
                .position(|n| *n == key)
                .and_then(|i| picked.get_mut(i));
            let Some(slot) = slot else {
                access.next_value::<IgnoredAny>()?;
                continue;
            };
            if slot.is_some() {
                return Err(de::Error::custom(DUPLICATE_MARKER));
            }
            *slot = Some(if self.items {
                (Value::Null, access.next_value_seed(Items)?)
            } else {
                (access.next_value_seed(Strict(None))?, Vec::new())
            });
        }
        Ok(picked)
    }
}

/// An array whose elements are parsed each on its own.
struct Items;

impl<'de> DeserializeSeed<'de> for Items {
    type Value = Vec<Result<Value, StrictJsonError>>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Items {
    type Value = Vec<Result<Value, StrictJsonError>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array")
    }
    refuse_scalars!();
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom(NOT_OBJECT_MARKER))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let duplicate = Cell::new(false);
            let Some(v) = seq.next_element_seed(Strict(Some(&duplicate)))? else {
                return Ok(items);
            };
            items.push(if duplicate.get() {
                Err(StrictJsonError::DuplicateKey)
            } else {
                Ok(v)
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_objects() {
        let m = parse_object(br#"{"a":1,"b":{"c":[1,2,{"d":null}]}}"#);
        assert_eq!(m.map(|m| m.len()), Ok(2));
    }

    #[test]
    fn refuses_duplicates_at_any_depth() {
        assert_eq!(
            parse_object(br#"{"a":1,"a":2}"#),
            Err(StrictJsonError::DuplicateKey)
        );
        assert_eq!(
            parse_object(br#"{"a":{"b":1,"b":1}}"#),
            Err(StrictJsonError::DuplicateKey)
        );
        assert_eq!(
            parse_object(br#"{"a":[{"b":1,"b":1}]}"#),
            Err(StrictJsonError::DuplicateKey)
        );
    }

    #[test]
    fn refuses_non_objects_and_trailing_data() {
        assert_eq!(parse_object(b"[1]"), Err(StrictJsonError::NotAnObject));
        assert_eq!(parse_object(br#"{"a":1} x"#), Err(StrictJsonError::Syntax));
        assert_eq!(parse_object(b"\xff"), Err(StrictJsonError::Syntax));
    }

    #[test]
    fn picks_the_named_members_strictly_and_skips_the_rest() {
        let v = pick(
            br#"{"user":{"x":1,"x":2},"b":"two","a":{"n":[1]},"user":0}"#,
            &["a", "b", "c"],
        );
        assert_eq!(
            v,
            Ok(vec![
                Some(serde_json::json!({"n":[1]})),
                Some(Value::String("two".into())),
                None
            ])
        );
        assert_eq!(
            pick(br#"{"a":1,"a":1}"#, &["a"]),
            Err(StrictJsonError::DuplicateKey)
        );
        assert_eq!(
            pick(br#"{"a":{"b":1,"b":2}}"#, &["a"]),
            Err(StrictJsonError::DuplicateKey)
        );
        assert_eq!(pick(b"[1]", &["a"]), Err(StrictJsonError::NotAnObject));
        assert_eq!(pick(b"\"a\"", &["a"]), Err(StrictJsonError::NotAnObject));
        assert_eq!(pick(br#"{"a":1} x"#, &["a"]), Err(StrictJsonError::Syntax));
    }

    #[test]
    fn picks_array_items_each_on_its_own() {
        let items = pick_items(
            br#"{"keys":[{"k":1},{"k":1,"k":2},{"n":{"m":1,"m":1}},3],"other":{"z":0,"z":0}}"#,
            "keys",
        );
        assert_eq!(
            items,
            Ok(Some(vec![
                Ok(serde_json::json!({"k":1})),
                Err(StrictJsonError::DuplicateKey),
                Err(StrictJsonError::DuplicateKey),
                Ok(serde_json::json!(3)),
            ]))
        );
        assert_eq!(pick_items(br#"{"x":[]}"#, "keys"), Ok(None));
        assert_eq!(
            pick_items(br#"{"keys":{}}"#, "keys"),
            Err(StrictJsonError::NotAnObject)
        );
        assert_eq!(
            pick_items(br#"{"keys":[],"keys":[]}"#, "keys"),
            Err(StrictJsonError::DuplicateKey)
        );
    }
}
