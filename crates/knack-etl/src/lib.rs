//! Moves Knack records to where they are needed — the PostgREST staging store, Socrata and ArcGIS
//! Online — with the output of the Python `atd-knack-services` it replaces, because public datasets
//! already hold that output.
//!
//! The crate is laid out as rooms, one per system, over a shared engine; find a behaviour by the
//! system's name, then the concept's:
//!
//! | room | what lives there |
//! |---|---|
//! | [`engine`] | the [`Source`] and [`Sink`] traits, the [`run`] driver and its read-ahead bound, the [`Stop`] it watches (SIGTERM), [`RunReport`], rejections, [`DryRun`], [`RunOptions`] and [`engine::parse_since`] |
//! | [`knack`] | Knack as a source (parsed or raw records), a container's fields checked against the metadata, the daily quota's low mark |
//! | [`staging`] | the PostgREST staging store: tables, sink, source, metadata, the loads from Knack ([`staging::records_to_postgrest`]), what a publisher reads ([`staging::Publication`]), the drift comparison; with feature `db`, the schema applied to its database |
//! | [`socrata`] | Knack record → row, the sink, preflight, drift repair, [`socrata::records_to_socrata`] and its target, CSV snapshots and where they go |
//! | [`agol`] | Knack record → feature, matching keys, the sink, preflight, drift repair, [`agol::records_to_agol`] and its target |
//! | [`knack_copy`] | Knack → Knack: field maps, canonical comparison, wall time, the plan, [`knack_copy::records_to_knack`], the map's check |
//! | [`sync`] | a whole app in one run: plans, stages and their watermarks, one stage alone ([`sync::run_stage`]), the app's status and `status --verify`'s comparison, shared destinations, and the config of an app's containers ([`sync::config`]: its checks, its plans, its check against the services) |
//! | [`transform`] | what the Socrata and ArcGIS transforms share: field specs, output keys, coordinates |
//!
//! Rooms depend downwards only: `engine` and `transform` on nothing of the crate but [`Error`];
//! `knack` and `staging` on them; `socrata`, `agol` and `knack_copy` on `staging`; `sync` on all.
//!
//! A pipeline, end to end (see `examples/` for one that runs against the fakes):
//!
//! ```no_run
//! # async fn demo(pgrest: knack_etl::pgrest_client::Client, socrata: knack_etl::socrata_client::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use knack_etl::knack_client::Container;
//! use knack_etl::socrata::{records_to_socrata, SocrataTarget};
//! use knack_etl::staging::Publication;
//! use knack_etl::RunOptions;
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
//! use knack_etl::agol::{AgolOptions, AgolTransform};
//! use knack_etl::socrata::{SocrataColumns, SocrataOptions, SocrataTransform};
//! use knack_etl::transform::FieldSpec;
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

pub mod agol;
pub mod engine;
mod error;
pub mod knack;
pub mod knack_copy;
pub mod socrata;
pub mod staging;
pub mod sync;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod transform;

pub use engine::{
    run, run_until, BatchOutcome, BatchStream, DryRun, Finished, Rejection, RunFailure, RunOptions,
    RunReport, Sink, Source, Stop, Weigh, WriteMode,
};
pub use error::Error;

/// The client crates, re-exported so users build clients with the versions this crate uses.
pub use {agol_client, knack_client, pgrest_client, socrata_client};
