//! The fake's keyset reads on the row identifier are served from an index in identifier order
//! (`testkit/index.rs`, `KeyOrder`): the same pages as the fake's full filter-and-sort, before
//! and after writes that add, update and delete rows.

use futures::TryStreamExt;
use serde_json::json;
use socrata_client::testkit::{FakeDataset, FakeSocrata};
use socrata_client::{Client, Query, Row};

const ID: &str = "keys-0001";

/// Pages by keyset on `id`: `indexed` as a replace reads its row ids (no filter, the index's
/// path), else with a filter every row passes (the full scan and sort).
async fn pages(client: &Client, indexed: bool) -> Vec<Vec<Row>> {
    let query = if indexed {
        Query::new().select("id, lanes")
    } else {
        Query::new()
            .select("id, lanes")
            .and_where("lanes IS NOT NULL")
    };
    client
        .pages_by_key(ID, query, "id")
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn keyset_pages_from_the_index_are_those_of_the_full_sort() {
    let fake = FakeSocrata::start().await;
    // Identifiers stored out of order, some sharing a prefix, some with digits only.
    let ids = [
        "m", "b", "zz", "a1", "10", "9", "b0", "a", "Q", "z", "m0", "_x",
    ];
    fake.add_dataset(
        FakeDataset::new(ID)
            .column("id", "text")
            .column("lanes", "number")
            .row_identifier("id")
            .rows(
                ids.iter()
                    .zip(1..)
                    .map(|(id, n)| json!({"id": id, "lanes": n})),
            ),
    );
    let client = fake.client_builder().page_size(5).build().unwrap();

    let indexed = pages(&client, true).await;
    assert_eq!(indexed, pages(&client, false).await);
    let mut sorted: Vec<&str> = ids.to_vec();
    sorted.sort_unstable();
    let read: Vec<String> = indexed
        .iter()
        .flatten()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(read, sorted);
    assert_eq!(indexed.len(), 3, "pages of 5, 5 and 2");

    // Writes drop the index: rows added, changed and deleted show in the next read.
    client
        .upsert(
            ID,
            &[
                json!({"id": "c", "lanes": 40}),
                json!({"id": "m", "lanes": 41}),
                json!({"id": "0", "lanes": 42}),
            ],
        )
        .await
        .unwrap();
    client.delete(ID, "id", &["zz", "a1"]).await.unwrap();
    let indexed = pages(&client, true).await;
    assert_eq!(indexed, pages(&client, false).await);
    let read: Vec<String> = indexed
        .iter()
        .flatten()
        .map(|r| {
            format!(
                "{} {}",
                r["id"].as_str().unwrap(),
                r["lanes"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(read.len(), 12, "12 - 2 deleted + 2 added");
    assert!(read.contains(&"m 41".to_string()) && read.contains(&"0 42".to_string()));
    assert!(!read
        .iter()
        .any(|r| r.starts_with("zz ") || r.starts_with("a1 ")));
}
