//! Canonical comparison of a mapped source value with the destination's staged value, so a
//! record is not updated because the two apps format the same value differently.
//!
//! Equal after canonicalisation:
//! - null, `""`, `[]` and `{}` (Knack answers `""` for an empty field that was written as null);
//! - a number and a string holding it, with or without thousands separators (`1234`, `"1,234"`,
//!   `"1234.0"`): Knack's formatted `field_N` holds text where `field_N_raw` holds the number;
//! - a Knack date object and its `unix_timestamp` (local wall time in milliseconds), which is
//!   what this service writes for a date;
//! - objects whose entries are equal once empty entries are dropped, in any key order.

use std::collections::BTreeMap;

use serde_json::Value;

#[derive(Debug, PartialEq)]
enum Canon {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
    List(Vec<Canon>),
    Object(BTreeMap<String, Canon>),
}

/// Whether two values are the same once formatting is set aside (see the module docs).
pub(crate) fn same_value(a: &Value, b: &Value) -> bool {
    canon(a) == canon(b)
}

/// A hashable canonical form of a primary key's value; `None` for an empty one.
pub(crate) fn key(v: &Value) -> Option<String> {
    match canon(v) {
        Canon::Null => None,
        c => Some(format!("{c:?}")),
    }
}

/// A Knack date object's local wall time in milliseconds (`unix_timestamp`), when `v` is one.
/// Date ranges (with `to`) are not single instants and are not read as one.
pub(crate) fn knack_date_millis(v: &Value) -> Option<i64> {
    let o = v.as_object()?;
    if o.contains_key("to") {
        return None;
    }
    let ts = o.get("unix_timestamp")?;
    ts.as_i64().or_else(|| ts.as_f64().map(|f| f as i64))
}

fn canon(v: &Value) -> Canon {
    if let Some(ms) = knack_date_millis(v) {
        return Canon::Number(ms as f64);
    }
    match v {
        Value::Null => Canon::Null,
        Value::Bool(b) => Canon::Bool(*b),
        Value::Number(n) => n.as_f64().map_or(Canon::Null, Canon::Number),
        Value::String(s) if s.is_empty() => Canon::Null,
        Value::String(s) => number(s).map_or_else(|| Canon::Text(s.clone()), Canon::Number),
        Value::Array(items) if items.is_empty() => Canon::Null,
        Value::Array(items) => Canon::List(items.iter().map(canon).collect()),
        Value::Object(map) => {
            let entries: BTreeMap<String, Canon> = map
                .iter()
                .map(|(k, v)| (k.clone(), canon(v)))
                .filter(|(_, c)| *c != Canon::Null)
                .collect();
            if entries.is_empty() {
                Canon::Null
            } else {
                Canon::Object(entries)
            }
        }
    }
}

/// A decimal number as Knack prints it: optional sign, digits grouped by `,` in threes, an
/// optional fraction. Anything else (leading zeros kept as an id such as `007`, words, dates)
/// stays text.
fn number(s: &str) -> Option<f64> {
    let t = s.trim();
    let unsigned = t.strip_prefix('-').unwrap_or(t);
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if int.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let groups: Vec<&str> = int.split(',').collect();
    let grouped_ok = groups.len() == 1
        || (!groups[0].is_empty()
            && groups[0].len() <= 3
            && groups[1..].iter().all(|g| g.len() == 3));
    if !grouped_ok || !groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let digits = int.replace(',', "");
    if digits.len() > 1 && digits.starts_with('0') {
        return None;
    }
    t.replace(',', "")
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formatting_differences_are_not_differences() {
        for (a, b) in [
            (json!(null), json!("")),
            (json!(null), json!([])),
            (json!(1234), json!("1,234")),
            (json!(1234.5), json!("1234.50")),
            (json!(-3), json!("-3.0")),
            (
                json!({"email": "a@b.c", "label": ""}),
                json!({"email": "a@b.c"}),
            ),
            (
                json!({"first": "Ann", "last": "Lee"}),
                json!({"last": "Lee", "first": "Ann"}),
            ),
            (
                json!(1710072000000_i64),
                json!({"date": "03/10/2024", "unix_timestamp": 1710072000000_i64,
                       "iso_timestamp": "2024-03-10T12:00:00.000Z"}),
            ),
        ] {
            assert!(same_value(&a, &b), "{a} vs {b}");
            assert!(same_value(&b, &a), "{b} vs {a}");
        }
    }

    #[test]
    fn real_differences_stay_differences() {
        for (a, b) in [
            (json!("007"), json!(7)),
            (json!("A"), json!("a")),
            (json!("x "), json!("x")),
            (json!(1), json!(2)),
            (json!(true), json!("true")),
            (json!(["A", "B"]), json!(["B", "A"])),
            (json!(null), json!(0)),
            (json!("1,23"), json!(123)),
            (json!({"email": "a@b.c"}), json!({"email": "x@b.c"})),
        ] {
            assert!(!same_value(&a, &b), "{a} vs {b}");
        }
    }

    #[test]
    fn a_date_range_is_not_read_as_one_instant() {
        let range = json!({"unix_timestamp": 1, "to": {"unix_timestamp": 2}});
        assert_eq!(knack_date_millis(&range), None);
        assert!(!same_value(&range, &json!(1)));
    }
}
