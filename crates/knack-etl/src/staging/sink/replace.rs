//! A replace's end: the container's rows the run did not write are candidates, confirmed with
//! Knack ([`Confirmation`](super::super::confirm::Confirmation)); those Knack still has are staged
//! again, only those confirmed gone are deleted.

use std::collections::HashSet;

use futures::TryStreamExt;
use pgrest_client::Keyset;
use serde::Deserialize;

use super::super::confirm::Verdict;
use super::super::tables::RECORDS_TABLE;
use super::{RawRow, StagingSink};
use crate::Error;

/// Record ids named per delete request (`record_id=in.(…)`): 200 Knack ids are about 5 kB of URL,
/// well under the 8 kB a proxy in front of PostgREST commonly accepts.
const IDS_PER_DELETE: usize = 200;

impl StagingSink {
    /// The container's rows this run did not write (nor refused): the candidates for deletion.
    async fn candidates(&self) -> Result<Vec<String>, Error> {
        #[derive(Deserialize)]
        struct Row {
            record_id: String,
        }
        let mut query = self.container_query().select("id,record_id");
        // Nothing written (an empty replace the caller allowed): every row is a candidate.
        if let Some(watermark) = self.watermark {
            query = query.lt("updated_at", watermark.to_rfc3339());
        }
        let mut pages = Box::pin(self.client.select_pages::<Row>(
            RECORDS_TABLE,
            query,
            Keyset::on("id").page_size(10_000),
        ));
        // A rejected record is still in Knack: its previous row stays.
        let rejected: HashSet<&str> = self.rejected_ids.iter().map(String::as_str).collect();
        let mut ids = Vec::new();
        while let Some(page) = pages.try_next().await? {
            ids.extend(
                page.into_iter()
                    .map(|r| r.record_id)
                    .filter(|id| !rejected.contains(id.as_str())),
            );
        }
        Ok(ids)
    }

    pub(super) async fn finish_replace(&mut self) -> Result<u64, Error> {
        let candidates = self.candidates().await?;
        let Some(confirmation) = &self.confirmation else {
            if !candidates.is_empty() {
                let note = format!(
                    "{} staged record(s) the read did not return were kept: this replace has no \
                     Knack client to confirm their deletion with",
                    candidates.len()
                );
                tracing::warn!("{note}");
                self.finished.notes.push(note);
            }
            return Ok(0);
        };
        let verdict = confirmation.confirm(candidates).await?;
        // What Knack still has is staged again before anything is deleted.
        if !verdict.found.is_empty() {
            let (app_id, container_id) = (self.app_id.clone(), self.container_id.clone());
            let rows: Vec<RawRow<'_>> = verdict
                .found
                .iter()
                .map(|r| RawRow::of(&app_id, &container_id, r))
                .collect();
            let outcome = self.upsert_rows(&rows).await?;
            let written = u32::try_from(outcome.written).unwrap_or(u32::MAX);
            self.finished.recovered = self.finished.recovered.saturating_add(written);
            self.finished.rejected.extend(outcome.rejected);
        }
        let deleted = self.delete_gone(&verdict.gone).await?;
        self.note_confirmation(&verdict, deleted);
        Ok(deleted)
    }

    /// Deletes the rows of records confirmed gone, 200 ids a request (a record the run's read
    /// returned and Knack deleted since is among them: Knack never gives an id out twice).
    async fn delete_gone(&self, gone: &[String]) -> Result<u64, Error> {
        #[derive(Deserialize)]
        struct Deleted {}
        let mut deleted = 0;
        for chunk in gone.chunks(IDS_PER_DELETE) {
            let filter = self
                .container_query()
                .in_("record_id", chunk.iter().map(String::as_str));
            let rows: Vec<Deleted> = self
                .client
                .delete_returning(RECORDS_TABLE, &filter.select("record_id"))
                .await?;
            deleted += rows.len() as u64;
        }
        Ok(deleted)
    }

    /// Logs how the deletes were confirmed, and notes it in the report when there was anything
    /// to confirm.
    fn note_confirmation(&mut self, verdict: &Verdict, deleted: u64) {
        let recovered = self.finished.recovered;
        let kept = verdict.unconfirmed.len();
        if verdict.requests() == 0 && kept == 0 {
            return;
        }
        tracing::info!(
            container = %self.container_id,
            confirmed_gone = verdict.gone.len(),
            deleted,
            recovered,
            kept,
            requests = verdict.requests(),
            lookups = verdict.lookups,
            reads = verdict.reads,
            "deletions confirmed with Knack"
        );
        let mut note = format!(
            "deletions confirmed with Knack ({} request(s): {} single-record read(s), {} more \
             read(s) of the container): {deleted} deleted, {recovered} missing only from a \
             shifted page and staged again",
            verdict.requests(),
            verdict.lookups,
            verdict.reads
        );
        if let Some((first, last)) = verdict.moved {
            note.push_str(&format!(
                "; total_records moved from {first} to {last} during the read"
            ));
        }
        if kept > 0 {
            note.push_str(&format!(
                "; {kept} kept: missing from every read while Knack kept changing, the next full \
                 reload confirms them"
            ));
            tracing::warn!(container = %self.container_id, kept, "records kept unconfirmed");
        }
        self.finished.notes.push(note);
    }
}
