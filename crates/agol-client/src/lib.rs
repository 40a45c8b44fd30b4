//! Async client for ArcGIS Online and ArcGIS REST feature services.
//!
//! Signs in (generateToken, cached and renewed), resolves an item id to its feature service,
//! opens a layer or table, reads it as a paged [`futures::Stream`], and edits it in batches,
//! checking the errors ArcGIS puts inside HTTP 200 responses.
//!
//! ```no_run
//! use agol_client::{Client, Feature, Geometry, LayerSelector, Query};
//! use futures::TryStreamExt;
//!
//! # async fn run() -> Result<(), agol_client::Error> {
//! let client = Client::builder()
//!     .portal_url("https://myorg.maps.arcgis.com")
//!     .credentials("user", "password")
//!     .build()?;
//! let layer = client
//!     .layer_from_item("e6eb94d1e7cc45c2ac452af6ae6aa534", LayerSelector::LayerIndex(0))
//!     .await?;
//! let rows: Vec<Feature> = layer
//!     .features(Query::new().where_clause("signal_type = 'PHB'"))
//!     .try_collect()
//!     .await?;
//! let mut attributes = serde_json::Map::new();
//! attributes.insert("id".into(), "abc".into());
//! let new = Feature::new(attributes).with_geometry(Geometry::point(-97.74, 30.27));
//! layer.add_features(&[new], true).await?;
//! # Ok(()) }
//! ```
// On docs.rs (nightly, `--cfg docsrs`), label each item that needs a feature, such as `testkit`.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod client;
mod edits;
mod error;
mod layer;
mod response;
mod service;
mod types;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use client::{BatchSizes, Client, ClientBuilder, DEFAULT_PORTAL_URL};
pub use edits::sql_quote;
pub use error::{EditFailure, EditKind, Error};
/// The retry policy and its jitter, from the shared core (one vocabulary for every client).
pub use knack_services_core::{Jitter, RetryPolicy};
pub use layer::{Layer, Query, QueryPage};
/// The type every secret of the builder is held in (password, token, API key).
pub use secrecy::SecretString;
pub use service::{LayerSelector, Service};
pub use types::{
    epoch_millis, from_epoch_millis, AdvancedQueryCapabilities, EditResult, EditResultError,
    EditResults, Edits, Feature, Field, Geometry, Item, LayerInfo, LayerRef, ServiceInfo,
    SpatialReference, TruncateOutcome, WGS84,
};

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The README's Rust examples, compiled as doc tests so they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
