//! Matching keys of ArcGIS features: a matching value as one canonical key whatever JSON type the
//! layer stores it as, and as the SQL literal a lookup asks for.

use agol_client::sql_quote;
use serde_json::Value;

/// Field types whose values are written without quotes in ArcGIS SQL.
pub(super) const NUMERIC_TYPES: [&str; 6] = [
    "esriFieldTypeSmallInteger",
    "esriFieldTypeInteger",
    "esriFieldTypeBigInteger",
    "esriFieldTypeSingle",
    "esriFieldTypeDouble",
    "esriFieldTypeOID",
];

/// A matching value as a canonical key, whatever JSON type the layer stores it as: `5`, `5.0`
/// and `"5"` (a Double, an Integer, a string of digits) are one key, so an incremental run never
/// adds a second feature for a number printed another way. Other text is kept as it is.
pub(crate) fn key_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(canonical_digits(s).unwrap_or_else(|| s.clone())),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(i.to_string())
            } else if let Some(u) = n.as_u64() {
                Some(u.to_string())
            } else {
                let text = n.to_string();
                Some(canonical_digits(&text).unwrap_or(text))
            }
        }
        _ => None,
    }
}

/// A matching value as the text to look it up by.
pub(super) fn raw_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `-0042.000` → `-42`: an integer written in digits, with leading zeros and a zero fraction
/// dropped; `None` for anything else. Exact (no floating point), so two different long digit
/// strings never become one key.
fn canonical_digits(s: &str) -> Option<String> {
    let (negative, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b == b'0')
    {
        return None;
    }
    let digits = int.trim_start_matches('0');
    Some(match (digits.is_empty(), negative) {
        (true, _) => "0".to_string(),
        (false, true) => format!("-{digits}"),
        (false, false) => digits.to_string(),
    })
}

/// A matching key as a SQL literal for the lookup's `IN (...)`: bare only when the field is
/// numeric and the key is a finite number. `"NaN"`, `"inf"` and `"infinity"` parse as `f64` but
/// written bare they are column names to ArcGIS, which would change the `where` clause's meaning.
pub(super) fn key_literal(key: &str, numeric: bool) -> String {
    if numeric && key.parse::<f64>().is_ok_and(f64::is_finite) {
        key.to_string()
    } else {
        sql_quote(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matching_keys_are_canonical_for_numbers_and_exact_for_text() {
        let key = |v: Value| key_of(Some(&v));
        for same in [
            json!(5),
            json!(5.0),
            json!("5"),
            json!("005"),
            json!("5.00"),
        ] {
            assert_eq!(key(same.clone()).as_deref(), Some("5"), "{same}");
        }
        assert_eq!(key(json!(-7.0)).as_deref(), Some("-7"));
        assert_eq!(key(json!(2.5)).as_deref(), Some("2.5"));
        assert_eq!(
            key(json!("5f1a2b3c4d5e6f7081920a1b")).as_deref(),
            Some("5f1a2b3c4d5e6f7081920a1b")
        );
        assert_eq!(
            key(json!("123456789012345678901234")).as_deref(),
            Some("123456789012345678901234"),
            "long digit strings stay exact, never rounded through a float"
        );
        assert_ne!(
            key(json!("123456789012345678901234")),
            key(json!("123456789012345678901235"))
        );
        assert_eq!(key(json!("")), None);
        assert_eq!(key(json!(null)), None);
    }

    #[test]
    fn only_finite_numbers_go_bare_and_only_for_numeric_fields() {
        assert_eq!(key_literal("42", true), "42");
        assert_eq!(key_literal("-1.5", true), "-1.5");
        assert_eq!(key_literal("42", false), "'42'");
        for odd in ["NaN", "inf", "infinity", "-inf", "1 OR 1=1"] {
            assert_eq!(key_literal(odd, true), format!("'{odd}'"));
        }
        assert_eq!(key_literal("O'Brien", false), "'O''Brien'");
    }
}
