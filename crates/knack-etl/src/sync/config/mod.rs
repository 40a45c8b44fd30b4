//! The config of an app's containers, as the original's `services/config/knack.py` gave it (the
//! seed README's "Container properties"): what each key means, the checks of its values
//! (`problems.rs`), what it becomes for a run (`plans.rs`: targets, [`SyncPlan`](super::SyncPlan)s,
//! Knack copies) and its check against Knack and the destinations (`check.rs`).
//!
//! The model is serde data, so any format carries it (`aks` embeds it in its TOML file); every
//! table denies unknown keys, so a typo fails instead of being silently ignored. A message names
//! its place by the model's key path, as a config file shows it: `[apps.<app>.containers.<id>]`.
//! Where a value may also come from elsewhere (an app id from the environment), the caller says
//! what to use.
//!
//! ```
//! use knack_etl::sync::config::AppConfig;
//!
//! let app: AppConfig = serde_json::from_value(serde_json::json!({
//!     "containers": { "view_197": {
//!         "scene_id": "scene_73",
//!         "modified_date_field_id": "field_205",
//!         "socrata_resource_id": "p53x-x73x"
//!     }}
//! })).unwrap();
//! assert!(knack_etl::sync::config::app_problems("data-tracker", &app).is_empty());
//! let target = app.socrata_target("data-tracker", "view_197").unwrap();
//! assert_eq!(target.resource_id, "p53x-x73x");
//! ```

mod check;
mod plans;
mod problems;

use std::collections::BTreeMap;
use std::fmt;

use agol_client::LayerSelector;
use serde::Deserialize;

use crate::knack_copy::{FieldMap, FieldMapping};

pub use check::{check_config, CheckClients, CheckError};
pub use plans::{plan, shared_lines, OUTSIDE_PUBLISHERS};
pub use problems::{app_problems, destination_problems};

/// The apps of a config by their name (the original's invented names, such as `data-tracker`).
pub type Apps = BTreeMap<String, AppConfig>;

/// One Knack app.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// The Knack application id; when absent, the caller supplies it (`aks`: `KNACK_APP_ID`).
    pub app_id: Option<String>,
    /// Containers (`object_N` / `view_N`) processed for this app.
    #[serde(default)]
    pub containers: BTreeMap<String, ContainerConfig>,
}

/// The keys of one container, as in the seed README's "Container properties".
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerConfig {
    /// The scene holding the view; required for views, refused for objects.
    pub scene_id: Option<String>,
    /// The Knack field (`field_N`) holding each record's modification time; required.
    pub modified_date_field_id: Option<String>,
    /// Free text, for whoever reads the file; accepted so that unknown keys stay errors.
    pub description: Option<String>,
    /// Destination Socrata dataset (`abcd-1234`).
    pub socrata_resource_id: Option<String>,
    /// Knack address fields turned into a Socrata location/point or an AGOL geometry.
    #[serde(default)]
    pub location_fields: Vec<String>,
    /// Destination AGOL item id.
    pub service_id: Option<String>,
    /// Index into the item's layers or tables list (see `item_type`), not the REST layer id.
    pub layer_id: Option<u32>,
    /// AGOL attribute that uniquely identifies a record.
    pub upsert_matching_field: Option<String>,
    /// Whether `layer_id` indexes the item's layers or its tables.
    pub item_type: Option<ItemType>,
    /// Most features per ArcGIS `applyEdits` call (default
    /// [`AgolTarget::DEFAULT_BATCH_SIZE`](crate::agol::AgolTarget::DEFAULT_BATCH_SIZE); the
    /// layer's `maxRecordCount` caps it). At least 1.
    pub agol_batch_size: Option<u32>,
    /// ArcGIS `applyEdits` batches sent at once (default
    /// [`AgolTarget::DEFAULT_IN_FLIGHT`](crate::agol::AgolTarget::DEFAULT_IN_FLIGHT)), 1 to
    /// [`AgolTarget::MAX_IN_FLIGHT`](crate::agol::AgolTarget::MAX_IN_FLIGHT).
    pub agol_in_flight: Option<u32>,
    /// Refuse a Socrata full replace (a run without a start date).
    #[serde(default)]
    pub no_replace_socrata: bool,
    /// Add one run timestamp column to every Socrata row.
    pub append_timestamps_socrata: Option<AppendTimestamp>,
    /// Other Knack apps this container's records are copied into, by destination app name.
    #[serde(default)]
    pub knack_destinations: BTreeMap<String, KnackDestinationConfig>,
}

/// Which list of an AGOL item `layer_id` indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemType {
    /// `item.layers[layer_id]`.
    Layer,
    /// `item.tables[layer_id]`.
    Table,
}

/// `append_timestamps_socrata = { key = "published_date" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppendTimestamp {
    /// The Socrata column that receives the run's local timestamp.
    pub key: String,
}

/// One destination app of a container, `[apps.A.containers.C.knack_destinations.<dest app>]`:
/// the original's `records_to_knack` field map.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnackDestinationConfig {
    /// The destination container whose staged rows are compared (`view_N` / `object_N`).
    pub container: String,
    /// The destination object written through the Knack API (`object_N`).
    pub object: String,
    /// Free text, for whoever reads the file; accepted so that unknown keys stay errors.
    pub description: Option<String>,
    /// The field map: source key → destination field, one entry per field.
    pub fields: Vec<FieldMapping>,
}

impl ItemType {
    /// The agol-client selector for entry `layer_id` of this list.
    pub fn selector(self, layer_id: u32) -> LayerSelector {
        let index = layer_id as usize;
        match self {
            ItemType::Layer => LayerSelector::LayerIndex(index),
            ItemType::Table => LayerSelector::TableIndex(index),
        }
    }
}

impl fmt::Display for ItemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ItemType::Layer => "layer",
            ItemType::Table => "table",
        })
    }
}

impl ContainerConfig {
    /// `upsert_matching_field`, else `id` (the Knack record id every feature carries).
    pub fn matching_field(&self) -> &str {
        self.upsert_matching_field.as_deref().unwrap_or("id")
    }
}

impl KnackDestinationConfig {
    /// The checked field map.
    ///
    /// # Errors
    /// Every problem of the map, one sentence each (also among [`destination_problems`]).
    pub fn field_map(&self) -> Result<FieldMap, Vec<String>> {
        FieldMap::new(self.fields.clone())
            .map_err(|problems| problems.into_iter().map(|p| p.0).collect())
    }
}

/// `[apps.<app>.containers.<id>]`, as messages name a container.
pub fn container_at(app: &str, id: &str) -> String {
    format!("[apps.{app}.containers.{id}]")
}

#[cfg(test)]
mod tests;
