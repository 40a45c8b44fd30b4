//! Clearing a feature's shape: what goes on the wire and what the fake ArcGIS Online keeps.
#![cfg(feature = "testkit")]

use agol_client::testkit::{FakeAgol, OBJECT_ID_FIELD};
use agol_client::{Edits, Feature, Geometry};
use serde_json::{json, Map, Value};

fn feature(id: &str, oid: Option<i64>) -> Feature {
    let mut a = Map::new();
    a.insert("id".into(), json!(id));
    if let Some(oid) = oid {
        a.insert(OBJECT_ID_FIELD.into(), json!(oid));
    }
    Feature::new(a)
}

/// The `updates` form field of the only applyEdits call, as JSON.
fn sent_updates(fake: &FakeAgol) -> Vec<Value> {
    let calls = fake.requests_for("applyEdits");
    assert_eq!(calls.len(), 1);
    serde_json::from_str(calls[0].param("updates").unwrap()).unwrap()
}

#[tokio::test]
async fn an_update_with_null_geometry_clears_the_shape_and_one_without_keeps_it() {
    let fake = FakeAgol::start().await;
    let old = Geometry::point(-97.7, 30.3);
    let ids = fake.seed(
        0,
        ["cleared", "kept", "moved"].map(|id| feature(id, None).with_geometry(old.clone())),
    );
    let client = fake.client_builder().build().unwrap();
    let layer = client.layer(&fake.layer_url(0)).await.unwrap();

    let moved_to = Geometry::point(-97.1, 30.1);
    let edits = Edits {
        updates: vec![
            feature("cleared", Some(ids[0])).with_null_geometry(),
            feature("kept", Some(ids[1])),
            feature("moved", Some(ids[2])).with_geometry(moved_to.clone()),
        ],
        rollback_on_failure: true,
        ..Edits::default()
    };
    layer.apply_edits(&edits).await.unwrap();

    let updates = sent_updates(&fake);
    assert_eq!(updates[0].get("geometry"), Some(&Value::Null));
    assert_eq!(updates[1].get("geometry"), None, "no key at all");
    assert_eq!(updates[2]["geometry"]["x"], json!(-97.1));

    let stored = fake.features(0);
    assert_eq!(stored[0].geometry, None, "cleared");
    assert_eq!(stored[1].geometry, Some(old), "kept");
    assert_eq!(stored[2].geometry, Some(moved_to), "moved");
}

#[tokio::test]
async fn a_null_geometry_add_stores_and_reads_back_as_no_geometry() {
    let fake = FakeAgol::start().await;
    let client = fake.client_builder().build().unwrap();
    let layer = client.layer(&fake.layer_url(0)).await.unwrap();
    layer
        .add_features(&[feature("nowhere", None).with_null_geometry()], true)
        .await
        .unwrap();
    let sent: Vec<Value> = serde_json::from_str(
        fake.requests_for("addFeatures")[0]
            .param("features")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(sent[0].get("geometry"), Some(&Value::Null));
    assert_eq!(fake.features(0)[0].geometry, None);
}
