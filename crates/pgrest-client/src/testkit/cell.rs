//! How the fake stores a cell: objects and arrays as their JSON text.

use std::borrow::Cow;

use serde_json::Value;

use super::store::Row;

/// Marks a stored cell holding a JSON object or array as its text (a character from Unicode's
/// private use area, which no test value starts with).
const PACKED: char = '\u{F8FF}';

/// A cell as stored: an object or array (a `json`/`jsonb` value such as a staged Knack record)
/// kept as its JSON text behind [`PACKED`], since a million records held as trees of values
/// would not fit in memory; anything else as it is.
pub(crate) fn pack(value: Value) -> Value {
    match value {
        Value::Object(_) | Value::Array(_) => {
            let mut text = String::from(PACKED);
            text.push_str(&value.to_string());
            Value::String(text)
        }
        other => other,
    }
}

/// A stored cell as the value it was given (see [`pack`]).
pub(crate) fn unpack(value: &Value) -> Cow<'_, Value> {
    match value.as_str().and_then(|s| s.strip_prefix(PACKED)) {
        // Written by `pack` from a value: always reads back.
        Some(text) => Cow::Owned(serde_json::from_str(text).unwrap_or_default()),
        None => Cow::Borrowed(value),
    }
}

/// A stored row with its cells as they were given.
pub(crate) fn unpack_row(row: &Row) -> Row {
    row.iter()
        .map(|(k, v)| (k.clone(), unpack(v).into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn packed_cells_read_back_as_given_and_scalars_stay_as_they_are() {
        let record = json!({"id": "r1", "b": [1, 2.5, {"z": null}], "a": "x"});
        let packed = pack(record.clone());
        assert!(packed.is_string());
        assert_eq!(unpack(&packed).into_owned(), record);
        // Key order survives: the text written back is the text given.
        assert_eq!(unpack(&packed).to_string(), record.to_string());
        for scalar in [json!("text"), json!(3), json!(null), json!(true)] {
            assert_eq!(pack(scalar.clone()), scalar);
            assert_eq!(unpack(&scalar).into_owned(), scalar);
        }
    }
}
