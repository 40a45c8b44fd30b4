//! `aks sync` of a container with a Knack destination: the records-to-knack stage runs after the
//! container's staging load, against a second fake Knack app, and never creates a record twice.

mod common;

use common::knack_dest::{
    add_destination, dest_metadata, dest_writes, no_secret, DEST_ID, DEST_KEY, OBJECT,
};
use common::sync::{change_in_knack, counts, row, stdout, SYNC};
use common::{stderr, Fakes, APP, APP_ID, RECORDS, VIEW};
use knack_etl::knack_client::testkit::FakeKnack;
use knack_etl::knack_client::Container;

const STAGE: &str = "knack:smart-mobility";

/// Runs `args` with the destination's variables set; checks the exit code and that no secret,
/// the destination's key included, is printed.
async fn run(fakes: &Fakes, dest: &FakeKnack, args: &[&str], code: i32) -> std::process::Output {
    let url = dest.uri();
    let env = [
        ("KNACK_API_URL_DEST", url.as_str()),
        ("KNACK_API_KEY_DEST", DEST_KEY),
    ];
    let out = fakes.run_with(&env, args).await;
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    no_secret(&out);
    out
}

fn source_writes(fakes: &Fakes) -> Vec<String> {
    fakes
        .knack
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_copies_into_the_knack_destination_once_and_a_rerun_writes_nothing() {
    let fakes = Fakes::start().await;
    let dest = add_destination(&fakes).await;
    let object = Container::object(OBJECT).unwrap();

    let out = run(&fakes, &dest, SYNC, 0).await;
    let n = RECORDS as u64;
    assert_eq!(counts(&out, VIEW, STAGE), [n, n, 0], "{}", stdout(&out));
    assert_eq!(row(&out, "(smart-mobility)", "metadata")[8], "ok");
    let writes = dest_writes(&dest);
    assert_eq!(writes.len(), RECORDS, "{writes:?}");
    assert!(writes
        .iter()
        .all(|w| w == "POST /v1/objects/object_26/records"));
    assert_eq!(dest.records(&object).len(), RECORDS);
    assert!(dest.max_requests_in_window(std::time::Duration::from_secs(1)) <= 10);
    // The stage is tracked like the others, under the source app.
    let state = fakes
        .pg
        .rows("knack_sync_state")
        .into_iter()
        .find(|r| r["container_id"] == VIEW && r["destination"] == STAGE)
        .expect("a knack_sync_state row for the stage");
    assert_eq!(state["app_id"], APP_ID);
    assert_eq!(state["last_result"], "succeeded");
    let status = run(&fakes, &dest, &["status", "-a", APP, "-e", "dev"], 0).await;
    assert!(
        stdout(&status)
            .lines()
            .any(|l| l.contains(VIEW) && l.contains(STAGE) && l.contains("succeeded")),
        "{}",
        stdout(&status)
    );

    // Nobody re-staged the destination by hand, and -d makes the stage read every source record
    // again: the refresh of the destination's staged rows finds the 60 created, so nothing is
    // created twice.
    dest.clear_requests();
    let out = run(
        &fakes,
        &dest,
        &["sync", "-a", APP, "-e", "dev", "-d", "1970-01-01"],
        0,
    )
    .await;
    assert_eq!(counts(&out, VIEW, STAGE), [n, 0, 0], "{}", stdout(&out));
    assert!(dest_writes(&dest).is_empty(), "{:?}", dest_writes(&dest));
    assert_eq!(dest.records(&object).len(), RECORDS, "no duplicate");
    dest.clear_requests();
    run(&fakes, &dest, SYNC, 0).await;
    assert!(
        dest_writes(&dest).is_empty(),
        "a plain rerun writes nothing"
    );

    // Ten records renamed in the source: a dry run writes to neither app and says what it
    // would update; the sync then updates exactly those ten.
    let changed = change_in_knack(&fakes, 10);
    dest.clear_requests();
    fakes.knack.clear_requests();
    let out = run(
        &fakes,
        &dest,
        &["--dry-run", "sync", "-a", APP, "-e", "dev"],
        0,
    )
    .await;
    assert!(dest_writes(&dest).is_empty(), "{:?}", dest_writes(&dest));
    assert!(source_writes(&fakes).is_empty());
    assert_eq!(
        counts(&out, VIEW, STAGE)[1],
        0,
        "the source was not re-staged"
    );
    let out = run(&fakes, &dest, SYNC, 0).await;
    assert_eq!(counts(&out, VIEW, STAGE), [10, 10, 0], "{}", stdout(&out));
    let writes = dest_writes(&dest);
    assert_eq!(writes.len(), 10, "{writes:?}");
    assert!(writes.iter().all(|w| w.starts_with("PUT ")), "{writes:?}");
    let renamed = dest
        .records(&object)
        .into_iter()
        .filter(|r| r.raw()["field_382"] == "CHANGED")
        .count();
    assert_eq!(renamed, changed.len());
    assert_eq!(dest.records(&object).len(), RECORDS);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_sync_plans_the_copy_and_writes_to_neither_knack_app() {
    let fakes = Fakes::start().await;
    let dest = add_destination(&fakes).await;
    // A dry run stores no metadata, and the publishers and records-to-knack read it from the
    // staging store (as after any real run): staged here first.
    for args in [
        &["metadata-to-postgrest", "-a", APP, "-e", "dev"][..],
        &["records-to-postgrest", "-a", APP, "-c", VIEW, "-e", "dev"],
    ] {
        run(&fakes, &dest, args, 0).await;
    }
    let pg = fakes.pg.client_builder().build().unwrap();
    knack_etl::staging::store_metadata(&pg, DEST_ID, &dest_metadata())
        .await
        .unwrap();
    let writes = fakes.writes();
    let out = run(
        &fakes,
        &dest,
        &["--dry-run", "sync", "-a", APP, "-e", "dev"],
        0,
    )
    .await;
    let n = RECORDS as u64;
    assert_eq!(
        counts(&out, VIEW, STAGE),
        [n, n, 0],
        "would create every record"
    );
    assert_eq!(row(&out, VIEW, STAGE)[8], "ok");
    assert!(dest_writes(&dest).is_empty());
    assert!(source_writes(&fakes).is_empty());
    assert_eq!(fakes.writes(), writes, "nor to staging or any publisher");
    assert!(
        stderr(&out).contains("dry run: would be 60 created, 0 updated, 0 unchanged"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_with_a_knack_destination_needs_its_key_before_any_request() {
    let fakes = Fakes::start().await;
    let dest = add_destination(&fakes).await;
    let out = fakes.run(SYNC).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("KNACK_API_KEY_DEST"),
        "{}",
        stderr(&out)
    );
    assert!(fakes.knack.requests().is_empty() && dest.requests().is_empty());
    assert!(fakes.writes().is_empty());

    // One message names everything missing, the source's and the destination's variables alike.
    let out = fakes
        .run_with(&[("PGREST_JWT", ""), ("KNACK_API_KEY", "")], SYNC)
        .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    for name in ["PGREST_JWT", "KNACK_API_KEY", "KNACK_API_KEY_DEST"] {
        assert!(err.contains(name), "{name} not named: {err}");
    }
}

/// When the destination's staged rows cannot be refreshed, the stage writes nothing to the
/// destination (it could create records twice), fails, and the other stages still ran.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_refresh_of_the_destination_writes_nothing_there() {
    let fakes = Fakes::start().await;
    let dest = add_destination(&fakes).await;
    dest.inject(
        knack_etl::knack_client::testkit::Fault::status(403)
            .on_method("GET")
            .on_path("objects/object_26/records")
            .times(1),
    );
    let out = run(&fakes, &dest, SYNC, 1).await;
    assert_eq!(row(&out, VIEW, STAGE)[8], "FAILED");
    assert_eq!(row(&out, VIEW, "socrata")[8], "ok");
    assert!(dest_writes(&dest).is_empty(), "{:?}", dest_writes(&dest));
    assert!(
        stderr(&out).contains("the refresh of smart-mobility's staged object_26 failed"),
        "{}",
        stderr(&out)
    );
    // The next sync refreshes, then copies.
    let out = run(&fakes, &dest, SYNC, 0).await;
    assert_eq!(counts(&out, VIEW, STAGE)[1], RECORDS as u64);
}
