//! Knack → Knack publishing (the original's `records_to_knack.py`): a container's staged records,
//! mapped field by field, created or updated in another Knack app's object.
//!
//! Source rows are the container's rows in `api.knack` staged on or after `since`; destination
//! rows are the destination container's staged rows (put there by `records-to-postgrest` of the
//! destination app). Each source record is matched on the primary key:
//! - no match → created;
//! - a match whose compared fields differ (compared canonically: `canonical.rs`) → updated (every mapped field sent);
//! - anything else is left alone.
//!
//! Writes go through knack-client one record per request (Knack has no bulk write), so they are
//! held to the client's 10 requests per second. A record Knack refuses is reported (source id,
//! destination id, fields, Knack's message) and the others go on; a refused API key stops the run.
//! A create is never sent blindly again after a lost answer (it may have happened): the record is
//! looked up in the destination by the primary key and created only when absent; each record
//! created is written through to the destination container's staged rows at once, so the next run
//! sees it whether or not the destination app stamps a modified date on create (`create.rs`).
//!
//! Memory: the destination's primary keys and compared values are held (one small map per
//! destination record); source records stream page by page.
//!
//! The room: [`FieldMap`] (`map.rs`), canonical comparison (`canonical.rs`), the wall time Knack
//! reads a written date as (`wall_time.rs`), what a copy is and what it did
//! ([`KnackDestination`], [`KnackReport`]), the plan (create, update or leave each record:
//! `plan.rs`), the publish function [`records_to_knack`], and the check of a field map against both
//! apps' metadata.

mod canonical;
mod check;
mod create;
mod destination;
mod map;
mod plan;
mod publish;
mod wall_time;

pub use check::{check_destination, check_source};
pub use destination::{Action, KnackDestination, KnackReport, Planned, RecordFailure};
pub use map::{FieldMap, FieldMapError, FieldMapping, Handler};
pub use publish::records_to_knack;
