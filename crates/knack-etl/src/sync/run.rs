//! The sync itself: the preflight of every destination, then the metadata once and per container
//! (at once, bounded) the staging load and, only when it succeeded, each publisher and Knack copy.

use chrono_tz::Tz;
use futures::stream::{self, StreamExt};

use super::knack;
use super::plan::{SyncClients, SyncOptions, SyncPlan};
use super::report::{StageOutcome, StageResult, SyncReport};
use super::schema::{dest_schemas, DestSchemas, Fingerprint, SchemaCheck, Schemas, SCHEMA_TABLE};
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
    let schemas = Schemas::new(clients.pgrest.clone(), app_id);
    // Read once for the whole app; unreadable (an older staging schema), the run goes on as
    // before, detecting nothing and storing nothing.
    let stored = schemas
        .all()
        .await
        .map_err(|error| {
            tracing::warn!(%error, "schema fingerprints cannot be read, so schema changes are \
                not detected this run: apply the staging schema again (`aks db init`), which adds \
                api.{SCHEMA_TABLE}");
        })
        .ok();
    let per_container: Vec<(usize, Vec<StageResult>)> = stream::iter(plans.iter().enumerate())
        .map(|(i, plan)| {
            let (watermarks, dest_metadata) = (&watermarks, &dest_metadata);
            let knack = knack_meta
                .as_ref()
                .and_then(|m| Fingerprint::of_container(m, &plan.container).ok());
            let (stored, schemas) = (stored.as_deref(), &schemas);
            async move {
                let dests =
                    dest_schemas(clients.socrata.as_ref(), clients.agol.as_ref(), plan).await;
                let check = SchemaCheck::new(plan.container.id(), stored, knack, &dests);
                announce(&check, plan, options.dry_run);
                let run = Container {
                    clients,
                    watermarks,
                    schemas,
                    check: &check,
                    options,
                };
                let mut stages = run.sync(app_id, plan, timezone, dests).await;
                let staged = stages.first().is_some_and(|s| s.outcome.is_success());
                for dest in &plan.knack {
                    let stage = Stage {
                        watermarks,
                        container_id: plan.container.id(),
                        options,
                    };
                    let full = check.full(&Destination::knack(&dest.app_name));
                    stages.push(if staged {
                        knack::run(clients, &stage, dest, dest_metadata, full).await
                    } else {
                        stage.skipped(Destination::knack(&dest.app_name))
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

/// Logs the one line naming what changed in a container's schema and what runs in full, and
/// each column to add or drop.
fn announce(check: &SchemaCheck, plan: &SyncPlan, dry_run: bool) {
    let id = plan.container.id();
    if let Some(line) = &check.line {
        let stages = check.full_stages(plan).join(", ");
        let verb = if dry_run { "would run" } else { "running" };
        tracing::info!(
            container = id,
            "schema changed: {line}; {verb} in full: {stages}"
        );
    }
    for (_, warning) in &check.warnings {
        tracing::warn!(container = id, "schema change: {warning}");
    }
}

/// One container's stages in a sync, with what they share.
struct Container<'a> {
    clients: &'a SyncClients,
    watermarks: &'a Watermarks,
    schemas: &'a Schemas,
    check: &'a SchemaCheck,
    options: SyncOptions,
}

impl Container<'_> {
    /// Adds the schema warnings about stage `result`'s destination to its notes, then stores
    /// its fingerprint after it succeeded (not in a dry run), when it changed; a failure to store
    /// is a warning: the next run repeats the full run.
    async fn remember(&self, id: &str, mut result: StageResult) -> StageResult {
        if let StageOutcome::Ran(tracked) = &mut result.outcome {
            let notes = match &mut tracked.result {
                Ok(report) => &mut report.notes,
                Err(failure) => &mut failure.report.notes,
            };
            let warnings = self.check.warnings.iter();
            let mine = warnings.filter(|(d, _)| *d == result.destination);
            notes.extend(mine.map(|(_, w)| format!("schema change: {w}")));
        }
        self.store(id, &result).await;
        result
    }

    async fn store(&self, id: &str, result: &StageResult) {
        if self.options.dry_run || !result.outcome.is_success() {
            return;
        }
        let Some((print, change)) = self.check.to_store(&result.destination) else {
            return;
        };
        let stored = self
            .schemas
            .store(id, &result.destination, print, change.as_deref());
        if let Err(error) = stored.await {
            tracing::warn!(container = id, destination = %result.destination, %error,
                "the schema fingerprint could not be stored; the next run repeats the full run");
        }
    }

    /// The staging load of `plan`, then (only when it succeeded) its publishers, each in full
    /// when the schema check says so; each fingerprint stored after its stage succeeded.
    async fn sync(
        &self,
        app_id: &str,
        plan: &SyncPlan,
        timezone: Option<Tz>,
        dests: DestSchemas,
    ) -> Vec<StageResult> {
        let (clients, options) = (self.clients, self.options);
        let (id, dry_run) = (plan.container.id(), options.dry_run);
        let stage = Stage {
            watermarks: self.watermarks,
            container_id: id,
            options,
        };
        let full = |d: &Destination| self.check.full(d);
        let staged = stage
            .run(
                Destination::Postgrest,
                Some(&clients.knack),
                full(&Destination::Postgrest),
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
        let staged = self.remember(id, staged).await;
        let staging_ok = staged.outcome.is_success();
        let mut results = vec![staged];
        let publication = &plan.publication(app_id);
        let (DestSchemas { dataset, layer, .. }, pgrest) = (dests, &clients.pgrest);
        if let Some(target) = &plan.socrata {
            let d = Destination::Socrata;
            let result = if staging_ok {
                let why = full(&d);
                let publish = |client, since| {
                    socrata::drift::publish(
                        pgrest,
                        client,
                        publication,
                        target,
                        since,
                        dry_run,
                        dataset,
                    )
                };
                stage.run(d, clients.socrata.as_ref(), why, publish).await
            } else {
                stage.skipped(d)
            };
            results.push(self.remember(id, result).await);
        }
        if let Some(target) = &plan.agol {
            let d = Destination::Agol;
            let result = if staging_ok {
                let why = full(&d);
                let publish = |client, since| {
                    agol::drift::publish(pgrest, client, publication, target, since, dry_run, layer)
                };
                stage.run(d, clients.agol.as_ref(), why, publish).await
            } else {
                stage.skipped(d)
            };
            results.push(self.remember(id, result).await);
        }
        results
    }
}
