//! The retry tests every client has (issue #12), on the fake portal: 429 with and without
//! `Retry-After`, a 5xx burst longer than 5, a stalled answer, and writes that must not (or may)
//! be repeated; plus transport errors named by their cause.

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use serde_json::json;
use socrata_client::testkit::{
    refused_uri, CapturedLogs, DroppingServer, FakeDataset, FakeSocrata, Fault,
};
use socrata_client::{Client, Error, Query, RetryPolicy};

const ID: &str = "sig1-0001";

async fn fake(seed: usize) -> FakeSocrata {
    let fake = FakeSocrata::start().await;
    fake.add_dataset(
        FakeDataset::new(ID)
            .column("id", "text")
            .column("name", "text")
            .row_identifier("id")
            .rows((0..seed).map(|i| json!({"id": format!("r{i}"), "name": "x"}))),
    );
    fake.require_basic_auth("key-id", "key-secret");
    fake
}

fn client(fake: &FakeSocrata, policy: RetryPolicy) -> Client {
    fake.client_builder()
        .api_key("key-id", "key-secret")
        .retry_policy(policy)
        .page_size(10)
        .build()
        .unwrap()
}

/// A client of a server that is not a fake portal, with `max_retries` retries.
fn client_of(uri: &str, max_retries: u32) -> Client {
    Client::builder()
        .domain(uri)
        .retry_policy(RetryPolicy {
            max_retries,
            ..RetryPolicy::fast_for_tests()
        })
        .build()
        .unwrap()
}

async fn read_all(c: &Client) -> socrata_client::Result<Vec<socrata_client::Row>> {
    c.rows(ID, Query::new()).try_collect().await
}

fn statuses(fake: &FakeSocrata) -> Vec<u16> {
    fake.requests().iter().map(|r| r.status).collect()
}

/// The log lines of waits taken before a retry.
fn waits(logs: &CapturedLogs) -> Vec<String> {
    logs.text()
        .lines()
        .filter(|l| l.contains("retrying in"))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn a_429_with_retry_after_waits_what_the_portal_asks() {
    let logs = CapturedLogs::default();
    let _guard = logs.install();
    let fake = fake(3).await;
    fake.inject(Fault::status(429).header("Retry-After", 1).on_method("GET"));
    // The computed backoff is 1–20 ms: only the header explains a wait of a second.
    let policy = RetryPolicy {
        max_server_wait: Duration::from_secs(3),
        ..RetryPolicy::fast_for_tests()
    };
    let started = Instant::now();
    assert_eq!(read_all(&client(&fake, policy)).await.unwrap().len(), 3);
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(statuses(&fake), [429, 200]);
    let w = waits(&logs);
    assert_eq!(w.len(), 1, "{}", logs.text());
    assert!(
        w[0].contains("rate limited") && w[0].contains("status=429") && w[0].contains("1s"),
        "{}",
        w[0]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_retry_after_minutes_ahead_is_capped_and_logged() {
    let logs = CapturedLogs::default();
    let _guard = logs.install();
    let fake = fake(3).await;
    // A skewed clock or a confused proxy: five minutes.
    fake.inject(Fault::status(429).header("Retry-After", 300));
    let policy = RetryPolicy {
        max_server_wait: Duration::from_millis(300),
        ..RetryPolicy::fast_for_tests()
    };
    let started = Instant::now();
    assert_eq!(read_all(&client(&fake, policy)).await.unwrap().len(), 3);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    let w = waits(&logs);
    assert_eq!(w.len(), 1, "{}", logs.text());
    assert!(
        w[0].contains("server_asked_ms=300000") && w[0].contains("retry 1 of 20"),
        "{}",
        w[0]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_429_without_retry_after_is_retried_on_the_backoff() {
    let fake = fake(3).await;
    fake.inject(Fault::status(429).times(2));
    let c = client(&fake, RetryPolicy::fast_for_tests());
    assert_eq!(read_all(&c).await.unwrap().len(), 3);
    assert_eq!(statuses(&fake), [429, 429, 200]);
}

#[tokio::test(flavor = "current_thread")]
async fn a_5xx_burst_longer_than_five_is_ridden_out_within_the_budget() {
    let fake = fake(25).await;
    // Seven 502s on the second page only: the first page is not read twice.
    fake.inject(
        Fault::status(502)
            .body("<html>502 Bad Gateway</html>")
            .times(7)
            .on_path("offset=10"),
    );
    let c = client(&fake, RetryPolicy::fast_for_tests());
    let rows = read_all(&c).await.unwrap();
    assert_eq!(rows.len(), 25);
    let mut ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 25, "no row twice");
    assert_eq!(fake.requests().len(), 3 + 7);

    // Past the budget it gives up with Socrata's status and body.
    fake.clear_requests();
    fake.inject(Fault::status(503).times(20));
    let e = read_all(&c).await.unwrap_err();
    assert_eq!(e.status(), Some(503));
    assert!(e.to_string().contains("fake fault 503"), "{e}");
    assert_eq!(fake.requests().len(), 11, "one attempt and 10 retries");
}

#[tokio::test(flavor = "current_thread")]
async fn a_stalled_answer_is_abandoned_and_retried() {
    let fake = fake(3).await;
    fake.inject(Fault::stall());
    let c = fake
        .client_builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    assert_eq!(read_all(&c).await.unwrap().len(), 3);
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test(flavor = "current_thread")]
async fn an_append_is_not_repeated_after_a_5xx_or_a_stall() {
    let fake = fake(0).await;
    let c = client(&fake, RetryPolicy::fast_for_tests());
    fake.inject(Fault::status(502).on_method("POST"));
    let e = c.append(ID, &[json!({"id": "a"})]).await.unwrap_err();
    assert_eq!(e.status(), Some(502));
    assert_eq!(fake.requests().len(), 1);

    fake.clear_requests();
    fake.inject(Fault::stall().on_method("POST"));
    let slow = fake
        .client_builder()
        .api_key("key-id", "key-secret")
        .write_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let e = slow.append(ID, &[json!({"id": "b"})]).await.unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert_eq!(
        fake.requests().len(),
        1,
        "the stalled append may have been applied"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn an_append_is_repeated_after_a_429_because_it_was_not_applied() {
    let fake = fake(0).await;
    let c = client(&fake, RetryPolicy::fast_for_tests());
    fake.inject(Fault::status(429).on_method("POST"));
    let s = c.append(ID, &[json!({"id": "a"})]).await.unwrap();
    assert_eq!(s.rows_created, 1);
    assert_eq!(statuses(&fake), [429, 200]);
    assert_eq!(fake.rows(ID).len(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_refused_connection_is_retried_even_for_an_append_and_named() {
    let logs = CapturedLogs::default();
    let _guard = logs.install();
    let c = client_of(&refused_uri(), 2);
    let e = c.append(ID, &[json!({"id": "a"})]).await.unwrap_err();
    assert!(
        matches!(e, Error::Transport { not_sent: true, .. }),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(text.contains("connection refused"), "{text}");
    assert!(
        !text.contains("error sending request") && !text.contains("ClientBuilder"),
        "{text}"
    );
    // Surely never sent, so repeating it cannot duplicate rows: both retries were taken.
    let w = waits(&logs);
    assert_eq!(w.len(), 2, "{}", logs.text());
    assert!(w[1].contains("retry 2 of 2"), "{}", w[1]);
}

#[tokio::test(flavor = "current_thread")]
async fn a_dropped_connection_repeats_a_read_but_not_an_append() {
    let logs = CapturedLogs::default();
    let _guard = logs.install();
    let server = DroppingServer::start().await;
    let c = client_of(server.uri(), 1);
    let e = c.append(ID, &[json!({"id": "a"})]).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Transport {
                not_sent: false,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(waits(&logs).is_empty(), "{}", logs.text());
    let e = read_all(&c).await.unwrap_err();
    assert!(matches!(e, Error::Transport { .. }), "{e:?}");
    assert_eq!(waits(&logs).len(), 1, "{}", logs.text());
}
