//! What Socrata reports a write did (`Rows Created`, `Errors`, ...), summed over batches. Its
//! own room because both the writes and the error for rows Socrata refused carry it.

use std::ops::AddAssign;

use serde::{Deserialize, Serialize};

/// The counts Socrata returns for a write, summed over every batch. Every key is optional on the
/// wire (the docs show only the `Rows …` keys; sodapy's fixtures add `By SID`/`By RowIdentifier`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteSummary {
    /// `Rows Created`
    #[serde(rename = "Rows Created", default)]
    pub rows_created: u64,
    /// `Rows Updated`
    #[serde(rename = "Rows Updated", default)]
    pub rows_updated: u64,
    /// `Rows Deleted`
    #[serde(rename = "Rows Deleted", default)]
    pub rows_deleted: u64,
    /// `Errors`: rows Socrata could not apply (including deletes of missing rows).
    #[serde(rename = "Errors", default)]
    pub errors: u64,
    /// `By RowIdentifier`: rows matched on the publisher's row identifier.
    #[serde(rename = "By RowIdentifier", default)]
    pub by_row_identifier: u64,
    /// `By SID`: rows matched on the internal `:id`.
    #[serde(rename = "By SID", default)]
    pub by_sid: u64,
    /// Requests sent (not a Socrata key: counted by this crate).
    #[serde(skip)]
    pub batches: u64,
}

impl AddAssign for WriteSummary {
    fn add_assign(&mut self, o: Self) {
        self.rows_created += o.rows_created;
        self.rows_updated += o.rows_updated;
        self.rows_deleted += o.rows_deleted;
        self.errors += o.errors;
        self.by_row_identifier += o.by_row_identifier;
        self.by_sid += o.by_sid;
        self.batches += o.batches;
    }
}

impl WriteSummary {
    /// Rows Socrata applied: created + updated + deleted.
    pub fn applied(&self) -> u64 {
        self.rows_created + self.rows_updated + self.rows_deleted
    }
}
