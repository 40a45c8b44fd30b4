//! `status --verify`'s comparison: one container's records counted in Knack and in the staging
//! store, and each of its destinations compared with the staged rows by counts and by ids, always
//! (so a swap that keeps the count is found; a sync's own check reads ids only when counts
//! differ).

use futures::StreamExt;
use knack_client::RecordsQuery;

use super::plan::{SyncClients, SyncPlan};
use crate::agol::drift::compare_layer;
use crate::socrata::drift::compare_dataset;
use crate::staging::{Drift, IdCheck, Staged};
use crate::Error;

/// One container compared with Knack and with its destinations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    /// Records Knack has for the container (its `total_records`).
    pub knack: u64,
    /// Rows staged for the container.
    pub staged: u64,
    /// The Socrata dataset against the staged rows of the containers publishing to it, when the
    /// plan names one and the clients have a Socrata client.
    pub socrata: Option<Drift>,
    /// The ArcGIS Online layer or table, likewise, compared on its matching field.
    pub agol: Option<Drift>,
}

impl Verification {
    /// Whether the staging store is out of step with Knack (by counts).
    pub fn is_staging_drift(&self) -> bool {
        self.knack != self.staged
    }

    /// Whether anything is out of step: the staging store or a destination.
    pub fn is_drift(&self) -> bool {
        self.is_staging_drift()
            || self.socrata.as_ref().is_some_and(Drift::is_drift)
            || self.agol.as_ref().is_some_and(Drift::is_drift)
    }
}

/// Compares `plan`'s container of app `app_id`: 1 Knack request (`total_records`), 1 PostgREST
/// count, and per destination 1 count request each side plus the ids of both (1 PostgREST
/// request per 10,000 staged rows, 1 Socrata request per 1,000 rows; for ArcGIS Online a token,
/// 2 item/layer look-ups and 1 request per page of features). Reads only.
///
/// # Errors
/// The first error of Knack, the staging store or a destination.
pub async fn verify(
    clients: &SyncClients,
    app_id: &str,
    plan: &SyncPlan,
) -> Result<Verification, Error> {
    let first = clients
        .knack
        .pages(
            &plan.container,
            RecordsQuery::new().rows_per_page(1).limit(1),
        )
        .boxed()
        .next()
        .await
        .transpose()?;
    let own = Staged {
        pgrest: &clients.pgrest,
        app_id,
        container_id: plan.container.id(),
        shared_with: &[],
    };
    let mut verification = Verification {
        knack: first.map_or(0, |p| p.total_records),
        staged: own.count().await?,
        ..Verification::default()
    };
    if let (Some(target), Some(client)) = (&plan.socrata, &clients.socrata) {
        let staged = Staged {
            shared_with: &target.shared_with,
            ..own
        };
        verification.socrata =
            Some(compare_dataset(&staged, client, &target.resource_id, IdCheck::Always).await?);
    }
    if let (Some(target), Some(client)) = (&plan.agol, &clients.agol) {
        let layer = client
            .layer_from_item(&target.service_id, target.selector)
            .await?;
        let staged = Staged {
            shared_with: &target.shared_with,
            ..own
        };
        verification.agol =
            Some(compare_layer(&staged, &layer, &target.matching_field, IdCheck::Always).await?);
    }
    Ok(verification)
}
