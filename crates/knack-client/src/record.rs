//! A Knack record, kept exactly as Knack sent it.

use serde::{Deserialize, Serialize};
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
