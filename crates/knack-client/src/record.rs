//! A Knack record, kept exactly as Knack sent it.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// One record as Knack returns it: `id`, and every field twice, `field_N`
/// (display HTML/text) and `field_N_raw` (typed). It is kept untouched so the
/// staging store holds what Knack said, and formatting can be redone later
/// with newer metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Record(Map<String, Value>);

impl Record {
    /// Wraps a raw record object.
    pub fn new(raw: Map<String, Value>) -> Self {
        Self(raw)
    }

    /// The record id (24 hex characters), or `""` when Knack sent none.
    pub fn id(&self) -> &str {
        self.0.get("id").and_then(Value::as_str).unwrap_or_default()
    }

    /// The raw JSON object.
    pub fn raw(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The typed value of a field (`field_N_raw`), if present.
    pub fn raw_value(&self, field_key: &str) -> Option<&Value> {
        self.0.get(&format!("{field_key}_raw"))
    }

    /// The display value of a field (`field_N`), if present.
    pub fn display_value(&self, field_key: &str) -> Option<&Value> {
        self.0.get(field_key)
    }

    /// Gives back the raw JSON object.
    pub fn into_raw(self) -> Map<String, Value> {
        self.0
    }
}

impl From<Map<String, Value>> for Record {
    fn from(raw: Map<String, Value>) -> Self {
        Self(raw)
    }
}

/// One record as the JSON text Knack sent, byte for byte (key order, escapes and number
/// spellings included), with only its `id` read.
///
/// For moving records without looking inside them (`records-to-postgrest`): building and
/// dropping a [`Record`]'s tree of values costs more than the whole rest of that copy. Serializing
/// it writes the text unchanged. [`RawRecord::to_record`] parses it when the fields are needed.
#[derive(Debug, Clone)]
pub struct RawRecord {
    id: String,
    raw: Box<RawValue>,
}

impl RawRecord {
    /// Wraps a record's JSON text and reads its `id` (`""` when there is none).
    ///
    /// # Errors
    /// When the text is not a JSON object, or its `id` is not a string.
    pub fn from_raw(raw: Box<RawValue>) -> serde_json::Result<Self> {
        let id = read_id(raw.get())?;
        Ok(Self { id, raw })
    }

    /// The record id (24 hex characters), or `""` when Knack sent none.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The JSON text as Knack sent it.
    pub fn raw(&self) -> &RawValue {
        &self.raw
    }

    /// Gives back the JSON text.
    pub fn into_raw(self) -> Box<RawValue> {
        self.raw
    }

    /// The record parsed, to read its fields.
    ///
    /// # Errors
    /// Never for a record read from Knack (its text was checked to be an object).
    pub fn to_record(&self) -> serde_json::Result<Record> {
        serde_json::from_str(self.raw.get())
    }
}

/// The `id` of a record object. Knack sends `id` first, and so does PostgreSQL's `jsonb` (it
/// orders keys shortest first, and writes `"id": "` with a space), so those cases are read
/// without parsing the rest; any other shape (another key first, an escape in the id) gets a
/// full parse.
fn read_id(text: &str) -> serde_json::Result<String> {
    let value = text
        .strip_prefix(r#"{"id":"#)
        .map(|rest| rest.trim_start_matches([' ', '\n', '\t', '\r']))
        .and_then(|rest| rest.strip_prefix('"'));
    if let Some(rest) = value {
        if let Some(end) = rest.find('"') {
            let id = &rest[..end];
            if !id.contains('\\') {
                return Ok(id.to_string());
            }
        }
    }
    #[derive(Deserialize)]
    struct IdOnly {
        #[serde(default)]
        id: Option<String>,
    }
    let IdOnly { id } = serde_json::from_str(text)?;
    Ok(id.unwrap_or_default())
}

impl Serialize for RawRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RawRecord {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Self::from_raw(raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> RawRecord {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn a_raw_record_keeps_the_text_byte_for_byte() {
        // Key order, an escaped slash, a \u escape and a float spelled 1.0: a parse and a
        // re-serialization would change all four.
        let text = r#"{"field_2":"<a href=\"x\">1<\/a>","id":"5d79\u0034","field_3_raw":1.0}"#;
        let record = raw(text);
        assert_eq!(record.raw().get(), text);
        assert_eq!(serde_json::to_string(&record).unwrap(), text);
        assert_eq!(record.id(), "5d794");
        assert_eq!(record.to_record().unwrap().id(), "5d794");
    }

    #[test]
    fn the_id_is_read_first_or_anywhere_or_defaults_to_empty() {
        assert_eq!(raw(r#"{"id":"abc","field_1":"x"}"#).id(), "abc");
        // PostgreSQL's jsonb text, as PostgREST returns a staged record.
        assert_eq!(raw(r#"{"id": "abc", "field_1": "x"}"#).id(), "abc");
        assert_eq!(raw(r#"{"id": "a\"b", "field_1": "x"}"#).id(), "a\"b");
        assert!(serde_json::from_str::<RawRecord>(r#"{"id": 7}"#).is_err());
        assert_eq!(raw(r#"{"field_1":"x","id":"abc"}"#).id(), "abc");
        assert_eq!(raw(r#"{"field_1":"x"}"#).id(), "");
        assert!(serde_json::from_str::<RawRecord>("[1]").is_err());
        assert!(serde_json::from_str::<RawRecord>(r#"{"id":7}"#).is_err());
    }
}
