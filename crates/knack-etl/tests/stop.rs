//! A run stopped mid-way ([`Stop`], what `aks` asks on SIGTERM): a replace reads no further page,
//! starts no new write and deletes nothing, fails with the stop's error, and its stage's row in
//! `api.knack_sync_state` is closed as failed with its watermark unchanged; the next run
//! completes to the state of a run never stopped. One for the staging load (Knack → PostgREST,
//! the stop asked from the fake Knack's hook before page 2) and one for ArcGIS Online with
//! batches in flight (the stop asked once the first `applyEdits` arrived).

mod e2e_common;

use std::collections::BTreeSet;
use std::time::Duration;

use e2e_common::{container, fixture_records, Env, APP_ID, LAYER, MODIFIED_FIELD, VIEW};
use knack_etl::sync::{run_stage, Destination, StageClients, SyncPlan, SyncState, Watermarks};
use knack_etl::{Error, RunFailure, RunOptions, RunReport, Stop};

fn plan(env: &Env) -> SyncPlan {
    SyncPlan {
        container: container(),
        modified_date_field: MODIFIED_FIELD.into(),
        location_fields: Vec::new(),
        socrata: None,
        agol: Some(env.agol_target(50)),
        knack: Vec::new(),
    }
}

/// Stage `dest` of the plan, in full, watching `stop`, with its watermark recorded.
async fn stage(env: &Env, dest: Destination, stop: Stop) -> Result<RunReport, RunFailure> {
    let clients = StageClients {
        pgrest: &env.pg_client,
        knack: Some(&env.knack_client),
        socrata: None,
        agol: Some(&env.agol_client),
    };
    let options = RunOptions {
        stop,
        ..RunOptions::default()
    };
    run_stage(clients, APP_ID, &plan(env), dest, &options).await
}

/// The stage's row in `api.knack_sync_state`.
async fn row(env: &Env, dest: &str) -> SyncState {
    let states = Watermarks::new(env.pg_client.clone(), APP_ID)
        .all()
        .await
        .unwrap();
    let mut rows = states
        .into_iter()
        .filter(|s| s.container_id == VIEW && s.destination.as_str() == dest);
    let row = rows.next().expect("the stage has a row");
    assert!(rows.next().is_none());
    row
}

/// Ids `from..to` as Knack and the fakes hold them.
fn ids(from: usize, to: usize) -> BTreeSet<String> {
    (from..to).map(|n| format!("{n:024x}")).collect()
}

/// The failure's error must be the stop's, and the run must have deleted nothing.
fn assert_stopped(failure: &RunFailure) {
    assert!(
        matches!(&*failure.error, Error::Stopped(_)),
        "{}",
        failure.error
    );
    let message = failure.error.to_string();
    assert!(
        message.starts_with(&format!(
            "stopped by SIGTERM before it finished: {} written, nothing deleted; the next run \
             repeats it",
            failure.report.written
        )),
        "{message}"
    );
    assert_eq!(failure.report.deleted, 0, "{}", failure.report);
}

/// The row of a stopped stage: failed (not running), its error the stop's, its watermark the
/// one before.
async fn assert_row_failed(env: &Env, dest: &str, before: &SyncState) {
    let after = row(env, dest).await;
    assert_eq!(after.last_result.as_deref(), Some("failed"));
    assert_eq!(after.watermark, before.watermark);
    let error = after.last_report.as_ref().unwrap()["error"]
        .as_str()
        .unwrap();
    assert!(
        error.starts_with("stopped by SIGTERM before it finished"),
        "{error}"
    );
}

/// Record `n`: a fixture record (every field the publishers read) with id `n`.
fn record(n: usize) -> serde_json::Value {
    let fixtures = fixture_records();
    let mut record = fixtures[n % fixtures.len()].clone();
    record["id"] = format!("{n:024x}").into();
    record
}

/// 1,500 records staged (two Knack pages), then 50 gone and 50 new at Knack.
async fn staged_then_changed() -> Env {
    let env = Env::start().await;
    env.metadata(false).await.unwrap();
    let records = |from, to| (from..to).map(record).collect::<Vec<_>>();
    env.knack.set_records(&container(), records(0, 1_500));
    let first = stage(&env, Destination::Postgrest, Stop::new())
        .await
        .unwrap();
    assert_eq!(first.written, 1_500);
    env.knack.set_records(&container(), records(50, 1_550));
    env
}

#[tokio::test]
async fn a_staging_replace_stopped_after_a_page_deletes_nothing_and_the_next_run_completes() {
    let env = staged_then_changed().await;
    let before = row(&env, "postgrest").await;
    let staged_before = env.staged_records();
    assert_eq!(
        staged_before.keys().cloned().collect::<BTreeSet<_>>(),
        ids(0, 1_500)
    );

    let stop = Stop::new();
    env.knack
        .before_page(&container(), 2, move |_| stop.request("SIGTERM"));
    let failure = stage(&env, Destination::Postgrest, stop).await.unwrap_err();
    assert_stopped(&failure);
    assert!(failure.report.written < 1_500, "{}", failure.report);

    // Every previous record is still staged, once (nothing deleted, nothing doubled).
    let rows = env.pg.rows("knack");
    let staged = env.staged_records();
    assert_eq!(rows.len(), staged.len(), "a record staged twice");
    assert!(ids(0, 1_500).iter().all(|id| staged.contains_key(id)));
    assert_row_failed(&env, "postgrest", &before).await;

    // The next run completes: the staged records are Knack's, as after a run never stopped.
    let next = stage(&env, Destination::Postgrest, Stop::new())
        .await
        .unwrap();
    assert_eq!((next.written, next.deleted), (1_500, 50), "{next}");
    let staged = env.staged_records();
    assert_eq!(
        staged.keys().cloned().collect::<BTreeSet<_>>(),
        ids(50, 1_550)
    );
    assert_eq!(env.pg.rows("knack").len(), 1_500);
    assert_eq!(
        row(&env, "postgrest").await.last_result.as_deref(),
        Some("succeeded")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agol_replace_stopped_with_batches_in_flight_lets_them_land_and_deletes_nothing() {
    let env = staged_then_changed().await;
    stage(&env, Destination::Agol, Stop::new()).await.unwrap();
    let before = row(&env, "agol").await;
    assert_eq!(
        env.agol_features().keys().cloned().collect::<BTreeSet<_>>(),
        ids(0, 1_500)
    );
    // The staged rows of the changed Knack records, then the layer's replace, 30 batches of 50,
    // 4 in flight, each `applyEdits` 100 ms.
    stage(&env, Destination::Postgrest, Stop::new())
        .await
        .unwrap();
    env.agol.clear_requests();
    env.agol.set_latency(Duration::from_millis(100));
    let stop = Stop::new();
    // Asked while the first batches are in flight (their requests arrived, their answers not).
    let asker = async {
        for _ in 0..10_000 {
            if !env.agol.requests_for("applyEdits").is_empty() {
                stop.request("SIGTERM");
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    let (failure, ()) = tokio::join!(stage(&env, Destination::Agol, stop), asker);
    let failure = failure.unwrap_err();
    assert_stopped(&failure);
    let sent = env.agol.requests_for("applyEdits").len() as u64;
    assert!((1..30).contains(&sent), "{sent} applyEdits sent");
    // Every batch sent ended and counted: what landed is what the report says was written.
    assert_eq!(failure.report.written, sent * 50, "{}", failure.report);
    assert!(env.agol.requests_for("deleteFeatures").is_empty());

    // No feature deleted or doubled.
    let features = env.agol.features(LAYER);
    let by_id = env.agol_features();
    assert_eq!(features.len(), by_id.len(), "a feature doubled");
    assert!(ids(0, 1_500).iter().all(|id| by_id.contains_key(id)));
    assert_row_failed(&env, "agol", &before).await;

    env.agol.set_latency(Duration::ZERO);
    let next = stage(&env, Destination::Agol, Stop::new()).await.unwrap();
    assert_eq!(next.deleted, 50, "{next}");
    let features = env.agol.features(LAYER);
    let by_id = env.agol_features();
    assert_eq!(features.len(), 1_500);
    assert_eq!(
        by_id.keys().cloned().collect::<BTreeSet<_>>(),
        ids(50, 1_550)
    );
}
