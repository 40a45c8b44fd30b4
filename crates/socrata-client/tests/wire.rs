//! Socrata's wire format against plain wiremock: builder validation, authentication headers and
//! secret redaction.

use std::time::Duration;

use serde_json::json;
use socrata_client::{Client, Error, RetryPolicy};
use wiremock::matchers::{header, header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod common;

use common::{catch_all, plain_client};

const SECRET: &str = "s3cr3t-key-secret-value";
const TOKEN: &str = "app-token-value-42";
const OAUTH: &str = "oauth-access-token-99";

fn fast() -> RetryPolicy {
    RetryPolicy {
        max_retries: 2,
        ..RetryPolicy::fast_for_tests()
    }
}

#[test]
fn builder_validates_settings() {
    let e = Client::builder().build().unwrap_err();
    assert!(
        matches!(e, Error::Config(_)) && e.to_string().contains("domain"),
        "{e}"
    );

    let e = Client::builder()
        .domain("not a url at all")
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("not a full URL"), "{e}");

    let e = Client::builder()
        .domain("http://data.example.gov")
        .api_key("id", SECRET)
        .build()
        .unwrap_err();
    assert!(
        e.to_string().contains("plain http") && e.to_string().contains("allow_insecure_http"),
        "{e}"
    );
    assert!(!e.to_string().contains(SECRET));
    // Opting in allows it (a proxy on a private network).
    Client::builder()
        .domain("http://data.example.gov")
        .allow_insecure_http(true)
        .api_key("id", SECRET)
        .build()
        .unwrap();
    // Plain http to any loopback address needs no opt-in.
    for local in [
        "http://127.0.0.2:8080",
        "http://[::1]:8080",
        "http://localhost",
    ] {
        Client::builder().domain(local).build().unwrap();
    }

    let e = Client::builder()
        .domain("https://x.gov")
        .batch_size(0)
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("batch_size"), "{e}");

    let e = Client::builder()
        .domain("https://x.gov")
        .retry_policy(RetryPolicy {
            min_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(1),
            ..fast()
        })
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("min_backoff"), "{e}");

    // A bare host is refused with the fix: a full https:// URL.
    let e = Client::builder()
        .domain("datahub.austintexas.gov/some/path")
        .build()
        .unwrap_err();
    assert!(
        e.to_string().contains("https://datahub.austintexas.gov"),
        "{e}"
    );
    // Any path of a full URL is dropped.
    let c = Client::builder()
        .domain("https://datahub.austintexas.gov/some/path")
        .build()
        .unwrap();
    assert_eq!(c.domain().as_str(), "https://datahub.austintexas.gov/");
}

#[test]
fn secrets_never_appear_in_debug() {
    let b = Client::builder()
        .domain("https://datahub.austintexas.gov")
        .api_key("key-id-123", SECRET)
        .app_token(TOKEN);
    let dbg_builder = format!("{b:?}");
    let c = b.build().unwrap();
    let dbg_client = format!("{c:?}");
    let o = Client::builder()
        .domain("https://x.gov")
        .oauth_token(OAUTH)
        .build()
        .unwrap();
    for s in [&dbg_builder, &dbg_client, &format!("{o:?}")] {
        assert!(
            !s.contains(SECRET)
                && !s.contains(TOKEN)
                && !s.contains(OAUTH)
                && !s.contains("key-id-123"),
            "{s}"
        );
        assert!(s.contains("redacted"), "{s}");
    }
}

#[tokio::test]
async fn basic_auth_and_app_token_headers_and_no_secret_in_errors() {
    let server = MockServer::start().await;
    // base64("key-id:s3cr3t-key-secret-value")
    use base64_check::encode;
    let expected = format!("Basic {}", encode(&format!("key-id:{SECRET}")));
    Mock::given(method("GET"))
        .and(path("/api/views/abcd-1234.json"))
        .and(header("authorization", expected.as_str()))
        .and(header("x-app-token", TOKEN))
        .respond_with(ResponseTemplate::new(403).set_body_json(
            json!({"message": "You must be logged in to access this resource", "error": true}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;
    let c = Client::builder()
        .domain(server.uri())
        .api_key("key-id", SECRET)
        .app_token(TOKEN)
        .retry_policy(fast())
        .build()
        .unwrap();
    let e = c.metadata("abcd-1234").await.unwrap_err();
    assert_eq!(e.status(), Some(403));
    assert!(!e.is_retryable());
    let shown = format!("{e} {e:?}");
    assert!(shown.contains("You must be logged in"), "{shown}");
    assert!(!shown.contains(SECRET) && !shown.contains(TOKEN), "{shown}");
    // The URL never carries the app token.
    for r in server.received_requests().await.unwrap() {
        assert!(!r.url.as_str().contains(TOKEN));
    }
}

#[tokio::test]
async fn oauth_uses_the_oauth_scheme_not_bearer() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/views/abcd-1234.json"))
        .and(header("authorization", format!("OAuth {OAUTH}").as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "abcd-1234", "name": "x", "columns": []})),
        )
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;
    let c = Client::builder()
        .domain(server.uri())
        .oauth_token(OAUTH)
        .build()
        .unwrap();
    let meta = c.metadata("abcd-1234").await.unwrap();
    assert_eq!(meta.id, "abcd-1234");
}

#[tokio::test]
async fn anonymous_reads_send_no_auth_headers() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(header_exists("authorization"))
        .respond_with(ResponseTemplate::new(418).set_body_string("UNEXPECTED: auth header sent"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/views/abcd-1234.json"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "abcd-1234", "columns": []})),
        )
        .mount(&server)
        .await;
    catch_all(&server).await;
    let c = plain_client(&server);
    c.metadata("abcd-1234").await.unwrap();
}

#[tokio::test]
async fn invalid_dataset_ids_never_reach_the_network() {
    let server = MockServer::start().await;
    catch_all(&server).await;
    let c = plain_client(&server);
    let e = c.metadata("../../etc").await.unwrap_err();
    assert!(matches!(e, Error::InvalidDatasetId(_)), "{e}");
    let e = c.upsert("abcd-12345", &[json!({})]).await.unwrap_err();
    assert!(matches!(e, Error::InvalidDatasetId(_)), "{e}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// A tiny independent base64 encoder, so the test does not trust the code under test.
mod base64_check {
    pub fn encode(s: &str) -> String {
        const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let b = s.as_bytes();
        let mut out = String::new();
        for chunk in b.chunks(3) {
            let n = (chunk[0] as u32) << 16
                | (*chunk.get(1).unwrap_or(&0) as u32) << 8
                | *chunk.get(2).unwrap_or(&0) as u32;
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn rfc4648_vectors() {
        assert_eq!(encode("foobar"), "Zm9vYmFy");
        assert_eq!(encode("fooba"), "Zm9vYmE=");
        assert_eq!(encode("foob"), "Zm9vYg==");
    }
}
