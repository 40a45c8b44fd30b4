//! `Client::upsert_batches`: one item per request with the rows it carried, and nothing sent after
//! a failure, so a caller can count exactly what a partly failed upsert wrote.

use futures::{StreamExt, TryStreamExt};
use serde_json::{json, Value};
use socrata_client::testkit::{FakeDataset, FakeSocrata, Fault};
use socrata_client::{Client, Error, WrittenBatch};

const ID: &str = "sig1-0001";

async fn fake() -> FakeSocrata {
    let fake = FakeSocrata::start().await;
    fake.add_dataset(
        FakeDataset::new(ID)
            .column("id", "text")
            .column("name", "text")
            .row_identifier("id"),
    );
    fake
}

fn client(fake: &FakeSocrata, batch_size: usize) -> Client {
    fake.client_builder()
        .batch_size(batch_size)
        .build()
        .unwrap()
}

fn rows(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"id": format!("r{i}"), "name": format!("n{i}")}))
        .collect()
}

fn posted_ids(fake: &FakeSocrata) -> Vec<Vec<String>> {
    fake.requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| {
            FakeSocrata::body_rows(&r)
                .iter()
                .map(|row| row["id"].as_str().unwrap_or("?").to_string())
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn one_item_per_request_with_its_rows_and_counts() {
    let fake = fake().await;
    let c = client(&fake, 2);
    c.upsert(ID, &rows(1)).await.unwrap();

    let items: Vec<WrittenBatch> = c.upsert_batches(ID, &rows(5)).try_collect().await.unwrap();

    let shape: Vec<_> = items
        .iter()
        .map(|b| {
            (
                b.rows,
                b.summary.rows_created,
                b.summary.rows_updated,
                b.summary.batches,
            )
        })
        .collect();
    assert_eq!(shape, [(2, 1, 1, 1), (2, 2, 0, 1), (1, 1, 0, 1)]);
    assert_eq!(fake.rows(ID).len(), 5);
}

#[tokio::test]
async fn nothing_is_sent_after_a_failed_request() {
    let fake = fake().await;
    let c = client(&fake, 2);
    let rows = rows(7);
    let mut requests = c.upsert_batches(ID, &rows);

    let first = requests.next().await.unwrap().unwrap();
    assert_eq!(first.rows, 2);
    // Requests go one at a time, so the next one is sent only when asked for: it gets this fault.
    fake.inject(Fault::status(400).on_method("POST"));
    let rest: Vec<_> = requests.collect().await;

    assert_eq!(rest.len(), 1, "the failure ends the stream: {rest:?}");
    assert!(
        matches!(&rest[0], Err(e) if e.status() == Some(400)),
        "{rest:?}"
    );
    assert_eq!(
        posted_ids(&fake),
        [["r0", "r1"], ["r2", "r3"]],
        "requests 3 and 4 never sent"
    );
    assert_eq!(fake.rows(ID).len(), 2, "the first request stays written");
}

#[tokio::test]
async fn a_request_the_portal_refuses_stops_the_stream_after_the_good_ones() {
    let fake = fake().await;
    let c = client(&fake, 2);
    let mut rows = rows(6);
    // Row 3 is in the second request; an unknown field makes Socrata refuse that whole request.
    rows[3]["not_a_column"] = json!(1);

    let items: Vec<_> = c.upsert_batches(ID, &rows).collect().await;

    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0].as_ref().map(|b| b.rows).ok(), Some(2));
    assert!(
        matches!(&items[1], Err(Error::IllegalFieldName { field, .. }) if field == "not_a_column"),
        "{items:?}"
    );
    assert_eq!(posted_ids(&fake).len(), 2, "the third request never sent");
}

#[tokio::test]
async fn row_errors_end_the_stream_with_the_counts_so_far() {
    let fake = fake().await;
    let c = client(&fake, 2);
    let mut rows = rows(6);
    // A row without its row identifier is counted in `Errors` (a 200 answer), in request 2.
    rows[2].as_object_mut().unwrap().remove("id");

    let items: Vec<_> = c.upsert_batches(ID, &rows).collect().await;

    assert_eq!(items.len(), 2, "{items:?}");
    assert!(items[0].is_ok());
    let Err(Error::RowErrors { summary, .. }) = &items[1] else {
        panic!("expected row errors: {items:?}")
    };
    assert_eq!(
        (summary.rows_created, summary.errors, summary.batches),
        (3, 1, 2),
        "summed over both requests, as upsert reports it"
    );
    assert_eq!(posted_ids(&fake).len(), 2);

    // `upsert` reports the same error.
    let err = c.upsert(ID, &rows).await.unwrap_err();
    assert!(
        matches!(err, Error::RowErrors { summary, .. } if summary.batches == 2 && summary.errors == 1),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_bad_dataset_id_fails_before_any_request() {
    let fake = fake().await;
    let c = client(&fake, 2);
    let items: Vec<_> = c.upsert_batches("not an id", &rows(3)).collect().await;
    assert_eq!(items.len(), 1);
    assert!(
        matches!(items[0], Err(Error::InvalidDatasetId { .. })),
        "{items:?}"
    );
    assert!(fake.requests().is_empty());
}
