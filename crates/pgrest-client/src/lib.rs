//! Async client for [PostgREST](https://postgrest.org): injection-safe queries, keyset-paged streams,
//! batched upserts with bounded concurrency, parsed `PGRST` errors, retries in the shared request path of
//! `knack-services-core` (non-idempotent calls only when surely not applied),
//! the knack-services staging schema ([`schema::STAGING_SQL`]) and, behind the `testkit` feature, a
//! fake PostgREST for tests.
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use pgrest_client::{Client, Keyset, Query, Upsert};
//! use serde_json::{json, Value};
//!
//! # async fn run() -> Result<(), pgrest_client::Error> {
//! let client = Client::builder()
//!     .base_url("https://pgrest.example.org")
//!     .jwt("eyJhbGciOi...")
//!     .schema("api")
//!     .build()?;
//!
//! let rows = vec![json!({"app_id": "a1", "container_id": "view_1", "record_id": "r1", "record": {}})];
//! client.upsert("knack", &rows, &Upsert::on_conflict(["app_id", "container_id", "record_id"])).await?;
//!
//! let query = Query::new().eq("app_id", "a1").gte("updated_at", "2021-01-01T00:00:00+00:00");
//! let mut pages = Box::pin(client.select_pages::<Value>("knack", query, Keyset::on("id")));
//! while let Some(page) = pages.try_next().await? {
//!     println!("{} rows", page.len());
//! }
//! # Ok(()) }
//! ```
// On docs.rs (nightly, `--cfg docsrs`), label each item that needs a feature, such as `testkit`.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod client;
mod error;
mod query;
mod read;
pub mod schema;
mod write;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use client::{Client, ClientBuilder};
pub use error::{ApiErrorBody, Error, Result};
/// The retry policy every knack-services client shares (from `knack-services-core`).
pub use knack_services_core::{Jitter, RetryPolicy};
pub use query::{Condition, Direction, FilterValue, IsValue, Query};
pub use read::Keyset;
/// The type every secret of the builder is held in (`jwt`).
pub use secrecy::SecretString;
pub use write::{Upsert, UpsertSummary, UpsertedBatch};

/// The README's Rust examples, compiled as doc tests so they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
