//! Row positions by key, so an upsert finds its conflict row without scanning the table.
//!
//! The pipeline benchmarks upsert 200,000 rows through the fake; a scan per row made that
//! quadratic and measured the fake instead of the client. The maps are B-trees, as the database's
//! own indexes are: a hash map doubles all at once, and at a million rows that pause (about half
//! a second) filled the client's read-ahead, so the benchmark measured the fake's rehash.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::cell::Row;

/// One map per column set that was looked up (conflict targets, the primary key), built on first
/// use and kept current by appends, merges and updates. A delete that moves rows clears them.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyIndexes {
    by_columns: HashMap<Vec<String>, BTreeMap<String, usize>>,
}

/// A key's values as one string. `Value` equality (what the scan compared) and
/// equality of the serialised text agree for the scalars keys hold.
fn key_text(row: &Row, cols: &[String]) -> String {
    let values: Vec<&Value> = cols
        .iter()
        .map(|c| row.get(c).unwrap_or(&Value::Null))
        .collect();
    serde_json::to_string(&values).unwrap_or_default()
}

impl KeyIndexes {
    /// Forgets every index (after a delete, a rollback, a bulk update).
    pub(crate) fn clear(&mut self) {
        self.by_columns.clear();
    }

    /// Whether no index is built.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.by_columns.is_empty()
    }

    /// The position of the first row whose `cols` equal `key`.
    pub(crate) fn find(&mut self, rows: &[Row], cols: &[String], key: &[Value]) -> Option<usize> {
        let index = self.by_columns.entry(cols.to_vec()).or_insert_with(|| {
            let mut index = BTreeMap::new();
            for (i, row) in rows.iter().enumerate() {
                index.entry(key_text(row, cols)).or_insert(i);
            }
            index
        });
        let key: Vec<&Value> = key.iter().collect();
        index
            .get(&serde_json::to_string(&key).unwrap_or_default())
            .copied()
    }

    /// Records the row just appended at `rows.len() - 1`.
    pub(crate) fn appended(&mut self, rows: &[Row]) {
        let (Some(row), i) = (rows.last(), rows.len().saturating_sub(1)) else {
            return;
        };
        for (cols, index) in &mut self.by_columns {
            index.entry(key_text(row, cols)).or_insert(i);
        }
    }

    /// Records that the row at `i` changed from `old` to `new`.
    pub(crate) fn changed(&mut self, i: usize, old: &Row, new: &Row) {
        for (cols, index) in &mut self.by_columns {
            let (was, now) = (key_text(old, cols), key_text(new, cols));
            if was != now {
                if index.get(&was) == Some(&i) {
                    index.remove(&was);
                }
                index.entry(now).or_insert(i);
            }
        }
    }
}
