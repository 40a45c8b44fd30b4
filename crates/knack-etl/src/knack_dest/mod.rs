//! Knack → Knack publishing (the original's `records_to_knack.py`): a container's staged records,
//! mapped field by field, created or updated in another Knack app's object.
//!
//! Source rows are the container's rows in `api.knack` staged on or after `since`; destination
//! rows are the destination container's staged rows (put there by `records-to-postgrest` of the
//! destination app). Each source record is matched on the primary key:
//! - no match → created;
//! - a match whose compared fields differ ([`same_value`]) → updated (every mapped field sent);
//! - anything else is left alone.
//!
//! Writes go through knack-client one record per request (Knack has no bulk write), so they are
//! held to the client's 10 requests per second. A record Knack refuses is reported (source id,
//! destination id, fields, Knack's message) and the others go on; a refused API key stops the run.
//! A create is never retried after a lost answer (it may have happened); the next run, after the
//! destination is staged again, sees the record and leaves it alone.
//!
//! Memory: the destination's primary keys and compared values are held (one small map per
//! destination record); source records stream page by page.

mod canonical;
mod map;
mod wall_time;

use std::collections::HashMap;
use std::time::Instant;

use chrono_tz::Tz;
use futures::TryStreamExt;
use knack_client::{Container, Record};
use serde_json::{Map, Value};

use crate::pipelines::RunOptions;
use crate::run::timed;
use crate::stage::{BatchStream, Source};
use crate::staging::{self, StagingSource};
use crate::{Error, RunFailure, RunReport};

pub use canonical::same_value;
pub use map::{write_key, FieldMap, FieldMapError, FieldMapping, Handler};
pub use wall_time::knack_wall_millis;

/// Where a container's records go in another Knack app.
#[derive(Debug, Clone)]
pub struct KnackDestination {
    /// The source app's id (its rows in `api.knack`).
    pub source_app_id: String,
    /// The source container (`view_N` / `object_N`) whose staged rows are read.
    pub source_container: String,
    /// The destination app's id.
    pub dest_app_id: String,
    /// The destination container whose staged rows are compared.
    pub dest_container: String,
    /// The destination object written through the API.
    pub dest_object: Container,
    /// The field map.
    pub fields: FieldMap,
}

/// What a run does (or, in a dry run, would do) with one source record.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// No destination record has the primary key: create one.
    Create,
    /// The destination record differs in `changed` (destination keys): update it.
    Update {
        /// The destination record's id.
        dest_record_id: String,
        /// The compared fields that differ.
        changed: Vec<String>,
    },
    /// Nothing to write.
    Unchanged {
        /// The destination record's id.
        dest_record_id: String,
    },
}

/// One line of a dry run's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// The source record's Knack id.
    pub source_record_id: String,
    /// The primary key's value.
    pub primary_key: Value,
    /// What would happen.
    pub action: Action,
}

/// A record the destination refused; the others were still written.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordFailure {
    /// The source record's Knack id.
    pub source_record_id: String,
    /// The destination record's id (for an update).
    pub dest_record_id: Option<String>,
    /// The field Knack's message names, else every field sent.
    pub fields: Vec<String>,
    /// Knack's reason.
    pub reason: String,
}

impl std::fmt::Display for RecordFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = match &self.dest_record_id {
            Some(id) => format!("update of {id}"),
            None => "create".to_string(),
        };
        write!(
            f,
            "record {} ({target}, fields {}): {}",
            self.source_record_id,
            self.fields.join(", "),
            self.reason
        )
    }
}

/// The outcome of [`records_to_knack`].
#[derive(Debug, Clone, Default)]
pub struct KnackReport {
    /// Counts: `read` source records, `written` = created + updated, `skipped` = unchanged
    /// (in a dry run: every record), `failed` = refused records.
    pub run: RunReport,
    /// Records created (in a dry run: to create).
    pub created: u64,
    /// Records updated (in a dry run: to update).
    pub updated: u64,
    /// Records left alone.
    pub unchanged: u64,
    /// Every record's action, in a dry run only.
    pub plan: Vec<Planned>,
    /// Every refused record.
    pub failures: Vec<RecordFailure>,
}

/// The destination's records by canonical primary key: id and compared values.
type DestIndex = HashMap<String, (String, Map<String, Value>)>;

fn fail(report: &KnackReport, error: impl Into<Error>) -> RunFailure {
    RunFailure {
        report: report.run.clone(),
        error: Box::new(error.into()),
    }
}

/// Staged records of `dest.source_container` (staged on or after `options.since`) → the
/// destination object, as described in the [module docs](self). `knack` is a client of the
/// destination app. With `options.dry_run` nothing is written and the report holds the plan.
///
/// # Errors
/// A [`RunFailure`] when either app's metadata is not staged, the staging store fails, Knack
/// refuses the API key (401/403) or the app's daily API quota is spent. Records Knack refuses are in [`KnackReport::failures`].
pub async fn records_to_knack(
    pgrest: &pgrest_client::Client,
    knack: &knack_client::Client,
    dest: &KnackDestination,
    options: &RunOptions,
) -> Result<KnackReport, RunFailure> {
    timed(async move {
        let started = Instant::now();
        let mut report = KnackReport::default();
        let tz = |app: &str| {
            let app = app.to_string();
            async move {
                let metadata = staging::load_metadata(pgrest, &app).await?;
                Ok::<Tz, Error>(metadata.timezone()?)
            }
        };
        let source_tz = tz(&dest.source_app_id)
            .await
            .map_err(|e| fail(&report, e))?;
        let dest_tz = tz(&dest.dest_app_id).await.map_err(|e| fail(&report, e))?;
        let mut index = dest_index(pgrest, dest)
            .await
            .map_err(|e| fail(&report, e))?;
        let source = StagingSource::new(
            pgrest.clone(),
            &dest.source_app_id,
            &dest.source_container,
            options.since,
        );
        let mut pages: BatchStream<Record> =
            source.batches().await.map_err(|e| fail(&report, e))?;
        let pk = dest.fields.primary_key().dest.clone();
        while let Some(page) = pages.try_next().await.map_err(|e| fail(&report, e))? {
            for record in page {
                report.run.read += 1;
                let mapped: Map<String, Value> = dest
                    .fields
                    .map(record.raw())
                    .into_iter()
                    .map(|(k, v)| (k, wall_time::rezone(v, source_tz, dest_tz)))
                    .collect();
                let Some(key) = canonical::key(mapped.get(&pk).unwrap_or(&Value::Null)) else {
                    report.run.failed += 1;
                    report.failures.push(RecordFailure {
                        source_record_id: record.id().to_string(),
                        dest_record_id: None,
                        fields: vec![pk.clone()],
                        reason: "the primary key has no value, so the record cannot be matched"
                            .into(),
                    });
                    continue;
                };
                let action = decide(&dest.fields, &mapped, index.get(&key));
                if options.dry_run {
                    report.run.skipped += 1;
                    count(&mut report, &action);
                    report.plan.push(Planned {
                        source_record_id: record.id().to_string(),
                        primary_key: mapped[&pk].clone(),
                        action,
                    });
                    continue;
                }
                write(
                    knack,
                    dest,
                    record.id(),
                    mapped,
                    key,
                    action,
                    &mut index,
                    &mut report,
                )
                .await?;
            }
        }
        report.run.duration = started.elapsed();
        tracing::info!(
            created = report.created,
            updated = report.updated,
            unchanged = report.unchanged,
            failed = report.run.failed,
            dry_run = options.dry_run,
            "records-to-knack finished"
        );
        Ok(report)
    })
    .await
}

fn count(report: &mut KnackReport, action: &Action) {
    match action {
        Action::Create => report.created += 1,
        Action::Update { .. } => report.updated += 1,
        Action::Unchanged { .. } => report.unchanged += 1,
    }
}

/// Loads the destination container's staged records into a map by primary key.
async fn dest_index(
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

fn decide(
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

/// Sends one create or update and records its outcome.
#[allow(clippy::too_many_arguments)]
async fn write(
    knack: &knack_client::Client,
    dest: &KnackDestination,
    source_id: &str,
    mapped: Map<String, Value>,
    key: String,
    action: Action,
    index: &mut DestIndex,
    report: &mut KnackReport,
) -> Result<(), RunFailure> {
    // Knack takes writes under the plain key, never `field_N_raw`.
    let body: Map<String, Value> = mapped
        .iter()
        .map(|(k, v)| (write_key(k).to_string(), v.clone()))
        .collect();
    let (result, dest_id) = match &action {
        Action::Unchanged { .. } => {
            report.unchanged += 1;
            report.run.skipped += 1;
            return Ok(());
        }
        Action::Create => (knack.create(&dest.dest_object, &body).await, None),
        Action::Update { dest_record_id, .. } => (
            knack.update(&dest.dest_object, dest_record_id, &body).await,
            Some(dest_record_id.clone()),
        ),
    };
    match result {
        Ok(written) => {
            count(report, &action);
            report.run.written += 1;
            // A later source record with the same key is compared with what was just written.
            index.insert(key, (written.id().to_string(), mapped));
            Ok(())
        }
        // Every later write would fail the same way: a refused key, or the day's quota spent.
        Err(e)
            if matches!(e.status(), Some(401 | 403))
                || matches!(e, knack_client::Error::DailyLimitExceeded { .. }) =>
        {
            Err(fail(report, e))
        }
        Err(e) => {
            let reason = e.to_string();
            let named: Vec<String> = body
                .keys()
                .filter(|k| mentions(&reason, k))
                .cloned()
                .collect();
            let failure = RecordFailure {
                source_record_id: source_id.to_string(),
                dest_record_id: dest_id,
                fields: if named.is_empty() {
                    body.keys().cloned().collect()
                } else {
                    named
                },
                reason,
            };
            tracing::warn!(%failure, "Knack refused a record; the others go on");
            report.run.failed += 1;
            report.failures.push(failure);
            Ok(())
        }
    }
}

/// Whether `text` names `field` as a whole key (`field_1` is not named by `field_12`).
fn mentions(text: &str, field: &str) -> bool {
    text.match_indices(field).any(|(at, _)| {
        !text[at + field.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_is_named_only_as_a_whole_key() {
        assert!(mentions("field_12: not a valid email", "field_12"));
        assert!(!mentions("field_123: bad", "field_12"));
        assert!(mentions("bad value for field_1.", "field_1"));
    }
}
