//! What `aks` writes: the summary of a run (its line, the JSON summary event, a failed command's
//! last line), the progress bar, logging setup, tables, `sync`'s summary table, `status`'s
//! document, `records-to-knack`'s dry-run plan, and the diagnosis of a failure (its cause and the
//! setting to check).

pub(crate) mod diagnose;
pub(crate) mod knack_plan;
pub mod logging;
pub(crate) mod progress;
pub(crate) mod status;
pub mod summary;
pub(crate) mod sync_table;
mod table;
