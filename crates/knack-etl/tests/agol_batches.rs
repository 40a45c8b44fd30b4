//! ArcGIS batches sized by the layer: 1,000 features per `applyEdits` by default, fewer when the
//! layer's `maxRecordCount` or the byte bound says so, one look-up `query` per batch; a refused
//! feature among 1,000 found in a few requests; a replace that fails mid-way with large batches
//! leaves the layer whole.

mod e2e_common;

use std::collections::BTreeMap;

use async_trait::async_trait;
use e2e_common::{Env, LAYER};
use futures::StreamExt;
use knack_etl::agol::{AgolSink, AgolTarget};
use knack_etl::agol_client::{Feature, Layer, LayerSelector};
use knack_etl::{run, BatchStream, Error, RunReport, Source, WriteMode};
use serde_json::json;

/// `n` features with ids `f00000`…, in source pages of `page` features, each with a
/// `location_name` of `name(i)`.
struct Features {
    n: usize,
    page: usize,
    name: fn(usize) -> String,
}

fn feature(i: usize, name: String) -> Feature {
    let mut f = Feature::default();
    f.attributes.insert("id".into(), json!(format!("f{i:05}")));
    f.attributes.insert("location_name".into(), json!(name));
    f
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
                    .map(|i| feature(i, name(i)))
                    .collect())
            })
            .collect();
        Ok(futures::stream::iter(pages).boxed())
    }
}

fn plain(i: usize) -> String {
    format!("ST {i}")
}

async fn layer(env: &Env) -> Layer {
    env.agol_client
        .layer_from_item(agol_client::testkit::ITEM_ID, LayerSelector::LayerIndex(0))
        .await
        .unwrap()
}

async fn publish(sink: &mut AgolSink, source: &Features, mode: WriteMode) -> RunReport {
    run(source, |b| Ok((b, 0)), sink, mode).await.unwrap()
}

/// id → how many features of the layer carry it.
fn counts(env: &Env) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for f in env.agol.features(LAYER) {
        let id = f.attributes["id"].as_str().unwrap().to_string();
        *counts.entry(id).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn a_default_batch_is_a_thousand_features_and_one_look_up() {
    let env = Env::start().await;
    let target = env.agol_target(AgolTarget::DEFAULT_BATCH_SIZE);
    assert_eq!(target.batch_size, 1_000);
    let mut sink =
        AgolSink::new(layer(&env).await, "id", target.batch_size).batch_bytes(target.batch_bytes);
    env.agol.clear_requests();
    let source = Features {
        n: 2_500,
        page: 2_500,
        name: plain,
    };

    let report = publish(&mut sink, &source, WriteMode::Upsert).await;

    assert_eq!(report.written, 2_500);
    let edits = env.agol.requests_for("applyEdits");
    // The three batches are in flight together (4 by default), so they arrive in any order.
    let mut sizes: Vec<usize> = edits
        .iter()
        .map(|r| {
            let adds: Vec<serde_json::Value> =
                serde_json::from_str(r.param("adds").unwrap()).unwrap();
            adds.len()
        })
        .collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [500, 1_000, 1_000]);
    // The look-up of each batch's existing features is one request, a POST (its `where` lists
    // up to 1,000 ids, too long for a URL).
    let queries = env.agol.requests_for("query");
    assert_eq!(queries.len(), 3, "{queries:?}");
    assert!(queries.iter().all(|q| q.method == "POST"));
    assert_eq!(counts(&env).len(), 2_500);
}

#[tokio::test]
async fn a_batch_never_exceeds_the_layers_max_record_count_nor_its_bytes() {
    let env = Env::start().await;
    env.agol.set_max_record_count(LAYER, 400);
    let mut sink = AgolSink::new(layer(&env).await, "id", 1_000);
    env.agol.clear_requests();
    let source = Features {
        n: 1_000,
        page: 1_000,
        name: plain,
    };
    publish(&mut sink, &source, WriteMode::Upsert).await;
    assert_eq!(
        env.agol.requests_for("applyEdits").len(),
        3,
        "400 + 400 + 200"
    );
    assert_eq!(env.agol.requests_for("query").len(), 3);

    // Long names: about 2 KB a feature, so 100 KB holds fewer than 50 of them.
    let env = Env::start().await;
    let mut sink = AgolSink::new(layer(&env).await, "id", 1_000).batch_bytes(100_000);
    env.agol.clear_requests();
    let source = Features {
        n: 200,
        page: 200,
        name: |i| format!("{i} {}", "x".repeat(2_000)),
    };
    env.agol.set_field(
        LAYER,
        json!({"name": "location_name", "type": "esriFieldTypeString", "length": 4000}),
    );
    let report = publish(&mut sink, &source, WriteMode::Upsert).await;
    assert_eq!(report.written, 200);
    let calls = env.agol.requests_for("applyEdits").len();
    assert!(
        (5..=8).contains(&calls),
        "{calls} calls for 200 × 2 KB in 100 KB batches"
    );
}

#[tokio::test]
async fn three_refused_features_among_a_thousand_are_named_in_few_requests() {
    let env = Env::start().await;
    // location_name holds at most 10 characters; three features carry a longer one.
    env.agol.set_field(
        LAYER,
        json!({"name": "location_name", "type": "esriFieldTypeString", "length": 10}),
    );
    let bad = [17, 502, 938];
    let mut sink = AgolSink::new(layer(&env).await, "id", 1_000);
    env.agol.clear_requests();
    let source = Features {
        n: 1_000,
        page: 1_000,
        name: |i| {
            if [17, 502, 938].contains(&i) {
                "NORTH LAMAR BLVD / KOENIG LN".into()
            } else {
                format!("ST {i}")
            }
        },
    };

    let report = publish(&mut sink, &source, WriteMode::Upsert).await;

    assert_eq!((report.written, report.failed), (997, 0), "{report}");
    let mut named: Vec<_> = report.rejected.iter().collect();
    named.sort_by(|a, b| a.record_id.cmp(&b.record_id));
    let ids: Vec<&str> = named.iter().map(|r| r.record_id.as_str()).collect();
    assert_eq!(ids, ["f00017", "f00502", "f00938"]);
    for r in &named {
        assert_eq!(r.field.as_deref(), Some("location_name"), "{r}");
        assert_eq!(r.code.as_deref(), Some("1016"), "{r}");
        assert_eq!(r.reason, "Setting of value for location_name failed.");
    }
    let stored = counts(&env);
    assert_eq!(stored.len(), 997);
    assert!(stored.values().all(|n| *n == 1));
    assert!(bad
        .iter()
        .all(|i| !stored.contains_key(&format!("f{i:05}"))));
    // One call for the batch, then at most 3 × ⌈log2 1000⌉ = 30 to find the three; one look-up.
    let extra = env.agol.requests_for("applyEdits").len() - 1;
    println!("3 refused among 1,000: {extra} extra applyEdits requests");
    assert!(extra <= 30, "{extra} extra requests");
    assert_eq!(env.agol.requests_for("query").len(), 1);
}

#[tokio::test]
async fn a_replace_failing_mid_way_with_large_batches_keeps_every_feature_once() {
    let env = Env::start().await;
    let first = Features {
        n: 3_000,
        page: 1_000,
        name: plain,
    };
    let mut sink = AgolSink::new(layer(&env).await, "id", AgolTarget::DEFAULT_BATCH_SIZE);
    publish(&mut sink, &first, WriteMode::REPLACE).await;
    let before = env.agol.features(LAYER);
    assert_eq!(counts(&env).len(), 3_000);

    // The source lost its last 500 features and renamed the others; the second edit call is
    // refused for a reason no split can cure (a permission), so the run stops there.
    let second = Features {
        n: 2_500,
        page: 1_000,
        name: |i| format!("AVE {i}"),
    };
    env.agol.clear_requests();
    env.agol.inject_after(
        "/applyEdits",
        1,
        agol_client::testkit::arcgis_error(
            403,
            "You do not have permissions to access this resource or perform this operation.",
        )
        .on_path("/applyEdits"),
    );
    let mut sink = AgolSink::new(layer(&env).await, "id", AgolTarget::DEFAULT_BATCH_SIZE);
    let failure = run(&second, |b| Ok((b, 0)), &mut sink, WriteMode::REPLACE)
        .await
        .unwrap_err();

    assert_eq!(
        (
            failure.report.written,
            failure.report.failed,
            failure.report.deleted
        ),
        (1_000, 1_000, 0),
        "{failure}"
    );
    assert!(env.agol.requests_for("deleteFeatures").is_empty());
    let after = counts(&env);
    assert_eq!(after.len(), 3_000, "every previous feature is still there");
    assert!(after.values().all(|n| *n == 1), "none doubled");
    // The first batch was updated in place (same object ids), the rest are as before.
    let oid = |f: &Feature| f.attributes["OBJECTID"].as_i64().unwrap();
    let now = env.agol.features(LAYER);
    let mut old_oids: Vec<i64> = before.iter().map(oid).collect();
    let mut new_oids: Vec<i64> = now.iter().map(oid).collect();
    old_oids.sort_unstable();
    new_oids.sort_unstable();
    assert_eq!(old_oids, new_oids);
    let renamed = now
        .iter()
        .filter(|f| {
            f.attributes["location_name"]
                .as_str()
                .unwrap()
                .starts_with("AVE")
        })
        .count();
    assert_eq!(renamed, 1_000);

    // The next good run finishes the replace.
    let mut sink = AgolSink::new(layer(&env).await, "id", AgolTarget::DEFAULT_BATCH_SIZE);
    let report = publish(&mut sink, &second, WriteMode::REPLACE).await;
    assert_eq!((report.written, report.deleted), (2_500, 500));
    let after = counts(&env);
    assert_eq!(after.len(), 2_500);
    assert!(after.values().all(|n| *n == 1));
}
