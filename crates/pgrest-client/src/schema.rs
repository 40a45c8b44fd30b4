//! The staging database schema that the knack-services pipeline writes to through PostgREST.
//!
//! [`STAGING_SQL`] is idempotent: it creates schema `api`, tables `api.knack`, `api.knack_metadata`
//! and `api.knack_sync_state` (each stage's watermark per container and destination, primary key
//! (`app_id`, `container_id`, `destination`), destination one of `postgrest`/`socrata`/`agol`), the
//! trigger that sets `updated_at = now()` on every insert and update of `api.knack` and
//! `api.knack_sync_state` (with each stage's schema fingerprint: `schema_fingerprint jsonb`, what
//! its last successful run was computed from, `schema_change`, `schema_changed_at`; a store with
//! the previous release's `api.knack_schema` has its fingerprints moved there and that table
//! dropped), and the PostgREST roles `authenticator` (login, noinherit), `my_api_user` (grants on
//! the three tables) and `web_anon` (no table grants). Apply it with `psql -v ON_ERROR_STOP=1 -f sql/staging.sql` or `aks db init`.

/// The staging schema as one SQL script (several statements; run it with a simple-query call such as
/// `tokio_postgres::Client::batch_execute` or `psql -f`).
pub const STAGING_SQL: &str = include_str!("../sql/staging.sql");

/// Name of the role that PostgREST logs in as.
pub const AUTHENTICATOR_ROLE: &str = "authenticator";
/// Name of the role the API's JWTs select (`{"role": "my_api_user"}`), with read/write grants.
pub const API_ROLE: &str = "my_api_user";
/// Name of the anonymous role (PostgREST's `db-anon-role`), with no table grants.
pub const ANON_ROLE: &str = "web_anon";

/// Primary key of `api.knack`, the conflict target for upserts.
pub const KNACK_PRIMARY_KEY: [&str; 3] = ["app_id", "container_id", "record_id"];
