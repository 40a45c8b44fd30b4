//! The retry tests every client has, on the fake Knack: issue #12's inputs (429 bursts, a
//! spent daily quota, a reset minutes ahead), 5xx bursts, stalls, creates that must not be
//! repeated, and an unreachable Knack named by its cause.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::TryStreamExt;
use knack_client::testkit::CapturedLogs;
use knack_client::testkit::{refused_uri, FakeKnack, Fault};
use knack_client::{Client, Container, Error, RecordsQuery, RetryPolicy};
use serde_json::json;

fn object() -> Container {
    Container::object("object_1").unwrap()
}

async fn fake_with(n: usize) -> FakeKnack {
    let fake = FakeKnack::start().await;
    let records = (0..n)
        .map(|i| json!({"id": format!("5d7964422d7159001659{i:04x}"), "field_1": i}))
        .collect();
    fake.set_records(&object(), records);
    fake
}

async fn read_all(client: &Client) -> knack_client::Result<Vec<knack_client::Record>> {
    client
        .records(&object(), RecordsQuery::new().rows_per_page(10))
        .try_collect()
        .await
}

fn epoch_in(d: Duration) -> u64 {
    (SystemTime::now() + d)
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "current_thread")]
async fn input_a_three_429s_then_two_502s_on_page_2_complete_the_run() {
    let fake = fake_with(25).await;
    fake.inject(Fault::status(429).times(3).on_path("page=2"));
    fake.inject(
        Fault::status(502)
            .body("<html>502 Bad Gateway</html>")
            .times(2)
            .on_path("page=2"),
    );
    let client = fake.client_builder().page_concurrency(1).build().unwrap();
    let records = read_all(&client).await.unwrap();
    assert_eq!(records.len(), 25);
    let ids: Vec<&str> = records.iter().map(|r| r.id()).collect();
    let mut sorted = ids.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), 25, "no page twice");
    let log = fake.requests();
    let statuses: Vec<u16> = log.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        3,
        "no extra rate-limit violations: {statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|s| **s == 502).count(), 2);
    assert!(fake.max_requests_in_window(Duration::from_secs(1)) <= 10);
}

fn daily_429(reset: u64, plan_remaining: Option<u64>) -> Fault {
    let f = Fault::status(429)
        .header("X-RateLimit-Limit", 10)
        .header("X-RateLimit-Remaining", 0)
        .header("X-RateLimit-Reset", reset)
        .body("Rate limit exceeded");
    match plan_remaining {
        Some(n) => f.header("X-PlanLimit-Remaining", n),
        None => f,
    }
}

#[tokio::test(flavor = "current_thread")]
async fn input_b_a_spent_daily_quota_fails_at_once_with_the_reset_time() {
    let fake = fake_with(5).await;
    fake.inject(daily_429(epoch_in(Duration::from_secs(6 * 3600)), Some(0)).times(100));
    // The default policy: the 6 h wait must not be attempted at all.
    let client = fake
        .client_builder()
        .retry_policy(RetryPolicy::default())
        .build()
        .unwrap();
    let started = Instant::now();
    let err = read_all(&client).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        matches!(
            err,
            Error::DailyLimitExceeded {
                resets_at: Some(_),
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("daily Knack API limit") && text.contains("(local time)"),
        "{text}"
    );
    assert!(!err.is_retryable());
    assert_eq!(fake.requests().len(), 1, "not retried");
}

#[tokio::test(flavor = "current_thread")]
async fn a_quota_reset_of_21600000_reads_as_six_hours_not_a_date_in_1970() {
    let fake = fake_with(5).await;
    fake.inject(
        Fault::status(429)
            .header("X-PlanLimit-Remaining", 0)
            .header("X-PlanLimit-Reset", 21_600_000)
            .body("Plan limit exceeded"),
    );
    let client = fake.client_builder().build().unwrap();
    let before = chrono::Utc::now();
    let err = read_all(&client).await.unwrap_err();
    let Error::DailyLimitExceeded {
        resets_at: Some(at),
        ..
    } = &err
    else {
        panic!("{err:?}");
    };
    let six_hours = chrono::Duration::hours(6);
    assert!(
        *at >= before + six_hours && *at <= chrono::Utc::now() + six_hours,
        "{at}"
    );
    let text = err.to_string();
    assert!(!text.contains("1970"), "{text}");
    // A reset in the past that cannot be a wait is left out of the message.
    fake.inject(
        Fault::status(429)
            .header("X-PlanLimit-Remaining", 0)
            .header("X-PlanLimit-Reset", 1_600_000_000)
            .body("Plan limit exceeded"),
    );
    let text = read_all(&client).await.unwrap_err().to_string();
    assert!(
        text.contains("Knack did not say when") && !text.contains("2020"),
        "{text}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn input_b_a_429_five_minutes_ahead_waits_a_capped_logged_time() {
    let logs = CapturedLogs::default();
    let _guard = logs.install();
    let fake = fake_with(5).await;
    fake.inject(daily_429(epoch_in(Duration::from_secs(300)), Some(4000)));
    let policy = RetryPolicy {
        max_server_wait: Duration::from_millis(300),
        ..RetryPolicy::fast_for_tests()
    };
    let client = fake.client_builder().retry_policy(policy).build().unwrap();
    let started = Instant::now();
    assert_eq!(read_all(&client).await.unwrap().len(), 5);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    let text = logs.text();
    let waits: Vec<&str> = text.lines().filter(|l| l.contains("retrying in")).collect();
    assert_eq!(waits.len(), 1, "{text}");
    assert!(
        waits[0].contains("rate limited") && waits[0].contains("status=429"),
        "{text}"
    );
    assert!(waits[0].contains("retry 1 of 20"), "{text}");
}

#[tokio::test(flavor = "current_thread")]
async fn the_last_seen_quota_is_available() {
    let fake = fake_with(5).await;
    fake.set_plan_limit(5000, 1200);
    let client = fake.client_builder().build().unwrap();
    assert_eq!(client.quota(), None);
    read_all(&client).await.unwrap();
    let q = client.quota().unwrap();
    assert_eq!((q.remaining, q.limit), (1199, Some(5000)));
    assert!(q.resets_at.is_some());
    // Spent: the fake answers 429 with X-PlanLimit-Remaining: 0.
    fake.set_plan_limit(5000, 0);
    let err = read_all(&client).await.unwrap_err();
    assert!(matches!(err, Error::DailyLimitExceeded { .. }), "{err:?}");
    assert_eq!(client.quota().unwrap().remaining, 0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_429_without_headers_is_retried() {
    let fake = fake_with(3).await;
    fake.inject(Fault::status(429).body("Rate limit exceeded").times(2));
    let client = fake.client_builder().build().unwrap();
    assert_eq!(read_all(&client).await.unwrap().len(), 3);
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test(flavor = "current_thread")]
async fn a_5xx_burst_longer_than_five_is_ridden_out_within_the_budget() {
    let fake = fake_with(3).await;
    fake.inject(Fault::status(503).times(7));
    let client = fake.client_builder().build().unwrap();
    assert_eq!(read_all(&client).await.unwrap().len(), 3);
    assert_eq!(fake.requests().len(), 8);
    // Past the budget it gives up with Knack's status.
    fake.clear_requests();
    fake.inject(Fault::status(502).times(20));
    let err = read_all(&client).await.unwrap_err();
    assert_eq!(err.status(), Some(502));
    assert_eq!(fake.requests().len(), 11, "one attempt and 10 retries");
}

#[tokio::test(flavor = "current_thread")]
async fn a_stalled_answer_is_abandoned_and_retried() {
    let fake = fake_with(3).await;
    fake.inject(Fault::stall());
    let client = fake
        .client_builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    assert_eq!(read_all(&client).await.unwrap().len(), 3);
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test(flavor = "current_thread")]
async fn a_create_is_not_repeated_after_a_5xx() {
    let fake = fake_with(0).await;
    fake.inject(Fault::status(502).on_method("POST"));
    let client = fake.client_builder().build().unwrap();
    let err = client
        .create(&object(), &json!({"field_1": "x"}))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(502));
    assert_eq!(fake.requests().len(), 1);
    // A 429 surely was not applied: retried, created once.
    fake.inject(Fault::status(429).on_method("POST"));
    client
        .create(&object(), &json!({"field_1": "y"}))
        .await
        .unwrap();
    assert_eq!(fake.records(&object()).len(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn an_unreachable_knack_is_named_by_its_cause() {
    let client = Client::builder()
        .app_id("5f0000000000000000000001")
        .api_key("k")
        .base_url(format!("{}/v1", refused_uri()))
        .retry_policy(RetryPolicy {
            max_retries: 1,
            ..RetryPolicy::fast_for_tests()
        })
        .build()
        .unwrap();
    let err = client.metadata_json().await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("connection refused"), "{text}");
    assert!(
        !text.contains("ClientBuilder") && !text.contains("error sending request"),
        "{text}"
    );
}
