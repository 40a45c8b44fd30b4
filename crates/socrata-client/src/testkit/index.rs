//! Row positions by row identifier and by `:id`, so an upsert finds its row without a scan; and
//! in row identifier order ([`KeyOrder`]), so a keyset page is read without a sort.
//!
//! The pipeline benchmarks upsert 200,000 rows through the fake; a scan per row made that
//! quadratic and measured the fake instead of the client. The maps are B-trees: a hash map
//! doubles all at once, and at a million rows that pause filled the client's read-ahead, so the
//! benchmark measured the fake's rehash.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

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

/// A dataset's row positions in the order of their row identifier, ties in stored order: the
/// order `$order=<identifier>` sorts them in when every identifier is text, so a keyset read
/// (`$where=<identifier> > 'last'`) takes its page from here in O(page · log n) instead of
/// reading, filtering and sorting every stored row. Built when a read first needs it, dropped by
/// any write.
#[derive(Debug, Default)]
pub(crate) struct KeyOrder(BTreeSet<(String, usize)>);

impl KeyOrder {
    /// Orders `rows` by their text `identifier`; `None` when a row has no text value in it (a
    /// number, a null, none), which the fake's full sort orders by other rules.
    pub(crate) fn build(rows: impl Iterator<Item = Row>, identifier: &str) -> Option<Self> {
        rows.enumerate()
            .try_fold(BTreeSet::new(), |mut set, (i, row)| {
                let Some(Value::String(id)) = row.get(identifier) else {
                    return None;
                };
                set.insert((id.clone(), i));
                Some(set)
            })
            .map(KeyOrder)
    }

    /// The positions of the rows whose identifier is above `last` (all of them without one), in
    /// identifier order.
    pub(crate) fn after<'a>(&'a self, last: Option<&str>) -> impl Iterator<Item = usize> + 'a {
        let from = match last {
            Some(last) => Bound::Excluded((last.to_string(), usize::MAX)),
            None => Bound::Unbounded,
        };
        self.0.range((from, Bound::Unbounded)).map(|(_, i)| *i)
    }
}
