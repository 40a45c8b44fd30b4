//! The PostgREST staging store: its tables and keys, the loads from Knack into it (the app's
//! metadata, a container's records), the [`StagingSink`] they write with (and the confirmation
//! with Knack of a full reload's deletes), and the
//! [`StagingSource`] the publishers read from, the [`Publication`] a publisher reads, the
//! preflight of both tables, the comparison of a destination with what is staged ([`Drift`]),
//! and (feature `db`) the schema applied to the store's database (`StagingDatabase`).

mod confirm;
#[cfg(feature = "db")]
mod database;
pub(crate) mod drift;
mod load;
mod metadata;
pub(crate) mod preflight;
pub(crate) mod publication;
mod sink;
mod source;
mod tables;

#[cfg(feature = "db")]
pub use database::{ConnectProblem, DatabaseError, StagingDatabase, StagingTables};
pub use drift::Drift;
pub(crate) use drift::{IdCheck, Staged};
pub use load::{metadata_to_postgrest, records_to_postgrest};
pub(crate) use load::{records_to_postgrest_in, refresh_metadata};
pub(crate) use metadata::load_metadata;
pub use metadata::store_metadata;
pub use publication::Publication;
pub use sink::{StagingRow, StagingSink};
pub use source::StagingSource;
