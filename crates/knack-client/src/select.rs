//! Reading only the values a formatter uses out of a record's JSON text.
//!
//! A full-size Knack record holds every field twice (`field_N` as display HTML, `field_N_raw`
//! typed) and the formatter reads one of the two. Parsing the whole text into a tree of values
//! costs hundreds of allocations a record; [`RecordSelector::read`] skips every value it does not
//! need (validating it, without building anything) and parses only the rest.

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::format_text::format_text;
use crate::{Error, Formatter, Record};

/// Reads, out of a record's JSON text, a [`Record`] holding only the keys that
/// [`Formatter::format`] reads and, for each extra field, the key `raw_field_value`-style
/// readers use (`field_N_raw`, else `field_N`). Formatting that record gives exactly what
/// formatting the whole record gives.
///
/// Build one per run with [`Formatter::selector`].
#[derive(Debug, Clone)]
pub struct RecordSelector {
    formatter: Formatter,
    /// JSON key → slot, for keys [`field_slot_index`] does not cover.
    slots: HashMap<String, usize>,
    /// `field_N` → slot at `[N][0]`, `field_N_raw` at `[N][1]`: found by reading the number,
    /// without hashing (a record's every key is looked up).
    by_number: Vec<[Option<usize>; 2]>,
    /// Slot → JSON key.
    keys: Vec<String>,
    /// For each value read: its candidate slots, the first one present wins.
    rules: Vec<Vec<usize>>,
}

impl Formatter {
    /// A reader of records' JSON text that parses only the values [`Formatter::format`] reads,
    /// and for each of `extra_fields` (field keys) `field_N_raw`, else `field_N`: what a
    /// publisher reads for a location field. Formatting what it reads gives exactly what
    /// formatting the whole record gives, at a fraction of the parsing.
    pub fn selector(&self, extra_fields: &[&str]) -> RecordSelector {
        RecordSelector::new(self, extra_fields)
    }
}

impl RecordSelector {
    fn slot(&mut self, key: String) -> usize {
        if let Some(slot) = self.lookup(&key) {
            return slot;
        }
        let slot = self.keys.len();
        match field_slot_index(&key) {
            Some((n, raw)) => {
                if self.by_number.len() <= n {
                    self.by_number.resize(n + 1, [None, None]);
                }
                self.by_number[n][raw] = Some(slot);
            }
            None => {
                self.slots.insert(key.clone(), slot);
            }
        }
        self.keys.push(key);
        slot
    }

    /// The slot of a record's key, if it is read.
    fn lookup(&self, key: &str) -> Option<usize> {
        match field_slot_index(key) {
            Some((n, raw)) => self.by_number.get(n).and_then(|slots| slots[raw]),
            None => self.slots.get(key).copied(),
        }
    }

    pub(crate) fn new(formatter: &Formatter, extra_fields: &[&str]) -> Self {
        let mut selector = Self {
            formatter: formatter.clone(),
            slots: HashMap::new(),
            by_number: Vec::new(),
            keys: Vec::new(),
            rules: Vec::new(),
        };
        for field in formatter.fields() {
            let display = selector.slot(field.key.clone());
            let rule = if field.field_type.uses_knack_format() {
                vec![display]
            } else {
                vec![selector.slot(format!("{}_raw", field.key)), display]
            };
            selector.rules.push(rule);
        }
        for field in extra_fields {
            let raw = selector.slot(format!("{field}_raw"));
            let display = selector.slot((*field).to_string());
            selector.rules.push(vec![raw, display]);
        }
        selector
    }

    /// The record parsed from `text`, holding only the selected keys.
    ///
    /// A key that occurs twice keeps its last value, as a full parse does.
    ///
    /// # Errors
    /// When `text` is not a JSON object.
    pub fn read(&self, text: &str) -> serde_json::Result<Record> {
        let found = self.find(text)?;
        let mut taken = vec![false; self.keys.len()];
        let mut record = Map::new();
        for rule in &self.rules {
            let Some(&slot) = rule.iter().find(|&&s| found[s].is_some()) else {
                continue;
            };
            if std::mem::replace(&mut taken[slot], true) {
                continue;
            }
            if let Some(raw) = found[slot] {
                let value: Value = serde_json::from_str(raw.get())?;
                record.insert(self.keys[slot].clone(), value);
            }
        }
        Ok(Record::new(record))
    }
}

impl RecordSelector {
    /// Each slot's value in `text`, still as borrowed text (nothing parsed).
    fn find<'t>(&self, text: &'t str) -> serde_json::Result<Vec<Option<&'t RawValue>>> {
        let mut de = serde_json::Deserializer::from_str(text);
        let found = Found {
            selector: self,
            values: vec![None; self.keys.len()],
        }
        .deserialize(&mut de)?;
        de.end()?;
        Ok(found)
    }

    /// Formats a record straight from its JSON text: what [`Formatter::format`] gives for the
    /// parsed record, as one value per [`Formatter::fields`] entry (in that order, without the
    /// labels), and the extra fields' values as [`RecordSelector::read`] keeps them. Values the
    /// formatter does not read are never parsed, and the usual shapes of a date, address,
    /// connection, choice list or one-member type (email, link, phone, ...) are read member by
    /// member, without building the value's tree.
    ///
    /// # Errors
    /// [`Error::Decode`] when `text` is not a JSON object; [`Error::MissingField`] as
    /// [`Formatter::format`].
    pub fn format(&self, text: &str) -> crate::Result<FormattedValues> {
        let decode = |e: serde_json::Error| Error::Decode {
            path: "a record's JSON text".into(),
            message: e.to_string(),
        };
        let found = self.find(text).map_err(decode)?;
        let fields = self.formatter.fields();
        let first = |rule: &[usize]| rule.iter().find_map(|&s| found[s]);
        let mut values = Vec::with_capacity(fields.len());
        for (field, rule) in fields.iter().zip(&self.rules) {
            let Some(raw) = first(rule) else {
                let id = fields
                    .first()
                    .and_then(|f| self.lookup(&f.key))
                    .and_then(|s| found[s])
                    .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok());
                return Err(Error::MissingField {
                    record_id: id.unwrap_or_default(),
                    field: field.key.clone(),
                    label: field.label.clone(),
                });
            };
            let value = format_text(&field.field_type, raw.get(), self.formatter.timezone())
                .map_err(decode)?;
            values.push(value);
        }
        let extras = self.rules[fields.len()..]
            .iter()
            .map(|rule| {
                first(rule)
                    .map(|raw| serde_json::from_str(raw.get()))
                    .transpose()
            })
            .collect::<serde_json::Result<Vec<Option<Value>>>>()
            .map_err(decode)?;
        Ok(FormattedValues { values, extras })
    }
}

/// A record formatted from its text by [`RecordSelector::format`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FormattedValues {
    /// One formatted value per [`Formatter::fields`] entry, in that order (the first is the
    /// record id).
    pub values: Vec<Value>,
    /// Per extra field given to [`Formatter::selector`]: `field_N_raw`, else `field_N`, as
    /// stored (unformatted); `None` when the record has neither.
    pub extras: Vec<Option<Value>>,
}

/// `field_N` → `(N, 0)`, `field_N_raw` → `(N, 1)`, for N written without leading zeros (so
/// that `field_07` stays a key of its own); `None` for any other key. N is capped so that a
/// stray huge number cannot size a table.
fn field_slot_index(key: &str) -> Option<(usize, usize)> {
    let rest = key.strip_prefix("field_")?;
    let (digits, raw) = match rest.strip_suffix("_raw") {
        Some(digits) => (digits, 1),
        None => (rest, 0),
    };
    let canonical = !digits.is_empty()
        && digits.len() <= 6
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    canonical
        .then(|| digits.parse().ok())
        .flatten()
        .map(|n| (n, raw))
}

/// The seed that collects the selected values, still as borrowed text.
struct Found<'s, 'de> {
    selector: &'s RecordSelector,
    values: Vec<Option<&'de RawValue>>,
}

impl<'de> DeserializeSeed<'de> for Found<'_, 'de> {
    type Value = Vec<Option<&'de RawValue>>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Found<'_, 'de> {
    type Value = Vec<Option<&'de RawValue>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Knack record (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Self::Value, A::Error> {
        while let Some(slot) = map.next_key_seed(KeySlot(self.selector))? {
            match slot {
                Some(slot) => self.values[slot] = Some(map.next_value()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(self.values)
    }
}

/// A key looked up without allocating: its slot, or `None` for a key nobody reads.
struct KeySlot<'s>(&'s RecordSelector);

impl<'de> DeserializeSeed<'de> for KeySlot<'_> {
    type Value = Option<usize>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySlot<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.lookup(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Container, Metadata};

    #[test]
    fn reads_what_format_reads_and_the_extra_fields() {
        let metadata = Metadata::from_json(serde_json::json!({"application": {
            "id": "app", "name": "A", "settings": {"timezone": "America/Chicago"},
            "objects": [{"key": "object_1", "name": "O", "fields": [
                {"key": "field_1", "name": "Name", "type": "short_text"},
                {"key": "field_2", "name": "Where", "type": "address"}
            ]}],
            "scenes": []
        }}))
        .unwrap();
        let formatter = Formatter::new(&metadata, &Container::object("object_1").unwrap()).unwrap();
        let selector = formatter.selector(&["field_2"]);
        // field_1_raw is missing (display used); field_2_raw given twice (the last wins);
        // the unread display value of field_2 and an unknown key are skipped.
        let text = r#"{"id":"r1","field_1":"a\"b","field_2":"<b>x</b>","field_2_raw":{"city":"X"},
            "field_2_raw":{"city":"Austin","latitude":30.2},"other":[1,{"z":null}]}"#;
        let sparse = selector.read(text).unwrap();
        assert_eq!(field_slot_index("field_12_raw"), Some((12, 1)));
        assert_eq!(field_slot_index("field_12"), Some((12, 0)));
        for other in [
            "field_012",
            "field_",
            "field_x_raw",
            "field_+1",
            "id",
            "field_1234567",
        ] {
            assert_eq!(field_slot_index(other), None, "{other}");
        }
        let full: Record = serde_json::from_str(text).unwrap();
        assert_eq!(
            formatter.format(&sparse).unwrap(),
            formatter.format(&full).unwrap()
        );
        let mut keys: Vec<_> = sparse.raw().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["field_1", "field_2_raw", "id"]);
        assert_eq!(sparse.raw()["field_2_raw"]["city"], "Austin");
        assert!(selector.read("[1]").is_err());
        assert!(selector.read(r#"{"id":"r1","x":[}"#).is_err());
    }

    #[test]
    fn a_date_is_formatted_from_its_stamp_as_a_full_parse_formats_it() {
        let metadata = Metadata::from_json(serde_json::json!({"application": {
            "id": "app", "name": "A", "settings": {"timezone": "America/Chicago"},
            "objects": [{"key": "object_1", "name": "O", "fields": [
                {"key": "field_1", "name": "When", "type": "date_time"}
            ]}],
            "scenes": []
        }}))
        .unwrap();
        let formatter = Formatter::new(&metadata, &Container::object("object_1").unwrap()).unwrap();
        let selector = formatter.selector(&[]);
        let date = |stamps: &str| {
            format!(
                r#"{{"id":"r1","field_1":"<b>x</b>","field_1_raw":{{"date":"05/01/2024",
                "hours":"10","am_pm":"AM",{stamps},"timestamp":"05/01/2024 10:00 am"}}}}"#
            )
        };
        let iso = Value::from("2024-05-01T10:00:00-05:00");
        for (text, formatted) in [
            (date(r#""unix_timestamp":1714557600000"#), &iso),
            // Twice: the last one wins, as in a full parse.
            (
                date(r#""unix_timestamp":1,"unix_timestamp":1714557600000"#),
                &iso,
            ),
            // Not a number: the object is kept as it is, by both paths.
            (
                date(r#""unix_timestamp":"1714557600000""#),
                &serde_json::from_str::<Value>(&date(r#""unix_timestamp":"1714557600000""#))
                    .unwrap()["field_1_raw"],
            ),
        ] {
            let full: Record = serde_json::from_str(&text).unwrap();
            let expected: Vec<Value> = formatter.format(&full).unwrap().into_values().collect();
            let values = selector.format(&text).unwrap().values;
            assert_eq!(values, expected, "{text}");
            assert_eq!(&values[1], formatted);
        }
    }
}
