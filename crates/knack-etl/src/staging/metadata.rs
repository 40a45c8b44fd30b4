//! An app's metadata in the staging store (`api.knack_metadata`): stored by the Knack side,
//! loaded by the publishers to format the staged records.

use knack_client::Metadata;
use pgrest_client::{Client, Query, Upsert};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::tables::METADATA_TABLE;
use crate::Error;

/// Stores an app's metadata in `api.knack_metadata` (an upsert on `app_id`).
pub async fn store_metadata(client: &Client, app_id: &str, metadata: &Value) -> Result<(), Error> {
    #[derive(Serialize)]
    struct Row<'a> {
        app_id: &'a str,
        metadata: &'a Value,
    }
    let rows = [Row { app_id, metadata }];
    client
        .upsert(METADATA_TABLE, &rows, &Upsert::on_conflict(["app_id"]))
        .await?;
    Ok(())
}

/// Loads an app's metadata from `api.knack_metadata`.
///
/// # Errors
/// [`Error::Staging`] when the store has none for the app: the publishers
/// need it, and `metadata-to-postgrest` is what puts it there.
pub(crate) async fn load_metadata(client: &Client, app_id: &str) -> Result<Metadata, Error> {
    #[derive(Deserialize)]
    struct Row {
        metadata: Value,
    }
    let query = Query::new()
        .select("metadata")
        .eq("app_id", app_id)
        .limit(1);
    let mut rows: Vec<Row> = client.select(METADATA_TABLE, &query).await?;
    let Some(row) = rows.pop() else {
        return Err(Error::Staging(format!(
            "the staging store has no metadata for app {app_id}: run `aks metadata-to-postgrest` for this app first"
        )));
    };
    Ok(Metadata::from_json(row.metadata)?)
}
