//! The per-field map from a source container's staged records to a destination Knack object:
//! which source key feeds which destination field, defaults, handlers, and what is compared.

use serde::Deserialize;
use serde_json::{Map, Value};

/// One entry of a field map, in the TOML shape
/// `{ src = "field_199_raw", dest = "field_380", primary_key = true }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMapping {
    /// The key read from the source's raw record, often `field_N_raw` (the typed value) or
    /// `field_N` (Knack's formatted text). Absent: the field always takes `default`.
    #[serde(default)]
    pub src: Option<String>,
    /// The destination field. `field_N_raw` compares against the destination's typed value and
    /// is written as `field_N` (Knack takes writes under the plain key).
    pub dest: String,
    /// The field that identifies a record on both sides; exactly one entry has it.
    #[serde(default)]
    pub primary_key: bool,
    /// Used when the source value is null, missing or empty.
    #[serde(default)]
    pub default: Option<Value>,
    /// Written, but a difference in it alone does not make an update.
    #[serde(default)]
    pub ignore_diff: bool,
    /// Turns the value before it is written and compared.
    #[serde(default)]
    pub handler: Option<Handler>,
}

/// The original's four value handlers (`services/config/field_maps.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Handler {
    /// A connection's raw value (`[{"id", "identifier"}]`) → its identifiers joined with `, `;
    /// no connection → null.
    ConnectionIdentifiers,
    /// A multiple choice's raw value (a list) → the choices joined with `, `; none → null.
    /// A single choice (a string) passes unchanged; the original split it into characters.
    MultipleChoice,
    /// Surrounding whitespace removed from a string; other values unchanged.
    Strip,
    /// No choice (null) → `""`, for a single choice copied into a text field. A choice passes
    /// unchanged; the original turned every chosen value into null.
    NoChoiceToEmptyString,
}

impl Handler {
    /// Applies the handler to one value.
    pub fn apply(self, value: Value) -> Value {
        match self {
            Handler::ConnectionIdentifiers => match value {
                Value::Array(items) if !items.is_empty() => Value::String(
                    items
                        .iter()
                        .map(|c| text(c.get("identifier").unwrap_or(&Value::Null)))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                v if is_empty(&v) => Value::Null,
                other => other,
            },
            Handler::MultipleChoice => match value {
                Value::Array(items) if !items.is_empty() => {
                    Value::String(items.iter().map(text).collect::<Vec<_>>().join(", "))
                }
                v if is_empty(&v) => Value::Null,
                other => other,
            },
            Handler::Strip => match value {
                Value::String(s) => Value::String(s.trim().to_string()),
                other => other,
            },
            Handler::NoChoiceToEmptyString => {
                if is_empty(&value) {
                    Value::String(String::new())
                } else {
                    value
                }
            }
        }
    }
}

/// Python's `str(v)` for the scalars a choice or identifier holds.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "None".to_string(),
        other => other.to_string(),
    }
}

/// Python's falsiness for the values a Knack record holds: null, `""`, `[]`, `{}`.
pub(crate) fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// A checked field map: exactly one primary key, destination fields named once.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldMap {
    fields: Vec<FieldMapping>,
    pk: usize,
}

/// Why a field map cannot be used; each message names the entry and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FieldMapError(pub String);

/// `field_N` or `field_N_raw`.
fn is_field_key(key: &str) -> bool {
    let base = key.strip_suffix("_raw").unwrap_or(key);
    base.strip_prefix("field_")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

impl FieldMap {
    /// Checks `fields` and returns every problem at once.
    ///
    /// # Errors
    /// One [`FieldMapError`] per problem: not exactly one `primary_key`, a `dest` that is not
    /// `field_N`/`field_N_raw` or appears twice, an entry with neither `src` nor `default`.
    pub fn new(fields: Vec<FieldMapping>) -> Result<Self, Vec<FieldMapError>> {
        let mut problems = Vec::new();
        let pks: Vec<usize> = (0..fields.len())
            .filter(|&i| fields[i].primary_key)
            .collect();
        if pks.len() != 1 {
            problems.push(FieldMapError(format!(
                "the field map needs exactly one entry with primary_key = true (found {}): mark \
                 the field that identifies a record in both apps",
                pks.len()
            )));
        }
        for (i, f) in fields.iter().enumerate() {
            if !is_field_key(&f.dest) {
                problems.push(FieldMapError(format!(
                    "fields[{i}]: dest = {:?} is not a Knack field key (field_N or field_N_raw)",
                    f.dest
                )));
            }
            let key = write_key(&f.dest);
            if fields[..i].iter().any(|g| write_key(&g.dest) == key) {
                problems.push(FieldMapError(format!(
                    "fields[{i}]: destination field {key} is mapped twice; keep one entry"
                )));
            }
            match &f.src {
                Some(s) if s.trim().is_empty() => problems.push(FieldMapError(format!(
                    "fields[{i}]: src is empty; name the source key (e.g. field_199_raw)"
                ))),
                None if f.default.is_none() => problems.push(FieldMapError(format!(
                    "fields[{i}]: without src the entry needs a default (the value to write)"
                ))),
                _ => {}
            }
        }
        match (problems.is_empty(), pks.first()) {
            (true, Some(&pk)) => Ok(Self { fields, pk }),
            _ => Err(problems),
        }
    }

    /// The entries, in the config's order.
    pub fn fields(&self) -> &[FieldMapping] {
        &self.fields
    }

    /// The primary key's entry.
    pub fn primary_key(&self) -> &FieldMapping {
        &self.fields[self.pk]
    }

    /// One source record in the destination's shape: destination key (as configured) → value,
    /// with defaults and handlers applied. Dates are left as the source holds them.
    pub fn map(&self, record: &Map<String, Value>) -> Map<String, Value> {
        self.fields
            .iter()
            .map(|f| {
                let from_source = f.src.as_ref().and_then(|k| record.get(k)).cloned();
                let value = match (from_source, &f.default) {
                    (Some(v), _) if !is_empty(&v) => v,
                    (_, Some(default)) => default.clone(),
                    (v, None) => v.unwrap_or(Value::Null),
                };
                let value = match f.handler {
                    Some(h) => h.apply(value),
                    None => value,
                };
                (f.dest.clone(), value)
            })
            .collect()
    }
}

/// The key a destination field is written under: `field_N_raw` → `field_N`.
pub(crate) fn write_key(dest: &str) -> &str {
    dest.strip_suffix("_raw").unwrap_or(dest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(src: &str, dest: &str) -> FieldMapping {
        FieldMapping {
            src: Some(src.into()),
            dest: dest.into(),
            primary_key: false,
            default: None,
            ignore_diff: false,
            handler: None,
        }
    }

    #[test]
    fn handlers_match_the_original_where_it_was_right() {
        let conn = json!([{"id": "5e7b63a0c279e606c645be7d", "identifier": "Some String"},
                          {"id": "5e7b63a0c279e606c645be7e", "identifier": 12}]);
        assert_eq!(
            Handler::ConnectionIdentifiers.apply(conn),
            json!("Some String, 12")
        );
        assert_eq!(Handler::ConnectionIdentifiers.apply(json!([])), Value::Null);
        assert_eq!(
            Handler::MultipleChoice.apply(json!(["A", "B"])),
            json!("A, B")
        );
        assert_eq!(Handler::MultipleChoice.apply(json!(["A"])), json!("A"));
        assert_eq!(Handler::MultipleChoice.apply(Value::Null), Value::Null);
        assert_eq!(Handler::Strip.apply(json!("  5TH ST \n")), json!("5TH ST"));
        assert_eq!(Handler::Strip.apply(json!(5)), json!(5));
        assert_eq!(Handler::NoChoiceToEmptyString.apply(Value::Null), json!(""));
    }

    #[test]
    fn handlers_fix_the_originals_two_bugs() {
        // The original returned None for every chosen value.
        assert_eq!(
            Handler::NoChoiceToEmptyString.apply(json!("Engineer")),
            json!("Engineer")
        );
        // The original joined a single choice's characters: "A, b, c".
        assert_eq!(Handler::MultipleChoice.apply(json!("Abc")), json!("Abc"));
    }

    #[test]
    fn map_applies_defaults_only_to_missing_values_and_then_handlers() {
        let mut pk = entry("field_1_raw", "field_10");
        pk.primary_key = true;
        let mut status = entry("field_2", "field_20");
        status.default = Some(json!("Unknown"));
        let mut name = entry("field_3_raw", "field_30_raw");
        name.handler = Some(Handler::Strip);
        let constant = FieldMapping {
            src: None,
            default: Some(json!("copied")),
            ..entry("x", "field_40")
        };
        let map = FieldMap::new(vec![pk, status, name, constant]).unwrap();
        let rec = json!({"id": "a", "field_1_raw": 7, "field_2": "", "field_3_raw": " x "});
        let mapped = map.map(rec.as_object().unwrap());
        assert_eq!(
            Value::Object(mapped),
            json!({"field_10": 7, "field_20": "Unknown", "field_30_raw": "x", "field_40": "copied"})
        );
        let rec = json!({"id": "b", "field_1_raw": 8, "field_2": "Active"});
        assert_eq!(map.map(rec.as_object().unwrap())["field_20"], "Active");
        assert_eq!(
            map.map(rec.as_object().unwrap())["field_30_raw"],
            Value::Null
        );
    }

    #[test]
    fn a_map_without_exactly_one_primary_key_is_refused_with_every_problem() {
        let err = FieldMap::new(vec![entry("field_1", "field_2"), entry("field_3", "bogus")])
            .unwrap_err();
        let text: Vec<String> = err.iter().map(|e| e.0.clone()).collect();
        assert!(
            text[0].contains("exactly one entry with primary_key"),
            "{text:?}"
        );
        assert!(text[1].contains("\"bogus\""), "{text:?}");
        let mut a = entry("field_1", "field_2");
        a.primary_key = true;
        let mut b = entry("field_3", "field_2_raw");
        b.primary_key = true;
        let err = FieldMap::new(vec![a, b]).unwrap_err();
        assert!(err[0].0.contains("found 2"));
        assert!(err[1].0.contains("field_2 is mapped twice"));
    }

    #[test]
    fn unknown_keys_and_handlers_do_not_parse() {
        let bad: Result<FieldMapping, _> =
            serde_json::from_value(json!({"src": "field_1", "dest": "field_2", "primary": true}));
        assert!(bad
            .unwrap_err()
            .to_string()
            .contains("unknown field `primary`"));
        let bad: Result<FieldMapping, _> = serde_json::from_value(
            json!({"src": "field_1", "dest": "field_2", "handler": "upper"}),
        );
        assert!(bad
            .unwrap_err()
            .to_string()
            .contains("unknown variant `upper`"));
    }
}
