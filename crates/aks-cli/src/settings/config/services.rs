//! Config of the two general services: `knack_destinations` under a container (records-to-knack)
//! and the `[backup]` table (backup-socrata).
//!
//! ```toml
//! [backup]
//! to = "s3://my-bucket/socrata"   # or a directory, or file:///dir; default ./backups
//! keep = 30
//!
//! [apps.data-tracker.containers.view_197.knack_destinations.smart-mobility]
//! container = "view_396"     # the destination's staged container that is compared
//! object = "object_26"       # the destination object written through the API
//! fields = [
//!   { src = "field_199_raw", dest = "field_380", primary_key = true },
//!   { src = "field_211_raw", dest = "field_382", handler = "strip" },
//!   { src = "field_491", dest = "field_383", default = "Unknown", ignore_diff = true },
//! ]
//! ```

use knack_etl::knack_copy::{FieldMap, FieldMapping};
use serde::Deserialize;

use super::validate::is_numbered;
use super::Config;

/// One destination app of a container, `[apps.A.containers.C.knack_destinations.<dest app>]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnackDestinationConfig {
    /// The destination container whose staged rows are compared (`view_N` / `object_N`).
    pub container: String,
    /// The destination object written through the Knack API (`object_N`).
    pub object: String,
    /// Free text, for whoever reads the file; accepted so that unknown keys stay errors.
    #[allow(dead_code)]
    pub description: Option<String>,
    /// The field map: source key → destination field, one entry per field.
    pub fields: Vec<FieldMapping>,
}

impl KnackDestinationConfig {
    /// The checked field map.
    ///
    /// # Errors
    /// Every problem of the map, one sentence each (also reported when the file is loaded).
    pub fn field_map(&self) -> Result<FieldMap, Vec<String>> {
        FieldMap::new(self.fields.clone())
            .map_err(|problems| problems.into_iter().map(|p| p.0).collect())
    }
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

/// Value-level problems of the services' keys.
pub(super) fn problems(config: &Config, out: &mut Vec<String>) {
    if config.backup.keep == Some(0) {
        out.push(
            "[backup] keep = 0 would delete the snapshot just written; use 1 or more".to_owned(),
        );
    }
    for (app, a) in &config.apps {
        for (cid, c) in &a.containers {
            for (dest, d) in &c.knack_destinations {
                let at = format!("[apps.{app}.containers.{cid}.knack_destinations.{dest}]");
                if !is_numbered(&d.container, "object_") && !is_numbered(&d.container, "view_") {
                    out.push(format!(
                        "{at} container = {:?} must be the destination's object_N or view_N \
                         whose staged records are compared",
                        d.container
                    ));
                }
                if !is_numbered(&d.object, "object_") {
                    out.push(format!(
                        "{at} object = {:?} must be the destination object written to (object_N)",
                        d.object
                    ));
                }
                if let Err(problems) = d.field_map() {
                    out.extend(problems.into_iter().map(|p| format!("{at} {p}")));
                }
            }
        }
    }
}
