//! Knack API client: application metadata, records as a `Stream`, filters, writes,
//! a strict 10 requests/second limiter, retries, and knackpy-compatible formatting.
//!
//! (The quick-start example is written once the client lands.)
#![warn(missing_docs)]

mod container;
mod error;
mod metadata;
mod record;

pub use container::Container;
pub use error::Error;
pub use metadata::Metadata;
pub use record::Record;

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
