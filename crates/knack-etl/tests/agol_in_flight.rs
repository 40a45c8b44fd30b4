//! Several ArcGIS batches in flight at once (`AgolSink::in_flight`): their look-ups and
//! `applyEdits` really overlap on the fake, and the layer, the counts and the named rejections
//! are those of one batch at a time; a replace that fails mid-way with batches in flight leaves
//! every previous feature in place, none doubled.

mod e2e_common;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use e2e_common::{Env, LAYER};
use futures::StreamExt;
use knack_etl::agol::{AgolSink, AgolTarget};
use knack_etl::agol_client::{Feature, Layer, LayerSelector};
use knack_etl::{run, BatchStream, Error, RunReport, Source, WriteMode};
use serde_json::{json, Value};

/// `n` features with ids `f00000`…, in one source page of `page` features, each with a
/// `location_name` of `name(i)`.
struct Features {
    n: usize,
    page: usize,
    name: fn(usize) -> String,
}

#[async_trait]
impl Source<Feature> for Features {
    fn describe(&self) -> String {
        format!("{} features", self.n)
    }
    async fn batches(&self) -> Result<BatchStream<Feature>, Error> {
        let (n, page, name) = (self.n, self.page, self.name);
        let pages: Vec<Result<Vec<Feature>, Error>> = (0..n)
            .step_by(page)
            .map(|start| {
                Ok((start..n.min(start + page))
                    .map(|i| {
                        let mut f = Feature::default();
                        f.attributes.insert("id".into(), json!(format!("f{i:05}")));
                        f.attributes.insert("location_name".into(), json!(name(i)));
                        f
                    })
                    .collect())
            })
            .collect();
        Ok(futures::stream::iter(pages).boxed())
    }
}

async fn layer(env: &Env) -> Layer {
    env.agol_client
        .layer_from_item(agol_client::testkit::ITEM_ID, LayerSelector::LayerIndex(0))
        .await
        .unwrap()
}

/// A name too long for the 10-character `location_name` for the features in `bad`.
fn named(i: usize, bad: &[usize], short: &str) -> String {
    if bad.contains(&i) {
        "NORTH LAMAR BLVD / KOENIG LN".into()
    } else {
        format!("{short} {i}")
    }
}

/// What a run did, as the operator sees it: written, deleted, and each rejection named.
fn seen(report: &RunReport) -> (u64, u64, Vec<String>) {
    let named = report
        .rejected
        .iter()
        .map(|r| format!("{} {:?} {:?} {}", r.record_id, r.field, r.code, r.reason))
        .collect();
    (report.written, report.deleted, named)
}

/// The layer's features by id, without their object ids (assigned in arrival order).
fn contents(env: &Env) -> BTreeMap<String, Vec<(String, Value)>> {
    let mut by_id = BTreeMap::new();
    for f in env.agol.features(LAYER) {
        let id = f.attributes["id"].as_str().unwrap().to_string();
        let attributes = f
            .attributes
            .into_iter()
            .filter(|(k, _)| k != "OBJECTID")
            .collect();
        assert!(by_id.insert(id, attributes).is_none(), "a feature doubled");
    }
    by_id
}

/// An upsert of 2,000 features in batches of 250 (4 refused), then a replace of 1,800 renamed
/// ones (1 refused), with `in_flight` batches at once and 40 ms a request: what each run did,
/// the layer after, and the most `applyEdits` and look-ups seen at once.
async fn publish_twice(
    in_flight: usize,
) -> (
    Vec<(u64, u64, Vec<String>)>,
    BTreeMap<String, Vec<(String, Value)>>,
    usize,
    usize,
) {
    let env = Env::start().await;
    env.agol.set_field(
        LAYER,
        json!({"name": "location_name", "type": "esriFieldTypeString", "length": 10}),
    );
    env.agol.set_latency(Duration::from_millis(40));
    let upsert = Features {
        n: 2_000,
        page: 2_000,
        name: |i| named(i, &[17, 502, 938, 1_999], "ST"),
    };
    let replace = Features {
        n: 1_800,
        page: 1_800,
        name: |i| named(i, &[40], "AV"),
    };
    let mut reports = Vec::new();
    for (source, mode) in [(&upsert, WriteMode::Upsert), (&replace, WriteMode::REPLACE)] {
        let mut sink = AgolSink::new(layer(&env).await, "id", 250).in_flight(in_flight);
        let report = run(source, |b| Ok((b, 0)), &mut sink, mode).await.unwrap();
        reports.push(seen(&report));
    }
    let (edits, looks) = (
        env.agol.most_at_once("applyEdits"),
        env.agol.most_at_once("query"),
    );
    (reports, contents(&env), edits, looks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_in_flight_overlap_and_end_as_one_at_a_time_would() {
    let (one_reports, one_layer, one_edits, one_looks) = publish_twice(1).await;
    let (four_reports, four_layer, four_edits, four_looks) = publish_twice(4).await;

    // One at a time: each request waits for the answer before it; four: several overlap.
    assert_eq!((one_edits, one_looks), (1, 1));
    assert!(four_edits >= 2, "{four_edits} applyEdits at once");
    assert!(four_looks >= 2, "{four_looks} look-ups at once");
    assert!(four_edits <= 4, "never more than 4 at once: {four_edits}");

    assert_eq!(four_reports, one_reports);
    assert_eq!(four_layer, one_layer);
    // And that outcome is the right one: the refused named with field and ArcGIS's reason, in
    // record order, the replace keeping the refused feature's previous version.
    let reason =
        "Some(\"location_name\") Some(\"1016\") Setting of value for location_name failed.";
    let names =
        |ids: &[&str]| -> Vec<String> { ids.iter().map(|id| format!("{id} {reason}")).collect() };
    assert_eq!(
        one_reports,
        [
            (1_996, 0, names(&["f00017", "f00502", "f00938", "f01999"])),
            (1_799, 199, names(&["f00040"]))
        ]
    );
    assert_eq!(one_layer.len(), 1_800);
    let name = |id: &str| {
        one_layer[id]
            .iter()
            .find(|(k, _)| k == "location_name")
            .cloned()
    };
    assert_eq!(name("f00040").unwrap().1, "ST 40");
    assert_eq!(name("f00041").unwrap().1, "AV 41");
    assert_eq!(name("f00017").unwrap().1, "AV 17");
}

/// A replace of 2,500 renamed features over 3,000, in one page of batches of 500 sent
/// `in_flight` at once, whose second `applyEdits` to arrive is refused for a reason no split
/// can cure: every previous feature stays, none doubled, nothing deleted; the next run finishes.
async fn replace_failing_mid_way(in_flight: usize) {
    let env = Env::start().await;
    env.agol.set_latency(Duration::from_millis(20));
    let first = Features {
        n: 3_000,
        page: 3_000,
        name: |i| format!("ST {i}"),
    };
    let mut sink = AgolSink::new(layer(&env).await, "id", 500).in_flight(in_flight);
    run(&first, |b| Ok((b, 0)), &mut sink, WriteMode::REPLACE)
        .await
        .unwrap();
    let before = contents(&env);
    assert_eq!(before.len(), 3_000);

    let second = Features {
        n: 2_500,
        page: 2_500,
        name: |i| format!("AVE {i}"),
    };
    env.agol.inject_after(
        "/applyEdits",
        1,
        agol_client::testkit::arcgis_error(
            403,
            "You do not have permissions to access this resource or perform this operation.",
        )
        .on_path("/applyEdits"),
    );
    let mut sink = AgolSink::new(layer(&env).await, "id", 500).in_flight(in_flight);
    let failure = run(&second, |b| Ok((b, 0)), &mut sink, WriteMode::REPLACE)
        .await
        .unwrap_err();

    let report = &failure.report;
    assert_eq!(report.read, 2_500, "{failure}");
    assert_eq!(report.failed % 500, 0, "whole batches failed: {failure}");
    assert!(report.failed >= 500, "{failure}");
    assert_eq!(report.written + report.failed, 2_500, "{failure}");
    assert_eq!(report.deleted, 0);
    assert!(env.agol.requests_for("deleteFeatures").is_empty());
    let after = contents(&env);
    assert_eq!(after.len(), 3_000, "every previous feature is still there");
    let renamed = after
        .values()
        .filter(|f| {
            f.iter()
                .any(|(k, v)| k == "location_name" && v.as_str().unwrap().starts_with("AVE"))
        })
        .count();
    assert_eq!(renamed as u64, report.written, "what was written, once");

    let mut sink = AgolSink::new(layer(&env).await, "id", 500).in_flight(in_flight);
    let report = run(&second, |b| Ok((b, 0)), &mut sink, WriteMode::REPLACE)
        .await
        .unwrap();
    assert_eq!((report.written, report.deleted), (2_500, 500));
    assert_eq!(contents(&env).len(), 2_500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replace_failing_mid_way_with_batches_in_flight_keeps_every_feature_once() {
    replace_failing_mid_way(AgolTarget::DEFAULT_IN_FLIGHT).await;
    replace_failing_mid_way(1).await;
}
