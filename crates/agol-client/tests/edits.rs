//! What an edit call reports: failures indexed in the caller's input across batches, what was
//! applied all the same, a failed job's own message, and the hosted default of rollback.
#![cfg(feature = "testkit")]

use agol_client::testkit::FakeAgol;
use agol_client::{BatchSizes, Client, EditKind, Edits, Error, Feature, Geometry};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn feature(id: &str) -> Feature {
    let mut a = serde_json::Map::new();
    a.insert("id".into(), json!(id));
    Feature::new(a).with_geometry(Geometry::point(-97.7, 30.3))
}

#[test]
fn edits_default_to_rollback_on_failure_as_hosted_services_do() {
    let edits = Edits::default();
    assert!(edits.rollback_on_failure);
    assert!(edits.adds.is_empty() && edits.updates.is_empty() && edits.deletes.is_empty());
}

#[tokio::test]
async fn a_failure_is_indexed_in_the_callers_input_and_what_was_applied_is_kept() {
    let fake = FakeAgol::start().await;
    fake.fail_when_attribute(0, "id", json!("bad"));
    let adds_of_two = BatchSizes {
        adds: 2,
        ..BatchSizes::default()
    };
    let client = fake
        .client_builder()
        .batch_sizes(adds_of_two)
        .build()
        .unwrap();
    let layer = client.layer(&fake.layer_url(0)).await.unwrap();
    let before = fake.features(0).len();
    // Input 3 is the second feature of batch 2: it must come back as index 3, not 1.
    let input = [feature("a"), feature("b"), feature("c"), feature("bad")];
    let err = layer.add_features(&input, false).await.unwrap_err();
    let Error::EditsFailed {
        batch,
        failures,
        applied,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(*batch, 2);
    assert_eq!(failures.len(), 1);
    assert_eq!((failures[0].kind, failures[0].index), (EditKind::Add, 3));
    // Batch 1's two adds and batch 2's good one were applied; their new object ids are kept.
    let ids = applied.added_object_ids();
    assert_eq!(ids.len(), 3, "{applied:?}");
    assert_eq!(fake.features(0).len(), before + 3);
    assert!(ids.iter().all(|id| fake
        .features(0)
        .iter()
        .any(|f| f.attributes.get("OBJECTID") == Some(&json!(id)))));

    // Rolled back: batch 2 applied nothing, so only batch 1's results are kept.
    let err = layer.add_features(&input, true).await.unwrap_err();
    let Error::EditsFailed { applied, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(applied.added_object_ids().len(), 2);
}

/// An async job that failed: `statusMessage` is JSON text with `code` and `message`, as
/// Esri's arcgis-rest-js reads it (checkForErrors, packages/arcgis-rest-request/src/request.ts),
/// or plain text.
#[tokio::test]
async fn a_failed_jobs_status_message_is_the_errors_message() {
    let server = MockServer::start().await;
    for (path_part, body) in [
        (
            "/json",
            json!({"status": "failed",
                   "statusMessage": "{\"code\":400,\"message\":\"Field LANES is not nullable\"}"}),
        ),
        (
            "/text",
            json!({"status": "Failure", "statusMessage": "Append failed: duplicate id"}),
        ),
    ] {
        Mock::given(method("POST"))
            .and(path(path_part))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
    }
    let client = Client::builder().portal_url(server.uri()).build().unwrap();
    // Any call reads its answer the same way; a layer's description is the simplest.
    let err = client
        .layer(&format!("{}/json", server.uri()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Api { code: Some(400), message, .. } if message.contains("Field LANES is not nullable")),
        "{err}"
    );
    let err = client
        .layer(&format!("{}/text", server.uri()))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("Append failed: duplicate id"),
        "{err}"
    );
}
