//! PostgREST's wire format against hand-written wiremock answers (catch-all mounted last).

use std::time::Duration;

use pgrest_client::{Client, Error, IsValue, Query, RetryPolicy, Upsert};
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoibXlfYXBpX3VzZXIifQ.c2VjcmV0LXNpZ25hdHVyZQ";

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        ..RetryPolicy::fast_for_tests()
    }
}

fn client(server: &MockServer) -> Client {
    Client::builder()
        .base_url(server.uri())
        .jwt(JWT)
        .schema("api")
        .retry_policy(fast_retry())
        .build()
        .unwrap()
}

/// Mounted last: any request no other mock expected fails loudly.
async fn catch_all(server: &MockServer) {
    Mock::given(wiremock::matchers::any())
        .respond_with(
            ResponseTemplate::new(418).set_body_string("UNEXPECTED REQUEST: no mock matched"),
        )
        .with_priority(u8::MAX)
        .mount(server)
        .await;
}

/// A server that answers every `verb` request with `response`.
async fn answering(verb: &str, response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method(verb))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

fn pgrst(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"code": code, "details": null, "hint": null, "message": message}))
}

fn received_query(r: &Request) -> String {
    r.url.query().unwrap_or("").to_string()
}

#[tokio::test]
async fn select_sends_jwt_profile_and_an_injection_proof_query() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/knack"))
        .and(header("Authorization", format!("Bearer {JWT}").as_str()))
        .and(header("Accept-Profile", "api"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([{"id": 1, "record_id": "r1"}])),
        )
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;

    let q = Query::new()
        .select("id,record_id")
        .eq("app_id", "x&app_id=eq.other")
        .neq("record_id", "a,b(c)\"d'")
        .gte("updated_at", "2021-01-01T00:00:00+00:00")
        .like("container_id", "view_*")
        .in_("record_id", ["a,b", "c)d", "e\"f", "g\\h", "ü✓"])
        .is("record", IsValue::Null)
        .lt("id", 10)
        .order_desc("id")
        .limit(5)
        .offset(2);
    let rows: Vec<Value> = client(&server).select("knack", &q).await.unwrap();
    assert_eq!(rows, vec![json!({"id": 1, "record_id": "r1"})]);

    let got = received_query(&server.received_requests().await.unwrap()[0]);
    assert_eq!(
        got,
        "select=id%2Crecord_id\
         &app_id=eq.x%26app_id%3Deq.other\
         &record_id=neq.a%2Cb%28c%29%22d%27\
         &updated_at=gte.2021-01-01T00%3A00%3A00%2B00%3A00\
         &container_id=like.view_%2A\
         &record_id=in.(%22a%2Cb%22,%22c%29d%22,%22e%5C%22f%22,%22g%5C%5Ch%22,%22%C3%BC%E2%9C%93%22)\
         &record=is.null\
         &id=lt.10\
         &order=id.desc&limit=5&offset=2"
    );
    // Decoded the way PostgREST decodes it: exactly one app_id parameter, the hostile text intact.
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(got.as_bytes())
        .into_owned()
        .collect();
    let app_ids: Vec<_> = pairs.iter().filter(|(k, _)| k == "app_id").collect();
    assert_eq!(
        app_ids,
        vec![&("app_id".to_string(), "eq.x&app_id=eq.other".to_string())]
    );
    assert!(
        pairs.contains(&("updated_at".into(), "gte.2021-01-01T00:00:00+00:00".into())),
        "+ must stay a plus"
    );
}

#[tokio::test]
async fn chrono_timestamps_keep_their_offset_plus() {
    let t = chrono::DateTime::parse_from_rfc3339("2021-06-01T05:00:00+00:00").unwrap();
    assert_eq!(
        Query::new().gte("updated_at", t).to_query_string(),
        "updated_at=gte.2021-06-01T05%3A00%3A00%2B00%3A00"
    );
}

#[tokio::test]
async fn retries_503_with_retry_after_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            pgrst(
                503,
                "PGRST001",
                "Database client error. Retrying the connection.",
            )
            .insert_header("Retry-After", "0"),
        )
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 7}])))
        .mount(&server)
        .await;
    catch_all(&server).await;
    let rows: Vec<Value> = client(&server)
        .select("knack", &Query::new())
        .await
        .unwrap();
    assert_eq!(rows, vec![json!({"id": 7})]);
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn gives_up_after_max_retries_with_the_api_message() {
    let server = answering(
        "GET",
        pgrst(504, "PGRST003", "Timed out acquiring connection"),
    )
    .await;
    let err = client(&server)
        .select::<Value>("knack", &Query::new())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(504));
    assert!(err.is_retryable());
    assert!(
        err.to_string().contains("Timed out acquiring connection"),
        "{err}"
    );
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        4,
        "1 attempt + 3 retries"
    );
}

#[tokio::test]
async fn a_plain_insert_is_not_repeated_after_a_bad_gateway() {
    // A proxy's 502 may come after PostgREST applied the insert: repeating it could duplicate rows.
    let server = answering(
        "POST",
        ResponseTemplate::new(502).set_body_string("<html>502</html>"),
    )
    .await;
    let err = client(&server)
        .insert("knack", &[json!({"a": 1})])
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(502));
    assert!(
        err.is_retryable(),
        "retryable in itself, but not for an insert"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn connection_errors_are_retried_for_reads_only_then_reported() {
    // Nothing listens on this port once the listener is dropped.
    let uri = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let c = Client::builder()
        .base_url(&uri)
        .retry_policy(fast_retry())
        .build()
        .unwrap();
    let err = c.select::<Value>("knack", &Query::new()).await.unwrap_err();
    assert!(
        matches!(err, Error::Transport { not_sent: true, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
    let shown = err.to_string();
    assert!(
        shown.contains("connection refused") && shown.contains("could not reach PostgREST at"),
        "{shown}"
    );
    assert!(!shown.contains("error sending request"), "{shown}");
}

#[tokio::test]
async fn jwt_errors_are_distinguishable_and_not_retried() {
    let server = answering(
        "GET",
        pgrst(401, "PGRST301", "JWT expired").insert_header(
            "WWW-Authenticate",
            "Bearer error=\"invalid_token\", error_description=\"JWT expired\"",
        ),
    )
    .await;
    let err = client(&server)
        .select::<Value>("knack", &Query::new())
        .await
        .unwrap_err();
    assert!(err.is_jwt_error(), "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(err.error_body().unwrap().code.as_deref(), Some("PGRST301"));
    assert!(err.to_string().contains("JWT expired") && err.to_string().contains("Fix:"));
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

/// PostgREST 9 (no PGRST codes yet) on a malformed token, as its own test suite records it:
/// test/spec/Feature/AuthSpec.hs at tag v9.0.1 (github.com/PostgREST/postgrest,
/// 39e32466236489d1f5165343e36bb177a3c11224), "hides tables from users with invalid JWT".
#[tokio::test]
async fn a_postgrest_9_malformed_token_is_unauthorized() {
    let message = "JWSError (CompactDecodeError Invalid number of parts: Expected 3 parts; got 2)";
    let server = answering(
        "GET",
        ResponseTemplate::new(401)
            .set_body_json(json!({ "message": message }))
            .insert_header(
                "WWW-Authenticate",
                format!("Bearer error=\"invalid_token\", error_description=\"{message}\"").as_str(),
            ),
    )
    .await;
    let err = client(&server)
        .select::<Value>("knack", &Query::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
    assert!(err.is_jwt_error() && !err.is_retryable());
    assert!(err.to_string().contains("CompactDecodeError"), "{err}");
}

#[tokio::test]
async fn conflict_409_is_distinguishable_with_details() {
    let server = answering(
        "POST",
        ResponseTemplate::new(409).set_body_json(json!({
            "code": "23505", "details": "Key (app_id)=(a) already exists.", "hint": null,
            "message": "duplicate key value violates unique constraint \"knack_metadata_pkey\""})),
    )
    .await;
    let err = client(&server)
        .insert("knack_metadata", &[json!({"app_id": "a", "metadata": {}})])
        .await
        .unwrap_err();
    assert!(err.is_conflict());
    assert_eq!(
        err.error_body().unwrap().details.as_deref(),
        Some("Key (app_id)=(a) already exists.")
    );
}

#[tokio::test]
async fn permission_denied_and_other_4xx_fail_at_once() {
    let server = MockServer::start().await;
    Mock::given(path("/knack"))
        .respond_with(pgrst(401, "42501", "permission denied for table knack"))
        .mount(&server)
        .await;
    Mock::given(path("/nope"))
        .respond_with(pgrst(
            404,
            "PGRST205",
            "Could not find the table 'api.nope'",
        ))
        .mount(&server)
        .await;
    let c = client(&server);
    let err = c.select::<Value>("knack", &Query::new()).await.unwrap_err();
    assert!(
        matches!(err, Error::PermissionDenied { status: 401, .. }),
        "{err:?}"
    );
    let err = c.select::<Value>("nope", &Query::new()).await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(
        err.to_string().contains("PGRST205") && err.to_string().contains("/nope"),
        "{err}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn update_and_delete_refuse_without_a_filter_and_send_nothing() {
    let server = MockServer::start().await;
    catch_all(&server).await;
    let c = client(&server);
    let err = c.delete("knack", &Query::new()).await.unwrap_err();
    assert!(
        matches!(err, Error::Refused(_)) && err.to_string().contains("every row"),
        "{err}"
    );
    let err = c
        .update(
            "knack",
            &Query::new().order_asc("id"),
            &json!({"record": {}}),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Refused(_)), "{err}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn update_delete_and_rpc_wire_format() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path("/knack"))
        .and(header("Content-Profile", "api"))
        .and(header("Prefer", "return=minimal"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/knack"))
        .and(header("Prefer", "return=representation"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 3}])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/rpc/sum%20it"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!(5)))
        .mount(&server)
        .await;
    catch_all(&server).await;
    let c = client(&server);
    let f = Query::new()
        .eq("app_id", "a")
        .eq("container_id", "view_1")
        .lt("updated_at", "2024-01-01T00:00:00+00:00");
    c.update("knack", &f, &json!({"record": {"x": 1}}))
        .await
        .unwrap();
    let deleted: Vec<Value> = c
        .delete_returning("knack", &f.clone().select("id"))
        .await
        .unwrap();
    assert_eq!(deleted, vec![json!({"id": 3})]);
    let sum: i64 = c.rpc("sum it", &json!({"a": 2, "b": 3})).await.unwrap();
    assert_eq!(sum, 5);
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(
        received_query(&reqs[0]),
        "app_id=eq.a&container_id=eq.view_1&updated_at=lt.2024-01-01T00%3A00%3A00%2B00%3A00"
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&reqs[0].body).unwrap(),
        json!({"record": {"x": 1}})
    );
    assert_eq!(
        received_query(&reqs[1]),
        format!("select=id&{}", received_query(&reqs[0]))
    );
}

#[tokio::test]
async fn upsert_batches_with_merge_duplicates_and_bounded_concurrency() {
    let server = MockServer::start().await;
    let arrivals = std::sync::Arc::new(std::sync::Mutex::new(Vec::<std::time::Instant>::new()));
    let log = arrivals.clone();
    let delay = Duration::from_millis(400);
    Mock::given(method("POST"))
        .and(path("/knack"))
        .and(|r: &Request| {
            // wiremock's header() matcher splits on commas, so compare the raw Prefer value here.
            r.headers.get("prefer").and_then(|v| v.to_str().ok())
                == Some("resolution=merge-duplicates,return=minimal")
        })
        .respond_with(move |_: &Request| {
            log.lock().unwrap().push(std::time::Instant::now());
            ResponseTemplate::new(201).set_delay(delay)
        })
        .mount(&server)
        .await;
    catch_all(&server).await;
    let rows: Vec<Value> = (0..23)
        .map(|i| json!({"app_id": "a", "container_id": "c", "record_id": i, "record": {}}))
        .collect();
    let opts = Upsert::on_conflict(["app_id", "container_id", "record_id"])
        .batch_size(5)
        .concurrency(2);
    let summary = client(&server).upsert("knack", &rows, &opts).await.unwrap();
    assert_eq!(
        summary,
        pgrest_client::UpsertSummary {
            rows: 23,
            batches: 5
        }
    );
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 5);
    let mut sizes: Vec<usize> = reqs
        .iter()
        .map(|r| serde_json::from_slice::<Vec<Value>>(&r.body).unwrap().len())
        .collect();
    sizes.sort();
    assert_eq!(sizes, vec![3, 5, 5, 5, 5]);
    for r in &reqs {
        assert_eq!(
            received_query(r),
            "on_conflict=app_id,container_id,record_id"
        );
    }
    // At most 2 in flight: a third request can only start once one of the two before it was answered,
    // which takes at least `delay` (load can only widen these gaps).
    let t = arrivals.lock().unwrap().clone();
    for w in t.windows(3) {
        assert!(
            w[2] - w[0] >= delay - Duration::from_millis(20),
            "more than 2 requests in flight"
        );
    }
    // And the bound is used: the first two start together, not one after the other's answer.
    assert!(t[1] - t[0] < delay, "batches were sent one at a time");
}

#[tokio::test]
async fn upsert_is_retried_but_stops_at_a_permanent_failure() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(pgrst(503, "PGRST001", "down").insert_header("Retry-After", "0"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    let c = client(&server);
    c.upsert("knack", &[json!({"k": 1})], &Upsert::new())
        .await
        .unwrap();
    assert_eq!(server.received_requests().await.unwrap().len(), 2);

    let server = answering(
        "POST",
        pgrst(400, "23502", "null value in column \"record\""),
    )
    .await;
    let err = client(&server)
        .upsert("knack", &[json!({"k": 1})], &Upsert::new())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn secrets_never_appear_in_debug_or_errors() {
    let server = answering(
        "GET",
        pgrst(401, "PGRST301", "JWSError JWSInvalidSignature"),
    )
    .await;
    let builder = Client::builder()
        .base_url(server.uri())
        .jwt(JWT)
        .header("X-Trace", "1");
    assert!(!format!("{builder:?}").contains(JWT));
    let c = builder.retry_policy(fast_retry()).build().unwrap();
    assert!(!format!("{c:?}").contains(JWT));
    assert!(format!("{c:?}").contains("[redacted]"));
    let err = c.select::<Value>("knack", &Query::new()).await.unwrap_err();
    assert!(!err.to_string().contains(JWT) && !format!("{err:?}").contains(JWT));
    let dead = Client::builder()
        .base_url("http://127.0.0.1:9")
        .jwt(JWT)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let err = dead
        .select::<Value>("knack", &Query::new())
        .await
        .unwrap_err();
    assert!(!err.to_string().contains(JWT) && !format!("{err:?}").contains(JWT));
}

#[test]
fn builder_validates_with_clear_messages() {
    let err = Client::builder().build().unwrap_err();
    assert!(
        err.to_string().contains("ClientBuilder::base_url("),
        "{err}"
    );
    let err = Client::builder()
        .base_url("pgrest.example.org")
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("ClientBuilder::base_url") && err.to_string().contains("https://"),
        "{err}"
    );
    let err = Client::builder().base_url("ftp://x").build().unwrap_err();
    assert!(err.to_string().contains("ftp"), "{err}");
    let err = Client::builder()
        .base_url("http://pgrest.internal:3000")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("allow_insecure_http"), "{err}");
    let err = Client::builder()
        .base_url("http://127.0.0.1:3000")
        .jwt("  ")
        .build()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("JWT (ClientBuilder::jwt) is empty"),
        "{err}"
    );
    let err = Client::builder()
        .base_url("http://localhost")
        .header("Authorization", "Bearer t")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains(".jwt()"), "{err}");
    let err = Client::builder()
        .base_url("https://h.org")
        .timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("timeouts"), "{err}");
    let c = Client::builder()
        .base_url("http://x:3000/")
        .allow_insecure_http(true)
        .build()
        .unwrap();
    assert_eq!(c.base_url(), "http://x:3000");
    let c = Client::builder()
        .base_url("http://127.0.0.2:3000")
        .build()
        .unwrap();
    assert_eq!(c.base_url(), "http://127.0.0.2:3000");
}

#[test]
fn or_and_not_render_as_postgrest_logic() {
    use pgrest_client::Condition;
    // Values in a logic tree are double-quoted: `,` `.` `:` and parentheses are its syntax.
    let q = Query::new()
        .eq("app_id", "a")
        .or([
            Condition::eq("container_id", "view_1,x"),
            !Condition::in_("record_id", ["r1", "r2"]),
        ])
        .not(Condition::is("record", IsValue::Null));
    assert_eq!(
        q.to_query_string(),
        "app_id=eq.a&or=(container_id.eq.%22view_1%2Cx%22,record_id.not.in.(%22r1%22,%22r2%22))\
         &record=not.is.null"
    );
    assert!(Query::new().or([]).to_query_string().is_empty());
}
