//! A whole app in one run: the metadata once, then per container Knack → staging and, only when
//! that succeeded, each publisher, every stage from its own watermark ([`crate::watermark`]).
//!
//! Containers run concurrently (bounded), all through clones of **one** knack-client `Client`:
//! its limiter is shared by its clones, and Knack's 10 requests per second are per app, so the
//! whole run stays within them however many containers run at once.
//!
//! A container with Knack destinations is then copied into each destination app
//! (`sync/knack.rs`): the destination's staged rows are refreshed first, so a record the previous run
//! created is seen there and never created twice.

mod knack;
mod stage;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use futures::stream::{self, StreamExt};
use knack_client::Container;

use crate::drift;
use crate::pipelines::{self, AgolTarget, Publication, RunOptions, SocrataTarget};
use crate::run::RunFailure;
use crate::watermark::{Destination, Since, Tracked, Watermarks, KNACK_CLOCK_MARGIN};
use crate::{Error, RunReport};

/// One container of the app and where it is published.
#[derive(Debug, Clone)]
pub struct SyncPlan {
    /// The container.
    pub container: Container,
    /// The Knack field (`field_N`) holding each record's modification time.
    pub modified_date_field: String,
    /// Location fields (`field_N`) turned into geometry by the publishers.
    pub location_fields: Vec<String>,
    /// The Socrata dataset, when the container is published there.
    pub socrata: Option<SocrataTarget>,
    /// The ArcGIS Online layer or table, when the container is published there.
    pub agol: Option<AgolTarget>,
    /// Other Knack apps the container is copied into, after its staging load.
    pub knack: Vec<KnackPlan>,
}

pub use knack::KnackPlan;
use stage::Stage;

impl SyncPlan {
    /// The stages of this container, in the order they run: postgrest, then its publishers.
    pub fn destinations(&self) -> Vec<Destination> {
        let mut all = vec![Destination::Postgrest];
        if self.socrata.is_some() {
            all.push(Destination::Socrata);
        }
        if self.agol.is_some() {
            all.push(Destination::Agol);
        }
        all.extend(self.knack.iter().map(|k| Destination::knack(&k.app_name)));
        all
    }
}

/// The clients of one run. `knack` is cloned for every container, so they share its limiter.
#[derive(Debug, Clone)]
pub struct SyncClients {
    /// Knack, with the app's API key.
    pub knack: knack_client::Client,
    /// The staging store.
    pub pgrest: pgrest_client::Client,
    /// Socrata; needed when a plan names a dataset.
    pub socrata: Option<socrata_client::Client>,
    /// ArcGIS Online; needed when a plan names a layer.
    pub agol: Option<agol_client::Client>,
    /// Knack, with each destination app's id and key, by the app's name in the config; needed
    /// when a plan copies records there ([`KnackPlan::app_name`]).
    pub knack_dests: BTreeMap<String, knack_client::Client>,
}

/// How the run reads and writes.
#[derive(Debug, Clone, Copy)]
pub struct SyncOptions {
    /// Read every stage from this instant instead of its watermark (`-d`).
    pub since: Option<DateTime<Utc>>,
    /// Read and transform, write nothing (watermarks are read, not written).
    pub dry_run: bool,
    /// Containers synced at once (at least 1).
    pub concurrency: usize,
}

/// What happened to one stage of one container.
#[derive(Debug)]
pub enum StageOutcome {
    /// The stage ran; its result, with the watermark it left.
    Ran(Tracked),
    /// The stage did not run, and why (its staging load failed, the metadata refresh failed).
    Skipped(String),
}

impl StageOutcome {
    /// Whether the stage ran and succeeded with no failed or rejected record.
    pub fn is_success(&self) -> bool {
        matches!(self, StageOutcome::Ran(t) if matches!(&t.result, Ok(r) if r.is_clean()))
    }

    /// The stage's report: what it did, or what it did before failing; `None` when skipped.
    pub fn report(&self) -> Option<&RunReport> {
        match self {
            StageOutcome::Ran(t) => Some(match &t.result {
                Ok(report) => report,
                Err(failure) => &failure.report,
            }),
            StageOutcome::Skipped(_) => None,
        }
    }
}

/// One row of the run's summary.
#[derive(Debug)]
pub struct StageResult {
    /// The container id.
    pub container_id: String,
    /// The stage.
    pub destination: Destination,
    /// What happened.
    pub outcome: StageOutcome,
}

/// The whole run: the metadata refresh and every stage, containers in plan order.
#[derive(Debug)]
pub struct SyncReport {
    /// `metadata-to-postgrest`'s outcome.
    pub metadata: Result<RunReport, RunFailure>,
    /// The metadata refresh of each Knack destination app, by its name in the config.
    pub dest_metadata: Vec<(String, Result<RunReport, RunFailure>)>,
    /// Every stage of every container.
    pub stages: Vec<StageResult>,
}

impl SyncReport {
    /// Whether every stage (and the metadata refresh) succeeded.
    pub fn is_success(&self) -> bool {
        self.metadata.is_ok()
            && self.dest_metadata.iter().all(|(_, m)| m.is_ok())
            && self.stages.iter().all(|s| s.outcome.is_success())
    }
}

/// Checks, before the first write of a sync, that the staging store and every destination the
/// plans name can take the run (the same checks each publisher makes: [`crate::preflight`]).
/// One request per table, dataset and layer.
///
/// # Errors
/// [`Error::Preflight`] naming the first destination that cannot take the run and the fix; a
/// client's own error when a check could not be made (unreachable, wrong credentials).
pub async fn preflight(
    clients: &SyncClients,
    app_id: &str,
    plans: &[SyncPlan],
) -> Result<(), Error> {
    crate::preflight::staging(&clients.pgrest, app_id).await?;
    for plan in plans {
        if let (Some(target), Some(socrata)) = (&plan.socrata, &clients.socrata) {
            crate::preflight::socrata(socrata, &target.resource_id).await?;
        }
        if let (Some(target), Some(agol)) = (&plan.agol, &clients.agol) {
            crate::preflight::agol(
                agol,
                &target.service_id,
                target.selector,
                &target.matching_field,
            )
            .await?;
        }
    }
    Ok(())
}

/// Syncs `plans` of app `app_id`: see the module docs. Never stops early: a failed stage skips
/// only the publishers of its own container.
pub async fn sync(
    clients: &SyncClients,
    app_id: &str,
    plans: &[SyncPlan],
    options: SyncOptions,
) -> SyncReport {
    let refreshed =
        pipelines::refresh_metadata(&clients.knack, &clients.pgrest, options.dry_run).await;
    // The app's timezone, read once here instead of once per container: an incremental load
    // filters Knack by the app's local day. Unreadable, each load reads it (and says why).
    let timezone = refreshed
        .as_ref()
        .ok()
        .and_then(|(_, metadata)| metadata.timezone().ok());
    let metadata = refreshed.map(|(report, _)| report);
    if let Err(failure) = &metadata {
        let why = format!("the metadata refresh failed: {}", failure.error);
        let stages = plans
            .iter()
            .flat_map(|plan| {
                plan.destinations()
                    .into_iter()
                    .map(|destination| StageResult {
                        container_id: plan.container.id().to_string(),
                        destination,
                        outcome: StageOutcome::Skipped(why.clone()),
                    })
            })
            .collect();
        return SyncReport {
            metadata,
            dest_metadata: Vec::new(),
            stages,
        };
    }
    let dest_metadata = knack::refresh_destinations(clients, plans, options.dry_run).await;
    let watermarks = Watermarks::new(clients.pgrest.clone(), app_id);
    let per_container: Vec<(usize, Vec<StageResult>)> = stream::iter(plans.iter().enumerate())
        .map(|(i, plan)| {
            let (watermarks, dest_metadata) = (&watermarks, &dest_metadata);
            async move {
                let mut stages =
                    sync_container(clients, watermarks, app_id, plan, timezone, options).await;
                let staged = stages.first().is_some_and(|s| s.outcome.is_success());
                for dest in &plan.knack {
                    let stage = Stage {
                        watermarks,
                        container_id: plan.container.id(),
                        options,
                    };
                    stages.push(if staged {
                        knack::run(clients, &stage, dest, dest_metadata).await
                    } else {
                        StageResult {
                            container_id: plan.container.id().to_string(),
                            destination: Destination::knack(&dest.app_name),
                            outcome: StageOutcome::Skipped(format!(
                                "the staging load of {} failed",
                                plan.container.id()
                            )),
                        }
                    });
                }
                (i, stages)
            }
        })
        .buffer_unordered(options.concurrency.max(1))
        .collect()
        .await;
    let mut per_container = per_container;
    per_container.sort_by_key(|(i, _)| *i);
    SyncReport {
        metadata,
        dest_metadata: dest_metadata
            .into_iter()
            .map(|(name, refreshed)| (name, refreshed.map(|(report, _)| report)))
            .collect(),
        stages: per_container.into_iter().flat_map(|(_, s)| s).collect(),
    }
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

fn run_options(since: Option<DateTime<Utc>>, dry_run: bool) -> RunOptions {
    RunOptions {
        since,
        allow_empty_replace: false,
        dry_run,
    }
}

async fn sync_container(
    clients: &SyncClients,
    watermarks: &Watermarks,
    app_id: &str,
    plan: &SyncPlan,
    timezone: Option<Tz>,
    options: SyncOptions,
) -> Vec<StageResult> {
    let id = plan.container.id();
    let stage = Stage {
        watermarks,
        container_id: id,
        options,
    };
    let staged = stage
        .run(
            Destination::Postgrest,
            Some(&clients.knack),
            |knack, since| async move {
                pipelines::records_to_postgrest_in(
                    knack,
                    &clients.pgrest,
                    &plan.container,
                    Some(plan.modified_date_field.as_str()),
                    timezone,
                    &run_options(since, options.dry_run),
                )
                .await
            },
        )
        .await;
    let staging_ok = staged.outcome.is_success();
    let mut results = vec![staged];
    let publication = &Publication {
        app_id: app_id.to_string(),
        container: plan.container.clone(),
        location_fields: plan.location_fields.clone(),
    };
    let skipped = |destination| StageResult {
        container_id: id.to_string(),
        destination,
        outcome: StageOutcome::Skipped(format!("the staging load of {id} failed")),
    };
    if let Some(target) = &plan.socrata {
        results.push(if !staging_ok {
            skipped(Destination::Socrata)
        } else {
            stage
                .run(
                    Destination::Socrata,
                    clients.socrata.as_ref(),
                    |client, since| async move {
                        // A dataset that may not be replaced gets an upsert of every staged row
                        // when it has no watermark, instead of a refusal.
                        let since = match since {
                            None if target.no_replace => Some(DateTime::<Utc>::UNIX_EPOCH),
                            since => since,
                        };
                        let run = run_options(since, options.dry_run);
                        let mut report = pipelines::records_to_socrata(
                            &clients.pgrest,
                            client,
                            publication,
                            target,
                            &run,
                        )
                        .await?;
                        // An incremental publish cannot see rows removed behind its back.
                        if since.is_some() {
                            drift::repair_socrata(
                                &clients.pgrest,
                                client,
                                publication,
                                target,
                                options.dry_run,
                                &mut report,
                            )
                            .await?;
                        }
                        Ok(report)
                    },
                )
                .await
        });
    }
    if let Some(target) = &plan.agol {
        results.push(if !staging_ok {
            skipped(Destination::Agol)
        } else {
            stage
                .run(
                    Destination::Agol,
                    clients.agol.as_ref(),
                    |client, since| async move {
                        let run = run_options(since, options.dry_run);
                        let mut report = pipelines::records_to_agol(
                            &clients.pgrest,
                            client,
                            publication,
                            target,
                            &run,
                        )
                        .await?;
                        if since.is_some() {
                            drift::repair_agol(
                                &clients.pgrest,
                                client,
                                publication,
                                target,
                                options.dry_run,
                                &mut report,
                            )
                            .await?;
                        }
                        Ok(report)
                    },
                )
                .await
        });
    }
    results
}
