//! An `applyEdits` with adds whose answer was lost (after ArcGIS applied it) or that failed with a
//! 5xx is read back by the matching field, and only what is absent is sent again: each feature
//! lands once, and the stage finishes in the same run.

use async_trait::async_trait;
use futures::StreamExt;
use knack_etl::agol::AgolSink;
use knack_etl::agol_client::testkit::{Chaos, FakeAgol, Fault, ITEM_ID};
use knack_etl::agol_client::{Feature, LayerSelector};
use knack_etl::{run, BatchStream, Error, Source, WriteMode};
use serde_json::json;

/// Features `f1`..`fn` in one batch.
struct Features(usize);

#[async_trait]
impl Source<Feature> for Features {
    fn describe(&self) -> String {
        format!("{} features", self.0)
    }
    async fn batches(&self) -> Result<BatchStream<Feature>, Error> {
        let features = (1..=self.0)
            .map(|n| {
                let mut f = Feature::default();
                f.attributes.insert("id".into(), json!(format!("f{n}")));
                f
            })
            .collect();
        Ok(futures::stream::iter([Ok(features)]).boxed())
    }
}

/// The fake, reached through its chaos proxy (no random faults: rate 0) so that an answer can be
/// lost, and a sink on its layer 0 sending `batch` features per `applyEdits`, `in_flight` at
/// once.
async fn setup(batch: usize, in_flight: usize) -> (FakeAgol, AgolSink) {
    let agol = FakeAgol::start().await;
    agol.set_chaos(Chaos { seed: 1, rate: 0.0 });
    let client = agol.client_builder().build().unwrap();
    let layer = client
        .layer_from_item(ITEM_ID, LayerSelector::LayerIndex(0))
        .await
        .unwrap();
    (agol, AgolSink::new(layer, "id", batch).in_flight(in_flight))
}

fn ids(agol: &FakeAgol) -> Vec<String> {
    let mut ids: Vec<String> = agol
        .features(0)
        .into_iter()
        .map(|f| f.attributes["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn edits(agol: &FakeAgol) -> Vec<String> {
    agol.requests()
        .into_iter()
        .filter(|r| r.operation == "applyEdits")
        .map(|r| {
            let adds = r.param("adds").map_or(0, count);
            let updates = r.param("updates").map_or(0, count);
            format!("{adds} adds, {updates} updates")
        })
        .collect()
}

fn count(json: &str) -> usize {
    serde_json::from_str::<Vec<serde_json::Value>>(json).map_or(0, |v| v.len())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_apply_edits_answer_lost_after_applying_leaves_each_feature_once() {
    let (agol, mut sink) = setup(3, 1).await;
    // The second applyEdits (f4..f6) is applied, then its connection drops.
    agol.inject_after(
        "/applyEdits",
        1,
        Fault::slow(std::time::Duration::ZERO).lose_answer(),
    );
    let report = run(&Features(7), |b| Ok((b, 0)), &mut sink, WriteMode::Upsert)
        .await
        .unwrap();
    assert_eq!((report.read, report.written, report.failed), (7, 7, 0));
    assert!(report.rejected.is_empty());
    assert_eq!(ids(&agol), ["f1", "f2", "f3", "f4", "f5", "f6", "f7"]);
    // The lost batch was read back and sent again as updates of what it had added.
    assert_eq!(
        edits(&agol),
        [
            "3 adds, 0 updates",
            "3 adds, 0 updates",
            "0 adds, 3 updates",
            "1 adds, 0 updates"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_lost_with_batches_in_flight_leaves_each_feature_once() {
    let (agol, mut sink) = setup(3, 4).await;
    // The three batches go out together; the second to arrive is applied, then its answer lost.
    agol.inject_after(
        "/applyEdits",
        1,
        Fault::slow(std::time::Duration::ZERO).lose_answer(),
    );
    let report = run(&Features(7), |b| Ok((b, 0)), &mut sink, WriteMode::Upsert)
        .await
        .unwrap();
    assert_eq!((report.read, report.written, report.failed), (7, 7, 0));
    assert_eq!(ids(&agol), ["f1", "f2", "f3", "f4", "f5", "f6", "f7"]);
    // Three batches sent, and the lost one once more, as updates of what it had added.
    let edits = edits(&agol);
    assert_eq!(edits.len(), 4, "{edits:?}");
    assert!(edits[3].starts_with("0 adds, "), "{edits:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_apply_edits_answered_5xx_sends_again_only_what_is_absent() {
    let (agol, mut sink) = setup(4, 1).await;
    // A 502 that applied nothing: the read-back finds none, the adds go again.
    agol.inject(Fault::status(502).on_path("/applyEdits"));
    let report = run(&Features(4), |b| Ok((b, 0)), &mut sink, WriteMode::Upsert)
        .await
        .unwrap();
    assert_eq!((report.written, report.failed), (4, 0));
    assert_eq!(ids(&agol), ["f1", "f2", "f3", "f4"]);
    assert_eq!(edits(&agol), ["4 adds, 0 updates", "4 adds, 0 updates"]);
}
