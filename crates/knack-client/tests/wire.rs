//! Knack's wire format against hand-written wiremock answers (catch-all mounted last): retries,
//! errors and writes as Knack answers them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use knack_client::{Client, ClientBuilder, Container, Error, RetryPolicy};
use serde_json::json;
use wiremock::matchers::{any, body_json, header, method, path};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

const APP: &str = "5f0000000000000000000201";
const KEY: &str = "super-secret-api-key-123";
const RECORDS: &str = "/v1/objects/object_1/records";

fn fast_retries() -> RetryPolicy {
    // Server waits up to 3 s are obeyed, so the X-RateLimit-Reset test can
    // tell the header's wait from the 1–5 ms backoff.
    RetryPolicy {
        max_retries: 2,
        min_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        max_server_wait: Duration::from_secs(3),
        ..RetryPolicy::fast_for_tests()
    }
}

fn builder(server: &MockServer) -> ClientBuilder {
    Client::builder()
        .app_id(APP)
        .api_key(KEY)
        .base_url(format!("{}/v1", server.uri()))
        .retry_policy(fast_retries())
}

/// A mock for `<verb> <path>`.
fn on(verb: &str, route: impl Into<String>) -> MockBuilder {
    Mock::given(method(verb)).and(path(route))
}

async fn catch_all(server: &MockServer) {
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(418).set_body_string("UNEXPECTED REQUEST: no mock for it"),
        )
        .mount(server)
        .await;
}

fn page() -> serde_json::Value {
    json!({"total_pages": 1, "current_page": 1, "total_records": 1, "records": [{"id": "5d7964422d7159001659b27a"}]})
}

async fn read_all(client: &Client) -> knack_client::Result<Vec<knack_client::Record>> {
    use futures::TryStreamExt;
    client
        .records(&Container::object("object_1").unwrap(), Default::default())
        .try_collect()
        .await
}

#[tokio::test]
async fn a_429_is_retried_after_x_ratelimit_reset() {
    let server = MockServer::start().await;
    // Reset two epoch seconds ahead: at least one full second from now.
    let reset = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2;
    on("GET", RECORDS)
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("X-RateLimit-Limit", "10")
                .insert_header("X-RateLimit-Remaining", "0")
                .insert_header("X-RateLimit-Reset", reset.to_string().as_str())
                .set_body_string("Rate limit exceeded"),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    on("GET", RECORDS)
        .respond_with(ResponseTemplate::new(200).set_body_json(page()))
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;
    let client = builder(&server).build().unwrap();
    let started = std::time::Instant::now();
    assert_eq!(read_all(&client).await.unwrap().len(), 1);
    // The policy's own floor is 10 ms; only the header can explain a wait of
    // a second or more (this asserts the wait happened, not a speed).
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the retry ignored X-RateLimit-Reset"
    );
}

#[tokio::test]
async fn a_5xx_is_retried_then_succeeds() {
    let server = MockServer::start().await;
    on("GET", RECORDS)
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>"))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    on("GET", RECORDS)
        .respond_with(ResponseTemplate::new(200).set_body_json(page()))
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;
    assert_eq!(
        read_all(&builder(&server).build().unwrap())
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn persistent_5xx_gives_up_after_max_retries() {
    let server = MockServer::start().await;
    on("GET", RECORDS)
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_json(json!({"errors": [{"message": "Service Unavailable"}]})),
        )
        .expect(3)
        .mount(&server)
        .await;
    catch_all(&server).await;
    let err = read_all(&builder(&server).build().unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert!(err.is_retryable());
    assert!(err.to_string().contains("Service Unavailable"), "{err}");
}

#[tokio::test]
async fn a_401_fails_at_once_with_an_actionable_message_and_no_secret() {
    let server = MockServer::start().await;
    on("GET", RECORDS)
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"errors": [{"message": "Invalid API key"}]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;
    let client = builder(&server).build().unwrap();
    let err = read_all(&client).await.unwrap_err();
    let shown = err.to_string();
    assert!(
        shown.contains(&format!("Knack answered 401 for app {APP}")),
        "{shown}"
    );
    assert!(
        shown.contains("Invalid API key") && shown.contains("ClientBuilder::api_key"),
        "{shown}"
    );
    assert!(!err.is_retryable());
    for text in [
        shown,
        format!("{err:?}"),
        format!("{client:?}"),
        format!("{:?}", builder(&server)),
    ] {
        assert!(!text.contains(KEY), "secret leaked: {text}");
    }
}

#[tokio::test]
async fn a_create_is_not_retried_after_a_timeout_unless_asked() {
    let server = MockServer::start().await;
    on("POST", RECORDS)
        .and(header("content-type", "application/json"))
        .and(header("X-Knack-REST-API-Key", KEY))
        .and(body_json(json!({"field_1": "x"})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "5d7964422d7159001659b27a", "field_1": "x"}))
                .set_delay(Duration::from_millis(800)),
        )
        .mount(&server)
        .await;
    catch_all(&server).await;
    let client = builder(&server)
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let object = Container::object("object_1").unwrap();
    let err = client
        .create(&object, &json!({"field_1": "x"}))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "a create must not be retried blindly"
    );
    // Opting in retries (and may duplicate: that is the caller's choice).
    let err = client
        .create_retrying(&object, &json!({"field_1": "x"}))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }));
    assert_eq!(server.received_requests().await.unwrap().len(), 1 + 3);
}

#[tokio::test]
async fn a_create_is_retried_after_a_429() {
    let server = MockServer::start().await;
    on("POST", RECORDS)
        .respond_with(ResponseTemplate::new(429).set_body_string("Rate limit exceeded"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    on("POST", RECORDS)
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "5d7964422d7159001659b27a", "field_1": "x"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;
    let rec = builder(&server)
        .build()
        .unwrap()
        .create(
            &Container::object("object_1").unwrap(),
            &json!({"field_1": "x"}),
        )
        .await
        .unwrap();
    assert_eq!(rec.id(), "5d7964422d7159001659b27a");
}

#[tokio::test]
async fn update_and_delete_use_the_record_route() {
    let server = MockServer::start().await;
    let id = "5d7964422d7159001659b27a";
    on(
        "PUT",
        format!("/v1/pages/scene_1/views/view_2/records/{id}"),
    )
    .and(body_json(json!({"field_2": 5})))
    .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": id, "field_2": 5})))
    .expect(1)
    .mount(&server)
    .await;
    on("DELETE", format!("{RECORDS}/{id}"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"delete": true})))
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;
    let client = builder(&server).build().unwrap();
    let view = Container::view("scene_1", "view_2").unwrap();
    assert_eq!(
        client
            .update(&view, id, &json!({"field_2": 5}))
            .await
            .unwrap()
            .display_value("field_2"),
        Some(&json!(5))
    );
    client
        .delete(&Container::object("object_1").unwrap(), id)
        .await
        .unwrap();
    assert!(client
        .delete(&Container::object("object_1").unwrap(), "../x")
        .await
        .is_err());
}

#[tokio::test]
async fn a_404_on_a_retried_delete_counts_as_deleted() {
    let server = MockServer::start().await;
    let id = "5d7964422d7159001659b27a";
    let route = format!("{RECORDS}/{id}");
    on("DELETE", route.as_str())
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    on("DELETE", route.as_str())
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"errors": [{"message": "Record not found"}]})),
        )
        .mount(&server)
        .await;
    catch_all(&server).await;
    let client = builder(&server).build().unwrap();
    let object = Container::object("object_1").unwrap();
    client.delete(&object, id).await.unwrap();
    // Without a retry before it, a 404 is a real error.
    let err = client.delete(&object, id).await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(err.to_string().contains("record id"), "{err}");
}
