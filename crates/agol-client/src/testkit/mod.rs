//! A fake ArcGIS Online on wiremock, for this crate's tests and its users' (feature `testkit`).
//!
//! It serves one portal with one item ([`ITEM_ID`]) pointing at the feature service of the
//! shared fixture `agol_service.json`: layer 0 `signals` (points) and table 1 `signals_table`.
//! Tokens are checked on every call (498/499 inside HTTP 200, as ArcGIS does), queries page on
//! `resultOffset` with `exceededTransferLimit`, edits run against in-memory features, and
//! `rollbackOnFailure=true` (the default) makes an edit call all-or-nothing. An update with
//! `"geometry": null` removes the stored shape; one without a `geometry` key keeps it.
//!
//! The request log, fault injection, latency and broken connections are the shared frame of
//! `knack-services-core` (the same vocabulary as the other clients' fakes); [`http_error`] and
//! [`arcgis_error`] build the faults ArcGIS itself answers with.
//!
//! ```no_run
//! # async fn run() -> Result<(), agol_client::Error> {
//! use agol_client::testkit::{arcgis_error, http_error, FakeAgol};
//! let fake = FakeAgol::start().await;
//! let client = fake.client_builder().build()?;
//! fake.fail_when_attribute(0, "id", "bad".into());
//! fake.inject(http_error(503).on_path("/query"));
//! fake.inject(arcgis_error(500, "Unable to complete operation.").on_path("/query"));
//! let layer = client.layer(&fake.layer_url(0)).await?;
//! # let _ = layer; Ok(()) }
//! ```

mod server;
mod sql;
mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use knack_services_core::lock;
use knack_services_core::testkit::Frame;
use serde_json::{json, Value};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer};

use crate::client::ClientBuilder;
use crate::types::Feature;
use crate::RetryPolicy;
use server::{route, Responder};
use store::{ApplyThenFail, FakeLayer, FeatureStore, State};

pub use knack_services_core::testkit::{
    max_in_window, refused_uri, CapturedLogs, Chaos, ChaosKind, DroppingServer, Fault,
    RecordedRequest,
};

/// The item id the fake knows (the fixture's).
pub const ITEM_ID: &str = "e6eb94d1e7cc45c2ac452af6ae6aa534";
/// The user the fake accepts.
pub const USERNAME: &str = "agol-tester";
/// That user's password.
pub const PASSWORD: &str = "fake-agol-password-5b1d";
/// The fake organisation id in service URLs.
pub const ORG_ID: &str = "fakeOrg123";
/// The service name (from the fixture).
pub const SERVICE_NAME: &str = "acc_signals";
/// The object id field of every fake layer.
pub const OBJECT_ID_FIELD: &str = "OBJECTID";

const FIXTURE: &str = include_str!("agol_service.json");

/// HTTP `status` with an ArcGIS-style JSON error body (`{"error": {"code": status, ...}}`), as
/// ArcGIS Online sends for a 5xx or 429. Narrow it with `.on_path("/query")`, `.times(n)`.
pub fn http_error(status: u16) -> Fault {
    Fault::status(status).body(
        json!({"error": {"code": status, "message": "Injected fault", "details": []}}).to_string(),
    )
}

/// HTTP 200 with `{"error": {code, message, details: []}}`: ArcGIS's usual way to fail.
pub fn arcgis_error(code: i64, message: &str) -> Fault {
    Fault::status(200)
        .body(json!({"error": {"code": code, "message": message, "details": []}}).to_string())
}

/// A per-feature failure rule for edits.
#[derive(Debug, Clone, PartialEq)]
pub enum FeatureFailure {
    /// Fail any added/updated feature whose attribute `field` equals `value`.
    AttributeEquals {
        /// REST layer id the rule applies to.
        layer: u32,
        /// Attribute name.
        field: String,
        /// The value that fails.
        value: Value,
    },
    /// Fail the first feature of the Nth edit call (1-based, counting add/update/delete/applyEdits).
    NthEditCall(usize),
}

/// One request the fake received: the frame's log entry, with the operation the fake recognised
/// and the form fields. Derefs to [`RecordedRequest`] (method, path, query, status, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct AgolRequest {
    /// The frame's log entry.
    pub request: RecordedRequest,
    /// The operation the fake recognised (`query`, `addFeatures`, ... or `unknown`).
    pub operation: String,
    /// Form fields of the body (and of the query string), in order.
    pub params: Vec<(String, String)>,
}

impl AgolRequest {
    fn new(request: RecordedRequest) -> Self {
        let mut params = request.query.clone();
        params.extend(url::form_urlencoded::parse(&request.body).into_owned());
        AgolRequest {
            operation: route(&request.path).0,
            request,
            params,
        }
    }

    /// The value of a form field.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl std::ops::Deref for AgolRequest {
    type Target = RecordedRequest;
    fn deref(&self) -> &RecordedRequest {
        &self.request
    }
}

/// The fake server. Dropping it stops the server.
pub struct FakeAgol {
    server: MockServer,
    state: Arc<Mutex<State>>,
    frame: Arc<Frame>,
}

impl std::fmt::Debug for FakeAgol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeAgol")
            .field("uri", &self.server.uri())
            .finish_non_exhaustive()
    }
}

/// The layers and tables of a FeatureServer description (`{"layers": [...], "tables": [...]}`,
/// each with `id`, `name`, `geometryType`, `fields`), each given the object id field.
fn load_layers(fixture: &Value) -> Vec<FakeLayer> {
    let mut out = Vec::new();
    for (key, is_table) in [("layers", false), ("tables", true)] {
        for l in fixture[key].as_array().into_iter().flatten() {
            let mut fields = vec![
                json!({"name": OBJECT_ID_FIELD, "type": "esriFieldTypeOID", "alias": OBJECT_ID_FIELD}),
            ];
            fields.extend(l["fields"].as_array().cloned().unwrap_or_default());
            out.push(FakeLayer {
                id: l["id"].as_u64().unwrap_or(0) as u32,
                name: l["name"].as_str().unwrap_or_default().to_string(),
                is_table,
                geometry_type: l["geometryType"].as_str().map(str::to_string),
                fields,
                max_record_count: 2000,
                supports_truncate: true,
                features: FeatureStore::default(),
                next_oid: 1,
            });
        }
    }
    out
}

impl FakeAgol {
    /// Starts the fake with the fixture service, no features, and token checks on.
    pub async fn start() -> FakeAgol {
        let fixture: Value = serde_json::from_str(FIXTURE).expect("bundled fixture is JSON");
        Self::start_with_service(&fixture).await
    }

    /// Starts the fake serving your own feature service instead of the bundled one: its
    /// description as ArcGIS answers `GET .../FeatureServer?f=json` with each layer's fields
    /// (`{"layers": [{"id": 0, "name": "...", "geometryType": "esriGeometryPoint", "fields":
    /// [{"name": "...", "type": "esriFieldTypeString", "length": 50}, ...]}], "tables": [...]}`),
    /// so a copy of a real service's JSON works. Each layer gets the object id field
    /// [`OBJECT_ID_FIELD`]; edits are checked against the fields.
    ///
    /// ```no_run
    /// # async fn run() {
    /// use agol_client::testkit::FakeAgol;
    /// let fake = FakeAgol::start_with_service(&serde_json::json!({"layers": [{
    ///     "id": 0, "name": "bridges", "geometryType": "esriGeometryPoint",
    ///     "fields": [{"name": "bridge_id", "type": "esriFieldTypeString", "length": 20}],
    /// }]}))
    /// .await;
    /// # }
    /// ```
    pub async fn start_with_service(service: &Value) -> FakeAgol {
        // Its own log keeps what tests read; wiremock's copy of every body would only grow.
        let server = MockServer::builder()
            .disable_request_recording()
            .start()
            .await;
        let state = Arc::new(Mutex::new(State {
            layers: load_layers(service),
            tokens: HashMap::new(),
            tokens_issued: 0,
            token_ttl_ms: None,
            require_token: true,
            apply_then_fail: Vec::new(),
            deferred: Vec::new(),
            failures: Vec::new(),
            edit_calls: 0,
            no_log: false,
        }));
        // Passwords and tokens travel in form bodies, which the log keeps for the tests.
        let frame = Arc::new(Frame::new(&["x-esri-authorization"]));
        Mock::given(any())
            .respond_with(Responder {
                state: state.clone(),
                frame: frame.clone(),
                base: server.uri(),
            })
            .mount(&server)
            .await;
        FakeAgol {
            server,
            state,
            frame,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// The portal root (what [`ClientBuilder::portal_url`] takes).
    pub fn uri(&self) -> String {
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

    /// The feature service root.
    pub fn service_url(&self) -> String {
        format!(
            "{}/{ORG_ID}/arcgis/rest/services/{SERVICE_NAME}/FeatureServer",
            self.uri()
        )
    }

    /// A layer's URL by REST id.
    pub fn layer_url(&self, id: u32) -> String {
        format!("{}/{id}", self.service_url())
    }

    /// A builder pointed at the fake, signed in as [`USERNAME`], with
    /// [`RetryPolicy::fast_for_tests`] (1–20 ms backoff, server waits capped at 50 ms) and a 5 s
    /// timeout so retry tests run fast. Override anything before `build()`.
    pub fn client_builder(&self) -> ClientBuilder {
        crate::Client::builder()
            .portal_url(self.uri())
            .credentials(USERNAME, PASSWORD)
            .timeout(Duration::from_secs(5))
            .retry_policy(RetryPolicy::fast_for_tests())
    }

    /// Stores features in a layer (object ids are assigned as by adds); returns their ids.
    pub fn seed(&self, layer: u32, features: impl IntoIterator<Item = Feature>) -> Vec<i64> {
        let mut st = self.state();
        let l = st.layer_mut(layer).expect("no such fake layer");
        features.into_iter().map(|f| l.insert(f)).collect()
    }

    /// The features stored in a layer, by object id.
    pub fn features(&self, layer: u32) -> Vec<Feature> {
        let st = self.state();
        st.layers
            .iter()
            .find(|l| l.id == layer)
            .map(|l| l.features.values().collect())
            .unwrap_or_default()
    }

    /// Sets a layer's `maxRecordCount` (the page size the client will use).
    pub fn set_max_record_count(&self, layer: u32, n: u32) {
        if let Some(l) = self.state().layer_mut(layer) {
            l.max_record_count = n.max(1);
        }
    }

    /// Sets a layer's `supportsTruncate`.
    pub fn set_supports_truncate(&self, layer: u32, yes: bool) {
        if let Some(l) = self.state().layer_mut(layer) {
            l.supports_truncate = yes;
        }
    }

    /// Makes tokens expire this long after issue (default: the `expiration` the client asks).
    pub fn set_token_ttl(&self, ttl: Duration) {
        self.state().token_ttl_ms = Some(ttl.as_millis() as u64);
    }

    /// Turns token checks off (a public service).
    pub fn allow_anonymous(&self) {
        self.state().require_token = false;
    }

    /// Invalidates every token issued so far: the next call gets 498 inside HTTP 200.
    pub fn expire_tokens(&self) {
        self.state().tokens.clear();
    }

    /// How many tokens `generateToken` has issued.
    pub fn tokens_issued(&self) -> u64 {
        self.state().tokens_issued
    }

    /// Queues a fault (see [`http_error`], [`arcgis_error`], [`Fault::stall`]); the fake answers
    /// it instead of doing its work to the next matching requests.
    pub fn inject(&self, fault: Fault) {
        self.frame.inject(fault);
    }

    /// Like [`FakeAgol::inject`], but the first `skip` requests whose path contains `path_part`
    /// are answered normally: "the third `applyEdits` fails" is
    /// `inject_after("/applyEdits", 2, fault.on_path("/applyEdits"))`.
    pub fn inject_after(&self, path_part: &str, skip: usize, fault: Fault) {
        if skip == 0 {
            return self.frame.inject(fault);
        }
        self.state()
            .deferred
            .push((path_part.to_string(), skip, fault));
    }

    /// Makes the next `times` calls of `operation` (`addFeatures`, `applyEdits`, ...) do their
    /// work and then answer HTTP `status` with a gateway page: the answer is lost, the edit is
    /// applied.
    pub fn fail_after_applying(&self, operation: &str, status: u16, times: usize) {
        self.state().apply_then_fail.push(ApplyThenFail {
            operation: operation.to_string(),
            status,
            remaining: times,
        });
    }

    /// Delays every answer by `latency`.
    pub fn set_latency(&self, latency: Duration) {
        self.frame.set_latency(latency);
    }

    /// Delays every answer by `cost` more for each item the request carries (rows, records or
    /// features sent; see `knack_services_core::testkit::items_sent`), on top of the latency.
    pub fn set_item_cost(&self, cost: Duration) {
        self.frame.set_item_cost(cost);
    }

    /// The most requests to a path containing `part` (`"applyEdits"`, `"query"`) whose answers
    /// were pending at once: 1 for a client that waits for each answer before its next request,
    /// more for one with several in flight. Needs a latency (or item cost) to see any overlap.
    pub fn most_at_once(&self, part: &str) -> usize {
        self.frame.most_at_once(part)
    }

    /// Fails added/updated features of `layer` whose `field` equals `value` (code 1000).
    pub fn fail_when_attribute(&self, layer: u32, field: &str, value: Value) {
        self.state().failures.push(FeatureFailure::AttributeEquals {
            layer,
            field: field.to_string(),
            value,
        });
    }

    /// Adds a field to `layer`, or replaces the field of the same name: a JSON field definition
    /// as the layer JSON lists it (`{"name", "type", "length"?}`). Edits are checked against it.
    pub fn set_field(&self, layer: u32, field: Value) {
        let mut st = self.state();
        let Some(l) = st.layer_mut(layer) else {
            panic!("FakeAgol::set_field: no layer {layer}");
        };
        let name = field["name"].clone();
        match l.fields.iter_mut().find(|f| f["name"] == name) {
            Some(existing) => *existing = field,
            None => l.fields.push(field),
        }
    }

    /// Fails the first feature of the Nth edit call (1-based).
    pub fn fail_edit_call(&self, n: usize) {
        self.state().failures.push(FeatureFailure::NthEditCall(n));
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<AgolRequest> {
        self.frame
            .requests()
            .into_iter()
            .map(AgolRequest::new)
            .collect()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        self.frame.clear_requests();
    }

    /// Turns the request log on (the default) or off. Off, the fake's memory holds only its
    /// layers, as a benchmark sending hundreds of thousands of features needs.
    pub fn set_request_log(&self, on: bool) {
        self.state().no_log = !on;
        if !on {
            self.frame.clear_requests();
        }
    }

    /// The requests of one operation.
    pub fn requests_for(&self, operation: &str) -> Vec<AgolRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.operation == operation)
            .collect()
    }
}
