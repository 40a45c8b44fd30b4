//! What the fake holds: its datasets (each row as its JSON text, with an index while writes
//! need one) and the credentials it checks.

use std::collections::HashMap;

use super::index::{KeyOrder, RowIndex};
use super::FakeDataset;
use crate::Row;

/// Everything the fake holds: its datasets, the credentials it checks, the next `:id`.
#[derive(Default)]
pub(crate) struct State {
    pub(super) datasets: HashMap<String, StoredDataset>,
    pub(super) basic: Option<String>,
    pub(super) require_auth: bool,
    /// Off: requests are not logged (a benchmark's large loads).
    pub(super) no_log: bool,
    pub(super) next_sid: u64,
}

/// A stored row as its JSON text, parsed when read: a million rows held as trees of values
/// would not fit in memory.
pub(crate) struct Stored(Box<str>);

impl Stored {
    pub(crate) fn new(row: &Row) -> Self {
        Stored(
            serde_json::to_string(row)
                .unwrap_or_default()
                .into_boxed_str(),
        )
    }

    pub(crate) fn row(&self) -> Row {
        // Written by `new` from a row: always reads back.
        serde_json::from_str(&self.0).unwrap_or_default()
    }
}

/// A dataset as the fake holds it: what it was added as, its rows, and their index.
pub(crate) struct StoredDataset {
    pub(super) spec: FakeDataset,
    /// Rows in insertion order, each with its `:id`.
    pub(super) rows: Vec<Stored>,
    /// Positions of `rows`, while no write moved them.
    pub(super) index: Option<RowIndex>,
    /// Positions of `rows` in row identifier order, for keyset reads; dropped by every write.
    /// `Some(None)`: built and failed (no row identifier, or one that is not text).
    pub(super) key_order: Option<Option<KeyOrder>>,
}

impl State {
    pub(super) fn next_sid(&mut self) -> u64 {
        self.next_sid += 1;
        self.next_sid
    }
}
