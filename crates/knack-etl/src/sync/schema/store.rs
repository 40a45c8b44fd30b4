//! `api.knack_schema`: one row per (app, container, stage) with the [`Fingerprint`] its last
//! successful run was computed from, read once per sync and written only when it changed.

use chrono::{DateTime, Utc};
use pgrest_client::{Query, Upsert};
use serde::{Deserialize, Serialize};

use super::Fingerprint;
use crate::sync::watermark::Destination;
use crate::Error;

/// The table (in the staging store's schema).
pub const SCHEMA_TABLE: &str = "knack_schema";
const SCHEMA_KEY: [&str; 3] = ["app_id", "container_id", "destination"];

/// One row of `api.knack_schema`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaRow {
    /// The Knack application id.
    pub app_id: String,
    /// The container (object or view key).
    pub container_id: String,
    /// The stage (`postgrest`, `socrata`, `agol`).
    pub destination: Destination,
    /// What the stage's last successful run was computed from.
    pub fingerprint: Fingerprint,
    /// What changed when the row was last written; `None` for the first fingerprint.
    #[serde(default)]
    pub last_change: Option<String>,
    /// Database time of the row's last write (when the change was found and published).
    #[serde(default, skip_serializing)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// The fingerprints of one app in the staging store.
#[derive(Debug, Clone)]
pub struct Schemas {
    client: pgrest_client::Client,
    app_id: String,
}

impl Schemas {
    /// The fingerprints of `app_id`, through `client` (the staging store's PostgREST).
    pub fn new(client: pgrest_client::Client, app_id: &str) -> Self {
        Self {
            client,
            app_id: app_id.to_string(),
        }
    }

    /// Every row of the app (one request).
    ///
    /// # Errors
    /// [`Error::Postgrest`], e.g. a 404 when the table is missing (`aks db init` adds it).
    pub async fn all(&self) -> Result<Vec<SchemaRow>, Error> {
        let query = Query::new()
            .eq("app_id", self.app_id.as_str())
            .order_asc("container_id")
            .order_asc("destination");
        Ok(self.client.select(SCHEMA_TABLE, &query).await?)
    }

    /// Stores what stage `destination` of `container_id` was computed from, and what changed
    /// (one request).
    ///
    /// # Errors
    /// As [`Schemas::all`].
    pub async fn store(
        &self,
        container_id: &str,
        destination: &Destination,
        fingerprint: &Fingerprint,
        last_change: Option<&str>,
    ) -> Result<(), Error> {
        let row = SchemaRow {
            app_id: self.app_id.clone(),
            container_id: container_id.to_string(),
            destination: destination.clone(),
            fingerprint: fingerprint.clone(),
            last_change: last_change.map(str::to_string),
            updated_at: None,
        };
        self.client
            .upsert(SCHEMA_TABLE, &[row], &Upsert::on_conflict(SCHEMA_KEY))
            .await?;
        Ok(())
    }
}
