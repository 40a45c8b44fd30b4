//! Row positions by row identifier and by `:id`, so an upsert finds its row without a scan.
//!
//! The pipeline benchmarks upsert 200,000 rows through the fake; a scan per row made that
//! quadratic and measured the fake instead of the client. The maps are B-trees: a hash map
//! doubles all at once, and at a million rows that pause filled the client's read-ahead, so the
//! benchmark measured the fake's rehash.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::Row;

/// Built from a dataset's rows when a write first needs it, kept current while that write
/// appends, updates and deletes, and dropped when rows move (a replace, the end of a write
/// that deleted).
#[derive(Debug, Default)]
pub(crate) struct RowIndex {
    by_identifier: BTreeMap<String, usize>,
    by_sid: BTreeMap<String, usize>,
}

/// A value as an index key; equal JSON values give equal text.
fn key(v: &Value) -> String {
    v.to_string()
}

impl RowIndex {
    /// Indexes `rows` on `identifier` (the dataset's row identifier, if any) and `:id`.
    pub(crate) fn build(rows: impl Iterator<Item = Row>, identifier: Option<&str>) -> Self {
        let mut index = RowIndex::default();
        for (i, row) in rows.enumerate() {
            index.insert(&row, i, identifier);
        }
        index
    }

    /// Records `row` at position `i` (first one wins, as a scan would find it).
    pub(crate) fn insert(&mut self, row: &Row, i: usize, identifier: Option<&str>) {
        if let Some(v) = identifier.and_then(|f| row.get(f)).filter(|v| !v.is_null()) {
            self.by_identifier.entry(key(v)).or_insert(i);
        }
        if let Some(v) = row.get(":id") {
            self.by_sid.entry(key(v)).or_insert(i);
        }
    }

    /// Forgets `row`, stored at `i`.
    pub(crate) fn remove(&mut self, row: &Row, i: usize, identifier: Option<&str>) {
        if let Some(k) = identifier.and_then(|f| row.get(f)).map(key) {
            if self.by_identifier.get(&k) == Some(&i) {
                self.by_identifier.remove(&k);
            }
        }
        if let Some(k) = row.get(":id").map(key) {
            if self.by_sid.get(&k) == Some(&i) {
                self.by_sid.remove(&k);
            }
        }
    }

    /// The position of the row whose row identifier is `v`.
    pub(crate) fn by_identifier(&self, v: &Value) -> Option<usize> {
        self.by_identifier.get(&key(v)).copied()
    }

    /// The position of the row whose `:id` is `v`.
    pub(crate) fn by_sid(&self, v: &Value) -> Option<usize> {
        self.by_sid.get(&key(v)).copied()
    }
}
