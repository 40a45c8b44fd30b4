//! Ordinary faults never fail a run (issue #25): whole-app syncs of a two-container app (the
//! fixture view, published to a Socrata dataset, an ArcGIS layer and a second Knack app, and its
//! object, staged only) run ten times with edits between them while 4 % of all requests to all
//! four services fail at random (seeded): 500, 502, 503, 429 with `Retry-After`, a connection
//! dropped before the request is read, and one dropped after the request was applied. Every run
//! must succeed, and the end state must equal a fault-free run's: nothing missing or doubled in
//! the staging store, Socrata, ArcGIS or the destination Knack app, which has **no**
//! modified-date rule (created records carry no modified date).

use std::collections::BTreeMap;

use chrono::Utc;
use knack_etl::agol_client::testkit::{ChaosKind, ITEM_ID};
use knack_etl::knack_client::testkit::{Chaos, FakeKnack};
use knack_etl::knack_client::Container;
use knack_etl::sync::config::{plan, Apps};
use knack_etl::sync::{sync, SyncClients, SyncOptions, SyncPlan};
use knack_etl::testkit::{fixture_records, FakeApp, APP_ID, DATASET, VIEW};
use serde_json::{json, Value};

const KNACK_KEY: &str = "chaos-knack-key";
const JWT: &str = "chaos-jwt";
const DEST: &str = "smart-mobility";
const DEST_ID: &str = "5e0000000000000000000099";
const DEST_KEY: &str = "chaos-dest-key";
const OBJECT: &str = "object_26";
const SOURCE_OBJECT: &str = "object_1";
/// The syncs of each scenario, with edits between them.
const RUNS: usize = 10;

fn dest_metadata() -> Value {
    json!({"application": {"id": DEST_ID, "name": "Smart Mobility",
        "settings": {"timezone": "Central Time (US & Canada)"},
        "objects": [{"key": OBJECT, "name": "Signals", "fields": [
            {"key": "field_380", "name": "Signal ID", "type": "short_text"},
            {"key": "field_382", "name": "Location", "type": "short_text"},
            {"key": "field_386", "name": "Modified", "type": "date_time"}]}],
        "scenes": []}})
}

/// The app's config: the view to all three destinations, the object staged only; the
/// destination container names a modified-date field (`field_386`) its app never stamps.
fn apps() -> Apps {
    serde_json::from_value(json!({
        "src": {"app_id": APP_ID, "containers": {
            VIEW: {
                "scene_id": "scene_1",
                "modified_date_field_id": "field_21",
                "socrata_resource_id": DATASET,
                "location_fields": ["field_9"],
                "service_id": ITEM_ID,
                "layer_id": 0,
                "item_type": "layer",
                "upsert_matching_field": "id",
                "knack_destinations": {DEST: {
                    "container": OBJECT,
                    "object": OBJECT,
                    "fields": [
                        {"src": "field_19_raw", "dest": "field_380", "primary_key": true},
                        {"src": "field_1_raw", "dest": "field_382"},
                    ]
                }}
            },
            SOURCE_OBJECT: {"modified_date_field_id": "field_21"}
        }},
        DEST: {"app_id": DEST_ID, "containers": {
            OBJECT: {"modified_date_field_id": "field_386"}
        }}
    }))
    .expect("the test's config is valid")
}

fn plans() -> Vec<SyncPlan> {
    let apps = apps();
    [VIEW, SOURCE_OBJECT]
        .iter()
        .map(|id| {
            let mut p = plan(&apps, "src", id).expect("a plan");
            for k in &mut p.knack {
                k.destination.source_app_id = APP_ID.to_string();
            }
            p
        })
        .collect()
}

struct Scenario {
    app: FakeApp,
    dest: FakeKnack,
    view: Container,
    object: Container,
    records: Vec<Value>,
}

impl Scenario {
    async fn start(chaos: Option<Chaos>) -> Self {
        let app = FakeApp::start(KNACK_KEY, JWT).await;
        let dest = FakeKnack::start_for(DEST_ID, DEST_KEY).await;
        dest.set_metadata(dest_metadata());
        let view = Container::view("scene_1", VIEW).unwrap();
        let object = Container::object(SOURCE_OBJECT).unwrap();
        let records = fixture_records();
        if let Some(c) = chaos {
            // One seed per service, so that each fails its own requests.
            app.knack.set_chaos(Chaos { seed: c.seed, ..c });
            app.pg.set_chaos(Chaos {
                seed: c.seed + 1,
                ..c
            });
            app.socrata.set_chaos(Chaos {
                seed: c.seed + 2,
                ..c
            });
            app.agol.set_chaos(Chaos {
                seed: c.seed + 3,
                ..c
            });
            dest.set_chaos(Chaos {
                seed: c.seed + 4,
                ..c
            });
        }
        let s = Self {
            app,
            dest,
            view,
            object,
            records,
        };
        s.publish_records();
        s
    }

    fn publish_records(&self) {
        self.app.knack.set_records(&self.view, self.records.clone());
        self.app
            .knack
            .set_records(&self.object, self.records.clone());
    }

    fn clients(&self) -> SyncClients {
        let mut dests = BTreeMap::new();
        dests.insert(
            DEST.to_string(),
            self.dest.client_builder().build().unwrap(),
        );
        SyncClients {
            knack: self.app.knack.client_builder().build().unwrap(),
            pgrest: self.app.pg.client_builder().build().unwrap(),
            socrata: Some(self.app.socrata.client_builder().build().unwrap()),
            agol: Some(self.app.agol.client_builder().build().unwrap()),
            knack_dests: dests,
        }
    }

    /// Run `run`'s edits: three records renamed, one added (modified today, so the incremental
    /// reads see them).
    fn edit(&mut self, run: usize) {
        let today = Utc::now()
            .with_timezone(&chrono_tz::America::Chicago)
            .format("%m/%d/%Y")
            .to_string();
        for k in 0..3 {
            let i = (run * 7 + k * 13) % self.records.len();
            let r = &mut self.records[i];
            let name = format!("renamed in run {run}, {k}");
            r["field_1"] = json!(name);
            r["field_1_raw"] = json!(name);
            r["field_21_raw"]["date"] = json!(today);
        }
        let mut added = self.records[run % 60].clone();
        let n = 9000 + run;
        added["id"] = json!(format!("{n:024x}"));
        added["field_19"] = json!(n);
        added["field_19_raw"] = json!(n);
        added["field_21_raw"]["date"] = json!(today);
        self.records.push(added);
        self.publish_records();
    }

    /// Everything the four destinations and the staging store hold, without ids the services
    /// assign (ArcGIS object ids, Knack destination record ids), in a stable order.
    fn end_state(&self) -> Value {
        let staged: BTreeMap<String, Value> = self
            .app
            .pg
            .rows("knack")
            .into_iter()
            .map(|r| {
                let key = format!(
                    "{}/{}/{}",
                    r["app_id"].as_str().unwrap_or_default(),
                    r["container_id"].as_str().unwrap_or_default(),
                    r["record_id"].as_str().unwrap_or_default()
                );
                let mut record = r["record"].clone();
                // A destination record's id is the fake's own counter.
                if r["app_id"] == DEST_ID {
                    record["id"] = Value::Null;
                }
                (key, record)
            })
            .collect();
        let mut dest_staged: Vec<Value> = staged
            .iter()
            .filter(|(k, _)| k.starts_with(DEST_ID))
            .map(|(_, v)| v.clone())
            .collect();
        dest_staged.sort_by_key(|v| v["field_380"].to_string());
        let source_staged: BTreeMap<&String, &Value> = staged
            .iter()
            .filter(|(k, _)| !k.starts_with(DEST_ID))
            .collect();
        let socrata = self.app.socrata_rows();
        let mut agol: Vec<Value> = self
            .app
            .agol_features()
            .into_values()
            .map(|f| {
                let mut a = f.attributes.clone();
                a.remove("OBJECTID");
                json!({"attributes": a, "geometry": f.geometry})
            })
            .collect();
        agol.sort_by_key(|v| v["attributes"]["id"].to_string());
        let mut dest: Vec<Value> = self
            .dest
            .records(&Container::object(OBJECT).unwrap())
            .into_iter()
            .map(|r| json!([r.raw()["field_380"], r.raw()["field_382"]]))
            .collect();
        dest.sort_by_key(Value::to_string);
        json!({
            "staged": source_staged,
            "dest_staged": dest_staged.len(),
            "socrata": socrata,
            "agol": agol,
            "dest": dest,
            "counts": {
                "features": self.app.agol.features(0).len(),
                "socrata": self.app.socrata.rows(DATASET).len(),
            }
        })
    }
}

/// Runs the scenario: a sync, then edits and a sync, `RUNS` times; returns the end state and
/// the failures of every run that did not succeed.
async fn scenario(chaos: Option<Chaos>) -> (Value, Vec<String>, Scenario) {
    let mut s = Scenario::start(chaos).await;
    let clients = s.clients();
    let plans = plans();
    let options = SyncOptions {
        since: None,
        dry_run: false,
        concurrency: 2,
        stop: knack_etl::Stop::process(),
    };
    let mut failures = Vec::new();
    for run in 0..RUNS {
        if run > 0 {
            s.edit(run);
        }
        let report = sync(&clients, APP_ID, &plans, options).await;
        if !report.is_success() {
            failures.push(format!("run {run}: {:?}", report.failures()));
        }
        let totals = report.totals();
        if totals.failed > 0 || totals.rejected > 0 {
            failures.push(format!("run {run}: {totals:?}"));
        }
    }
    let state = s.end_state();
    (state, failures, s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_syncs_under_four_percent_of_random_faults_end_as_a_fault_free_run() {
    let (expected, clean_failures, clean) = scenario(None).await;
    assert!(clean_failures.is_empty(), "{clean_failures:#?}");
    let records = 60 + RUNS - 1;
    assert_eq!(expected["counts"]["features"], records);
    assert_eq!(expected["counts"]["socrata"], records);
    assert_eq!(expected["dest"].as_array().unwrap().len(), records);
    assert!(clean.app.request_count() > 0);

    let chaos = Chaos {
        seed: 25,
        rate: 0.04,
    };
    let (state, failures, faulty) = scenario(Some(chaos)).await;
    let injected: Vec<(ChaosKind, usize)> = [
        faulty.app.knack.chaos_injected(),
        faulty.app.pg.chaos_injected(),
        faulty.app.socrata.chaos_injected(),
        faulty.app.agol.chaos_injected(),
        faulty.dest.chaos_injected(),
    ]
    .concat();
    let mut by_kind: BTreeMap<ChaosKind, usize> = BTreeMap::new();
    for (k, n) in &injected {
        *by_kind.entry(*k).or_default() += n;
    }
    println!("faults injected by kind: {by_kind:?}");
    println!(
        "requests: knack {}, postgrest {}, socrata {}, agol {}, destination knack {}",
        faulty.app.knack.requests().len(),
        faulty.app.pg.requests().len(),
        faulty.app.socrata.requests().len(),
        faulty.app.agol.requests().len(),
        faulty.dest.requests().len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        by_kind.values().all(|n| *n > 0),
        "every kind was injected: {by_kind:?}"
    );
    for (name, part) in ["staged", "dest_staged", "socrata", "agol", "dest", "counts"]
        .iter()
        .map(|k| (*k, &state[*k]))
    {
        assert_eq!(
            part, &expected[name],
            "{name} differs from a fault-free run"
        );
    }
}
