//! Knack computes each page when it is asked for, so records that change during a read move
//! across page boundaries; the fake does the same, sorts like a view configured to sort, and a
//! single record can be asked for by id (`Client::record`).

use futures::TryStreamExt;
use knack_client::testkit::{FakeKnack, Fault, RecordBuilder};
use knack_client::{Client, Container, Error, Filter, Operator, RecordsQuery, Rule, SortOrder};
use serde_json::{json, Map, Value};

fn id(n: usize) -> String {
    format!("{n:024x}")
}

/// Record `n`, its `field_2` = `rank`.
fn record(n: usize, rank: i64) -> Value {
    RecordBuilder::new(id(n))
        .field("field_1", if n.is_multiple_of(2) { "even" } else { "odd" })
        .field("field_2", rank)
        .to_json()
}

async fn fake_with(container: &Container, n: usize) -> (FakeKnack, Client) {
    let fake = FakeKnack::start().await;
    fake.set_rate_limit(None);
    fake.set_records(container, (0..n).map(|i| record(i, i as i64)).collect());
    // One page at a time, so a change before page N falls between pages N-1 and N.
    let client = fake.client_builder().page_concurrency(1).build().unwrap();
    (fake, client)
}

/// The ids of a read, page by page, with each page's `total_records`.
async fn read(
    client: &Client,
    container: &Container,
    query: RecordsQuery,
) -> Vec<(u64, Vec<String>)> {
    client
        .pages(container, query)
        .map_ok(|p| {
            let ids = p.records.iter().map(|r| r.id().to_string()).collect();
            (p.total_records, ids)
        })
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_record_deleted_during_a_read_shifts_the_later_pages() {
    let object = Container::object("object_1").unwrap();
    let (fake, client) = fake_with(&object, 25).await;
    fake.before_page(&object, 2, |records| {
        assert_eq!(records.len(), 25);
        assert!(records.delete(&id(0)));
    });
    let pages = read(&client, &object, RecordsQuery::new().rows_per_page(10)).await;

    let totals: Vec<u64> = pages.iter().map(|(t, _)| *t).collect();
    assert_eq!(totals, [25, 24, 24], "total_records moves with the records");
    let ids: Vec<String> = pages.into_iter().flat_map(|(_, ids)| ids).collect();
    assert_eq!(ids.len(), 24);
    assert!(
        !ids.contains(&id(10)),
        "the first record of page 2 moved onto page 1, already read"
    );
    // The hook ran once: a second read sees every record left, each once.
    let again: Vec<String> = read(&client, &object, RecordsQuery::new().rows_per_page(10))
        .await
        .into_iter()
        .flat_map(|(_, ids)| ids)
        .collect();
    assert_eq!(again, (1..25).map(id).collect::<Vec<_>>());
}

#[tokio::test]
async fn hooks_for_one_page_run_one_a_read_and_filtered_reads_see_every_change() {
    let object = Container::object("object_1").unwrap();
    let (fake, client) = fake_with(&object, 30).await;
    let even = RecordsQuery::new()
        .rows_per_page(5)
        .filter(Filter::and([Rule::new("field_1", Operator::Is, "even")]));
    fake.before_page(&object, 2, |records| {
        records.push(record(100, -1));
    });
    fake.before_page(&object, 2, |records| {
        let mut fields = Map::new();
        fields.insert("field_1".into(), json!("odd"));
        assert!(records.update(&id(28), fields));
    });
    let first = read(&client, &object, even.clone()).await;
    let totals: Vec<u64> = first.iter().map(|(t, _)| *t).collect();
    assert_eq!(
        totals,
        [15, 16, 16],
        "100 created before page 2 matches too"
    );
    let ids: Vec<&String> = first.iter().flat_map(|(_, ids)| ids).collect();
    assert_eq!(
        ids.len(),
        15,
        "the read stops at page 1's total_pages: 100, on a fourth page, is not read"
    );
    let pages = read(&client, &object, even.clone()).await;
    let ids: Vec<&String> = pages.iter().flat_map(|(_, ids)| ids).collect();
    assert_eq!(ids.len(), 15, "28 is odd now, 100 is read");
    assert!(!ids.contains(&&id(28)));
    assert!(ids.contains(&&id(100)));
    assert_eq!(fake.edit(&object, |records| records.ids().len()), 31);
}

#[tokio::test]
async fn a_view_sorted_by_a_field_moves_an_edited_record_to_the_front() {
    let view = Container::view("scene_1", "view_1").unwrap();
    let (fake, client) = fake_with(&view, 12).await;
    fake.sort_by(&view, "field_2", SortOrder::Desc);
    let first = read(&client, &view, RecordsQuery::new().rows_per_page(5)).await;
    assert_eq!(first[0].1[0], id(11), "highest rank first");

    // Record 3 is edited while page 2 is asked for: it moves to the front, page 1 already read.
    fake.before_page(&view, 2, |records| {
        let mut fields = Map::new();
        fields.insert("field_2".into(), json!(99));
        assert!(records.update(&id(3), fields));
    });
    let ids: Vec<String> = read(&client, &view, RecordsQuery::new().rows_per_page(5))
        .await
        .into_iter()
        .flat_map(|(_, ids)| ids)
        .collect();
    assert!(!ids.contains(&id(3)), "edited onto a page already read");
    assert_eq!(
        ids.iter().filter(|i| **i == id(7)).count(),
        2,
        "7 read twice"
    );

    // A request's own sort wins over the view's.
    let ascending = RecordsQuery::new()
        .rows_per_page(5)
        .sort("field_2", SortOrder::Asc);
    let ids: Vec<String> = read(&client, &view, ascending)
        .await
        .into_iter()
        .flat_map(|(_, ids)| ids)
        .collect();
    assert_eq!(ids.first(), Some(&id(0)));
    assert_eq!(ids.last(), Some(&id(3)));
}

#[tokio::test]
async fn one_record_is_read_by_id_and_a_404_says_it_is_gone() {
    let object = Container::object("object_1").unwrap();
    let (fake, client) = fake_with(&object, 3).await;
    let found = client.record(&object, &id(1)).await.unwrap().unwrap();
    assert_eq!(found.raw()["field_2_raw"], 1);
    let raw = client.raw_record(&object, &id(2)).await.unwrap().unwrap();
    assert_eq!(raw.id(), id(2));
    fake.edit(&object, |records| assert!(records.delete(&id(1))));
    assert!(client.record(&object, &id(1)).await.unwrap().is_none());
    let paths: Vec<(String, u16)> = fake
        .requests()
        .into_iter()
        .map(|r| (r.path, r.status))
        .collect();
    assert_eq!(
        paths.last().unwrap(),
        &(format!("/v1/objects/object_1/records/{}", id(1)), 404)
    );
    // An answer that is not the record asked for is an error, never "gone".
    fake.inject(
        Fault::status(200)
            .body(r#"{"id": "5f0000000000000000000abc"}"#)
            .on_path(&id(2)),
    );
    let err = client.raw_record(&object, &id(2)).await.unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("got record 5f0000000000000000000abc"),
        "{err}"
    );
    fake.inject(Fault::status(200).body("{}").on_path(&id(2)));
    let err = client.raw_record(&object, &id(2)).await.unwrap_err();
    assert!(err.to_string().contains("got no id"), "{err}");
    // Not a record id: refused before any request.
    let err = client.record(&object, "../x").await.unwrap_err();
    assert!(matches!(err, Error::InvalidQuery(_)), "{err}");
}
