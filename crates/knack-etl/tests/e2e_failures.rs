//! The deliberate fixes, proven with injected failures: a replace never deletes before every
//! write succeeded, never empties a destination on an empty read, never PUTs to Socrata.

mod e2e_common;

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use e2e_common::{fixture, fixture_records, synthetic_record, Env};
use knack_etl::agol::AgolTarget;
use knack_etl::Error;
use knack_etl::RunOptions;
use pgrest_client::testkit::{Fault, PostgrestFault};
use serde_json::json;
use socrata_client::testkit::{FakeDataset, FakeSocrata};

const KEPT_NOTE: &str = "keeps its previous records";

fn ids(records: &[serde_json::Value]) -> BTreeSet<String> {
    records
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn agol_failing_on_the_third_batch_of_a_replace_leaves_the_old_features() {
    // One batch at a time: batches 1 and 2 applied, 3 refused, the rest never sent.
    agol_failing_mid_replace(1, 3, (30, 20, 10)).await;
    // The default, 4 in flight: a page of 4 batches goes out together; the third to arrive is
    // refused, the other three land, the second page is never sent.
    agol_failing_mid_replace(AgolTarget::DEFAULT_IN_FLIGHT, 4, (40, 30, 10)).await;
}

/// A replace of 60 features in batches of 10, `in_flight` at once, whose third `applyEdits` to
/// arrive is refused: `sent` calls made, `(read, written, failed)` reported, nothing deleted,
/// every old feature intact; the next good run finishes the replace.
async fn agol_failing_mid_replace(in_flight: usize, sent: usize, counts: (u64, u64, u64)) {
    let env = Env::start().await.staged().await;
    let target = AgolTarget {
        in_flight,
        ..env.agol_target(10)
    };
    let publication = env.publication();
    let options = RunOptions::default();
    env.to_agol_with(&publication, &target, &options)
        .await
        .unwrap();
    let before = env.agol_features();
    assert_eq!(before.len(), 60);

    // Knack lost ten records: a successful replace would delete their features.
    let mut records = fixture_records();
    let lost = ids(&records.split_off(50));
    env.knack.set_records(&e2e_common::container(), records);
    let restaged = env.stage(&RunOptions::default()).await.unwrap();
    assert_eq!(restaged.deleted, 10);

    let edit_calls = env.agol.requests_for("applyEdits").len();
    assert_eq!(edit_calls, 6, "60 features in batches of 10");
    // The third call is refused for a reason splitting cannot cure (a permission): the run stops.
    env.agol.inject_after(
        "/applyEdits",
        2,
        agol_client::testkit::arcgis_error(
            403,
            "You do not have permissions to access this resource or perform this operation.",
        )
        .on_path("/applyEdits"),
    );

    let failure = env
        .to_agol_with(&publication, &target, &options)
        .await
        .unwrap_err();
    assert!(matches!(*failure.error, Error::Agol(_)), "{failure}");
    assert_eq!(
        env.agol.requests_for("applyEdits").len(),
        edit_calls + sent,
        "stopped at the failed batch"
    );
    assert!(env.agol.requests_for("deleteFeatures").is_empty());
    assert!(
        failure.report.notes.iter().any(|n| n.contains(KEPT_NOTE)),
        "{:?}",
        failure.report.notes
    );
    // The batches that landed hold the same data (the layer looks the same), the refused one
    // was rolled back, and the rest were never sent.
    assert_eq!(
        (
            failure.report.read,
            failure.report.written,
            failure.report.failed,
            failure.report.deleted
        ),
        (counts.0, counts.1, counts.2, 0)
    );
    assert!(failure.to_string().contains("ArcGIS Online"), "{failure}");

    let after = env.agol_features();
    assert_eq!(
        after, before,
        "every old feature intact, the lost records' included"
    );
    assert!(lost.iter().all(|id| after.contains_key(id)));

    // The next good run finishes the replace.
    let report = env
        .to_agol_with(&publication, &target, &options)
        .await
        .unwrap();
    assert_eq!(report.deleted, 10);
    assert!(lost.iter().all(|id| !env.agol_features().contains_key(id)));
}

#[tokio::test]
async fn agol_feature_failure_is_named_and_the_rest_of_its_batch_written() {
    let env = Env::start().await.staged().await;
    let records = fixture_records();
    // The 25th feature fails: batch 3 of 10 (features 21-30) is refused as a whole, then its
    // first half (21-25) is sent for ArcGIS to answer feature by feature (it names the 25th and
    // writes the rest), then the second half; the other 59 are written.
    let bad = records[24]["id"].as_str().unwrap().to_string();
    env.agol
        .fail_when_attribute(e2e_common::LAYER, "id", json!(bad));

    let report = env.to_agol(10, &RunOptions::default()).await.unwrap();
    assert_eq!((report.read, report.written, report.failed), (60, 59, 0));
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    let rejected = &report.rejected[0];
    assert_eq!(rejected.record_id, bad);
    assert_eq!(rejected.code.as_deref(), Some("1000"));
    assert!(rejected.reason.contains("Injected failure"), "{rejected}");
    let stored = env.agol_features();
    assert!(!stored.contains_key(&bad));
    assert_eq!(stored.len(), 59);
    // The cost of isolating it: batch 3's one call became 3 (10 → 5 named, 5 landed), the
    // halves sent feature by feature. (Batches are in flight 4 at once, so they arrive in any
    // order.)
    let edits = env.agol.requests_for("applyEdits");
    assert_eq!(edits.len(), 6 + 2);
    let per_feature = edits
        .iter()
        .filter(|r| r.param("rollbackOnFailure") == Some("false"))
        .count();
    assert_eq!(per_feature, 2);
}

#[tokio::test]
async fn postgrest_unavailable_beyond_the_retry_budget_deletes_nothing() {
    let env = Env::start().await.staged().await;
    let before = env.staged_records();
    let mut records = fixture_records();
    records.truncate(50);
    env.knack.set_records(&e2e_common::container(), records);
    env.pg.clear_requests();
    env.pg
        .inject(Fault::unavailable().times(50).on_method("POST"));

    let failure = env.stage(&RunOptions::default()).await.unwrap_err();
    assert!(matches!(*failure.error, Error::Postgrest(_)), "{failure}");
    assert!(failure.error.is_retryable());
    assert!(failure.report.notes.iter().any(|n| n.contains(KEPT_NOTE)));
    assert_eq!((failure.report.written, failure.report.deleted), (0, 0));

    let methods: Vec<String> = env.pg.requests().iter().map(|r| r.method.clone()).collect();
    assert!(!methods.iter().any(|m| m == "DELETE"), "{methods:?}");
    assert!(
        methods.iter().filter(|m| *m == "POST").count() > 1,
        "retried: {methods:?}"
    );
    assert_eq!(
        env.staged_records(),
        before,
        "the container's old rows all there"
    );
}

#[tokio::test]
async fn postgrest_failing_mid_reload_keeps_every_old_row() {
    let env = Env::start().await;
    let container = e2e_common::container();
    let old: Vec<_> = (0..1100).map(synthetic_record).collect();
    env.knack.set_records(&container, old.clone());
    env.stage(&RunOptions::default()).await.unwrap();
    assert_eq!(env.staged_records().len(), 1100);

    // The reload: 1050 records, and Knack's second page repeats one id, which Postgres refuses
    // in a single upsert ("cannot affect row a second time"): page 1 is written, page 2 fails.
    let mut new: Vec<_> = (0..1050).map(synthetic_record).collect();
    new.push(synthetic_record(1049));
    env.knack.set_records(&container, new);
    env.pg.clear_requests();

    let failure = env.stage(&RunOptions::default()).await.unwrap_err();
    assert!(matches!(*failure.error, Error::Postgrest(_)), "{failure}");
    assert_eq!(
        (
            failure.report.read,
            failure.report.written,
            failure.report.failed
        ),
        (1051, 1000, 51)
    );
    assert!(failure.report.notes.iter().any(|n| n.contains(KEPT_NOTE)));
    assert!(env.pg.requests().iter().all(|r| r.method != "DELETE"));
    let staged = env.staged_records();
    assert_eq!(
        staged.keys().cloned().collect::<BTreeSet<_>>(),
        ids(&old),
        "rows 1050.. kept"
    );
}

#[tokio::test]
async fn an_empty_knack_read_never_empties_the_staging_store_unless_allowed() {
    let env = Env::start().await.staged().await;
    env.knack.set_records(&e2e_common::container(), vec![]);
    env.pg.clear_requests();

    let report = env.stage(&RunOptions::default()).await.unwrap();
    assert_eq!((report.read, report.deleted), (0, 0));
    assert!(
        report.notes.iter().any(|n| n.contains("left untouched")),
        "{:?}",
        report.notes
    );
    assert!(env.pg.requests().iter().all(|r| r.method != "DELETE"));
    assert_eq!(env.staged_records().len(), 60);

    let allowed = RunOptions {
        allow_empty_replace: true,
        ..RunOptions::default()
    };
    let report = env.stage(&allowed).await.unwrap();
    assert_eq!(report.deleted, 60);
    assert!(env.staged_records().is_empty());
    assert_eq!(env.pg.rows("knack_metadata").len(), 1, "metadata untouched");
}

#[tokio::test]
async fn a_socrata_replace_never_puts_and_deletes_only_what_the_source_lost() {
    let env = Env::start().await.staged().await;
    let first = fixture_records()[0]["id"].as_str().unwrap().to_string();
    env.socrata.add_dataset(
        FakeDataset::from_metadata(&fixture("socrata_dataset.json")).rows([
            json!({"id": "gone-1", "location_name": "removed from Knack"}),
            json!({"id": first, "location_name": "stale value"}),
            json!({"id": "gone-2"}),
        ]),
    );

    let report = env.to_socrata(&RunOptions::default()).await.unwrap();
    assert_eq!((report.written, report.deleted), (60, 2));

    let requests = env.socrata.requests();
    assert!(requests.iter().all(|r| r.method != "PUT"));
    let deleted: BTreeSet<String> = requests
        .iter()
        .filter(|r| r.method == "POST")
        .flat_map(FakeSocrata::body_rows)
        .filter(|row| row[":deleted"] == true)
        .map(|row| row["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        deleted,
        BTreeSet::from(["gone-1".to_string(), "gone-2".to_string()])
    );
    let stored = env.socrata_rows();
    assert_eq!(stored.len(), 60);
    assert_eq!(
        stored[&first]["location_name"],
        fixture_records()[0]["field_1"]
    );
    assert!(!stored.contains_key("gone-1") && !stored.contains_key("gone-2"));
}

#[tokio::test]
async fn records_deleted_in_knack_leave_the_staging_store_on_a_full_reload_only() {
    let env = Env::start().await.staged().await;
    let mut records = fixture_records();
    let lost = ids(&records.split_off(55));
    env.knack.set_records(&e2e_common::container(), records);

    let incremental = RunOptions {
        since: Some(Utc.with_ymd_and_hms(2024, 1, 1, 12, 0, 0).unwrap()),
        ..RunOptions::default()
    };
    let report = env.stage(&incremental).await.unwrap();
    assert_eq!(report.deleted, 0);
    assert!(report.read > 0);
    assert_eq!(
        env.staged_records().len(),
        60,
        "an incremental run deletes nothing"
    );

    let report = env.stage(&RunOptions::default()).await.unwrap();
    assert_eq!((report.read, report.deleted), (55, 5));
    let staged = env.staged_records();
    assert_eq!(staged.len(), 55);
    assert!(lost.iter().all(|id| !staged.contains_key(id)));
}
