//! Knack record → ArcGIS Online feature, as `records_to_agol.py` and `utils/agol.py` build it.

use std::collections::HashSet;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Map, Value};

use super::coords::{raw_field_value, truthy, Coordinate};
use super::keys::normalize_keys;
use super::{location_spec, warn_collisions, FieldSpec, TransformError};

/// The spatial reference of every geometry built here: WGS 84, as Knack geocodes addresses.
pub const WKID_WGS84: u32 = 4326;

/// Knack field types whose text loses `<` and `>` when it holds both (AGOL rejects HTML-looking text).
pub const SANITIZED_FIELD_TYPES: [&str; 2] = ["short_text", "paragraph_text"];

/// The container config keys that shape AGOL features.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgolOptions {
    /// `location_field_id`: the address field that gives each feature its geometry.
    pub location_field: Option<String>,
}

impl AgolOptions {
    /// Options with a location field (its key, e.g. `field_9`).
    pub fn location_field(mut self, field_key: impl Into<String>) -> Self {
        self.location_field = Some(field_key.into());
        self
    }
}

/// One feature in AGOL's JSON (`{"attributes": {...}, "geometry": {...}}`), as `applyEdits` takes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    /// Attribute name → value.
    pub attributes: Map<String, Value>,
    /// `None`: no `geometry` key at all (no location field, or no address). `Some(Value::Null)`:
    /// `"geometry": null` (an address without coordinates). Otherwise a point
    /// (`{"spatialReference", "x", "y"}`) or multipoint (`{"points", "spatialReference"}`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub geometry: Option<Value>,
}

/// Keeps `"geometry": null` apart from a missing key when reading features back.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// Turns formatted Knack records into AGOL features for one layer or table. Build one per run.
#[derive(Debug, Clone)]
pub struct AgolTransform {
    sanitize: HashSet<String>,
    location_field: Option<String>,
}

impl AgolTransform {
    /// Checks the options against the container's fields.
    pub fn new(fields: &[FieldSpec], options: AgolOptions) -> Result<Self, TransformError> {
        warn_collisions(fields);
        if let Some(key) = &options.location_field {
            location_spec(fields, key)?;
        }
        // By output key, not label: the original looked text fields up by label in the formatted
        // record, where the label `id` finds the record id instead of the field (now at `_id`).
        let sanitize = fields
            .iter()
            .filter(|f| SANITIZED_FIELD_TYPES.contains(&f.field_type.as_str()))
            .map(FieldSpec::output_key)
            .collect();
        Ok(Self {
            sanitize,
            location_field: options.location_field,
        })
    }

    /// One feature from a formatted record (label → value) and the raw staging record (for the
    /// location field). Attributes are the formatted values under normalised keys, not checked
    /// against the layer's fields (as in the original); dates stay ISO-8601 with offset.
    pub fn feature(&self, formatted: Map<String, Value>, raw: &Map<String, Value>) -> Feature {
        let mut attributes = normalize_keys(formatted);
        for key in &self.sanitize {
            if let Some(Value::String(text)) = attributes.get_mut(key) {
                if text.contains('<') && text.contains('>') {
                    text.retain(|c| c != '<' && c != '>');
                }
            }
        }
        let geometry = self
            .location_field
            .as_deref()
            .and_then(|key| geometry(raw_field_value(raw, key)));
        Feature {
            attributes,
            geometry,
        }
    }
}

/// A dict gives a point, a list (a one-to-many parent's child addresses) a multipoint; an empty
/// value gives no geometry key; anything else too (the original ignored it).
fn geometry(raw: Option<&Value>) -> Option<Value> {
    match raw.filter(|v| truthy(v))? {
        Value::Object(address) => Some(point(address)),
        Value::Array(addresses) => Some(multipoint(addresses)),
        _ => None,
    }
}

/// Both coordinates as JSON numbers, or why not (`None`).
fn xy(address: &Map<String, Value>) -> Option<(Value, Value, f64, f64)> {
    match (
        Coordinate::of(address, "longitude"),
        Coordinate::of(address, "latitude"),
    ) {
        (Coordinate::Number { value: x, json: jx }, Coordinate::Number { value: y, json: jy }) => {
            Some((Value::Number(jx), Value::Number(jy), x, y))
        }
        _ => None,
    }
}

fn point(address: &Map<String, Value>) -> Value {
    match xy(address) {
        // (0, 0) is how an un-geocoded address looks; the original dropped it too.
        Some((x, y, fx, fy)) if !(fx == 0.0 && fy == 0.0) => {
            json!({"spatialReference": {"wkid": WKID_WGS84}, "x": x, "y": y})
        }
        _ => Value::Null,
    }
}

fn multipoint(addresses: &[Value]) -> Value {
    let points: Vec<Value> = addresses
        .iter()
        .filter_map(Value::as_object)
        .filter_map(xy)
        .filter(|(_, _, fx, fy)| *fx != 0.0 && *fy != 0.0)
        .map(|(x, y, _, _)| json!([x, y]))
        .collect();
    if points.is_empty() {
        Value::Null
    } else {
        json!({"points": points, "spatialReference": {"wkid": WKID_WGS84}})
    }
}

#[cfg(test)]
#[path = "agol_tests.rs"]
mod tests;
