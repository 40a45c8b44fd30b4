//! A fake Knack server for tests (cargo feature `testkit`), built on wiremock.
//!
//! It answers like Knack: application metadata, records of objects and views
//! with real paging (`rows_per_page`, `page`, `total_pages`,
//! `total_records`), each page computed from the records as they are when it is asked for,
//! `filters` on date_time fields (`is`, `is after`,
//! `is before`) and plain values, `sort_field` / `sort_order` (and a view's own sort, see
//! [`FakeKnack::sort_by`]), one record by id (404 when it is not there),
//! auth headers (401 on a wrong key or token),
//! Knack's rolling-window rate limit (429 "Rate limit exceeded" once more than
//! 10 requests arrive within any one second), creates, updates and deletes (a written
//! `field_N` is stored as `field_N` and `field_N_raw`, as Knack answers both).
//! Tests add latency, inject faults, change the records between two pages of a read
//! ([`FakeKnack::before_page`]), and read the request log.
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

mod build;
mod edit;
mod filters;
mod server;
mod store;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use knack_services_core::lock;
use knack_services_core::testkit::Frame;
use serde_json::Value;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer};

use crate::{Client, ClientBuilder, Container, Record, RetryPolicy, SortOrder};
use server::Handler;
use store::{PageHook, Sort, State, Stored};

pub use build::{AppMetadata, ObjectSpec, RecordBuilder};
pub use edit::RecordsEdit;
pub use knack_services_core::testkit::{
    max_in_window, refused_uri, CapturedLogs, Chaos, ChaosKind, DroppingServer, Fault,
    RecordedRequest,
};

/// The app id a [`FakeKnack`] serves unless told otherwise.
pub const APP_ID: &str = "5f0000000000000000000001";
/// The API key a [`FakeKnack`] accepts unless told otherwise.
pub const API_KEY: &str = "fake-knack-api-key";

/// A running fake Knack API. Dropping it stops the server.
pub struct FakeKnack {
    server: MockServer,
    state: Arc<Mutex<State>>,
    frame: Arc<Frame>,
}

impl std::fmt::Debug for FakeKnack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeKnack")
            .field("uri", &self.server.uri())
            .finish_non_exhaustive()
    }
}

impl FakeKnack {
    /// Starts a fake for [`APP_ID`] accepting [`API_KEY`], with no
    /// latency, the rate limit on, and empty metadata.
    pub async fn start() -> Self {
        Self::start_for(APP_ID, API_KEY).await
    }

    /// Starts a fake for a given app id and API key.
    pub async fn start_for(app_id: &str, api_key: &str) -> Self {
        let state = Arc::new(Mutex::new(State::new(app_id, api_key)));
        let frame = Arc::new(Frame::new(&["x-knack-rest-api-key", "authorization"]));
        // The fake keeps its own request log; wiremock's copy of every request is not needed.
        let server = MockServer::builder()
            .disable_request_recording()
            .start()
            .await;
        Mock::given(any())
            .respond_with(Handler {
                state: state.clone(),
                frame: frame.clone(),
            })
            .mount(&server)
            .await;
        Self {
            server,
            state,
            frame,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// The fake's address, to give [`ClientBuilder::base_url`]: Knack's API root on it (ends
    /// in `/v1`), where the other fakes' `uri()` is their server's root.
    pub fn uri(&self) -> String {
        format!("{}/v1", self.root())
    }

    /// The server's root: the chaos proxy's once chaos is on, else wiremock's.
    fn root(&self) -> String {
        self.frame.proxy_uri().unwrap_or_else(|| self.server.uri())
    }

    /// Turns on seeded random faults ([`Chaos`]: 500, 502, 503, 429, a connection dropped before
    /// the request is read, the answer lost after applying) for every later request, and routes
    /// [`Self::uri`] through the proxy that drops connections: build clients after this call.
    pub fn set_chaos(&self, chaos: Chaos) {
        self.frame.set_chaos(chaos, &self.server.uri());
    }

    /// Stops the random faults (clients built meanwhile keep working).
    pub fn clear_chaos(&self) {
        self.frame.clear_chaos();
    }

    /// How many faults of each kind chaos injected so far.
    pub fn chaos_injected(&self) -> Vec<(ChaosKind, usize)> {
        self.frame.chaos_injected()
    }

    /// The app id served.
    pub fn app_id(&self) -> String {
        self.state().app_id.clone()
    }

    /// The API key accepted.
    pub fn api_key(&self) -> String {
        self.state().api_key.clone()
    }

    /// A builder pointed at this fake with its app id and key, and
    /// [`RetryPolicy::fast_for_tests`] (1–20 ms backoff, server waits capped
    /// at 50 ms) so tests do not wait long. Override anything before `build()`.
    pub fn client_builder(&self) -> ClientBuilder {
        Client::builder()
            .app_id(self.app_id())
            .api_key(self.api_key())
            .base_url(self.uri())
            .retry_policy(RetryPolicy::fast_for_tests())
    }

    /// Serves this JSON for `GET /v1/applications/{app_id}`.
    pub fn set_metadata(&self, metadata: Value) {
        self.state().metadata = Some(metadata);
    }

    /// Replaces the records of a container. Each must be a JSON object;
    /// one without `id` gets a generated one.
    pub fn set_records(&self, container: &Container, records: Vec<Value>) {
        self.set_records_from(container, records);
    }

    /// [`FakeKnack::set_records`] from an iterator. The fake keeps each record as its JSON
    /// text, so a million full-size records take a few gigabytes; an iterator that builds them
    /// one at a time keeps the caller from holding them all as values at once.
    pub fn set_records_from(
        &self,
        container: &Container,
        records: impl IntoIterator<Item = Value>,
    ) {
        let mut st = self.state();
        let records = records
            .into_iter()
            .map(|r| Stored::new(&st.with_id(r)))
            .collect();
        *st.records_mut(&container.records_path()) = records;
    }

    /// The records a container holds now (after the client's writes).
    pub fn records(&self, container: &Container) -> Vec<Record> {
        self.state()
            .records
            .get(&container.records_path())
            .map(|rs| {
                rs.iter()
                    .filter_map(|r| match r.value() {
                        Value::Object(map) => Some(Record::new(map)),
                        _ => None,
                    })
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

    /// Orders `container`'s reads by `field_key` when a request names no `sort_field`, as a view
    /// configured in the Builder to sort by a field does (a view sorted by its modified date,
    /// descending, moves every edited record to the front). Equal values keep the stored order.
    pub fn sort_by(&self, container: &Container, field_key: &str, order: SortOrder) {
        self.state().sorts.insert(
            container.records_path(),
            Sort {
                field: field_key.to_string(),
                descending: order == SortOrder::Desc,
            },
        );
    }

    /// Runs `hook` on `container`'s records once, just before the fake computes its answer to
    /// a request for page `page` of the container (any filter or sort): as if a person deleted,
    /// created or edited records while a read was under way. Pages answered earlier saw the
    /// records before, every page answered after sees them changed. Hooks set for one page run
    /// one a request, in the order they were set (one for each read of the container).
    pub fn before_page(
        &self,
        container: &Container,
        page: u32,
        hook: impl FnOnce(&mut RecordsEdit<'_>) + Send + 'static,
    ) {
        self.state().hooks.push(PageHook {
            container: container.records_path(),
            page: u64::from(page),
            run: Box::new(hook),
        });
    }

    /// Changes `container`'s records now (see [`RecordsEdit`]).
    pub fn edit<R>(
        &self,
        container: &Container,
        change: impl FnOnce(&mut RecordsEdit<'_>) -> R,
    ) -> R {
        let mut st = self.state();
        let mut edit = RecordsEdit {
            state: &mut st,
            path: container.records_path(),
        };
        change(&mut edit)
    }

    /// Accepts `token` in `Authorization` for view requests (user tokens).
    pub fn add_user_token(&self, token: &str) {
        self.state().user_tokens.push(token.to_string());
    }

    /// Delays every answer by `latency` (arrival is logged before the delay).
    pub fn set_latency(&self, latency: Duration) {
        self.frame.set_latency(latency);
    }

    /// Delays every answer by `cost` more for each item the request carries (rows, records or
    /// features sent; see `knack_services_core::testkit::items_sent`), on top of the latency.
    pub fn set_item_cost(&self, cost: Duration) {
        self.frame.set_item_cost(cost);
    }

    /// Sends the daily-quota headers (`X-PlanLimit-Limit`, `-Remaining`,
    /// `-Reset` a day ahead) on every answer, counting `remaining` down with
    /// each request; at zero every request is answered 429 as Knack does
    /// once an app's daily API limit is spent.
    pub fn set_plan_limit(&self, limit: u64, remaining: u64) {
        self.state().plan = Some((limit, remaining));
    }

    /// Turns the rolling-window rate limit on (`Some(10)`, the default) or off.
    pub fn set_rate_limit(&self, per_second: Option<usize>) {
        self.state().rate_limit = per_second;
    }

    /// Counts each request for the rate limit as if it arrived up to `max` later than it did
    /// (uniform, seeded by `seed`): Knack counts requests as they arrive, and network jitter
    /// moves arrivals closer together than the sends were.
    pub fn set_arrival_jitter(&self, max: Duration, seed: u64) {
        let mut st = self.state();
        st.arrival_jitter = max;
        st.jitter_state = seed;
    }

    /// Queues a fault: the next matching requests (see [`Fault::times`],
    /// [`Fault::on_method`], [`Fault::on_path`]; the path is matched with its
    /// `?query`, so `on_path("page=2")` works) get it instead of their
    /// normal answer. A fault without a body answers Knack's JSON error shape.
    pub fn inject(&self, fault: Fault) {
        self.frame.inject(fault);
    }

    /// Every request seen so far, in arrival order (secrets `[redacted]`).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.frame.requests()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        self.frame.clear_requests();
    }

    /// The most requests that arrived within any window of length `window`
    /// (for example one second): what Knack's limiter looks at.
    pub fn max_requests_in_window(&self, window: Duration) -> usize {
        self.frame.max_requests_in_window(window)
    }
}
