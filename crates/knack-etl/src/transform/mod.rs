//! Knack record → Socrata row and → ArcGIS Online feature, as atd-knack-services builds them.
//!
//! Both transforms start from a **formatted** record: knack-client's formatter output (knackpy's
//! `Record.format()`), a label → value map in field order whose key `id` is the Knack record id and
//! where a field labelled `id` already sits under `_id`. Location fields are read from the **raw**
//! staging record (`field_N_raw`), because the formatted value of an address is only its text.
//!
//! Build a transform once per run (it checks the config against the dataset or layer and logs what
//! it will drop), then call it for every record: [`SocrataTransform::row`], [`AgolTransform::feature`].

mod agol;
mod agol_values;
mod coords;
mod error;
mod html;
pub mod keys;
mod pyfmt;
mod socrata;
mod socrata_text;

pub use agol::{AgolOptions, AgolTransform, Feature, RICH_TEXT_FIELD_TYPES, WKID_WGS84};
pub use agol_values::AgolFeatureBuilder;
pub use coords::raw_field_value;
pub use error::TransformError;
pub use keys::{field_key, normalize_keys, normalize_label};
pub use socrata::{SocrataColumns, SocrataOptions, SocrataTransform, DEFAULT_TIMEZONE};
pub use socrata_text::{SocrataRowWriter, TextRow};

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

    /// The key this field's value has in every output ([`field_key`] of its label).
    pub fn output_key(&self) -> String {
        field_key(&self.label)
    }
}

/// Finds the location field's spec, or says which config key is wrong.
fn location_spec<'a>(
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
fn warn_collisions(fields: &[FieldSpec]) {
    for (key, labels) in keys::key_collisions(fields.iter().map(|f| f.label.as_str())) {
        tracing::warn!(key = %key, ?labels, "several Knack fields share one output key; the last one wins");
    }
}
