//! An ArcGIS Online layer or table as a [`Sink`] of features.

use agol_client::{Feature, Layer, Query};
use async_trait::async_trait;
use futures::TryStreamExt;
use serde_json::Value;

use super::keys::{key_literal, key_of, NUMERIC_TYPES};
use super::preflight::agol_problems;
use crate::engine::keyset::{KeyMap, KeySet};
use crate::engine::{BatchOutcome, Sink, Stop, WriteMode};
use crate::error::refuse;
use crate::Error;

/// Upserts features by a matching attribute (the Knack record id, `id`, by
/// default), compared by canonical value (a Double `5.0`, an Integer `5` and the text `"5"` are
/// one key).
///
/// A feature ArcGIS refuses (a value too long for its field, text that looks like HTML, a word
/// in a number field) is named in [`BatchOutcome::rejected`] with ArcGIS's own code and text and
/// the field it names; every other feature of its batch is written, in a few more requests (see
/// the bisection in `engine/bisect.rs` and the crate README, "When a record is rejected"). In a
/// replace, a rejected record's feature keeps its previous version and is never deleted.
///
/// The original deleted every feature (or every feature of the run's ids)
/// and then added the new ones 50 at a time without rollback, so a failure
/// half-way left the public layer missing features. This sink instead looks
/// up the features already there (all of them for a replace, which must
/// know what to delete at the end; only each batch's own keys for an upsert,
/// so an incremental run costs what it changes, in one `query` per batch), sends each batch
/// (up to 1,000 features or 5 MB by default, 4 batches in flight at once, see
/// [`AgolTarget`](super::AgolTarget)) as one `applyEdits` with
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
    pub(super) layer: Layer,
    matching_field: String,
    /// Features per `applyEdits`, never more than the layer's `maxRecordCount`.
    pub(super) batch_size: usize,
    /// Bytes of feature JSON per `applyEdits` (as [`Weigh`](crate::engine::Weigh) counts them).
    pub(super) batch_bytes: usize,
    /// Batches sent at once, 1 to [`AgolTarget::MAX_IN_FLIGHT`](super::AgolTarget::MAX_IN_FLIGHT).
    pub(super) in_flight: usize,
    /// Watched before each batch starts: after a stop, no new batch is sent.
    pub(super) stop: Stop,
    clear_missing_geometry: bool,
    /// Matching key → object id of every feature in the layer, for a replace.
    pub(super) existing: KeyMap,
    /// Whether `existing` was loaded (a replace); an upsert looks up each
    /// batch's keys instead.
    pub(super) preloaded: bool,
    pub(super) written: KeySet,
}

impl AgolSink {
    /// A sink for `layer`, matching features on `matching_field`, sending at most `batch_size`
    /// features per `applyEdits` (at least 1, and never more than the layer's
    /// [`maxRecordCount`](Layer::max_record_count), so that the look-up of a batch's existing
    /// features fits in one `query` page) and at most [`AgolTarget::DEFAULT_BATCH_BYTES`] of
    /// feature JSON unless [`AgolSink::batch_bytes`] says otherwise.
    ///
    /// [`AgolTarget::DEFAULT_BATCH_BYTES`]: super::AgolTarget::DEFAULT_BATCH_BYTES
    pub fn new(layer: Layer, matching_field: &str, batch_size: usize) -> Self {
        let most = usize::try_from(layer.max_record_count()).unwrap_or(usize::MAX);
        Self {
            batch_size: batch_size.clamp(1, most.max(1)),
            batch_bytes: super::AgolTarget::DEFAULT_BATCH_BYTES,
            in_flight: super::AgolTarget::DEFAULT_IN_FLIGHT,
            stop: Stop::process(),
            layer,
            matching_field: matching_field.to_string(),
            clear_missing_geometry: false,
            existing: KeyMap::default(),
            preloaded: false,
            written: KeySet::new(),
        }
    }

    /// The most bytes of feature JSON one `applyEdits` carries (as
    /// [`Weigh`](crate::engine::Weigh) counts them; a batch holds at least one feature however
    /// big). ArcGIS documents no size limit for `applyEdits`, but large requests are what hosted
    /// layers time out on or refuse.
    pub fn batch_bytes(mut self, bytes: usize) -> Self {
        self.batch_bytes = bytes.max(1);
        self
    }

    /// How many batches are sent at once (clamped to 1 ..=
    /// [`AgolTarget::MAX_IN_FLIGHT`](super::AgolTarget::MAX_IN_FLIGHT); default
    /// [`AgolTarget::DEFAULT_IN_FLIGHT`](super::AgolTarget::DEFAULT_IN_FLIGHT)). Each batch is
    /// its look-up, its `applyEdits` and any bisection or read-back it needs; two batches in
    /// flight never hold the same matching key, and a replace still deletes only after every
    /// batch landed.
    pub fn in_flight(mut self, n: usize) -> Self {
        self.in_flight = n.clamp(1, super::AgolTarget::MAX_IN_FLIGHT);
        self
    }

    /// The stop watched before each batch starts (default [`Stop::process`]): once asked, no new
    /// batch is sent, those in flight end, and the write fails with what they wrote
    /// ([`Error::PartlyWritten`](crate::Error::PartlyWritten) around
    /// [`Error::Stopped`](crate::Error::Stopped)).
    pub fn stop(mut self, stop: Stop) -> Self {
        self.stop = stop;
        self
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
    pub(super) fn clears_geometry(&self) -> bool {
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
        self.write_page(batch).await
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
