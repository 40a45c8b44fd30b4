//! knackpy-compatible formatting: a raw record to label → value pairs.
//!
//! The rules are knackpy 1.0.21's (the version the Python services ran in
//! production), so that datasets published by the Rust services keep their
//! column names and values. Where knackpy has a known bug the formatter does
//! the right thing instead; the crate README lists each difference. The rules
//! for one value are in `format_value.rs`; reading them from a record's text
//! is `select.rs` (with `format_text.rs`).

use chrono_tz::Tz;
use serde_json::{Map, Value};

use crate::format_value::format_value;
use crate::{Container, Error, FieldType, Metadata, Record};

/// One label of a formatted record: which field it comes from and its type
/// (so that a publisher knows, say, that a label holds a date or an address).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FormatField {
    /// The field key (`field_N`, or `id` for the record id).
    pub key: String,
    /// The label, the key of the value in a formatted record.
    pub label: String,
    /// The field type ([`FieldType::Id`] for the record id).
    pub field_type: FieldType,
}

/// Formats the records of one container as knackpy 1.0.21 does.
///
/// Built once per container (fields and timezone are resolved up front), then
/// [`Formatter::format`] is cheap and never touches the record it is given.
#[derive(Debug, Clone)]
pub struct Formatter {
    tz: Tz,
    fields: Vec<FormatField>,
    /// `field_N_raw` for each field, built once rather than per record.
    raw_keys: Vec<String>,
}

impl Formatter {
    /// A formatter for `container`'s records, in the app's timezone.
    ///
    /// # Errors
    /// [`Error::Metadata`] for a container not in the metadata (or a view that
    /// is not a table), [`Error::UnknownTimezone`] for an app timezone with no
    /// known IANA zone.
    pub fn new(metadata: &Metadata, container: &Container) -> crate::Result<Self> {
        Self::with_timezone(metadata, container, metadata.timezone()?)
    }

    /// A formatter in a timezone of the caller's choosing instead of the
    /// app's (knackpy's `tzinfo` override).
    ///
    /// # Errors
    /// [`Error::Metadata`] as for [`Formatter::new`].
    pub fn with_timezone(
        metadata: &Metadata,
        container: &Container,
        tz: Tz,
    ) -> crate::Result<Self> {
        let mut fields = vec![FormatField {
            key: "id".into(),
            label: "id".into(),
            field_type: FieldType::Id,
        }];
        for field in metadata.fields_of(container)? {
            if fields.iter().any(|f| f.key == field.key) {
                continue;
            }
            let entry = FormatField {
                key: field.key.clone(),
                label: field.label().to_string(),
                field_type: field.field_type.clone(),
            };
            // knackpy builds a dict keyed by label: a later field with the same
            // label replaces the earlier one's value but keeps its position.
            match fields.iter_mut().find(|f| f.label == entry.label) {
                Some(slot) => {
                    tracing::warn!(
                        container = %container,
                        label = %entry.label,
                        kept = %entry.key,
                        dropped = %slot.key,
                        "two fields share a label; the later one wins, as in knackpy: rename one in Knack to publish both"
                    );
                    *slot = entry;
                }
                None => fields.push(entry),
            }
        }
        let raw_keys = fields.iter().map(|f| format!("{}_raw", f.key)).collect();
        Ok(Self {
            tz,
            fields,
            raw_keys,
        })
    }

    /// The timezone timestamps are corrected and printed in.
    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// Every label of a formatted record, in output order, with its field.
    /// The first is always the record id, `id`.
    pub fn fields(&self) -> &[FormatField] {
        &self.fields
    }

    /// The field behind a label.
    pub fn field(&self, label: &str) -> Option<&FormatField> {
        self.fields.iter().find(|f| f.label == label)
    }

    /// Formats one record: label → value, in [`Formatter::fields`] order.
    ///
    /// # Errors
    /// [`Error::MissingField`] when the record lacks a field the metadata lists
    /// for the container.
    pub fn format(&self, record: &Record) -> crate::Result<Map<String, Value>> {
        let mut out = Map::with_capacity(self.fields.len());
        for (field, raw_key) in self.fields.iter().zip(&self.raw_keys) {
            let value = if field.field_type.uses_knack_format() {
                record.display_value(&field.key)
            } else {
                record
                    .raw()
                    .get(raw_key)
                    .or_else(|| record.display_value(&field.key))
            };
            let Some(value) = value else {
                return Err(Error::MissingField {
                    record_id: record.id().to_string(),
                    field: field.key.clone(),
                    label: field.label.clone(),
                });
            };
            out.insert(
                field.label.clone(),
                format_value(&field.field_type, value, self.tz),
            );
        }
        Ok(out)
    }
}
