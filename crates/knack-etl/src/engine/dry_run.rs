//! A sink that writes nothing: for `--dry-run`, which reads and transforms
//! everything but leaves every destination as it is.

use async_trait::async_trait;

use super::traits::{BatchOutcome, Sink, WriteMode};
use crate::Error;

/// Counts what it would have written. Logs only counts at INFO; the first item it would have
/// written is logged at TRACE only, because records hold personal data (names, e-mails, phone
/// numbers) and INFO logs (Airflow's) are widely readable.
#[derive(Debug)]
pub struct DryRun {
    destination: String,
    seen: u64,
}

impl DryRun {
    /// A dry run standing in for `destination` (used in messages).
    pub fn new(destination: impl Into<String>) -> Self {
        Self {
            destination: destination.into(),
            seen: 0,
        }
    }
}

#[async_trait]
impl<T: serde::Serialize + Send + 'static> Sink<T> for DryRun {
    fn describe(&self) -> String {
        format!("{} (dry run: nothing is written)", self.destination)
    }

    fn is_dry_run(&self) -> bool {
        true
    }

    async fn write(&mut self, batch: Vec<T>) -> Result<BatchOutcome, Error> {
        if self.seen == 0 && tracing::enabled!(tracing::Level::TRACE) {
            if let Some(first) = batch.first() {
                let sample = serde_json::to_string(first).unwrap_or_default();
                tracing::trace!(destination = %self.destination, %sample, "dry run: first item that would be written");
            }
        }
        self.seen += batch.len() as u64;
        tracing::info!(destination = %self.destination, would_write = batch.len(), "dry run: would write a batch");
        // Counted as written: the report's `dry_run` flag turns it into "would write N".
        Ok(BatchOutcome {
            written: batch.len() as u64,
            skipped: 0,
            ..BatchOutcome::default()
        })
    }

    async fn finish(&mut self, mode: WriteMode) -> Result<u64, Error> {
        if mode.is_replace() {
            tracing::info!(
                destination = %self.destination,
                "dry run: a replace would now delete what the source no longer has"
            );
        }
        Ok(0)
    }
}
