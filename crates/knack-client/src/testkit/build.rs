//! Builders for what a fake Knack app holds: its metadata ([`AppMetadata`], [`ObjectSpec`]) and
//! its records ([`RecordBuilder`]), in the shapes Knack answers (so a test does not hand-write
//! sixty lines of JSON). The shapes follow knackpy's recorded answers, `tests/_metadata.json` and
//! `tests/_all_fields.json` (github.com/cityofaustin/knackpy).

use chrono::NaiveDateTime;
use serde_json::{json, Map, Value};

use crate::FieldType;

/// An application's metadata, as `GET /v1/applications/{app_id}` answers it
/// (`{"application": {...}}`): objects with their fields, scenes with their views.
///
/// ```
/// use knack_client::testkit::{AppMetadata, ObjectSpec};
/// use knack_client::FieldType;
///
/// let metadata = AppMetadata::new("5f0000000000000000000001")
///     .timezone("Central Time (US & Canada)")
///     .object(
///         ObjectSpec::new("object_1", "Signal")
///             .field("field_1", "Signal ID", FieldType::ShortText)
///             .field("field_2", "Lanes", FieldType::Number),
///     )
///     .view("scene_1", "view_1", "object_1", &["field_1", "field_2"])
///     .to_json();
/// assert_eq!(metadata["application"]["objects"][0]["fields"][1]["type"], "number");
/// ```
#[derive(Debug, Clone)]
pub struct AppMetadata {
    app_id: String,
    timezone: String,
    objects: Vec<ObjectSpec>,
    /// `(scene key, view key, object key, column field keys)`.
    views: Vec<(String, String, String, Vec<String>)>,
}

impl AppMetadata {
    /// Metadata of app `app_id`, in Knack's `"UTC"` time zone, with no objects yet.
    pub fn new(app_id: impl Into<String>) -> Self {
        Self {
            app_id: app_id.into(),
            timezone: "UTC".into(),
            objects: Vec::new(),
            views: Vec::new(),
        }
    }

    /// The app's time zone as Knack names it in `settings.timezone` (a Rails name such as
    /// `"Central Time (US & Canada)"`, not an IANA one).
    pub fn timezone(mut self, knack_name: impl Into<String>) -> Self {
        self.timezone = knack_name.into();
        self
    }

    /// Adds an object and its fields.
    pub fn object(mut self, object: ObjectSpec) -> Self {
        self.objects.push(object);
        self
    }

    /// Adds table view `view` in scene `scene` (the scene is created on first use), showing
    /// `columns` (field keys of `object`) in that order.
    pub fn view(mut self, scene: &str, view: &str, object: &str, columns: &[&str]) -> Self {
        let columns = columns.iter().map(|c| c.to_string()).collect();
        self.views
            .push((scene.into(), view.into(), object.into(), columns));
        self
    }

    /// The JSON Knack answers, for [`FakeKnack::set_metadata`](super::FakeKnack::set_metadata).
    pub fn to_json(&self) -> Value {
        let objects: Vec<Value> = self.objects.iter().map(ObjectSpec::to_json).collect();
        let mut scenes: Vec<(String, Vec<Value>)> = Vec::new();
        for (scene, view, object, columns) in &self.views {
            let name = |key: &str| {
                self.objects
                    .iter()
                    .flat_map(|o| &o.fields)
                    .find(|f| f["key"] == key)
                    .map_or_else(|| json!(key), |f| f["name"].clone())
            };
            let columns: Vec<Value> = columns
                .iter()
                .map(|k| json!({"header": name(k), "type": "field", "field": {"key": k}}))
                .collect();
            let view = json!({"key": view, "name": view, "type": "table",
                              "source": {"object": object}, "columns": columns});
            match scenes.iter_mut().find(|(key, _)| key == scene) {
                Some((_, views)) => views.push(view),
                None => scenes.push((scene.clone(), vec![view])),
            }
        }
        let scenes: Vec<Value> = scenes
            .into_iter()
            .map(|(key, views)| json!({"key": key, "name": key, "slug": key, "views": views}))
            .collect();
        json!({"application": {
            "id": self.app_id,
            "name": "Fake app",
            "slug": "fake-app",
            "settings": {"timezone": self.timezone},
            "objects": objects,
            "scenes": scenes,
        }})
    }
}

/// One object of [`AppMetadata`]: its key (`object_N`), name and fields.
#[derive(Debug, Clone)]
pub struct ObjectSpec {
    key: String,
    name: String,
    fields: Vec<Value>,
}

impl ObjectSpec {
    /// Object `key` (`object_N`) named `name`, with no fields yet.
    pub fn new(key: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            name: name.into(),
            fields: Vec::new(),
        }
    }

    /// Adds field `key` (`field_N`) labelled `name`, with Knack's default format for its type.
    pub fn field(self, key: &str, name: &str, kind: FieldType) -> Self {
        self.field_with_format(key, name, kind, json!({}))
    }

    /// Adds a field with its `format` object, such as `{"date_format": "mm/dd/yyyy",
    /// "time_format": "h:mma"}` for a date_time or `{"type": "multi", "options": [...]}` for a
    /// multiple choice.
    pub fn field_with_format(
        mut self,
        key: &str,
        name: &str,
        kind: FieldType,
        format: Value,
    ) -> Self {
        self.fields.push(json!({
            "key": key, "name": name, "type": kind.as_str(), "required": false,
            "unique": false, "format": format, "object_key": self.key,
        }));
        self
    }

    fn to_json(&self) -> Value {
        let identifier = self
            .fields
            .first()
            .map_or(json!(null), |f| f["key"].clone());
        json!({"key": self.key, "name": self.name, "identifier": identifier,
               "fields": self.fields})
    }
}

/// One record in Knack's shape: `id`, and each field twice, `field_N` (Knack's display text)
/// and `field_N_raw` (the typed value).
///
/// ```
/// use knack_client::testkit::RecordBuilder;
///
/// let record = RecordBuilder::new("5d7964422d7159001659b27a")
///     .field("field_1", "SIG-1")
///     .field("field_2", 4)
///     .to_json();
/// assert_eq!(record["field_2"], "4");
/// assert_eq!(record["field_2_raw"], 4);
/// ```
#[derive(Debug, Clone)]
pub struct RecordBuilder {
    record: Map<String, Value>,
}

impl RecordBuilder {
    /// A record with id `id` (Knack's are 24 hex digits) and no fields yet.
    pub fn new(id: impl Into<String>) -> Self {
        let mut record = Map::new();
        record.insert("id".into(), Value::String(id.into()));
        Self { record }
    }

    /// Sets a plain field: `field_N_raw` is `raw`, `field_N` its text (a string as it is, a
    /// number or boolean written out, null as `""`), as Knack shows short text and numbers.
    pub fn field(self, key: &str, raw: impl Into<Value>) -> Self {
        let raw = raw.into();
        let display = match &raw {
            Value::String(s) => Value::String(s.clone()),
            Value::Null => Value::String(String::new()),
            other => Value::String(other.to_string()),
        };
        self.field_pair(key, display, raw)
    }

    /// Sets both forms of a field as given: for types whose display text is HTML or otherwise
    /// differs from the raw value (email, address, connection, ...).
    pub fn field_pair(
        mut self,
        key: &str,
        display: impl Into<Value>,
        raw: impl Into<Value>,
    ) -> Self {
        self.record.insert(key.into(), display.into());
        self.record.insert(format!("{key}_raw"), raw.into());
        self
    }

    /// Sets a date_time field to `local`, the app's wall time, in Knack's two forms: the display
    /// text (`03/27/2024 2:05pm`, or the date alone without `with_time`) and the raw object.
    /// Knack labels the local wall time as UTC (`unix_timestamp`, `iso_timestamp`), and so does
    /// this (knackpy's `utils.correct_knack_timestamp` explains the quirk).
    pub fn date_time(self, key: &str, local: NaiveDateTime, with_time: bool) -> Self {
        let date = local.format("%m/%d/%Y").to_string();
        let display = if with_time {
            local.format("%m/%d/%Y %-I:%M%P").to_string()
        } else {
            date.clone()
        };
        let raw = json!({
            "date": date,
            "date_formatted": date,
            "hours": local.format("%I").to_string(),
            "minutes": local.format("%M").to_string(),
            "am_pm": local.format("%p").to_string(),
            "unix_timestamp": local.and_utc().timestamp_millis(),
            "iso_timestamp": local.and_utc().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "timestamp": local.format("%m/%d/%Y %I:%M %P").to_string(),
            "time": local.format("%H").to_string().parse::<i64>().unwrap_or(0) * 60
                + local.format("%M").to_string().parse::<i64>().unwrap_or(0),
        });
        self.field_pair(key, display, raw)
    }

    /// The record's JSON, for [`FakeKnack::set_records`](super::FakeKnack::set_records).
    pub fn to_json(&self) -> Value {
        Value::Object(self.record.clone())
    }
}

impl From<RecordBuilder> for Value {
    fn from(builder: RecordBuilder) -> Self {
        Value::Object(builder.record)
    }
}
