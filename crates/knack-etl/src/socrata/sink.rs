//! A Socrata dataset as a [`Sink`] of rows.

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use serde_json::{Map, Value};
use socrata_client::{ident, Client, Query};

use super::text_row::TextRow;
use crate::engine::keyset::KeySet;
use crate::engine::reject::{field_named_in, Isolation};
use crate::engine::{BatchOutcome, Rejection, Sink, WriteMode};
use crate::Error;

/// Upserts rows into a dataset by its row identifier.
///
/// A row Socrata refuses (a value its column's type does not take) is named in
/// [`BatchOutcome::rejected`]; every other row of its batch is written (see
/// `SocrataSink::isolate`). In a replace a rejected row keeps its previous version.
///
/// A replace never PUTs: a PUT empties the dataset before the rest of the
/// rows arrive, so a failure half-way (the original's behaviour) left a
/// public dataset short. Instead every row is upserted, and once all of them
/// are in, the rows whose identifier this run did not write are deleted.
/// That needs the written identifiers in memory (12 to 24 bytes a Knack
/// record id, see `KeySet`); an upsert keeps none.
#[derive(Debug)]
pub struct SocrataSink {
    client: Client,
    dataset: String,
    id_field: String,
    written: KeySet,
    /// Whether written ids are kept: for a replace only (an upsert deletes nothing), and until
    /// [`Sink::begin`] says otherwise.
    keep_written: bool,
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
            keep_written: true,
        }
    }

    /// Record ids a replace must keep although this run does not write them: those another
    /// container publishing to the same dataset still has.
    pub fn keep<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>) {
        for id in ids {
            self.written.insert(id);
        }
    }

    /// Upserts `rows` that Socrata refused as a request, in halves, until every good row is
    /// written and every bad one is named. Upserts keyed by the row identifier are idempotent,
    /// so re-sending rows Socrata already applied changes nothing.
    async fn isolate<R: SocrataRow>(
        &mut self,
        rows: Vec<R>,
        outcome: &mut BatchOutcome,
    ) -> Result<(), Error> {
        let mut parts = Isolation::new(rows);
        while let Some(part) = parts.next() {
            match self.client.upsert(&self.dataset, &part).await {
                Ok(_) => {}
                Err(e) if refused_for_its_rows(&e) && part.len() > 1 => {
                    parts.split(part);
                    continue;
                }
                Err(e) if refused_for_its_rows(&e) => {
                    let row = &part[0];
                    let record_id = row.row_id(&self.id_field).unwrap_or("(no id)").to_string();
                    // Still in the source: a replace must keep its previous version.
                    self.remember(&record_id);
                    outcome.rejected.push(rejection(record_id, row, &e));
                    continue;
                }
                Err(e) => return Err(Error::after_writing(outcome.written, e)),
            }
            outcome.written += part.len() as u64;
            if self.keep_written {
                for id in part.iter().filter_map(|row| row.row_id(&self.id_field)) {
                    self.written.insert(id);
                }
            }
        }
        Ok(())
    }

    /// Remembers a written (or kept) id, when a replace needs it.
    fn remember(&mut self, id: &str) {
        if self.keep_written {
            self.written.insert(id);
        }
    }

    /// The dataset's row ids this run did not write (nor keep). Read by keyset on the row
    /// identifier, not by `$offset`: a row deleted or added by someone else during the read
    /// cannot shift another out of it (a stale row left behind) or into it twice.
    async fn stale_ids(&mut self) -> Result<Vec<String>, Error> {
        self.written.seal();
        let query = Query::new().select(ident(&self.id_field));
        let mut pages = Box::pin(
            self.client
                .pages_by_key(&self.dataset, query, &self.id_field),
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

/// Whether Socrata refused a request because of rows it carried: `Errors` counted in a 200
/// (SODA 2.1's way to report a value its column refuses), or a 400 about the body. Never a
/// transient failure, an authentication or a permission problem.
fn refused_for_its_rows(e: &socrata_client::Error) -> bool {
    matches!(
        e,
        socrata_client::Error::RowErrors { .. } | socrata_client::Error::Api { status: 400, .. }
    )
}

/// A single refused row, named with what Socrata said about it.
fn rejection(record_id: String, row: &impl SocrataRow, e: &socrata_client::Error) -> Rejection {
    match e {
        socrata_client::Error::Api { body, .. } => {
            let reason = body.message.clone().unwrap_or_else(|| e.to_string());
            Rejection {
                record_id,
                field: field_named_in(&reason, row.column_names().iter().map(String::as_str)),
                code: body.code.clone(),
                reason,
            }
        }
        _ => Rejection {
            record_id,
            field: None,
            code: Some("Errors".into()),
            reason:
                "Socrata counted the row in `Errors` and did not apply it (its answer names no \
                     field): a value does not fit its column's type"
                    .into(),
        },
    }
}

impl SocrataSink {
    async fn write_rows<R: SocrataRow>(&mut self, batch: Vec<R>) -> Result<BatchOutcome, Error> {
        // Requests carry consecutive rows of the batch, in order: `rows[done..]`
        // is what the next one carried. Only rows of requests that succeeded
        // count as written (their ids protected from a replace's deletes).
        let mut outcome = BatchOutcome::default();
        let mut requests = self.client.upsert_batches(&self.dataset, &batch);
        let mut done = 0usize;
        let mut refused = false;
        while let Some(request) = requests.next().await {
            let request = match request {
                Ok(request) => request,
                Err(e) if refused_for_its_rows(&e) => {
                    refused = true;
                    break;
                }
                Err(e) => return Err(Error::after_writing(done as u64, e)),
            };
            if self.keep_written {
                let carried = batch.iter().skip(done).take(request.rows);
                for id in carried.filter_map(|row| row.row_id(&self.id_field)) {
                    self.written.insert(id);
                }
            }
            done += request.rows;
            tracing::debug!(dataset = %self.dataset, summary = ?request.summary, "batch upserted");
        }
        drop(requests);
        outcome.written = done as u64;
        if refused {
            let rest = batch.into_iter().skip(done).collect();
            self.isolate(rest, &mut outcome).await?;
        }
        Ok(outcome)
    }
}

#[async_trait]
impl Sink<Map<String, Value>> for SocrataSink {
    fn describe(&self) -> String {
        format!("Socrata dataset {}", self.dataset)
    }

    async fn begin(&mut self, mode: WriteMode) -> Result<(), Error> {
        self.keep_written = mode.is_replace();
        Ok(())
    }

    async fn write(&mut self, batch: Vec<Map<String, Value>>) -> Result<BatchOutcome, Error> {
        self.write_rows(batch).await
    }

    async fn finish(&mut self, mode: WriteMode) -> Result<u64, Error> {
        self.finish_replace(mode).await
    }
}

/// Rows written as JSON text ([`SocrataRowWriter`](super::SocrataRowWriter)): sent as they are.
#[async_trait]
impl Sink<TextRow> for SocrataSink {
    fn describe(&self) -> String {
        <Self as Sink<Map<String, Value>>>::describe(self)
    }

    async fn begin(&mut self, mode: WriteMode) -> Result<(), Error> {
        self.keep_written = mode.is_replace();
        Ok(())
    }

    async fn write(&mut self, batch: Vec<TextRow>) -> Result<BatchOutcome, Error> {
        self.write_rows(batch).await
    }

    async fn finish(&mut self, mode: WriteMode) -> Result<u64, Error> {
        self.finish_replace(mode).await
    }
}

/// A row [`SocrataSink`] can send: its JSON, its row identifier, and its column names (read
/// only for a row Socrata refused, to name the field at fault).
pub(crate) trait SocrataRow: serde::Serialize + Clone + Send + Sync + 'static {
    /// The row identifier's value (`id_field`), when it is text.
    fn row_id(&self, id_field: &str) -> Option<&str>;
    /// The row's column names.
    fn column_names(&self) -> Vec<String>;
}

impl SocrataRow for Map<String, Value> {
    fn row_id(&self, id_field: &str) -> Option<&str> {
        self.get(id_field).and_then(Value::as_str)
    }
    fn column_names(&self) -> Vec<String> {
        self.keys().cloned().collect()
    }
}

impl SocrataRow for TextRow {
    /// The writer read the identifier out when it wrote the row (it was built with `id_field`).
    fn row_id(&self, _id_field: &str) -> Option<&str> {
        self.id()
    }
    fn column_names(&self) -> Vec<String> {
        serde_json::from_str::<Map<String, Value>>(self.text().get())
            .map(|row| row.keys().cloned().collect())
            .unwrap_or_default()
    }
}

impl SocrataSink {
    async fn finish_replace(&mut self, mode: WriteMode) -> Result<u64, Error> {
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
