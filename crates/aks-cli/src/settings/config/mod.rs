//! The TOML config file, replacing the original's `services/config/knack.py`.
//!
//! ```toml
//! [apps.data-tracker]
//! app_id = "5815f29f7f7252cc2ca91c4f"          # optional; else KNACK_APP_ID
//!
//! [apps.data-tracker.containers.view_197]
//! scene_id = "scene_73"
//! modified_date_field_id = "field_205"
//! socrata_resource_id = "p53x-x73x"
//! ```
//!
//! Every table denies unknown keys, so a typo fails with the key, the file and the line instead of
//! being silently ignored. After parsing, [`Config::problems`] checks the values (container ids,
//! field ids, which keys go together) and reports every problem at once.

pub(crate) mod endpoints;
mod services;
mod validate;

pub(crate) use validate::is_four_by_four;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use knack_etl::agol_client::LayerSelector;
use serde::Deserialize;

pub use endpoints::{
    ConfigUrl, Endpoints, EnvOverrides, KnackEndpoint, PortalEndpoint, PostgrestEndpoint, Service,
};
pub use services::{BackupConfig, KnackDestinationConfig};

/// The whole config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Knack apps by their invented name (`data-tracker`), the `-a` argument.
    #[serde(default)]
    pub apps: BTreeMap<String, AppConfig>,
    /// Knack API base URL.
    #[serde(default)]
    pub knack: KnackEndpoint,
    /// PostgREST endpoint of the staging store.
    #[serde(default)]
    pub postgrest: PostgrestEndpoint,
    /// Socrata portal root.
    #[serde(default)]
    pub socrata: PortalEndpoint,
    /// ArcGIS Online portal root.
    #[serde(default)]
    pub agol: PortalEndpoint,
    /// Per-environment endpoint overrides (`[env.dev]`, `[env.prod]`).
    #[serde(default)]
    pub env: EnvOverrides,
    /// `[backup]`: where `backup-socrata` writes and how many snapshots it keeps.
    #[serde(default)]
    pub backup: BackupConfig,
    /// The file this was read from, as given (`--config`, `AKS_CONFIG` or `knack.toml`): messages
    /// name it beside a value's table and key. Empty for a config built in code.
    #[serde(skip)]
    pub path: PathBuf,
}

/// One Knack app.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// The Knack application id; `KNACK_APP_ID` is used when absent.
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
    #[allow(dead_code)]
    pub description: Option<String>,
    /// Destination Socrata dataset (`abcd-1234`); required by `records-to-socrata`.
    pub socrata_resource_id: Option<String>,
    /// Knack address fields turned into a Socrata location/point or an AGOL geometry.
    #[serde(default)]
    pub location_fields: Vec<String>,
    /// Destination AGOL item id; required by `records-to-agol`.
    pub service_id: Option<String>,
    /// Index into the item's layers or tables list (see `item_type`), not the REST layer id.
    pub layer_id: Option<u32>,
    /// AGOL attribute that uniquely identifies a record.
    pub upsert_matching_field: Option<String>,
    /// Whether `layer_id` indexes the item's layers or its tables.
    pub item_type: Option<ItemType>,
    /// Refuse a Socrata full replace (a run without `--date`).
    #[serde(default)]
    pub no_replace_socrata: bool,
    /// Add one run timestamp column to every Socrata row.
    pub append_timestamps_socrata: Option<AppendTimestamp>,
    /// Other Knack apps this container's records are copied into (`records-to-knack --dest`),
    /// by destination app name.
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

/// Whether a container is read as an object or through a view in a scene.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerKind {
    /// `object_N`: read from `/objects/object_N/records`.
    Object,
    /// `view_N`: read from `/pages/{scene_id}/views/view_N/records`.
    View {
        /// The scene holding the view.
        scene_id: String,
    },
}

/// A container that passed validation: the keys every command needs are present.
#[derive(Debug, Clone)]
pub struct Container {
    /// The app name (`-a`).
    pub app_name: String,
    /// `object_N` or `view_N` (`-c`).
    pub id: String,
    /// Object or view (with its scene).
    pub kind: ContainerKind,
    /// The `field_N` holding the modification time.
    pub modified_date_field_id: String,
    /// All keys as written, for the optional ones.
    pub config: ContainerConfig,
}

/// Why a config file could not be used. Every variant is a usage/config error (exit 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}; pass --config PATH or set AKS_CONFIG")]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// TOML syntax, a wrong type or an unknown key; toml's message carries line and column.
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// toml's message, with the line, a snippet and the offending key.
        message: String,
    },
    /// Values that parse but are wrong; all of them, one per line.
    #[error("invalid config file {path}:\n  - {}", problems.join("\n  - "))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// One sentence per problem, each naming the app/container/key and the fix.
        problems: Vec<String>,
    },
    /// `-a` names an app the file does not have.
    #[error("unknown app `{app}` in {path}; known apps: {}", list(known))]
    UnknownApp {
        /// The file.
        path: PathBuf,
        /// The requested app.
        app: String,
        /// The apps the file defines.
        known: Vec<String>,
    },
    /// `-c` names a container the app does not have.
    #[error(
        "unknown container `{container}` for app `{app}` in {path}; known containers: {}; \
         add [apps.{app}.containers.{container}] to configure it",
        list(known)
    )]
    UnknownContainer {
        /// The file.
        path: PathBuf,
        /// The app.
        app: String,
        /// The requested container.
        container: String,
        /// The containers the app defines.
        known: Vec<String>,
    },
    /// The container lacks keys (or has settings) that this command cannot work with.
    #[error("{0}")]
    NotUsable(String),
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_owned()
    } else {
        items.join(", ")
    }
}

impl Config {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates config text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        config.path = path.to_owned();
        let problems = config.problems();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid {
                path: path.to_owned(),
                problems,
            })
        }
    }

    /// Every value-level problem in the file, each a full sentence naming where and how to fix it.
    pub fn problems(&self) -> Vec<String> {
        validate::problems(self)
    }

    /// The app named by `-a`, or an error listing the known apps.
    pub fn app(&self, path: &Path, app: &str) -> Result<&AppConfig, ConfigError> {
        self.apps.get(app).ok_or_else(|| ConfigError::UnknownApp {
            path: path.to_owned(),
            app: app.to_owned(),
            known: self.apps.keys().cloned().collect(),
        })
    }

    /// The container named by `-c`, validated, or an error listing the app's containers.
    pub fn container(&self, path: &Path, app: &str, id: &str) -> Result<Container, ConfigError> {
        let app_cfg = self.app(path, app)?;
        let cfg = app_cfg
            .containers
            .get(id)
            .ok_or_else(|| ConfigError::UnknownContainer {
                path: path.to_owned(),
                app: app.to_owned(),
                container: id.to_owned(),
                known: app_cfg.containers.keys().cloned().collect(),
            })?;
        let at = format!("[apps.{app}.containers.{id}]");
        let kind = if id.starts_with("object_") {
            ContainerKind::Object
        } else {
            let scene_id = cfg.scene_id.clone().ok_or_else(|| {
                ConfigError::NotUsable(format!(
                    "{at} is a view and needs scene_id (the scene that holds the view, e.g. \
                     scene_id = \"scene_73\")"
                ))
            })?;
            ContainerKind::View { scene_id }
        };
        let modified_date_field_id = cfg.modified_date_field_id.clone().ok_or_else(|| {
            ConfigError::NotUsable(format!(
                "{at} needs modified_date_field_id (e.g. \"field_205\")"
            ))
        })?;
        Ok(Container {
            app_name: app.to_owned(),
            id: id.to_owned(),
            kind,
            modified_date_field_id,
            config: cfg.clone(),
        })
    }
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

impl ContainerConfig {
    /// `upsert_matching_field`, else `id` (the Knack record id every feature carries).
    pub fn matching_field(&self) -> &str {
        self.upsert_matching_field.as_deref().unwrap_or("id")
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

#[cfg(test)]
mod tests;
