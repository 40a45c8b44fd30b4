//! The plan of a copy: for each source record, create, update or leave alone, decided against
//! the destination's staged records indexed by canonical primary key.

use std::collections::HashMap;

use futures::TryStreamExt;
use knack_client::Record;
use serde_json::{Map, Value};

use super::canonical::{self, same_value};
use super::destination::{Action, KnackDestination, KnackReport};
use super::map::FieldMap;
use crate::engine::{BatchStream, Source};
use crate::staging::StagingSource;
use crate::Error;

/// The destination's records by canonical primary key: id and compared values.
pub(super) type DestIndex = HashMap<String, (String, Map<String, Value>)>;

pub(super) fn count(report: &mut KnackReport, action: &Action) {
    match action {
        Action::Create => report.created += 1,
        Action::Update { .. } => report.updated += 1,
        Action::Unchanged { .. } => report.unchanged += 1,
    }
}

/// Loads the destination container's staged records into a map by primary key.
pub(super) async fn dest_index(
    pgrest: &pgrest_client::Client,
    dest: &KnackDestination,
) -> Result<DestIndex, Error> {
    let compared: Vec<&str> = dest
        .fields
        .fields()
        .iter()
        .map(|f| f.dest.as_str())
        .collect();
    let pk = dest.fields.primary_key().dest.as_str();
    let source = StagingSource::new(
        pgrest.clone(),
        &dest.dest_app_id,
        &dest.dest_container,
        None,
    );
    let mut pages: BatchStream<Record> = source.batches().await?;
    let mut index = DestIndex::new();
    while let Some(page) = pages.try_next().await? {
        for record in page {
            let raw = record.raw();
            let Some(key) = canonical::key(raw.get(pk).unwrap_or(&Value::Null)) else {
                continue;
            };
            let values = compared
                .iter()
                .filter_map(|k| raw.get(*k).map(|v| (k.to_string(), v.clone())))
                .collect();
            // The original matched the first destination record with the key.
            index
                .entry(key)
                .or_insert_with(|| (record.id().to_string(), values));
        }
    }
    Ok(index)
}

pub(super) fn decide(
    fields: &FieldMap,
    mapped: &Map<String, Value>,
    existing: Option<&(String, Map<String, Value>)>,
) -> Action {
    let Some((id, values)) = existing else {
        return Action::Create;
    };
    let changed: Vec<String> = fields
        .fields()
        .iter()
        .filter(|f| !f.ignore_diff)
        .filter(|f| {
            !same_value(
                mapped.get(&f.dest).unwrap_or(&Value::Null),
                values.get(&f.dest).unwrap_or(&Value::Null),
            )
        })
        .map(|f| f.dest.clone())
        .collect();
    if changed.is_empty() {
        Action::Unchanged {
            dest_record_id: id.clone(),
        }
    } else {
        Action::Update {
            dest_record_id: id.clone(),
            changed,
        }
    }
}
