//! The staging store's tables and keys, as the staging schema (pgrest-client's `STAGING_SQL`)
//! defines them.

/// The records table.
pub(crate) const RECORDS_TABLE: &str = "knack";
/// The metadata table.
pub(crate) const METADATA_TABLE: &str = "knack_metadata";
/// The records table's primary key, the upsert's conflict target. The same
/// Knack record may sit in several containers with different fields, so the
/// record id alone is not a key.
pub(crate) const RECORD_KEY: [&str; 3] = ["app_id", "container_id", "record_id"];
/// The column the store's trigger stamps with the database's clock on every write.
pub(crate) const UPDATED_AT: &str = "updated_at";
