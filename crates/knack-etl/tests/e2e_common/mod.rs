//! The four fake servers of the fixture app ([`knack_etl::testkit::FakeApp`]) with a client for
//! each, and the pipelines run against them, for the end-to-end tests.

#![allow(dead_code)]

use std::ops::Deref;

use agol_client::testkit::ITEM_ID;
use agol_client::LayerSelector;
use knack_etl::agol::{records_to_agol, AgolTarget};
use knack_etl::socrata::{records_to_socrata, SocrataTarget};
use knack_etl::staging::{metadata_to_postgrest, records_to_postgrest, Publication};
use knack_etl::testkit::FakeApp;
use knack_etl::{agol_client, knack_client, pgrest_client, socrata_client};
use knack_etl::{RunFailure, RunOptions, RunReport};

#[allow(unused_imports)]
pub use knack_etl::testkit::{
    container, fixture, fixture_records, synthetic_record, without_nulls, APP_ID, DATASET, LAYER,
    LOCATION_FIELD, MODIFIED_FIELD, SCENE, VIEW,
};

pub const JWT: &str = "e2e-test-jwt";

/// Every fake, seeded with the fixture app, and a client for each.
pub struct Env {
    pub app: FakeApp,
    pub knack_client: knack_client::Client,
    pub pg_client: pgrest_client::Client,
    pub socrata_client: socrata_client::Client,
    pub agol_client: agol_client::Client,
}

/// The fakes themselves (`env.knack`, `env.pg`, ...) and what they hold (`env.staged_records()`).
impl Deref for Env {
    type Target = FakeApp;
    fn deref(&self) -> &FakeApp {
        &self.app
    }
}

impl Env {
    pub async fn start() -> Self {
        let app = FakeApp::start("e2e-knack-key", JWT).await;
        Self {
            knack_client: app.knack.client_builder().build().unwrap(),
            pg_client: app.pg.client_builder().build().unwrap(),
            socrata_client: app.socrata.client_builder().build().unwrap(),
            agol_client: app.agol.client_builder().build().unwrap(),
            app,
        }
    }

    pub fn publication(&self) -> Publication {
        Publication {
            app_id: APP_ID.to_string(),
            container: container(),
            location_fields: vec![LOCATION_FIELD.to_string()],
        }
    }

    pub fn socrata_target(&self) -> SocrataTarget {
        SocrataTarget {
            resource_id: DATASET.to_string(),
            ..SocrataTarget::default()
        }
    }

    pub fn agol_target(&self, batch_size: usize) -> AgolTarget {
        AgolTarget {
            batch_size,
            ..AgolTarget::new(ITEM_ID, LayerSelector::LayerIndex(0), "id")
        }
    }

    pub async fn metadata(&self, dry_run: bool) -> Result<RunReport, RunFailure> {
        metadata_to_postgrest(&self.knack_client, &self.pg_client, dry_run).await
    }

    pub async fn stage(&self, options: &RunOptions) -> Result<RunReport, RunFailure> {
        let (knack, pg) = (&self.knack_client, &self.pg_client);
        records_to_postgrest(knack, pg, &container(), Some(MODIFIED_FIELD), options).await
    }

    pub async fn to_socrata(&self, options: &RunOptions) -> Result<RunReport, RunFailure> {
        let (publication, target) = (self.publication(), self.socrata_target());
        records_to_socrata(
            &self.pg_client,
            &self.socrata_client,
            &publication,
            &target,
            options,
        )
        .await
    }

    pub async fn to_agol(
        &self,
        batch_size: usize,
        options: &RunOptions,
    ) -> Result<RunReport, RunFailure> {
        self.to_agol_with(&self.publication(), &self.agol_target(batch_size), options)
            .await
    }

    pub async fn to_agol_with(
        &self,
        publication: &Publication,
        target: &AgolTarget,
        options: &RunOptions,
    ) -> Result<RunReport, RunFailure> {
        records_to_agol(
            &self.pg_client,
            &self.agol_client,
            publication,
            target,
            options,
        )
        .await
    }

    /// Metadata and every fixture record staged (a full reload).
    pub async fn staged(self) -> Self {
        self.metadata(false).await.unwrap();
        self.stage(&RunOptions::default()).await.unwrap();
        self
    }
}
