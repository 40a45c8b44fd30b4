//! [`SocrataTransform::row`] without a map: the row written as JSON text straight from a
//! record's formatted values ([`knack_client::FormattedValues`]). Which value lands under which
//! column, and what happens to it, is worked out once per run ([`SocrataRowWriter::new`]);
//! per record only the values are touched.

use std::borrow::Cow;

use knack_client::FormattedValues;
use serde_json::value::RawValue;
use serde_json::Value;

use super::transform::{floating_timestamp, socrata_location, SocrataTransform};
use crate::transform::coords::{non_empty, truthy};
use crate::transform::keys::{field_key, RECORD_ID_KEY};
use crate::transform::pyfmt::py_str;
use crate::transform::TransformError;

/// One Socrata row as JSON text, with its row identifier read out.
#[derive(Debug, Clone)]
pub struct TextRow {
    id: Option<String>,
    text: Box<RawValue>,
}

impl TextRow {
    /// The row identifier's value (the Knack record id), when it is text.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The row's JSON object text.
    pub fn text(&self) -> &RawValue {
        &self.text
    }
}

impl serde::Serialize for TextRow {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.text.serialize(serializer)
    }
}

/// Where a column's value comes from.
#[derive(Debug, Clone)]
enum Source {
    /// The formatted value at this index.
    Field(usize),
    /// The location built from this location target (its index) and extra value.
    Location(usize),
    /// The run's timestamp.
    RunTimestamp,
}

#[derive(Debug, Clone)]
struct Column {
    /// The column name as JSON text (quoted and escaped), with its `:`.
    key_json: String,
    name: String,
    source: Source,
    /// Booleans stay booleans only in checkbox columns.
    checkbox: bool,
    /// A calendar_date column: truthy values become floating timestamps.
    floating: bool,
}

/// Writes rows for one dataset from formatted values, exactly as [`SocrataTransform::row`]
/// builds them from a formatted record. Build one per run.
#[derive(Debug, Clone)]
pub struct SocrataRowWriter {
    transform: SocrataTransform,
    columns: Vec<Column>,
    id_column: Option<usize>,
}

impl SocrataRowWriter {
    /// A writer for records formatted with fields labelled `labels` (the formatter's labels, in
    /// its order; the first, `id`, is the record id) and located by the transform's location
    /// fields, in its order, as the selector's extra fields. `id_field` is the dataset's row
    /// identifier, read out of each row for the sink.
    pub fn new(transform: SocrataTransform, labels: &[&str], id_field: &str) -> Self {
        // `normalize_keys`: a later label with the same key wins, in the first one's position.
        let mut order: Vec<(String, Source)> = Vec::new();
        for (i, label) in labels.iter().enumerate() {
            let key = if *label == RECORD_ID_KEY {
                (*label).to_owned()
            } else {
                field_key(label)
            };
            match order.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = Source::Field(i),
                None => order.push((key, Source::Field(i))),
            }
        }
        for (i, loc) in transform.locations.iter().enumerate() {
            if let Some(slot) = order.iter_mut().find(|(k, _)| *k == loc.column) {
                slot.1 = Source::Location(i);
            }
        }
        order.retain(|(key, _)| transform.columns.contains(key));
        if let Some((key, _)) = &transform.run_timestamp {
            match order.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = Source::RunTimestamp,
                None => order.push((key.clone(), Source::RunTimestamp)),
            }
        }
        let columns: Vec<Column> = order
            .into_iter()
            .map(|(name, source)| Column {
                key_json: format!("{}:", Value::String(name.clone())),
                checkbox: transform.columns.data_type(&name) == Some("checkbox"),
                floating: transform.floating.contains(&name),
                name,
                source,
            })
            .collect();
        let id_column = columns.iter().position(|c| c.name == id_field);
        Self {
            transform,
            columns,
            id_column,
        }
    }

    /// The transform the writer follows.
    pub fn transform(&self) -> &SocrataTransform {
        &self.transform
    }

    /// One row from a record's formatted values.
    ///
    /// # Errors
    /// As [`SocrataTransform::row`]: a location or timestamp value that cannot be read.
    pub fn row(&self, record: &FormattedValues) -> Result<TextRow, TransformError> {
        let mut text = String::with_capacity(64 * self.columns.len());
        let mut id = None;
        text.push('{');
        for (i, column) in self.columns.iter().enumerate() {
            let value = self.value(column, record)?;
            if i > 0 {
                text.push(',');
            }
            text.push_str(&column.key_json);
            if Some(i) == self.id_column {
                id = value.as_str().map(str::to_owned);
            }
            write_json(&mut text, &value);
        }
        text.push('}');
        let text = RawValue::from_string(text).map_err(|e| TransformError::InvalidRow {
            reason: e.to_string(),
        })?;
        Ok(TextRow { id, text })
    }

    /// A column's value, in `row`'s order of steps: location, boolean, list, floating
    /// timestamp, run timestamp.
    fn value<'v>(
        &self,
        column: &Column,
        record: &'v FormattedValues,
    ) -> Result<Cow<'v, Value>, TransformError> {
        let value = match column.source {
            Source::RunTimestamp => {
                let ts = self.transform.run_timestamp().unwrap_or_default();
                return Ok(Cow::Owned(Value::String(ts.to_owned())));
            }
            Source::Field(i) => Cow::Borrowed(record.values.get(i).unwrap_or(&Value::Null)),
            Source::Location(i) => {
                let loc = &self.transform.locations[i];
                let raw = record.extras.get(i).and_then(Option::as_ref);
                Cow::Owned(socrata_location(loc, non_empty(raw))?)
            }
        };
        let value = match value.as_ref() {
            Value::Bool(b) if !column.checkbox => {
                Cow::Owned(Value::String(if *b { "True" } else { "False" }.to_owned()))
            }
            Value::Array(items) => Cow::Owned(Value::String(
                items.iter().map(py_str).collect::<Vec<_>>().join(", "),
            )),
            _ => value,
        };
        if column.floating && truthy(&value) {
            return Ok(Cow::Owned(Value::String(floating_timestamp(
                &column.name,
                &value,
            )?)));
        }
        Ok(value)
    }
}

/// Appends a value's JSON text (serde_json's: the same bytes a serialised map would hold).
fn write_json(out: &mut String, value: &Value) {
    // Writing into a `Vec<u8>` taken from the string: serde_json writes valid UTF-8 only.
    let mut bytes = std::mem::take(out).into_bytes();
    let _ = serde_json::to_writer(&mut bytes, value);
    *out = String::from_utf8(bytes).unwrap_or_default();
}
