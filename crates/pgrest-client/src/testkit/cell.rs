//! How the fake stores a cell: objects and arrays as their JSON text.

use std::borrow::Cow;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A row as stored: column → cell (see [`pack`]).
pub(crate) type Row = Map<String, Value>;

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

/// A write's body (a row object or an array of them) with every object or array cell already
/// packed from its text, so a large write never builds the trees it would only pack again.
/// `None` when the body is not rows (the caller's full parse then says why). A cell whose text
/// holds a `\u0000` escape is parsed as usual, for the caller's check that refuses it.
pub(crate) fn packed_rows(body: &[u8]) -> Option<Value> {
    let to_row = |cells: Cells<'_>| -> Option<Value> {
        let mut row = Row::new();
        for (key, raw) in cells.0 {
            let text = raw.get();
            let value = if text.starts_with(['{', '[']) && !text.contains("\\u0000") {
                let mut packed = String::with_capacity(text.len() + PACKED.len_utf8());
                packed.push(PACKED);
                packed.push_str(text);
                Value::String(packed)
            } else {
                serde_json::from_str(text).ok()?
            };
            row.insert(key.into_owned(), value);
        }
        Some(Value::Object(row))
    };
    match body.iter().find(|b| !b.is_ascii_whitespace())? {
        b'[' => serde_json::from_slice::<Vec<Cells<'_>>>(body)
            .ok()?
            .into_iter()
            .map(to_row)
            .collect::<Option<Vec<_>>>()
            .map(Value::Array),
        _ => to_row(serde_json::from_slice(body).ok()?),
    }
}

/// A row's cells in order, each still as its JSON text.
struct Cells<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Cells<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Cells<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a row object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Cells<'a>, A::Error> {
                let mut cells = Vec::new();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    cells.push((key, map.next_value::<&'de RawValue>()?));
                }
                Ok(Cells(cells))
            }
        }
        deserializer.deserialize_map(Visit(std::marker::PhantomData))
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
        // Packed from a write's text: the same cell as packed from the parsed value.
        let body = format!(r#"[{{"k": "a", "record": {record}}}]"#);
        let rows = packed_rows(body.as_bytes()).unwrap();
        assert_eq!(unpack(&rows[0]["record"]).into_owned(), record);
        assert_eq!(rows[0]["k"], "a");
        let one = packed_rows(br#"{"record": ["x\u0000"]}"#).unwrap();
        assert_eq!(
            one["record"],
            json!(["x\u{0}"]),
            "a NUL stays parsed, to be refused"
        );
        assert!(packed_rows(b"[1]").is_none());
        for scalar in [json!("text"), json!(3), json!(null), json!(true)] {
            assert_eq!(pack(scalar.clone()), scalar);
            assert_eq!(unpack(&scalar).into_owned(), scalar);
        }
    }
}
