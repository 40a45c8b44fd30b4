//! Test helpers (cargo feature `testkit`), for this crate's tests, `aks`'s and other teams':
//! [`FakeApp`], the four clients' fake servers (Knack, PostgREST, Socrata, ArcGIS Online) wired
//! together and seeded with the generated fixture app, and [`S3Server`], moto's S3 server for the
//! backups. The fakes themselves are in the client crates (re-exported as
//! `knack_etl::knack_client::testkit` and so on).

mod app;
mod s3;

pub use app::{
    container, fixture, fixture_records, synthetic_record, without_nulls, FakeApp, APP_ID, DATASET,
    LAYER, LOCATION_FIELD, MODIFIED_FIELD, RECORDS, SCENE, VIEW,
};
pub use s3::S3Server;
