//! [`FakeApp`]: the four fake servers seeded with the generated fixture app (its metadata, the 60
//! records of `view_1`, its Socrata dataset and ArcGIS service), and what the tests read back
//! from them.

use std::collections::BTreeMap;

use agol_client::testkit::FakeAgol;
use knack_client::testkit::FakeKnack;
use knack_client::Container;
use pgrest_client::testkit::FakePostgrest;
use serde_json::{Map, Value};
use socrata_client::testkit::{FakeDataset, FakeSocrata};

/// The generated app's id (the fixture metadata's `application.id`).
pub const APP_ID: &str = "807d63882254235602b447c3";
/// The scene holding the fixture view.
pub const SCENE: &str = "scene_1";
/// The fixture view (in `scene_1`, over `object_1`).
pub const VIEW: &str = "view_1";
/// The fixture view's address field, turned into geometry.
pub const LOCATION_FIELD: &str = "field_9";
/// The fixture view's modified-date field.
pub const MODIFIED_FIELD: &str = "field_21";
/// The fixture's Socrata dataset.
pub const DATASET: &str = "acc1-0001";
/// The ArcGIS layer the fixture service calls `signals` (REST id 0).
pub const LAYER: u32 = 0;
/// Records in `records_view_1.json`.
pub const RECORDS: usize = 60;

/// A fixture of this crate's `tests/fixtures` (the generated app, produced by the original), as
/// JSON.
///
/// # Panics
/// When the file is missing or is not JSON.
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

/// The fixture view's records, as Knack sends them.
pub fn fixture_records() -> Vec<Value> {
    fixture("records_view_1.json")
        .as_array()
        .expect("records_view_1.json is a list")
        .clone()
}

/// The fixture view as knack-client reads it.
pub fn container() -> Container {
    Container::view(SCENE, VIEW).expect("scene_1/view_1 is a view")
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

/// The four fakes, seeded with the fixture app.
pub struct FakeApp {
    /// Knack, with the fixture metadata and records, and no rate limit.
    pub knack: FakeKnack,
    /// The staging store's PostgREST, with the staging schema and nothing staged.
    pub pg: FakePostgrest,
    /// Socrata, with the fixture dataset and no rows.
    pub socrata: FakeSocrata,
    /// ArcGIS Online, with the fixture service (layer 0 `signals`, table 1) and no features.
    pub agol: FakeAgol,
}

impl FakeApp {
    /// Starts the four fakes: Knack takes `knack_key` for the fixture app, PostgREST `jwt`.
    pub async fn start(knack_key: &str, jwt: &str) -> Self {
        let knack = FakeKnack::start_for(APP_ID, knack_key).await;
        knack.set_rate_limit(None);
        knack.set_metadata(fixture("metadata.json"));
        knack.set_records(&container(), fixture_records());
        let pg = FakePostgrest::staging(jwt).await;
        let socrata = FakeSocrata::start().await;
        socrata.add_dataset(FakeDataset::from_metadata(&fixture("socrata_dataset.json")));
        let agol = FakeAgol::start().await;
        Self {
            knack,
            pg,
            socrata,
            agol,
        }
    }

    /// The fixture view's staged rows, by record id: `record_id → record`.
    pub fn staged_records(&self) -> BTreeMap<String, Value> {
        self.pg
            .rows("knack")
            .into_iter()
            .filter(|r| r["app_id"] == APP_ID && r["container_id"] == VIEW)
            .map(|r| {
                let id = r["record_id"].as_str().unwrap_or_default().to_string();
                (id, r["record"].clone())
            })
            .collect()
    }

    /// Socrata's stored rows by `id`, null fields left out: Socrata does not store nulls (a
    /// missing field reads as null), and the fake keeps them on insert but drops them on update.
    pub fn socrata_rows(&self) -> BTreeMap<String, Map<String, Value>> {
        self.socrata
            .rows(DATASET)
            .into_iter()
            .map(|r| {
                let id = r["id"].as_str().unwrap_or_default().to_string();
                (id, without_nulls(r))
            })
            .collect()
    }

    /// ArcGIS's stored features of the layer, by `id` attribute.
    pub fn agol_features(&self) -> BTreeMap<String, agol_client::Feature> {
        self.agol
            .features(LAYER)
            .into_iter()
            .map(|f| {
                let id = f.attributes["id"].as_str().unwrap_or_default().to_string();
                (id, f)
            })
            .collect()
    }

    /// The requests that change something, per destination: PostgREST and Socrata as
    /// `METHOD path`, ArcGIS as its edit operation.
    pub fn writes(&self) -> (Vec<String>, Vec<String>, Vec<String>) {
        let changes = |requests: Vec<(String, String)>| -> Vec<String> {
            requests
                .into_iter()
                .filter(|(method, _)| method != "GET" && method != "HEAD")
                .map(|(method, path)| format!("{method} {path}"))
                .collect()
        };
        let pg = changes(
            self.pg
                .requests()
                .into_iter()
                .map(|r| (r.method, r.path))
                .collect(),
        );
        let socrata = self.socrata.requests().into_iter();
        let socrata = changes(socrata.map(|r| (r.method, r.path)).collect());
        const EDITS: [&str; 5] = [
            "addFeatures",
            "updateFeatures",
            "deleteFeatures",
            "applyEdits",
            "truncate",
        ];
        let agol = self
            .agol
            .requests()
            .into_iter()
            .filter(|r| EDITS.contains(&r.operation.as_str()))
            .map(|r| r.operation)
            .collect();
        (pg, socrata, agol)
    }

    /// How many requests the four fakes received in all.
    pub fn request_count(&self) -> usize {
        self.knack.requests().len()
            + self.pg.requests().len()
            + self.socrata.requests().len()
            + self.agol.requests().len()
    }
}
