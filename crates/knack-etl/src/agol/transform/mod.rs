//! Knack record → ArcGIS Online feature, as `records_to_agol.py` and `utils/agol.py` build it.

use std::collections::HashSet;

use agol_client::Feature;
use agol_client::Geometry;
use serde_json::{Map, Value};

use crate::transform::coords::{raw_field_value, truthy, Coordinate};
use crate::transform::html::{strip_angle_brackets, text_content};
use crate::transform::keys::normalize_keys;
use crate::transform::{location_spec, warn_collisions, FieldSpec, TransformError};

/// The spatial reference of every geometry built here: WGS 84, as Knack geocodes addresses
/// (the wkid agol-client's [`Geometry::point`] and [`Geometry::multipoint`] set).
pub const WKID_WGS84: u32 = 4326;

/// Knack field types whose value is HTML markup: published as its text content (AGOL rejects
/// HTML-looking text). Every other text value, whatever its field type, loses `<` and `>` when it
/// holds both, the original's rule for short and paragraph text.
pub(crate) const RICH_TEXT_FIELD_TYPES: [&str; 1] = ["rich_text"];

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

/// Turns formatted Knack records into AGOL features for one layer or table. Build one per run.
#[derive(Debug, Clone)]
pub struct AgolTransform {
    pub(super) rich_text: HashSet<String>,
    pub(super) location_field: Option<String>,
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
        let rich_text = fields
            .iter()
            .filter(|f| RICH_TEXT_FIELD_TYPES.contains(&f.field_type.as_str()))
            .map(FieldSpec::output_key)
            .collect();
        Ok(Self {
            rich_text,
            location_field: options.location_field,
        })
    }

    /// One feature from a formatted record (label → value) and the raw staging record (for the
    /// location field). Attributes are the formatted values under normalised keys, not checked
    /// against the layer's fields (as in the original); dates stay ISO-8601 with offset.
    ///
    /// The geometry is as the original built it: `None` (no `geometry` key) without a location
    /// field or an address, [`Geometry::Null`] (`"geometry": null`) for an address without usable
    /// coordinates, else a point or (a list of addresses) a multipoint.
    pub fn feature(&self, formatted: Map<String, Value>, raw: &Map<String, Value>) -> Feature {
        let mut attributes = normalize_keys(formatted);
        for (key, value) in attributes.iter_mut() {
            // The Knack record id is the feature's key: never rewritten.
            if key != "id" {
                make_safe(value, self.rich_text.contains(key));
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

/// Text ArcGIS would refuse as HTML made safe, in a value or in each item of a list: rich text
/// becomes its text content, then any text holding both `<` and `>` loses them.
pub(super) fn make_safe(value: &mut Value, rich_text: bool) {
    match value {
        Value::String(text) => {
            if rich_text {
                *text = text_content(text);
            }
            strip_angle_brackets(text);
        }
        Value::Array(items) => items.iter_mut().for_each(|v| make_safe(v, rich_text)),
        _ => {}
    }
}

/// A dict gives a point, a list (a one-to-many parent's child addresses) a multipoint; an empty
/// value gives no geometry key; anything else too (the original ignored it).
pub(super) fn geometry(raw: Option<&Value>) -> Option<Geometry> {
    match raw.filter(|v| truthy(v))? {
        Value::Object(address) => Some(point(address)),
        Value::Array(addresses) => Some(multipoint(addresses)),
        _ => None,
    }
}

/// Both coordinates as numbers (`(lon, lat)`), or why not (`None`).
fn xy(address: &Map<String, Value>) -> Option<(f64, f64)> {
    match (
        Coordinate::of(address, "longitude"),
        Coordinate::of(address, "latitude"),
    ) {
        (Coordinate::Number { value: x, .. }, Coordinate::Number { value: y, .. }) => Some((x, y)),
        _ => None,
    }
}

fn point(address: &Map<String, Value>) -> Geometry {
    match xy(address) {
        // (0, 0) is how an un-geocoded address looks; the original dropped it too.
        Some((x, y)) if !(x == 0.0 && y == 0.0) => Geometry::point(x, y),
        _ => Geometry::Null,
    }
}

fn multipoint(addresses: &[Value]) -> Geometry {
    let points: Vec<(f64, f64)> = addresses
        .iter()
        .filter_map(Value::as_object)
        .filter_map(xy)
        .filter(|(x, y)| *x != 0.0 && *y != 0.0)
        .collect();
    if points.is_empty() {
        Geometry::Null
    } else {
        Geometry::multipoint(points)
    }
}

#[cfg(test)]
mod tests;
