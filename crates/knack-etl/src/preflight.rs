//! The checks every publishing run makes before its first write, and that `aks config check`
//! makes too: a destination that cannot take the run is refused with [`Error::Preflight`] and a
//! message naming the fix, and nothing is written.
//!
//! Each `*_problems` function is pure (what is wrong with metadata already fetched); each async
//! function fetches what it needs and turns the first problem into an error. A transient failure
//! while fetching stays the client's own (retryable) error, not a preflight refusal.

use agol_client::{LayerInfo, LayerSelector};
use pgrest_client::Query;
use socrata_client::{DataType, DatasetMetadata};

use crate::staging::{METADATA_TABLE, RECORDS_TABLE};
use crate::Error;

/// The Socrata column that must be the row identifier: the text column `id`, holding the Knack
/// record id. Without it an upsert appends a copy of every row on every run
/// (<https://dev.socrata.com/docs/row-identifiers.html>).
pub const SOCRATA_ROW_IDENTIFIER: &str = "id";

/// ArcGIS field types a matching field may have: the values compared are Knack ids (text) or
/// numbers, never dates, geometries or blobs.
pub const AGOL_MATCHABLE_TYPES: [&str; 8] = [
    "esriFieldTypeString",
    "esriFieldTypeGUID",
    "esriFieldTypeGlobalID",
    "esriFieldTypeSmallInteger",
    "esriFieldTypeInteger",
    "esriFieldTypeBigInteger",
    "esriFieldTypeDouble",
    "esriFieldTypeSingle",
];

/// What stops `dataset` from taking upserts keyed by the Knack record id; empty when nothing.
pub fn socrata_problems(dataset: &DatasetMetadata) -> Vec<String> {
    let mut problems = Vec::new();
    let name = &dataset.id;
    let id_column = dataset.column(SOCRATA_ROW_IDENTIFIER);
    match (&dataset.row_identifier, id_column) {
        (Some(rid), Some(col))
            if rid == SOCRATA_ROW_IDENTIFIER && col.data_type == DataType::Text => {}
        (_, Some(col)) if col.data_type != DataType::Text => problems.push(format!(
            "Socrata dataset {name}: column `id` is {}, not text: make `id` a text column holding \
             the Knack record id and set it as the row identifier (dataset page > Edit > Columns)",
            col.data_type.name()
        )),
        (rid, _) => problems.push(format!(
            "Socrata dataset {name} has {} as its row identifier, not the text column `id`: every \
             upsert would append a copy of each record instead of updating it. Add a text column \
             `id` if it is missing, then set it as the row identifier (dataset page > Edit > \
             Columns > id > Row identifier; or the API's `rowIdentifierColumnId`)",
            rid.as_deref()
                .map_or("no column".to_string(), |r| format!("`{r}`"))
        )),
    }
    if !dataset.writable() {
        problems.push(format!(
            "Socrata dataset {name} is read-only for this account (its rights lack `write`): \
             give the user of SOCRATA_API_KEY_ID editor rights on the dataset"
        ));
    }
    problems
}

/// Fetches the dataset's metadata and refuses it when [`socrata_problems`] finds anything. A
/// dataset that does not exist (404) is refused too.
pub async fn socrata(
    client: &socrata_client::Client,
    resource_id: &str,
) -> Result<DatasetMetadata, Error> {
    let dataset = match client.metadata(resource_id).await {
        Ok(d) => d,
        // Wrong credentials stay the client's own error (a run failure, as for every command).
        Err(e) if e.status() == Some(404) => {
            return Err(Error::Preflight(format!(
                "Socrata dataset {resource_id} does not exist ({e}): check socrata_resource_id"
            )))
        }
        Err(e) => return Err(e.into()),
    };
    refuse(socrata_problems(&dataset))?;
    Ok(dataset)
}

/// What stops `layer` from taking upserts matched on `matching_field`; empty when nothing.
pub fn agol_problems(layer: &LayerInfo, matching_field: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let name = &layer.name;
    match layer.fields.iter().find(|f| f.name == matching_field) {
        None => problems.push(format!(
            "ArcGIS layer {name} has no field `{matching_field}` to match features on: add it \
             (a unique text field holding the Knack record id) or set upsert_matching_field to an \
             existing field"
        )),
        Some(f) if !AGOL_MATCHABLE_TYPES.contains(&f.field_type.as_str()) => {
            problems.push(format!(
                "ArcGIS layer {name}: the matching field `{matching_field}` is {}, which cannot \
                 hold a Knack record id or number: match on a text or number field \
                 (upsert_matching_field)",
                f.field_type
            ))
        }
        Some(_) => {}
    }
    problems.extend(missing_capabilities(layer, &["Create", "Update"]));
    problems
}

/// What stops `layer` from taking a full replace, beyond [`agol_problems`]: it must allow deletes.
pub fn agol_replace_problems(layer: &LayerInfo) -> Vec<String> {
    missing_capabilities(layer, &["Delete"])
        .into_iter()
        .collect()
}

/// The capabilities of `wanted` the layer lists as absent (none when it lists none at all).
fn missing_capabilities(layer: &LayerInfo, wanted: &[&str]) -> Option<String> {
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|c| !layer.has_capability(c))
        .collect();
    (layer.capabilities.is_some() && !missing.is_empty()).then(|| {
        format!(
            "ArcGIS layer {} does not allow {}: enable editing with {} in the layer's settings",
            layer.name,
            missing.join(", "),
            wanted.join(", ")
        )
    })
}

/// Finds the layer or table of `service_id` and refuses it when [`agol_problems`] finds anything.
/// An item or layer that does not exist is refused too.
pub async fn agol(
    client: &agol_client::Client,
    service_id: &str,
    selector: LayerSelector,
    matching_field: &str,
) -> Result<agol_client::Layer, Error> {
    let layer = match client.layer_from_item(service_id, selector).await {
        Ok(layer) => layer,
        Err(e @ agol_client::Error::NotFound(_)) => {
            return Err(Error::Preflight(format!(
                "ArcGIS Online item {service_id}: {e}: check service_id, layer_id and item_type"
            )))
        }
        Err(e) => return Err(e.into()),
    };
    refuse(agol_problems(layer.info(), matching_field))?;
    Ok(layer)
}

/// Checks that both staging tables answer for `app_id` (one row asked of each). A missing table
/// (404) is refused with the fix; a refused JWT stays PostgREST's own error.
pub async fn staging(client: &pgrest_client::Client, app_id: &str) -> Result<(), Error> {
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

fn refuse(problems: Vec<String>) -> Result<(), Error> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Preflight(problems.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn layer(fields: serde_json::Value, capabilities: &str) -> LayerInfo {
        serde_json::from_value(json!({
            "id": 0, "name": "signals", "capabilities": capabilities, "fields": fields
        }))
        .unwrap()
    }

    fn dataset(meta: serde_json::Value) -> DatasetMetadata {
        DatasetMetadata::from_json(meta.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn a_layer_needs_a_matching_field_that_can_hold_the_key_and_editing() {
        let ok = layer(
            json!([{"name": "id", "type": "esriFieldTypeString", "length": 24}]),
            "Query,Create,Update,Delete,Editing",
        );
        assert!(agol_problems(&ok, "id").is_empty());
        assert!(agol_replace_problems(&ok).is_empty());
        assert!(agol_problems(&ok, "knack_id")[0].contains("no field `knack_id`"));

        let date = layer(
            json!([{"name": "id", "type": "esriFieldTypeDate"}]),
            "Query,Create,Update",
        );
        let problems = agol_problems(&date, "id");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("esriFieldTypeDate"), "{problems:?}");
        assert!(agol_replace_problems(&date)[0].contains("does not allow Delete"));

        let read_only = layer(
            json!([{"name": "id", "type": "esriFieldTypeInteger"}]),
            "Query",
        );
        assert!(agol_problems(&read_only, "id")[0].contains("does not allow Create, Update"));
    }

    #[test]
    fn a_dataset_needs_the_text_row_identifier_id_and_write_rights() {
        let columns = json!([
            {"id": 1, "fieldName": "id", "dataTypeName": "text", "name": "id"},
            {"id": 2, "fieldName": "n", "dataTypeName": "number", "name": "n"}
        ]);
        let good =
            dataset(json!({"id": "abcd-1234", "columns": columns, "rowIdentifierColumnId": 1}));
        assert!(socrata_problems(&good).is_empty());
        let none = dataset(json!({"id": "abcd-1234", "columns": columns}));
        assert!(socrata_problems(&none)[0].contains("has no column as its row identifier"));
        let other =
            dataset(json!({"id": "abcd-1234", "columns": columns, "rowIdentifierColumnId": 2}));
        assert!(socrata_problems(&other)[0].contains("has `n` as its row identifier"));
        let numeric = dataset(
            json!({"id": "abcd-1234", "rowIdentifierColumnId": 1, "columns": [
                {"id": 1, "fieldName": "id", "dataTypeName": "number", "name": "id"}
            ]}),
        );
        assert!(socrata_problems(&numeric)[0].contains("is number, not text"));
        let read_only = dataset(json!({
            "id": "abcd-1234", "columns": columns, "rowIdentifierColumnId": 1, "rights": ["read"]
        }));
        assert!(socrata_problems(&read_only)[0].contains("read-only"));
    }
}
