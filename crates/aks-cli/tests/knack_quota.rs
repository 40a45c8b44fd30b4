//! Knack's daily API quota through the real `aks` binary (issue #12).

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{assert_no_secret, stderr, Fakes, APP, VIEW};
use knack_etl::knack_client::testkit::Fault;

const TO_PGREST: &[&str] = &["records-to-postgrest", "-a", APP, "-c", VIEW, "-e", "dev"];

#[tokio::test(flavor = "multi_thread")]
async fn a_spent_daily_quota_fails_fast_with_its_message_and_writes_nothing() {
    let fakes = Fakes::start().await;
    let reset = (SystemTime::now() + Duration::from_secs(6 * 3600))
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    fakes.knack.inject(
        Fault::status(429)
            .header("X-RateLimit-Limit", 10)
            .header("X-RateLimit-Remaining", 0)
            .header("X-RateLimit-Reset", reset)
            .header("X-PlanLimit-Remaining", 0)
            .body("Rate limit exceeded")
            .times(1000),
    );
    let started = Instant::now();
    let out = fakes.run(TO_PGREST).await;
    let err = stderr(&out);
    assert!(started.elapsed() < Duration::from_secs(10), "{err}");
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("daily Knack API limit"), "{err}");
    assert!(err.contains("(local time)"), "{err}");
    assert_no_secret(&out);
    assert_eq!(fakes.data_writes(), Vec::<String>::new());
    assert!(fakes.pg.rows("knack").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_summary_shows_the_quota_left_and_warns_when_it_is_low() {
    let fakes = Fakes::start().await;
    fakes.knack.set_plan_limit(5000, 400);
    let out = fakes.run(TO_PGREST).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let summary = err
        .lines()
        .find(|l| l.contains("records-to-postgrest acc/view_1: read"))
        .unwrap_or_else(|| panic!("no summary:\n{err}"));
    assert!(
        summary.contains("Knack quota left") && summary.contains("of 5000"),
        "{summary}"
    );
    assert!(
        err.lines()
            .any(|l| l.contains("WARN") && l.contains("daily Knack API quota is running low")),
        "{err}"
    );
}
