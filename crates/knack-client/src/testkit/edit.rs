//! Changing a container's records while a read is under way ([`RecordsEdit`], handed to the hooks
//! of [`FakeKnack::before_page`](super::FakeKnack::before_page)), and the order a sorted read
//! shows them in.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::server::with_raw_twins;
use super::store::{Sort, State, Stored};

/// One container's records, to change as a person editing the app would: delete, create, edit.
/// Every change is seen by the pages answered after it (Knack computes each page when it is
/// asked for).
pub struct RecordsEdit<'a> {
    pub(super) state: &'a mut State,
    pub(super) path: String,
}

impl std::fmt::Debug for RecordsEdit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordsEdit")
            .field("container", &self.path)
            .finish_non_exhaustive()
    }
}

impl RecordsEdit<'_> {
    /// How many records the container holds.
    pub fn len(&self) -> usize {
        self.state.records_of(&self.path).len()
    }

    /// Whether the container holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The record ids, in stored order (the order of an unsorted read).
    pub fn ids(&self) -> Vec<String> {
        self.state
            .records_of(&self.path)
            .iter()
            .filter_map(|r| r.id.clone())
            .collect()
    }

    /// Deletes record `id`; false when there is none.
    pub fn delete(&mut self, id: &str) -> bool {
        let records = self.state.records_mut(&self.path);
        match records.iter().position(|r| r.id.as_deref() == Some(id)) {
            Some(pos) => {
                records.remove(pos);
                true
            }
            None => false,
        }
    }

    /// Creates a record at `index` of the stored order (the end when past it), with a new id
    /// unless it has one; returns its id.
    pub fn insert(&mut self, index: usize, record: Value) -> String {
        let record = self.state.with_id(record);
        let id = record
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let records = self.state.records_mut(&self.path);
        let index = index.min(records.len());
        records.insert(index, Stored::new(&record));
        id
    }

    /// Creates a record after the others, as Knack does; returns its id.
    pub fn push(&mut self, record: Value) -> String {
        self.insert(usize::MAX, record)
    }

    /// Changes the fields given of record `id` (a `field_N` is stored as its `_raw` twin too,
    /// unless both are given), as Knack's PUT does; false when there is none.
    pub fn update(&mut self, id: &str, fields: Map<String, Value>) -> bool {
        let records = self.state.records_mut(&self.path);
        let Some(stored) = records.iter_mut().find(|r| r.id.as_deref() == Some(id)) else {
            return false;
        };
        let mut record = stored.value();
        if let Value::Object(map) = &mut record {
            map.extend(
                with_raw_twins(fields)
                    .into_iter()
                    .filter(|(k, _)| k != "id"),
            );
        }
        *stored = Stored::new(&record);
        true
    }
}

/// A value as a sorted read compares it: a date by its timestamp, a number, or text.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum Key {
    Blank,
    Number(f64),
    Text(String),
}

/// The sort key of a record kept as text: its field's `_raw` value, else its display value.
fn key_of(text: &str, field: &str) -> Key {
    let raw_key = format!("{field}_raw");
    let value: Value = match serde_json::from_str::<HashMap<&str, &RawValue>>(text) {
        Ok(all) => all
            .get(raw_key.as_str())
            .or_else(|| all.get(field))
            .and_then(|v| serde_json::from_str(v.get()).ok())
            .unwrap_or_default(),
        // A key with an escape cannot be borrowed: read the whole record.
        Err(_) => {
            let all: Map<String, Value> = serde_json::from_str(text).unwrap_or_default();
            all.get(&raw_key)
                .or_else(|| all.get(field))
                .cloned()
                .unwrap_or_default()
        }
    };
    match value {
        Value::Number(n) => Key::Number(n.as_f64().unwrap_or_default()),
        Value::String(s) if s.is_empty() => Key::Blank,
        Value::String(s) => Key::Text(s.to_lowercase()),
        Value::Object(o) => match o.get("unix_timestamp").and_then(Value::as_f64) {
            Some(t) => Key::Number(t),
            None => Key::Blank,
        },
        Value::Bool(b) => Key::Number(f64::from(u8::from(b))),
        Value::Null | Value::Array(_) => Key::Blank,
    }
}

/// `indexes` (into `records`) put in `sort`'s order; records with equal keys keep their stored
/// order.
pub(super) fn sorted(records: &[Stored], mut indexes: Vec<usize>, sort: &Sort) -> Vec<usize> {
    let keys: HashMap<usize, Key> = indexes
        .iter()
        .map(|&i| (i, key_of(records[i].text().get(), &sort.field)))
        .collect();
    indexes.sort_by(|a, b| {
        let order = keys[a].partial_cmp(&keys[b]).unwrap_or(Ordering::Equal);
        if sort.descending {
            order.reverse()
        } else {
            order
        }
    });
    indexes
}
