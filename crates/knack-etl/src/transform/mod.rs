//! What the Socrata and ArcGIS transforms share: the [`FieldSpec`] of a container's field, the
//! output key of a label, coordinates read from the raw record, HTML stripping,
//! Python's formatting of values, and the [`TransformError`] both report.
//!
//! Both transforms (`socrata/transform`, `agol/transform`) start from a **formatted** record:
//! knack-client's formatter output (knackpy's `Record.format()`), a label → value map in field
//! order whose key `id` is the Knack record id and where a field labelled `id` already sits under
//! `_id`. Location fields are read from the **raw** staging record (`field_N_raw`), because the
//! formatted value of an address is only its text.

pub(crate) mod coords;
mod error;
pub(crate) mod html;
pub(crate) mod keys;
pub(crate) mod pyfmt;

pub use error::TransformError;
pub(crate) use keys::{field_key, output_keys};

/// What a transform needs to know about one field of the container, from the Knack metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    /// The field key, e.g. `field_9`.
    pub key: String,
    /// The field's label (the object's field name, as knackpy uses it).
    pub label: String,
    /// The Knack field type as Knack spells it, e.g. `short_text`, `address`, `boolean`.
    pub field_type: String,
}

impl FieldSpec {
    /// A field spec from its key, label and Knack type name.
    pub fn new(
        key: impl Into<String>,
        label: impl Into<String>,
        field_type: impl Into<String>,
    ) -> Self {
        Self {
            key: key.into(),
            label: label.into(),
            field_type: field_type.into(),
        }
    }

    /// The key this field's value has in every output: its label lowercased with spaces and
    /// dashes as `_`, and `_id` for a label that reads `id` (which would overwrite the record id).
    pub fn output_key(&self) -> String {
        field_key(&self.label)
    }
}

/// Finds the location field's spec, or says which config key is wrong.
pub(crate) fn location_spec<'a>(
    fields: &'a [FieldSpec],
    field_key: &str,
) -> Result<&'a FieldSpec, TransformError> {
    fields
        .iter()
        .find(|f| f.key == field_key)
        .ok_or_else(|| TransformError::UnknownLocationField {
            field_key: field_key.to_owned(),
        })
}

/// Logs, once per transform, labels whose values would overwrite each other.
pub(crate) fn warn_collisions(fields: &[FieldSpec]) {
    for (key, labels) in keys::key_collisions(fields.iter().map(|f| f.label.as_str())) {
        tracing::warn!(key = %key, ?labels, "several Knack fields share one output key; the last one wins");
    }
}
