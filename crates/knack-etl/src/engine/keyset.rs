//! The record ids a full replace wrote, held compactly.

use std::collections::{HashMap, HashSet};

/// Record ids a full replace wrote, so that once every batch is in it can
/// tell which of the destination's rows the source no longer has.
///
/// This is the one thing a pipeline holds that grows with the dataset (the
/// PostgREST store judges staleness by its own clock instead). Knack ids are
/// 24 lowercase hex digits and are kept as 12 bytes in a list that is sorted
/// when it is read: 12 bytes a record (up to twice that while the list grows:
/// 12 to 24 MB for a million records), where a hash set took 27 to 40 and a
/// `String` about 80. Any other id is kept as text.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    /// `knack[..sorted]` is sorted and without repeats; the rest as inserted.
    knack: Vec<[u8; 12]>,
    sorted: usize,
    other: HashSet<Box<str>>,
}

/// A Knack record id's 12 bytes. Only lowercase hex is packed, so two
/// different strings never share a packed form.
fn packed(id: &str) -> Option<[u8; 12]> {
    let digits = id.as_bytes();
    if digits.len() != 24 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 12];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

impl KeySet {
    /// An empty set.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds an id.
    pub(crate) fn insert(&mut self, id: &str) {
        match packed(id) {
            Some(p) => self.knack.push(p),
            None => {
                self.other.insert(id.into());
            }
        }
    }

    /// Sorts what was inserted since the last call, so that [`KeySet::contains`] is a binary
    /// search. Call it once every id is in; `contains` is right without it, only slower.
    pub(crate) fn seal(&mut self) {
        if self.sorted < self.knack.len() {
            self.knack.sort_unstable();
            self.knack.dedup();
            self.knack.shrink_to_fit();
            self.sorted = self.knack.len();
        }
    }

    /// Whether the id was inserted.
    pub(crate) fn contains(&self, id: &str) -> bool {
        match packed(id) {
            Some(p) => self.contains_packed(&p),
            None => self.other.contains(id),
        }
    }

    /// Whether the Knack id with these 12 bytes was inserted.
    fn contains_packed(&self, p: &[u8; 12]) -> bool {
        let (sorted, rest) = self.knack.split_at(self.sorted);
        sorted.binary_search(p).is_ok() || rest.contains(p)
    }

    /// The ids inserted here that `other` lacks (both sealed first for speed).
    pub(crate) fn not_in(&mut self, other: &mut KeySet) -> Vec<String> {
        self.seal();
        other.seal();
        let knack = self
            .knack
            .iter()
            .filter(|p| !other.contains_packed(p))
            .map(|p| p.iter().map(|b| format!("{b:02x}")).collect::<String>());
        let rest = self
            .other
            .iter()
            .filter(|id| !other.contains(id))
            .map(|id| id.to_string());
        knack.chain(rest).collect()
    }

    #[cfg(test)]
    pub(crate) fn len(&mut self) -> usize {
        self.seal();
        self.knack.len() + self.other.len()
    }
}

/// Matching keys → AGOL object ids, with Knack ids held as 12 bytes (about 24 bytes an entry
/// with the table's overhead, where a `String` key took about 100): a replace holds every
/// feature's key, a million at a million records.
#[derive(Debug, Default)]
pub(crate) struct KeyMap {
    knack: HashMap<[u8; 12], i64>,
    other: HashMap<Box<str>, i64>,
}

impl KeyMap {
    /// Sets `key`'s object id.
    pub(crate) fn insert(&mut self, key: &str, oid: i64) {
        match packed(key) {
            Some(p) => {
                self.knack.insert(p, oid);
            }
            None => {
                self.other.insert(key.into(), oid);
            }
        }
    }

    /// `key`'s object id.
    pub(crate) fn get(&self, key: &str) -> Option<i64> {
        match packed(key) {
            Some(p) => self.knack.get(&p).copied(),
            None => self.other.get(key).copied(),
        }
    }

    /// How many keys.
    pub(crate) fn len(&self) -> usize {
        self.knack.len() + self.other.len()
    }

    /// The object ids whose key `written` lacks.
    pub(crate) fn missing_from(&self, written: &KeySet) -> Vec<i64> {
        let knack = self
            .knack
            .iter()
            .filter(|(key, _)| !written.contains_packed(key))
            .map(|(_, oid)| *oid);
        let other = self
            .other
            .iter()
            .filter(|(key, _)| !written.contains(key))
            .map(|(_, oid)| *oid);
        knack.chain(other).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knack_ids_and_other_ids_are_both_remembered_and_never_confused() {
        let mut set = KeySet::new();
        set.insert("5f1a2b3c4d5e6f7081920a1b");
        set.insert("5F1A2B3C4D5E6F7081920A1C");
        set.insert("row-7");
        set.insert("5f1a2b3c4d5e6f7081920a1b");
        // Found before and after sealing (a linear scan, then a binary search).
        assert!(set.contains("5f1a2b3c4d5e6f7081920a1b"));
        assert_eq!(set.len(), 3, "a repeated id counts once");
        set.insert("00000000000000000000000a");
        assert!(set.contains("00000000000000000000000a"));
        set.seal();
        assert!(set.contains("00000000000000000000000a"));
        assert!(set.contains("5f1a2b3c4d5e6f7081920a1b"));
        assert!(set.contains("5F1A2B3C4D5E6F7081920A1C"));
        assert!(set.contains("row-7"));
        assert!(
            !set.contains("5f1a2b3c4d5e6f7081920a1c"),
            "upper and lower case are different ids"
        );
        assert!(!set.contains("5f1a2b3c4d5e6f7081920a1"));
        assert!(!set.contains(""));
        let mut other = KeySet::new();
        other.insert("5f1a2b3c4d5e6f7081920a1b");
        other.insert("row-8");
        let mut lacking = set.not_in(&mut other);
        lacking.sort();
        assert_eq!(
            lacking,
            [
                "00000000000000000000000a",
                "5F1A2B3C4D5E6F7081920A1C",
                "row-7"
            ],
            "a packed id reads back as the text it was"
        );
    }

    #[test]
    fn packing_is_exact() {
        assert_eq!(
            packed("00ff10ab000000000000000f"),
            Some([0x00, 0xff, 0x10, 0xab, 0, 0, 0, 0, 0, 0, 0, 0x0f])
        );
        assert_eq!(packed("00ff10ab000000000000000g"), None);
        assert_eq!(packed("00ff10ab00000000000000"), None);
    }

    #[test]
    fn a_key_map_finds_packed_and_other_keys_and_what_was_not_written() {
        let mut map = KeyMap::default();
        map.insert("5f1a2b3c4d5e6f7081920a1b", 1);
        map.insert("5f1a2b3c4d5e6f7081920a1c", 2);
        map.insert("007", 3);
        map.insert("5f1a2b3c4d5e6f7081920a1b", 4);
        assert_eq!(map.len(), 3);
        assert_eq!(map.get("5f1a2b3c4d5e6f7081920a1b"), Some(4));
        assert_eq!(map.get("007"), Some(3));
        assert_eq!(map.get("7"), None);
        let mut written = KeySet::new();
        written.insert("5f1a2b3c4d5e6f7081920a1b");
        written.seal();
        let mut missing = map.missing_from(&written);
        missing.sort_unstable();
        assert_eq!(missing, [2, 3]);
    }
}
