//! The four fake servers wired together with the generated app fixture, for the end-to-end tests.

#![allow(dead_code)]

use std::collections::BTreeMap;

use agol_client::testkit::{FakeAgol, ITEM_ID};
use agol_client::LayerSelector;
use knack_client::testkit::FakeKnack;
use knack_client::Container;
use knack_etl::pipelines::{AgolTarget, Publication, RunOptions, SocrataTarget};
use knack_etl::{agol_client, knack_client, pgrest_client, socrata_client};
use knack_etl::{RunFailure, RunReport};
use pgrest_client::testkit::FakePostgrest;
use serde_json::{Map, Value};
use socrata_client::testkit::{FakeDataset, FakeSocrata};

/// The generated app's id (the fixture metadata's `application.id`).
pub const APP_ID: &str = "807d63882254235602b447c3";
pub const SCENE: &str = "scene_1";
pub const VIEW: &str = "view_1";
pub const LOCATION_FIELD: &str = "field_9";
pub const MODIFIED_FIELD: &str = "field_21";
pub const DATASET: &str = "acc1-0001";
pub const JWT: &str = "e2e-test-jwt";
/// The AGOL layer the fixture service calls `signals` (REST id 0).
pub const LAYER: u32 = 0;

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

pub fn fixture_records() -> Vec<Value> {
    fixture("records_view_1.json").as_array().unwrap().clone()
}

pub fn container() -> Container {
    Container::view(SCENE, VIEW).unwrap()
}

/// Every fake, seeded with the fixture app, and a client for each.
pub struct Env {
    pub knack: FakeKnack,
    pub pg: FakePostgrest,
    pub socrata: FakeSocrata,
    pub agol: FakeAgol,
    pub knack_client: knack_client::Client,
    pub pg_client: pgrest_client::Client,
    pub socrata_client: socrata_client::Client,
    pub agol_client: agol_client::Client,
}

impl Env {
    pub async fn start() -> Self {
        let knack = FakeKnack::start_for(APP_ID, "e2e-knack-key").await;
        knack.set_rate_limit(None);
        knack.set_metadata(fixture("metadata.json"));
        knack.set_records(&container(), fixture_records());
        let pg = FakePostgrest::staging(JWT).await;
        let socrata = FakeSocrata::start().await;
        socrata.add_dataset(FakeDataset::from_metadata(&fixture("socrata_dataset.json")));
        let agol = FakeAgol::start().await;
        Self {
            knack_client: knack.client_builder().build().unwrap(),
            pg_client: pg.client_builder().build().unwrap(),
            socrata_client: socrata.client_builder().build().unwrap(),
            agol_client: agol.client_builder().build().unwrap(),
            knack,
            pg,
            socrata,
            agol,
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
            service_id: ITEM_ID.to_string(),
            selector: LayerSelector::LayerIndex(0),
            matching_field: "id".to_string(),
            batch_size,
            shared_with: Vec::new(),
        }
    }

    pub async fn metadata(&self, dry_run: bool) -> Result<RunReport, RunFailure> {
        knack_etl::pipelines::metadata_to_postgrest(&self.knack_client, &self.pg_client, dry_run)
            .await
    }

    pub async fn stage(&self, options: &RunOptions) -> Result<RunReport, RunFailure> {
        knack_etl::pipelines::records_to_postgrest(
            &self.knack_client,
            &self.pg_client,
            &container(),
            Some(MODIFIED_FIELD),
            options,
        )
        .await
    }

    pub async fn to_socrata(&self, options: &RunOptions) -> Result<RunReport, RunFailure> {
        knack_etl::pipelines::records_to_socrata(
            &self.pg_client,
            &self.socrata_client,
            &self.publication(),
            &self.socrata_target(),
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
        knack_etl::pipelines::records_to_agol(
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

    /// The staged rows of the view, by record id: `record_id → record`.
    pub fn staged_records(&self) -> BTreeMap<String, Value> {
        self.pg
            .rows("knack")
            .into_iter()
            .filter(|r| r["app_id"] == APP_ID && r["container_id"] == VIEW)
            .map(|r| {
                (
                    r["record_id"].as_str().unwrap().to_string(),
                    r["record"].clone(),
                )
            })
            .collect()
    }

    /// Socrata's stored rows by `id`, null fields left out: Socrata does not store nulls (a
    /// missing field reads as null), and the fake keeps them on insert but drops them on update.
    pub fn socrata_rows(&self) -> BTreeMap<String, Map<String, Value>> {
        self.socrata
            .rows(DATASET)
            .into_iter()
            .map(|r| (r["id"].as_str().unwrap().to_string(), without_nulls(r)))
            .collect()
    }

    /// AGOL's stored features of the layer by `id` attribute.
    pub fn agol_features(&self) -> BTreeMap<String, agol_client::Feature> {
        self.agol
            .features(LAYER)
            .into_iter()
            .map(|f| (f.attributes["id"].as_str().unwrap().to_string(), f))
            .collect()
    }

    /// Requests that change something, per destination: (PostgREST, Socrata, AGOL).
    pub fn writes(&self) -> (Vec<String>, Vec<String>, Vec<String>) {
        let pg = self
            .pg
            .requests()
            .into_iter()
            .filter(|r| r.method != "GET" && r.method != "HEAD")
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        let socrata = self
            .socrata
            .requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        let agol = self
            .agol
            .requests()
            .into_iter()
            .filter(|r| {
                [
                    "addFeatures",
                    "updateFeatures",
                    "deleteFeatures",
                    "applyEdits",
                    "truncate",
                ]
                .contains(&r.operation.as_str())
            })
            .map(|r| r.operation)
            .collect();
        (pg, socrata, agol)
    }
}

/// A synthetic Knack record with a valid-looking 24-hex id.
pub fn synthetic_record(n: usize) -> Value {
    serde_json::json!({
        "id": format!("{n:024x}"),
        "field_1": format!("Signal {n}"),
        "field_1_raw": format!("Signal {n}"),
    })
}

/// The object without its null fields.
pub fn without_nulls(mut row: Map<String, Value>) -> Map<String, Value> {
    row.retain(|_, v| !v.is_null());
    row
}
