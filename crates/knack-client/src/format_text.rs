//! One value formatted straight from its JSON text.
//!
//! The shapes Knack sends for dates, addresses, connections, choices and the one-member types
//! (email, link, phone, ...) are read member by member: only the members a rule reads are
//! parsed, and nothing else is built. Any other shape (a list where an object is expected, an
//! item without an identifier, an escaped choice) takes the general path, a full parse then
//! [`format_owned`], so the result is always exactly what formatting the parsed value gives:
//! the fast paths only skip work, never decide. A key given twice counts once, its last value,
//! as in a full parse.

use std::fmt;

use chrono_tz::Tz;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::format_value::{
    date_time_of_stamp, format_owned, is_truthy, member_key, string_or_null, ADDRESS_PARTS,
};
use crate::FieldType;

/// `field_type`'s formatted value of the JSON `text`.
///
/// # Errors
/// When `text` is not JSON.
pub(crate) fn format_text(field_type: &FieldType, text: &str, tz: Tz) -> serde_json::Result<Value> {
    if let Some(value) = by_members(field_type, text, tz) {
        return Ok(value);
    }
    let value: Value = serde_json::from_str(text)?;
    Ok(format_owned(field_type, value, tz))
}

/// The formatted value read member by member, or `None` where the general path must decide.
fn by_members(field_type: &FieldType, text: &str, tz: Tz) -> Option<Value> {
    let object = text.starts_with('{');
    let list = text.starts_with('[');
    match field_type {
        FieldType::DateTime if object => {
            let [stamp] = members(text, ["unix_timestamp"])?;
            date_time_of_stamp(&stamp?, tz)
        }
        FieldType::Address if object => {
            let parts = members(text, ADDRESS_PARTS)?;
            Some(string_or_null(
                parts
                    .into_iter()
                    .flatten()
                    .filter(is_truthy)
                    .map(into_python_str)
                    .collect(),
            ))
        }
        FieldType::Email
        | FieldType::Link
        | FieldType::File
        | FieldType::Image
        | FieldType::Phone
        | FieldType::Signature
            if object =>
        {
            one_member(text, field_type)
        }
        FieldType::Connection if list => {
            let mut de = serde_json::Deserializer::from_str(text);
            let ids = Identifiers.deserialize(&mut de).ok()?;
            de.end().ok()?;
            Some(string_or_null(
                ids.into_iter().map(into_python_str).collect(),
            ))
        }
        // Choices written plainly (no escapes, no nulls) are joined from the text itself.
        FieldType::MultipleChoice if list => {
            let choices: Vec<&str> = serde_json::from_str(text).ok()?;
            Some(if choices.is_empty() {
                Value::Null
            } else {
                Value::String(choices.join(", "))
            })
        }
        _ => None,
    }
}

/// The member a one-member type keeps (knackpy's `value[key]`), or null when absent.
fn one_member(text: &str, field_type: &FieldType) -> Option<Value> {
    let [value] = members(text, [member_key(field_type)?])?;
    Some(value.unwrap_or(Value::Null))
}

/// Python's `str()` of a value the caller gives up: a string is itself, not a copy.
fn into_python_str(value: Value) -> String {
    match value {
        Value::String(s) => s,
        other => crate::format_value::python_str(&other),
    }
}

/// The values of `keys` in the JSON object `text` (each `None` when absent), every other
/// member skipped unparsed. `None` when `text` is not a JSON object.
fn members<const N: usize>(text: &str, keys: [&str; N]) -> Option<[Option<Value>; N]> {
    let mut de = serde_json::Deserializer::from_str(text);
    let found = Members(&keys).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(found)
}

/// Reads the members named by its keys out of one JSON object.
struct Members<'k, const N: usize>(&'k [&'k str; N]);

impl<'de, const N: usize> DeserializeSeed<'de> for Members<'_, N> {
    type Value = [Option<Value>; N];

    fn deserialize<D: de::Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for Members<'_, N> {
    type Value = [Option<Value>; N];

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = std::array::from_fn(|_| None);
        while let Some(index) = map.next_key_seed(KeyIndex(self.0))? {
            match index {
                Some(i) => found[i] = Some(map.next_value()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }
}

/// A key's index among the wanted keys, compared without allocating.
struct KeyIndex<'k, const N: usize>(&'k [&'k str; N]);

impl<'de, const N: usize> DeserializeSeed<'de> for KeyIndex<'_, N> {
    type Value = Option<usize>;

    fn deserialize<D: de::Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for KeyIndex<'_, N> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|k| *k == key))
    }
}

/// A connection's `identifier`s, one per item; an error (so the general path) when an item is
/// not an object or has none.
struct Identifiers;

impl<'de> DeserializeSeed<'de> for Identifiers {
    type Value = Vec<Value>;

    fn deserialize<D: de::Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Identifiers {
    type Value = Vec<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of connected records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut ids = Vec::with_capacity(seq.size_hint().unwrap_or(1));
        while let Some([id]) = seq.next_element_seed(Members(&["identifier"]))? {
            ids.push(id.ok_or_else(|| de::Error::custom("an item without an identifier"))?);
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format_value::format_value;

    /// Every fast path against the general one, on the shapes Knack sends and the ones it
    /// must leave to the general path.
    #[test]
    fn each_shape_formats_as_the_parsed_value_does() {
        let tz: Tz = "America/Chicago".parse().unwrap();
        let cases: &[(FieldType, &str)] = &[
            (
                FieldType::DateTime,
                r#"{"date":"03/10/2024","unix_timestamp":1710037800000}"#,
            ),
            (
                FieldType::DateTime,
                r#"{"unix_timestamp":1,"unix_timestamp":1710037800000}"#,
            ),
            (FieldType::DateTime, r#"{"unix_timestamp":"1710037800000"}"#),
            (FieldType::DateTime, r#"{"date":"03/10/2024"}"#),
            (FieldType::DateTime, r#"[{"unix_timestamp":1}]"#),
            (
                FieldType::Address,
                r#"{"street":"1241 MANOR RD","street2":"Suite 1","city":"Austin","state":"TX",
                   "zip":"78759","latitude":30.3,"longitude":-97.6}"#,
            ),
            (
                FieldType::Address,
                r#"{"street":"","city":"Austin","zip":78701,"country":null}"#,
            ),
            (
                FieldType::Address,
                r#"{"city":"A","city":"B","state":false,"zip":0}"#,
            ),
            (FieldType::Address, r#"{"latitude":30.1,"longitude":-97.0}"#),
            (
                FieldType::Address,
                r#"{"street":{"a":[1,"x"]},"city":"\u00d1and\u00fa"}"#,
            ),
            (FieldType::Address, r#"[{"street":"a"}]"#),
            (FieldType::Address, r#""1 Main St""#),
            (
                FieldType::Email,
                r#"{"email":"zo.kim@example.org","label":"Zo"}"#,
            ),
            (FieldType::Email, r#"{"label":"no address"}"#),
            (
                FieldType::Link,
                r#"{"url":"https://x.example/a","label":"A"}"#,
            ),
            (FieldType::Image, r#"{"url":"https://x.example/i.png"}"#),
            (
                FieldType::File,
                r#"{"id":"f1","url":"https://x.example/f.pdf","size":3}"#,
            ),
            (
                FieldType::Phone,
                r#"{"area":"512","number":"4627060","full":"5124627060"}"#,
            ),
            (FieldType::Signature, r#"{"base30":"abc","svg":"<svg/>"}"#),
            (FieldType::Phone, r#"{"full":null}"#),
            (
                FieldType::Email,
                r#"{"email":"a@b.c","unix_timestamp":1710037800000}"#,
            ),
            (FieldType::Link, r#""https://x.example""#),
            (
                FieldType::Connection,
                r#"[{"id":"1","identifier":"A"},{"id":"2","identifier":"B"}]"#,
            ),
            (FieldType::Connection, r#"[{"id":"1","identifier":7}]"#),
            (FieldType::Connection, r#"[{"id":"1"}]"#),
            (
                FieldType::Connection,
                r#"[{"id":"1","identifier":"A"},"stray"]"#,
            ),
            (FieldType::Connection, r#"[]"#),
            (FieldType::Connection, r#""A""#),
            (FieldType::MultipleChoice, r#"["Loop","Radar","Thermal"]"#),
            (FieldType::MultipleChoice, r#"["a\"b",null,"c"]"#),
            (FieldType::MultipleChoice, r#"[null]"#),
            (FieldType::MultipleChoice, r#"["",""]"#),
            (FieldType::MultipleChoice, r#"[]"#),
            (FieldType::MultipleChoice, r#""TRAFFIC""#),
            (FieldType::ShortText, r#""5TH ST / CESAR CHAVEZ ST""#),
        ];
        for (field_type, text) in cases {
            let parsed: Value = serde_json::from_str(text).unwrap();
            let expected = format_value(field_type, &parsed, tz);
            assert_eq!(
                format_text(field_type, text, tz).unwrap(),
                expected,
                "{field_type:?} {text}"
            );
        }
        assert!(format_text(&FieldType::Address, r#"{"city":"A""#, tz).is_err());
        assert!(format_text(&FieldType::MultipleChoice, r#"["a",]"#, tz).is_err());
    }

    /// The fast paths are taken where Knack's usual shapes are (not only correct by falling
    /// back): each reads its members without the general path's copy of the whole value.
    #[test]
    fn knacks_usual_shapes_take_the_member_paths() {
        let tz: Tz = "America/Chicago".parse().unwrap();
        for (field_type, text) in [
            (
                FieldType::DateTime,
                r#"{"date":"03/10/2024","unix_timestamp":1710037800000}"#,
            ),
            (FieldType::Address, r#"{"street":"1 Main","latitude":30.3}"#),
            (FieldType::Email, r#"{"email":"a@b.c"}"#),
            (FieldType::Connection, r#"[{"id":"1","identifier":"A"}]"#),
            (FieldType::MultipleChoice, r#"["Loop","Radar"]"#),
        ] {
            assert!(
                by_members(&field_type, text, tz).is_some(),
                "{field_type:?}"
            );
        }
        assert!(by_members(&FieldType::Connection, r#"[{"id":"1"}]"#, tz).is_none());
    }
}
