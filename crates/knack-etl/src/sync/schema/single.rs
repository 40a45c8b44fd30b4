//! A per-stage command's schema check ([`run_stage`](crate::sync::run_stage)): the stage's
//! fingerprint against the stored one, from the **stored** metadata (a per-stage command does
//! not refresh it: `metadata-to-postgrest` does) and the one destination it publishes to. A change
//! runs the stage in full, as in a sync, and its fingerprint is stored after it succeeded.

use super::check::{dest_schemas, DestSchemas, SchemaCheck};
use super::{Fingerprint, Schemas};
use crate::engine::{RunFailure, RunReport};
use crate::staging::load_metadata;
use crate::sync::plan::SyncPlan;
use crate::sync::stage::StageClients;
use crate::sync::watermark::Destination;

/// One stage's check outside a sync.
pub(crate) struct Single {
    schemas: Schemas,
    /// The comparison.
    pub(crate) check: SchemaCheck,
    /// The destination's metadata as read (handed to its publisher).
    pub(crate) dests: DestSchemas,
}

impl Single {
    /// Reads the app's fingerprints and stored metadata (two PostgREST requests) and the stage's
    /// destination (instead of its publisher's own read). What cannot be read leaves the check
    /// empty: the stage runs as asked and stores nothing.
    pub(crate) async fn read(
        clients: StageClients<'_>,
        app_id: &str,
        plan: &SyncPlan,
        destination: &Destination,
    ) -> Self {
        let schemas = Schemas::new(clients.pgrest.clone(), app_id);
        let stored = schemas.all().await.ok();
        let metadata = match stored {
            Some(_) => load_metadata(clients.pgrest, app_id).await.ok(),
            None => None,
        };
        let knack = metadata.and_then(|m| Fingerprint::of_container(&m, &plan.container).ok());
        let socrata = clients
            .socrata
            .filter(|_| *destination == Destination::Socrata);
        let agol = clients.agol.filter(|_| *destination == Destination::Agol);
        let dests = dest_schemas(socrata, agol, plan).await;
        let check = SchemaCheck::new(plan.container.id(), stored.as_deref(), knack, &dests);
        if let Some(line) = &check.line {
            tracing::info!(container = plan.container.id(), %destination,
                "schema changed: {line}; running {destination} in full");
        }
        for (_, warning) in check.warnings.iter().filter(|(d, _)| d == destination) {
            tracing::warn!(container = plan.container.id(), "schema change: {warning}");
        }
        Self {
            schemas,
            check,
            dests,
        }
    }

    /// Adds why the stage ran in full and the warnings to `result`'s notes and, after a success
    /// (not a dry run), stores the fingerprint when it changed (a failure to store is a warning).
    pub(crate) async fn finish(
        &self,
        id: &str,
        destination: &Destination,
        dry_run: bool,
        mut result: Result<RunReport, RunFailure>,
    ) -> Result<RunReport, RunFailure> {
        let notes = match &mut result {
            Ok(report) => &mut report.notes,
            Err(failure) => &mut failure.report.notes,
        };
        if let Some(why) = self.check.full(destination) {
            notes.push(match dry_run {
                true => format!("dry run: would run in full after a schema change ({why})"),
                false => format!("ran in full after a schema change ({why})"),
            });
        }
        let warnings = self.check.warnings.iter();
        let mine = warnings.filter(|(d, _)| d == destination);
        notes.extend(mine.map(|(_, w)| format!("schema change: {w}")));
        let clean = matches!(&result, Ok(r) if r.is_clean());
        if let Some((print, change)) = self
            .check
            .to_store(destination)
            .filter(|_| clean && !dry_run)
        {
            let stored = self
                .schemas
                .store(id, destination, print, change.as_deref());
            if let Err(error) = stored.await {
                tracing::warn!(container = id, %destination, %error,
                    "the schema fingerprint could not be stored; the next run repeats the full run");
            }
        }
        result
    }
}
