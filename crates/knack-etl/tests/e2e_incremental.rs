//! Incremental runs (`since`): Knack gets the whole-day filter in the app's timezone, the staging
//! store is upserted without deletes, and the publishers take only rows staged on or after `since`.

mod e2e_common;

use std::collections::BTreeSet;

use chrono::{NaiveDate, TimeZone, Utc};
use e2e_common::{fixture_records, Env, APP_ID, MODIFIED_FIELD, VIEW};
use knack_etl::RunOptions;
use serde_json::{json, Value};

/// The local day of a Knack date_time display value (`02/29/2024 11:30pm`).
fn local_day(record: &Value) -> NaiveDate {
    let shown = record[MODIFIED_FIELD].as_str().unwrap();
    NaiveDate::parse_from_str(&shown[..10], "%m/%d/%Y").unwrap()
}

#[tokio::test]
async fn since_sends_knacks_whole_day_filter_in_the_app_timezone_and_upserts_only() {
    let env = Env::start().await.staged().await;
    // 05:30Z on 1 March is still 29 February in Austin (UTC-6).
    let since = Utc.with_ymd_and_hms(2024, 3, 1, 5, 30, 0).unwrap();
    let first_day = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
    let want: BTreeSet<String> = fixture_records()
        .iter()
        .filter(|r| local_day(r) >= first_day)
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !want.is_empty() && want.len() < 60,
        "the day splits the fixture"
    );

    // One record Knack no longer has: an incremental run must not delete it.
    let mut records = fixture_records();
    let gone = records.pop().unwrap();
    env.knack.set_records(&e2e_common::container(), records);
    env.knack.clear_requests();
    env.pg.clear_requests();

    let options = RunOptions {
        since: Some(since),
        ..RunOptions::default()
    };
    let report = env.stage(&options).await.unwrap();

    let record_requests: Vec<_> = env
        .knack
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/views/view_1/records"))
        .collect();
    assert!(!record_requests.is_empty());
    for request in &record_requests {
        let filters: Value = serde_json::from_str(request.query_param("filters").unwrap()).unwrap();
        assert_eq!(
            filters,
            json!({"match": "or", "rules": [
                {"field": MODIFIED_FIELD, "operator": "is", "value": "02/29/2024"},
                {"field": MODIFIED_FIELD, "operator": "is after", "value": "02/29/2024"},
            ]})
        );
    }
    let gone_id = gone["id"].as_str().unwrap();
    let expected_read = want.iter().filter(|id| *id != gone_id).count() as u64;
    assert_eq!(
        (report.read, report.written, report.deleted),
        (expected_read, expected_read, 0)
    );

    // Upserts only: no DELETE, and the record Knack dropped is still staged.
    let methods: Vec<String> = env.pg.requests().iter().map(|r| r.method.clone()).collect();
    assert!(!methods.contains(&"DELETE".to_string()), "{methods:?}");
    assert!(methods.contains(&"POST".to_string()));
    let staged = env.staged_records();
    assert_eq!(staged.len(), 60);
    assert!(staged.contains_key(gone_id));
}

/// Stages the fixture with `updated_at` chosen per row: ids in `recent` in June 2024, the rest in 2020.
async fn staged_at_two_times(recent: &BTreeSet<String>) -> Env {
    let env = Env::start().await;
    env.metadata(false).await.unwrap();
    env.pg.seed(
        "knack",
        fixture_records().into_iter().map(|r| {
            let id = r["id"].as_str().unwrap().to_string();
            let at = if recent.contains(&id) { "2024-06-01T12:00:00+00:00" } else { "2020-01-01T00:00:00+00:00" };
            json!({"app_id": APP_ID, "container_id": VIEW, "record_id": id, "record": r, "updated_at": at})
        }),
    );
    env.pg.clear_requests();
    env
}

fn since_options() -> RunOptions {
    RunOptions {
        since: Some(Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap()),
        ..RunOptions::default()
    }
}

fn assert_staging_read_filtered_on_updated_at(env: &Env) {
    let reads: Vec<_> = env
        .pg
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == "/knack")
        // The preflight's one-row probe of the table is not a read of records.
        .filter(|r| !r.query.contains(&("select".into(), "app_id".into())))
        .collect();
    assert!(!reads.is_empty());
    for read in reads {
        let pairs = read.query;
        assert!(
            pairs.contains(&("updated_at".into(), "gte.2024-05-01T00:00:00+00:00".into())),
            "{pairs:?}"
        );
    }
}

#[tokio::test]
async fn socrata_incremental_publishes_only_rows_staged_since() {
    let recent: BTreeSet<String> = fixture_records()
        .iter()
        .step_by(4)
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let env = staged_at_two_times(&recent).await;
    // A row already published that the run does not read: an upsert keeps it.
    env.socrata.add_dataset(
        socrata_client::testkit::FakeDataset::from_metadata(&e2e_common::fixture(
            "socrata_dataset.json",
        ))
        .rows([json!({"id": "kept-from-before", "location_name": "old"})]),
    );

    let report = env.to_socrata(&since_options()).await.unwrap();
    assert_eq!((report.read, report.written, report.deleted), (15, 15, 0));
    assert_staging_read_filtered_on_updated_at(&env);

    let stored: BTreeSet<String> = env.socrata_rows().into_keys().collect();
    let mut want = recent.clone();
    want.insert("kept-from-before".into());
    assert_eq!(stored, want);
    assert!(env
        .socrata
        .requests()
        .iter()
        .all(|r| r.method != "PUT" && !String::from_utf8_lossy(&r.body).contains(":deleted")));
}

#[tokio::test]
async fn agol_incremental_publishes_only_rows_staged_since() {
    let recent: BTreeSet<String> = fixture_records()
        .iter()
        .skip(1)
        .step_by(3)
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let env = staged_at_two_times(&recent).await;
    let mut old = agol_client::Feature::default();
    old.attributes
        .insert("id".into(), json!("kept-from-before"));
    env.agol.seed(e2e_common::LAYER, [old]);

    let report = env.to_agol(50, &since_options()).await.unwrap();
    assert_eq!((report.read, report.written, report.deleted), (20, 20, 0));
    assert_staging_read_filtered_on_updated_at(&env);

    let stored: BTreeSet<String> = env.agol_features().into_keys().collect();
    let mut want = recent.clone();
    want.insert("kept-from-before".into());
    assert_eq!(stored, want);
    assert!(env.agol.requests_for("deleteFeatures").is_empty());
    // An upsert looks up only its own keys, never the whole layer.
    let wheres: Vec<String> = env
        .agol
        .requests_for("query")
        .iter()
        .filter_map(|r| r.param("where").map(str::to_string))
        .collect();
    assert!(!wheres.is_empty());
    assert!(
        wheres.iter().all(|w| w.starts_with("id IN ('")),
        "{wheres:?}"
    );
    let looked_up: usize = wheres.iter().map(|w| w.matches(',').count() + 1).sum();
    assert_eq!(looked_up, 20, "each record's key, once: {wheres:?}");
}
