//! `aks status --verify` finds drift, and a plain `aks sync` repairs it.

mod common;

use common::sync::{
    counts, delete_from_socrata, mark_no_replace, row, run, socrata_client, socrata_upserted_ids,
    stdout, SYNC, VERIFY,
};
use common::{stderr, Fakes, APP, DATASET, VIEW};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread")]
async fn status_verify_shows_drift_after_rows_vanish_from_a_destination_and_none_after_a_sync() {
    let fakes = Fakes::start().await;
    let out = run(&fakes, &["status", "-a", APP, "-e", "dev"], 0).await;
    assert!(stdout(&out).contains("never"), "{}", stdout(&out));
    run(&fakes, SYNC, 0).await;
    let out = run(&fakes, VERIFY, 0).await;
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["drift"], false, "{doc:#}");
    let socrata = &doc["containers"][VIEW]["socrata"];
    assert_eq!(socrata["result"], "succeeded");
    assert!(socrata["watermark"].is_string() && socrata["last_run"].is_string());
    assert_eq!(socrata["counts"], json!({"staging": 60, "socrata": 60}));
    assert_eq!(
        doc["containers"][VIEW]["postgrest"]["counts"],
        json!({"knack": 60, "staging": 60})
    );

    // Three rows deleted from the dataset behind aks's back.
    let gone = delete_from_socrata(&fakes, 3).await;
    let out = run(&fakes, VERIFY, 3).await;
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["drift"], true);
    let socrata = &doc["containers"][VIEW]["socrata"];
    assert_eq!(socrata["counts"], json!({"staging": 60, "socrata": 57}));
    let mut missing: Vec<String> = serde_json::from_value(socrata["missing_ids"].clone()).unwrap();
    missing.sort();
    let mut gone = gone;
    gone.sort();
    assert_eq!(missing, gone);
    assert_eq!(doc["containers"][VIEW]["agol"]["drift"], false);
    assert!(
        stderr(&out).contains(&format!("run `aks sync -a {APP} -e dev`")),
        "the fix is named: {}",
        stderr(&out)
    );

    // The remedy the message names: a plain sync, with nothing changed in Knack, re-publishes
    // exactly the missing rows, and a row nobody staged leaves the dataset.
    socrata_client(&fakes)
        .upsert(DATASET, &[json!({"id": "foreign-row"})])
        .await
        .unwrap();
    fakes.socrata.clear_requests();
    let out = run(&fakes, SYNC, 0).await;
    assert_eq!(socrata_upserted_ids(&fakes), gone.iter().cloned().collect());
    assert_eq!(
        counts(&out, VIEW, "socrata")[1..],
        [3, 1],
        "written, deleted"
    );
    assert!(
        stdout(&out).contains(&format!(
            "{VIEW}/socrata: repaired: 3 staged record(s) missing from dataset {DATASET}, \
             re-published"
        )),
        "{}",
        stdout(&out)
    );
    assert!(fakes
        .socrata
        .rows(DATASET)
        .iter()
        .all(|r| r["id"] != "foreign-row"));
    let out = run(&fakes, VERIFY, 0).await;
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["drift"], false, "{doc:#}");

    // In step, the check costs count requests only: no id is read from the dataset.
    fakes.socrata.clear_requests();
    run(&fakes, SYNC, 0).await;
    let reads: Vec<String> = fakes
        .socrata
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/resource/"))
        .map(|r| format!("{:?}", r.query_param("$select")))
        .collect();
    assert!(
        reads.iter().all(|s| s.contains("count(*)")) && !reads.is_empty(),
        "{reads:?}"
    );
}

/// A dataset that may not be replaced keeps a row nobody staged: the sync reports it instead.
#[tokio::test(flavor = "multi_thread")]
async fn a_no_replace_dataset_keeps_rows_nobody_staged_and_the_sync_says_so() {
    let fakes = Fakes::start().await;
    mark_no_replace(&fakes);
    run(&fakes, SYNC, 0).await;
    socrata_client(&fakes)
        .upsert(DATASET, &[json!({"id": "foreign-row"})])
        .await
        .unwrap();
    let out = run(&fakes, SYNC, 0).await;
    assert_eq!(counts(&out, VIEW, "socrata")[2], 0, "nothing deleted");
    assert!(fakes
        .socrata
        .rows(DATASET)
        .iter()
        .any(|r| r["id"] == "foreign-row"));
    assert!(
        stderr(&out).contains(
            "1 row(s) of dataset acc1-0001 are staged by no container (foreign-row): kept"
        ),
        "{}",
        stderr(&out)
    );

    // `-d` overrides every watermark for one run: all staged records upserted, none deleted.
    let out = run(
        &fakes,
        &["sync", "-a", APP, "-e", "dev", "-d", "1970-01-01"],
        0,
    )
    .await;
    for stage in ["postgrest", "socrata", "agol"] {
        assert!(
            row(&out, VIEW, stage)[2].starts_with("1970-01-01"),
            "{stage}"
        );
        assert_eq!(counts(&out, VIEW, stage), [60, 60, 0], "{stage}");
    }
}
