//! Knack API client: application metadata, records as a `Stream`, filters, writes,
//! a strict 10 requests/second limiter, retries, and knackpy-compatible formatting.
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use knack_client::{Client, Container, Filter, RecordsQuery};
//!
//! # async fn run() -> knack_client::Result<()> {
//! let client = Client::builder()
//!     .app_id("5d79512148c4af00106d1507")
//!     .api_key("your-api-key")
//!     .build()?;
//! let metadata = client.metadata().await?;
//! let since = chrono::Utc::now() - chrono::Duration::days(1);
//! let query = RecordsQuery::new()
//!     .filter(Filter::modified_since("field_12", since, metadata.timezone()?));
//! let mut records = Box::pin(client.records(&Container::object("object_3")?, query));
//! while let Some(record) = records.try_next().await? {
//!     println!("{}", record.id());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Every call waits on one limiter per app (never more than 10 requests in
//! any rolling second), has a timeout, and is retried by the shared
//! `knack-services-core` loop on 429, 5xx, timeouts and connection errors
//! (creates only when surely not applied). A 429 with the app's daily quota
//! spent fails at once with [`Error::DailyLimitExceeded`]; [`Client::quota`]
//! holds the quota Knack last reported.
// On docs.rs (nightly, `--cfg docsrs`), label each item that needs a feature, such as `testkit`.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod client;
mod container;
mod error;
mod field_type;
mod filter;
mod format;
mod format_text;
mod format_value;
mod lenient;
mod metadata;
mod one;
mod prefetch;
mod quota;
mod rate_limit;
mod record;
mod records;
mod select;
#[cfg(feature = "testkit")]
pub mod testkit;
mod timezone;
mod write;

pub use client::{Client, ClientBuilder, DEFAULT_BASE_URL, DEFAULT_READ_AHEAD_BYTES};
pub use container::Container;
pub use error::Error;
pub use field_type::FieldType;
pub use filter::{Filter, Match, Operator, RelativeUnit, Rule};
pub use format::{FormatField, Formatter};
pub use knack_services_core::{Jitter, RetryPolicy};
pub use metadata::{
    Account, Application, Column, ColumnField, Field, Metadata, Object, Relationship, Scene,
    Settings, View, ViewSource,
};
pub use quota::Quota;
pub use record::{RawRecord, Record};
pub use records::{Page, RawPage, RecordsQuery, SortOrder, MAX_ROWS_PER_PAGE};
pub use secrecy::SecretString;
pub use select::{FormattedValues, RecordSelector};
pub use timezone::{correct_knack_timestamp, known_timezone_names, parse_timezone};

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The README's Rust examples, compiled as doc tests so they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
