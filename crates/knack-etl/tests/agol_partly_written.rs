//! An `AgolSink` batch larger than its `applyEdits` calls that fails part-way reports the calls
//! before the failure as written (each call applies whole or not at all).

mod e2e_common;

use async_trait::async_trait;
use e2e_common::Env;
use futures::StreamExt;
use knack_etl::agol::AgolSink;
use knack_etl::agol_client::{Feature, LayerSelector};
use knack_etl::{run, BatchStream, Error, Source, WriteMode};
use serde_json::json;

/// Five features in one batch.
struct OneBatch;

#[async_trait]
impl Source<Feature> for OneBatch {
    fn describe(&self) -> String {
        "five features".into()
    }
    async fn batches(&self) -> Result<BatchStream<Feature>, Error> {
        let features = (1..=5)
            .map(|n| {
                let mut f = Feature::default();
                f.attributes.insert("id".into(), json!(format!("f{n}")));
                f
            })
            .collect();
        Ok(futures::stream::iter([Ok(features)]).boxed())
    }
}

#[tokio::test]
async fn calls_before_the_failed_one_count_as_written() {
    let env = Env::start().await;
    let target = env.agol_target(2);
    let layer = env
        .agol_client
        .layer_from_item(&target.service_id, LayerSelector::LayerIndex(0))
        .await
        .unwrap();
    // Calls of 2, 2 and 1 features, one at a time; the second is refused for a reason no split
    // can cure (a permission), so the run stops there. (Batches in flight together:
    // tests/agol_in_flight.rs.)
    env.agol.inject_after("/applyEdits", 1, permission_denied());
    let mut sink = AgolSink::new(layer, "id", 2).in_flight(1);

    let failure = run(&OneBatch, |b| Ok((b, 0)), &mut sink, WriteMode::Upsert)
        .await
        .unwrap_err();

    assert_eq!(
        (
            failure.report.read,
            failure.report.written,
            failure.report.failed
        ),
        (5, 2, 3),
        "{failure}"
    );
    assert!(matches!(*failure.error, Error::Agol(_)), "{failure}");
    let stored: Vec<String> = env.agol_features().into_keys().collect();
    assert_eq!(stored, ["f1", "f2"]);
}

fn permission_denied() -> agol_client::testkit::Fault {
    agol_client::testkit::arcgis_error(
        403,
        "You do not have permissions to access this resource or perform this operation.",
    )
    .on_path("/applyEdits")
}
