//! A fake Socrata portal on [wiremock], for this crate's tests and for its users' tests and
//! examples (feature `testkit`).
//!
//! It answers like SODA 2.1 does, from an in-memory store:
//!
//! | request | answer |
//! |---|---|
//! | `GET /api/views/{id}.json` | real-shaped metadata: `columns[]` with numeric `id`, `fieldName`, `dataTypeName`, `name`, and `rowIdentifierColumnId` |
//! | `GET /resource/{id}.json` | a bare JSON array; `$select` (plain field list), `$where` (`f = 'v'` / `f IN (…)` joined by `AND`), `$q`, `$order`, `$limit` (default 1000), `$offset`. Null fields are left out and numbers come back as strings, as SODA 2 does. **Without `$order` the rows come back in reverse insertion order**, so a client that forgets to order is caught. |
//! | `POST /resource/{id}.json` | upsert by row identifier (or `:id`); `":deleted": true` deletes; answers `{"Rows Created", "Rows Updated", "Rows Deleted", "Errors", "By RowIdentifier", "By SID"}`; deleting a missing row counts in `Errors` |
//! | `PUT /resource/{id}.json` | replace: every row dropped, the body loaded |
//! | a key that is not a column | 400 `{"code":"invalid_request","error":true,"message":"Illegal field name sent: <key>"}`, nothing applied |
//! | a write without credentials, when [`FakeSocrata::require_basic_auth`] is set | 403 `{"message":"You must be logged in to access this resource","error":true}` |
//! | wrong Basic credentials (on any request) | 401 `{"code":"authentication_failed","error":true,"message":"Invalid username or password"}` (shape assumed: Socrata does not document it) |
//! | an unknown dataset | 404 `{"code":"not_found","error":true,"message":"…"}` |
//! | any other path | 418 with a loud body, so an unexpected request fails the test |
//!
//! ```no_run
//! # async fn demo() -> Result<(), socrata_client::Error> {
//! use socrata_client::testkit::{FakeDataset, FakeSocrata, Fault};
//! use serde_json::json;
//!
//! let fake = FakeSocrata::start().await;
//! fake.add_dataset(
//!     FakeDataset::new("abcd-1234").column("id", "text").column("name", "text").row_identifier("id"),
//! );
//! fake.require_basic_auth("key-id", "key-secret");
//! fake.inject(Fault::status(503).times(1)); // the next request answers 503 once
//!
//! let client = fake.client_builder().api_key("key-id", "key-secret").build()?;
//! client.upsert("abcd-1234", &[json!({"id": "1", "name": "a"})]).await?;
//! assert_eq!(fake.rows("abcd-1234").len(), 1);
//! assert_eq!(fake.requests().len(), 2); // the 503 and the retry
//! # Ok(()) }
//! ```

mod handler;
mod index;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Map, Value};
use wiremock::{matchers::any, Mock, MockServer};

use crate::{ClientBuilder, RetryPolicy, Row};

/// A dataset held by the fake: its columns, row identifier and rows.
#[derive(Debug, Clone)]
pub struct FakeDataset {
    id: String,
    name: String,
    columns: Vec<(String, String, String)>,
    row_identifier: Option<String>,
    rights: Option<Vec<String>>,
    rows: Vec<Row>,
}

impl FakeDataset {
    /// An empty dataset with no columns.
    pub fn new(id: &str) -> Self {
        FakeDataset {
            id: id.into(),
            name: id.into(),
            columns: Vec::new(),
            row_identifier: None,
            rights: None,
            rows: Vec::new(),
        }
    }

    /// Builds a dataset from `/api/views` metadata in either shape this crate parses (Socrata's
    /// `rowIdentifierColumnId`, or the fixtures' `row_identifier` field name).
    pub fn from_metadata(json: &Value) -> Self {
        let meta = crate::DatasetMetadata::from_json(json.to_string().as_bytes())
            .expect("FakeDataset::from_metadata: the JSON is not dataset metadata");
        FakeDataset {
            id: meta.id.clone(),
            name: meta.name.clone(),
            columns: meta
                .columns
                .iter()
                .map(|c| {
                    (
                        c.field_name.clone(),
                        c.data_type.name().to_string(),
                        c.name.clone(),
                    )
                })
                .collect(),
            row_identifier: meta.row_identifier,
            rights: meta.rights,
            rows: Vec::new(),
        }
    }

    /// Adds a column (`dataTypeName` such as `text`, `number`, `checkbox`, `point`, `calendar_date`).
    pub fn column(mut self, field_name: &str, data_type: &str) -> Self {
        self.columns
            .push((field_name.into(), data_type.into(), field_name.into()));
        self
    }

    /// Sets the row identifier (must be one of the columns).
    pub fn row_identifier(mut self, field_name: &str) -> Self {
        self.row_identifier = Some(field_name.into());
        self
    }

    /// Answers `rights: ["read"]` in the metadata, as Socrata does for a user who may only read,
    /// and refuses writes with 403.
    pub fn read_only(mut self) -> Self {
        self.rights = Some(vec!["read".into()]);
        self
    }

    /// Seeds rows (stored as given; `:id` values are assigned).
    pub fn rows(mut self, rows: impl IntoIterator<Item = Value>) -> Self {
        self.rows.extend(rows.into_iter().filter_map(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        }));
        self
    }

    pub(crate) fn may_write(&self) -> bool {
        self.rights
            .as_ref()
            .map_or(true, |r| r.iter().any(|x| x == "write"))
    }

    /// Whether column `field`'s type takes `value` (null clears any column; unknown keys are
    /// checked elsewhere). Numbers may come as numeric text, as Socrata parses them.
    pub(crate) fn accepts(&self, field: &str, value: &Value) -> bool {
        let Some((_, data_type, _)) = self.columns.iter().find(|c| c.0 == field) else {
            return true;
        };
        match (data_type.as_str(), value) {
            (_, Value::Null) => true,
            ("number" | "money" | "double" | "percent", Value::Number(_)) => true,
            ("number" | "money" | "double" | "percent", Value::String(s)) => {
                s.trim().parse::<f64>().is_ok()
            }
            ("number" | "money" | "double" | "percent", _) => false,
            ("checkbox", v) => v.is_boolean(),
            ("calendar_date" | "floating_timestamp", Value::String(s)) => {
                s.len() >= 10 && chrono::NaiveDate::parse_from_str(&s[..10], "%Y-%m-%d").is_ok()
            }
            ("calendar_date" | "floating_timestamp", _) => false,
            _ => true,
        }
    }

    fn metadata_json(&self) -> Value {
        let cols: Vec<Value> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, (f, t, n))| {
                json!({"id": 1000 + i as i64, "fieldName": f, "dataTypeName": t, "name": n, "position": i + 1})
            })
            .collect();
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("name".into(), json!(self.name));
        if let Some(rid) = &self.row_identifier {
            if let Some(i) = self.columns.iter().position(|c| &c.0 == rid) {
                m.insert("rowIdentifierColumnId".into(), json!(1000 + i as i64));
            }
        }
        m.insert("columns".into(), Value::Array(cols));
        if let Some(rights) = &self.rights {
            m.insert("rights".into(), json!(rights));
        }
        Value::Object(m)
    }
}

/// A failure the fake answers instead of handling a request. Faults are used in the order they
/// were injected; each answers `times` matching requests, then is spent.
#[derive(Debug, Clone)]
pub struct Fault {
    status: u16,
    times: u32,
    method: Option<String>,
    retry_after: Option<u64>,
    body: Value,
    delay: Option<Duration>,
    after: u32,
}

impl Fault {
    /// Answer `status` (503, 429, 500, 202 …) with a Socrata-shaped error body, once.
    pub fn status(status: u16) -> Self {
        let body = match status {
            202 => json!({"message": "Request is processing", "error": false}),
            429 => {
                json!({"code": "too_many_requests", "error": true, "message": "Too many requests"})
            }
            _ => {
                json!({"code": "internal_error", "error": true, "message": format!("fake fault {status}")})
            }
        };
        Fault {
            status,
            times: 1,
            method: None,
            retry_after: None,
            body,
            delay: None,
            after: 0,
        }
    }

    /// Answer 200 `[]` only after `delay`, to make the client time out.
    pub fn delay(delay: Duration) -> Self {
        Fault {
            status: 200,
            times: 1,
            method: None,
            retry_after: None,
            body: json!([]),
            delay: Some(delay),
            after: 0,
        }
    }

    /// How many requests this fault answers (default 1).
    pub fn times(mut self, n: u32) -> Self {
        self.times = n;
        self
    }

    /// Lets the first `n` matching requests through before answering with the fault, to fail a
    /// run part-way (for example the third page of a read).
    pub fn after(mut self, n: u32) -> Self {
        self.after = n;
        self
    }

    /// Only requests with this method (`"GET"`, `"POST"`, `"PUT"`).
    pub fn on(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    /// Adds `Retry-After: <secs>` to the answer.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// Replaces the answer's JSON body.
    pub fn body(mut self, body: Value) -> Self {
        self.body = body;
        self
    }
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedRequest {
    /// `GET`, `POST`, `PUT` …
    pub method: String,
    /// The path, e.g. `/resource/abcd-1234.json`.
    pub path: String,
    /// The decoded query parameters, in order (`$order`, `$limit` …).
    pub query: Vec<(String, String)>,
    /// The body parsed as JSON (`Null` when empty or not JSON).
    pub body: Value,
    /// The `X-App-Token` header, if sent.
    pub app_token: Option<String>,
    /// The `Authorization` scheme sent (`Basic`, `OAuth` …), never the credential itself.
    pub auth_scheme: Option<String>,
    /// The status the fake answered.
    pub status: u16,
}

impl LoggedRequest {
    /// The first value of a query parameter, e.g. `param("$order")`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
pub(crate) struct State {
    datasets: HashMap<String, StoredDataset>,
    basic: Option<String>,
    require_auth: bool,
    faults: Vec<Fault>,
    log: Vec<LoggedRequest>,
    /// Off: requests are not logged (a benchmark's large loads).
    no_log: bool,
    next_sid: u64,
}

pub(crate) struct StoredDataset {
    spec: FakeDataset,
    /// Rows in insertion order, each with its `:id`.
    rows: Vec<Row>,
    /// Positions of `rows`, while no write moved them.
    index: Option<index::RowIndex>,
}

/// The fake portal. Dropping it stops the server.
pub struct FakeSocrata {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

impl FakeSocrata {
    /// Starts the fake on a random local port.
    pub async fn start() -> Self {
        // The fake keeps its own log (bodies parsed, switchable); wiremock's copy of every raw
        // request would only double the memory of a large load.
        let server = MockServer::builder()
            .disable_request_recording()
            .start()
            .await;
        let state = Arc::new(Mutex::new(State::default()));
        Mock::given(any())
            .respond_with(handler::Handler {
                state: state.clone(),
            })
            .mount(&server)
            .await;
        FakeSocrata { server, state }
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`, to pass to [`ClientBuilder::domain`].
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// A builder pointed at the fake, with a millisecond retry backoff so retry tests run fast.
    /// Add credentials with `.api_key(...)` as with a real portal.
    pub fn client_builder(&self) -> ClientBuilder {
        crate::Client::builder()
            .domain(self.uri())
            .retry(RetryPolicy {
                max_attempts: 4,
                min_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(5),
                jitter: false,
            })
    }

    /// Adds (or replaces) a dataset, with any rows it was seeded with.
    pub fn add_dataset(&self, dataset: FakeDataset) {
        let mut st = self.lock();
        let rows = dataset.rows.clone();
        st.datasets.insert(
            dataset.id.clone(),
            StoredDataset {
                spec: dataset.clone(),
                rows: Vec::new(),
                index: None,
            },
        );
        for row in rows {
            let sid = st.next_sid();
            let ds = st.datasets.get_mut(&dataset.id).expect("just inserted");
            ds.rows.push(handler::with_sid(row, sid));
        }
    }

    /// Makes writes require HTTP Basic with these credentials (403 without any, 401 if wrong).
    /// Reads stay public, but wrong credentials on a read still get 401, as on Socrata.
    pub fn require_basic_auth(&self, username: &str, password: &str) {
        use base64::Engine;
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        let mut st = self.lock();
        st.basic = Some(format!("Basic {token}"));
        st.require_auth = true;
    }

    /// Queues a fault (see [`Fault`]).
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    /// The dataset's stored rows in `:id` order, without system fields.
    ///
    /// # Panics
    /// If the dataset was never added.
    pub fn rows(&self, dataset: &str) -> Vec<Row> {
        let st = self.lock();
        let ds = st
            .datasets
            .get(dataset)
            .unwrap_or_else(|| panic!("fake Socrata has no dataset {dataset}"));
        ds.rows.iter().map(handler::without_system_fields).collect()
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.lock().log.clone()
    }

    /// Forgets the request log (datasets and faults stay).
    pub fn clear_requests(&self) {
        self.lock().log.clear();
    }

    /// Turns the request log on (the default) or off. Off, the fake's memory holds only its
    /// datasets, as a benchmark loading hundreds of thousands of rows needs.
    pub fn set_request_log(&self, on: bool) {
        let mut st = self.lock();
        st.no_log = !on;
        if !on {
            st.log = Vec::new();
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic inside a handler must not hide the test's own assertion behind a poison error.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    fn next_sid(&mut self) -> u64 {
        self.next_sid += 1;
        self.next_sid
    }
}
