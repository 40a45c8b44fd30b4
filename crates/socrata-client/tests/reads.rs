//! Reads a new team needs without reading everything: a count of what a `$where` matches, rows
//! with numbers (which SODA sends as text) into typed fields, and SODA's empty "no rows" answer.

use futures::TryStreamExt;
use serde::Deserialize;
use serde_json::json;
use socrata_client::testkit::{FakeDataset, FakeSocrata};
use socrata_client::Query;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod common;

use common::{catch_all, plain_client};

const ID: &str = "sig1-0001";

async fn signals() -> FakeSocrata {
    let fake = FakeSocrata::start().await;
    let rows = (0..30).map(|i| {
        let kind = ["PHB", "TRAFFIC"][i % 2];
        json!({"id": format!("SIG-{i:03}"), "signal_type": kind, "lanes": i % 5})
    });
    fake.add_dataset(
        FakeDataset::new(ID)
            .column("id", "text")
            .column("signal_type", "text")
            .column("lanes", "number")
            .row_identifier("id")
            .rows(rows),
    );
    fake
}

#[tokio::test]
async fn count_matching_counts_a_where_in_one_request() {
    let fake = signals().await;
    let client = fake.client_builder().build().unwrap();
    let phb = Query::new().where_eq("signal_type", "PHB");
    assert_eq!(client.count_matching(ID, &phb).await.unwrap(), 15);
    assert_eq!(client.count(ID).await.unwrap(), 30);
    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "one request per count");
    let query = &requests[0].query;
    assert!(
        query.contains(&("$select".into(), "count(*)".into())),
        "{query:?}"
    );
    assert!(
        query.contains(&("$where".into(), "signal_type = 'PHB'".into())),
        "{query:?}"
    );
}

#[derive(Debug, Deserialize)]
struct Signal {
    id: String,
    #[serde(with = "socrata_client::number")]
    lanes: u64,
    #[serde(default, with = "socrata_client::number::option")]
    speed: Option<f64>,
}

#[tokio::test]
async fn numbers_read_as_text_fill_typed_fields() {
    let fake = signals().await;
    let client = fake.client_builder().build().unwrap();
    let rows: Vec<Signal> = client
        .rows_as(ID, Query::new().where_eq("id", "SIG-004"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].id.as_str(), rows[0].lanes, rows[0].speed),
        ("SIG-004", 4, None)
    );
    // Without the helper, SODA's "4" does not fit a u64: the reason the helper exists.
    let raw = client
        .rows(ID, Query::new().limit(1))
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert!(raw[0]["lanes"].is_string(), "{raw:?}");
}

/// soda-ruby's recorded answer test/resources/empty_body.response (github.com/socrata/soda-ruby
/// at 4f51cb35a04fe7f1e9f4043e3d347acd1750c763): `200 OK`, `Content-Type: application/json;
/// charset=utf-8`, and no body. SODA means "no rows"; it is not a malformed answer.
#[tokio::test]
async fn an_empty_200_is_no_rows() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/resource/{ID}.json")))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Content-Type", "application/json; charset=utf-8"),
        )
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;
    let rows: Vec<_> = plain_client(&server)
        .rows(ID, Query::new())
        .try_collect()
        .await
        .unwrap();
    assert!(rows.is_empty());
}
