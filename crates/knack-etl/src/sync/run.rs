//! The sync itself: the preflight of every destination, then the metadata once and per container
//! (at once, bounded) the staging load and, only when it succeeded, each publisher and Knack copy.

use chrono_tz::Tz;
use futures::stream::{self, StreamExt};

use serde_json::Value;

use super::knack::{self, DestMetadata};
use super::plan::{SyncClients, SyncOptions, SyncPlan};
use super::report::{StageOutcome, StageResult, SyncReport};
use super::schema::{dest_schemas, line, Decision, DestSchemas, Fingerprint, SchemaNow};
use super::stage::Stage;
use super::watermark::{Destination, Watermarks};
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
/// only the publishers of its own container. Only `options.stop` stops it: the stages running
/// fail with [`Error::Stopped`] and every stage not started yet is skipped.
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
    let (metadata, knack_meta) = match refreshed {
        Ok((report, meta)) => (Ok(report), Some(meta)),
        Err(failure) => (Err(failure), None),
    };
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
            let knack = knack_meta
                .as_ref()
                .and_then(|m| Fingerprint::of_container(m, &plan.container).ok());
            async move {
                let dests =
                    dest_schemas(clients.socrata.as_ref(), clients.agol.as_ref(), plan).await;
                let run = Container {
                    clients,
                    watermarks,
                    now: SchemaNow::new(knack, &dests, plan),
                    dest_metadata,
                    options,
                };
                let (stages, decided) = run.sync(app_id, plan, timezone, dests).await;
                announce(plan, &stages, &decided, options.dry_run);
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

/// Logs the one line naming what changed in a container's schema, as its stages found it, and
/// which of them ran (in a dry run: would run) in full; then each column to add or drop.
fn announce(plan: &SyncPlan, stages: &[StageResult], decided: &[Decision], dry_run: bool) {
    let id = plan.container.id();
    if let Some(line) = line(id, &decided.iter().collect::<Vec<_>>()) {
        let full = stages.iter().zip(decided).filter(|(_, d)| d.full.is_some());
        let full: Vec<&str> = full.map(|(s, _)| s.destination.as_str()).collect();
        let verb = if dry_run { "would run" } else { "ran" };
        tracing::info!(
            container = id,
            "schema changed: {line}; {verb} in full: {}",
            full.join(", ")
        );
    }
    let mut warnings: Vec<&String> = decided.iter().flat_map(|d| &d.warnings).collect();
    warnings.dedup();
    for warning in warnings {
        tracing::warn!(container = id, "schema change: {warning}");
    }
}

/// One container's stages in a sync, with what they share.
struct Container<'a> {
    clients: &'a SyncClients,
    watermarks: &'a Watermarks,
    /// What its stages are computed from now.
    now: SchemaNow,
    dest_metadata: &'a DestMetadata,
    options: SyncOptions,
}

impl Container<'_> {
    /// The staging load of `plan`, then (only when it succeeded) its publishers and Knack
    /// copies, each in full when the fingerprint its row held says so (a publisher also when the
    /// staging load found a Knack-side change), each new fingerprint stored by its stage's close.
    /// Every stage's result, with what it decided.
    async fn sync(
        &self,
        app_id: &str,
        plan: &SyncPlan,
        timezone: Option<Tz>,
        dests: DestSchemas,
    ) -> (Vec<StageResult>, Vec<Decision>) {
        let (clients, options, now) = (self.clients, self.options, &self.now);
        let id = plan.container.id();
        let stage = Stage {
            watermarks: self.watermarks,
            container_id: id,
            options,
        };
        let (staged, decision) = stage
            .run(
                Destination::Postgrest,
                Some(&clients.knack),
                |stored| now.decide(&Destination::Postgrest, stored, &[]),
                |knack, since| async move {
                    records_to_postgrest_in(
                        knack,
                        &clients.pgrest,
                        &plan.container,
                        Some(plan.modified_date_field.as_str()),
                        timezone,
                        &options.run(since),
                    )
                    .await
                },
            )
            .await;
        let staging_ok = staged.outcome.is_success();
        let knack_changed = &decision.changes.clone();
        let decide =
            |d: Destination| move |stored: Option<&Value>| now.decide(&d, stored, knack_changed);
        let (mut results, mut decided) = (vec![staged], vec![decision]);
        let mut push = |(result, decision): (StageResult, Decision)| {
            results.push(result);
            decided.push(decision);
        };
        let skipped = |d| (stage.skipped(d), Decision::default());
        let publication = &plan.publication(app_id);
        let (DestSchemas { dataset, layer, .. }, pgrest) = (dests, &clients.pgrest);
        if let Some(target) = &plan.socrata {
            let d = Destination::Socrata;
            push(if staging_ok {
                let publish = |client, since| {
                    socrata::drift::publish(
                        pgrest,
                        client,
                        publication,
                        target,
                        options.run(since),
                        dataset,
                    )
                };
                let socrata = clients.socrata.as_ref();
                stage.run(d.clone(), socrata, decide(d), publish).await
            } else {
                skipped(d)
            });
        }
        if let Some(target) = &plan.agol {
            let d = Destination::Agol;
            push(if staging_ok {
                let publish = |client, since| {
                    let options = options.run(since);
                    agol::drift::publish(pgrest, client, publication, target, options, layer)
                };
                stage
                    .run(d.clone(), clients.agol.as_ref(), decide(d), publish)
                    .await
            } else {
                skipped(d)
            });
        }
        for dest in &plan.knack {
            let d = Destination::knack(&dest.app_name);
            push(if staging_ok {
                knack::run(clients, &stage, dest, self.dest_metadata, decide(d)).await
            } else {
                skipped(d)
            });
        }
        (results, decided)
    }
}
