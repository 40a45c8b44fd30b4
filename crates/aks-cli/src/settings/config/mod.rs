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
//! The `[apps.*]` tables are knack-etl's model of an app's containers
//! ([`knack_etl::sync::config`]), the rest (endpoints, `[env.*]`, `[backup]`) is `aks`'s. Every
//! table denies unknown keys, so a typo fails with the key, the file and the line instead of being
//! silently ignored; then every value is checked and every problem reported at once.

pub(crate) mod endpoints;
mod validate;

use std::path::{Path, PathBuf};

use knack_etl::sync::config::{AppConfig, Apps, ContainerConfig};
use serde::Deserialize;

pub use endpoints::{
    ConfigUrl, Endpoints, EnvOverrides, KnackEndpoint, PortalEndpoint, PostgrestEndpoint, Service,
};

/// The whole config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Knack apps by their invented name (`data-tracker`), the `-a` argument: knack-etl's model
    /// of an app's containers.
    #[serde(default)]
    pub apps: Apps,
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

/// `[backup]`: defaults for `backup-socrata`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    /// Where snapshots go when `--to` is not given: a directory, `file:///dir` or
    /// `s3://bucket/prefix`.
    pub to: Option<String>,
    /// Snapshots kept per dataset when `--keep` is not given.
    pub keep: Option<usize>,
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
    match items.is_empty() {
        true => "(none)".to_owned(),
        false => items.join(", "),
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

    /// Parses config text and checks every value ([`validate::problems`]); `path` is only used
    /// in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let path = path.to_owned();
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.clone(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        config.path = path.clone();
        let problems = validate::problems(&config);
        match problems.is_empty() {
            true => Ok(config),
            false => Err(ConfigError::Invalid { path, problems }),
        }
    }

    /// The app named by `-a`, or an error listing the known apps.
    pub fn app(&self, app: &str) -> Result<&AppConfig, ConfigError> {
        self.apps.get(app).ok_or_else(|| ConfigError::UnknownApp {
            path: self.path.clone(),
            app: app.to_owned(),
            known: self.apps.keys().cloned().collect(),
        })
    }

    /// The container named by `-c`, or an error listing the app's containers.
    pub fn container(&self, app: &str, id: &str) -> Result<&ContainerConfig, ConfigError> {
        let found = self.app(app)?;
        found
            .containers
            .get(id)
            .ok_or_else(|| ConfigError::UnknownContainer {
                path: self.path.clone(),
                app: app.to_owned(),
                container: id.to_owned(),
                known: found.containers.keys().cloned().collect(),
            })
    }
}

#[cfg(test)]
mod tests;
