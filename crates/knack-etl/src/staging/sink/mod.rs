//! The staging store as a [`Sink`] of Knack records ([`StagingSink`]): upserted on the record
//! key in `api.knack`, and for a replace, the container's rows the run did not write (judged by
//! the database's own clock) confirmed gone from Knack, then deleted.

use async_trait::async_trait;
use chrono::{DateTime, FixedOffset};
use futures::StreamExt;
use knack_client::{RawRecord, Record};
use pgrest_client::{Client, Query, Upsert};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

mod replace;

use super::confirm::Confirmation;
use super::tables::{RECORDS_TABLE, RECORD_KEY, UPDATED_AT};
use crate::engine::reject::{field_named_in, Isolation};
use crate::engine::{BatchOutcome, Finished, Rejection, Sink, WriteMode};
use crate::Error;

/// The row a write returns: what the store's trigger stamped.
#[derive(Deserialize)]
struct Written {
    updated_at: DateTime<FixedOffset>,
}

/// Whether PostgreSQL refused a statement because of a value in its rows: a data exception
/// (SQLSTATE class 22, e.g. `22P05` for a `\u0000` in jsonb) or an integrity violation (class
/// 23, e.g. a null where none is allowed). Never a transient or permission failure, and not
/// `21000` (two rows with one key in a statement), which is about the batch, not a row.
fn refused_for_its_rows(e: &pgrest_client::Error) -> bool {
    e.status() == Some(400)
        && e.error_body()
            .and_then(|a| a.code.as_deref())
            .is_some_and(|c| c.starts_with("22") || c.starts_with("23"))
}

/// One row of `api.knack`: a Knack record, untouched, under its key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StagingRow {
    /// The Knack application id.
    pub app_id: String,
    /// The container (object or view key) the record was read from.
    pub container_id: String,
    /// The Knack record id.
    pub record_id: String,
    /// The record exactly as Knack sent it (timestamps uncorrected).
    pub record: Map<String, Value>,
}

impl StagingRow {
    /// Wraps a Knack record for `app_id` / `container_id`.
    pub fn new(app_id: &str, container_id: &str, record: Record) -> Self {
        Self {
            app_id: app_id.to_string(),
            container_id: container_id.to_string(),
            record_id: record.id().to_string(),
            record: record.into_raw(),
        }
    }
}

/// Writes raw Knack records into `api.knack`.
///
/// A replace upserts every record, then finds the container's rows this run did not write.
/// "Did not write" is judged by the database's own clock: the trigger stamps `updated_at =
/// now()` on every write, so the earliest stamp this run received is a watermark below which a
/// row was not written. The local clock is never compared with the database's.
///
/// Those rows are candidates, not facts: a record Knack still has can be missing from a read
/// whose pages shifted under it (Knack pages by number). Built by
/// [`records_to_postgrest`](super::records_to_postgrest), the sink confirms each with Knack
/// (one request per record, or another read of the container: see the crate README, "Safe
/// replace"), stages again those Knack still has, and deletes only those confirmed gone. A sink
/// made with [`StagingSink::new`] has no Knack to ask, so its replace deletes nothing and says
/// so in the report.
#[derive(Debug)]
pub struct StagingSink {
    client: Client,
    app_id: String,
    container_id: String,
    upsert: Upsert,
    watermark: Option<DateTime<FixedOffset>>,
    /// Records the store refused this run: their previous rows must survive a replace.
    rejected_ids: Vec<String>,
    /// How a replace confirms its deletes with Knack.
    confirmation: Option<Confirmation>,
    /// What the replace's finish did besides deleting.
    finished: Finished,
}

impl StagingSink {
    /// A sink for one container of one app, upserting 200 rows per request,
    /// 4 requests at once (the original's figures).
    pub fn new(client: Client, app_id: &str, container_id: &str) -> Self {
        Self {
            client,
            app_id: app_id.to_string(),
            container_id: container_id.to_string(),
            upsert: Upsert::on_conflict(RECORD_KEY).returning([UPDATED_AT]),
            watermark: None,
            rejected_ids: Vec::new(),
            confirmation: None,
            finished: Finished::default(),
        }
    }

    /// Confirms a replace's deletes with Knack (see the type's docs).
    pub(crate) fn confirming(mut self, confirmation: Confirmation) -> Self {
        self.confirmation = Some(confirmation);
        self
    }

    /// Changes the upsert's batch size and concurrency. Whatever `upsert` says
    /// about returned columns, the sink asks only for `updated_at`, the one
    /// column its watermark needs.
    pub fn with_upsert(mut self, upsert: Upsert) -> Self {
        self.upsert = upsert.returning([UPDATED_AT]);
        self
    }

    fn lower_watermark(&mut self, returned: &[Written]) {
        if let Some(earliest) = returned.iter().map(|w| w.updated_at).min() {
            self.watermark = Some(self.watermark.map_or(earliest, |w| w.min(earliest)));
        }
    }

    /// Upserts rows PostgreSQL refused as a statement, in halves, until every good row is
    /// written and every bad one is named (upserts on the record key are idempotent).
    async fn isolate<R: StagedRow>(
        &mut self,
        rows: Vec<R>,
        outcome: &mut BatchOutcome,
    ) -> Result<(), Error> {
        let mut parts = Isolation::new(rows);
        while let Some(part) = parts.next() {
            let returned: Vec<Written> = match self
                .client
                .upsert_returning(RECORDS_TABLE, &part, &self.upsert)
                .await
            {
                Ok(returned) => returned,
                Err(e) if refused_for_its_rows(&e) && part.len() > 1 => {
                    parts.split(part);
                    continue;
                }
                Err(e) if refused_for_its_rows(&e) => {
                    let row = &part[0];
                    let api = e.error_body();
                    let code = api.and_then(|a| a.code.clone());
                    let reason = match api {
                        Some(a) => match &a.details {
                            Some(d) => format!("{} ({d})", a.message),
                            None => a.message.clone(),
                        },
                        None => e.to_string(),
                    };
                    let field = row.field_in(&reason);
                    self.rejected_ids.push(row.record_id().to_string());
                    outcome.rejected.push(Rejection {
                        record_id: row.record_id().to_string(),
                        field,
                        code,
                        reason,
                    });
                    continue;
                }
                Err(e) => return Err(Error::after_writing(outcome.written, e)),
            };
            outcome.written += part.len() as u64;
            self.lower_watermark(&returned);
        }
        Ok(())
    }

    /// Upserts `batch`, keeping the earliest `updated_at` the store stamped as the watermark.
    /// Every request's outcome is awaited, even after one failed: the others may have been
    /// written, and the report must count them. Requests PostgreSQL refused for a value in
    /// their rows are narrowed down to the rows at fault ([`StagingSink::isolate`]).
    async fn upsert_rows<R: StagedRow>(&mut self, batch: &[R]) -> Result<BatchOutcome, Error> {
        let per_request = self.upsert.rows_per_request();
        let client = self.client.clone();
        let mut requests = client.upsert_batches::<_, Written>(RECORDS_TABLE, batch, &self.upsert);
        let (mut written, mut failure) = (0u64, None);
        let (mut reported, mut refused) = (0usize, Vec::new());
        while let Some(request) = requests.next().await {
            let index = reported;
            reported += 1;
            match request {
                Ok(done) => {
                    written += done.rows as u64;
                    self.lower_watermark(&done.returned);
                }
                Err(e) if refused_for_its_rows(&e) => refused.push(index),
                // The first failure (in request order) is the one reported.
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        drop(requests);
        if let Some(e) = failure {
            return Err(Error::after_writing(written, e));
        }
        let mut outcome = BatchOutcome {
            written,
            ..BatchOutcome::default()
        };
        if !refused.is_empty() {
            // The refused requests' rows, and those of the requests never started after them.
            let rest = batch
                .chunks(per_request)
                .enumerate()
                .filter(|(i, _)| refused.contains(i) || *i >= reported)
                .flat_map(|(_, rows)| rows.iter().cloned())
                .collect();
            self.isolate(rest, &mut outcome).await?;
        }
        Ok(outcome)
    }

    /// The container's filter, shared by the delete of a replace.
    fn container_query(&self) -> Query {
        Query::new()
            .eq("app_id", self.app_id.as_str())
            .eq("container_id", self.container_id.as_str())
    }
}

#[async_trait]
impl Sink<StagingRow> for StagingSink {
    fn describe(&self) -> String {
        format!(
            "PostgREST {RECORDS_TABLE} ({} of app {})",
            self.container_id, self.app_id
        )
    }

    async fn write(&mut self, batch: Vec<StagingRow>) -> Result<BatchOutcome, Error> {
        self.upsert_rows(&batch).await
    }

    async fn finish(&mut self, mode: WriteMode) -> Result<u64, Error> {
        let WriteMode::Replace { .. } = mode else {
            return Ok(0);
        };
        self.finish_replace().await
    }

    fn finished(&mut self) -> Finished {
        std::mem::take(&mut self.finished)
    }
}

/// A row the staging sink can write: serialisable for the upsert, and able to name its record
/// and the field a refusal is about.
trait StagedRow: Serialize + Clone + Send + Sync {
    /// The Knack record id.
    fn record_id(&self) -> &str;
    /// The record's field named in the store's `reason`, if any.
    fn field_in(&self, reason: &str) -> Option<String>;
}

impl StagedRow for StagingRow {
    fn record_id(&self) -> &str {
        &self.record_id
    }
    fn field_in(&self, reason: &str) -> Option<String> {
        field_named_in(reason, self.record.keys().map(String::as_str))
    }
}

/// A row of `api.knack` that borrows its parts: the record goes into the request body as the
/// text Knack sent, unparsed and unchanged.
#[derive(Serialize, Clone, Copy)]
pub(super) struct RawRow<'a> {
    app_id: &'a str,
    container_id: &'a str,
    record_id: &'a str,
    record: &'a RawValue,
}

impl<'a> RawRow<'a> {
    /// `record` as a row of `container_id` of `app_id`.
    pub(super) fn of(app_id: &'a str, container_id: &'a str, record: &'a RawRecord) -> Self {
        RawRow {
            app_id,
            container_id,
            record_id: record.id(),
            record: record.raw(),
        }
    }
}

impl StagedRow for RawRow<'_> {
    fn record_id(&self) -> &str {
        self.record_id
    }
    fn field_in(&self, reason: &str) -> Option<String> {
        // Only a refused record pays for reading its keys.
        let keys: Map<String, Value> = serde_json::from_str(self.record.get()).ok()?;
        field_named_in(reason, keys.keys().map(String::as_str))
    }
}

/// Stores records byte for byte as Knack sent them (key order, escapes and number spellings
/// included), without building a tree of values for any of them.
#[async_trait]
impl Sink<RawRecord> for StagingSink {
    fn describe(&self) -> String {
        <Self as Sink<StagingRow>>::describe(self)
    }

    async fn write(&mut self, batch: Vec<RawRecord>) -> Result<BatchOutcome, Error> {
        let (app_id, container_id) = (self.app_id.clone(), self.container_id.clone());
        let rows: Vec<RawRow<'_>> = batch
            .iter()
            .map(|r| RawRow::of(&app_id, &container_id, r))
            .collect();
        self.upsert_rows(&rows).await
    }

    async fn finish(&mut self, mode: WriteMode) -> Result<u64, Error> {
        <Self as Sink<StagingRow>>::finish(self, mode).await
    }

    fn finished(&mut self) -> Finished {
        <Self as Sink<StagingRow>>::finished(self)
    }
}
