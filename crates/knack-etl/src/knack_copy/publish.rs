//! [`records_to_knack`]: a container's staged records copied into another Knack app's object, one
//! create or update per request, each refused record reported and the others written.

use std::time::Instant;

use chrono_tz::Tz;
use futures::TryStreamExt;
use knack_client::Record;
use serde_json::{Map, Value};

use super::canonical;
use super::create::{create_once, write_through};
use super::destination::{Action, KnackDestination, KnackReport, Planned, RecordFailure};
use super::map::write_key;
use super::plan::{count, decide, dest_index, DestIndex};
use super::wall_time;
use crate::engine::{timed, BatchStream, RunFailure, RunOptions, Source};
use crate::staging::{load_metadata, StagingSource};
use crate::Error;

fn fail(report: &KnackReport, error: impl Into<Error>) -> RunFailure {
    RunFailure {
        report: report.run.clone(),
        error: Box::new(error.into()),
    }
}

/// Staged records of `dest.source_container` (staged on or after `options.since`) → the
/// destination object, as described in the [room docs](super). `knack` is a client of the
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
                let metadata = load_metadata(pgrest, &app).await?;
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
        let target = Target {
            pgrest,
            knack,
            dest,
            pk: &pk,
        };
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
                // After a stop no new record is written (a copy never deletes).
                if let Some(error) = options.stop.error(&report.run) {
                    return Err(fail(&report, error));
                }
                write(
                    &target,
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

/// Where a copy writes: the staging store (for the write-through), the destination app, the
/// copy, and the field map's primary key (a destination key).
struct Target<'a> {
    pgrest: &'a pgrest_client::Client,
    knack: &'a knack_client::Client,
    dest: &'a KnackDestination,
    pk: &'a str,
}

/// Sends one create or update and records its outcome: a create lands once and is written
/// through to the destination's staged rows (`create.rs`); a record Knack refused is a failure
/// named in [`KnackReport::failures`]; one that could not be delivered this time (a transient
/// failure that outlived its retries) is counted in `run.failed`, and the next run retries it.
async fn write(
    target: &Target<'_>,
    source_id: &str,
    mapped: Map<String, Value>,
    key: String,
    action: Action,
    index: &mut DestIndex,
    report: &mut KnackReport,
) -> Result<(), RunFailure> {
    let dest = target.dest;
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
        Action::Create => {
            let created = create_once(target.knack, dest, target.pk, &key, &body).await;
            if let Ok(record) = &created {
                write_through(target.pgrest, dest, record).await;
            }
            (created, None)
        }
        Action::Update { dest_record_id, .. } => (
            target
                .knack
                .update(&dest.dest_object, dest_record_id, &body)
                .await,
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
        // Not refused, only not delivered this time: failed, and the next run sends it again.
        Err(e) if e.is_retryable() => {
            tracing::warn!(
                source_record = %source_id,
                dest_record = dest_id.as_deref(),
                error = %e,
                "a record could not be written to Knack this time; the next run retries it"
            );
            report.run.failed += 1;
            Ok(())
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
