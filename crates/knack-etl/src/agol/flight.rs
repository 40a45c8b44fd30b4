//! How [`AgolSink`] writes a page of features: cut into batches (by features and bytes), up to
//! `in_flight` batches sent at once, each batch one unit (the look-up of its existing features,
//! its `applyEdits`, the bisection of refused features, the read-back of a lost answer), and what
//! the units did settled in the batches' order, so reports and rejections do not depend on which
//! answer came first.
//!
//! Two batches in flight together never hold the same matching key: the first might add it while
//! the second, which looked it up before that add landed, adds it again. A batch holding a key of
//! a batch before it waits until that one is settled (see [`waves`]).
//!
//! A run that is dropped (its task cancelled, the process stopped) drops its requests in flight
//! with it: each `applyEdits` of more than a few features carries `rollbackOnFailure=true` and
//! applies whole or not at all, a replace has deleted nothing yet, and the next run finds what
//! landed by its matching key and updates it, so the layer is never left with half a batch nor a
//! feature twice.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};

use agol_client::{EditResult, Feature};
use futures::StreamExt;
use serde_json::Value;

use super::keys::{key_of, raw_text};
use super::send::Edit;
use super::sink::AgolSink;
use crate::engine::keyset::KeyMap;
use crate::engine::{BatchOutcome, Rejection, Weigh};
use crate::Error;

/// One batch: its features with their matching keys.
type Batch = Vec<(String, Feature)>;

/// What one unit did, settled into the sink once its wave is over.
#[derive(Default)]
pub(super) struct Done {
    /// Features written (added or updated).
    pub(super) written: u64,
    /// Features ArcGIS refused, named.
    pub(super) rejected: Vec<Rejection>,
    /// Keys a replace must not delete: each written one (in a replace) and each refused one.
    keys: Vec<String>,
    /// Keys added in a replace, with their new object ids: a key seen again is an update.
    added: Vec<(String, i64)>,
}

impl Done {
    /// Counts `part` as written and, in a replace (`keep`), remembers its keys and what its adds
    /// became (`adds`: the add results of its adds, in order).
    pub(super) fn landed(&mut self, part: &[Edit], adds: &[EditResult], keep: bool) {
        self.written += part.len() as u64;
        if !keep {
            // An upsert keeps nothing: a key seen again in a later batch is looked up again and
            // found, since it is in the layer now.
            return;
        }
        for (edit, result) in part.iter().filter(|e| e.add).zip(adds) {
            if let Some(oid) = result.object_id {
                self.added.push((edit.key.clone(), oid));
            }
        }
        self.keys.extend(part.iter().map(|e| e.key.clone()));
    }

    /// Names a refused feature. It is still in the source, so a replace keeps its previous
    /// version.
    pub(super) fn refused(&mut self, key: &str, rejection: Rejection) {
        self.keys.push(key.to_string());
        self.rejected.push(rejection);
    }
}

impl AgolSink {
    /// Writes `features`: batches of at most the sink's size and bytes, up to its `in_flight` at
    /// once. A batch that fails stops the page, and so does the sink's [`Stop`](crate::Stop):
    /// no batch starts after it, those already in flight end (bounded by the client's timeout),
    /// and the error counts what every batch wrote ([`Error::PartlyWritten`]).
    pub(super) async fn write_page(
        &mut self,
        features: Vec<Feature>,
    ) -> Result<BatchOutcome, Error> {
        let mut outcome = BatchOutcome::default();
        let batches = self.cut(features, &mut outcome);
        for wave in waves(batches) {
            let stop = AtomicBool::new(false);
            let this = &*self;
            let mut ran: Vec<(usize, Done, Option<Error>)> =
                futures::stream::iter(wave.into_iter().enumerate())
                    .map(|(at, batch)| {
                        let stop = &stop;
                        async move {
                            let mut done = Done::default();
                            // Started only now: a batch after a failed one is not sent,
                            // nor one after a stop (the page then fails with what landed).
                            if stop.load(Ordering::SeqCst) {
                                return (at, done, None);
                            }
                            if let Err(stopped) = this.stop.check() {
                                stop.store(true, Ordering::SeqCst);
                                return (at, done, Some(stopped));
                            }
                            let failed = this.send_batch(batch, &mut done).await.err();
                            if failed.is_some() {
                                stop.store(true, Ordering::SeqCst);
                            }
                            (at, done, failed)
                        }
                    })
                    .buffer_unordered(self.in_flight)
                    .collect()
                    .await;
            ran.sort_by_key(|(at, _, _)| *at);
            let mut failure = None;
            for (_, done, failed) in ran {
                outcome.written += done.written;
                outcome.rejected.extend(done.rejected);
                for (key, oid) in done.added {
                    self.existing.insert(&key, oid);
                }
                for key in done.keys {
                    self.written.insert(&key);
                }
                failure = failure.or(failed);
            }
            if let Some(e) = failure {
                return Err(Error::after_writing(outcome.written, e));
            }
        }
        Ok(outcome)
    }

    /// `features` cut into batches of at most `batch_size` features and `batch_bytes` of JSON
    /// (at least one feature each); a feature without a matching value is skipped and counted.
    fn cut(&self, features: Vec<Feature>, outcome: &mut BatchOutcome) -> Vec<Batch> {
        let mut batches = Vec::new();
        let mut features = features.into_iter().peekable();
        while features.peek().is_some() {
            let (mut batch, mut bytes) = (Vec::new(), 0usize);
            while let Some(next) = features.peek() {
                // Weighed once: it walks the feature's attributes.
                let weight = next.weight();
                let fits = batch.len() < self.batch_size && bytes + weight <= self.batch_bytes;
                if !batch.is_empty() && !fits {
                    break;
                }
                let feature = features.next().expect("peeked");
                bytes += weight;
                match key_of(feature.attributes.get(self.matching_field())) {
                    Some(key) => batch.push((key, feature)),
                    None => {
                        tracing::warn!(field = %self.matching_field(), "feature without a matching value skipped");
                        outcome.skipped += 1;
                    }
                }
            }
            if !batch.is_empty() {
                batches.push(batch);
            }
        }
        batches
    }

    /// One unit: looks up the batch's existing features (an upsert; a replace knows them all),
    /// turns each into an update of its object id or an add, and sends them.
    async fn send_batch(&self, batch: Batch, done: &mut Done) -> Result<(), Error> {
        let looked_up = if self.preloaded {
            None
        } else {
            // The layer is asked for the values as sent (a text field holding "007" must be
            // asked for "007"); what it answers is compared by canonical key.
            let wanted: Vec<String> = batch
                .iter()
                .filter_map(|(_, f)| raw_text(f.attributes.get(self.matching_field())))
                .collect();
            let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
            Some(self.lookup(&wanted).await?)
        };
        let existing: &KeyMap = looked_up.as_ref().unwrap_or(&self.existing);
        let oid_field = self.object_id_field();
        let clear_geometry = self.clears_geometry();
        let edits: Vec<Edit> = batch
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
        self.send_bisecting(edits, done).await
    }
}

/// `batches` in runs that may be in flight together: a batch holding a key of an earlier batch
/// of the current run starts the next run, so it is sent only after that batch was settled.
fn waves(batches: Vec<Batch>) -> Vec<Vec<Batch>> {
    let mut waves: Vec<Vec<Batch>> = Vec::new();
    let mut keys: HashSet<String> = HashSet::new();
    for batch in batches {
        let clash = batch.iter().any(|(k, _)| keys.contains(k));
        if clash || waves.is_empty() {
            keys.clear();
            waves.push(Vec::new());
        }
        keys.extend(batch.iter().map(|(k, _)| k.clone()));
        waves.last_mut().expect("pushed above").push(batch);
    }
    waves
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(keys: &[&str]) -> Batch {
        keys.iter()
            .map(|k| (k.to_string(), Feature::default()))
            .collect()
    }

    fn shape(waves: &[Vec<Batch>]) -> Vec<Vec<Vec<String>>> {
        waves
            .iter()
            .map(|w| {
                w.iter()
                    .map(|b| b.iter().map(|(k, _)| k.clone()).collect())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_batch_repeating_a_key_in_flight_waits_for_the_next_wave() {
        let waves = waves(vec![
            batch(&["a", "b"]),
            batch(&["c", "d"]),
            batch(&["e", "a"]),
            batch(&["f"]),
            batch(&["c"]),
        ]);
        let s = |v: &[&str]| v.iter().map(|k| k.to_string()).collect::<Vec<_>>();
        assert_eq!(
            shape(&waves),
            vec![
                vec![s(&["a", "b"]), s(&["c", "d"])],
                vec![s(&["e", "a"]), s(&["f"]), s(&["c"])],
            ]
        );
        assert!(super::waves(Vec::new()).is_empty());
    }
}
