//! The fake answers as a real portal does, case by case, each against the recorded or
//! documented answer it copies (cited on each test). Plain HTTP, as any peer client (sodapy,
//! soda-ruby) would send it.

use serde_json::{json, Value};
use socrata_client::testkit::{FakeDataset, FakeSocrata};

const ID: &str = "sig1-0001";

async fn fake() -> FakeSocrata {
    let fake = FakeSocrata::start().await;
    let rows = (1..=9).map(|i| json!({"id": i.to_string(), "name": format!("n{i}"), "n": i}));
    fake.add_dataset(
        FakeDataset::new(ID)
            .column("id", "text")
            .column("name", "text")
            .column("n", "number")
            .row_identifier("id")
            .rows(rows),
    );
    fake
}

async fn get(fake: &FakeSocrata, query: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    let url = format!("{}/resource/{ID}.json?{query}", fake.uri());
    let resp = reqwest::get(url).await.unwrap();
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    (status, headers, resp.json().await.unwrap_or(Value::Null))
}

fn ids(rows: &Value) -> Vec<&str> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect()
}

/// SoQL's `$where` takes comparisons with or without spaces (dev.socrata.com/docs/queries/where
/// and soda-ruby's recorded test/resources/earthquakes_where_gt_5.response, a `magnitude > 5`
/// query): `id='1'`, `n > 4`, `NOT`, `OR`, `IS NULL`.
#[tokio::test]
async fn where_takes_soql_comparisons_with_or_without_spaces() {
    let fake = fake().await;
    for (clause, expected) in [
        ("id='1'", vec!["1"]),
        ("n > 7", vec!["8", "9"]),
        ("n>=8 AND name != 'n9'", vec!["8"]),
        ("n < 2 or (n = 9)", vec!["1", "9"]),
        ("NOT n <= 8", vec!["9"]),
        ("id in ('2','3') AND name IS NOT NULL", vec!["2", "3"]),
        ("name IS NULL", vec![]),
    ] {
        let query = format!("$where={}&$order=:id", urlencode(clause));
        let (status, _, rows) = get(&fake, &query).await;
        assert_eq!(status, 200, "{clause}: {rows}");
        assert_eq!(ids(&rows), expected, "{clause}");
    }
    let (status, _, body) = get(&fake, "$where=n%20%3E").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("query.compiler.malformed"))
    );
}

/// A simple filter, `?field=value`, keeps the rows whose field equals the value
/// (dev.socrata.com/docs/filtering.html); the fake used to ignore it and answer every row.
#[tokio::test]
async fn a_simple_filter_filters() {
    let fake = fake().await;
    let (status, _, rows) = get(&fake, "id=7").await;
    assert_eq!(status, 200);
    assert_eq!(ids(&rows), ["7"]);
    let (_, _, rows) = get(&fake, "name=n3&id=3").await;
    assert_eq!(ids(&rows), ["3"]);
}

/// Reads carry the result's columns and types, as soda-ruby recorded a real read
/// (test/resources/earthquakes_where_gt_5.response at a2b3e4790701555418e3ade96468526edfa98727:
/// `X-SODA2-Fields: ["region",...]`, `X-SODA2-Types: ["text",...]`).
#[tokio::test]
async fn reads_carry_x_soda2_fields_and_types() {
    let fake = fake().await;
    let (_, headers, _) = get(&fake, "$limit=1").await;
    let header =
        |name: &str| -> Value { serde_json::from_str(headers[name].to_str().unwrap()).unwrap() };
    assert_eq!(header("x-soda2-fields"), json!(["id", "name", "n"]));
    assert_eq!(header("x-soda2-types"), json!(["text", "text", "number"]));
    let (_, headers, _) = get(&fake, "$select=n").await;
    assert_eq!(headers["x-soda2-fields"], "[\"n\"]");
}

/// A dataset that does not exist: 404 `dataset.missing` with its id under `data`, as soda-ruby
/// recorded it (test/resources/404.response at a2b3e4790701555418e3ade96468526edfa98727).
#[tokio::test]
async fn a_missing_dataset_is_dataset_missing() {
    let fake = fake().await;
    let resp = reqwest::get(format!("{}/resource/idontexist.json", fake.uri()))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({"code": "dataset.missing", "error": true, "message": "Not found",
               "data": {"id": "idontexist"}})
    );
}

/// One row deleted by its row identifier: `DELETE /resource/{id}/{row id}.json`
/// (dev.socrata.com/publishers/soda-producer/direct-row-manipulation; sodapy's
/// `Socrata.delete(dataset, row_id)` sends it).
#[tokio::test]
async fn a_row_is_deleted_by_its_identifier() {
    let fake = fake().await;
    let http = reqwest::Client::new();
    let url = format!("{}/resource/{ID}/4.json", fake.uri());
    let resp = http.delete(&url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(fake.rows(ID).iter().all(|r| r["id"] != "4"));
    assert_eq!(fake.rows(ID).len(), 8);
    let again = http.delete(&url).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 404);
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
