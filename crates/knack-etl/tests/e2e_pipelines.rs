//! Each pipeline end to end over the four fakes with the generated app fixture, and the
//! idempotency of a whole cycle.

mod e2e_common;

use std::collections::BTreeMap;

use e2e_common::{fixture, fixture_records, without_nulls, Env, APP_ID, VIEW};
use knack_etl::RunOptions;
use serde_json::{json, Value};

/// The original sent string coordinates through; we send the numbers (README, fix 5).
fn numeric_geometry(mut geometry: Value) -> Value {
    for axis in ["x", "y"] {
        if let Some(Value::String(s)) = geometry.get(axis) {
            geometry[axis] = json!(s.parse::<f64>().unwrap());
        }
    }
    geometry
}

#[tokio::test]
async fn metadata_lands_in_knack_metadata_whole() {
    let env = Env::start().await;
    let report = env.metadata(false).await.unwrap();
    assert_eq!((report.read, report.written), (1, 1));

    let rows = env.pg.rows("knack_metadata");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["app_id"], APP_ID);
    assert_eq!(rows[0]["metadata"], fixture("metadata.json"));

    // A second run updates the one row rather than adding another.
    env.metadata(false).await.unwrap();
    assert_eq!(env.pg.rows("knack_metadata").len(), 1);
}

#[tokio::test]
async fn knack_view_records_are_staged_untouched_under_their_key() {
    let env = Env::start().await;
    let report = env.stage(&RunOptions::default()).await.unwrap();
    assert_eq!((report.read, report.written, report.deleted), (60, 60, 0));

    let rows = env.pg.rows("knack");
    assert_eq!(rows.len(), 60);
    let want: BTreeMap<String, Value> = fixture_records()
        .into_iter()
        .map(|r| (r["id"].as_str().unwrap().to_string(), r))
        .collect();
    for row in &rows {
        assert_eq!(row["app_id"], APP_ID);
        assert_eq!(row["container_id"], VIEW);
        let id = row["record_id"].as_str().unwrap();
        assert_eq!(&row["record"], &want[id], "record {id} stored untouched");
    }
    // The view's records were read through the view's path, not the object's.
    assert!(env
        .knack
        .requests()
        .iter()
        .any(|r| r.path.ends_with("/pages/scene_1/views/view_1/records")));
    // The upserts ask back only the column the watermark needs, not every record again.
    let upserts: Vec<_> = env
        .pg
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert!(!upserts.is_empty());
    for upsert in &upserts {
        assert!(
            upsert
                .query
                .contains(&("select".to_string(), "updated_at".to_string())),
            "{:?}",
            upsert.query
        );
    }
}

#[tokio::test]
async fn staged_records_publish_to_socrata_as_the_original_did() {
    let env = Env::start().await.staged().await;
    let report = env.to_socrata(&RunOptions::default()).await.unwrap();
    assert_eq!((report.read, report.written, report.deleted), (60, 60, 0));
    assert!(
        report.notes.iter().any(|n| n.contains("contact_email")),
        "the field the dataset lacks is reported: {:?}",
        report.notes
    );

    let expected = fixture("expected_socrata_rows.json");
    let expected: BTreeMap<String, Value> = expected
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let row = without_nulls(r.as_object().unwrap().clone());
            (r["id"].as_str().unwrap().to_string(), Value::Object(row))
        })
        .collect();
    let stored: BTreeMap<String, Value> = env
        .socrata_rows()
        .into_iter()
        .map(|(id, row)| (id, Value::Object(row)))
        .collect();
    assert_eq!(stored.len(), 60);
    for (id, want) in &expected {
        assert_eq!(stored.get(id), Some(want), "Socrata row {id}");
    }
}

#[tokio::test]
async fn staged_records_publish_to_agol_as_the_original_did() {
    let env = Env::start().await.staged().await;
    let report = env.to_agol(50, &RunOptions::default()).await.unwrap();
    assert_eq!((report.read, report.written, report.deleted), (60, 60, 0));

    let stored = env.agol_features();
    assert_eq!(stored.len(), 60);
    let expected = fixture("expected_agol_features.json");
    for want in expected.as_array().unwrap() {
        let id = want["attributes"]["id"].as_str().unwrap();
        let got = &stored[id];
        let mut attributes = got.attributes.clone();
        assert!(attributes.remove("OBJECTID").is_some());
        assert_eq!(
            Value::Object(attributes),
            want["attributes"],
            "attributes of {id}"
        );
        let got_geometry = got
            .geometry
            .as_ref()
            .map(|g| serde_json::to_value(g).unwrap());
        let want_geometry = want.get("geometry").cloned().map(numeric_geometry);
        match (got_geometry, want_geometry) {
            (Some(got), Some(want)) if want.is_object() => {
                assert_eq!(got["x"], want["x"], "x of {id}");
                assert_eq!(got["y"], want["y"], "y of {id}");
            }
            (got, want) => assert!(
                got.unwrap_or(Value::Null).is_null() && want.unwrap_or(Value::Null).is_null(),
                "geometry of {id}"
            ),
        }
    }
    // 60 features in batches of 50: two applyEdits calls, all-or-nothing each.
    let edits = env.agol.requests_for("applyEdits");
    assert_eq!(edits.len(), 2);
    assert!(edits
        .iter()
        .all(|r| r.param("rollbackOnFailure") == Some("true")));
}

#[tokio::test]
async fn two_identical_full_runs_leave_every_destination_the_same() {
    let env = Env::start().await;
    let cycle = || async {
        env.metadata(false).await.unwrap();
        let staged = env.stage(&RunOptions::default()).await.unwrap();
        let socrata = env.to_socrata(&RunOptions::default()).await.unwrap();
        let agol = env.to_agol(25, &RunOptions::default()).await.unwrap();
        (staged, socrata, agol)
    };
    cycle().await;
    let first = (
        env.pg.rows("knack_metadata"),
        env.staged_records(),
        env.socrata_rows(),
        env.agol_features(),
    );
    let (staged, socrata, agol) = cycle().await;
    for report in [&staged, &socrata, &agol] {
        assert_eq!((report.read, report.written, report.deleted), (60, 60, 0));
    }
    let second = (
        env.pg.rows("knack_metadata"),
        env.staged_records(),
        env.socrata_rows(),
        env.agol_features(),
    );
    assert_eq!(first.0, second.0, "knack_metadata");
    assert_eq!(first.1, second.1, "api.knack");
    assert_eq!(first.2, second.2, "Socrata rows");
    assert_eq!(first.3, second.3, "AGOL features (object ids included)");
    assert_eq!(env.pg.rows("knack").len(), 60, "no duplicate staged rows");
}
