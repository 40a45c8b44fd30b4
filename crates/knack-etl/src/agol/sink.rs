//! An ArcGIS Online layer or table as a [`Sink`] of features.

use agol_client::{Edits, Feature, Layer, Query};
use async_trait::async_trait;
use futures::TryStreamExt;
use serde_json::Value;

use super::keys::{key_literal, key_of, raw_text, NUMERIC_TYPES};
use super::preflight::agol_problems;
use super::resolve;
use crate::engine::keyset::{KeyMap, KeySet};
use crate::engine::reject::{field_named_in, Isolation};
use crate::engine::{BatchOutcome, Rejection, Sink, WriteMode};
use crate::error::refuse;
use crate::Error;

/// Upserts features by a matching attribute (the Knack record id, `id`, by
/// default), compared by canonical value (a Double `5.0`, an Integer `5` and the text `"5"` are
/// one key).
///
/// A feature ArcGIS refuses (a value too long for its field, text that looks like HTML, a word
/// in a number field) is named in [`BatchOutcome::rejected`] with ArcGIS's own code and text and
/// the field it names; every other feature of its batch is written (the batch is halved until the
/// bad feature stands alone; see the crate README, "When a record is rejected"). In a replace, a rejected record's feature keeps its
/// previous version and is never deleted.
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
    existing: KeyMap,
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
            existing: KeyMap::default(),
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

    /// Matching values a replace must keep although this run does not write them: those another
    /// container publishing to the same layer still has.
    pub fn keep<'a>(&mut self, keys: impl IntoIterator<Item = &'a str>) {
        for key in keys {
            if let Some(key) = key_of(Some(&Value::String(key.to_string()))) {
                self.written.insert(&key);
            }
        }
    }

    /// Tables have no `geometryType`, and must not be sent a geometry.
    fn clears_geometry(&self) -> bool {
        self.clear_missing_geometry && self.layer.info().geometry_type.is_some()
    }

    /// The object ids of the features whose matching value is one of `keys`.
    pub(super) async fn lookup(&self, keys: &[&str]) -> Result<KeyMap, Error> {
        let mut found = KeyMap::default();
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
                    found.insert(&key, oid);
                }
            }
        }
        Ok(found)
    }

    /// Sends `edits` as one `applyEdits`; when ArcGIS refuses it because of some of its features,
    /// sends the halves again until every good feature is written and every bad one is named.
    ///
    /// Every request of more than one feature carries `rollbackOnFailure=true`, so each applies
    /// whole or not at all and the count of written features is exact even when an answer is
    /// lost. A single feature is sent with `rollbackOnFailure=false`: ArcGIS then answers with its
    /// own per-feature reason (code, text naming the field) instead of "Unable to complete
    /// operation." A failure that is not about the features (transient beyond the client's
    /// retries, a token, a permission) stops the run as before.
    async fn send_isolating(
        &mut self,
        edits: Vec<Edit>,
        outcome: &mut BatchOutcome,
    ) -> Result<(), Error> {
        let mut parts = Isolation::new(edits);
        let mut read_backs = 0;
        while let Some(mut part) = parts.next() {
            // The features move into the request and back out of it (a copy of each would cost
            // as much as building it), so a refused part can be split and named.
            let (mut adds, mut updates) = (Vec::new(), Vec::new());
            for edit in &mut part {
                let feature = std::mem::take(&mut edit.feature);
                if edit.add {
                    adds.push(feature);
                } else {
                    updates.push(feature);
                }
            }
            let request = Edits {
                adds,
                updates,
                rollback_on_failure: part.len() > 1,
                ..Edits::default()
            };
            let answer = self.layer.apply_edits(&request).await;
            let (mut adds, mut updates) = (request.adds.into_iter(), request.updates.into_iter());
            for edit in &mut part {
                let feature = if edit.add {
                    adds.next()
                } else {
                    updates.next()
                };
                edit.feature = feature.unwrap_or_default();
            }
            let results = match answer {
                Ok(results) => results,
                Err(e) if refused_for_its_features(&e) => {
                    if part.len() > 1 {
                        parts.split(part);
                    } else {
                        let edit = &part[0];
                        let rejection = rejection(edit, &e);
                        // Still in the source: a replace must keep its previous version.
                        self.written.insert(&edit.key);
                        outcome.rejected.push(rejection);
                    }
                    continue;
                }
                // Lost or failed with adds: read back what landed, send the rest (resolve.rs).
                Err(e)
                    if read_backs < resolve::MAX_ROUNDS
                        && part.iter().any(|e| e.add)
                        && resolve::outcome_unknown(&e) =>
                {
                    read_backs += 1;
                    resolve::read_back(self, &mut part, &e)
                        .await
                        .map_err(|e| Error::after_writing(outcome.written, e))?;
                    parts.again(part);
                    continue;
                }
                Err(e) => return Err(Error::after_writing(outcome.written, e)),
            };
            outcome.written += part.len() as u64;
            if !self.preloaded {
                // An upsert keeps nothing: a key seen again in a later batch is
                // looked up again and found, since it is in the layer now.
                continue;
            }
            // Remember what was added so a key seen again in this run
            // becomes an update, not a duplicate.
            let added = part.iter().filter(|e| e.add);
            for (edit, result) in added.zip(&results.add_results) {
                if let Some(oid) = result.object_id {
                    self.existing.insert(&edit.key, oid);
                }
            }
            for edit in &part {
                self.written.insert(&edit.key);
            }
        }
        Ok(())
    }

    /// The matching field (`upsert_matching_field`).
    pub(super) fn matching_field(&self) -> &str {
        &self.matching_field
    }

    /// The layer's name, for logs.
    pub(super) fn layer_name(&self) -> &str {
        &self.layer.info().name
    }

    pub(super) fn object_id_field(&self) -> String {
        self.layer
            .info()
            .object_id_field()
            .unwrap_or("OBJECTID")
            .to_string()
    }
}

/// One feature of a batch, ready to send as an add or an update.
pub(super) struct Edit {
    pub(super) key: String,
    pub(super) feature: Feature,
    pub(super) add: bool,
}

/// Whether ArcGIS refused an `applyEdits` because of the features it carried (per-feature
/// failures, or the rolled-back batch's "Unable to complete operation."), as opposed to a failure
/// of the service, the token or the request itself, which splitting cannot cure.
fn refused_for_its_features(e: &agol_client::Error) -> bool {
    match e {
        agol_client::Error::EditsFailed { .. } => true,
        agol_client::Error::Api { code, status, .. } => {
            !e.is_retryable() && (*code == Some(400) || (code.is_none() && *status == 400))
        }
        _ => false,
    }
}

/// A single refused feature, named with ArcGIS's own reason.
fn rejection(edit: &Edit, e: &agol_client::Error) -> Rejection {
    let (code, reason) = match e {
        agol_client::Error::EditsFailed { failures, .. } => {
            let first = failures
                .iter()
                .find(|f| f.code != Some(ROLLED_BACK))
                .or(failures.first());
            match first {
                Some(f) => (f.code.map(|c| c.to_string()), f.description.clone()),
                None => (None, e.to_string()),
            }
        }
        agol_client::Error::Api {
            code,
            message,
            details,
            ..
        } => {
            let mut reason = message.clone();
            if !details.is_empty() {
                reason = format!("{reason} ({})", details.join("; "));
            }
            (code.map(|c| c.to_string()), reason)
        }
        other => (None, other.to_string()),
    };
    let record_id = match edit.feature.attributes.get("id") {
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        _ => edit.key.clone(),
    };
    let field = field_named_in(&reason, edit.feature.attributes.keys().map(String::as_str));
    Rejection {
        record_id,
        field,
        code,
        reason,
    }
}

/// ArcGIS's code for "Operation rolled back.": a feature that failed only because another did.
const ROLLED_BACK: i64 = 1003;

#[async_trait]
impl Sink<Feature> for AgolSink {
    fn describe(&self) -> String {
        format!("ArcGIS Online layer {}", self.layer.info().name)
    }

    async fn begin(&mut self, mode: WriteMode) -> Result<(), Error> {
        let oid_field = self.object_id_field();
        refuse(agol_problems(self.layer.info(), &self.matching_field))?;
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
                self.existing.insert(&key, oid);
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
                KeyMap::default()
            } else {
                // The layer is asked for the values as sent (a text field holding "007" must be
                // asked for "007"); what it answers is compared by canonical key.
                let wanted: Vec<String> = chunk
                    .iter()
                    .filter_map(|(_, f)| raw_text(f.attributes.get(&self.matching_field)))
                    .collect();
                let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
                self.lookup(&wanted)
                    .await
                    .map_err(|e| Error::after_writing(outcome.written, e))?
            };
            let existing = if self.preloaded {
                &self.existing
            } else {
                &looked_up
            };
            let edits: Vec<Edit> = chunk
                .into_iter()
                .map(|(key, mut feature)| match existing.get(&key) {
                    Some(oid) => {
                        feature
                            .attributes
                            .insert(oid_field.clone(), Value::from(oid));
                        if clear_geometry && feature.geometry.is_none() {
                            feature = feature.with_null_geometry();
                        }
                        Edit {
                            key,
                            feature,
                            add: false,
                        }
                    }
                    None => Edit {
                        key,
                        feature,
                        add: true,
                    },
                })
                .collect();
            self.send_isolating(edits, &mut outcome).await?;
        }
        Ok(outcome)
    }

    async fn finish(&mut self, mode: WriteMode) -> Result<u64, Error> {
        if !mode.is_replace() {
            return Ok(0);
        }
        self.written.seal();
        let stale = self.existing.missing_from(&self.written);
        if stale.is_empty() {
            return Ok(0);
        }
        self.layer.delete_object_ids(&stale, true).await?;
        Ok(stale.len() as u64)
    }
}
