//! The sync itself: the preflight of every destination, then the metadata once and per container
//! (at once, bounded) the staging load and, only when it succeeded, each publisher and Knack copy.

use chrono_tz::Tz;
use futures::stream::{self, StreamExt};

use super::knack;
use super::plan::{SyncClients, SyncOptions, SyncPlan};
use super::report::{StageOutcome, StageResult, SyncReport};
use super::stage::Stage;
use super::watermark::{Destination, Watermarks};
use crate::engine::RunOptions;
use crate::staging::{self, records_to_postgrest_in, refresh_metadata};
use crate::{agol, socrata, Error};

/// Checks, before the first write of a sync, that the staging store and every destination the
/// plans name can take the run (the same checks each publisher makes).
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
    staging::preflight::staging(&clients.pgrest, app_id).await?;
    for plan in plans {
        if let (Some(target), Some(client)) = (&plan.socrata, &clients.socrata) {
            socrata::preflight::dataset(client, &target.resource_id).await?;
        }
        if let (Some(target), Some(client)) = (&plan.agol, &clients.agol) {
            agol::preflight::layer(
                client,
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
    let refreshed = refresh_metadata(&clients.knack, &clients.pgrest, options.dry_run).await;
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

async fn sync_container(
    clients: &SyncClients,
    watermarks: &Watermarks,
    app_id: &str,
    plan: &SyncPlan,
    timezone: Option<Tz>,
    options: SyncOptions,
) -> Vec<StageResult> {
    let (id, dry_run) = (plan.container.id(), options.dry_run);
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
                records_to_postgrest_in(
                    knack,
                    &clients.pgrest,
                    &plan.container,
                    Some(plan.modified_date_field.as_str()),
                    timezone,
                    &RunOptions::from_since(since, dry_run),
                )
                .await
            },
        )
        .await;
    let staging_ok = staged.outcome.is_success();
    let mut results = vec![staged];
    let publication = &plan.publication(app_id);
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
                    |client, since| {
                        let pgrest = &clients.pgrest;
                        socrata::drift::publish(pgrest, client, publication, target, since, dry_run)
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
                .run(Destination::Agol, clients.agol.as_ref(), |client, since| {
                    let pgrest = &clients.pgrest;
                    agol::drift::publish(pgrest, client, publication, target, since, dry_run)
                })
                .await
        });
    }
    results
}
