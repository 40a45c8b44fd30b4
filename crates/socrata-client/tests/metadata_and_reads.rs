//! Dataset metadata and paged reads.

use futures::TryStreamExt;
use serde::Deserialize;
use serde_json::json;
use socrata_client::testkit::{FakeDataset, FakeSocrata};
use socrata_client::{DataType, DatasetMetadata, Error, Query, Row};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod common;

use common::{catch_all, plain_client};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn metadata_fixture_shape_with_row_identifier_name() {
    let m = DatasetMetadata::from_json(&fixture("socrata_dataset.json")).unwrap();
    assert_eq!(m.id, "acc1-0001");
    assert_eq!(m.row_identifier.as_deref(), Some("id"));
    assert_eq!(m.columns.len(), 22);
    let loc = m.column("location").unwrap();
    assert_eq!(
        (loc.data_type.clone(), loc.name.as_str()),
        (DataType::Point, "Location")
    );
    assert_eq!(m.column("is_active").unwrap().data_type, DataType::Checkbox);
    assert_eq!(
        m.column("install_date").unwrap().data_type,
        DataType::FloatingTimestamp
    );
    assert!(m.has_field(":deleted") && !m.has_field("nope"));
}

#[test]
fn metadata_real_shape_maps_row_identifier_column_id() {
    let m = DatasetMetadata::from_json(&fixture("view_real_shape.json")).unwrap();
    assert_eq!(m.row_identifier.as_deref(), Some("id"));
    assert_eq!(
        m.column("area").unwrap().data_type,
        DataType::Other("multipolygon".into())
    );
    assert_eq!(
        m.field_names().collect::<Vec<_>>(),
        ["signal_id", "id", "location", "modified_date", "area"]
    );
    // No row identifier set by the publisher.
    let m = DatasetMetadata::from_json(br#"{"id":"a","name":"b","columns":[]}"#).unwrap();
    assert_eq!(m.row_identifier, None);
}

#[tokio::test]
async fn metadata_over_http_and_404_error() {
    let fake = FakeSocrata::start().await;
    fake.add_dataset(FakeDataset::from_metadata(
        &serde_json::from_slice(&fixture("socrata_dataset.json")).unwrap(),
    ));
    let c = fake.client_builder().build().unwrap();
    let m = c.metadata("acc1-0001").await.unwrap();
    assert_eq!(m.row_identifier.as_deref(), Some("id"));
    assert_eq!(m.columns.len(), 22);
    let e = c.metadata("zzzz-9999").await.unwrap_err();
    assert_eq!(e.status(), Some(404));
    assert!(e.to_string().contains("check the dataset id"), "{e}");
}

fn signals(n: usize) -> FakeDataset {
    FakeDataset::new("sig1-0001")
        .column("id", "text")
        .column("kind", "text")
        .column("lanes", "number")
        .row_identifier("id")
        .rows((0..n).map(|i| json!({"id": format!("r{i:03}"), "kind": if i % 2 == 0 { "PHB" } else { "TRAFFIC" }, "lanes": i})))
}

#[tokio::test]
async fn stream_pages_in_id_order_without_gaps_or_repeats() {
    let fake = FakeSocrata::start().await;
    fake.add_dataset(signals(25));
    let c = fake.client_builder().page_size(10).build().unwrap();
    let rows: Vec<Row> = c
        .rows("sig1-0001", Query::new())
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let want: Vec<String> = (0..25).map(|i| format!("r{i:03}")).collect();
    assert_eq!(ids, want);
    // SODA 2 returns numbers as strings.
    assert_eq!(rows[3]["lanes"], json!("3"));
    let log = fake.requests();
    assert_eq!(
        log.len(),
        3,
        "25 rows in pages of 10: two full pages and a short one"
    );
    for (i, r) in log.iter().enumerate() {
        assert_eq!(r.query_param("$order"), Some(":id"));
        assert_eq!(r.query_param("$limit"), Some("10"));
        assert_eq!(
            r.query_param("$offset"),
            Some((i * 10).to_string().as_str())
        );
    }
}

#[tokio::test]
async fn user_order_gets_id_tiebreaker_and_limit_offset_are_honoured() {
    let fake = FakeSocrata::start().await;
    fake.add_dataset(signals(30));
    let c = fake.client_builder().page_size(4).build().unwrap();
    let q = Query::new()
        .where_eq("kind", "PHB")
        .order("kind DESC")
        .offset(2)
        .limit(7);
    let rows: Vec<Row> = c.rows("sig1-0001", q).try_collect().await.unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        ["r004", "r006", "r008", "r010", "r012", "r014", "r016"]
    );
    let log = fake.requests();
    assert_eq!(log[0].query_param("$order"), Some("kind DESC, :id"));
    assert_eq!(log[0].query_param("$where"), Some("kind = 'PHB'"));
    assert_eq!(
        log.iter()
            .map(|r| r.query_param("$limit").unwrap())
            .collect::<Vec<_>>(),
        ["4", "3"]
    );
    assert_eq!(log[1].query_param("$offset"), Some("6"));
}

#[tokio::test]
async fn typed_rows_select_and_search() {
    #[derive(Deserialize, Debug, PartialEq)]
    struct Sig {
        id: String,
        lanes: String,
    }
    let fake = FakeSocrata::start().await;
    fake.add_dataset(signals(5));
    let c = fake.client_builder().build().unwrap();
    let rows: Vec<Sig> = c
        .rows_as(
            "sig1-0001",
            Query::new().select("id, lanes").search("traffic"),
        )
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        rows,
        [
            Sig {
                id: "r001".into(),
                lanes: "1".into()
            },
            Sig {
                id: "r003".into(),
                lanes: "3".into()
            }
        ]
    );
    let log = fake.requests();
    assert_eq!(
        (log[0].query_param("$select"), log[0].query_param("$q")),
        (Some("id, lanes"), Some("traffic"))
    );
}

#[tokio::test]
async fn where_values_are_quoted_safely_on_the_wire() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/resource/abcd-1234.json"))
        .and(query_param("$where", "name = 'O''Brien'' OR 1=1 --'"))
        .and(query_param("$order", ":id"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([{"name": "O'Brien' OR 1=1 --"}])),
        )
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;
    let c = plain_client(&server);
    let rows: Vec<Row> = c
        .rows(
            "abcd-1234",
            Query::new().where_eq("name", "O'Brien' OR 1=1 --"),
        )
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
}

#[tokio::test]
async fn query_errors_carry_socrata_code_and_message() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/resource/abcd-1234.json"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "code": "query.compiler.malformed", "error": true,
            "message": "Could not parse SoQL query", "data": {"position": {"line": 1, "column": 7}}
        })))
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;
    let c = plain_client(&server);
    let e = c
        .rows("abcd-1234", Query::new().filter("bad ("))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    match &e {
        Error::Api {
            status: 400, body, ..
        } => {
            assert_eq!(body.code.as_deref(), Some("query.compiler.malformed"));
            assert_eq!(body.data.as_ref().unwrap()["position"]["column"], json!(7));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(e.to_string().contains("Could not parse SoQL query"));
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn fake_punishes_unordered_reads() {
    // The fake answers without $order in reverse order: proves the ordering check is real.
    let fake = FakeSocrata::start().await;
    fake.add_dataset(signals(3));
    let body: serde_json::Value = reqwest::get(format!("{}/resource/sig1-0001.json", fake.uri()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body[0]["id"], json!("r002"));
}

#[tokio::test]
async fn count_is_one_request_and_reads_soda_s_text_count_whatever_its_column_name() {
    let fake = FakeSocrata::start().await;
    fake.add_dataset(FakeDataset::new("abcd-1234").column("id", "text"));
    let client = fake.client_builder().build().unwrap();
    assert_eq!(client.count("abcd-1234").await.unwrap(), 0);
    let rows: Vec<_> = (0..1500).map(|i| json!({"id": i.to_string()})).collect();
    client.upsert("abcd-1234", &rows).await.unwrap();
    fake.clear_requests();
    assert_eq!(client.count("abcd-1234").await.unwrap(), 1500);
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].query_param("$select"), Some("count(*)"));

    // An older endpoint's alias, and an answer with no count at all.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/resource/abcd-1234.json"))
        .and(query_param("$select", "count(*)"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"count_1": "7"}])))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    let client = plain_client(&server);
    assert_eq!(client.count("abcd-1234").await.unwrap(), 7);
    let err = client.count("abcd-1234").await.unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err}");
}

#[tokio::test]
async fn keyset_pages_neither_skip_nor_repeat_a_row_deleted_or_added_meanwhile() {
    let fake = FakeSocrata::start().await;
    fake.add_dataset(signals(25));
    let c = fake.client_builder().page_size(10).build().unwrap();
    let q = Query::new().where_eq("kind", "PHB").select("id");
    let mut pages = Box::pin(c.pages_by_key("sig1-0001", q, "id"));
    let mut ids: Vec<String> = Vec::new();
    let first = pages.try_next().await.unwrap().unwrap();
    ids.extend(first.iter().map(|r| r["id"].as_str().unwrap().to_string()));
    // Someone deletes a row of the page already read and adds one: on `$offset` paging, the
    // first row of the next page would move onto this one and be read by neither.
    c.delete("sig1-0001", "id", &["r000"]).await.unwrap();
    c.upsert(
        "sig1-0001",
        &[json!({"id": "r100", "kind": "PHB", "lanes": 1})],
    )
    .await
    .unwrap();
    while let Some(page) = pages.try_next().await.unwrap() {
        ids.extend(page.iter().map(|r| r["id"].as_str().unwrap().to_string()));
    }
    let mut want: Vec<String> = (0..25).step_by(2).map(|i| format!("r{i:03}")).collect();
    want.push("r100".into());
    assert_eq!(ids, want, "each row once, in key order");
    let reads: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .collect();
    assert_eq!(reads[0].query_param("$order"), Some("id, :id"));
    assert_eq!(
        reads[1].query_param("$where"),
        Some("(kind = 'PHB') AND (id > 'r018')")
    );
    assert!(reads.iter().all(|r| r.query_param("$offset") == Some("0")));
}
