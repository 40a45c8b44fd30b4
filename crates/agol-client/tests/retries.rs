//! The retry tests every client has (issue #12), on the fake ArcGIS Online: rate limits with and
//! without `Retry-After`, 5xx bursts, writes that must not be repeated, broken
//! connections named by their cause, and the base URL rule. The stalled answer is in `testkit.rs`
//! (`a_stalled_answer_is_retried_for_queries_and_unknown_for_adds`).
#![cfg(feature = "testkit")]

use std::time::{Duration, Instant};

use agol_client::testkit::{
    arcgis_error, http_error, refused_uri, DroppingServer, FakeAgol, Fault, PASSWORD, USERNAME,
};
use agol_client::{Client, Error, Feature, Layer, Query, RetryPolicy};
use serde_json::json;

async fn open(fake: &FakeAgol, policy: RetryPolicy) -> Layer {
    let client = fake.client_builder().retry_policy(policy).build().unwrap();
    client.layer(&fake.layer_url(0)).await.unwrap()
}

fn feature(id: &str) -> Feature {
    let mut attributes = serde_json::Map::new();
    attributes.insert("id".into(), json!(id));
    Feature::new(attributes)
}

#[tokio::test(flavor = "current_thread")]
async fn a_429_with_retry_after_waits_the_capped_time() {
    let fake = FakeAgol::start().await;
    // A proxy asking for two minutes is not obeyed blindly: the wait is capped.
    let policy = RetryPolicy {
        max_server_wait: Duration::from_millis(300),
        ..RetryPolicy::fast_for_tests()
    };
    let layer = open(&fake, policy).await;
    fake.inject(http_error(429).header("Retry-After", 120).on_path("/query"));
    let started = Instant::now();
    assert_eq!(layer.count(&Query::new()).await.unwrap(), 0);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    assert_eq!(fake.requests_for("query").len(), 2);
}

#[tokio::test(flavor = "current_thread")]
async fn a_429_without_a_header_is_retried_as_http_status_or_inside_a_200() {
    let fake = FakeAgol::start().await;
    let layer = open(&fake, RetryPolicy::fast_for_tests()).await;
    fake.inject(http_error(429).times(2).on_path("/query"));
    fake.inject(arcgis_error(429, "Too many requests.").on_path("/query"));
    assert_eq!(layer.count(&Query::new()).await.unwrap(), 0);
    let statuses: Vec<u16> = fake
        .requests_for("query")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [429, 429, 200, 200]);
}

#[tokio::test(flavor = "current_thread")]
async fn a_5xx_burst_longer_than_five_is_ridden_out_within_the_budget() {
    let fake = FakeAgol::start().await;
    let layer = open(&fake, RetryPolicy::fast_for_tests()).await;
    fake.inject(http_error(503).times(7).on_path("/query"));
    assert_eq!(layer.count(&Query::new()).await.unwrap(), 0);
    assert_eq!(fake.requests_for("query").len(), 8);
    // Past the budget it gives up with the service's status.
    fake.clear_requests();
    fake.inject(
        Fault::status(502)
            .body("<html>502 Bad Gateway</html>")
            .times(20)
            .on_path("/query"),
    );
    let err = layer.count(&Query::new()).await.unwrap_err();
    assert!(matches!(err, Error::Api { status: 502, .. }), "{err:?}");
    assert_eq!(
        fake.requests_for("query").len(),
        11,
        "one attempt and 10 retries"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn an_add_is_not_repeated_after_a_5xx_but_is_after_a_429() {
    let fake = FakeAgol::start().await;
    let layer = open(&fake, RetryPolicy::fast_for_tests()).await;
    fake.inject(http_error(502).on_path("/addFeatures"));
    let err = layer.add_features(&[feature("a")], true).await.unwrap_err();
    assert!(matches!(err, Error::OutcomeUnknown { .. }), "{err}");
    assert_eq!(fake.requests_for("addFeatures").len(), 1, "never re-sent");
    // A 429 surely was not applied: retried, added once.
    fake.inject(http_error(429).on_path("/addFeatures"));
    layer.add_features(&[feature("b")], true).await.unwrap();
    assert_eq!(fake.requests_for("addFeatures").len(), 3);
    assert_eq!(fake.features(0).len(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn an_unreachable_portal_is_named_by_its_cause() {
    let client = Client::builder()
        .portal_url(refused_uri())
        .credentials(USERNAME, PASSWORD)
        .retry_policy(RetryPolicy {
            max_retries: 1,
            ..RetryPolicy::fast_for_tests()
        })
        .build()
        .unwrap();
    let err = client.layer_from_item("abc", agol_client::LayerSelector::LayerIndex(0));
    let err = err.await.unwrap_err();
    assert!(
        matches!(err, Error::Transport { not_sent: true, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("connection refused"), "{text}");
    assert!(
        !text.contains("error sending request") && !text.contains(PASSWORD),
        "{text}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_dropped_connection_is_retried_for_reads_and_named() {
    let server = DroppingServer::start().await;
    let client = Client::builder()
        .portal_url(server.uri())
        .retry_policy(RetryPolicy {
            max_retries: 2,
            ..RetryPolicy::fast_for_tests()
        })
        .build()
        .unwrap();
    let url = format!(
        "{}/org/arcgis/rest/services/s/FeatureServer/0",
        server.uri()
    );
    let err = client.layer(&url).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport {
                not_sent: false,
                ..
            }
        ) && err.is_retryable(),
        "{err:?}"
    );
    assert!(!err.to_string().contains("error sending request"), "{err}");
}

#[test]
fn the_portal_must_be_a_full_https_url() {
    let err = Client::builder()
        .portal_url("myorg.maps.arcgis.com")
        .build()
        .unwrap_err();
    assert!(
        matches!(err, Error::Config(_)) && err.to_string().contains("https://"),
        "{err}"
    );
    let err = Client::builder()
        .portal_url("http://arcgis.internal")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("allow_insecure_http"), "{err}");
    for ok in ["http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9"] {
        assert!(Client::builder().portal_url(ok).build().is_ok(), "{ok}");
    }
    assert!(Client::builder()
        .portal_url("http://arcgis.internal")
        .allow_insecure_http(true)
        .build()
        .is_ok());
}
