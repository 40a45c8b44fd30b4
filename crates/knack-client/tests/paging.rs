//! Paging, in-order concurrent pages, filters and view tokens against the
//! testkit and plain wiremock servers.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use futures::TryStreamExt;
use knack_client::testkit::FakeKnack;
use knack_client::{
    Client, ClientBuilder, Container, Filter, Operator, RecordsQuery, Rule, SortOrder,
};
use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

fn numbered(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"id": format!("{i:024x}"), "field_1": i, "field_1_raw": i}))
        .collect()
}

fn ids(records: &[knack_client::Record]) -> Vec<String> {
    records.iter().map(|r| r.id().to_string()).collect()
}

#[tokio::test]
async fn reads_every_page_in_order_and_stops_at_total_pages() {
    let fake = FakeKnack::start().await;
    let object = Container::object("object_1").unwrap();
    fake.set_records(&object, numbered(23));
    let client = fake.client_builder().build().unwrap();
    let got: Vec<_> = client
        .records(&object, RecordsQuery::new().rows_per_page(5))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ids(&got), ids(&fake.records(&object)));
    let log = fake.requests();
    let pages: Vec<_> = log
        .iter()
        .map(|r| r.query_param("page").unwrap().to_string())
        .collect();
    assert_eq!(
        pages.len(),
        5,
        "23 records at 5 a page are 5 pages: {pages:?}"
    );
    assert!(log
        .iter()
        .all(|r| r.query_param("rows_per_page") == Some("5")));
    assert_eq!(
        log[0].query_param("page"),
        Some("1"),
        "page 1 comes first to learn total_pages"
    );
    assert!(log
        .iter()
        .all(|r| r.header("x-knack-rest-api-key") == Some("[redacted]")));
    assert!(log
        .iter()
        .all(|r| r.header("x-knack-application-id") == Some(fake.app_id().as_str())));
}

#[tokio::test]
async fn stops_on_the_first_empty_page_before_total_records() {
    let fake = FakeKnack::start().await;
    let object = Container::object("object_2").unwrap();
    fake.set_records(&object, numbered(10));
    // Knack claims 30 records (6 pages of 5); pages 3.. are empty.
    fake.overstate_total_records(&object, 20);
    let client = fake.client_builder().page_concurrency(1).build().unwrap();
    let got: Vec<_> = client
        .records(&object, RecordsQuery::new().rows_per_page(5))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(got.len(), 10);
    let pages: Vec<_> = fake
        .requests()
        .iter()
        .map(|r| r.query_param("page").unwrap().to_string())
        .collect();
    assert_eq!(
        pages,
        ["1", "2", "3"],
        "paging must stop at the first empty page"
    );
}

#[tokio::test]
async fn limit_truncates_and_fetches_few_pages() {
    let fake = FakeKnack::start().await;
    let object = Container::object("object_3").unwrap();
    fake.set_records(&object, numbered(50));
    let client = fake.client_builder().page_concurrency(1).build().unwrap();
    let got: Vec<_> = client
        .records(&object, RecordsQuery::new().limit(7))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(got.len(), 7);
    assert_eq!(fake.requests().len(), 1);
    assert_eq!(fake.requests()[0].query_param("rows_per_page"), Some("7"));
}

#[tokio::test]
async fn rows_per_page_over_1000_is_refused_before_any_request() {
    let fake = FakeKnack::start().await;
    let client = fake.client_builder().build().unwrap();
    let err = client
        .records(
            &Container::object("object_1").unwrap(),
            RecordsQuery::new().rows_per_page(1001),
        )
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("1 to 1000"), "{err}");
    assert!(fake.requests().is_empty());
}

/// A mock for `GET <route>`.
fn get(route: &str) -> MockBuilder {
    Mock::given(method("GET")).and(path(route))
}

/// Answers every request no other mock matched with a 418, so a stray request fails the test.
async fn catch_all(server: &MockServer) {
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(418).set_body_string("UNEXPECTED REQUEST"))
        .mount(server)
        .await;
}

/// A client of a plain wiremock `server` for the Knack app `app_id`.
fn wiremock_client(server: &MockServer, app_id: &str) -> ClientBuilder {
    Client::builder()
        .app_id(app_id)
        .base_url(format!("{}/v1", server.uri()))
}

fn page_body(page: u32, total_pages: u32, ids: &[&str]) -> Value {
    json!({
        "total_pages": total_pages, "current_page": page, "total_records": total_pages * 2,
        "records": ids.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
    })
}

#[tokio::test]
async fn concurrent_pages_are_yielded_in_page_order() {
    let server = MockServer::start().await;
    let route = "/v1/objects/object_1/records";
    get(route)
        .and(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page_body(1, 3, &["a", "b"])))
        .mount(&server)
        .await;
    // Page 2 is the slowest: page 3 arrives first but must be yielded last.
    get(route)
        .and(query_param("page", "2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(page_body(2, 3, &["c", "d"]))
                .set_delay(Duration::from_millis(600)),
        )
        .mount(&server)
        .await;
    get(route)
        .and(query_param("page", "3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page_body(3, 3, &["e"])))
        .mount(&server)
        .await;
    catch_all(&server).await;
    let client = wiremock_client(&server, "5f0000000000000000000101")
        .api_key("k")
        .build()
        .unwrap();
    let pages: Vec<_> = client
        .pages(&Container::object("object_1").unwrap(), RecordsQuery::new())
        .try_collect()
        .await
        .unwrap();
    let numbers: Vec<u32> = pages.iter().map(|p| p.number).collect();
    assert_eq!(numbers, [1, 2, 3]);
    let all: Vec<String> = pages.iter().flat_map(|p| ids(&p.records)).collect();
    assert_eq!(all, ["a", "b", "c", "d", "e"]);
    // Each page was asked for exactly once.
    let reqs = server.received_requests().await.unwrap();
    let order: Vec<_> = reqs
        .iter()
        .filter_map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "page")
                .map(|(_, v)| v.into_owned())
        })
        .collect();
    assert_eq!(order.len(), 3);
}

#[tokio::test]
async fn filters_and_sort_travel_as_knack_expects_and_select_by_local_day() {
    let fake = FakeKnack::start().await;
    let object = Container::object("object_4").unwrap();
    let rec = |id: &str, date: &str| json!({"id": id, "field_9": date, "field_9_raw": {"date": date, "unix_timestamp": 0}});
    fake.set_records(
        &object,
        vec![
            rec("000000000000000000000001", "03/06/2026"),
            rec("000000000000000000000002", "03/07/2026"),
            rec("000000000000000000000003", "03/08/2026"),
        ],
    );
    let client = fake.client_builder().build().unwrap();
    // 05:30Z on March 8 is still March 7 in Chicago: the March 7 record is included.
    let since = Utc.with_ymd_and_hms(2026, 3, 8, 5, 30, 0).unwrap();
    let filter = Filter::modified_since("field_9", since, chrono_tz::America::Chicago);
    let got: Vec<_> = client
        .records(
            &object,
            RecordsQuery::new()
                .filter(filter.clone())
                .sort("field_9", SortOrder::Asc),
        )
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        ids(&got),
        ["000000000000000000000002", "000000000000000000000003"]
    );
    let req = &fake.requests()[0];
    let sent: Value = serde_json::from_str(req.query_param("filters").unwrap()).unwrap();
    assert_eq!(sent, serde_json::to_value(&filter).unwrap());
    assert_eq!(req.query_param("sort_field"), Some("field_9"));
    assert_eq!(req.query_param("sort_order"), Some("asc"));
}

#[tokio::test]
async fn an_unknown_operator_is_a_400_with_knacks_message_and_not_retried() {
    let fake = FakeKnack::start().await;
    let object = Container::object("object_5").unwrap();
    fake.set_records(&object, numbered(2));
    let client = fake.client_builder().build().unwrap();
    let filter = Filter::and([Rule::new(
        "field_1",
        Operator::Other("sounds like".into()),
        "x",
    )]);
    let err = client
        .records(&object, RecordsQuery::new().filter(filter))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(err.to_string().contains("sounds like"), "{err}");
    assert!(!err.is_retryable());
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn view_requests_send_the_user_token_raw_and_no_api_key() {
    let fake = FakeKnack::start().await;
    let view = Container::view("scene_1", "view_1").unwrap();
    fake.set_records(&view, numbered(3));
    fake.add_user_token("user-token-abc");
    let client = fake
        .client_builder()
        .user_token("user-token-abc")
        .build()
        .unwrap();
    let got: Vec<_> = client
        .records(&view, RecordsQuery::new())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(got.len(), 3);
    let server = MockServer::start().await;
    get("/v1/pages/scene_1/views/view_1/records")
        .and(wiremock::matchers::header(
            "Authorization",
            "user-token-abc",
        ))
        .and(wiremock::matchers::header(
            "X-Knack-Application-Id",
            "5f0000000000000000000102",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(page_body(1, 1, &["x"])))
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;
    let client = wiremock_client(&server, "5f0000000000000000000102")
        .api_key("the-api-key")
        .user_token("user-token-abc")
        .build()
        .unwrap();
    let got: Vec<_> = client
        .records(&view, RecordsQuery::new())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ids(&got), ["x"]);
    let req = &server.received_requests().await.unwrap()[0];
    assert!(
        req.headers.get("x-knack-rest-api-key").is_none(),
        "no API key with a user token"
    );
    // A wrong token is a 401 that says what to do.
    let bad = fake.client_builder().user_token("expired").build().unwrap();
    let err = bad
        .records(&view, RecordsQuery::new())
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(err.to_string().contains("48 hours"), "{err}");
}

#[tokio::test]
async fn metadata_is_read_without_credentials() {
    let fake = FakeKnack::start().await;
    let meta =
        json!({"application": {"id": fake.app_id(), "name": "Fake", "objects": [], "scenes": []}});
    fake.set_metadata(meta.clone());
    let client = fake.client_builder().build().unwrap();
    assert_eq!(client.metadata_json().await.unwrap(), meta);
    assert_eq!(client.metadata().await.unwrap().raw(), &meta);
    let log = fake.requests();
    assert_eq!(log[0].path, format!("/v1/applications/{}", fake.app_id()));
    assert!(log[0].header("x-knack-rest-api-key").is_none());
    fake.set_metadata(json!({"not": "metadata"}));
    assert!(client.metadata().await.is_err());
}

#[tokio::test]
async fn raw_pages_keep_each_record_byte_for_byte() {
    let server = MockServer::start().await;
    // Spacing, key order, an escaped slash, a \u escape and a float spelled 1.0: a parse and a
    // re-serialization would change every one of them.
    let first = r#"{"id":"5d79644","field_2":"<a>x<\/a>","field_3":"caf\u00e9","field_3_raw":1.0}"#;
    let second = r#"{ "field_1" : [ 1, 2 ], "id" : "5d79645" }"#;
    let body = format!(
        r#"{{"total_pages":"1","current_page":1,"total_records":2,"records":[{first},  {second}]}}"#
    );
    get("/v1/objects/object_1/records")
        .and(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_string(body.clone()))
        .mount(&server)
        .await;
    catch_all(&server).await;
    let client = wiremock_client(&server, "5f0000000000000000000102")
        .api_key("k")
        .build()
        .unwrap();
    let object = Container::object("object_1").unwrap();
    let pages: Vec<_> = client
        .raw_pages(&object, RecordsQuery::new())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].bytes, body.len());
    assert_eq!(pages[0].total_pages, 1);
    let texts: Vec<&str> = pages[0].records.iter().map(|r| r.raw().get()).collect();
    assert_eq!(texts, [first, second]);
    let ids: Vec<&str> = pages[0].records.iter().map(|r| r.id()).collect();
    assert_eq!(ids, ["5d79644", "5d79645"]);
}
