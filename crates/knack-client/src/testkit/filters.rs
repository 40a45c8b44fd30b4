//! The fake's evaluation of Knack's `filters` parameter.

use chrono::{DateTime, NaiveDate};
use std::collections::HashMap;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A parsed filter: `and` (true) or `or`, and its rules.
pub(super) struct Parsed {
    and: bool,
    rules: Vec<Value>,
}

/// Parses `{"match","rules"}` or a bare array of rules (Knack takes both).
pub(super) fn parse(text: &str) -> Result<Parsed, String> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| format!("filters is not valid JSON: {e}"))?;
    let (and, rules) = match v {
        Value::Array(rules) => (true, rules),
        Value::Object(mut m) => {
            let and = match m.get("match").and_then(Value::as_str).unwrap_or("and") {
                "and" => true,
                "or" => false,
                other => return Err(format!("invalid filter match {other:?}")),
            };
            match m.remove("rules") {
                Some(Value::Array(rules)) => (and, rules),
                _ => return Err("filters needs a rules array".into()),
            }
        }
        _ => return Err("filters must be an object or an array".into()),
    };
    Ok(Parsed { and, rules })
}

impl Parsed {
    /// The record's keys the rules read: each rule's field and its `_raw` twin.
    fn keys(&self) -> Vec<String> {
        self.rules
            .iter()
            .filter_map(|rule| rule.get("field").and_then(Value::as_str))
            .flat_map(|field| [field.to_string(), format!("{field}_raw")])
            .collect()
    }

    /// Whether a record kept as JSON text passes. Only the values the rules read are parsed
    /// (a filter over a million stored records would otherwise build a million trees).
    pub(super) fn matches_text(&self, text: &str) -> Result<bool, String> {
        let record = match serde_json::from_str::<HashMap<&str, &RawValue>>(text) {
            Ok(all) => {
                let mut sparse = Map::new();
                for key in self.keys() {
                    if let Some(raw) = all.get(key.as_str()) {
                        let value = serde_json::from_str(raw.get()).unwrap_or_default();
                        sparse.insert(key, value);
                    }
                }
                Value::Object(sparse)
            }
            // A key with an escape cannot be borrowed: read the whole record.
            Err(_) => serde_json::from_str(text).unwrap_or_default(),
        };
        self.matches(&record)
    }

    /// Whether a record passes; an unsupported operator is an error (400).
    pub(super) fn matches(&self, record: &Value) -> Result<bool, String> {
        let mut results = Vec::with_capacity(self.rules.len());
        for rule in &self.rules {
            results.push(rule_matches(rule, record)?);
        }
        Ok(if self.and {
            results.iter().all(|r| *r)
        } else {
            results.iter().any(|r| *r)
        })
    }
}

fn rule_matches(rule: &Value, record: &Value) -> Result<bool, String> {
    let field = rule
        .get("field")
        .and_then(Value::as_str)
        .ok_or("a filter rule needs a field")?;
    let op = rule
        .get("operator")
        .and_then(Value::as_str)
        .ok_or("a filter rule needs an operator")?;
    let raw = record
        .get(format!("{field}_raw"))
        .or_else(|| record.get(field))
        .unwrap_or(&Value::Null);
    let value = rule.get("value").unwrap_or(&Value::Null);
    match op {
        "is blank" => return Ok(is_blank(raw)),
        "is not blank" => return Ok(!is_blank(raw)),
        _ => {}
    }
    if let Some(day) = record_day(raw) {
        let want =
            rule_day(value).ok_or_else(|| format!("invalid date value {value} for {field}"))?;
        return match op {
            "is" => Ok(day == want),
            "is not" => Ok(day != want),
            "is after" => Ok(day > want),
            "is before" => Ok(day < want),
            other => Err(format!(
                "the fake does not evaluate operator {other:?} on date fields"
            )),
        };
    }
    // A record with no date there (a blank field: an app without a rule that stamps it) is
    // neither before nor after any day, as in Knack.
    if matches!(op, "is after" | "is before") && is_blank(raw) {
        return Ok(false);
    }
    let have = text(raw).to_lowercase();
    let want = text(value).to_lowercase();
    match op {
        "is" => Ok(have == want),
        "is not" => Ok(have != want),
        "contains" => Ok(have.contains(&want)),
        "does not contain" => Ok(!have.contains(&want)),
        "starts with" => Ok(have.starts_with(&want)),
        "ends with" => Ok(have.ends_with(&want)),
        "higher than" | "lower than" => {
            let (h, w) = (have.parse::<f64>(), want.parse::<f64>());
            match (h, w) {
                (Ok(h), Ok(w)) => Ok(if op == "higher than" { h > w } else { h < w }),
                _ => Ok(false),
            }
        }
        other => Err(format!("Invalid filter operator {other:?}")),
    }
}

fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The local calendar day of a date_time raw value: its `date` text, else
/// its `unix_timestamp` (local wall time labelled UTC, so its UTC date is
/// the local date).
fn record_day(raw: &Value) -> Option<NaiveDate> {
    let obj = raw.as_object()?;
    if let Some(d) = obj.get("date").and_then(Value::as_str).and_then(parse_day) {
        return Some(d);
    }
    let ms = obj.get("unix_timestamp")?.as_i64()?;
    DateTime::from_timestamp_millis(ms).map(|t| t.date_naive())
}

/// A rule value: `MM/DD/YYYY` or ISO `YYYY-MM-DD`, optionally followed by a time.
fn rule_day(v: &Value) -> Option<NaiveDate> {
    match v {
        Value::String(s) => parse_day(s),
        Value::Object(_) => record_day(v),
        _ => None,
    }
}

fn parse_day(s: &str) -> Option<NaiveDate> {
    let head: String = s.trim().chars().take(10).collect();
    NaiveDate::parse_from_str(&head, "%m/%d/%Y")
        .or_else(|_| NaiveDate::parse_from_str(&head, "%Y-%m-%d"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(date: &str) -> Value {
        json!({"id": "1", "field_1_raw": {"date": date, "unix_timestamp": 0}, "field_2_raw": "Hello"})
    }

    #[test]
    fn date_rules_compare_whole_days() {
        let f = parse(r#"{"match":"or","rules":[{"field":"field_1","operator":"is","value":"03/07/2026"},{"field":"field_1","operator":"is after","value":"03/07/2026"}]}"#).unwrap();
        assert!(!f.matches(&rec("03/06/2026")).unwrap());
        assert!(f.matches(&rec("03/07/2026")).unwrap());
        assert!(f.matches(&rec("03/08/2026")).unwrap());
        let before =
            parse(r#"[{"field":"field_1","operator":"is before","value":"2026-03-07"}]"#).unwrap();
        assert!(before.matches(&rec("03/06/2026")).unwrap());
        assert!(!before.matches(&rec("03/07/2026")).unwrap());
        // Without `date`, the unix_timestamp's UTC date (local wall time) counts.
        let ts = json!({"field_1_raw": {"unix_timestamp": 1530613560000_i64}});
        assert!(
            parse(r#"[{"field":"field_1","operator":"is","value":"07/03/2018"}]"#)
                .unwrap()
                .matches(&ts)
                .unwrap()
        );
    }

    #[test]
    fn text_rules_and_unknown_operators() {
        let and = parse(r#"{"match":"and","rules":[{"field":"field_2","operator":"starts with","value":"he"},{"field":"field_3","operator":"is blank"}]}"#).unwrap();
        assert!(and.matches(&rec("01/01/2020")).unwrap());
        let bad = parse(r#"[{"field":"field_2","operator":"sounds like","value":"x"}]"#).unwrap();
        assert!(bad
            .matches(&rec("01/01/2020"))
            .unwrap_err()
            .contains("sounds like"));
        assert!(parse("nope").is_err());
    }
}
