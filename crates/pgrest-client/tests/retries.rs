//! The retry tests every knack-services client has, against the fake PostgREST: 429 with and
//! without `Retry-After`, a 5xx burst longer than 5, a stalled answer, and writes that must not
//! (or may) be repeated.
#![cfg(feature = "testkit")]

use std::time::{Duration, Instant};

use pgrest_client::testkit::{refused_uri, CapturedLogs, FakePostgrest, Fault};
use pgrest_client::{Client, Error, Query, RetryPolicy, Upsert};
use serde_json::{json, Value};

const JWT: &str = "test-jwt";

fn row(id: usize) -> Value {
    json!({"app_id": "app", "container_id": "view_1", "record_id": format!("r{id}"), "record": {}})
}

/// Server waits up to 3 s are obeyed, so a `Retry-After: 1` stands out from the 1–20 ms backoff.
fn policy() -> RetryPolicy {
    RetryPolicy {
        max_server_wait: Duration::from_secs(3),
        ..RetryPolicy::fast_for_tests()
    }
}

async fn setup() -> (FakePostgrest, Client) {
    let fake = FakePostgrest::staging(JWT).await;
    fake.seed("knack", [row(1)]);
    let client = fake
        .client_builder()
        .retry_policy(policy())
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    (fake, client)
}

/// A client for a server that is not the fake (a refused port, a dropping server).
fn direct(uri: &str, max_retries: u32) -> Client {
    Client::builder()
        .base_url(uri)
        .jwt(JWT)
        .retry_policy(RetryPolicy {
            max_retries,
            ..policy()
        })
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_429_with_retry_after_waits_as_asked() {
    let (fake, client) = setup().await;
    fake.inject(Fault::status(429).header("Retry-After", 1));
    let started = Instant::now();
    let rows: Vec<Value> = client.select("knack", &Query::new()).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(fake.requests().len(), 2);
    // The backoff is at most 20 ms; only the header explains a wait near a second.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After ignored"
    );
}

#[tokio::test]
async fn a_429_without_a_header_is_retried_on_its_own_budget() {
    let (fake, _) = setup().await;
    let client = fake
        .client_builder()
        .retry_policy(RetryPolicy {
            max_retries: 1,
            ..policy()
        })
        .build()
        .unwrap();
    // Four 429s exceed the transient budget (1) but not the rate-limit budget (20).
    fake.inject(Fault::status(429).times(4));
    let rows: Vec<Value> = client.select("knack", &Query::new()).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(fake.requests().len(), 5);
}

#[tokio::test]
async fn a_5xx_burst_longer_than_5_is_ridden_out() {
    let (fake, client) = setup().await;
    fake.inject(
        Fault::status(502)
            .body("<html>502 Bad Gateway</html>")
            .times(7),
    );
    let rows: Vec<Value> = client.select("knack", &Query::new()).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(fake.requests().len(), 8);
    assert!(fake.requests()[..7].iter().all(|r| r.status == 502));
}

#[tokio::test]
async fn a_stalled_answer_is_abandoned_and_retried() {
    let (fake, client) = setup().await;
    let logs = CapturedLogs::default();
    let _guard = logs.install();
    fake.inject(Fault::stall().on_method("GET"));
    let rows: Vec<Value> = client.select("knack", &Query::new()).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(fake.requests().len(), 2);
    let text = logs.text();
    assert!(
        text.contains("PostgREST GET /knack") && text.contains("did not answer"),
        "{text}"
    );
}

#[tokio::test]
async fn an_insert_whose_answer_stalled_is_not_repeated() {
    let (fake, client) = setup().await;
    // The fake applies the insert, then never answers in time.
    fake.inject(Fault::stall().on_method("POST"));
    let err = client.insert("knack", &[row(2)]).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("ClientBuilder::timeout"), "{err}");
    assert_eq!(fake.requests().len(), 1);
    assert_eq!(fake.rows("knack").len(), 2, "applied once, not twice");
}

#[tokio::test]
async fn an_upsert_whose_answer_stalled_is_repeated_safely() {
    let (fake, client) = setup().await;
    fake.inject(Fault::stall().on_method("POST"));
    client
        .upsert("knack", &[row(2)], &Upsert::new())
        .await
        .unwrap();
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(
        fake.rows("knack").len(),
        2,
        "the repeat merged into the same row"
    );
}

#[tokio::test]
async fn an_insert_refused_for_rate_is_retried() {
    let (fake, client) = setup().await;
    fake.inject(Fault::status(429).on_method("POST"));
    client.insert("knack", &[row(2)]).await.unwrap();
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(fake.rows("knack").len(), 2);
}

#[tokio::test]
async fn an_insert_whose_connection_was_refused_is_retried_then_named() {
    let logs = CapturedLogs::default();
    let _guard = logs.install();
    let client = direct(&refused_uri(), 2);
    let err = client.insert("knack", &[row(2)]).await.unwrap_err();
    assert!(
        matches!(err, Error::Transport { not_sent: true, .. }),
        "{err:?}"
    );
    let shown = err.to_string();
    assert!(shown.starts_with("could not reach PostgREST"), "{shown}");
    assert!(shown.contains("connection refused"), "{shown}");
    assert!(!shown.contains("error sending request"), "{shown}");
    let text = logs.text();
    assert!(text.contains("retry 2 of 2"), "{text}");
}

#[tokio::test]
async fn a_dropped_connection_stops_an_insert_but_not_a_read() {
    let server = pgrest_client::testkit::DroppingServer::start().await;
    let logs = CapturedLogs::default();
    let _guard = logs.install();
    let client = direct(server.uri(), 1);
    let err = client.insert("knack", &[row(2)]).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport {
                not_sent: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!logs.text().contains("retry 1 of 1"), "{}", logs.text());
    let err = client
        .select::<Value>("knack", &Query::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(logs.text().contains("retry 1 of 1"), "{}", logs.text());
}

#[tokio::test]
async fn a_500_without_a_sqlstate_is_retried_on_a_read_and_on_an_upsert() {
    use pgrest_client::testkit::PostgrestFault;
    let (fake, client) = setup().await;
    // PostgREST's 500 with no code (a crash, a proxy), then one with a non-data SQLSTATE.
    fake.inject(Fault::status(500).on_method("GET"));
    fake.inject(Fault::postgrest(500, "XX000", "internal error").on_method("GET"));
    let rows: Vec<Value> = client.select("knack", &Query::new()).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(fake.requests().len(), 3, "two 500s, then the answer");

    fake.clear_requests();
    fake.inject(Fault::status(500).on_method("POST"));
    client
        .upsert("knack", &[row(2)], &Upsert::new())
        .await
        .unwrap();
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses.len(), 2, "{statuses:?}");
    assert_eq!(statuses[0], 500);
    assert_eq!(fake.rows("knack").len(), 2);
}

#[tokio::test]
async fn a_500_with_sqlstate_23505_is_not_retried() {
    use pgrest_client::testkit::PostgrestFault;
    let (fake, client) = setup().await;
    fake.inject(
        Fault::postgrest(
            500,
            "23505",
            "duplicate key value violates unique constraint \"knack_pkey\"",
        )
        .on_method("POST"),
    );
    let err = client
        .upsert("knack", &[row(2)], &Upsert::new())
        .await
        .unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert_eq!(err.status(), Some(500));
    assert_eq!(fake.requests().len(), 1, "not repeated");
}
