//! One value by knackpy 1.0.21's per-type rules (dates corrected and printed as Python prints
//! them, addresses and lists joined, one member kept of emails, links, phones, ...), and the
//! Python `str()` those joins produce. Read by the record formatter (`format.rs`) and by the
//! text fast path (`format_text.rs`), so the rules are written once.

use std::borrow::Cow;
use std::fmt::Write as _;

use chrono::{DateTime, Offset};
use chrono_tz::Tz;
use serde_json::Value;

use crate::FieldType;

/// The address parts knackpy joins, in its order.
pub(crate) const ADDRESS_PARTS: [&str; 6] =
    ["street", "street2", "city", "state", "zip", "country"];

/// The one member knackpy keeps of a type stored as an object (`value[key]`), or `None` for
/// the other types.
pub(crate) fn member_key(field_type: &FieldType) -> Option<&'static str> {
    match field_type {
        FieldType::Email => Some("email"),
        FieldType::Link | FieldType::File | FieldType::Image => Some("url"),
        FieldType::Phone => Some("full"),
        FieldType::Signature => Some("base30"),
        _ => None,
    }
}

/// One value by knackpy's per-type rules. A value a rule cannot read (a list
/// where a dict is expected, and so on) is returned unchanged, as knackpy's
/// `AttributeError` fallback does.
pub(crate) fn format_value(field_type: &FieldType, value: &Value, tz: Tz) -> Value {
    if is_empty(value) {
        return Value::Null;
    }
    if *field_type == FieldType::DateTime {
        return date_time(value, tz).unwrap_or_else(|| value.clone());
    }
    let value = correct_timestamp(value, tz);
    let value = value.as_ref();
    if let Some(key) = member_key(field_type) {
        return member(value, key);
    }
    match field_type {
        FieldType::Address => match value {
            Value::Object(map) => {
                let parts: Vec<String> = ADDRESS_PARTS
                    .iter()
                    .filter_map(|k| map.get(*k).filter(|v| is_truthy(v)))
                    .map(python_str)
                    .collect();
                string_or_null(parts)
            }
            _ => value.clone(),
        },
        FieldType::MultipleChoice => match value {
            Value::Array(items) => string_or_null(
                items
                    .iter()
                    .filter(|v| !v.is_null())
                    .map(python_str)
                    .collect(),
            ),
            _ => value.clone(),
        },
        FieldType::Connection => match value {
            Value::Array(items) => {
                let ids: Option<Vec<String>> = items
                    .iter()
                    .map(|c| c.get("identifier").map(python_str))
                    .collect();
                ids.map_or_else(|| value.clone(), string_or_null)
            }
            _ => value.clone(),
        },
        FieldType::Timer => match value {
            Value::String(s) => Value::String(
                s.replace("<span>", "")
                    .replace("</span>", "")
                    .replace("&nbsp;", "; "),
            ),
            _ => value.clone(),
        },
        // knackpy's `default`: lists (user roles and any other) are joined
        _ => match value {
            Value::Array(items) => Value::String(join(items.iter().map(python_str))),
            _ => value.clone(),
        },
    }
}

/// [`format_value`] of a value the caller gives up: the value itself where the rules keep it
/// (most text, numbers and booleans), so no copy is made.
pub(crate) fn format_owned(field_type: &FieldType, value: Value, tz: Tz) -> Value {
    // The cases where `format_value` returns a copy of its input unchanged: not empty, no
    // timestamp to correct, and a type whose rule is knackpy's `default` on a non-list.
    let kept = !is_empty(&value)
        && value.get("unix_timestamp").is_none()
        && !value.is_array()
        && !matches!(
            field_type,
            FieldType::DateTime
                | FieldType::Address
                | FieldType::MultipleChoice
                | FieldType::Connection
                | FieldType::Email
                | FieldType::Link
                | FieldType::Phone
                | FieldType::Signature
                | FieldType::File
                | FieldType::Image
                | FieldType::Timer
        );
    if kept {
        value
    } else {
        format_value(field_type, &value, tz)
    }
}

/// knackpy turns `""` and `[]` into `None` before formatting.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// A copy of a date value with `unix_timestamp` corrected to the true instant
/// (knackpy does this to every top-level dict that has one, in place).
fn correct_timestamp(value: &Value, tz: Tz) -> Cow<'_, Value> {
    let Some(millis) = value.get("unix_timestamp").and_then(knack_millis) else {
        return Cow::Borrowed(value);
    };
    let Some(instant) = crate::correct_knack_timestamp(millis, tz) else {
        return Cow::Borrowed(value);
    };
    let mut copy = value.clone();
    copy["unix_timestamp"] = Value::from(instant.timestamp_millis());
    Cow::Owned(copy)
}

fn knack_millis(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.is_finite() && f.abs() < 9.0e15)
            .map(|f| f.trunc() as i64)
    })
}

/// A Knack date value as ISO-8601 in `tz` (its timestamp corrected), printed
/// as Python's `datetime.isoformat()` does.
fn date_time(value: &Value, tz: Tz) -> Option<Value> {
    date_time_of_stamp(value.get("unix_timestamp")?, tz)
}

/// [`date_time`] given the value's `unix_timestamp`.
pub(crate) fn date_time_of_stamp(stamp: &Value, tz: Tz) -> Option<Value> {
    let millis = knack_millis(stamp)?;
    let local = crate::correct_knack_timestamp(millis, tz)?.with_timezone(&tz);
    Some(Value::String(python_isoformat(&local)))
}

/// `YYYY-MM-DDTHH:MM:SS[.ffffff]±HH:MM[:SS]`: microseconds only when not zero,
/// offset seconds only when not zero (old local mean times have them).
pub(crate) fn python_isoformat(dt: &DateTime<Tz>) -> String {
    use chrono::{Datelike, Timelike};
    // Written field by field (chrono's format strings are parsed on every call); years outside
    // 0..=9999 and leap seconds take chrono's own spelling.
    let mut s = String::with_capacity(32);
    if (0..=9999).contains(&dt.year()) && dt.nanosecond() < 1_000_000_000 {
        let _ = write!(
            s,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            dt.year(),
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second()
        );
    } else {
        s = dt.format("%Y-%m-%dT%H:%M:%S").to_string();
    }
    let micros = dt.timestamp_subsec_micros();
    if micros != 0 {
        let _ = write!(s, ".{micros:06}");
    }
    let offset = dt.offset().fix().local_minus_utc();
    let sign = if offset < 0 { '-' } else { '+' };
    let abs = offset.unsigned_abs();
    let _ = write!(s, "{sign}{:02}:{:02}", abs / 3600, abs / 60 % 60);
    if !abs.is_multiple_of(60) {
        let _ = write!(s, ":{:02}", abs % 60);
    }
    s
}

/// `value[key]` of a dict (null when absent); any other value unchanged.
fn member(value: &Value, key: &str) -> Value {
    match value {
        Value::Object(map) => map.get(key).cloned().unwrap_or(Value::Null),
        _ => value.clone(),
    }
}

pub(crate) fn string_or_null(parts: Vec<String>) -> Value {
    if parts.is_empty() {
        Value::Null
    } else {
        Value::String(join(parts.into_iter()))
    }
}

fn join(parts: impl Iterator<Item = String>) -> String {
    parts.collect::<Vec<_>>().join(", ")
}

/// Python truthiness, which knackpy's address formatter filters on.
pub(crate) fn is_truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Python's `str()` of a JSON value, as knackpy's joins produce it.
pub(crate) fn python_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => python_repr(other),
    }
}

fn python_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(python_repr).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!(
                    "{}: {}",
                    python_repr(&Value::String(k.clone())),
                    python_repr(v)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chicago() -> Tz {
        "America/Chicago".parse().unwrap()
    }

    fn fmt(t: FieldType, v: Value) -> Value {
        format_value(&t, &v, chicago())
    }

    #[test]
    fn per_type_rules() {
        assert_eq!(fmt(FieldType::ShortText, json!("")), Value::Null);
        assert_eq!(fmt(FieldType::UserRoles, json!([])), Value::Null);
        assert_eq!(
            fmt(FieldType::UserRoles, json!(["profile_1", "profile_7"])),
            json!("profile_1, profile_7")
        );
        assert_eq!(fmt(FieldType::MultipleChoice, json!([null])), Value::Null);
        assert_eq!(
            fmt(FieldType::MultipleChoice, json!(["a", "b"])),
            json!("a, b")
        );
        assert_eq!(
            fmt(
                FieldType::Connection,
                json!([{"id": "1", "identifier": "A"}, {"id": "2", "identifier": "B"}])
            ),
            json!("A, B")
        );
        assert_eq!(
            fmt(
                FieldType::Address,
                json!({"street": "", "city": "Austin", "zip": 78701, "latitude": 1})
            ),
            json!("Austin, 78701")
        );
        assert_eq!(
            fmt(
                FieldType::Address,
                json!({"latitude": 30.1, "longitude": -97.0})
            ),
            Value::Null
        );
        let many = json!([{"street": "a"}]);
        assert_eq!(fmt(FieldType::Address, many.clone()), many);
        assert_eq!(
            fmt(FieldType::Image, json!("google.com")),
            json!("google.com")
        );
        assert_eq!(
            fmt(FieldType::Phone, json!({"full": "5125551234"})),
            json!("5125551234")
        );
        assert_eq!(fmt(FieldType::Boolean, json!(false)), json!(false));
        assert_eq!(
            fmt(
                FieldType::Timer,
                json!("<span>09/11/19</span>&nbsp;4:14pm to 5:14pm = 1:00 hours")
            ),
            json!("09/11/19; 4:14pm to 5:14pm = 1:00 hours")
        );
        assert_eq!(
            fmt(
                FieldType::Unknown("x".into()),
                json!([1, true, null, {"a": "b"}])
            ),
            json!("1, True, None, {'a': 'b'}")
        );
    }

    #[test]
    fn dates_are_corrected_and_printed_like_python() {
        let d = |ms: i64| {
            fmt(
                FieldType::DateTime,
                json!({"unix_timestamp": ms, "to": {"unix_timestamp": 0}}),
            )
        };
        assert_eq!(d(1_568_218_440_000), json!("2019-09-11T16:14:00-05:00"));
        assert_eq!(
            d(1_568_218_440_250),
            json!("2019-09-11T16:14:00.250000-05:00")
        );
        // local mean time before 1883: offset printed with seconds, like Python
        assert_eq!(d(-3_155_673_600_000), json!("1870-01-01T00:00:00-05:50:36"));
        // a date reached through a connection (a list) is not a date dict: unchanged
        let list = json!([{"unix_timestamp": 1}]);
        assert_eq!(fmt(FieldType::DateTime, list.clone()), list);
        // a date dict in a field of another type is corrected (an equation's date)
        assert_eq!(
            fmt(
                FieldType::Equation,
                json!({"unix_timestamp": 1_568_218_440_000_i64})
            ),
            json!({"unix_timestamp": 1_568_236_440_000_i64})
        );
    }
}
