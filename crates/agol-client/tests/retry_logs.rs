//! What the retry loop logs, in a test binary of its own: the log capture is per thread, and
//! tests running beside it without a subscriber can hide its events.
#![cfg(feature = "testkit")]

use std::time::Duration;

use agol_client::testkit::{http_error, refused_uri, CapturedLogs, FakeAgol, PASSWORD, USERNAME};
use agol_client::{Client, LayerSelector, Query, RetryPolicy};

#[tokio::test(flavor = "current_thread")]
async fn every_wait_is_logged_once_with_its_reason_and_the_token_fetch_is_not_retried_twice() {
    let logs = CapturedLogs::default();
    let _guard = logs.install();
    let fake = FakeAgol::start().await;
    let policy = RetryPolicy {
        max_server_wait: Duration::from_millis(100),
        ..RetryPolicy::fast_for_tests()
    };
    let client = fake.client_builder().retry_policy(policy).build().unwrap();
    let layer = client.layer(&fake.layer_url(0)).await.unwrap();
    fake.inject(http_error(429).header("Retry-After", 120).on_path("/query"));
    layer.count(&Query::new()).await.unwrap();
    let text = logs.text();
    let waits: Vec<&str> = text.lines().filter(|l| l.contains("retrying in")).collect();
    assert_eq!(waits.len(), 1, "{text}");
    assert!(
        waits[0].contains("rate limited")
            && waits[0].contains("status=429")
            && waits[0].contains("ArcGIS query"),
        "{text}"
    );

    // Signing in happens inside the retry loop of the call needing the token: one loop, so
    // one retry per failure, not one per nested loop.
    let unreachable = Client::builder()
        .portal_url(refused_uri())
        .credentials(USERNAME, PASSWORD)
        .retry_policy(RetryPolicy::fast_for_tests().with_max_connect_attempts(3))
        .build()
        .unwrap();
    let before = logs.text().matches("retrying in").count();
    unreachable
        .layer_from_item("abc", LayerSelector::LayerIndex(0))
        .await
        .unwrap_err();
    let text = logs.text();
    assert_eq!(text.matches("retrying in").count() - before, 2, "{text}");
    assert!(!text.contains(PASSWORD), "the password is never logged");
}
