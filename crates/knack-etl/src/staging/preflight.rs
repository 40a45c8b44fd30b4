//! The staging store's preflight: both tables answer for the app, or the run is refused with the
//! fix before anything is written.

use pgrest_client::Query;

use super::tables::{METADATA_TABLE, RECORDS_TABLE};
use crate::Error;

/// Checks that both staging tables answer for `app_id` (one row asked of each). A missing table
/// (404) is refused with the fix; a refused JWT stays PostgREST's own error.
pub(crate) async fn staging(client: &pgrest_client::Client, app_id: &str) -> Result<(), Error> {
    for table in [RECORDS_TABLE, METADATA_TABLE] {
        let query = Query::new().select("app_id").eq("app_id", app_id).limit(1);
        match client
            .select::<serde_json::Map<String, serde_json::Value>>(table, &query)
            .await
        {
            Ok(_) => {}
            // A refused JWT stays the client's own error (a run failure, as for every command).
            Err(e) if e.status() == Some(404) => {
                return Err(Error::Preflight(format!(
                    "the staging table api.{table} does not exist ({e}): apply the schema \
                     (`aks db init`) and check PGREST_ENDPOINT"
                )))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
