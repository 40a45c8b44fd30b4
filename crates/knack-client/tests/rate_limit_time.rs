//! A 429's backoff is time spent on Knack's rate limit in the process's time ledger
//! (`knack_services_core::ledger`), as the limiter's own waits are, not unexplained working time.
//! One test in this binary: the ledger is process-wide, and a test beside it would add to it.

use std::time::Duration;

use futures::TryStreamExt;
use knack_client::testkit::{FakeKnack, Fault};
use knack_client::{Container, RecordsQuery, RetryPolicy};
use knack_services_core::ledger;
use serde_json::json;

#[tokio::test(flavor = "current_thread")]
async fn the_backoff_after_a_429_counts_as_waiting_on_the_rate_limit() {
    let fake = FakeKnack::start().await;
    let object = Container::object("object_1").unwrap();
    let records = (0..5)
        .map(|i| json!({"id": format!("5d7964422d7159001659{i:04x}"), "field_1": i}))
        .collect();
    fake.set_records(&object, records);
    // A 429 asking for a second: long after the limiter's next slot (a tenth of a second), so
    // what the ledger counts as the rate limit is the backoff.
    fake.inject(
        Fault::status(429)
            .header("Retry-After", 1)
            .on_path("page=1"),
    );
    let policy = RetryPolicy {
        max_server_wait: Duration::from_secs(1),
        ..RetryPolicy::fast_for_tests()
    };
    let client = fake.client_builder().retry_policy(policy).build().unwrap();

    let before = ledger::totals();
    let read: Vec<_> = client
        .records(&object, RecordsQuery::new())
        .try_collect()
        .await
        .unwrap();
    let waited = ledger::since(&before, &ledger::totals());

    assert_eq!(read.len(), 5);
    let limited = waited.get("Knack rate limit").copied().unwrap_or_default();
    assert!(limited >= Duration::from_millis(900), "{waited:?}");
}
