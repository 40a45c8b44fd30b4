//! Upsert, replace, deletes, batching, counts, errors, 202 and the retry rules.

use std::time::Duration;

use serde_json::{json, Value};
use socrata_client::testkit::{FakeDataset, FakeSocrata, Fault};
use socrata_client::{Client, ClientBuilder, Error, RetryPolicy, WriteSummary};
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod common;

use common::{catch_all, plain_client};

const ID: &str = "sig1-0001";

async fn fake() -> FakeSocrata {
    let fake = FakeSocrata::start().await;
    fake.add_dataset(
        FakeDataset::new(ID)
            .column("id", "text")
            .column("name", "text")
            .column("lanes", "number")
            .row_identifier("id"),
    );
    fake.require_basic_auth("key-id", "key-secret");
    fake
}

/// A builder for a client of `fake` with the API key it requires.
fn authed(fake: &FakeSocrata) -> ClientBuilder {
    fake.client_builder().api_key("key-id", "key-secret")
}

fn client(fake: &FakeSocrata) -> Client {
    authed(fake).build().unwrap()
}

fn rows(range: std::ops::Range<usize>) -> Vec<Value> {
    range
        .map(|i| json!({"id": format!("r{i:03}"), "name": format!("n{i}"), "lanes": i}))
        .collect()
}

#[tokio::test]
async fn upsert_batches_and_sums_counts() {
    let fake = fake().await;
    let c = authed(&fake).batch_size(2).build().unwrap();
    let s = c.upsert(ID, &rows(0..5)).await.unwrap();
    assert_eq!(
        (s.rows_created, s.rows_updated, s.errors, s.batches),
        (5, 0, 0, 3)
    );
    let s = c
        .upsert(
            ID,
            &[
                json!({"id": "r001", "name": "changed"}),
                json!({"id": "r009", "name": "new"}),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        (s.rows_created, s.rows_updated, s.by_row_identifier),
        (1, 1, 1)
    );
    let stored = fake.rows(ID);
    assert_eq!(stored.len(), 6);
    assert_eq!(stored[1]["name"], json!("changed"));
    assert_eq!(
        stored[1]["lanes"],
        json!(1),
        "keys left out of an upsert keep their value"
    );
    let posts: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(
        posts
            .iter()
            .map(|r| FakeSocrata::body_rows(r).len())
            .collect::<Vec<_>>(),
        [2, 2, 1, 2]
    );
    // The fake requires Basic with these credentials (401 otherwise); the log shows it was sent
    // without showing it.
    assert!(posts
        .iter()
        .all(|r| r.header("authorization") == Some("[redacted]")));
}

#[tokio::test]
async fn byte_cap_splits_batches() {
    let fake = fake().await;
    let c = authed(&fake).batch_bytes(120).build().unwrap();
    c.upsert(ID, &rows(0..6)).await.unwrap();
    let log = fake.requests();
    assert!(log.len() > 1, "120 bytes cannot hold six rows");
    for r in &log {
        assert!(r.body.len() <= 120, "{} bytes sent", r.body.len());
    }
    assert_eq!(fake.rows(ID).len(), 6);
}

#[tokio::test]
async fn replace_puts_first_batch_then_upserts() {
    let fake = fake().await;
    let c = authed(&fake).batch_size(3).build().unwrap();
    c.upsert(ID, &rows(100..110)).await.unwrap();
    fake.clear_requests();
    let s = c.replace(ID, &rows(0..7)).await.unwrap();
    assert_eq!((s.rows_created, s.batches), (7, 3));
    let methods: Vec<String> = fake.requests().into_iter().map(|r| r.method).collect();
    assert_eq!(methods, ["PUT", "POST", "POST"]);
    let ids: Vec<Value> = fake.rows(ID).into_iter().map(|r| r["id"].clone()).collect();
    assert_eq!(
        ids,
        rows(0..7)
            .into_iter()
            .map(|r| r["id"].clone())
            .collect::<Vec<_>>()
    );
    // Zero rows: one PUT [] empties the dataset.
    c.replace::<Value>(ID, &[]).await.unwrap();
    assert!(fake.rows(ID).is_empty());
}

#[tokio::test]
async fn deletes_send_deleted_flag() {
    let fake = fake().await;
    let c = client(&fake);
    c.upsert(ID, &rows(0..4)).await.unwrap();
    fake.clear_requests();
    let s = c.delete(ID, "id", &["r001", "r002"]).await.unwrap();
    assert_eq!(s.rows_deleted, 2);
    assert_eq!(
        FakeSocrata::body_rows(&fake.requests()[0]),
        [
            json!({"id": "r001", ":deleted": true}),
            json!({"id": "r002", ":deleted": true})
        ]
    );
    assert_eq!(fake.rows(ID).len(), 2);
    // Deleting a missing row: Socrata counts it in Errors, which is reported.
    let e = c.delete(ID, "id", &["nope"]).await.unwrap_err();
    match e {
        Error::RowErrors { summary, .. } => assert_eq!(summary.errors, 1),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn row_errors_in_a_200_are_an_error_with_the_counts() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/resource/abcd-1234.json"))
        .and(body_json(json!([{"id": "1"}])))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"Rows Created": 0, "Rows Updated": 1, "Errors": 2})),
        )
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;
    let c = plain_client(&server);
    let e = c
        .upsert("abcd-1234", &[json!({"id": "1"})])
        .await
        .unwrap_err();
    let Error::RowErrors {
        summary,
        dataset,
        rows,
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(dataset, "abcd-1234");
    assert_eq!(*rows, 0..1);
    assert_eq!(
        *summary,
        WriteSummary {
            rows_updated: 1,
            errors: 2,
            batches: 1,
            ..Default::default()
        }
    );
    assert!(e.to_string().contains("2 row error"), "{e}");
}

#[tokio::test]
async fn illegal_field_name_names_the_field() {
    let fake = fake().await;
    let c = client(&fake);
    let e = c
        .upsert(ID, &[json!({"id": "1", "switch_comm": "x"})])
        .await
        .unwrap_err();
    match &e {
        Error::IllegalFieldName { field, dataset, .. } => {
            assert_eq!((field.as_str(), dataset.as_str()), ("switch_comm", ID))
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("switch_comm") && e.to_string().contains("drop the key"));
    assert_eq!(fake.requests().len(), 1, "a 400 is not retried");
    assert!(fake.rows(ID).is_empty());
}

#[tokio::test]
async fn upsert_retries_5xx_and_429_with_retry_after() {
    let fake = fake().await;
    let c = client(&fake);
    fake.inject(Fault::status(503).times(2).on_method("POST"));
    fake.inject(
        Fault::status(429)
            .header("Retry-After", 0)
            .on_method("POST"),
    );
    let s = c.upsert(ID, &rows(0..2)).await.unwrap();
    assert_eq!(s.rows_created, 2);
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 503, 429, 200]);
}

#[tokio::test]
async fn retries_are_bounded() {
    let fake = fake().await;
    let c = client(&fake); // the default budget: 10 retries
    fake.inject(Fault::status(502).times(20));
    let e = c.upsert(ID, &rows(0..1)).await.unwrap_err();
    assert_eq!(e.status(), Some(502));
    assert!(e.is_retryable());
    assert_eq!(fake.requests().len(), 11, "one attempt and 10 retries");
}

#[tokio::test]
async fn upsert_retries_a_timeout() {
    let fake = fake().await;
    let c = authed(&fake)
        .write_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    // The slow answer's upsert was applied before the client gave up on it: the retry updates
    // the same row, which is why an upsert may be repeated.
    fake.inject(Fault::slow(Duration::from_secs(2)).on_method("POST"));
    let s = c.upsert(ID, &rows(0..1)).await.unwrap();
    assert_eq!((s.rows_created, s.rows_updated), (0, 1));
    assert_eq!(fake.rows(ID).len(), 1);
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn replace_is_never_retried_after_5xx_or_timeout() {
    let fake = fake().await;
    let c = client(&fake);
    fake.inject(Fault::status(503).on_method("PUT"));
    let e = c.replace(ID, &rows(0..1)).await.unwrap_err();
    assert_eq!(e.status(), Some(503));
    assert_eq!(fake.requests().len(), 1);

    fake.clear_requests();
    let c = authed(&fake)
        .write_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    fake.inject(Fault::slow(Duration::from_secs(2)).on_method("PUT"));
    let e = c.replace(ID, &rows(0..1)).await.unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn replace_and_append_repeat_only_on_429_and_202() {
    let fake = fake().await;
    let c = client(&fake);
    fake.inject(Fault::status(429).on_method("PUT"));
    fake.inject(Fault::status(202).on_method("PUT"));
    c.replace(ID, &rows(0..2)).await.unwrap();
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 202, 200]);

    fake.clear_requests();
    fake.inject(Fault::status(500).on_method("POST"));
    let e = c.append(ID, &rows(5..6)).await.unwrap_err();
    assert_eq!(e.status(), Some(500));
    assert_eq!(fake.requests().len(), 1, "an append is not idempotent");
}

#[tokio::test]
async fn status_202_repeats_until_200_then_gives_up() {
    let fake = fake().await;
    let c = client(&fake);
    fake.inject(Fault::status(202).times(2));
    let s = c.upsert(ID, &rows(0..1)).await.unwrap();
    assert_eq!(s.rows_created, 1);
    assert_eq!(
        fake.requests().iter().map(|r| r.status).collect::<Vec<_>>(),
        [202, 202, 200]
    );

    fake.inject(Fault::status(202).times(50));
    let e = c.upsert(ID, &rows(1..2)).await.unwrap_err();
    assert!(
        matches!(e, Error::StillProcessing { attempts: 11, .. }),
        "{e:?}"
    );
}

#[tokio::test]
async fn auth_failures_are_clear_and_not_retried() {
    let fake = fake().await;
    let anon = fake.client_builder().build().unwrap();
    let e = anon.upsert(ID, &rows(0..1)).await.unwrap_err();
    assert_eq!(e.status(), Some(403));
    assert!(e.to_string().contains("You must be logged in"), "{e}");

    let wrong = fake
        .client_builder()
        .api_key("key-id", "wrong-secret")
        .build()
        .unwrap();
    let e = wrong.upsert(ID, &rows(0..1)).await.unwrap_err();
    assert_eq!(e.status(), Some(401));
    assert!(e.to_string().contains("check the API key"), "{e}");
    assert!(!format!("{e} {e:?}").contains("wrong-secret"));
    assert_eq!(fake.requests().len(), 2);
    assert!(fake.rows(ID).is_empty());
}

#[tokio::test]
async fn no_retry_policy_means_one_attempt() {
    let fake = fake().await;
    let c = authed(&fake)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    fake.inject(Fault::status(503));
    assert_eq!(
        c.upsert(ID, &rows(0..1)).await.unwrap_err().status(),
        Some(503)
    );
    assert_eq!(fake.requests().len(), 1);
}

/// Socrata counts row errors without saying which rows; the error names the input rows the
/// failing request carried (here the second batch of two: rows 2 and 3).
#[tokio::test]
async fn row_errors_name_the_input_rows_of_the_failing_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/resource/abcd-1234.json"))
        .and(body_json(json!([{"id": "c"}, {"id": "d"}])))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"Rows Updated": 1, "Errors": 1})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/resource/abcd-1234.json"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"Rows Updated": 2, "Errors": 0})),
        )
        .mount(&server)
        .await;
    catch_all(&server).await;
    let c = Client::builder()
        .domain(server.uri())
        .batch_size(2)
        .build()
        .unwrap();
    let rows: Vec<Value> = ["a", "b", "c", "d", "e"].map(|id| json!({"id": id})).into();
    let e = c.upsert("abcd-1234", &rows).await.unwrap_err();
    let Error::RowErrors { rows, summary, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(*rows, 2..4);
    assert_eq!(
        (summary.rows_updated, summary.errors, summary.batches),
        (3, 1, 2)
    );
}
