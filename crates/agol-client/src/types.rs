//! Typed models of the ArcGIS REST JSON this client reads and writes.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The spatial reference of lon/lat (WGS 84). Always sent explicitly: a geometry without one is
/// taken to be in the layer's own reference (often Web Mercator).
pub const WGS84: i64 = 4326;

/// A spatial reference, by well-known id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpatialReference {
    /// Well-known id, e.g. 4326.
    pub wkid: i64,
    /// The latest well-known id, when the service sends one.
    #[serde(
        rename = "latestWkid",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub latest_wkid: Option<i64>,
}

impl SpatialReference {
    /// WGS 84 (wkid 4326).
    pub fn wgs84() -> Self {
        SpatialReference {
            wkid: WGS84,
            latest_wkid: None,
        }
    }
}

/// A feature geometry. Points and multipoints are typed; other shapes are kept as raw JSON so
/// reading a polyline or polygon layer never fails. [`Geometry::Null`] is the explicit
/// `"geometry": null` that clears a stored shape on update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Geometry {
    /// `{"x", "y", "spatialReference"}`.
    Point {
        /// Longitude (or easting).
        x: f64,
        /// Latitude (or northing).
        y: f64,
        /// Reference of the coordinates.
        #[serde(
            rename = "spatialReference",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        spatial_reference: Option<SpatialReference>,
    },
    /// `{"points": [[x, y], ...], "spatialReference"}`.
    Multipoint {
        /// The points as `[x, y]` pairs.
        points: Vec<[f64; 2]>,
        /// Reference of the coordinates.
        #[serde(
            rename = "spatialReference",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        spatial_reference: Option<SpatialReference>,
    },
    /// `null`: "this feature has no shape". Sent as `"geometry": null`, which in an update
    /// removes the feature's stored shape, where leaving the key out keeps it.
    ///
    /// Esri documents that an update "should include the geometry" for a feature layer and not
    /// for a table, and its own examples (ArcGIS REST JS `applyEdits`) send attribute-only
    /// `updates` that leave the shape alone; that an explicit `null` clears the shape is not
    /// spelled out in the applyEdits / updateFeatures reference
    /// (<https://developers.arcgis.com/rest/services-reference/enterprise/update-features>,
    /// <https://developers.arcgis.com/rest/services-reference/enterprise/apply-edits-feature-service-layer>)
    /// and is UNCONFIRMED against a live service. Reading never produces this variant: a
    /// query's `"geometry": null` and a missing key both read as [`Feature::geometry`] `None`.
    Null,
    /// Any other geometry (polyline `paths`, polygon `rings`, envelopes…), untouched.
    Other(Value),
}

impl Geometry {
    /// A lon/lat point in wkid 4326.
    pub fn point(lon: f64, lat: f64) -> Self {
        Geometry::Point {
            x: lon,
            y: lat,
            spatial_reference: Some(SpatialReference::wgs84()),
        }
    }

    /// A lon/lat multipoint in wkid 4326 from `(lon, lat)` pairs.
    pub fn multipoint(points: impl IntoIterator<Item = (f64, f64)>) -> Self {
        Geometry::Multipoint {
            points: points.into_iter().map(|(x, y)| [x, y]).collect(),
            spatial_reference: Some(SpatialReference::wgs84()),
        }
    }

    /// Whether this is the explicit [`Geometry::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Geometry::Null)
    }
}

/// A feature (or a table row, which has no geometry).
///
/// Its `geometry` has three states on the wire:
///
/// | `geometry`                | JSON sent                  | in an update           |
/// |---------------------------|----------------------------|------------------------|
/// | `None`                    | no `geometry` key          | the stored shape stays |
/// | `Some(Geometry::Null)`    | `"geometry": null`         | the stored shape goes  |
/// | `Some(shape)`             | `"geometry": {...}`        | the shape is replaced  |
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Feature {
    /// Field name → value. Dates are epoch milliseconds (see [`epoch_millis`]).
    #[serde(default)]
    pub attributes: Map<String, Value>,
    /// The shape; `None` for table rows and features without a location (and for whatever a
    /// query returns without a shape); `Some(Geometry::Null)` to clear the shape in an update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geometry: Option<Geometry>,
}

impl Feature {
    /// A feature with these attributes and no geometry (a table row).
    pub fn new(attributes: Map<String, Value>) -> Self {
        Feature {
            attributes,
            geometry: None,
        }
    }

    /// The same feature with a geometry.
    pub fn with_geometry(mut self, geometry: Geometry) -> Self {
        self.geometry = Some(geometry);
        self
    }

    /// The same feature sending `"geometry": null`: in an update, this removes the stored shape
    /// (a record whose address was emptied), which a feature without a geometry would keep.
    pub fn with_null_geometry(mut self) -> Self {
        self.geometry = Some(Geometry::Null);
        self
    }

    /// The shape this feature really has: `None` for no geometry and for [`Geometry::Null`].
    pub fn shape(&self) -> Option<&Geometry> {
        self.geometry.as_ref().filter(|g| !g.is_null())
    }

    /// The integer value of an attribute (e.g. the object id field), if it holds one.
    pub fn integer(&self, field: &str) -> Option<i64> {
        self.attributes.get(field).and_then(Value::as_i64)
    }
}

/// Converts a date-time to what `esriFieldTypeDate` stores: milliseconds since the Unix epoch, UTC.
pub fn epoch_millis<Tz: TimeZone>(at: &DateTime<Tz>) -> i64 {
    at.timestamp_millis()
}

/// Reads an `esriFieldTypeDate` value (epoch milliseconds) back; `None` when out of range.
pub fn from_epoch_millis(millis: i64) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp_millis(millis)
}

/// A portal item (`/sharing/rest/content/items/{id}`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Item {
    /// The item id.
    pub id: String,
    /// e.g. `Feature Service`.
    #[serde(rename = "type", default)]
    pub item_type: String,
    /// The item's title.
    #[serde(default)]
    pub title: String,
    /// The service root (`.../FeatureServer`) for service items.
    #[serde(default)]
    pub url: Option<String>,
}

/// A layer or table as listed by the service root.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LayerRef {
    /// The REST layer id (the number in `.../FeatureServer/{id}`).
    pub id: u32,
    /// The layer's name.
    #[serde(default)]
    pub name: String,
}

/// The service root (`{serviceUrl}?f=json`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ServiceInfo {
    /// Layers, in the order the service lists them (the original's `item.layers`).
    #[serde(default)]
    pub layers: Vec<LayerRef>,
    /// Tables, in the order the service lists them (the original's `item.tables`).
    #[serde(default)]
    pub tables: Vec<LayerRef>,
    /// Comma-separated capabilities, e.g. `Create,Delete,Query,Update,Editing`.
    #[serde(default)]
    pub capabilities: Option<String>,
}

/// A field of a layer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Field {
    /// The field name (what attributes are keyed by).
    pub name: String,
    /// e.g. `esriFieldTypeString`, `esriFieldTypeDate`, `esriFieldTypeOID`.
    #[serde(rename = "type")]
    pub field_type: String,
    /// The display alias.
    #[serde(default)]
    pub alias: Option<String>,
    /// Maximum length of string fields.
    #[serde(default)]
    pub length: Option<u32>,
}

/// Query-related flags of a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub struct AdvancedQueryCapabilities {
    /// Whether `resultOffset`/`resultRecordCount` are honoured.
    #[serde(rename = "supportsPagination", default)]
    pub supports_pagination: bool,
}

/// A layer or table (`{layerUrl}?f=json`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LayerInfo {
    /// The REST layer id.
    pub id: u32,
    /// The layer's name.
    #[serde(default)]
    pub name: String,
    /// `Feature Layer` or `Table`.
    #[serde(rename = "type", default)]
    pub layer_type: Option<String>,
    /// e.g. `esriGeometryPoint`; absent for tables.
    #[serde(rename = "geometryType", default)]
    pub geometry_type: Option<String>,
    /// The object id field (usually `OBJECTID`).
    #[serde(rename = "objectIdField", default)]
    pub object_id_field: Option<String>,
    /// The most features one query page returns.
    #[serde(rename = "maxRecordCount", default)]
    pub max_record_count: Option<u32>,
    /// Whether the admin `truncate` operation is allowed on this layer.
    #[serde(rename = "supportsTruncate", default)]
    pub supports_truncate: bool,
    /// Comma-separated capabilities.
    #[serde(default)]
    pub capabilities: Option<String>,
    /// Query flags.
    #[serde(rename = "advancedQueryCapabilities", default)]
    pub advanced_query_capabilities: AdvancedQueryCapabilities,
    /// The fields.
    #[serde(default)]
    pub fields: Vec<Field>,
}

impl LayerInfo {
    /// Whether `capabilities` lists this one (case-insensitive).
    pub fn has_capability(&self, name: &str) -> bool {
        self.capabilities
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .any(|c| c.trim().eq_ignore_ascii_case(name))
    }

    /// The object id field, from `objectIdField` or the field of type `esriFieldTypeOID`.
    pub fn object_id_field(&self) -> Option<&str> {
        self.object_id_field.as_deref().or_else(|| {
            self.fields
                .iter()
                .find(|f| f.field_type == "esriFieldTypeOID")
                .map(|f| f.name.as_str())
        })
    }
}

/// The per-feature error of an edit result. Note `description`, not `message`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EditResultError {
    /// Often a database code, e.g. 1000.
    #[serde(default)]
    pub code: Option<i64>,
    /// What went wrong.
    #[serde(default)]
    pub description: String,
}

/// One entry of `addResults`/`updateResults`/`deleteResults`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EditResult {
    /// The object id (missing or -1 on failed adds).
    #[serde(rename = "objectId", default)]
    pub object_id: Option<i64>,
    /// The global id, if the layer has one.
    #[serde(rename = "globalId", default)]
    pub global_id: Option<String>,
    /// Whether this edit was applied.
    #[serde(default)]
    pub success: bool,
    /// Why not.
    #[serde(default)]
    pub error: Option<EditResultError>,
}

/// The three result lists of an edit call, all parsed.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct EditResults {
    /// One per add sent.
    #[serde(rename = "addResults", default)]
    pub add_results: Vec<EditResult>,
    /// One per update sent.
    #[serde(rename = "updateResults", default)]
    pub update_results: Vec<EditResult>,
    /// One per delete sent (a where-based delete may list none).
    #[serde(rename = "deleteResults", default)]
    pub delete_results: Vec<EditResult>,
}

impl EditResults {
    pub(crate) fn extend(&mut self, other: EditResults) {
        self.add_results.extend(other.add_results);
        self.update_results.extend(other.update_results);
        self.delete_results.extend(other.delete_results);
    }

    /// Only the results that succeeded (what a batch applied when it was not rolled back).
    pub(crate) fn successes(self) -> EditResults {
        let keep = |list: Vec<EditResult>| list.into_iter().filter(|r| r.success).collect();
        EditResults {
            add_results: keep(self.add_results),
            update_results: keep(self.update_results),
            delete_results: keep(self.delete_results),
        }
    }

    /// The object ids the adds were given, in order.
    pub fn added_object_ids(&self) -> Vec<i64> {
        self.add_results
            .iter()
            .filter_map(|r| r.object_id)
            .collect()
    }
}

/// The edits of one `applyEdits` call. [`Edits::default`] is empty with `rollback_on_failure`
/// on, as hosted feature services default it.
#[derive(Debug, Clone, PartialEq)]
pub struct Edits {
    /// Features to add (not idempotent: never re-sent after an unknown outcome).
    pub adds: Vec<Feature>,
    /// Features to update; each carries its object id in `attributes`.
    pub updates: Vec<Feature>,
    /// Object ids to delete.
    pub deletes: Vec<i64>,
    /// All-or-nothing when true (the hosted default, and [`Edits::default`]'s); the original
    /// used false.
    pub rollback_on_failure: bool,
}

impl Default for Edits {
    /// No edits, `rollback_on_failure: true`: ArcGIS Online's own default for applyEdits
    /// (<https://developers.arcgis.com/rest/services-reference/enterprise/apply-edits-feature-service/>).
    fn default() -> Self {
        Self {
            adds: Vec::new(),
            updates: Vec::new(),
            deletes: Vec::new(),
            rollback_on_failure: true,
        }
    }
}

/// What [`Layer::truncate`](crate::Layer::truncate) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TruncateOutcome {
    /// The admin `truncate` ran (object ids restart at 1).
    Truncated,
    /// The layer does not support truncate, so `deleteFeatures where=1=1` ran instead.
    DeletedAll,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;
    use serde_json::json;

    #[test]
    fn point_and_multipoint_serialise_with_wkid_4326() {
        let p = serde_json::to_value(Geometry::point(-97.74, 30.27)).unwrap();
        assert_eq!(
            p,
            json!({"x": -97.74, "y": 30.27, "spatialReference": {"wkid": 4326}})
        );
        let m = serde_json::to_value(Geometry::multipoint([(1.0, 2.0), (3.0, 4.0)])).unwrap();
        assert_eq!(
            m,
            json!({"points": [[1.0, 2.0], [3.0, 4.0]], "spatialReference": {"wkid": 4326}})
        );
        let back: Geometry = serde_json::from_value(m).unwrap();
        assert!(matches!(back, Geometry::Multipoint { ref points, .. } if points.len() == 2));
        let line: Geometry = serde_json::from_value(json!({"paths": [[[0, 0], [1, 1]]]})).unwrap();
        assert!(matches!(line, Geometry::Other(_)));
    }

    #[test]
    fn table_rows_omit_geometry() {
        let mut a = Map::new();
        a.insert("id".into(), json!("x"));
        let v = serde_json::to_value(Feature::new(a)).unwrap();
        assert_eq!(v, json!({"attributes": {"id": "x"}}));
    }

    #[test]
    fn geometry_has_three_wire_states() {
        let mut a = Map::new();
        a.insert("OBJECTID".into(), json!(7));
        let absent = Feature::new(a);
        let cleared = absent.clone().with_null_geometry();
        let set = absent.clone().with_geometry(Geometry::point(-97.7, 30.3));
        assert_eq!(
            serde_json::to_string(&absent).unwrap(),
            r#"{"attributes":{"OBJECTID":7}}"#
        );
        assert_eq!(
            serde_json::to_string(&cleared).unwrap(),
            r#"{"attributes":{"OBJECTID":7},"geometry":null}"#
        );
        assert_eq!(
            serde_json::to_value(&set).unwrap()["geometry"],
            json!({"x": -97.7, "y": 30.3, "spatialReference": {"wkid": 4326}})
        );
        assert_eq!(cleared.shape(), None);
        assert_eq!(set.shape(), Some(&Geometry::point(-97.7, 30.3)));
        assert!(cleared.geometry.as_ref().is_some_and(Geometry::is_null));
    }

    #[test]
    fn query_results_read_null_and_missing_geometry_as_none() {
        for text in [
            r#"{"attributes":{"id":"a"},"geometry":null}"#,
            r#"{"attributes":{"id":"a"}}"#,
        ] {
            let f: Feature = serde_json::from_str(text).unwrap();
            assert_eq!(f.geometry, None, "{text}");
        }
        let f: Feature =
            serde_json::from_str(r#"{"attributes":{},"geometry":{"x":1.5,"y":2.5}}"#).unwrap();
        assert!(matches!(f.geometry, Some(Geometry::Point { x, .. }) if x == 1.5));
        // A bare null geometry is the explicit variant, not a raw `Other(null)`.
        assert_eq!(
            serde_json::from_value::<Geometry>(Value::Null).unwrap(),
            Geometry::Null
        );
    }

    #[test]
    fn dates_are_utc_epoch_millis_whatever_the_offset() {
        // 2019-09-11T16:14:00-05:00, the original's ISO form of a Central time value.
        let local = FixedOffset::west_opt(5 * 3600)
            .unwrap()
            .with_ymd_and_hms(2019, 9, 11, 16, 14, 0)
            .unwrap();
        let ms = epoch_millis(&local);
        assert_eq!(ms, 1_568_236_440_000);
        assert_eq!(from_epoch_millis(ms).unwrap(), local.with_timezone(&Utc));
    }
}
