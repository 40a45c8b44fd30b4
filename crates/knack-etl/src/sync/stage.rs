//! One stage of a container run between its watermark's open and close: in a sync, or alone
//! ([`run_stage`], what a per-stage command runs).

use std::future::Future;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::plan::{SyncOptions, SyncPlan};
use super::report::{StageOutcome, StageResult};
use super::schema::{Decision, Single};
use super::tracked::{Since, Tracked};
use super::watermark::{Destination, Watermarks, KNACK_CLOCK_MARGIN};
use crate::agol::publish::agol_records;
use crate::engine::{RunFailure, RunOptions, RunReport};
use crate::socrata::publish::{socrata_records, Read};
use crate::staging::records_to_postgrest;
use crate::Error;

/// One container's stages: each runs between its watermark's open and close.
pub(crate) struct Stage<'a> {
    pub(super) watermarks: &'a Watermarks,
    pub(super) container_id: &'a str,
    pub(super) options: SyncOptions,
}

impl Stage<'_> {
    /// The result of a publisher that did not run because the container's staging load failed
    /// (it would have published stale rows), or of any stage not started after a stop.
    pub(crate) fn skipped(&self, destination: Destination) -> StageResult {
        let why = match self.options.stop.reason() {
            Some(why) => format!("not started: the sync was stopped by {why}"),
            None => format!("the staging load of {} failed", self.container_id),
        };
        StageResult {
            container_id: self.container_id.to_string(),
            destination,
            outcome: StageOutcome::Skipped(why),
        }
    }

    /// Runs `stage` with `client` from the destination's watermark (or `-d`); in full (and
    /// saying why in its notes) when `decide`, given the schema fingerprint the stage's row held,
    /// finds a schema change; without a client, a failed stage; after a stop, a skipped one (not
    /// started, its row untouched). Returns what `decide` decided (nothing when the stage did
    /// not open).
    pub(crate) async fn run<'c, C, D, F, Fut>(
        &self,
        destination: Destination,
        client: Option<&'c C>,
        decide: D,
        stage: F,
    ) -> (StageResult, Decision)
    where
        D: FnOnce(Option<&Value>) -> Decision,
        F: FnOnce(&'c C, Option<DateTime<Utc>>) -> Fut,
        Fut: Future<Output = Result<RunReport, RunFailure>>,
    {
        if self.options.stop.reason().is_some() {
            return (self.skipped(destination), Decision::default());
        }
        let started = Instant::now();
        let (since, dry_run) = (since_rule(self.options, &destination), self.options.dry_run);
        let mut decided = Decision::default();
        let outcome = match client {
            Some(client) => {
                let schema = |stored: Option<&Value>| {
                    decided = decide(stored);
                    decided.plan(None)
                };
                let (id, dest) = (self.container_id, destination.clone());
                let stage = |since| stage(client, since);
                let watermarks = self.watermarks;
                let mut tracked = watermarks
                    .tracked_with_schema(id, dest, since, dry_run, schema, stage)
                    .await;
                decided.annotate(&destination, dry_run, &mut tracked.result);
                StageOutcome::Ran(tracked)
            }
            None => missing_client(self.container_id, &destination),
        };
        tracing::info!(
            container = self.container_id,
            %destination,
            seconds = started.elapsed().as_secs_f64(),
            ok = outcome.is_success(),
            "stage done"
        );
        let result = StageResult {
            container_id: self.container_id.to_string(),
            destination,
            outcome,
        };
        (result, decided)
    }
}

/// A plan naming a destination whose client the caller did not give: a failed stage, so the run
/// does not look successful.
fn missing_client(container_id: &str, destination: &Destination) -> StageOutcome {
    StageOutcome::Ran(Tracked {
        since: None,
        watermark: None,
        time: Default::default(),
        result: Err(RunFailure {
            report: RunReport::default(),
            error: Box::new(Error::Refused(format!(
                "{container_id} is published to {destination}, but the sync was given no \
                 {destination} client"
            ))),
        }),
    })
}

/// Where a stage starts: `-d` when given, else its watermark.
fn since_rule(options: SyncOptions, destination: &Destination) -> Since {
    match options.since {
        Some(since) => Since::Given(Some(since)),
        None if *destination == Destination::Postgrest => Since::Watermark {
            margin: KNACK_CLOCK_MARGIN,
        },
        None => Since::Watermark {
            margin: chrono::Duration::zero(),
        },
    }
}

/// Runs one stage of one container outside a sync (a per-stage command such as
/// `records-to-socrata`) from `options.since` as given, and records where it got to in the
/// stage's watermark, so per-stage commands and [`sync`](super::sync) can be mixed. `stage` runs
/// the pipeline itself.
///
/// # Errors
/// The pipeline's [`RunFailure`]; or, when the watermark cannot be opened or stored, a failure
/// saying so (a success whose watermark was not stored is reported as a failure: the data is
/// written, the next run repeats it).
pub async fn run_tracked<F, Fut>(
    pgrest: &pgrest_client::Client,
    app_id: &str,
    container_id: &str,
    destination: Destination,
    options: &RunOptions,
    stage: F,
) -> Result<RunReport, RunFailure>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<RunReport, RunFailure>>,
{
    Watermarks::new(pgrest.clone(), app_id)
        .tracked(
            container_id,
            destination,
            Since::Given(options.since),
            options.dry_run,
            |_| stage(),
        )
        .await
        .result
}

/// The clients one stage of a container needs: the staging store always, Knack for the staging
/// load, the destination's client for a publisher.
#[derive(Debug, Clone, Copy)]
pub struct StageClients<'a> {
    /// The staging store (and the watermarks).
    pub pgrest: &'a pgrest_client::Client,
    /// Knack, for the staging load.
    pub knack: Option<&'a knack_client::Client>,
    /// Socrata, for the Socrata stage.
    pub socrata: Option<&'a socrata_client::Client>,
    /// ArcGIS Online, for the ArcGIS stage.
    pub agol: Option<&'a agol_client::Client>,
}

/// Runs stage `destination` of `plan` of app `app_id` outside a sync, as [`run_tracked`] does:
/// the staging load ([`records_to_postgrest`](crate::staging::records_to_postgrest) of the
/// plan's container), or the plan's Socrata or ArcGIS publisher. What a per-stage command runs.
/// Its schema fingerprint is compared as in a sync (from the stored metadata, one PostgREST
/// request more, and the fingerprint its row held when it opened; the destination read once as
/// before): after a change the stage runs in full whatever `options.since` says, and its close
/// stores the new fingerprint after it succeeded.
///
/// # Errors
/// As [`run_tracked`]; [`Error::Refused`] before any request when the plan has no such target or
/// its client was not given (a Knack copy is not a stage of its own: it refreshes the
/// destination's staged rows first, which [`sync`](super::sync) does).
pub async fn run_stage(
    clients: StageClients<'_>,
    app_id: &str,
    plan: &SyncPlan,
    destination: Destination,
    options: &RunOptions,
) -> Result<RunReport, RunFailure> {
    let (pgrest, id) = (clients.pgrest, plan.container.id());
    let publication = plan.publication(app_id);
    let refused = |destination: &Destination| {
        Err(RunFailure {
            report: RunReport::default(),
            error: Box::new(Error::Refused(format!(
                "stage {destination} of {id} cannot run: the plan names no such destination, or \
                 its client was not given"
            ))),
        })
    };
    let runs = match &destination {
        Destination::Postgrest => clients.knack.is_some(),
        Destination::Socrata => plan.socrata.is_some() && clients.socrata.is_some(),
        Destination::Agol => plan.agol.is_some() && clients.agol.is_some(),
        Destination::Knack(_) => false,
    };
    if !runs {
        return refused(&destination);
    }
    // A schema change since the stage's last success runs it in full (a dataset that forbids a
    // replace: an upsert of everything), as a sync would.
    let mut single = Single::read(clients, app_id, plan, &destination).await;
    // The destination could not be read: the stage fails with that error, as its publisher's own
    // read would have, without reading (and retrying) it again.
    let failed = single.dests.failed.take();
    let full_since = match &plan.socrata {
        Some(t) if destination == Destination::Socrata => t.sync_since(None),
        _ => None,
    };
    let (dest, dry_run, dests) = (&destination, options.dry_run, &single.dests);
    let mut decided = Decision::default();
    let schema = |stored: Option<&Value>| {
        decided = single.decide(id, dest, stored, dry_run);
        decided.plan(full_since)
    };
    let stage = |since| async move {
        if let Some(error) = failed {
            return Err(RunFailure {
                report: RunReport::default(),
                error: Box::new(error),
            });
        }
        let options = &RunOptions {
            since,
            ..options.clone()
        };
        match (dest, clients.knack, clients.socrata, clients.agol) {
            (Destination::Postgrest, Some(knack), _, _) => {
                let field = Some(plan.modified_date_field.as_str());
                records_to_postgrest(knack, pgrest, &plan.container, field, options).await
            }
            (Destination::Socrata, _, Some(client), _) => {
                let target = plan.socrata.as_ref().expect("checked above");
                let read = Read {
                    only: None,
                    dataset: dests.dataset.clone(),
                };
                socrata_records(pgrest, client, &publication, target, options, read).await
            }
            (Destination::Agol, _, _, Some(client)) => {
                let target = plan.agol.as_ref().expect("checked above");
                let layer = dests.layer.clone();
                agol_records(pgrest, client, &publication, target, options, None, layer).await
            }
            _ => refused(dest),
        }
    };
    let watermarks = Watermarks::new(pgrest.clone(), app_id);
    let since = Since::Given(options.since);
    let tracked = watermarks
        .tracked_with_schema(id, destination.clone(), since, dry_run, schema, stage)
        .await;
    let mut result = tracked.result;
    decided.annotate(&destination, dry_run, &mut result);
    result
}
