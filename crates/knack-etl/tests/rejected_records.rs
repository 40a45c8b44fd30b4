//! A record a destination refuses is named and never holds back the others; a destination that
//! cannot take the run is refused before the first write (issue #13's inputs and variants).

mod e2e_common;

use chrono::{TimeZone, Utc};
use e2e_common::{container, fixture, fixture_records, Env, DATASET, LAYER};
use knack_etl::RunOptions;
use knack_etl::{agol_client, socrata_client, Error};
use serde_json::{json, Value};
use socrata_client::testkit::FakeDataset;

fn incremental() -> RunOptions {
    RunOptions {
        since: Some(Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap()),
        ..RunOptions::default()
    }
}

/// The first `n` fixture records, each passed through `edit` (its index, the record).
fn records(n: usize, edit: impl Fn(usize, &mut Value)) -> Vec<Value> {
    let mut records = fixture_records();
    records.truncate(n);
    for (i, r) in records.iter_mut().enumerate() {
        edit(i, r);
    }
    records
}

fn set(record: &mut Value, field: &str, value: Value) {
    record[field] = value.clone();
    record[format!("{field}_raw")] = value;
}

fn id(record: &Value) -> String {
    record["id"].as_str().unwrap().to_string()
}

async fn staged_with(records: Vec<Value>) -> Env {
    let env = Env::start().await;
    env.knack.set_records(&container(), records);
    env.staged().await
}

#[tokio::test]
async fn agol_a_value_too_long_is_named_and_the_other_records_are_written() {
    let names = [
        "5TH ST",
        "NORTH LAMAR BLVD / WEST KOENIG LANE EAST",
        "LAMAR BLVD",
    ];
    assert_eq!(names[1].len(), 40);
    let recs = records(3, |i, r| set(r, "field_1", json!(names[i])));
    let env = staged_with(recs.clone()).await;
    env.agol.set_field(
        LAYER,
        json!({"name": "location_name", "type": "esriFieldTypeString", "length": 10}),
    );

    let report = env.to_agol(50, &incremental()).await.unwrap();

    assert_eq!((report.read, report.written, report.failed), (3, 2, 0));
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    let r = &report.rejected[0];
    assert_eq!(r.record_id, id(&recs[1]));
    assert_eq!(r.field.as_deref(), Some("location_name"));
    assert_eq!(r.code.as_deref(), Some("1016"));
    assert_eq!(r.reason, "Setting of value for location_name failed.");
    let stored = env.agol_features();
    assert_eq!(stored.keys().cloned().collect::<Vec<_>>(), {
        let mut good = vec![id(&recs[0]), id(&recs[2])];
        good.sort();
        good
    });
    assert!(report.to_string().contains("rejected 1"), "{report}");
}

#[tokio::test]
async fn agol_a_replace_keeps_the_previous_version_of_a_rejected_record() {
    let short = records(3, |i, r| set(r, "field_1", json!(format!("ST {i}"))));
    let env = staged_with(short.clone()).await;
    env.to_agol(50, &RunOptions::default()).await.unwrap();
    env.agol.set_field(
        LAYER,
        json!({"name": "location_name", "type": "esriFieldTypeString", "length": 10}),
    );

    // The second record's name grows too long in Knack; the third is deleted there.
    let mut changed = short.clone();
    set(
        &mut changed[1],
        "field_1",
        json!("A NAME FAR TOO LONG FOR ITS FIELD"),
    );
    changed.truncate(2);
    env.knack.set_records(&container(), changed);
    env.stage(&RunOptions::default()).await.unwrap();
    let report = env.to_agol(50, &RunOptions::default()).await.unwrap();

    assert_eq!(report.rejected.len(), 1, "{report:?}");
    assert_eq!(report.rejected[0].record_id, id(&short[1]));
    assert_eq!(report.deleted, 1, "only the record Knack no longer has");
    let stored = env.agol_features();
    assert_eq!(stored.len(), 2);
    assert_eq!(
        stored[&id(&short[1])].attributes["location_name"],
        "ST 1",
        "the rejected record keeps its previous version"
    );
    assert!(!stored.contains_key(&id(&short[2])));
}

#[tokio::test]
async fn agol_rich_text_is_published_as_its_readable_text() {
    let mut metadata = fixture("metadata.json");
    for field in metadata["application"]["objects"][0]["fields"]
        .as_array_mut()
        .unwrap()
    {
        if field["key"] == "field_2" {
            field["type"] = json!("rich_text");
        }
    }
    let recs = records(2, |i, r| {
        let notes = if i == 0 {
            "<p>Needs <strong>repair</strong></p>"
        } else {
            "All clear"
        };
        set(r, "field_2", json!(notes));
    });
    let env = Env::start().await;
    env.knack.set_metadata(metadata);
    env.knack.set_records(&container(), recs.clone());
    let env = env.staged().await;

    let report = env.to_agol(50, &incremental()).await.unwrap();

    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(report.written, 2);
    let stored = env.agol_features();
    assert_eq!(stored[&id(&recs[0])].attributes["notes"], "Needs repair");
    assert_eq!(stored[&id(&recs[1])].attributes["notes"], "All clear");
}

#[tokio::test]
async fn agol_a_connection_label_holding_b_is_published_as_the_original_makes_text_safe() {
    let recs = records(2, |i, r| {
        if i == 0 {
            r["field_8"] = json!("<span class=\"x\"><b>CONGRESS</b> AVE</span>");
            r["field_8_raw"] =
                json!([{"id": "5f0000000000000000000001", "identifier": "<b>CONGRESS</b> AVE"}]);
        }
    });
    let env = staged_with(recs.clone()).await;

    let report = env.to_agol(50, &incremental()).await.unwrap();

    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let stored = env.agol_features();
    assert_eq!(
        stored[&id(&recs[0])].attributes["intersection"],
        "bCONGRESS/b AVE"
    );
}

#[tokio::test]
async fn agol_a_bad_number_in_an_integer_field_is_named() {
    // Beyond esriFieldTypeInteger's 32 bits: ArcGIS cannot set it.
    let recs = records(3, |i, r| {
        if i == 2 {
            set(r, "field_18", json!(3_000_000_000u64));
        }
    });
    let env = staged_with(recs.clone()).await;

    let report = env.to_agol(50, &incremental()).await.unwrap();

    assert_eq!(report.written, 2);
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    let r = &report.rejected[0];
    assert_eq!(r.record_id, id(&recs[2]));
    assert_eq!(r.field.as_deref(), Some("signal_number"));
    assert!(!env.agol_features().contains_key(&id(&recs[2])));
}

#[tokio::test]
async fn agol_keys_match_by_value_whatever_number_type_holds_them() {
    let env = staged_with(records(3, |_, _| {})).await;
    env.to_agol(50, &incremental()).await.unwrap();
    // The layer now stores the matching numbers as Doubles (as a layer re-created by hand would).
    let before = env.agol.features(LAYER);
    assert_eq!(before.len(), 3);
    env.agol.set_field(
        LAYER,
        json!({"name": "signal_number", "type": "esriFieldTypeDouble"}),
    );
    let as_doubles: Vec<_> = before
        .into_iter()
        .map(|mut f| {
            let n = f.attributes["signal_number"].as_f64().unwrap();
            f.attributes.insert("signal_number".into(), json!(n + 0.0));
            f.attributes.remove("OBJECTID");
            f
        })
        .collect();
    let fresh = Env::start().await;
    fresh.knack.set_records(&container(), records(3, |_, _| {}));
    let fresh = fresh.staged().await;
    fresh.agol.set_field(
        LAYER,
        json!({"name": "signal_number", "type": "esriFieldTypeDouble"}),
    );
    fresh.agol.seed(LAYER, as_doubles);

    let mut target = fresh.agol_target(50);
    target.matching_field = "signal_number".into();
    let report = fresh
        .to_agol_with(&fresh.publication(), &target, &incremental())
        .await
        .unwrap();

    assert_eq!(report.written, 3);
    assert_eq!(
        fresh.agol.features(LAYER).len(),
        3,
        "updated in place, not added again"
    );
    let (_, _, agol_writes) = fresh.writes();
    let edits = fresh.agol.requests_for("applyEdits");
    assert_eq!(agol_writes.len(), 1);
    assert_eq!(
        edits[0].param("adds"),
        Some("[]"),
        "no adds: every key matched"
    );
}

fn dataset_without_row_identifier() -> FakeDataset {
    let mut meta = fixture("socrata_dataset.json");
    let obj = meta.as_object_mut().unwrap();
    obj.remove("row_identifier");
    obj.insert("rowIdentifierColumnId".into(), Value::Null);
    FakeDataset::from_metadata(&meta)
}

#[tokio::test]
async fn socrata_a_dataset_without_the_row_identifier_is_refused_before_any_write() {
    let env = Env::start().await.staged().await;
    env.socrata.add_dataset(dataset_without_row_identifier());
    env.socrata.clear_requests();

    let failure = env.to_socrata(&incremental()).await.unwrap_err();

    let Error::Preflight(message) = &*failure.error else {
        panic!("a preflight refusal: {failure}")
    };
    assert!(message.contains("row identifier"), "{message}");
    assert!(message.contains("text column `id`"), "{message}");
    assert!(
        message.contains("Row identifier"),
        "says where to set it: {message}"
    );
    assert!(!failure.error.is_retryable());
    let (_, socrata_writes, _) = env.writes();
    assert!(socrata_writes.is_empty(), "{socrata_writes:?}");
    assert!(env.socrata.rows(DATASET).is_empty());
    assert_eq!(failure.report.written, 0);
}

#[tokio::test]
async fn socrata_a_read_only_dataset_is_refused_before_any_write() {
    let env = Env::start().await.staged().await;
    env.socrata
        .add_dataset(FakeDataset::from_metadata(&fixture("socrata_dataset.json")).read_only());
    env.socrata.clear_requests();

    let failure = env.to_socrata(&RunOptions::default()).await.unwrap_err();

    let Error::Preflight(message) = &*failure.error else {
        panic!("a preflight refusal: {failure}")
    };
    assert!(message.contains("read-only"), "{message}");
    assert!(env.writes().1.is_empty());
}

#[tokio::test]
async fn agol_a_layer_without_its_matching_field_is_refused_before_any_write() {
    let env = Env::start().await.staged().await;
    let mut target = env.agol_target(50);
    target.matching_field = "knack_id".into();

    let failure = env
        .to_agol_with(&env.publication(), &target, &RunOptions::default())
        .await
        .unwrap_err();

    let Error::Preflight(message) = &*failure.error else {
        panic!("a preflight refusal: {failure}")
    };
    assert!(message.contains("`knack_id`"), "{message}");
    assert!(message.contains("upsert_matching_field"), "{message}");
    assert!(env.writes().2.is_empty());
}

#[tokio::test]
async fn socrata_a_value_its_column_type_refuses_is_named_and_the_other_rows_are_written() {
    // An equation Knack could not compute reads as text; the dataset's column is a number.
    let recs = records(5, |i, r| {
        if i == 3 {
            r["field_17"] = json!("#ERROR");
            r["field_17_raw"] = json!("#ERROR");
        }
    });
    let env = staged_with(recs.clone()).await;

    let report = env.to_socrata(&RunOptions::default()).await.unwrap();

    assert_eq!((report.written, report.failed), (4, 0));
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    let r = &report.rejected[0];
    assert_eq!(r.record_id, id(&recs[3]));
    assert_eq!(r.code.as_deref(), Some("Errors"));
    let rows = env.socrata_rows();
    assert_eq!(rows.len(), 4);
    assert!(!rows.contains_key(&id(&recs[3])));
}

#[tokio::test]
async fn postgrest_a_value_postgres_refuses_is_named_and_its_previous_row_kept() {
    let env = staged_with(records(6, |_, _| {})).await;
    let before = env.staged_records();

    // Knack hands back a NUL character, which jsonb cannot hold: that record's statement fails.
    let recs = records(6, |i, r| {
        set(r, "field_1", json!(format!("Signal {i} revised")));
        if i == 4 {
            set(r, "field_2", json!("pasted from a terminal \u{0}"));
        }
    });
    env.knack.set_records(&container(), recs.clone());
    let report = env.stage(&RunOptions::default()).await.unwrap();

    assert_eq!((report.read, report.written, report.deleted), (6, 5, 0));
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    let r = &report.rejected[0];
    assert_eq!(r.record_id, id(&recs[4]));
    assert_eq!(r.code.as_deref(), Some("22P05"));
    assert!(
        r.reason.contains("unsupported Unicode escape sequence"),
        "{r}"
    );
    let after = env.staged_records();
    assert_eq!(
        after.len(),
        6,
        "the refused record's previous row is not deleted"
    );
    assert_eq!(after[&id(&recs[4])], before[&id(&recs[4])]);
    assert_eq!(after[&id(&recs[0])]["field_1"], "Signal 0 revised");
}

#[tokio::test]
async fn a_transient_failure_is_retried_never_split() {
    let env = staged_with(records(6, |_, _| {})).await;
    // Socrata: one 503, then the same request again, whole.
    env.socrata.clear_requests();
    env.socrata
        .inject(socrata_client::testkit::Fault::status(503).on_method("POST"));
    let report = env.to_socrata(&incremental()).await.unwrap();
    assert_eq!((report.written, report.rejected.len()), (6, 0));
    let posts: Vec<_> = env
        .socrata
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 2, "the 503'd request and its retry");
    assert_eq!(posts[0].body, posts[1].body, "retried whole, not halved");

    // ArcGIS: 503s beyond the retry budget stop the run; no feature is sent alone.
    env.agol.inject(
        agol_client::testkit::http_error(503)
            .on_path("/applyEdits")
            .times(100),
    );
    let failure = env.to_agol(50, &incremental()).await.unwrap_err();
    assert!(failure.report.rejected.is_empty());
    let edits = env.agol.requests_for("applyEdits");
    assert!(!edits.is_empty());
    assert!(
        edits
            .iter()
            .all(|r| r.param("rollbackOnFailure") == Some("true")),
        "never narrowed down to single features"
    );
    assert!(env.agol_features().is_empty());
}
