//! A fake Socrata portal on [wiremock], for this crate's tests and for its users' tests and
//! examples (feature `testkit`).
//!
//! It answers like SODA 2.1 does, from an in-memory store:
//!
//! | request | answer |
//! |---|---|
//! | `GET /api/views/{id}.json` | real-shaped metadata: `columns[]` with numeric `id`, `fieldName`, `dataTypeName`, `name`, and `rowIdentifierColumnId` |
//! | `GET /resource/{id}.json` | a bare JSON array; `$select` (plain field list), `$where` (SoQL comparisons `= != <> < <= > >=` with or without spaces, `IN`/`NOT IN`, `IS [NOT] NULL`, `AND`/`OR`/`NOT`, parentheses), simple filters (`?field=value`), `$q`, `$order`, `$limit` (default 1000), `$offset`; `$select=count(*)` answers `[{"count": "N"}]`. Null fields are left out and numbers come back as strings, as SODA 2 does; `X-SODA2-Fields` and `X-SODA2-Types` name the result's columns and types. **Without `$order` the rows come back in reverse insertion order**, so a client that forgets to order is caught. |
//! | `POST /resource/{id}.json` | upsert by row identifier (or `:id`); `":deleted": true` deletes; answers `{"Rows Created", "Rows Updated", "Rows Deleted", "Errors", "By RowIdentifier", "By SID"}`; deleting a missing row counts in `Errors` |
//! | `PUT /resource/{id}.json` | replace: every row dropped, the body loaded |
//! | a key that is not a column | 400 `{"code":"invalid_request","error":true,"message":"Illegal field name sent: <key>"}`, nothing applied |
//! | a write without credentials, when [`FakeSocrata::require_basic_auth`] is set | 403 `{"message":"You must be logged in to access this resource","error":true}` |
//! | wrong Basic credentials (on any request) | 401 `{"code":"authentication_failed","error":true,"message":"Invalid username or password"}` (shape assumed: Socrata does not document it) |
//! | `DELETE /resource/{id}/{row id}.json` | deletes one row by its row identifier: 200 with no body; 404 when it is not there |
//! | an unknown dataset | 404 `{"code":"dataset.missing","error":true,"message":"Not found","data":{"id":"…"}}` (soda-ruby's recorded `404.response`); `/api/views/{id}.json` keeps its `not_found` |
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
//! fake.inject(Fault::status(503)); // the next request answers 503 once
//!
//! let client = fake.client_builder().api_key("key-id", "key-secret").build()?;
//! client.upsert("abcd-1234", &[json!({"id": "1", "name": "a"})]).await?;
//! assert_eq!(fake.rows("abcd-1234").len(), 1);
//! assert_eq!(fake.requests().len(), 2); // the 503 and the retry
//! # Ok(()) }
//! ```

mod index;
mod read;
mod reply;
mod server;
mod soql;
mod store;

use std::sync::{Arc, Mutex, MutexGuard};

use knack_services_core::lock;
use knack_services_core::testkit::Frame;
use serde_json::{json, Map, Value};
use wiremock::{matchers::any, Mock, MockServer};

use crate::{ClientBuilder, RetryPolicy, Row};
use store::{State, Stored, StoredDataset};

pub use knack_services_core::testkit::{
    max_in_window, refused_uri, CapturedLogs, Chaos, ChaosKind, DroppingServer, Fault,
    RecordedRequest,
};

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

    /// Each column's field name and `dataTypeName`, in order.
    pub(super) fn column_types(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.columns
            .iter()
            .map(|(name, kind, _)| (name.clone(), kind.clone()))
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
            .is_none_or(|r| r.iter().any(|x| x == "write"))
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

/// The fake portal. Dropping it stops the server.
pub struct FakeSocrata {
    server: MockServer,
    state: Arc<Mutex<State>>,
    frame: Arc<Frame>,
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
        // Secrets show as `[redacted]` in the log; their presence still shows.
        let frame = Arc::new(Frame::new(&["authorization", "x-app-token"]));
        Mock::given(any())
            .respond_with(server::Handler {
                state: state.clone(),
                frame: frame.clone(),
            })
            .mount(&server)
            .await;
        FakeSocrata {
            server,
            state,
            frame,
        }
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`, to pass to [`ClientBuilder::domain`].
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

    /// A builder pointed at the fake, with [`RetryPolicy::fast_for_tests`] (millisecond
    /// backoff, the default budgets) so retry tests run fast. Add credentials with
    /// `.api_key(...)` as with a real portal.
    pub fn client_builder(&self) -> ClientBuilder {
        crate::Client::builder()
            .domain(self.uri())
            .retry_policy(RetryPolicy::fast_for_tests())
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
                key_order: None,
            },
        );
        for row in rows {
            let sid = st.next_sid();
            let ds = st.datasets.get_mut(&dataset.id).expect("just inserted");
            ds.rows.push(Stored::new(&server::with_sid(row, sid)));
        }
    }

    /// Adds a column to a dataset already added, keeping its rows (which hold no value in it), as
    /// an owner adding a column on Socrata does.
    ///
    /// # Panics
    /// If the dataset was never added.
    pub fn add_column(&self, dataset: &str, field_name: &str, data_type: &str) {
        let mut st = self.lock();
        let ds = st
            .datasets
            .get_mut(dataset)
            .unwrap_or_else(|| panic!("fake Socrata has no dataset {dataset}"));
        ds.spec
            .columns
            .push((field_name.into(), data_type.into(), field_name.into()));
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
        ds.rows
            .iter()
            .map(|stored| server::without_system_fields(&stored.row()))
            .collect()
    }

    /// A logged request's body parsed as JSON rows (an empty list when it is not a JSON array).
    pub fn body_rows(request: &RecordedRequest) -> Vec<Value> {
        match serde_json::from_slice(&request.body) {
            Ok(Value::Array(rows)) => rows,
            _ => Vec::new(),
        }
    }

    /// Turns the request log on (the default) or off. Off, the fake's memory holds only its
    /// datasets, as a benchmark loading hundreds of thousands of rows needs.
    pub fn set_request_log(&self, on: bool) {
        self.lock().no_log = !on;
        if !on {
            self.frame.clear_requests();
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic inside a handler must not hide the test's own assertion behind a poison error.
        lock(&self.state)
    }
}

/// The fake-server vocabulary every fake shares comes from the core's frame: `inject(Fault)`,
/// `requests()`, `clear_requests()`, `set_latency(d)`, `set_item_cost(d)`, `max_requests_in_window(w)`. Faults match in
/// the order queued, by [`Fault::on_method`] and [`Fault::on_path`] (the path with its `?query`);
/// a fault with a status and no body gets Socrata's JSON error body (`{"code", "error",
/// "message"}`; for 202, `{"message": "Request is processing"}`). The log shows `Authorization`
/// and `X-App-Token` as `[redacted]`; [`FakeSocrata::body_rows`] parses a write's rows.
impl std::ops::Deref for FakeSocrata {
    type Target = Frame;

    fn deref(&self) -> &Frame {
        &self.frame
    }
}
