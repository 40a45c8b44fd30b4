//! An ArcGIS Online layer or table as a [`Sink`] of features.

use std::collections::HashMap;

use agol_client::{sql_quote, Edits, Feature, Layer, Query};
use async_trait::async_trait;
use futures::TryStreamExt;
use serde_json::Value;

use crate::keyset::KeySet;
use crate::stage::{BatchOutcome, Sink, WriteMode};
use crate::Error;

/// Upserts features by a matching attribute (the Knack record id, `id`, by
/// default).
///
/// The original deleted every feature (or every feature of the run's ids)
/// and then added the new ones 50 at a time without rollback, so a failure
/// half-way left the public layer missing features. This sink instead looks
/// up the features already there (all of them for a replace, which must
/// know what to delete at the end; only each batch's own keys for an upsert,
/// so an incremental run costs what it changes), sends each batch as one `applyEdits` with
/// updates for known keys and adds for new ones and `rollbackOnFailure=true`
/// (a batch applies fully or not at all), and, for a replace, deletes the
/// features the run did not write only after every batch succeeded.
///
/// Deleting and re-adding also dropped the point of a record whose address
/// was emptied; an update without a `geometry` key would keep it, so with
/// [`AgolSink::clear_missing_geometry`] an update of a layer's feature that has
/// no geometry sends `"geometry": null` to reach the same end state.
#[derive(Debug)]
pub struct AgolSink {
    layer: Layer,
    matching_field: String,
    batch_size: usize,
    clear_missing_geometry: bool,
    /// Matching key → object id of every feature in the layer, for a replace.
    existing: HashMap<String, i64>,
    /// Whether `existing` was loaded (a replace); an upsert looks up each
    /// batch's keys instead.
    preloaded: bool,
    written: KeySet,
}

impl AgolSink {
    /// A sink for `layer`, matching features on `matching_field`.
    pub fn new(layer: Layer, matching_field: &str, batch_size: usize) -> Self {
        Self {
            layer,
            matching_field: matching_field.to_string(),
            batch_size: batch_size.max(1),
            clear_missing_geometry: false,
            existing: HashMap::new(),
            preloaded: false,
            written: KeySet::new(),
        }
    }

    /// Whether an update without a geometry clears the feature's stored
    /// shape (`"geometry": null`) instead of keeping it. Set it when the
    /// features get their geometry from a location field, so the layer always
    /// shows the record's current address; tables are never sent a geometry.
    pub fn clear_missing_geometry(mut self, yes: bool) -> Self {
        self.clear_missing_geometry = yes;
        self
    }

    /// Tables have no `geometryType`, and must not be sent a geometry.
    fn clears_geometry(&self) -> bool {
        self.clear_missing_geometry && self.layer.info().geometry_type.is_some()
    }

    /// The object ids of the features whose matching value is one of `keys`.
    async fn lookup(&self, keys: &[&str]) -> Result<HashMap<String, i64>, Error> {
        let mut found = HashMap::new();
        if keys.is_empty() {
            return Ok(found);
        }
        let numeric = self
            .layer
            .info()
            .fields
            .iter()
            .find(|f| f.name == self.matching_field)
            .is_some_and(|f| NUMERIC_TYPES.contains(&f.field_type.as_str()));
        let list: Vec<String> = keys.iter().map(|k| key_literal(k, numeric)).collect();
        let oid_field = self.object_id_field();
        let query = Query::new()
            .where_clause(format!("{} IN ({})", self.matching_field, list.join(",")))
            .out_fields([oid_field.clone(), self.matching_field.clone()])
            .return_geometry(false);
        let mut pages = Box::pin(self.layer.pages(query));
        while let Some(page) = pages.try_next().await? {
            for feature in page {
                if let (Some(key), Some(oid)) = (
                    key_of(feature.attributes.get(&self.matching_field)),
                    feature.integer(&oid_field),
                ) {
                    found.insert(key, oid);
                }
            }
        }
        Ok(found)
    }

    fn object_id_field(&self) -> String {
        self.layer
            .info()
            .object_id_field()
            .unwrap_or("OBJECTID")
            .to_string()
    }
}

/// Field types whose values are written without quotes in ArcGIS SQL.
const NUMERIC_TYPES: [&str; 6] = [
    "esriFieldTypeSmallInteger",
    "esriFieldTypeInteger",
    "esriFieldTypeBigInteger",
    "esriFieldTypeSingle",
    "esriFieldTypeDouble",
    "esriFieldTypeOID",
];

/// A matching value as text, whatever JSON type the layer stores it as.
fn key_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[async_trait]
impl Sink<Feature> for AgolSink {
    fn describe(&self) -> String {
        format!("ArcGIS Online layer {}", self.layer.info().name)
    }

    async fn begin(&mut self, mode: WriteMode) -> Result<(), Error> {
        let oid_field = self.object_id_field();
        if !self
            .layer
            .info()
            .fields
            .iter()
            .any(|f| f.name == self.matching_field)
        {
            return Err(Error::Refused(format!(
                "{} has no field `{}` to match features on: add it (unique, holding the Knack record id) \
                 or set upsert_matching_field to an existing field",
                self.describe(),
                self.matching_field
            )));
        }
        if !mode.is_replace() {
            return Ok(());
        }
        self.preloaded = true;
        let query = Query::new()
            .where_clause("1=1")
            .out_fields([oid_field.clone(), self.matching_field.clone()])
            .return_geometry(false);
        let mut pages = Box::pin(self.layer.pages(query));
        while let Some(page) = pages.try_next().await? {
            for feature in page {
                let (Some(key), Some(oid)) = (
                    key_of(feature.attributes.get(&self.matching_field)),
                    feature.integer(&oid_field),
                ) else {
                    continue;
                };
                self.existing.insert(key, oid);
            }
        }
        tracing::debug!(features = self.existing.len(), "existing features loaded");
        Ok(())
    }

    async fn write(&mut self, batch: Vec<Feature>) -> Result<BatchOutcome, Error> {
        let oid_field = self.object_id_field();
        let clear_geometry = self.clears_geometry();
        let mut outcome = BatchOutcome::default();
        let mut features = batch.into_iter().peekable();
        while features.peek().is_some() {
            let mut edits = Edits {
                rollback_on_failure: true,
                ..Edits::default()
            };
            let mut added_keys = Vec::new();
            let mut keys = Vec::new();
            let mut chunk = Vec::new();
            for feature in features.by_ref().take(self.batch_size) {
                match key_of(feature.attributes.get(&self.matching_field)) {
                    Some(key) => chunk.push((key, feature)),
                    None => {
                        tracing::warn!(field = %self.matching_field, "feature without a matching value skipped");
                        outcome.skipped += 1;
                    }
                }
            }
            let looked_up = if self.preloaded {
                HashMap::new()
            } else {
                let wanted: Vec<&str> = chunk.iter().map(|(key, _)| key.as_str()).collect();
                self.lookup(&wanted)
                    .await
                    .map_err(|e| Error::after_writing(outcome.written, e))?
            };
            for (key, mut feature) in chunk {
                let existing = if self.preloaded {
                    &self.existing
                } else {
                    &looked_up
                };
                match existing.get(&key) {
                    Some(oid) => {
                        feature
                            .attributes
                            .insert(oid_field.clone(), Value::from(*oid));
                        if clear_geometry && feature.geometry.is_none() {
                            feature = feature.with_null_geometry();
                        }
                        edits.updates.push(feature);
                    }
                    None => {
                        added_keys.push(key.clone());
                        edits.adds.push(feature);
                    }
                }
                keys.push(key);
            }
            if edits.adds.is_empty() && edits.updates.is_empty() {
                continue;
            }
            // Each call applies whole or not at all (rollbackOnFailure), so
            // the calls before a failed one are exactly what was written.
            let results = self
                .layer
                .apply_edits(&edits)
                .await
                .map_err(|e| Error::after_writing(outcome.written, e))?;
            outcome.written += keys.len() as u64;
            if !self.preloaded {
                // An upsert keeps nothing: a key seen again in a later batch is
                // looked up again and found, since it is in the layer now.
                continue;
            }
            // Remember what was added so a key seen again in this run
            // becomes an update, not a duplicate.
            for (key, result) in added_keys.into_iter().zip(&results.add_results) {
                if let Some(oid) = result.object_id {
                    self.existing.insert(key, oid);
                }
            }
            for key in &keys {
                self.written.insert(key);
            }
        }
        Ok(outcome)
    }

    async fn finish(&mut self, mode: WriteMode) -> Result<u64, Error> {
        if !mode.is_replace() {
            return Ok(0);
        }
        let stale: Vec<i64> = self
            .existing
            .iter()
            .filter(|(key, _)| !self.written.contains(key))
            .map(|(_, oid)| *oid)
            .collect();
        if stale.is_empty() {
            return Ok(0);
        }
        self.layer.delete_object_ids(&stale, true).await?;
        Ok(stale.len() as u64)
    }
}

/// A matching key as a SQL literal for the lookup's `IN (...)`: bare only when the field is
/// numeric and the key is a finite number. `"NaN"`, `"inf"` and `"infinity"` parse as `f64` but
/// written bare they are column names to ArcGIS, which would change the `where` clause's meaning.
fn key_literal(key: &str, numeric: bool) -> String {
    if numeric && key.parse::<f64>().is_ok_and(f64::is_finite) {
        key.to_string()
    } else {
        sql_quote(key)
    }
}

#[cfg(test)]
mod key_literal_tests {
    use super::key_literal;

    #[test]
    fn only_finite_numbers_go_bare_and_only_for_numeric_fields() {
        assert_eq!(key_literal("42", true), "42");
        assert_eq!(key_literal("-1.5", true), "-1.5");
        assert_eq!(key_literal("42", false), "'42'");
        for odd in ["NaN", "inf", "infinity", "-inf", "1 OR 1=1"] {
            assert_eq!(key_literal(odd, true), format!("'{odd}'"));
        }
        assert_eq!(key_literal("O'Brien", false), "'O''Brien'");
    }
}
