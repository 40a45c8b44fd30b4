//! What the fake holds: its layers and their features, the tokens it issued, its fault and
//! failure rules. A layer's features are held compactly: each as its JSON text (a tree of values per feature
//! would hold tens of kilobytes each, far too much for a million), parsed when read. Queries on
//! `field = x` or `field IN (...)` use an index on that field, built the first time it is asked
//! for and kept up to date, so an upsert's lookups cost what they find, not the layer's size.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{json, Map, Value};

use super::sql::Where;
use super::{Fault, FeatureFailure, OBJECT_ID_FIELD};
use crate::types::{Feature, Geometry};

/// A value as the fake's `where` compares it: numbers by value, text exactly, nothing else.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Number(u64),
    Text(String),
}

impl Key {
    fn of(value: &Value) -> Option<Self> {
        match value {
            // `-0.0 == 0.0` in the comparison, so both are one key.
            Value::Number(n) => n.as_f64().map(|f| Key::Number((f + 0.0).to_bits())),
            Value::String(s) => Some(Key::Text(s.clone())),
            _ => None,
        }
    }
}

/// The value `where` reads for `field`: the first attribute whose name matches, ignoring case.
fn attribute<'a>(attributes: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(field))
        .map(|(_, v)| v)
}

#[derive(Debug, Default)]
pub(crate) struct FeatureStore {
    /// Object id → the feature's JSON text.
    texts: BTreeMap<i64, Box<str>>,
    /// Lowercased field name → key → object ids. B-trees, as a database's indexes are: a hash map
    /// doubles all at once, a pause that at a million features measured the fake, not the client.
    indexes: HashMap<String, BTreeMap<Key, BTreeSet<i64>>>,
}

fn parse(text: &str) -> Feature {
    // Stored by `put` from a Feature: always reads back.
    serde_json::from_str(text).unwrap_or_default()
}

impl FeatureStore {
    pub(crate) fn contains_key(&self, oid: &i64) -> bool {
        self.texts.contains_key(oid)
    }

    pub(crate) fn get(&self, oid: &i64) -> Option<Feature> {
        self.texts.get(oid).map(|t| parse(t))
    }

    pub(crate) fn clear(&mut self) {
        self.texts.clear();
        self.indexes.clear();
    }

    /// Every feature, in object id order.
    pub(crate) fn values(&self) -> impl Iterator<Item = Feature> + '_ {
        self.texts.values().map(|t| parse(t))
    }

    /// Stores `feature` under `oid`, replacing what was there.
    pub(crate) fn insert(&mut self, oid: i64, feature: &Feature) {
        self.remove(&oid);
        for (field, index) in &mut self.indexes {
            if let Some(key) = attribute(&feature.attributes, field).and_then(Key::of) {
                index.entry(key).or_default().insert(oid);
            }
        }
        let text = serde_json::to_string(feature).unwrap_or_default();
        self.texts.insert(oid, text.into_boxed_str());
    }

    pub(crate) fn remove(&mut self, oid: &i64) -> Option<Feature> {
        let old = parse(&self.texts.remove(oid)?);
        for (field, index) in &mut self.indexes {
            if let Some(key) = attribute(&old.attributes, field).and_then(Key::of) {
                if let Some(ids) = index.get_mut(&key) {
                    ids.remove(oid);
                    if ids.is_empty() {
                        index.remove(&key);
                    }
                }
            }
        }
        Some(old)
    }

    /// The object ids of the features `w` matches (among `ids`, when given), in order. Only
    /// features `w` may match are read: none for `1=1`, the index's hits for `field IN (...)`.
    pub(crate) fn matching_ids(&mut self, w: &Where, ids: Option<&[i64]>) -> Vec<i64> {
        let keep = |oid: &i64| ids.is_none_or(|ids| ids.contains(oid));
        let candidates: Vec<i64> = match w.indexable() {
            Some((field, values)) => {
                let index = self.index(field);
                let mut found = BTreeSet::new();
                for key in values.iter().filter_map(Key::of) {
                    if let Some(ids) = index.get(&key) {
                        found.extend(ids);
                    }
                }
                found.into_iter().filter(keep).collect()
            }
            None => self.texts.keys().copied().filter(keep).collect(),
        };
        if w.is_always_true() {
            return candidates;
        }
        candidates
            .into_iter()
            .filter(|oid| {
                self.texts
                    .get(oid)
                    .is_some_and(|t| w.matches(&parse(t).attributes))
            })
            .collect()
    }

    fn index(&mut self, field: &str) -> &BTreeMap<Key, BTreeSet<i64>> {
        let name = field.to_ascii_lowercase();
        if !self.indexes.contains_key(&name) {
            let mut index: BTreeMap<Key, BTreeSet<i64>> = BTreeMap::new();
            for (oid, text) in &self.texts {
                let f = parse(text);
                if let Some(key) = attribute(&f.attributes, &name).and_then(Key::of) {
                    index.entry(key).or_default().insert(*oid);
                }
            }
            self.indexes.insert(name.clone(), index);
        }
        &self.indexes[&name]
    }
}

/// A layer or table of the fake service, with its features.
pub(crate) struct FakeLayer {
    pub(crate) id: u32,
    pub(crate) name: String,
    pub(crate) is_table: bool,
    pub(crate) geometry_type: Option<String>,
    pub(crate) fields: Vec<Value>,
    pub(crate) max_record_count: u32,
    pub(crate) supports_truncate: bool,
    pub(crate) features: FeatureStore,
    pub(crate) next_oid: i64,
}

/// Do the work, then answer `status` (ArcGIS-specific: the case where re-sending adds would
/// duplicate them).
pub(crate) struct ApplyThenFail {
    pub(crate) operation: String,
    pub(crate) status: u16,
    pub(crate) remaining: usize,
}

/// Everything the fake holds: its layers, the tokens it issued, its fault and failure rules.
pub(crate) struct State {
    pub(crate) layers: Vec<FakeLayer>,
    pub(crate) tokens: HashMap<String, u64>,
    pub(crate) tokens_issued: u64,
    pub(crate) token_ttl_ms: Option<u64>,
    pub(crate) require_token: bool,
    pub(crate) apply_then_fail: Vec<ApplyThenFail>,
    /// Faults waiting for their turn: (path part, matching calls still to answer normally, fault).
    pub(crate) deferred: Vec<(String, usize, Fault)>,
    pub(crate) failures: Vec<FeatureFailure>,
    pub(crate) edit_calls: usize,
    pub(crate) no_log: bool,
}

impl State {
    pub(crate) fn layer_mut(&mut self, id: u32) -> Option<&mut FakeLayer> {
        self.layers.iter_mut().find(|l| l.id == id)
    }
}

impl FakeLayer {
    /// Stores a feature as an add does (the next object id, no shape for a table row or a
    /// `"geometry": null`); returns its object id.
    pub(crate) fn insert(&mut self, mut f: Feature) -> i64 {
        let oid = self.next_oid;
        self.next_oid += 1;
        f.attributes.insert(OBJECT_ID_FIELD.into(), json!(oid));
        // A `"geometry": null` add stores a feature without a shape, as a missing key does.
        if self.is_table || f.geometry.as_ref().is_some_and(Geometry::is_null) {
            f.geometry = None;
        }
        self.features.insert(oid, &f);
        oid
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn feature(v: Value) -> Feature {
        Feature::new(v.as_object().unwrap().clone())
    }

    #[test]
    fn an_indexed_query_finds_what_a_scan_finds_after_every_kind_of_change() {
        let mut store = FeatureStore::default();
        store.insert(1, &feature(json!({"ID": "a", "n": 5})));
        store.insert(2, &feature(json!({"id": "b", "n": 5.0})));
        let w = |s: &str| Where::parse(s).unwrap();
        // The index is built here, then kept up to date by the changes below.
        assert_eq!(store.matching_ids(&w("id IN ('a','b','c')"), None), [1, 2]);
        assert_eq!(store.matching_ids(&w("n = 5"), None), [1, 2]);
        assert_eq!(store.matching_ids(&w("n = '5'"), None), Vec::<i64>::new());
        store.insert(3, &feature(json!({"id": "c", "n": -0.0})));
        store.insert(1, &feature(json!({"id": "z", "n": 0})));
        store.remove(&2);
        assert_eq!(store.matching_ids(&w("id IN ('a','b','c')"), None), [3]);
        assert_eq!(store.matching_ids(&w("n = 0"), None), [1, 3]);
        assert_eq!(
            store.matching_ids(&w("n = 0 AND id <> 'z'"), Some(&[1, 3])),
            [3]
        );
        assert_eq!(store.matching_ids(&w("1=1"), Some(&[3])), [3]);
        assert_eq!(store.get(&1).unwrap().attributes["id"], "z");
        assert_eq!(store.values().count(), 2);
    }
}
