//! Reading latitude/longitude out of Knack's raw address values.

use serde_json::{Map, Number, Value};

/// One coordinate of a raw Knack address (`latitude` or `longitude`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Coordinate {
    /// Missing, `null` or an empty string: Knack leaves these when an address was not geocoded.
    Empty,
    /// A number, or a string holding one. `json` keeps a JSON number exactly as Knack sent it.
    Number { value: f64, json: Number },
    /// Something that is not a number (the original crashed on these for Socrata points).
    Invalid(Value),
}

impl Coordinate {
    pub(crate) fn of(address: &Map<String, Value>, name: &str) -> Self {
        match address.get(name) {
            None | Some(Value::Null) => Coordinate::Empty,
            Some(Value::Number(n)) => match n.as_f64() {
                Some(value) => Coordinate::Number {
                    value,
                    json: n.clone(),
                },
                None => Coordinate::Invalid(Value::Number(n.clone())),
            },
            Some(Value::String(s)) if s.trim().is_empty() => Coordinate::Empty,
            Some(Value::String(s)) => match s.trim().parse::<f64>() {
                Ok(value) if value.is_finite() => match Number::from_f64(value) {
                    Some(json) => Coordinate::Number { value, json },
                    None => Coordinate::Invalid(Value::String(s.clone())),
                },
                _ => Coordinate::Invalid(Value::String(s.clone())),
            },
            Some(other) => Coordinate::Invalid(other.clone()),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, Coordinate::Empty)
    }
}

/// knackpy's `record[field_key]`: `field_N_raw` when present, else `field_N`; `""`, `[]` and `null`
/// count as no value (knackpy turns `""` and `[]` into `None` when it builds a record).
///
/// Transforms read location fields with it from the untouched staging record.
pub fn raw_field_value<'a>(raw: &'a Map<String, Value>, field_key: &str) -> Option<&'a Value> {
    let value = raw
        .get(&format!("{field_key}_raw"))
        .or_else(|| raw.get(field_key));
    non_empty(value)
}

/// The value, unless it is `null`, `""` or `[]` (knackpy's "no value").
pub(crate) fn non_empty(value: Option<&Value>) -> Option<&Value> {
    match value? {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::Array(a) if a.is_empty() => None,
        v => Some(v),
    }
}

/// Python truthiness of a JSON value.
pub(crate) fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn addr(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn coordinates_parse_numbers_and_numeric_strings() {
        let a = addr(
            json!({"latitude": "30.5", "longitude": -97.25, "x": "", "y": "north", "z": null}),
        );
        assert!(
            matches!(Coordinate::of(&a, "latitude"), Coordinate::Number { value, .. } if value == 30.5)
        );
        assert!(
            matches!(Coordinate::of(&a, "longitude"), Coordinate::Number { value, .. } if value == -97.25)
        );
        assert!(Coordinate::of(&a, "x").is_empty());
        assert!(Coordinate::of(&a, "z").is_empty());
        assert!(Coordinate::of(&a, "missing").is_empty());
        assert_eq!(Coordinate::of(&a, "y"), Coordinate::Invalid(json!("north")));
    }

    #[test]
    fn raw_value_prefers_raw_key_and_treats_empty_as_none() {
        let raw = addr(
            json!({"field_9": "formatted", "field_9_raw": {"latitude": 1}, "field_2": "", "field_3_raw": []}),
        );
        assert_eq!(
            raw_field_value(&raw, "field_9"),
            Some(&json!({"latitude": 1}))
        );
        assert_eq!(raw_field_value(&raw, "field_2"), None);
        assert_eq!(raw_field_value(&raw, "field_3"), None);
        assert_eq!(raw_field_value(&raw, "field_4"), None);
    }
}
