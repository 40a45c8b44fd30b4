//! Moves Knack records to where they are needed — the PostgREST staging store, Socrata and ArcGIS
//! Online — with the output of the Python `atd-knack-services` it replaces, because public datasets
//! already hold that output.
//!
//! The pieces: [`Source`] and [`Sink`] traits and the [`run`] driver that streams batches between
//! them; adapters for Knack, the PostgREST staging store, Socrata and ArcGIS Online; the
//! [`transform`]s that turn a formatted Knack record (knack-client's formatter output: label → value)
//! into a Socrata row or an AGOL feature; the original's four jobs in [`pipelines`]; a whole app in
//! one run, each stage from its own [`watermark`], in [`sync`].
//!
//! A pipeline, end to end (see `examples/` for one that runs against the fakes):
//!
//! ```no_run
//! # async fn demo(pgrest: knack_etl::pgrest_client::Client, socrata: knack_etl::socrata_client::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use knack_etl::knack_client::Container;
//! use knack_etl::pipelines::{records_to_socrata, Publication, RunOptions, SocrataTarget};
//!
//! let publication = Publication {
//!     app_id: "5d79512148c4af00106d1507".into(),
//!     container: Container::view("scene_1", "view_1")?,
//!     location_fields: vec!["field_9".into()],
//! };
//! let target = SocrataTarget { resource_id: "abcd-1234".into(), ..Default::default() };
//! let since = Some("2024-03-27T05:00:00Z".parse()?);
//! let report = records_to_socrata(&pgrest, &socrata, &publication, &target,
//!                                 &RunOptions { since, ..Default::default() }).await?;
//! println!("{report}");
//! # Ok(())
//! # }
//! ```
//!
//! The transforms alone:
//!
//! ```
//! use knack_etl::transform::{
//!     AgolOptions, AgolTransform, FieldSpec, SocrataColumns, SocrataOptions, SocrataTransform,
//! };
//! use serde_json::json;
//!
//! # fn main() -> Result<(), knack_etl::transform::TransformError> {
//! let fields = [
//!     FieldSpec::new("field_1", "Location Name", "short_text"),
//!     FieldSpec::new("field_5", "Is Active", "boolean"),
//!     FieldSpec::new("field_9", "Location", "address"),
//! ];
//! let columns: SocrataColumns =
//!     [("id", "text"), ("location_name", "text"), ("is_active", "text"), ("location", "point")]
//!         .into_iter()
//!         .collect();
//! let socrata = SocrataTransform::new(columns, &fields, SocrataOptions::default().location_field("field_9"))?;
//! let agol = AgolTransform::new(&fields, AgolOptions::default().location_field("field_9"))?;
//!
//! // What the formatter made of the record, and the raw record it came from.
//! let formatted = json!({"id": "5f1", "Location Name": "<b>5TH</b> ST", "Is Active": true,
//!                        "Location": "1241 MANOR RD, Austin"});
//! let raw = json!({"id": "5f1", "field_9_raw": {"latitude": 30.3, "longitude": -97.6}});
//! let (formatted, raw) = (formatted.as_object().unwrap(), raw.as_object().unwrap());
//!
//! let row = socrata.row(formatted.clone(), raw)?;
//! assert_eq!(row["is_active"], "True");
//! assert_eq!(row["location"], json!({"type": "Point", "coordinates": [-97.6, 30.3]}));
//!
//! let feature = agol.feature(formatted.clone(), raw);
//! assert_eq!(feature.attributes["location_name"], "b5TH/b ST");
//! assert_eq!(feature.geometry, Some(knack_etl::agol_client::Geometry::point(-97.6, 30.3)));
//! # Ok(())
//! # }
//! ```
// On docs.rs (nightly, `--cfg docsrs`), label each item that needs a feature, such as `testkit`.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod agol;
pub mod backup;
pub mod drift;
mod dry_run;
mod error;
mod keyset;
mod knack;
pub mod knack_dest;
pub mod pipelines;
pub mod preflight;
mod reject;
mod report;
mod run;
mod socrata;
mod stage;
pub mod staging;
pub mod sync;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod transform;
pub mod watermark;

pub use agol::AgolSink;
pub use dry_run::DryRun;
pub use error::Error;
pub use knack::{KnackSource, RawKnackSource};
pub use reject::{log_rejections, Rejection, LOGGED_REJECTIONS};
pub use report::RunReport;
pub use run::{run, RunFailure};
pub use socrata::{SocrataRow, SocrataSink};
pub use stage::{BatchOutcome, BatchStream, Sink, Source, Weigh, WriteMode};
pub use staging::{StagingRow, StagingSink, StagingSource};

/// The client crates, re-exported so users build clients with the versions this crate uses.
pub use {agol_client, knack_client, pgrest_client, socrata_client};
