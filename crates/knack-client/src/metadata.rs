//! Application metadata: objects, fields, scenes, views and settings.
//!
//! Knack adds keys to this document often and is not consistent about types
//! (`"precision": "2"` here, `0` there), so every struct ignores unknown keys,
//! every key is optional, and a value of an unexpected shape falls back to its
//! default instead of failing the whole document. [`Metadata::raw`] keeps
//! everything Knack sent for what the typed model leaves out.

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use crate::lenient::{lenient, lenient_bool, lenient_string, lenient_vec};
use crate::{Container, Error, FieldType};

/// An application's metadata, as `GET /applications/{app_id}` returns it.
#[derive(Clone)]
pub struct Metadata {
    raw: Value,
    app: Application,
    objects: HashMap<String, usize>,
    fields: HashMap<String, (usize, usize)>,
    scenes: HashMap<String, usize>,
    views: HashMap<String, (usize, usize)>,
}

/// The application: the `application` member of the metadata.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Application {
    /// The application id (24 hex characters).
    #[serde(deserialize_with = "lenient_string")]
    pub id: String,
    /// The application name.
    #[serde(deserialize_with = "lenient_string")]
    pub name: String,
    /// The application slug, as in its live-app URL.
    #[serde(deserialize_with = "lenient_string")]
    pub slug: String,
    /// The account that owns the app.
    #[serde(deserialize_with = "lenient")]
    pub account: Account,
    /// App-wide settings, the timezone among them.
    #[serde(deserialize_with = "lenient")]
    pub settings: Settings,
    /// The objects (tables), in builder order.
    #[serde(deserialize_with = "lenient_vec")]
    pub objects: Vec<Object>,
    /// The scenes (pages), in builder order.
    #[serde(deserialize_with = "lenient_vec")]
    pub scenes: Vec<Scene>,
}

/// The account that owns an application.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Account {
    /// The account id.
    #[serde(deserialize_with = "lenient_string")]
    pub id: String,
    /// The account slug; HIPAA apps are served from `https://{slug}-api.knack.com`.
    #[serde(deserialize_with = "lenient_string")]
    pub slug: String,
    /// The account name.
    #[serde(deserialize_with = "lenient_string")]
    pub name: String,
}

/// App-wide settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Settings {
    /// The timezone as Knack names it, such as "Central Time (US & Canada)".
    #[serde(deserialize_with = "lenient_string")]
    pub timezone: String,
    /// The standard UTC offset in seconds, as Knack sends it (e.g. `"-21600"`).
    #[serde(deserialize_with = "lenient_string")]
    pub timezone_offset: String,
    /// The DST shift in seconds, as Knack sends it (e.g. `"3600"`).
    #[serde(deserialize_with = "lenient_string")]
    pub timezone_dst: String,
}

/// An object: a table of records.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Object {
    /// The object key, `object_N`.
    #[serde(deserialize_with = "lenient_string")]
    pub key: String,
    /// The object name.
    #[serde(deserialize_with = "lenient_string")]
    pub name: String,
    /// The key of the field that identifies a record in connections, if set.
    #[serde(deserialize_with = "lenient")]
    pub identifier: Option<String>,
    /// The fields, in builder order.
    #[serde(deserialize_with = "lenient_vec")]
    pub fields: Vec<Field>,
}

/// A field of an object.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Field {
    /// The field key, `field_N`.
    #[serde(deserialize_with = "lenient_string")]
    pub key: String,
    /// The field name as set in the builder (see [`Field::label`]).
    #[serde(deserialize_with = "lenient_string")]
    pub name: String,
    /// The field type.
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// Whether a value is required.
    #[serde(deserialize_with = "lenient_bool")]
    pub required: bool,
    /// Whether values must be unique.
    #[serde(deserialize_with = "lenient_bool")]
    pub unique: bool,
    /// Type-specific display settings (date format, choices, precision...),
    /// as Knack sent them: their shape differs by type and by Knack version.
    pub format: Value,
    /// For a connection field, the object it links to and how.
    #[serde(deserialize_with = "lenient")]
    pub relationship: Option<Relationship>,
    /// The key of the object that holds the field (filled in from the
    /// enclosing object, since Knack does not always send `object_key`).
    #[serde(rename = "object_key", deserialize_with = "lenient_string")]
    pub object: String,
}

impl Default for Field {
    fn default() -> Self {
        Self {
            key: String::new(),
            name: String::new(),
            field_type: FieldType::Unknown(String::new()),
            required: false,
            unique: false,
            format: Value::Null,
            relationship: None,
            object: String::new(),
        }
    }
}

impl Field {
    /// The label a formatted record uses for this field: its name, except that
    /// a name of exactly `id` becomes `_id`, so that it cannot overwrite the
    /// record id (knackpy's `valid_name`; only lowercase `id` is renamed).
    pub fn label(&self) -> &str {
        if self.name == "id" {
            "_id"
        } else {
            &self.name
        }
    }
}

/// How a connection field links to another object.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Relationship {
    /// The connected object's key.
    #[serde(deserialize_with = "lenient_string")]
    pub object: String,
    /// `"one"` or `"many"`: how many connected records one record has.
    #[serde(deserialize_with = "lenient_string")]
    pub has: String,
    /// `"one"` or `"many"`: how many records one connected record belongs to.
    #[serde(deserialize_with = "lenient_string")]
    pub belongs_to: String,
}

/// A scene: a page of the live app, holding views.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Scene {
    /// The scene key, `scene_N`.
    #[serde(deserialize_with = "lenient_string")]
    pub key: String,
    /// The scene name.
    #[serde(deserialize_with = "lenient_string")]
    pub name: String,
    /// The scene slug in the live app's URLs.
    #[serde(deserialize_with = "lenient_string")]
    pub slug: String,
    /// The views on the page.
    #[serde(deserialize_with = "lenient_vec")]
    pub views: Vec<View>,
}

/// A view: a component of a scene (table, form, details...).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct View {
    /// The view key, `view_N`.
    #[serde(deserialize_with = "lenient_string")]
    pub key: String,
    /// The view name.
    #[serde(deserialize_with = "lenient_string")]
    pub name: String,
    /// The view type as Knack names it: `"table"`, `"form"`, `"details"`, `"list"`...
    #[serde(rename = "type", deserialize_with = "lenient_string")]
    pub view_type: String,
    /// Where the view's records come from.
    #[serde(deserialize_with = "lenient")]
    pub source: Option<ViewSource>,
    /// A table's columns (other view types lay out fields differently).
    #[serde(deserialize_with = "lenient_vec")]
    pub columns: Vec<Column>,
}

impl View {
    /// Whether this is a table view, the only kind whose fields knackpy (and
    /// so the formatter) knows: they are its columns.
    pub fn is_table(&self) -> bool {
        self.view_type == "table"
    }

    /// The object the view's records come from, if it names one.
    pub fn source_object(&self) -> Option<&str> {
        self.source
            .as_ref()
            .map(|s| s.object.as_str())
            .filter(|o| !o.is_empty())
    }

    /// The keys of the fields shown as columns, in column order (link and
    /// action columns, which show no field, are skipped).
    pub fn column_field_keys(&self) -> impl Iterator<Item = &str> {
        self.columns
            .iter()
            .filter_map(|c| c.field.as_ref())
            .map(|f| f.key.as_str())
            .filter(|k| !k.is_empty())
    }
}

/// The source of a view's records.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ViewSource {
    /// The object key.
    #[serde(deserialize_with = "lenient_string")]
    pub object: String,
}

/// A column of a table view.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Column {
    /// The column header shown in the live app (knackpy ignores it: labels
    /// come from the object's field names).
    #[serde(deserialize_with = "lenient_string")]
    pub header: String,
    /// `"field"` for a field column; `"link"`, `"delete"`... for others.
    #[serde(rename = "type", deserialize_with = "lenient_string")]
    pub column_type: String,
    /// The field shown, for a field column.
    #[serde(deserialize_with = "lenient")]
    pub field: Option<ColumnField>,
}

/// The field a column shows.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ColumnField {
    /// The field key.
    #[serde(deserialize_with = "lenient_string")]
    pub key: String,
}

impl Metadata {
    /// Parses the metadata response (`{"application": {...}}`).
    ///
    /// # Errors
    /// [`Error::Metadata`] when the JSON is not an application's metadata.
    pub fn from_json(raw: Value) -> crate::Result<Self> {
        let Some(app_json) = raw.get("application").filter(|a| a.is_object()) else {
            return Err(Error::Metadata(
                "no `application` object in the metadata: pass the whole body of GET /v1/applications/{app_id}"
                    .into(),
            ));
        };
        let mut app = Application::deserialize(app_json)
            .map_err(|e| Error::Metadata(format!("unreadable application: {e}")))?;
        let mut objects = HashMap::new();
        let mut fields = HashMap::new();
        for (oi, object) in app.objects.iter_mut().enumerate() {
            objects.entry(object.key.clone()).or_insert(oi);
            for (fi, field) in object.fields.iter_mut().enumerate() {
                field.object.clone_from(&object.key);
                fields.entry(field.key.clone()).or_insert((oi, fi));
            }
        }
        let mut scenes = HashMap::new();
        let mut views = HashMap::new();
        for (si, scene) in app.scenes.iter().enumerate() {
            scenes.entry(scene.key.clone()).or_insert(si);
            for (vi, view) in scene.views.iter().enumerate() {
                views.entry(view.key.clone()).or_insert((si, vi));
            }
        }
        Ok(Self {
            raw,
            app,
            objects,
            fields,
            scenes,
            views,
        })
    }

    /// The metadata exactly as Knack returned it.
    pub fn raw(&self) -> &Value {
        &self.raw
    }

    /// The typed application.
    pub fn application(&self) -> &Application {
        &self.app
    }

    /// The app's timezone as an IANA zone (see [`crate::parse_timezone`]).
    ///
    /// # Errors
    /// [`Error::UnknownTimezone`] for a Knack timezone name with no known IANA
    /// zone, [`Error::Metadata`] when the settings name no timezone.
    pub fn timezone(&self) -> crate::Result<chrono_tz::Tz> {
        let name = &self.app.settings.timezone;
        if name.trim().is_empty() {
            return Err(Error::Metadata(format!(
                "app {} has no settings.timezone: Knack always sends one, so re-fetch the metadata",
                self.describe()
            )));
        }
        crate::parse_timezone(name)
    }

    /// An object by key.
    pub fn object(&self, key: &str) -> Option<&Object> {
        self.objects.get(key).map(|&i| &self.app.objects[i])
    }

    /// A field by key (field keys are unique across the app).
    pub fn field(&self, key: &str) -> Option<&Field> {
        self.fields
            .get(key)
            .map(|&(o, f)| &self.app.objects[o].fields[f])
    }

    /// A scene by key.
    pub fn scene(&self, key: &str) -> Option<&Scene> {
        self.scenes.get(key).map(|&i| &self.app.scenes[i])
    }

    /// A view by scene and view key; `None` if the view is not in that scene.
    pub fn view(&self, scene: &str, view: &str) -> Option<&View> {
        self.scene(scene)?.views.iter().find(|v| v.key == view)
    }

    /// A view by its key alone (view keys are unique across the app).
    pub fn view_by_key(&self, view: &str) -> Option<&View> {
        self.views
            .get(view)
            .map(|&(s, v)| &self.app.scenes[s].views[v])
    }

    /// The fields a container's records carry, in the order knackpy formats
    /// them: metadata order (objects, then their fields).
    ///
    /// For an object, its fields. For a table view, every field shown in one
    /// of its columns (labels remain the object field names, as in knackpy).
    ///
    /// # Errors
    /// [`Error::Metadata`] when the container is not in this app, is a view
    /// other than a table (knackpy knows no fields for those and formats their
    /// records to `{}`), or is a table view with no field column (its records would
    /// format to their id alone, which is never what was meant).
    pub fn fields_of(&self, container: &Container) -> crate::Result<Vec<&Field>> {
        match container {
            Container::Object { object } => self
                .object(object)
                .map(|o| o.fields.iter().collect())
                .ok_or_else(|| self.not_found(container)),
            Container::View { scene, view } => {
                let v = self
                    .view(scene, view)
                    .ok_or_else(|| self.not_found(container))?;
                if !v.is_table() {
                    return Err(Error::Metadata(format!(
                        "{container} of app {} is a {:?} view: only table views list their fields \
                         (as columns); read a table view or the object ({}) instead",
                        self.describe(),
                        v.view_type,
                        v.source_object().unwrap_or("its source object"),
                    )));
                }
                let shown: std::collections::HashSet<&str> = v.column_field_keys().collect();
                if shown.is_empty() {
                    return Err(Error::Metadata(format!(
                        "{container} of app {} shows no field column: its records would format \
                         to their id alone; add columns to the view, or read its object ({})",
                        self.describe(),
                        v.source_object().unwrap_or("its source object"),
                    )));
                }
                Ok(self
                    .app
                    .objects
                    .iter()
                    .flat_map(|o| &o.fields)
                    .filter(|f| shown.contains(f.key.as_str()))
                    .collect())
            }
        }
    }

    /// The key (`field_N`) of the field labelled `label` in `container`, for filter rules,
    /// which Knack takes by key only: `Rule::new(metadata.field_key(&c, "Signal Type")?, ..)`.
    /// Labels are compared as they are; Knack keeps them unique within an object.
    ///
    /// # Errors
    /// As [`Metadata::fields_of`], and [`Error::Metadata`] listing the labels there are when
    /// none is `label`.
    pub fn field_key(&self, container: &Container, label: &str) -> crate::Result<&str> {
        let fields = self.fields_of(container)?;
        if let Some(field) = fields.iter().find(|f| f.label() == label) {
            return Ok(field.key.as_str());
        }
        let labels: Vec<&str> = fields.iter().map(|f| f.label()).collect();
        Err(Error::Metadata(format!(
            "{container} of app {} has no field labelled {label:?}; its labels: {}",
            self.describe(),
            labels.join(", ")
        )))
    }

    fn not_found(&self, container: &Container) -> Error {
        Error::Metadata(format!(
            "container {container} not found in app {}: check the container (and scene) key, \
             or re-fetch the metadata if it was added recently",
            self.describe()
        ))
    }

    /// "Name (id)", for messages.
    pub(crate) fn describe(&self) -> String {
        format!("{:?} ({})", self.app.name, self.app.id)
    }
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metadata")
            .field("id", &self.app.id)
            .field("name", &self.app.name)
            .field("objects", &self.app.objects.len())
            .field("scenes", &self.app.scenes.len())
            .finish_non_exhaustive()
    }
}
