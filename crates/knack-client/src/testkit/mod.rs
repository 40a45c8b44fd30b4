//! A fake Knack server for tests (cargo feature `testkit`), built on wiremock.
//!
//! It answers like Knack: application metadata, records of objects and views
//! with real paging (`rows_per_page`, `page`, `total_pages`,
//! `total_records`), `filters` on date_time fields (`is`, `is after`,
//! `is before`) and plain values, auth headers (401 on a wrong key or token),
//! Knack's rolling-window rate limit (429 "Rate limit exceeded" once more than
//! 10 requests arrive within any one second), creates, updates and deletes.
//! Tests add latency, inject faults, and read the request log.
//!
//! ```no_run
//! # async fn run() -> knack_client::Result<()> {
//! use futures::TryStreamExt;
//! use knack_client::testkit::FakeKnack;
//! use knack_client::{Container, RecordsQuery};
//! use serde_json::json;
//!
//! let fake = FakeKnack::start().await;
//! fake.set_metadata(json!({"application": {"id": fake.app_id(), "objects": [], "scenes": []}}));
//! let object = Container::object("object_1")?;
//! fake.set_records(&object, vec![json!({"id": "5d7964422d7159001659b27a", "field_1": "a"})]);
//! let client = fake.client_builder().build()?;
//! let records: Vec<_> = client.records(&object, RecordsQuery::new()).try_collect().await?;
//! assert_eq!(records.len(), 1);
//! assert_eq!(fake.requests().len(), 1);
//! # Ok(())
//! # }
//! ```

mod filters;
mod server;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer};

use crate::{Client, ClientBuilder, Container, Record, RetryPolicy};
use server::{Handler, State};

/// The app id a [`FakeKnack`] serves unless told otherwise.
pub const FAKE_APP_ID: &str = "5f0000000000000000000001";
/// The API key a [`FakeKnack`] accepts unless told otherwise.
pub const FAKE_API_KEY: &str = "fake-knack-api-key";

/// One request the fake server saw. Secrets are replaced by `[redacted]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// HTTP method.
    pub method: String,
    /// Path, such as `/v1/objects/object_1/records`.
    pub path: String,
    /// Decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// Request headers, lower-case names; `x-knack-rest-api-key` and
    /// `authorization` values are `[redacted]` (their presence still shows).
    pub headers: Vec<(String, String)>,
    /// When the request arrived.
    pub at: Instant,
    /// The status the fake answered.
    pub status: u16,
}

impl LoggedRequest {
    /// The value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A fault to answer instead of the normal response.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// The status, such as 500, 502 or 429.
    pub status: u16,
    /// The body (Knack-like JSON error by default).
    pub body: Value,
    /// Extra delay before answering (to provoke client timeouts).
    pub delay: Duration,
}

impl Fault {
    /// A fault answering `status` with `{"errors":[{"message":..}]}`.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            body: serde_json::json!({"errors": [{"message": format!("injected fault {status}")}]}),
            delay: Duration::ZERO,
        }
    }

    /// A slow answer: a 200-looking delay that outlasts the client's timeout.
    /// The request is still applied (a slow create still creates), as on Knack.
    pub fn slow(delay: Duration) -> Self {
        Self {
            status: 0,
            body: Value::Null,
            delay,
        }
    }
}

/// A running fake Knack API. Dropping it stops the server.
pub struct FakeKnack {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for FakeKnack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeKnack")
            .field("uri", &self.server.uri())
            .finish_non_exhaustive()
    }
}

impl FakeKnack {
    /// Starts a fake for [`FAKE_APP_ID`] accepting [`FAKE_API_KEY`], with no
    /// latency, the rate limit on, and empty metadata.
    pub async fn start() -> Self {
        Self::start_for(FAKE_APP_ID, FAKE_API_KEY).await
    }

    /// Starts a fake for a given app id and API key.
    pub async fn start_for(app_id: &str, api_key: &str) -> Self {
        let state = Arc::new(Mutex::new(State::new(app_id, api_key)));
        // The fake keeps its own request log; wiremock's copy of every request is not needed.
        let server = MockServer::builder()
            .disable_request_recording()
            .start()
            .await;
        Mock::given(any())
            .respond_with(Handler {
                state: state.clone(),
            })
            .mount(&server)
            .await;
        Self { server, state }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The API root to give [`ClientBuilder::base_url`] (ends in `/v1`).
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.server.uri())
    }

    /// The app id served.
    pub fn app_id(&self) -> String {
        self.state().app_id.clone()
    }

    /// The API key accepted.
    pub fn api_key(&self) -> String {
        self.state().api_key.clone()
    }

    /// A builder pointed at this fake with its app id and key, and a fast
    /// retry policy (1–20 ms backoff, 50 ms least wait after a 429) so tests
    /// do not wait long. Override anything before `build()`.
    pub fn client_builder(&self) -> ClientBuilder {
        Client::builder()
            .app_id(self.app_id())
            .api_key(self.api_key())
            .base_url(self.base_url())
            .retry_policy(RetryPolicy {
                max_attempts: 5,
                min_backoff: Duration::from_millis(1),
                max_backoff: Duration::from_millis(20),
                min_rate_limit_wait: Duration::from_millis(50),
            })
    }

    /// Serves this JSON for `GET /v1/applications/{app_id}`.
    pub fn set_metadata(&self, metadata: Value) {
        self.state().metadata = Some(metadata);
    }

    /// Replaces the records of a container. Each must be a JSON object;
    /// one without `id` gets a generated one.
    pub fn set_records(&self, container: &Container, records: Vec<Value>) {
        let mut st = self.state();
        let records = records.into_iter().map(|r| st.with_id(r)).collect();
        st.records.insert(container.records_path(), records);
    }

    /// The records a container holds now (after the client's writes).
    pub fn records(&self, container: &Container) -> Vec<Record> {
        self.state()
            .records
            .get(&container.records_path())
            .map(|rs| {
                rs.iter()
                    .filter_map(|r| r.as_object().cloned())
                    .map(Record::new)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Makes `total_records` (and so `total_pages`) claim `extra` records
    /// more than exist, as Knack sometimes does: the pages past the real
    /// records come back empty. This is knackpy issue #91.
    pub fn overstate_total_records(&self, container: &Container, extra: u64) {
        self.state()
            .overstated
            .insert(container.records_path(), extra);
    }

    /// Accepts `token` in `Authorization` for view requests (user tokens).
    pub fn add_user_token(&self, token: &str) {
        self.state().user_tokens.push(token.to_string());
    }

    /// Delays every answer by `latency` (arrival is logged before the delay).
    pub fn set_latency(&self, latency: Duration) {
        self.state().latency = latency;
    }

    /// Turns the rolling-window rate limit on (`Some(10)`, the default) or off.
    pub fn set_rate_limit(&self, per_second: Option<usize>) {
        self.state().rate_limit = per_second;
    }

    /// The next `n` requests answer `fault` instead of their normal response.
    pub fn fail_next(&self, n: usize, fault: Fault) {
        let mut st = self.state();
        st.faults.extend(std::iter::repeat(fault).take(n));
    }

    /// Every request seen so far, in arrival order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.state().log.clone()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        self.state().log.clear();
    }

    /// The most requests that arrived within any window of length `window`
    /// (for example one second): what Knack's limiter looks at.
    pub fn max_requests_in_window(&self, window: Duration) -> usize {
        max_in_window(
            &self.requests().iter().map(|r| r.at).collect::<Vec<_>>(),
            window,
        )
    }
}

/// The most instants (sorted or not) falling in any half-open window
/// `[t, t + window)`.
pub fn max_in_window(times: &[Instant], window: Duration) -> usize {
    let mut t: Vec<Instant> = times.to_vec();
    t.sort();
    let mut best = 0;
    let mut start = 0;
    for end in 0..t.len() {
        while t[end].duration_since(t[start]) >= window {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}
