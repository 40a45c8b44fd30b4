//! ArcGIS's wire format against hand-written wiremock answers (catch-all mounted last).

use std::time::Duration;

use agol_client::{Client, ClientBuilder, Error, Feature, Query, RetryPolicy};
use serde_json::json;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

const LAYER: &str = "/org/arcgis/rest/services/svc/FeatureServer/0";

async fn catch_all(server: &MockServer) {
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(418).set_body_string("UNEXPECTED REQUEST (catch-all)"))
        .with_priority(u8::MAX)
        .mount(server)
        .await;
}

fn fast_retry() -> RetryPolicy {
    // Server waits up to 3 s are obeyed, so the Retry-After test can tell the header's wait
    // from the 1–2 ms backoff.
    RetryPolicy {
        max_retries: 3,
        min_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(2),
        max_server_wait: Duration::from_secs(3),
        ..RetryPolicy::fast_for_tests()
    }
}

async fn mount_layer_info(server: &MockServer) {
    post(LAYER)
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": 0, "name": "signals", "type": "Feature Layer", "objectIdField": "OBJECTID",
            "maxRecordCount": 2, "supportsTruncate": false,
            "advancedQueryCapabilities": {"supportsPagination": true}, "fields": []
        })))
        .mount(server)
        .await;
}

/// A builder for a client of `server` that retries fast; tests add credentials as they need.
fn builder(server: &MockServer) -> ClientBuilder {
    Client::builder()
        .portal_url(server.uri())
        .retry_policy(fast_retry())
}

/// `LAYER` on `server`, as a full URL.
fn layer_url(server: &MockServer) -> String {
    format!("{}{LAYER}", server.uri())
}

/// A mock for `POST <path>`.
fn post(p: impl Into<String>) -> MockBuilder {
    Mock::given(method("POST")).and(path(p))
}

fn token_response(token: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"token": token, "expires": 4102444800000u64, "ssl": true}))
}

#[tokio::test]
async fn an_error_inside_http_200_is_an_error() {
    let server = MockServer::start().await;
    mount_layer_info(&server).await;
    post(format!("{LAYER}/query"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "error": {"code": 400, "message": "Invalid or missing input parameters.", "details": ["'where' parameter is invalid"]}
        })))
        .mount(&server)
        .await;
    catch_all(&server).await;
    let client = builder(&server).build().unwrap();
    let layer = client.layer(&layer_url(&server)).await.unwrap();
    let err = layer.count(&Query::new()).await.unwrap_err();
    match &err {
        Error::Api {
            status,
            code,
            message,
            details,
            ..
        } => {
            assert_eq!((*status, *code), (200, Some(400)));
            assert_eq!(message, "Invalid or missing input parameters.");
            assert_eq!(details, &["'where' parameter is invalid"]);
        }
        other => panic!("{other}"),
    }
    assert!(!err.is_retryable());
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        2,
        "a 400 is not retried"
    );
}

#[tokio::test]
async fn http_status_errors_are_checked_and_html_is_explained() {
    let server = MockServer::start().await;
    post(LAYER)
        .respond_with(ResponseTemplate::new(403).set_body_string("Forbidden"))
        .mount(&server)
        .await;
    post("/html/FeatureServer/0")
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>ArcGIS</html>"))
        .mount(&server)
        .await;
    catch_all(&server).await;
    let client = builder(&server).build().unwrap();
    let err = client.layer(&layer_url(&server)).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Api {
                status: 403,
                code: None,
                ..
            }
        ),
        "{err}"
    );
    let err = client
        .layer(&format!("{}/html/FeatureServer/0", server.uri()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Decode { .. }) && err.to_string().contains("HTML"),
        "{err}"
    );
}

#[tokio::test]
async fn generate_token_posts_the_form_and_a_498_in_200_renews_it_once() {
    let server = MockServer::start().await;
    post("/sharing/rest/generateToken")
        .and(body_string_contains("username=me"))
        .and(body_string_contains("client=referer"))
        .and(body_string_contains("f=json"))
        .respond_with(token_response("tok-1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    post("/sharing/rest/generateToken")
        .respond_with(token_response("tok-2"))
        .mount(&server)
        .await;
    mount_layer_info(&server).await;
    post(format!("{LAYER}/query"))
        .and(body_string_contains("token=tok-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"error": {"code": 498, "message": "Invalid token.", "details": []}}),
        ))
        .mount(&server)
        .await;
    post(format!("{LAYER}/query"))
        .and(body_string_contains("token=tok-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"count": 7})))
        .mount(&server)
        .await;
    catch_all(&server).await;
    let client = builder(&server)
        .credentials("me", "s3cret-pass")
        .build()
        .unwrap();
    let layer = client.layer(&layer_url(&server)).await.unwrap();
    assert_eq!(layer.count(&Query::new()).await.unwrap(), 7);
    let reqs = server.received_requests().await.unwrap();
    let paths: Vec<&str> = reqs.iter().map(|r| r.url.path()).collect();
    assert_eq!(
        paths,
        [
            "/sharing/rest/generateToken",
            LAYER,
            &format!("{LAYER}/query"),
            "/sharing/rest/generateToken",
            &format!("{LAYER}/query")
        ]
    );
    assert!(
        reqs.iter().all(|r| r.url.query().is_none()),
        "nothing secret (or otherwise) in URLs"
    );
}

#[tokio::test]
async fn a_preset_token_rejected_twice_is_not_looped() {
    let server = MockServer::start().await;
    post(LAYER)
        .respond_with(ResponseTemplate::new(498).set_body_json(
            json!({"error": {"code": 498, "message": "Invalid token.", "details": []}}),
        ))
        .mount(&server)
        .await;
    catch_all(&server).await;
    let client = builder(&server).token("preset-token-abc").build().unwrap();
    let err = client.layer(&layer_url(&server)).await.unwrap_err();
    assert!(
        matches!(err, Error::TokenRejected { code: 498, .. }),
        "{err}"
    );
    assert!(!err.to_string().contains("preset-token-abc"));
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn adds_are_resent_only_when_the_connection_was_refused() {
    // Nothing listens on this port: the request provably never left, so a retry is safe.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = dead.local_addr().unwrap();
    drop(dead);
    let server = MockServer::start().await;
    mount_layer_info(&server).await;
    post(format!("{LAYER}/addFeatures"))
        .respond_with(ResponseTemplate::new(502).set_body_string("Bad Gateway"))
        .mount(&server)
        .await;
    catch_all(&server).await;
    let client = builder(&server).build().unwrap();
    let layer = client.layer(&layer_url(&server)).await.unwrap();
    let err = layer
        .add_features(&[Feature::default()], true)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::OutcomeUnknown { .. }), "{err}");
    let adds = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path().ends_with("addFeatures"))
        .count();
    assert_eq!(adds, 1, "a 502 after sending is not proof: never re-sent");

    let refused = builder(&server).build().unwrap();
    let err = refused
        .layer(&format!("http://{addr}{LAYER}"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Transport { .. }) && err.is_retryable(),
        "{err}"
    );
}

#[tokio::test]
async fn per_feature_results_are_all_parsed() {
    let server = MockServer::start().await;
    mount_layer_info(&server).await;
    post(format!("{LAYER}/applyEdits"))
        .and(body_string_contains("rollbackOnFailure=false"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "addResults": [
                {"objectId": 10, "success": true},
                {"objectId": -1, "success": false, "error": {"code": 1000, "description": "No mapping exists from object type System.Numerics.BigInteger"}}
            ],
            "updateResults": [{"objectId": 3, "success": false, "error": {"code": 1019, "description": "Object is missing."}}],
            "deleteResults": [{"objectId": 4, "success": true}]
        })))
        .mount(&server)
        .await;
    catch_all(&server).await;
    let client = builder(&server).build().unwrap();
    let layer = client.layer(&layer_url(&server)).await.unwrap();
    let mut upd = Feature::default();
    upd.attributes.insert("OBJECTID".into(), json!(3));
    let edits = agol_client::Edits {
        adds: vec![Feature::default(), Feature::default()],
        updates: vec![upd],
        deletes: vec![4],
        rollback_on_failure: false,
    };
    let err = layer.apply_edits(&edits).await.unwrap_err();
    let Error::EditsFailed { failures, sent, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(*sent, 4);
    assert_eq!(failures.len(), 2);
    assert_eq!(
        (failures[0].index, failures[0].object_id),
        (1, None),
        "-1 means no id"
    );
    assert_eq!(failures[1].object_id, Some(3));
    let msg = err.to_string();
    assert!(
        msg.contains("BigInteger") && msg.contains("Object is missing"),
        "{msg}"
    );
}

#[tokio::test]
async fn builder_validates_its_settings() {
    for bad in [
        Client::builder().portal_url("not a url").build(),
        Client::builder().portal_url("ftp://x.example").build(),
        Client::builder()
            .portal_url("https://x.example/?token=abc")
            .build(),
        Client::builder().credentials("", "p").build(),
        Client::builder().token("  ").build(),
    ] {
        assert!(matches!(bad, Err(Error::Config(_))));
    }
    let c = Client::builder()
        .portal_url("https://myorg.maps.arcgis.com/")
        .build()
        .unwrap();
    assert_eq!(c.portal_url(), "https://myorg.maps.arcgis.com");
    assert!(matches!(c.item("../etc").await, Err(Error::Config(_))));
}

#[tokio::test]
async fn string_expiry_and_where_deletes_answering_success_true_are_accepted() {
    let server = MockServer::start().await;
    post("/sharing/rest/generateToken")
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"token": "tok-s", "expires": "4102444800000", "ssl": true})),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_layer_info(&server).await;
    post(format!("{LAYER}/deleteFeatures"))
        .and(body_string_contains("where=1%3D1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"success": true})))
        .mount(&server)
        .await;
    catch_all(&server).await;
    let client = builder(&server).credentials("me", "pw").build().unwrap();
    let layer = client.layer(&layer_url(&server)).await.unwrap();
    let res = layer.delete_where("1=1").await.unwrap();
    assert!(res.delete_results.is_empty());
    assert_eq!(
        layer.truncate().await.unwrap(),
        agol_client::TruncateOutcome::DeletedAll
    );
}

#[tokio::test]
async fn a_429_is_retried_no_sooner_than_its_retry_after() {
    let server = MockServer::start().await;
    mount_layer_info(&server).await;
    // ArcGIS documents no Retry-After, but a proxy in front of a service may send one; when it
    // does, the wait must be at least that long, whatever the backoff policy says.
    post(format!("{LAYER}/query"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_string("Too Many Requests"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    post(format!("{LAYER}/query"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"count": 7})))
        .with_priority(2)
        .mount(&server)
        .await;
    catch_all(&server).await;
    let client = builder(&server).build().unwrap();
    let layer = client.layer(&layer_url(&server)).await.unwrap();
    let started = std::time::Instant::now();
    assert_eq!(layer.count(&Query::new()).await.unwrap(), 7);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retried after {:?}, before the 1 s Retry-After (the policy alone waits 2 ms)",
        started.elapsed()
    );
    let queries = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path().ends_with("/query"))
        .count();
    assert_eq!(queries, 2);
}
