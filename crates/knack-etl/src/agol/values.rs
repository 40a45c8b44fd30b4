//! [`AgolTransform::feature`] from a record's formatted values ([`knack_client::FormattedValues`])
//! instead of a label-keyed map: each value is moved once into its attribute, under an output
//! key worked out once per run ([`AgolFeatureBuilder::new`]).

use agol_client::Feature;
use knack_client::FormattedValues;
use serde_json::{Map, Value};

use super::transform::{geometry, make_safe, AgolTransform};
use crate::transform::coords::non_empty;
use crate::transform::keys::{field_key, RECORD_ID_KEY};

/// One attribute: its key, which formatted value it takes, and whether that is rich text.
#[derive(Debug, Clone)]
struct Attribute {
    key: String,
    source: usize,
    rich_text: bool,
}

/// Builds features exactly as [`AgolTransform::feature`] does from a formatted record. Build
/// one per run.
#[derive(Debug, Clone)]
pub struct AgolFeatureBuilder {
    transform: AgolTransform,
    attributes: Vec<Attribute>,
}

impl AgolFeatureBuilder {
    /// A builder for records formatted with fields labelled `labels` (the formatter's labels,
    /// in its order; the first, `id`, is the record id), whose selector was given the
    /// transform's location field (if any) as its one extra field.
    pub fn new(transform: AgolTransform, labels: &[&str]) -> Self {
        // `normalize_keys`: a later label with the same key wins, in the first one's position.
        let mut attributes: Vec<Attribute> = Vec::new();
        for (i, label) in labels.iter().enumerate() {
            let key = if *label == RECORD_ID_KEY {
                (*label).to_owned()
            } else {
                field_key(label)
            };
            match attributes.iter_mut().find(|a| a.key == key) {
                Some(attribute) => attribute.source = i,
                None => attributes.push(Attribute {
                    rich_text: transform.rich_text.contains(&key),
                    key,
                    source: i,
                }),
            }
        }
        Self {
            transform,
            attributes,
        }
    }

    /// The transform the builder follows.
    pub fn transform(&self) -> &AgolTransform {
        &self.transform
    }

    /// One feature from a record's formatted values.
    pub fn feature(&self, record: FormattedValues) -> Feature {
        let FormattedValues {
            mut values, extras, ..
        } = record;
        let mut attributes = Map::with_capacity(self.attributes.len());
        for attribute in &self.attributes {
            let mut value = values
                .get_mut(attribute.source)
                .map(std::mem::take)
                .unwrap_or(Value::Null);
            // The Knack record id is the feature's key: never rewritten.
            if attribute.key != RECORD_ID_KEY {
                make_safe(&mut value, attribute.rich_text);
            }
            attributes.insert(attribute.key.clone(), value);
        }
        let geometry = self
            .transform
            .location_field
            .as_ref()
            .and_then(|_| geometry(non_empty(extras.first().and_then(Option::as_ref))));
        Feature {
            attributes,
            geometry,
        }
    }
}
