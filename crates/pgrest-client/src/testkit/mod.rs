//! A fake PostgREST for tests (cargo feature `testkit`): tables in memory, answered over real HTTP by a
//! [wiremock](https://docs.rs/wiremock) server, so the real [`Client`](crate::Client) talks to it
//! unchanged.
//!
//! What it implements, as PostgREST does:
//! - `GET /table` with `select` (plain column lists), filters `eq neq gt gte lt lte in is like`,
//!   `order` (with `nullsfirst`/`nullslast`), `limit`, `offset`, `Content-Range`, `Prefer: count=exact`,
//!   and a silent `db-max-rows` cap ([`FakeBuilder::max_rows`]).
//! - `POST /table` insert (object or array, all-or-nothing; a duplicate key is 409 `23505`), upsert with
//!   `Prefer: resolution=merge-duplicates|ignore-duplicates` and `on_conflict` (composite keys), a
//!   200 answer for an upsert that inserted nothing, `Prefer: return=representation`.
//! - `PATCH` and `DELETE` with the same filters (PostgREST does not require a filter; neither does the fake).
//! - `POST /rpc/<name>` for functions registered with [`FakePostgrest::register_rpc`].
//! - Per-table rules from [`TableSpec`]: primary key, an identity column numbered from 1 by "the
//!   database", a column set to the fake's clock on every insert and update (like a trigger), not-null
//!   columns, and (optionally) a closed column list that rejects unknown columns.
//! - A JWT check: compares the bearer token with [`FakeBuilder::jwt`] (no signature check); a wrong
//!   token is 401 `PGRST301`, [`FakePostgrest::expire_jwt`] makes the right one "JWT expired", and no
//!   token is the anonymous role, which has no table grants (401 `42501`).
//! - Schema profiles: an `Accept-Profile`/`Content-Profile` other than the configured schema is 406 `PGRST106`.
//! - Faults, latency and a request log from the shared frame of `knack-services-core` (the same
//!   vocabulary as the other clients' fakes): [`FakePostgrest::inject`] a [`Fault`] (PostgREST's own
//!   in [`PostgrestFault`]: 503 with `Retry-After`, 504…; or a slow or stalled answer),
//!   [`FakePostgrest::set_latency`], [`FakePostgrest::requests`]. [`DroppingServer`] and
//!   [`refused_uri`] stand for connections that break below HTTP.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pgrest_client::Error> {
//! use pgrest_client::testkit::{Fault, FakePostgrest, PostgrestFault};
//! use pgrest_client::Query;
//! use serde_json::json;
//!
//! let fake = FakePostgrest::staging("test-jwt").await; // api.knack + api.knack_metadata
//! fake.seed("knack", [json!({"app_id": "a", "container_id": "view_1", "record_id": "r1", "record": {}})]);
//! fake.inject(Fault::unavailable().times(1));           // first request: 503 + Retry-After
//! let client = fake.client_builder().build()?;
//! let rows: Vec<serde_json::Value> = client.select("knack", &Query::new().eq("app_id", "a")).await?;
//! assert_eq!(rows[0]["id"], 1);
//! assert_eq!(fake.requests().len(), 2);
//! # Ok(()) }
//! ```

mod cell;
mod index;
mod server;
mod store;
mod types;

pub use knack_services_core::testkit::{
    max_in_window, refused_uri, CapturedLogs, Chaos, ChaosKind, DroppingServer, Fault,
    RecordedRequest,
};

pub use types::ColumnType;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer};

use knack_services_core::testkit::Frame;
use knack_services_core::{lock, RetryPolicy};

use crate::ClientBuilder;
use store::{State, Table};

/// The rules of one fake table. Only `name` is required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub(crate) name: String,
    pub(crate) primary_key: Vec<String>,
    pub(crate) identity: Option<String>,
    pub(crate) auto_now: Option<String>,
    pub(crate) not_null: Vec<String>,
    pub(crate) columns: Option<Vec<String>>,
    pub(crate) one_of: Vec<(String, Vec<String>)>,
    pub(crate) types: Vec<(String, ColumnType)>,
}

impl TableSpec {
    /// A table called `name` (as in the URL, without schema), with no key and any columns.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            primary_key: vec![],
            identity: None,
            auto_now: None,
            not_null: vec![],
            columns: None,
            one_of: vec![],
            types: vec![],
        }
    }
    /// Primary key columns (the default upsert conflict target; also not null).
    pub fn primary_key<S: Into<String>>(mut self, cols: impl IntoIterator<Item = S>) -> Self {
        self.primary_key = cols.into_iter().map(Into::into).collect();
        self
    }
    /// A `bigint generated always as identity` column: numbered 1, 2, 3… on insert, never accepted from
    /// the client, kept on upsert-update. It is also a unique key (valid `on_conflict` target).
    pub fn identity(mut self, col: impl Into<String>) -> Self {
        self.identity = Some(col.into());
        self
    }
    /// A column the database sets to "now" (the fake's clock) on every insert and update.
    pub fn auto_now(mut self, col: impl Into<String>) -> Self {
        self.auto_now = Some(col.into());
        self
    }
    /// Columns that must be present and not null on insert.
    pub fn not_null<S: Into<String>>(mut self, cols: impl IntoIterator<Item = S>) -> Self {
        self.not_null = cols.into_iter().map(Into::into).collect();
        self
    }
    /// A `CHECK (col IN (...))` constraint: a written row whose `col` is another text is 400 `23514`.
    /// A value ending in `*` allows every text that starts with the rest and has at least one
    /// more character (SQL's `col LIKE 'rest_%'`).
    pub fn check_one_of<S: Into<String>>(
        mut self,
        col: impl Into<String>,
        values: impl IntoIterator<Item = S>,
    ) -> Self {
        self.one_of
            .push((col.into(), values.into_iter().map(Into::into).collect()));
        self
    }
    /// Gives `col` a Postgres type: a written value it cannot read as that type is 400 `22P02`
    /// (`invalid input syntax for type integer: "not a number"`), as Postgres answers through
    /// PostgREST. Columns with no type take any JSON value.
    pub fn column_type(mut self, col: impl Into<String>, kind: ColumnType) -> Self {
        self.types.push((col.into(), kind));
        self
    }
    /// Closes the column list: any other column in a filter, select, order or payload is an error, as
    /// with a real table. Key, identity, auto-now and not-null columns are added automatically.
    pub fn columns<S: Into<String>>(mut self, cols: impl IntoIterator<Item = S>) -> Self {
        self.columns = Some(cols.into_iter().map(Into::into).collect());
        self
    }

    /// `api.knack`: pk (app_id, container_id, record_id), `record` not null, `updated_at` set on every
    /// write, `id` identity.
    pub fn knack() -> Self {
        Self::new("knack")
            .primary_key(["app_id", "container_id", "record_id"])
            .identity("id")
            .auto_now("updated_at")
            .not_null(["record"])
            .columns([
                "app_id",
                "container_id",
                "record_id",
                "record",
                "updated_at",
                "id",
            ])
    }
    /// `api.knack_metadata`: pk `app_id`, `metadata` not null.
    pub fn knack_metadata() -> Self {
        Self::new("knack_metadata")
            .primary_key(["app_id"])
            .not_null(["metadata"])
            .columns(["app_id", "metadata"])
    }
    /// `api.knack_sync_state`: pk (app_id, container_id, destination), `destination` one of
    /// `postgrest`/`socrata`/`agol` or `knack:<app name>`, `updated_at` set on every write; with
    /// the stage's schema fingerprint (`schema_fingerprint`, `schema_change`, `schema_changed_at`).
    pub fn knack_sync_state() -> Self {
        Self::new("knack_sync_state")
            .primary_key(["app_id", "container_id", "destination"])
            .auto_now("updated_at")
            .check_one_of("destination", ["postgrest", "socrata", "agol", "knack:*"])
            .columns([
                "app_id",
                "container_id",
                "destination",
                "watermark",
                "last_run_at",
                "last_result",
                "last_report",
                "schema_fingerprint",
                "schema_change",
                "schema_changed_at",
                "updated_at",
            ])
    }

    pub(crate) fn has_column(&self, col: &str) -> bool {
        match &self.columns {
            None => true,
            Some(cols) => {
                cols.iter().any(|c| c == col)
                    || self.primary_key.iter().any(|c| c == col)
                    || self.not_null.iter().any(|c| c == col)
                    || self.identity.as_deref() == Some(col)
                    || self.auto_now.as_deref() == Some(col)
            }
        }
    }

    /// The message of the first `CHECK (col IN ...)` that `row` violates.
    /// Postgres's message for the first value of `row` its column's type cannot read.
    pub(crate) fn violated_type(&self, row: &serde_json::Map<String, Value>) -> Option<String> {
        self.types.iter().find_map(|(col, kind)| {
            let v = row.get(col).filter(|v| !v.is_null())?;
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            (!kind.accepts(v)).then(|| {
                format!(
                    "invalid input syntax for type {}: \"{text}\"",
                    kind.pg_name()
                )
            })
        })
    }

    pub(crate) fn violated_check(&self, row: &serde_json::Map<String, Value>) -> Option<String> {
        self.one_of.iter().find_map(|(col, allowed)| {
            let v = row.get(col).filter(|v| !v.is_null())?;
            let ok = v.as_str().is_some_and(|t| {
                allowed.iter().any(|a| match a.strip_suffix('*') {
                    Some(prefix) => t.len() > prefix.len() && t.starts_with(prefix),
                    None => a == t,
                })
            });
            (!ok).then(|| {
                let table = &self.name;
                format!("new row for relation \"{table}\" violates check constraint \"{table}_{col}_check\"")
            })
        })
    }

    pub(crate) fn is_unique(&self, cols: &[String]) -> bool {
        let mut a = cols.to_vec();
        a.sort();
        let mut pk = self.primary_key.clone();
        pk.sort();
        (!pk.is_empty() && a == pk)
            || (self.identity.is_some() && cols == [self.identity.clone().unwrap_or_default()])
    }
}

/// PostgREST's own faults, as constructors on the shared [`Fault`]: bring this trait into scope
/// and write `Fault::unavailable()`. A status fault with an empty body gets a PostgREST error
/// body (`{"code","details","hint","message"}`) from the fake.
pub trait PostgrestFault: Sized {
    /// Any status with a PostgREST error body naming `code` and `message`.
    fn postgrest(status: u16, code: &str, message: &str) -> Self;
    /// 503 `PGRST001` with `Retry-After: 0`, as during PostgREST's connection recovery.
    fn unavailable() -> Self {
        Self::postgrest(
            503,
            "PGRST001",
            "Database client error. Retrying the connection.",
        )
        .retry_after(0)
    }
    /// 504 `PGRST003` (connection pool acquisition timed out).
    fn gateway_timeout() -> Self {
        Self::postgrest(
            504,
            "PGRST003",
            "Timed out acquiring connection from connection pool.",
        )
    }
    /// Sends `Retry-After: secs`.
    fn retry_after(self, secs: u64) -> Self;
}

impl PostgrestFault for Fault {
    fn postgrest(status: u16, code: &str, message: &str) -> Self {
        Fault::status(status).body(
            json!({"code": code, "details": null, "hint": null, "message": message}).to_string(),
        )
    }
    fn retry_after(self, secs: u64) -> Self {
        self.header("Retry-After", secs)
    }
}

/// Configures a [`FakePostgrest`] before it starts.
pub struct FakeBuilder {
    state: State,
}

impl FakeBuilder {
    /// Adds a table.
    pub fn table(mut self, spec: TableSpec) -> Self {
        self.state
            .tables
            .insert(spec.name.clone(), Table::new(spec));
        self
    }
    /// Requires `Authorization: Bearer <token>` (compared as a string).
    pub fn jwt(mut self, token: impl Into<String>) -> Self {
        self.state.jwt = Some(token.into());
        self
    }
    /// The exposed schema (default `api`), checked against `Accept-Profile`/`Content-Profile`.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.state.schema = schema.into();
        self
    }
    /// Server-side `db-max-rows`: GET answers silently return at most `n` rows.
    pub fn max_rows(mut self, n: usize) -> Self {
        self.state.max_rows = Some(n);
        self
    }
    /// Starts the server.
    pub async fn start(self) -> FakePostgrest {
        // The fake keeps its own log (bodies parsed, switchable); wiremock's copy of every raw
        // request would only double the memory of a large load.
        let server = MockServer::builder()
            .disable_request_recording()
            .start()
            .await;
        let state = Arc::new(Mutex::new(self.state));
        let frame = Arc::new(Frame::new(&["authorization"]));
        Mock::given(any())
            .respond_with(server::Handler {
                state: state.clone(),
                frame: frame.clone(),
            })
            .mount(&server)
            .await;
        FakePostgrest {
            server,
            state,
            frame,
        }
    }
}

/// The running fake. Dropping it stops the server.
pub struct FakePostgrest {
    server: MockServer,
    state: Arc<Mutex<State>>,
    frame: Arc<Frame>,
}

impl std::fmt::Debug for FakePostgrest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakePostgrest")
            .field("uri", &self.server.uri())
            .finish_non_exhaustive()
    }
}

impl FakePostgrest {
    /// A builder with no tables, no JWT check, schema `api`, no row cap.
    pub fn builder() -> FakeBuilder {
        FakeBuilder {
            state: State {
                tables: HashMap::new(),
                jwt: None,
                jwt_expired: false,
                schema: "api".into(),
                max_rows: None,
                logging: true,
                fixed_now: None,
                last_now: None,
                rpcs: HashMap::new(),
            },
        }
    }

    /// The staging store: schema `api` with [`TableSpec::knack`], [`TableSpec::knack_metadata`],
    /// and [`TableSpec::knack_sync_state`], requiring `jwt`.
    pub async fn staging(jwt: &str) -> Self {
        Self::builder()
            .jwt(jwt)
            .table(TableSpec::knack())
            .table(TableSpec::knack_metadata())
            .table(TableSpec::knack_sync_state())
            .start()
            .await
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Base URL to give a client.
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

    /// A client builder pointed at this fake, with its JWT and schema, and
    /// [`RetryPolicy::fast_for_tests`] (millisecond waits, the default budgets) so retry tests run fast.
    pub fn client_builder(&self) -> ClientBuilder {
        let st = self.lock();
        let mut b = crate::Client::builder()
            .base_url(self.uri())
            .schema(st.schema.clone())
            .retry_policy(RetryPolicy::fast_for_tests());
        if let Some(j) = &st.jwt {
            b = b.jwt(j.clone());
        }
        b
    }

    /// Puts rows in a table as the database would store them (identity assigned, auto-now column set
    /// unless the row gives it, so tests can plant old rows). Panics on an unknown table.
    pub fn seed(&self, table: &str, rows: impl IntoIterator<Item = Value>) {
        let mut st = self.lock();
        let now = st.clock_tick();
        let t = st
            .tables
            .get_mut(table)
            .unwrap_or_else(|| panic!("fake PostgREST has no table {table:?}"));
        for row in rows {
            let Value::Object(o) = row else {
                panic!("seed rows must be JSON objects")
            };
            t.insert_new(o, &now, true);
        }
    }

    /// The rows of a table, in storage (insertion) order. Panics on an unknown table.
    pub fn rows(&self, table: &str) -> Vec<Value> {
        let st = self.lock();
        let t = st
            .tables
            .get(table)
            .unwrap_or_else(|| panic!("fake PostgREST has no table {table:?}"));
        t.rows
            .iter()
            .map(|row| Value::Object(cell::unpack_row(row)))
            .collect()
    }

    /// Removes every row of a table (the identity sequence keeps counting, as in Postgres).
    pub fn clear(&self, table: &str) {
        if let Some(t) = self.lock().tables.get_mut(table) {
            t.rows.clear();
            t.keys.clear();
            t.identity_ordered = true;
        }
    }

    /// Freezes the clock used for auto-now columns at `t`.
    pub fn set_now(&self, t: DateTime<Utc>) {
        self.lock().fixed_now = Some(t);
    }
    /// Moves a frozen clock forward (freezing it at the current time first if needed).
    pub fn advance_clock(&self, d: Duration) {
        let mut st = self.lock();
        let base = st.fixed_now.unwrap_or_else(Utc::now);
        st.fixed_now = Some(base + chrono::Duration::from_std(d).unwrap_or_default());
    }
    /// Lets the clock follow wall time again.
    pub fn unfreeze_clock(&self) {
        self.lock().fixed_now = None;
    }

    /// Queues a fault: the next matching requests (see [`Fault::times`], [`Fault::on_method`],
    /// [`Fault::on_path`]; the path is matched with its `?query`) get it instead of the normal
    /// answer, or (for [`Fault::slow`] and [`Fault::stall`]) get the normal answer late.
    pub fn inject(&self, fault: Fault) {
        self.frame.inject(fault);
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
    /// Changes the row cap (`None` = unlimited).
    pub fn set_max_rows(&self, n: Option<usize>) {
        self.lock().max_rows = n;
    }
    /// From now on the configured JWT is answered with 401 `PGRST301` "JWT expired".
    pub fn expire_jwt(&self) {
        self.lock().jwt_expired = true;
    }
    /// Registers `POST /rpc/<name>`; the closure gets the JSON arguments and returns the result
    /// (`Value::Null` answers 204) or `(status, message)` for a RAISE.
    pub fn register_rpc(
        &self,
        name: &str,
        f: impl Fn(&Value) -> Result<Value, (u16, String)> + Send + Sync + 'static,
    ) {
        self.lock().rpcs.insert(name.to_string(), Arc::new(f));
    }

    /// Every request received so far, oldest first (including those answered with a fault); the
    /// JWT shows as `[redacted]`.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.frame.requests()
    }
    /// Forgets the request log.
    pub fn clear_requests(&self) {
        self.frame.clear_requests();
    }
    /// Turns the request log on (the default) or off. Off, the fake's memory holds only its
    /// tables, as a benchmark loading hundreds of thousands of rows needs.
    pub fn set_request_log(&self, on: bool) {
        self.lock().logging = on;
        if !on {
            self.frame.clear_requests();
        }
    }
}
