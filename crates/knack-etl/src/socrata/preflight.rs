//! What a Socrata dataset must be to take a run, checked before its first write (and by `aks
//! config check`): a dataset that cannot take it is refused with [`Error::Preflight`] and a message
//! naming the fix, and nothing is written.
//!
//! [`socrata_problems`] is pure (what is wrong with metadata already fetched); [`dataset`] fetches
//! the metadata and turns the problems into an error. A transient failure while fetching stays
//! the client's own (retryable) error, not a preflight refusal.

use knack_client::Formatter;
use socrata_client::{DataType, DatasetMetadata};

use crate::error::refuse;
use crate::transform::output_keys;
use crate::Error;

/// The Socrata column that must be the row identifier: the text column `id`, holding the Knack
/// record id. Without it an upsert appends a copy of every row on every run
/// (<https://dev.socrata.com/docs/row-identifiers.html>).
pub const SOCRATA_ROW_IDENTIFIER: &str = "id";

/// What stops `dataset` from taking upserts keyed by the Knack record id; empty when nothing.
pub(crate) fn socrata_problems(dataset: &DatasetMetadata) -> Vec<String> {
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

/// Everything `aks config check` says about a container's dataset `resource_id`, one sentence
/// each, empty when nothing: what stops it from taking upserts keyed by the Knack record id (the
/// text column `id` as row identifier, write rights; the checks every run makes before its first
/// write), then the container's fields (`formatter`'s, by output key) the dataset has no column
/// for, which a run drops.
pub fn dataset_problems(
    resource_id: &str,
    dataset: &DatasetMetadata,
    formatter: &Formatter,
) -> Vec<String> {
    let mut problems = socrata_problems(dataset);
    let missing: Vec<String> = output_keys(formatter)
        .into_iter()
        .filter(|k| !dataset.has_field(k))
        .collect();
    if !missing.is_empty() {
        problems.push(format!(
            "Socrata dataset {resource_id} lacks columns {}; those fields will be dropped when \
             publishing",
            missing.join(", ")
        ));
    }
    problems
}

/// Fetches the dataset's metadata and refuses it when [`socrata_problems`] finds anything. A
/// dataset that does not exist (404) is refused too.
pub(crate) async fn dataset(
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dataset(meta: serde_json::Value) -> DatasetMetadata {
        DatasetMetadata::from_json(meta.to_string().as_bytes()).unwrap()
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
