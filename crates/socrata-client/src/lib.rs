//! Async client for Socrata's SODA 2.1 API: dataset metadata, SoQL reads as a `Stream`,
//! batched upsert / replace / delete with retries that are safe for each kind of write, and
//! helpers for Socrata's value types (point, location, multipoint, floating timestamp, checkbox).
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use serde_json::json;
//! use socrata_client::{Client, Query};
//!
//! # async fn run() -> Result<(), socrata_client::Error> {
//! let client = Client::builder()
//!     .domain("https://datahub.austintexas.gov")
//!     .api_key("key-id", "key-secret")
//!     .app_token("app-token")
//!     .build()?;
//!
//! let meta = client.metadata("p53x-x73x").await?;
//! println!("row identifier: {:?}", meta.row_identifier);
//!
//! // Pages always carry $order (":id" by default), so no row is skipped or read twice.
//! let rows: Vec<_> = client
//!     .rows("p53x-x73x", Query::new().where_eq("signal_type", "PHB"))
//!     .try_collect()
//!     .await?;
//! println!("{} rows", rows.len());
//!
//! let summary = client.upsert("p53x-x73x", &[json!({"id": "abc", "signal_type": "PHB"})]).await?;
//! println!("created {}, updated {}", summary.rows_created, summary.rows_updated);
//! # Ok(()) }
//! ```
//!
//! With the `testkit` feature, `testkit::FakeSocrata` is a fake portal for tests.
// On docs.rs (nightly, `--cfg docsrs`), label each item that needs a feature, such as `testkit`.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod client;
mod error;
mod metadata;
pub mod number;
mod query;
mod read;
mod summary;
pub mod values;
mod write;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use client::{
    Client, ClientBuilder, DEFAULT_BATCH_BYTES, DEFAULT_BATCH_SIZE, DEFAULT_PAGE_SIZE,
};
pub use error::{ApiErrorBody, Error};
/// The retry policy and its jitter, from the shared core (one vocabulary for every client).
pub use knack_services_core::{Jitter, RetryPolicy};
pub use metadata::{Column, DataType, DatasetMetadata};
pub use query::{ident, literal, Query};
/// The type every secret of the builder is held in (API key, OAuth token, app token).
pub use secrecy::SecretString;
pub use summary::WriteSummary;
pub use values::Point;
pub use write::WrittenBatch;

/// A row as SODA returns it: field name → JSON value.
pub type Row = serde_json::Map<String, serde_json::Value>;

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The README's Rust examples, compiled as doc tests so they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
