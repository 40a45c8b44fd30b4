//! `Client::upsert_batches`: one item per request, and nothing started after a failure, so a caller
//! can count exactly what a partly failed upsert wrote.
#![cfg(feature = "testkit")]

use std::collections::HashMap;

use futures::{StreamExt, TryStreamExt};
use pgrest_client::testkit::{FakePostgrest, Fault, PostgrestFault};
use pgrest_client::{Error, Upsert, UpsertedBatch};
use serde::Deserialize;
use serde_json::{json, Value};

const JWT: &str = "test-jwt";

fn row(id: usize) -> Value {
    json!({"app_id": "app", "container_id": "view_1", "record_id": format!("r{id:03}"), "record": {"n": id}})
}

fn opts(batch_size: usize, concurrency: usize) -> Upsert {
    Upsert::on_conflict(["app_id", "container_id", "record_id"])
        .batch_size(batch_size)
        .concurrency(concurrency)
}

#[derive(Debug, Deserialize, PartialEq)]
struct Written {
    record_id: String,
}

fn posts(fake: &FakePostgrest) -> Vec<Vec<String>> {
    fake.requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body)
                .ok()
                .and_then(|b| b.as_array().cloned())
                .unwrap_or_default()
                .iter()
                .map(|row| row["record_id"].as_str().unwrap_or("?").to_string())
                .collect()
        })
        .collect()
}

fn stored_ids(fake: &FakePostgrest) -> Vec<String> {
    let mut ids: Vec<String> = fake
        .rows("knack")
        .iter()
        .map(|r| r["record_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn one_item_per_request_in_order_with_the_rows_it_returned() {
    let fake = FakePostgrest::staging(JWT).await;
    let client = fake.client_builder().build().unwrap();
    let rows: Vec<Value> = (0..7).map(row).collect();

    let items: Vec<UpsertedBatch<Written>> = client
        .upsert_batches("knack", &rows, &opts(3, 2))
        .try_collect()
        .await
        .unwrap();

    let sizes: Vec<usize> = items.iter().map(|b| b.rows).collect();
    assert_eq!(sizes, [3, 3, 1]);
    let returned: Vec<String> = items
        .iter()
        .flat_map(|b| b.returned.iter().map(|w| w.record_id.clone()))
        .collect();
    let expected: Vec<String> = (0..7).map(|i| format!("r{i:03}")).collect();
    assert_eq!(returned, expected, "request order, each request's own rows");
    assert_eq!(posts(&fake).len(), 3);
}

#[tokio::test]
async fn no_request_is_started_after_a_failed_one() {
    let fake = FakePostgrest::staging(JWT).await;
    let client = fake.client_builder().build().unwrap();
    let rows: Vec<Value> = (0..10).map(row).collect();
    let opts = opts(2, 1);
    let mut requests = client.upsert_batches::<_, Written>("knack", &rows, &opts);

    let first = requests.next().await.unwrap().unwrap();
    assert_eq!((first.rows, first.returned.len()), (2, 2));
    // With one request in flight the second is only sent when asked for, so this fault is its answer.
    fake.inject(
        Fault::postgrest(400, "23502", "null value in column \"record\"").on_method("POST"),
    );
    let rest: Vec<_> = requests.collect().await;

    assert_eq!(rest.len(), 1, "the failed request ends the stream");
    let Err(err) = &rest[0] else {
        panic!("the second request should fail: {rest:?}")
    };
    assert_eq!(err.status(), Some(400));
    assert_eq!(
        posts(&fake).len(),
        2,
        "requests 3 to 5 never sent: {:?}",
        posts(&fake)
    );
    assert_eq!(stored_ids(&fake), ["r000", "r001"]);
}

#[tokio::test]
async fn requests_in_flight_when_one_fails_are_awaited_and_reported() {
    let fake = FakePostgrest::staging(JWT).await;
    let client = fake.client_builder().build().unwrap();
    // 6 requests of 2 rows, 3 at once; the first carries a row the table refuses (record is NOT
    // NULL), so it fails whatever order the three in flight arrive in.
    let mut rows: Vec<Value> = (0..12).map(row).collect();
    rows[1]["record"] = Value::Null;

    let items: Vec<_> = client
        .upsert_batches::<_, Written>("knack", &rows, &opts(2, 3))
        .collect()
        .await;

    assert_eq!(items.len(), 3, "{items:?}");
    assert!(
        matches!(&items[0], Err(e) if e.status() == Some(400)),
        "{items:?}"
    );
    for item in &items[1..] {
        assert_eq!(item.as_ref().map(|b| b.rows).ok(), Some(2), "{items:?}");
    }
    let mut sent = posts(&fake);
    sent.sort();
    assert_eq!(
        sent,
        [["r000", "r001"], ["r002", "r003"], ["r004", "r005"]],
        "only the three started before the failure was known"
    );
    assert_eq!(stored_ids(&fake), ["r002", "r003", "r004", "r005"]);
}

#[tokio::test]
async fn rows_counts_what_was_sent_even_when_fewer_come_back() {
    let fake = FakePostgrest::staging(JWT).await;
    fake.seed("knack", [row(1)]);
    let client = fake.client_builder().build().unwrap();
    let rows: Vec<Value> = (0..3).map(row).collect();

    let items: Vec<UpsertedBatch<Written>> = client
        .upsert_batches("knack", &rows, &opts(10, 1).ignore_duplicates())
        .try_collect()
        .await
        .unwrap();

    assert_eq!(items.len(), 1);
    assert_eq!(items[0].rows, 3);
    let returned: Vec<&str> = items[0]
        .returned
        .iter()
        .map(|w| w.record_id.as_str())
        .collect();
    assert_eq!(returned, ["r000", "r002"], "the existing row was ignored");
}

#[tokio::test]
async fn a_row_that_cannot_be_serialised_fails_before_any_request() {
    let fake = FakePostgrest::staging(JWT).await;
    let client = fake.client_builder().build().unwrap();
    // JSON object keys must be strings: a map keyed by tuples cannot be serialised.
    let bad: HashMap<(u8, u8), u8> = HashMap::from([((1, 2), 3)]);
    let rows = vec![HashMap::new(), bad];

    let items: Vec<_> = client
        .upsert_batches::<_, Written>("knack", &rows, &opts(1, 4))
        .collect()
        .await;

    assert_eq!(items.len(), 1);
    assert!(matches!(items[0], Err(Error::Encode(_))), "{items:?}");
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn upsert_returning_still_fails_whole_and_returns_rows_in_order() {
    let fake = FakePostgrest::staging(JWT).await;
    let client = fake.client_builder().build().unwrap();
    let rows: Vec<Value> = (0..9).map(row).collect();
    let written: Vec<Written> = client
        .upsert_returning("knack", &rows, &opts(2, 4))
        .await
        .unwrap();
    let ids: Vec<&str> = written.iter().map(|w| w.record_id.as_str()).collect();
    let expected: Vec<String> = (0..9).map(|i| format!("r{i:03}")).collect();
    assert_eq!(ids, expected);

    let mut rows = rows;
    rows[4]["record"] = Value::Null;
    let err = client
        .upsert_returning::<_, Written>("knack", &rows, &opts(2, 4))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
}

#[tokio::test]
async fn returning_asks_for_only_the_named_columns() {
    let fake = FakePostgrest::staging(JWT).await;
    let client = fake.client_builder().build().unwrap();
    let rows: Vec<Value> = (0..2).map(row).collect();

    let back: Vec<Value> = client
        .upsert_returning(
            "knack",
            &rows,
            &opts(10, 1).returning(["record_id", "updated_at"]),
        )
        .await
        .unwrap();

    let post = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    let select: Vec<(String, String)> = post
        .query
        .into_iter()
        .filter(|(k, _)| k == "select")
        .collect();
    assert_eq!(
        select,
        [("select".to_string(), "record_id,updated_at".to_string())]
    );
    assert_eq!(back.len(), 2);
    for row in &back {
        let keys: Vec<&String> = row.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["record_id", "updated_at"],
            "no record JSON comes back"
        );
    }

    // A plain upsert asks for no rows at all, so it sends no select.
    client
        .upsert("knack", &rows, &opts(10, 1).returning(["updated_at"]))
        .await
        .unwrap();
    let last = fake.requests().pop().unwrap();
    assert!(
        last.query.iter().all(|(k, _)| k != "select"),
        "{:?}",
        last.query
    );
}
