//! The fake answers as PostgREST does, case by case, each against PostgREST's own test suite
//! (github.com/PostgREST/postgrest at tag v12.0.2, a4e00ffdf64b70daca4856198f1820eac6252c1f),
//! over plain HTTP as any peer client (postgrest-py, supabase-js) sends it.
#![cfg(feature = "testkit")]

use pgrest_client::testkit::{ColumnType, FakePostgrest, TableSpec};
use pgrest_client::{Condition, Query};
use reqwest::Method;
use serde_json::{json, Value};

const JWT: &str = "test-jwt";

async fn items() -> FakePostgrest {
    let fake = FakePostgrest::builder()
        .jwt(JWT)
        .table(
            TableSpec::new("items")
                .primary_key(["id"])
                .column_type("id", ColumnType::BigInt)
                .column_type("lanes", ColumnType::Integer),
        )
        .start()
        .await;
    fake.seed("items", (1..=4).map(|i| json!({"id": i, "lanes": i % 3})));
    fake
}

async fn send(
    fake: &FakePostgrest,
    method: Method,
    path_and_query: &str,
    prefer: Option<&str>,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}/{path_and_query}", fake.uri()))
        .bearer_auth(JWT);
    if let Some(prefer) = prefer {
        req = req.header("Prefer", prefer);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    (status, headers, resp.text().await.unwrap())
}

/// EmbedInnerJoinSpec: `HEAD` with `Prefer: count=exact` is 200, `Content-Range: 0-3/4`, no
/// body (the fake answered 405).
#[tokio::test]
async fn head_with_a_count_answers_the_range_and_no_body() {
    let fake = items().await;
    let (status, headers, body) =
        send(&fake, Method::HEAD, "items", Some("count=exact"), None).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-range"], "0-3/4");
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert!(body.is_empty());
}

/// RangeSpec, "refuses a range requesting start past last item": 416 `PGRST103` naming the
/// offset and the count, `Content-Range: */15` (the fake answered 206 `*/1 []`).
#[tokio::test]
async fn an_offset_past_the_end_with_a_count_is_416() {
    let fake = items().await;
    let (status, headers, body) = send(
        &fake,
        Method::GET,
        "items?offset=100",
        Some("count=exact"),
        None,
    )
    .await;
    assert_eq!(status, 416);
    assert_eq!(headers["content-range"], "*/4");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        json!({"message": "Requested range not satisfiable", "code": "PGRST103",
               "details": "An offset of 100 was requested, but there are only 4 rows.",
               "hint": null})
    );
}

/// QuerySpec, "fails if an operator is not given": `id=0` is 400 `PGRST100` with the position
/// in the message and the parser's expectation in the details.
#[tokio::test]
async fn a_filter_without_an_operator_is_pgrst100_with_its_position() {
    let fake = items().await;
    let (status, _, body) = send(&fake, Method::GET, "items?id=0", None, None).await;
    assert_eq!(status, 400);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        json!({"code": "PGRST100",
               "details": "unexpected \"0\" expecting \"not\" or operator (eq, gt, ...)",
               "hint": null, "message": "\"failed to parse filter (0)\" (line 1, column 1)"})
    );
}

/// A typed column refuses what Postgres cannot read as its type: 400 with SQLSTATE 22P02 and
/// Postgres's message (the fake took `"not a number"` in any column).
#[tokio::test]
async fn a_value_its_column_type_cannot_read_is_22p02() {
    let fake = items().await;
    let row = json!([{"id": 9, "lanes": "not a number"}]);
    let (status, _, body) = send(&fake, Method::POST, "items", None, Some(row)).await;
    assert_eq!(status, 400);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "22P02");
    assert_eq!(
        body["message"],
        "invalid input syntax for type integer: \"not a number\""
    );
    // Text that reads as the type is taken, as Postgres casts it.
    let row = json!([{"id": "10", "lanes": "2"}]);
    let (status, _, _) = send(&fake, Method::POST, "items", None, Some(row)).await;
    assert_eq!(status, 201);
}

/// `not.` negates a filter, as the client's `Query::not` sends it.
#[tokio::test]
async fn not_negates_a_filter() {
    let fake = items().await;
    let client = fake.client_builder().build().unwrap();
    let rows: Vec<Value> = client
        .select(
            "items",
            &Query::new().not(Condition::eq("lanes", 1)).order_asc("id"),
        )
        .await
        .unwrap();
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [2, 3]);
}
