//! A fake ArcGIS Online on wiremock, for this crate's tests and its users' (feature `testkit`).
//!
//! It serves one portal with one item ([`ITEM_ID`]) pointing at the feature service of the
//! shared fixture `agol_service.json`: layer 0 `signals` (points) and table 1 `signals_table`.
//! Tokens are checked on every call (498/499 inside HTTP 200, as ArcGIS does), queries page on
//! `resultOffset` with `exceededTransferLimit`, edits run against in-memory features, and
//! `rollbackOnFailure=true` (the default) makes an edit call all-or-nothing. An update with
//! `"geometry": null` removes the stored shape; one without a `geometry` key keeps it.
//!
//! ```no_run
//! # async fn run() -> Result<(), agol_client::Error> {
//! use agol_client::testkit::{FakeAgol, Fault};
//! let fake = FakeAgol::start().await;
//! let client = fake.client_builder().build()?;
//! fake.fail_when_attribute(0, "id", "bad".into());
//! fake.inject("query", Fault::Status(503), 1);
//! let layer = client.layer(&fake.layer_url(0)).await?;
//! # let _ = layer; Ok(()) }
//! ```

mod ops;
mod sql;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::client::{ClientBuilder, RetryPolicy};
use crate::types::Feature;

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

/// A failure the fake answers with instead of doing its work.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// This HTTP status with an ArcGIS-style error body.
    Status(u16),
    /// HTTP 200 with `{"error": {code, message, details: []}}`.
    BodyError {
        /// `error.code`.
        code: i64,
        /// `error.message`.
        message: String,
    },
    /// Answer normally, but only after this delay (to trigger client timeouts).
    Delay(Duration),
    /// Do the work (e.g. store the added features), then answer this HTTP status: the case where
    /// re-sending adds would duplicate them.
    ApplyThenStatus(u16),
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

/// One request the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// The URL path.
    pub path: String,
    /// The raw URL query string, if any (tokens must never appear here).
    pub query: Option<String>,
    /// Form fields of the body (and of the query string), in order.
    pub params: Vec<(String, String)>,
    /// The operation the fake recognised (`query`, `addFeatures`, ... or `unknown`).
    pub operation: String,
}

impl RecordedRequest {
    /// The value of a form field.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub(crate) struct FakeLayer {
    pub(crate) id: u32,
    pub(crate) name: String,
    pub(crate) is_table: bool,
    pub(crate) geometry_type: Option<String>,
    pub(crate) fields: Vec<Value>,
    pub(crate) max_record_count: u32,
    pub(crate) supports_truncate: bool,
    pub(crate) features: BTreeMap<i64, Feature>,
    pub(crate) next_oid: i64,
}

struct FaultRule {
    operation: String,
    fault: Fault,
    /// Matching calls still to answer normally before the fault starts.
    skip: usize,
    remaining: usize,
}

pub(crate) struct State {
    pub(crate) layers: Vec<FakeLayer>,
    pub(crate) tokens: HashMap<String, u64>,
    tokens_issued: u64,
    token_ttl_ms: Option<u64>,
    require_token: bool,
    faults: Vec<FaultRule>,
    pub(crate) failures: Vec<FeatureFailure>,
    pub(crate) edit_calls: usize,
    log: Vec<RecordedRequest>,
}

impl State {
    pub(crate) fn layer_mut(&mut self, id: u32) -> Option<&mut FakeLayer> {
        self.layers.iter_mut().find(|l| l.id == id)
    }
}

/// The fake server. Dropping it stops the server.
pub struct FakeAgol {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for FakeAgol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeAgol")
            .field("uri", &self.server.uri())
            .finish_non_exhaustive()
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn load_layers() -> Vec<FakeLayer> {
    let fixture: Value = serde_json::from_str(FIXTURE).expect("bundled fixture is JSON");
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
                features: BTreeMap::new(),
                next_oid: 1,
            });
        }
    }
    out
}

impl FakeAgol {
    /// Starts the fake with the fixture service, no features, and token checks on.
    pub async fn start() -> FakeAgol {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State {
            layers: load_layers(),
            tokens: HashMap::new(),
            tokens_issued: 0,
            token_ttl_ms: None,
            require_token: true,
            faults: Vec::new(),
            failures: Vec::new(),
            edit_calls: 0,
            log: Vec::new(),
        }));
        Mock::given(any())
            .respond_with(Responder {
                state: state.clone(),
                base: server.uri(),
            })
            .mount(&server)
            .await;
        FakeAgol { server, state }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The portal root (what [`ClientBuilder::portal_url`] takes).
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The feature service root.
    pub fn service_url(&self) -> String {
        format!(
            "{}/{ORG_ID}/arcgis/rest/services/{SERVICE_NAME}/FeatureServer",
            self.server.uri()
        )
    }

    /// A layer's URL by REST id.
    pub fn layer_url(&self, id: u32) -> String {
        format!("{}/{id}", self.service_url())
    }

    /// A builder pointed at the fake, signed in as [`USERNAME`], with near-zero backoff and a
    /// short timeout so retry tests run fast.
    pub fn client_builder(&self) -> ClientBuilder {
        crate::Client::builder()
            .portal_url(self.uri())
            .credentials(USERNAME, PASSWORD)
            .timeout(Duration::from_secs(5))
            .retry_policy(RetryPolicy {
                max_retries: 3,
                min_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(5),
            })
    }

    /// Stores features in a layer (object ids are assigned as by adds); returns their ids.
    pub fn seed(&self, layer: u32, features: impl IntoIterator<Item = Feature>) -> Vec<i64> {
        let mut st = self.state();
        let l = st.layer_mut(layer).expect("no such fake layer");
        features.into_iter().map(|f| ops::insert(l, f)).collect()
    }

    /// The features stored in a layer, by object id.
    pub fn features(&self, layer: u32) -> Vec<Feature> {
        let st = self.state();
        st.layers
            .iter()
            .find(|l| l.id == layer)
            .map(|l| l.features.values().cloned().collect())
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

    /// Answers the next `times` calls of `operation` (`generateToken`, `item`, `service`,
    /// `layer`, `query`, `addFeatures`, `updateFeatures`, `deleteFeatures`, `applyEdits`,
    /// `truncate`, or `*` for any) with `fault`.
    pub fn inject(&self, operation: &str, fault: Fault, times: usize) {
        self.inject_after(operation, 0, fault, times);
    }

    /// Like [`FakeAgol::inject`], but the first `skip` calls of `operation` are answered
    /// normally: "the third `applyEdits` fails".
    pub fn inject_after(&self, operation: &str, skip: usize, fault: Fault, times: usize) {
        self.state().faults.push(FaultRule {
            operation: operation.to_string(),
            fault,
            skip,
            remaining: times,
        });
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
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().log.clone()
    }

    /// The requests of one operation.
    pub fn requests_for(&self, operation: &str) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.operation == operation)
            .collect()
    }
}

struct Responder {
    state: Arc<Mutex<State>>,
    base: String,
}

fn error_body(code: i64, message: &str, details: &[&str]) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"error": {"code": code, "message": message, "details": details}}))
}

/// Splits a path into (operation, layer id).
fn route(path: &str) -> (String, Option<u32>) {
    let service = format!("/{ORG_ID}/arcgis/rest/services/{SERVICE_NAME}/FeatureServer");
    let admin = format!("/{ORG_ID}/arcgis/rest/admin/services/{SERVICE_NAME}/FeatureServer/");
    if path == "/sharing/rest/generateToken" {
        return ("generateToken".into(), None);
    }
    if path.starts_with("/sharing/rest/content/items/") {
        return ("item".into(), None);
    }
    if path == service {
        return ("service".into(), None);
    }
    if let Some(rest) = path.strip_prefix(&admin) {
        if let Some((id, "truncate")) = rest.split_once('/') {
            if let Ok(id) = id.parse() {
                return ("truncate".into(), Some(id));
            }
        }
    }
    if let Some(rest) = path.strip_prefix(&format!("{service}/")) {
        let (id, op) = rest.split_once('/').unwrap_or((rest, "layer"));
        if let Ok(id) = id.parse() {
            if matches!(
                op,
                "layer"
                    | "query"
                    | "addFeatures"
                    | "updateFeatures"
                    | "deleteFeatures"
                    | "applyEdits"
            ) {
                return (op.into(), Some(id));
            }
        }
    }
    ("unknown".into(), None)
}

impl Respond for Responder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut params: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
        params.extend(url::form_urlencoded::parse(&req.body).into_owned());
        let path = req.url.path().to_string();
        let (operation, layer) = route(&path);
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.log.push(RecordedRequest {
            method: req.method.to_string(),
            path: path.clone(),
            query: req.url.query().map(str::to_string),
            params: params.clone(),
            operation: operation.clone(),
        });
        if operation == "unknown" {
            return ResponseTemplate::new(418).set_body_string(format!(
                "FAKE AGOL: unexpected request {} {path}",
                req.method
            ));
        }
        let p = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        if p("f").as_deref() != Some("json") {
            return ResponseTemplate::new(200)
                .set_body_string("<html><body>ArcGIS REST (f=json missing)</body></html>");
        }
        let mut after = None;
        let rule = st
            .faults
            .iter_mut()
            .find(|r| r.remaining > 0 && (r.operation == operation || r.operation == "*"));
        let rule = match rule {
            Some(r) if r.skip > 0 => {
                r.skip -= 1;
                None
            }
            other => other,
        };
        if let Some(rule) = rule {
            rule.remaining -= 1;
            match rule.fault.clone() {
                Fault::Status(s) => {
                    return ResponseTemplate::new(s).set_body_json(
                        json!({"error": {"code": s, "message": "Injected fault", "details": []}}),
                    )
                }
                Fault::BodyError { code, message } => return error_body(code, &message, &[]),
                Fault::Delay(d) => after = Some(Err(d)),
                Fault::ApplyThenStatus(s) => after = Some(Ok(s)),
            }
        }
        if operation == "generateToken" {
            return self.generate_token(&mut st, &p);
        }
        if st.require_token {
            let token = p("token").or_else(|| {
                req.headers
                    .get("x-esri-authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .map(str::to_string)
            });
            match token {
                None => return error_body(499, "Token Required", &[]),
                Some(t) if st.tokens.get(&t).map_or(true, |exp| *exp <= now_ms()) => {
                    return error_body(498, "Invalid token.", &[])
                }
                Some(_) => {}
            }
        }
        let resp = ops::handle(&mut st, &self.base, &operation, layer, &p);
        match after {
            Some(Err(delay)) => resp.set_delay(delay),
            Some(Ok(status)) => ResponseTemplate::new(status)
                .set_body_string("<html>Gateway Time-out (injected, after applying)</html>"),
            None => resp,
        }
    }
}

impl Responder {
    fn generate_token(
        &self,
        st: &mut State,
        p: &dyn Fn(&str) -> Option<String>,
    ) -> ResponseTemplate {
        if p("username").as_deref() != Some(USERNAME) || p("password").as_deref() != Some(PASSWORD)
        {
            return error_body(
                400,
                "Unable to generate token.",
                &["Invalid username or password."],
            );
        }
        if p("client").as_deref() == Some("referer") && p("referer").is_none() {
            return error_body(
                400,
                "Unable to generate token.",
                &["'referer' must be specified."],
            );
        }
        let minutes: u64 = p("expiration").and_then(|m| m.parse().ok()).unwrap_or(60);
        let ttl = st.token_ttl_ms.unwrap_or(minutes * 60_000);
        st.tokens_issued += 1;
        let token = format!("fake-token-{}-{:x}", st.tokens_issued, now_ms());
        let expires = now_ms() + ttl;
        st.tokens.insert(token.clone(), expires);
        ResponseTemplate::new(200)
            .set_body_json(json!({"token": token, "expires": expires, "ssl": true}))
    }
}
