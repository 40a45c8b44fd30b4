//! What a sync is asked to do: one [`SyncPlan`] per container (its Socrata dataset, ArcGIS layer
//! and Knack copies), the clients it runs with, and how it reads and writes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use knack_client::Container;

use super::watermark::Destination;
use crate::agol::AgolTarget;
use crate::engine::{RunOptions, Stop};
use crate::knack_copy::KnackDestination;
use crate::socrata::SocrataTarget;
use crate::staging::Publication;

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

/// A container's copy into another Knack app.
#[derive(Debug, Clone)]
pub struct KnackPlan {
    /// The destination app's name in the config (`[apps.<name>]`): the stage is
    /// `knack:<name>` and its client is `SyncClients::knack_dests[name]`.
    pub app_name: String,
    /// The field map and both sides' app and container ids.
    pub destination: KnackDestination,
    /// The destination container as Knack reads it (a view with its scene): its staged rows are
    /// refreshed from it before they are compared.
    pub dest_container: Container,
    /// The destination container's modified-date field (`field_N`), when its app's config names
    /// one: the refresh is then incremental from its watermark, else a full reload.
    pub dest_modified_field: Option<String>,
}

impl SyncPlan {
    /// What a publisher of this container reads: its rows staged under app `app_id`.
    pub fn publication(&self, app_id: &str) -> Publication {
        Publication {
            app_id: app_id.to_string(),
            container: self.container.clone(),
            location_fields: self.location_fields.clone(),
        }
    }

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
    /// The stop the sync watches ([`Stop::process`] for a program's one sync): once asked, each
    /// stage running fails with [`Error::Stopped`](crate::Error::Stopped) (its row closed as
    /// failed, its watermark kept) and no further stage starts (each reported skipped).
    pub stop: Stop,
}

impl SyncOptions {
    /// The options of one stage's run from `since`.
    pub(crate) fn run(&self, since: Option<DateTime<Utc>>) -> RunOptions {
        RunOptions {
            stop: self.stop,
            ..RunOptions::from_since(since, self.dry_run)
        }
    }
}
