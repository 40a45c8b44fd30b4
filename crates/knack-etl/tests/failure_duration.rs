//! A failed run reports how long it really took, retries included: the report of a run that
//! stopped in its setup (before any batch) or in the driver covers the whole run, not the 0 s of
//! a report built at the failure.

mod e2e_common;

use std::time::Duration;

use e2e_common::Env;
use knack_etl::knack_client::testkit::Fault;
use knack_etl::knack_client::{Jitter, RetryPolicy};
use knack_etl::RunOptions;

const RETRIES: u32 = 3;
const WAIT: Duration = Duration::from_millis(40);

/// Every wait exactly `WAIT` (decorrelated jitter between equal bounds), `RETRIES` of them: a
/// request that keeps failing spends at least `RETRIES * WAIT` waiting before it gives up.
fn policy() -> RetryPolicy {
    RetryPolicy {
        max_retries: RETRIES,
        min_backoff: WAIT,
        max_backoff: WAIT,
        jitter: Jitter::Decorrelated,
        ..RetryPolicy::fast_for_tests()
    }
}

fn waited() -> Duration {
    WAIT * RETRIES
}

#[tokio::test]
async fn a_metadata_refresh_failing_in_its_setup_reports_its_retries() {
    let mut env = Env::start().await;
    env.knack_client = env
        .knack
        .client_builder()
        .retry_policy(policy())
        .build()
        .unwrap();
    env.knack.inject(Fault::status(503).times(50));

    let failure = env.metadata(false).await.unwrap_err();
    assert_eq!(failure.report.read, 0, "{failure}");
    assert!(
        failure.report.duration >= waited(),
        "{:?} < the {:?} of retries",
        failure.report.duration,
        waited()
    );
    assert!(
        !failure.to_string().contains("in 0.0s"),
        "the message carries the duration too: {failure}"
    );
}

#[tokio::test]
async fn a_publish_stopped_by_an_unavailable_staging_store_reports_its_retries() {
    let mut env = Env::start().await.staged().await;
    env.pg_client = env
        .pg
        .client_builder()
        .retry_policy(policy())
        .build()
        .unwrap();
    env.pg.inject(Fault::status(503).times(50).on_method("GET"));

    let options = RunOptions::default();
    let failure = env.to_socrata(&options).await.unwrap_err();
    assert_eq!(failure.report.read, 0, "stopped before reading: {failure}");
    assert!(
        failure.report.duration >= waited(),
        "{:?} < the {:?} of retries",
        failure.report.duration,
        waited()
    );
}
