//! A stage's time accounted for while several requests to one service overlap (ArcGIS batches
//! in flight): the service's wait is the time during which at least one request to it was
//! outstanding, never the sum of the requests' durations, so waits and working still add up to
//! the stage's wall time. One test in this binary: the clients count waits in one process-wide
//! ledger, which a test running beside it would add to.

mod e2e_common;

use std::time::Duration;

use e2e_common::{container, Env};
use knack_etl::sync::{Destination, Since, Watermarks};
use knack_etl::testkit::fixture_records;
use knack_etl::RunOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_requests_count_once_and_the_parts_still_make_the_wall_time() {
    let env = Env::start().await;
    env.metadata(false).await.unwrap();
    // The fixture's full-size records in turn, each with a fresh id.
    let fixture = fixture_records();
    let records = (0..600).map(|i| {
        let mut record = fixture[i % fixture.len()].clone();
        record["id"] = serde_json::Value::String(format!("{i:024x}"));
        record
    });
    env.knack.set_records_from(&container(), records);
    env.stage(&RunOptions::default()).await.unwrap();
    let latency = Duration::from_millis(300);
    env.agol.set_latency(latency);
    // A replace: one look-up of the whole layer, then 12 batches of 50, 4 in flight (3 rounds
    // of 300 ms where one at a time would take 12).
    let target = knack_etl::agol::AgolTarget {
        in_flight: 4,
        ..env.agol_target(50)
    };
    assert_eq!(target.in_flight, 4);

    let options = RunOptions::default();
    let publication = env.publication();
    let tracked = Watermarks::new(env.pg_client.clone(), e2e_common::APP_ID)
        .tracked(
            container().id(),
            Destination::Agol,
            Since::Given(None),
            false,
            |_| env.to_agol_with(&publication, &target, &options),
        )
        .await;
    let (report, time) = (tracked.result.unwrap(), tracked.time);

    assert_eq!(report.written, 600);
    assert!(
        env.agol.most_at_once("applyEdits") >= 2,
        "batches overlapped"
    );
    let wall = time.wall;
    let arcgis = time.waiting.get("ArcGIS").copied().unwrap_or_default();
    let requests = env.agol.requests().len();
    let summed = latency * u32::try_from(requests).unwrap();
    // Summing the requests' durations would count more ArcGIS time than passed.
    assert!(
        summed > wall,
        "{requests} requests in {wall:?}: they must overlap"
    );
    assert!(arcgis <= wall, "{}", time);
    // At least the look-up and the 3 rounds of applyEdits, one after another.
    assert!(arcgis >= latency * 4, "{}", time);
    let waited: Duration = time.waiting.values().sum();
    assert!(waited <= wall + Duration::from_millis(5), "{}", time);
    let parts = waited + time.working();
    let off = parts.abs_diff(wall).as_secs_f64() / wall.as_secs_f64();
    assert!(off <= 0.10, "{parts:?} against {wall:?}: {}", time);
    // The run does little but wait, so what the ledger counted explains nearly all of it.
    assert!(
        waited.as_secs_f64() >= wall.as_secs_f64() * 0.9,
        "the waits explain too little of the wall time: {}",
        time
    );
    println!("{wall:?}: {}", time);
}
