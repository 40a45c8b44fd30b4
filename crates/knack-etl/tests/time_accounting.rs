//! A stage's time accounted for (`StageTime`, what `aks sync` prints per stage): what it waited
//! on each service and on Knack's rate limit, and what it spent working, add up to its wall time. One test in this binary: the clients count
//! waits in one process-wide ledger, which a test running beside it would add to.

mod e2e_common;

use std::time::Duration;

use e2e_common::{container, synthetic_record, Env, MODIFIED_FIELD};
use knack_etl::staging::records_to_postgrest;
use knack_etl::sync::{Destination, Since, Watermarks};
use knack_etl::RunOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_on_each_service_and_the_rate_limit_plus_working_make_the_wall_time() {
    let env = Env::start().await;
    env.metadata(false).await.unwrap();
    env.knack
        .set_records(&container(), (0..6_000).map(synthetic_record).collect());
    env.knack.set_latency(Duration::from_millis(120));
    env.pg.set_latency(Duration::from_millis(15));
    // 4 requests a second: the reader waits for slots of the rate limit between its pages.
    let knack = env
        .knack
        .client_builder()
        .requests_per_second(4)
        .build()
        .unwrap();

    let (options, view) = (RunOptions::default(), container());
    let tracked = Watermarks::new(env.pg_client.clone(), e2e_common::APP_ID)
        .tracked(
            container().id(),
            Destination::Postgrest,
            Since::Given(None),
            false,
            |_| {
                records_to_postgrest(
                    &knack,
                    &env.pg_client,
                    &view,
                    Some(MODIFIED_FIELD),
                    &options,
                )
            },
        )
        .await;
    let (report, time) = (tracked.result.unwrap(), tracked.time);

    assert_eq!(report.written, 6_000);
    let wall = time.wall;
    assert!(wall >= report.duration, "the stage holds its run");
    let waited: Duration = time.waiting.values().sum();
    let parts = waited + time.working();
    // `working` is the remainder, so the parts add up unless the ledger counted more waiting
    // than time passed (working would then be clamped at zero).
    let off = parts.abs_diff(wall).as_secs_f64() / wall.as_secs_f64();
    assert!(off <= 0.10, "{parts:?} against {wall:?}: {}", time);
    // The ledger never counts more waiting than time passed.
    assert!(waited <= wall + Duration::from_millis(5), "{}", time);
    let knack_wait = time.waiting.get("Knack").copied().unwrap_or_default();
    let limited = time
        .waiting
        .get("Knack rate limit")
        .copied()
        .unwrap_or_default();
    let pg = time.waiting.get("PostgREST").copied().unwrap_or_default();
    // Six pages of 120 ms each, at least one at a time; slots a quarter second apart.
    assert!(knack_wait >= Duration::from_millis(300), "{}", time);
    assert!(limited >= Duration::from_millis(200), "{}", time);
    assert!(!pg.is_zero(), "{}", time);
    // This run does almost nothing but wait (6,000 small records), so the waits the ledger
    // counted, each measured on its own, must account for the wall time within 10 %: working,
    // the remainder, is what they leave unexplained.
    assert!(
        waited.as_secs_f64() >= wall.as_secs_f64() * 0.9,
        "the waits explain too little of the wall time: {}",
        time
    );
    println!("{wall:?}: {}", time);
}
