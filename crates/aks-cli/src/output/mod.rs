//! What `aks` writes: the summary of a run (its line, the JSON summary event, a failed command's
//! last line), the progress bar, logging setup, tables, `sync`'s summary table, and the diagnosis
//! of a failure (its cause and the setting to check).

pub(crate) mod diagnose;
pub mod logging;
pub(crate) mod progress;
pub mod summary;
pub(crate) mod sync_table;
pub(crate) mod table;
