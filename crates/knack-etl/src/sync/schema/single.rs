//! A per-stage command's schema check ([`run_stage`](crate::sync::run_stage)): the stage's
//! fingerprint now, from the **stored** metadata (a per-stage command does not refresh it:
//! `metadata-to-postgrest` does) and the one destination it publishes to, against the one its
//! row held when the stage opened. A change runs the stage in full, as in a sync, and its close
//! stores the new fingerprint after it succeeded.

use serde_json::Value;

use super::check::{dest_schemas, line, Decision, DestSchemas, SchemaNow};
use super::Fingerprint;
use crate::staging::load_metadata;
use crate::sync::plan::SyncPlan;
use crate::sync::stage::StageClients;
use crate::sync::watermark::Destination;

/// One stage's check outside a sync.
pub(crate) struct Single {
    now: SchemaNow,
    /// The destination's metadata as read (handed to its publisher).
    pub(crate) dests: DestSchemas,
}

impl Single {
    /// Reads the stored metadata (one PostgREST request) and the stage's destination (instead of
    /// its publisher's own read). Unreadable metadata leaves the check empty: the stage runs as
    /// asked and stores nothing.
    pub(crate) async fn read(
        clients: StageClients<'_>,
        app_id: &str,
        plan: &SyncPlan,
        destination: &Destination,
    ) -> Self {
        let metadata = load_metadata(clients.pgrest, app_id).await.ok();
        let knack = metadata.and_then(|m| Fingerprint::of_container(&m, &plan.container).ok());
        let socrata = clients
            .socrata
            .filter(|_| *destination == Destination::Socrata);
        let agol = clients.agol.filter(|_| *destination == Destination::Agol);
        let dests = dest_schemas(socrata, agol, plan).await;
        Self {
            now: SchemaNow::new(knack, &dests, plan),
            dests,
        }
    }

    /// What stage `destination` of container `id` does, given the fingerprint its row held;
    /// logs what changed and the columns to add or drop.
    pub(crate) fn decide(
        &self,
        id: &str,
        destination: &Destination,
        stored: Option<&Value>,
        dry_run: bool,
    ) -> Decision {
        let decision = self.now.decide(destination, stored, &[]);
        if let Some(line) = line(id, &[&decision]) {
            let verb = if dry_run { "would run" } else { "running" };
            tracing::info!(container = id, %destination,
                "schema changed: {line}; {verb} {destination} in full");
        }
        for warning in &decision.warnings {
            tracing::warn!(container = id, "schema change: {warning}");
        }
        decision
    }
}
