//! The Knack → Knack stage of a sync (`knack:<app name>`): a container's staged records copied
//! into another Knack app through [`records_to_knack`].
//!
//! records-to-knack decides create or update by looking a record up in the destination
//! container's **staged** rows. Were those stale, a record the previous run created would be
//! missing there and be created again. So the stage first refreshes them: records-to-postgrest of
//! the destination app (its own Knack client), tracked under that container's own `postgrest`
//! watermark (incremental when the destination's modified-date field is configured, else a full
//! reload), and compares only when that succeeded. Records created by the previous run were
//! modified in Knack after that refresh's watermark was opened, so the next refresh reads them.

use chrono_tz::Tz;
use knack_client::Metadata;

use super::plan::{KnackPlan, SyncClients, SyncOptions, SyncPlan};
use super::report::{StageOutcome, StageResult};
use super::schema::Decision;
use super::stage::Stage;
use super::tracked::Since;
use super::watermark::{Destination, Watermarks, KNACK_CLOCK_MARGIN};
use crate::engine::{Rejection, RunFailure, RunReport};
use crate::knack_copy::{records_to_knack, KnackReport};
use crate::staging::{records_to_postgrest_in, refresh_metadata};
use crate::Error;

/// The metadata refresh of each destination app, with the metadata read.
pub(super) type DestMetadata = Vec<(String, Result<(RunReport, Metadata), RunFailure>)>;

/// Refreshes the metadata of every destination app the plans copy into, once each (records-to-knack
/// reads the destination's timezone from the staging store; the refresh needs it too).
pub(super) async fn refresh_destinations(
    clients: &SyncClients,
    plans: &[SyncPlan],
    dry_run: bool,
) -> DestMetadata {
    let mut names: Vec<&str> = plans
        .iter()
        .flat_map(|p| p.knack.iter().map(|k| k.app_name.as_str()))
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut out = Vec::new();
    for name in names {
        let refreshed = match clients.knack_dests.get(name) {
            Some(knack) => refresh_metadata(knack, &clients.pgrest, dry_run).await,
            None => Err(RunFailure {
                report: RunReport::default(),
                error: Box::new(Error::Refused(format!(
                    "the sync was given no Knack client for destination app {name}"
                ))),
            }),
        };
        out.push((name.to_string(), refreshed));
    }
    out
}

/// Runs one Knack destination of a container whose staging load succeeded; in full when
/// `decide`, given the fingerprint the stage's row held, finds a schema change of the container.
/// Returns what it decided (nothing when the stage did not open).
pub(super) async fn run(
    clients: &SyncClients,
    stage: &Stage<'_>,
    plan: &KnackPlan,
    dest_metadata: &DestMetadata,
    decide: impl FnOnce(Option<&serde_json::Value>) -> Decision,
) -> (StageResult, Decision) {
    let destination = Destination::knack(&plan.app_name);
    let refreshed = dest_metadata
        .iter()
        .find(|(name, _)| *name == plan.app_name)
        .map(|(_, r)| r);
    let timezone = match refreshed {
        Some(Ok((_, metadata))) => metadata.timezone().ok(),
        Some(Err(failure)) => {
            let skipped = StageResult {
                container_id: stage.container_id.to_string(),
                destination,
                outcome: StageOutcome::Skipped(format!(
                    "the metadata refresh of {} failed: {}",
                    plan.app_name, failure.error
                )),
            };
            return (skipped, Decision::default());
        }
        None => None,
    };
    let dry_run = stage.options.dry_run;
    stage
        .run(
            destination,
            clients.knack_dests.get(&plan.app_name),
            decide,
            |knack, since| async move {
                refresh_staged(clients, knack, plan, timezone, stage.options).await?;
                let report = records_to_knack(
                    &clients.pgrest,
                    knack,
                    &plan.destination,
                    &stage.options.run(since),
                )
                .await?;
                Ok(summarize(report, dry_run))
            },
        )
        .await
}

/// Brings the destination container's staged rows up to date (see the module docs).
async fn refresh_staged(
    clients: &SyncClients,
    knack: &knack_client::Client,
    plan: &KnackPlan,
    timezone: Option<Tz>,
    options: SyncOptions,
) -> Result<(), RunFailure> {
    let dry_run = options.dry_run;
    let dest = &plan.destination;
    let watermarks = Watermarks::new(clients.pgrest.clone(), &dest.dest_app_id);
    let since = match plan.dest_modified_field {
        Some(_) => Since::Watermark {
            margin: KNACK_CLOCK_MARGIN,
        },
        None => Since::Given(None),
    };
    let tracked = watermarks
        .tracked(
            plan.dest_container.id(),
            Destination::Postgrest,
            since,
            dry_run,
            |since| async move {
                records_to_postgrest_in(
                    knack,
                    &clients.pgrest,
                    &plan.dest_container,
                    plan.dest_modified_field.as_deref(),
                    timezone,
                    &options.run(since),
                )
                .await
            },
        )
        .await;
    match tracked.result {
        Ok(report) if report.is_clean() => Ok(()),
        Ok(report) => Err(RunFailure {
            report: RunReport::default(),
            error: Box::new(Error::Refused(format!(
                "the refresh of {}'s staged {} left {} record(s) unstaged, so records could be \
                 created twice; nothing was written to {}",
                plan.app_name,
                dest.dest_container,
                report.failed + report.rejected.len() as u64,
                plan.app_name
            ))),
        }),
        Err(failure) => Err(RunFailure {
            report: RunReport::default(),
            error: Box::new(Error::Refused(format!(
                "the refresh of {}'s staged {} failed ({}); nothing was written to {}",
                plan.app_name, dest.dest_container, failure.error, plan.app_name
            ))),
        }),
    }
}

/// The stage's report: every record Knack refused is a rejection (named in the log by
/// records-to-knack), so the stage is not clean and its watermark stays; `written` counts the
/// records created and updated (in a dry run, to be), `skipped` those left alone.
fn summarize(report: KnackReport, dry_run: bool) -> RunReport {
    let mut run = report.run;
    run.rejected
        .extend(report.failures.iter().map(|f| Rejection {
            record_id: f.source_record_id.clone(),
            field: f.fields.first().cloned(),
            code: None,
            reason: f.reason.clone(),
        }));
    // `failed` stays: records not delivered this time (transient), which the next run retries.
    run.written = report.created + report.updated;
    run.skipped = report.unchanged;
    run.dry_run = dry_run;
    run.notes.push(format!(
        "{}{} created, {} updated, {} unchanged",
        if dry_run { "dry run: would be " } else { "" },
        report.created,
        report.updated,
        report.unchanged
    ));
    if run.failed > 0 {
        run.notes.push(format!(
            "{} record(s) could not be written this time; the next run retries them",
            run.failed
        ));
    }
    run
}
