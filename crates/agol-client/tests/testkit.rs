//! The client against the testkit's fake ArcGIS Online, and the fake's own behaviour.
#![cfg(feature = "testkit")]

use std::time::Duration;

use agol_client::testkit::{
    arcgis_error, http_error, FakeAgol, Fault, ITEM_ID, OBJECT_ID_FIELD, PASSWORD,
};
use agol_client::{
    BatchSizes, EditKind, Edits, Error, Feature, Geometry, LayerSelector, Query, TruncateOutcome,
};
use futures::TryStreamExt;
use serde_json::{json, Value};

fn fixture_features() -> Vec<Feature> {
    let text = include_str!("fixtures/expected_agol_features.json");
    serde_json::from_str(text).expect("fixture features parse as Feature")
}

fn feature(id: &str) -> Feature {
    let mut a = serde_json::Map::new();
    a.insert("id".into(), json!(id));
    a.insert("signal_type".into(), json!("PHB"));
    Feature::new(a).with_geometry(Geometry::point(-97.7, 30.3))
}

fn ids_of(features: &[Feature]) -> Vec<String> {
    features
        .iter()
        .map(|f| f.attributes["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn discovery_resolves_item_to_layers_and_tables_by_index_or_id() {
    let fake = FakeAgol::start().await;
    let client = fake.client_builder().build().unwrap();
    let service = client.service_from_item(ITEM_ID).await.unwrap();
    assert_eq!(service.url, fake.service_url());
    assert_eq!(service.info.layers.len(), 1);
    assert_eq!(service.info.tables[0].id, 1);

    // The original's `item.tables[0]` is REST layer 1: a list index, not a layer id.
    let sel = LayerSelector::from_original("table", 0).unwrap();
    let table = client.layer_from_item(ITEM_ID, sel).await.unwrap();
    assert_eq!(table.info().id, 1);
    assert_eq!(table.url(), fake.layer_url(1));
    assert!(table.info().geometry_type.is_none());

    let layer = client
        .layer_from_item(ITEM_ID, LayerSelector::Id(0))
        .await
        .unwrap();
    assert_eq!(
        layer.info().geometry_type.as_deref(),
        Some("esriGeometryPoint")
    );
    assert_eq!(layer.info().object_id_field(), Some(OBJECT_ID_FIELD));
    assert!(layer.info().supports_truncate);
    assert!(layer.info().has_capability("delete"));
    assert!(layer
        .info()
        .fields
        .iter()
        .any(|f| f.name == "install_date" && f.field_type == "esriFieldTypeDate"));

    let err = client
        .layer_from_item(ITEM_ID, LayerSelector::LayerIndex(1))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
    assert!(err.to_string().contains("index 1 does not exist"), "{err}");
    assert!(LayerSelector::from_original("view", 0).is_err());
}

#[tokio::test]
async fn features_stream_pages_on_exceeded_transfer_limit() {
    let fake = FakeAgol::start().await;
    fake.set_max_record_count(0, 7);
    fake.seed(0, fixture_features());
    let client = fake.client_builder().build().unwrap();
    let layer = client.layer(&fake.layer_url(0)).await.unwrap();
    assert_eq!(layer.max_record_count(), 7);

    let all: Vec<Feature> = layer.features(Query::new()).try_collect().await.unwrap();
    assert_eq!(all.len(), 60);
    assert_eq!(ids_of(&all), ids_of(&fixture_features()));
    let pages = fake.requests_for("query");
    assert_eq!(pages.len(), 9, "60 rows in pages of 7");
    // Keyset on the object id: each page starts above the last id read, never at an offset.
    let wheres: Vec<&str> = pages.iter().map(|r| r.param("where").unwrap()).collect();
    assert_eq!(
        wheres[..3],
        ["1=1", "OBJECTID > 7", "OBJECTID > 14"].map(|w| w.replace("OBJECTID", OBJECT_ID_FIELD))
    );
    assert!(pages.iter().all(|r| r.param("resultOffset") == Some("0")
        && r.param("resultRecordCount") == Some("7")
        && r.param("orderByFields") == Some(OBJECT_ID_FIELD)
        && r.method == "POST"));
    // A point geometry with wkid 4326 survives the round trip.
    assert!(matches!(
        all[0].geometry,
        Some(Geometry::Point { spatial_reference: Some(sr), .. }) if sr.wkid == 4326
    ));
}

#[tokio::test]
async fn a_feature_deleted_during_a_read_shifts_no_other_out_of_it() {
    let fake = FakeAgol::start().await;
    fake.set_max_record_count(0, 7);
    let oids = fake.seed(0, fixture_features());
    let client = fake.client_builder().build().unwrap();
    let layer = client.layer(&fake.layer_url(0)).await.unwrap();
    let mut pages = Box::pin(layer.pages(Query::new().return_geometry(false)));
    let mut read = pages.try_next().await.unwrap().unwrap();
    // Someone deletes a feature of the page already read: on `resultOffset` paging, the first
    // feature of page 2 would move onto page 1 and be read by neither.
    layer.delete_object_ids(&oids[..1], true).await.unwrap();
    while let Some(page) = pages.try_next().await.unwrap() {
        read.extend(page);
    }
    let mut ids = ids_of(&read);
    ids.sort();
    let before = ids.len();
    ids.dedup();
    assert_eq!(before, ids.len(), "no feature read twice");
    assert_eq!(
        ids.len(),
        60,
        "every feature read once, the deleted one on page 1 included"
    );
    assert_eq!(fake.features(0).len(), 59);
}

#[tokio::test]
async fn paging_stops_on_the_flag_not_on_a_short_page() {
    // Exactly two full pages: a row-counting client would ask for a third, empty page.
    let fake = FakeAgol::start().await;
    fake.set_max_record_count(0, 5);
    fake.seed(0, (0..10).map(|i| feature(&format!("r{i}"))));
    let client = fake.client_builder().build().unwrap();
    let layer = client.layer(&fake.layer_url(0)).await.unwrap();
    let all: Vec<Feature> = layer.features(Query::new()).try_collect().await.unwrap();
    assert_eq!(all.len(), 10);
    assert_eq!(fake.requests_for("query").len(), 2);
}

#[tokio::test]
async fn query_filters_fields_ids_and_counts() {
    let fake = FakeAgol::start().await;
    let seeded = fake.seed(0, fixture_features());
    let client = fake.client_builder().build().unwrap();
    let layer = client.layer(&fake.layer_url(0)).await.unwrap();

    let q = Query::new()
        .where_clause("signal_type = 'PHB'")
        .out_fields(["id", "signal_type"])
        .return_geometry(false);
    let phb: Vec<Feature> = layer.features(q.clone()).try_collect().await.unwrap();
    let expected = fixture_features()
        .iter()
        .filter(|f| f.attributes["signal_type"] == json!("PHB"))
        .count();
    assert!(expected > 0);
    assert_eq!(phb.len(), expected);
    assert!(phb
        .iter()
        .all(|f| f.geometry.is_none() && f.attributes.len() == 2));
    assert_eq!(layer.count(&q).await.unwrap(), expected as u64);

    let first_two = ids_of(&fixture_features()[..2]);
    let q = Query::new().where_clause(format!("id IN ('{}','{}')", first_two[0], first_two[1]));
    assert_eq!(layer.object_ids(&q).await.unwrap(), seeded[..2].to_vec());

    let by_ids: Vec<Feature> = layer
        .features(Query::new().object_ids([seeded[3], seeded[5]]))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(by_ids.len(), 2);
    assert_eq!(by_ids[1].integer(OBJECT_ID_FIELD), Some(seeded[5]));

    let err = layer
        .count(&Query::new().where_clause("id LIKE 'x%'"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Api {
                status: 200,
                code: Some(400),
                ..
            }
        ),
        "{err}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn adds_are_batched_and_every_failure_is_listed() {
    let fake = FakeAgol::start().await;
    fake.fail_when_attribute(0, "id", json!("bad-1"));
    fake.fail_when_attribute(0, "id", json!("bad-2"));
    let client = fake
        .client_builder()
        .batch_sizes(BatchSizes {
            adds: 4,
            updates: 4,
            deletes: 3,
        })
        .build()
        .unwrap();
    let layer = client.layer(&fake.layer_url(0)).await.unwrap();

    let good: Vec<Feature> = (0..10).map(|i| feature(&format!("g{i}"))).collect();
    let res = layer.add_features(&good, true).await.unwrap();
    assert_eq!(res.add_results.len(), 10);
    assert_eq!(res.added_object_ids(), (1..=10).collect::<Vec<i64>>());
    assert_eq!(
        fake.requests_for("addFeatures").len(),
        3,
        "10 adds in batches of 4"
    );
    let sent: Value = serde_json::from_str(
        fake.requests_for("addFeatures")[0]
            .param("features")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(sent[0]["geometry"]["spatialReference"]["wkid"], 4326);

    // rollbackOnFailure=false: good ones land, both bad ones are reported.
    let mixed = vec![feature("bad-1"), feature("ok-a"), feature("bad-2")];
    let err = layer.add_features(&mixed, false).await.unwrap_err();
    let Error::EditsFailed {
        failures,
        rolled_back,
        batch,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert!(!rolled_back);
    assert_eq!(*batch, 1);
    assert_eq!(failures.iter().map(|f| f.index).collect::<Vec<_>>(), [0, 2]);
    assert!(failures
        .iter()
        .all(|f| f.kind == EditKind::Add && f.code == Some(1000)));
    assert!(
        err.to_string().contains("bad-1") && err.to_string().contains("bad-2"),
        "{err}"
    );
    assert_eq!(fake.features(0).len(), 11);

    // rollbackOnFailure=true: all-or-nothing.
    let err = layer.add_features(&mixed, true).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::EditsFailed {
                rolled_back: true,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(fake.features(0).len(), 11);
}

#[tokio::test]
async fn a_failed_third_batch_with_rollback_leaves_earlier_batches_and_nothing_of_its_own() {
    let fake = FakeAgol::start().await;
    fake.fail_edit_call(3);
    let client = fake
        .client_builder()
        .batch_sizes(BatchSizes {
            adds: 2,
            updates: 2,
            deletes: 2,
        })
        .build()
        .unwrap();
    let layer = client.layer(&fake.layer_url(0)).await.unwrap();
    let features: Vec<Feature> = (0..8).map(|i| feature(&format!("f{i}"))).collect();
    let err = layer.add_features(&features, true).await.unwrap_err();
    let Error::EditsFailed {
        batch,
        failures,
        sent,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!((*batch, *sent), (3, 2));
    assert_eq!(
        failures.len(),
        2,
        "the failing feature and the rolled-back one"
    );
    assert_eq!(ids_of(&fake.features(0)), ["f0", "f1", "f2", "f3"]);
    assert_eq!(
        fake.requests_for("addFeatures").len(),
        3,
        "stops at the failed batch"
    );
}

#[tokio::test]
async fn updates_deletes_and_apply_edits() {
    let fake = FakeAgol::start().await;
    let ids = fake.seed(1, (0..5).map(|i| feature(&format!("t{i}"))));
    let client = fake
        .client_builder()
        .batch_sizes(BatchSizes {
            adds: 50,
            updates: 50,
            deletes: 2,
        })
        .build()
        .unwrap();
    let table = client.layer(&fake.layer_url(1)).await.unwrap();

    let mut upd = fake.features(1)[0].clone();
    upd.attributes
        .insert("signal_type".into(), json!("TRAFFIC"));
    table.update_features(&[upd], true).await.unwrap();
    assert_eq!(fake.features(1)[0].attributes["signal_type"], "TRAFFIC");

    let mut missing = feature("nope");
    missing
        .attributes
        .insert(OBJECT_ID_FIELD.into(), json!(999));
    let err = table.update_features(&[missing], true).await.unwrap_err();
    assert!(
        matches!(&err, Error::EditsFailed { failures, .. } if failures[0].object_id == Some(999)),
        "{err}"
    );

    let values: Vec<String> = vec!["t1".into(), "t2".into(), "it's".into()];
    table.delete_where_in("id", &values).await.unwrap();
    assert_eq!(ids_of(&fake.features(1)), ["t0", "t3", "t4"]);
    let wheres: Vec<String> = fake
        .requests_for("deleteFeatures")
        .iter()
        .map(|r| r.param("where").unwrap().to_string())
        .collect();
    assert_eq!(wheres, ["id IN ('t1','t2')", "id IN ('it''s')"]);

    table.delete_object_ids(&[ids[0]], true).await.unwrap();
    // Deleting again (as a repeat after a lost answer does) finds the id gone (1019): it counts as
    // deleted, and nothing else is touched.
    let before = fake.features(1).len();
    let again = table.delete_object_ids(&[ids[0]], true).await.unwrap();
    assert_eq!(again.delete_results.len(), 1, "{again:?}");
    assert!(again.delete_results[0].success);
    assert_eq!(fake.features(1).len(), before);

    let edits = Edits {
        adds: vec![feature("new")],
        updates: vec![],
        deletes: vec![ids[3]],
        rollback_on_failure: true,
    };
    let res = table.apply_edits(&edits).await.unwrap();
    assert_eq!((res.add_results.len(), res.delete_results.len()), (1, 1));
    assert_eq!(ids_of(&fake.features(1)), ["t4", "new"]);
    assert!(
        fake.features(1).iter().all(|f| f.geometry.is_none()),
        "tables keep no geometry"
    );
}

#[tokio::test]
async fn truncate_when_supported_else_delete_all() {
    let fake = FakeAgol::start().await;
    fake.seed(0, (0..3).map(|i| feature(&format!("x{i}"))));
    let client = fake.client_builder().build().unwrap();
    let layer = client.layer(&fake.layer_url(0)).await.unwrap();
    assert_eq!(layer.truncate().await.unwrap(), TruncateOutcome::Truncated);
    assert!(fake.features(0).is_empty());
    let t = &fake.requests_for("truncate")[0];
    assert!(t.path.contains("/rest/admin/services/"), "{}", t.path);

    fake.set_supports_truncate(0, false);
    fake.seed(0, (0..3).map(|i| feature(&format!("y{i}"))));
    let layer = client.layer(&fake.layer_url(0)).await.unwrap();
    assert_eq!(layer.truncate().await.unwrap(), TruncateOutcome::DeletedAll);
    assert!(fake.features(0).is_empty());
    assert_eq!(
        fake.requests_for("deleteFeatures")[0].param("where"),
        Some("1=1")
    );
    assert_eq!(
        fake.requests_for("truncate").len(),
        1,
        "not attempted when unsupported"
    );
}

#[tokio::test]
async fn expired_token_is_renewed_and_the_call_retried_once() {
    let fake = FakeAgol::start().await;
    fake.seed(0, [feature("a")]);
    let client = fake.client_builder().build().unwrap();
    let layer = client.layer(&fake.layer_url(0)).await.unwrap();
    assert_eq!(fake.tokens_issued(), 1, "token cached across calls");
    fake.expire_tokens();
    assert_eq!(layer.count(&Query::new()).await.unwrap(), 1);
    assert_eq!(fake.tokens_issued(), 2);
    // Adds rejected with 498 were not applied, so they are re-sent once with the new token.
    fake.expire_tokens();
    layer.add_features(&[feature("b")], true).await.unwrap();
    assert_eq!(fake.features(0).len(), 2);
    assert_eq!(fake.requests_for("addFeatures").len(), 2);
}

#[tokio::test]
async fn a_token_near_expiry_is_renewed_before_use() {
    let fake = FakeAgol::start().await;
    // Shorter than the 5-minute refresh margin: every call needs a fresh token.
    fake.set_token_ttl(Duration::from_secs(60));
    let client = fake.client_builder().build().unwrap();
    let layer = client.layer(&fake.layer_url(0)).await.unwrap();
    layer.count(&Query::new()).await.unwrap();
    assert_eq!(fake.tokens_issued(), 2);
    let with_token = fake
        .requests()
        .iter()
        .filter(|r| r.param("token").is_some())
        .count();
    assert_eq!(
        with_token, 2,
        "each call used a fresh token without a 498 round trip"
    );
}

#[tokio::test]
async fn transient_query_failures_are_retried_but_adds_are_not_resent() {
    let fake = FakeAgol::start().await;
    let client = fake.client_builder().build().unwrap();
    let layer = client.layer(&fake.layer_url(0)).await.unwrap();
    fake.inject(http_error(503).on_path("/query").times(2));
    fake.inject(arcgis_error(500, "boom").on_path("/query"));
    assert_eq!(layer.count(&Query::new()).await.unwrap(), 0);
    assert_eq!(fake.requests_for("query").len(), 4);

    // The service applies the adds, then the gateway times out: re-sending would duplicate.
    fake.fail_after_applying("addFeatures", 504, 1);
    let err = layer
        .add_features(&[feature("once")], true)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::OutcomeUnknown { .. }), "{err}");
    assert!(!err.is_retryable());
    assert_eq!(fake.requests_for("addFeatures").len(), 1);
    assert_eq!(fake.features(0).len(), 1, "applied exactly once");

    // Deletes are idempotent: retried through a 504.
    fake.inject(http_error(504).on_path("/deleteFeatures"));
    layer.delete_where("1=1").await.unwrap();
    assert_eq!(fake.requests_for("deleteFeatures").len(), 2);
    assert!(fake.features(0).is_empty());
}

#[tokio::test]
async fn a_stalled_answer_is_retried_for_queries_and_unknown_for_adds() {
    let fake = FakeAgol::start().await;
    let client = fake
        .client_builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let layer = client.layer(&fake.layer_url(0)).await.unwrap();
    // The stall is abandoned at the 300 ms timeout and the query sent again.
    fake.inject(Fault::stall().on_path("/query"));
    assert_eq!(layer.count(&Query::new()).await.unwrap(), 0);
    assert_eq!(fake.requests_for("query").len(), 2);
    // The add is applied, then its answer stalls: re-sending could duplicate it.
    fake.inject(Fault::stall().on_path("/addFeatures"));
    let err = layer
        .add_features(&[feature("slow")], true)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::OutcomeUnknown { source, .. } if matches!(**source, Error::Transport { .. })),
        "{err}"
    );
    assert_eq!(fake.requests_for("addFeatures").len(), 1);
    assert_eq!(fake.features(0).len(), 1, "applied once, never re-sent");
}

#[tokio::test]
async fn bad_password_is_a_clear_auth_error_without_the_password() {
    let fake = FakeAgol::start().await;
    let client = fake
        .client_builder()
        .credentials("agol-tester", "wrong-password-xyz")
        .build()
        .unwrap();
    let err = client.service_from_item(ITEM_ID).await.unwrap_err();
    assert!(matches!(err, Error::Auth { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("Invalid username or password") && msg.contains("agol-tester"),
        "{msg}"
    );
    assert!(!msg.contains("wrong-password-xyz"));
    assert_eq!(
        fake.requests_for("generateToken").len(),
        1,
        "a refused sign-in is not retried"
    );
}

#[tokio::test]
async fn secrets_never_reach_urls_debug_or_errors() {
    let fake = FakeAgol::start().await;
    let builder = fake.client_builder();
    let client = builder.clone().build().unwrap();
    let layer = client
        .layer_from_item(ITEM_ID, LayerSelector::LayerIndex(0))
        .await
        .unwrap();
    layer.add_features(&[feature("s")], true).await.unwrap();
    fake.inject(http_error(400).on_path("/query"));
    let err = layer.count(&Query::new()).await.unwrap_err();

    let token_forms: Vec<String> = fake
        .requests()
        .iter()
        .filter_map(|r| r.param("token").map(str::to_string))
        .collect();
    assert!(!token_forms.is_empty(), "tokens travel as form fields");
    let token = &token_forms[0];
    for r in fake.requests() {
        assert_eq!(r.method, "POST");
        let q = format!("{:?}", r.query);
        assert!(
            !q.contains(token) && !q.contains(PASSWORD) && !q.contains("token"),
            "{q}"
        );
    }
    for text in [
        format!("{builder:?}"),
        format!("{client:?}"),
        format!("{layer:?}"),
        err.to_string(),
        format!("{err:?}"),
    ] {
        assert!(
            !text.contains(PASSWORD) && !text.contains(token.as_str()),
            "{text}"
        );
    }
    let keyed = agol_client::Client::builder()
        .api_key("sk-live-0123456789")
        .build()
        .unwrap();
    assert!(!format!("{keyed:?}").contains("sk-live"));
}

#[tokio::test]
async fn anonymous_calls_to_a_secured_service_say_a_token_is_required() {
    let fake = FakeAgol::start().await;
    let client = agol_client::Client::builder()
        .portal_url(fake.uri())
        .build()
        .unwrap();
    let err = client.layer(&fake.layer_url(0)).await.unwrap_err();
    assert!(
        matches!(err, Error::TokenRejected { code: 499, .. }),
        "{err}"
    );
    fake.allow_anonymous();
    assert_eq!(client.layer(&fake.layer_url(0)).await.unwrap().info().id, 0);
}

#[tokio::test]
async fn multipoints_round_trip() {
    let fake = FakeAgol::start().await;
    let client = fake.client_builder().build().unwrap();
    let layer = client.layer(&fake.layer_url(0)).await.unwrap();
    let mp = feature("mp").with_geometry(Geometry::multipoint([(-97.1, 30.1), (-97.2, 30.2)]));
    layer
        .add_features(std::slice::from_ref(&mp), true)
        .await
        .unwrap();
    let back: Vec<Feature> = layer.features(Query::new()).try_collect().await.unwrap();
    assert_eq!(back[0].geometry, mp.geometry);
}

#[tokio::test]
async fn values_the_layer_refuses_roll_the_call_back_or_fail_alone_as_arcgis_does() {
    let fake = FakeAgol::start().await;
    let client = fake.client_builder().build().unwrap();
    let layer = client.layer(&fake.layer_url(0)).await.unwrap();
    let with = |id: &str, field: &str, value: Value| {
        let mut f = feature(id);
        f.attributes.insert(field.into(), value);
        f
    };
    let batch = vec![
        with("good", "location_name", json!("5TH ST / MANOR RD")),
        with("too-long", "install_cost", json!("x".repeat(33))),
        with(
            "html",
            "notes",
            json!("<p>Needs <strong>repair</strong></p>"),
        ),
        with("not-a-number", "signal_number", json!("forty-two")),
        with("fraction", "signal_number", json!(4.5)),
        with("brackets", "notes", json!("a < b > c")),
        with("digits", "signal_number", json!("42")),
    ];

    // rollbackOnFailure=true: one top-level error that names no feature, nothing applied.
    let edits = Edits {
        adds: batch.clone(),
        rollback_on_failure: true,
        ..Edits::default()
    };
    let err = layer.apply_edits(&edits).await.unwrap_err();
    let Error::Api {
        status: 200,
        code: Some(400),
        message,
        details,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(message, "Unable to complete operation.");
    assert_eq!(details, &["Operation rolled back."]);
    assert!(!err.is_retryable());
    assert!(fake.features(0).is_empty());

    // rollbackOnFailure=false: each refused feature has its own reason, the others are applied.
    let edits = Edits {
        adds: batch,
        rollback_on_failure: false,
        ..Edits::default()
    };
    let err = layer.apply_edits(&edits).await.unwrap_err();
    let Error::EditsFailed { failures, .. } = &err else {
        panic!("{err}")
    };
    // Codes and wording are Esri's feature-service error table's (1016, 1006).
    let reasons: Vec<(usize, Option<i64>, &str)> = failures
        .iter()
        .map(|f| (f.index, f.code, f.description.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (1, Some(1016), "Setting of value for install_cost failed."),
            (
                2,
                Some(1006),
                "Invalid untrusted HTML content detected in field: notes."
            ),
            (3, Some(1016), "Setting of value for signal_number failed."),
            (4, Some(1016), "Setting of value for signal_number failed."),
        ]
    );
    assert_eq!(ids_of(&fake.features(0)), ["good", "brackets", "digits"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delete_whose_answer_was_lost_is_repeated_and_counts_the_gone_ids() {
    use agol_client::testkit::Chaos;
    let fake = FakeAgol::start().await;
    // The proxy that plays lost answers (no random faults).
    fake.set_chaos(Chaos { seed: 1, rate: 0.0 });
    let ids = fake.seed(1, (0..3).map(|i| feature(&format!("t{i}"))));
    let client = fake.client_builder().build().unwrap();
    let table = client
        .layer_from_item(ITEM_ID, LayerSelector::Id(1))
        .await
        .unwrap();
    fake.inject(
        Fault::slow(std::time::Duration::ZERO)
            .lose_answer()
            .on_path("deleteFeatures"),
    );
    let done = table.delete_object_ids(&ids[..2], true).await.unwrap();
    assert_eq!(done.delete_results.len(), 2, "{done:?}");
    assert!(done.delete_results.iter().all(|r| r.success));
    assert_eq!(ids_of(&fake.features(1)), ["t2"]);
    // The lost attempt, then its repeat, which found both gone.
    assert_eq!(fake.requests_for("deleteFeatures").len(), 2);
}

#[tokio::test]
async fn a_refused_delete_naming_only_ids_it_was_not_asked_is_an_error_not_a_repeat() {
    let fake = FakeAgol::start().await;
    let ids = fake.seed(1, (0..2).map(|i| feature(&format!("t{i}"))));
    let client = fake.client_builder().build().unwrap();
    let table = client.layer(&fake.layer_url(1)).await.unwrap();
    // "Missing" names an id outside the request: counting it as deleted would send the same
    // request again, and again, for as long as the layer answers so.
    let missing = json!({"deleteResults": [{"objectId": 987_654, "success": false,
        "error": {"code": 1019, "description": "Object is missing."}}]});
    for _ in 0..3 {
        fake.inject(
            Fault::status(200)
                .body(missing.to_string())
                .on_path("/deleteFeatures"),
        );
    }
    let err = table.delete_object_ids(&[ids[0]], true).await.unwrap_err();
    assert!(err.to_string().contains("Object is missing"), "{err}");
    assert_eq!(fake.requests_for("deleteFeatures").len(), 1);
    assert_eq!(fake.features(1).len(), 2, "nothing deleted");
}
