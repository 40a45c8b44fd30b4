//! A Socrata dataset as a [`Sink`] of rows.

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use serde_json::{Map, Value};
use socrata_client::{Client, Query};

use crate::keyset::KeySet;
use crate::stage::{BatchOutcome, Sink, WriteMode};
use crate::Error;

/// Upserts rows into a dataset by its row identifier.
///
/// A replace never PUTs: a PUT empties the dataset before the rest of the
/// rows arrive, so a failure half-way (the original's behaviour) left a
/// public dataset short. Instead every row is upserted, and once all of them
/// are in, the rows whose identifier this run did not write are deleted.
/// That needs the written identifiers in memory (about 16 bytes a Knack
/// record id).
#[derive(Debug)]
pub struct SocrataSink {
    client: Client,
    dataset: String,
    id_field: String,
    written: KeySet,
}

impl SocrataSink {
    /// A sink for `dataset`, whose row identifier is `id_field` (the original
    /// requires the text column `id`, holding the Knack record id).
    pub fn new(client: Client, dataset: &str, id_field: &str) -> Self {
        Self {
            client,
            dataset: dataset.to_string(),
            id_field: id_field.to_string(),
            written: KeySet::new(),
        }
    }

    async fn stale_ids(&self) -> Result<Vec<String>, Error> {
        let query = Query::new().select(self.id_field.clone());
        let mut pages = Box::pin(
            self.client
                .pages_as::<Map<String, Value>>(&self.dataset, query),
        );
        let mut stale = Vec::new();
        while let Some(page) = pages.try_next().await? {
            stale.extend(
                page.iter()
                    .filter_map(|row| row.get(&self.id_field).and_then(Value::as_str))
                    .filter(|id| !self.written.contains(id))
                    .map(str::to_string),
            );
        }
        Ok(stale)
    }
}

#[async_trait]
impl Sink<Map<String, Value>> for SocrataSink {
    fn describe(&self) -> String {
        format!("Socrata dataset {}", self.dataset)
    }

    async fn write(&mut self, batch: Vec<Map<String, Value>>) -> Result<BatchOutcome, Error> {
        // Requests carry consecutive rows of the batch, in order: `rows[done..]`
        // is what the next one carried. Only rows of requests that succeeded
        // count as written (their ids protected from a replace's deletes).
        let mut requests = self.client.upsert_batches(&self.dataset, &batch);
        let mut done = 0usize;
        while let Some(request) = requests.next().await {
            let request = match request {
                Ok(request) => request,
                Err(e) => return Err(Error::after_writing(done as u64, e)),
            };
            let carried = batch.iter().skip(done).take(request.rows);
            for id in carried.filter_map(|row| row.get(&self.id_field).and_then(Value::as_str)) {
                self.written.insert(id);
            }
            done += request.rows;
            tracing::debug!(dataset = %self.dataset, summary = ?request.summary, "batch upserted");
        }
        Ok(BatchOutcome {
            written: done as u64,
            skipped: 0,
        })
    }

    async fn finish(&mut self, mode: WriteMode) -> Result<u64, Error> {
        if !mode.is_replace() {
            return Ok(0);
        }
        let stale = self.stale_ids().await?;
        if stale.is_empty() {
            return Ok(0);
        }
        self.client
            .delete(&self.dataset, &self.id_field, &stale)
            .await?;
        Ok(stale.len() as u64)
    }
}
