//! The driver that moves batches from a source through a transform into a sink.

use std::time::Instant;

use std::sync::Arc;

use futures::StreamExt;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use super::reject::log_rejections;
use super::report::RunReport;
use super::stop::Stop;
use super::traits::{Sink, Source, WriteMode};
use super::weigh::Weigh;
use crate::Error;

/// How many bytes of batches may be read ahead of the writer (read and not yet written),
/// counting what the source itself fetches ahead ([`Source::read_ahead_bytes`]). Bounded in
/// bytes, not batches, so memory stays the same whatever the record size. 3 MiB is about one
/// page of 1,000 full-size records (~2.5 MB): the next page is read while the writer writes
/// this one, which is all the overlap a source read when asked (PostgREST) needs; every further
/// page would only pile up behind a slow sink, 2.5 MB more at the peak each. A source that must
/// be read further ahead to keep its API busy (Knack at 10 requests/s) fetches ahead itself.
/// One batch is always let through, however big.
const READ_AHEAD_BYTES: usize = 3 << 20;

/// A run that failed, with the report of what had happened until then.
#[derive(Debug, thiserror::Error)]
#[error("{error} ({report})")]
pub struct RunFailure {
    /// What was read, written and deleted before the failure.
    pub report: RunReport,
    /// What went wrong (boxed: the clients' errors carry whole API answers).
    #[source]
    pub error: Box<Error>,
}

impl RunFailure {
    /// A failure whose report covers the whole run that began at `started` (setup, retries and
    /// all), so a run that stopped before or inside [`run`] reports how long it really took,
    /// not the 0 s of a report built at the failure.
    #[must_use]
    pub(crate) fn lasting_since(mut self, started: Instant) -> Self {
        self.report.duration = self.report.duration.max(started.elapsed());
        self
    }
}

/// `report` of a step that finished, or, once `stop` was asked, a failure saying so: what a
/// pipeline calls before a further step of its own (a publisher's repair after its run).
pub(crate) fn unless_stopped(report: RunReport, stop: Stop) -> Result<RunReport, RunFailure> {
    match stop.error(&report) {
        Some(error) => Err(RunFailure {
            report,
            error: Box::new(error),
        }),
        None => Ok(report),
    }
}

/// A pipeline's setup step (a preflight, loading the metadata): its error as a failure of a run
/// that has done nothing yet.
pub(crate) fn setup<T>(result: Result<T, impl Into<Error>>) -> Result<T, RunFailure> {
    result.map_err(|e| RunFailure {
        report: RunReport::default(),
        error: Box::new(e.into()),
    })
}

/// Awaits `pipeline`, and on failure sets the report's duration to the time since the call
/// ([`RunFailure::lasting_since`]).
pub(crate) async fn timed<T>(
    pipeline: impl std::future::Future<Output = Result<T, RunFailure>>,
) -> Result<T, RunFailure> {
    let started = Instant::now();
    pipeline.await.map_err(|f| f.lasting_since(started))
}

/// Reads `source` batch by batch, turns each batch with `transform`, and
/// writes it to `sink`; the next batch is fetched while the current one is
/// written. A replace is finished (deletes included) only when every batch
/// was written, and never when the source was empty unless the mode allows it.
///
/// `transform` returns the items to write and how many it skipped.
///
/// Watches the process's [`Stop`] ([`run_until`] takes another).
pub async fn run<S, T, F>(
    source: &dyn Source<S>,
    transform: F,
    sink: &mut dyn Sink<T>,
    mode: WriteMode,
) -> Result<RunReport, RunFailure>
where
    S: Weigh + Send + 'static,
    T: Send + 'static,
    F: FnMut(Vec<S>) -> Result<(Vec<T>, u64), Error> + Send,
{
    run_until(source, transform, sink, mode, Stop::process()).await
}

/// [`run`], watching `stop` between pages and batches: once it is asked, no new page is read
/// and no new batch is written (a write already sent ends, and its answer counts as always), a
/// replace never starts its deletions, and the run fails with [`Error::Stopped`] saying how many
/// items were written.
pub async fn run_until<S, T, F>(
    source: &dyn Source<S>,
    mut transform: F,
    sink: &mut dyn Sink<T>,
    mode: WriteMode,
    stop: Stop,
) -> Result<RunReport, RunFailure>
where
    S: Weigh + Send + 'static,
    T: Send + 'static,
    F: FnMut(Vec<S>) -> Result<(Vec<T>, u64), Error> + Send,
{
    let started = Instant::now();
    let mut report = RunReport {
        dry_run: sink.is_dry_run(),
        ..RunReport::default()
    };
    let outcome = drive(source, &mut transform, sink, (mode, stop), &mut report).await;
    report.duration = started.elapsed();
    log_rejections(&sink.describe(), &report.rejected);
    match outcome {
        Ok(()) => {
            tracing::info!(%report, "run finished");
            Ok(report)
        }
        Err(error) => Err(RunFailure {
            report,
            error: Box::new(error),
        }),
    }
}

async fn drive<S, T, F>(
    source: &dyn Source<S>,
    transform: &mut F,
    sink: &mut dyn Sink<T>,
    (mode, stop): (WriteMode, Stop),
    report: &mut RunReport,
) -> Result<(), Error>
where
    S: Weigh + Send + 'static,
    T: Send + 'static,
    F: FnMut(Vec<S>) -> Result<(Vec<T>, u64), Error> + Send,
{
    let (from, to) = (source.describe(), sink.describe());
    tracing::info!(source = %from, sink = %to, ?mode, "run started");
    sink.begin(mode).await?;

    let mut batches = source.batches().await?;
    // The reader runs on its own task so pages keep coming (up to the source's own rate
    // limit) while the sink writes; each batch holds permits for its bytes until it is
    // written. Dropping `rx` on a write failure stops the reader.
    // A source that fetches ahead on its own (Knack) leaves the driver one batch: the reader
    // holds the next while the writer writes.
    let bound = READ_AHEAD_BYTES
        .saturating_sub(source.read_ahead_bytes())
        .max(1);
    let budget = Arc::new(Semaphore::new(bound));
    let (tx, mut rx) = mpsc::unbounded_channel::<(Result<Vec<S>, Error>, OwnedSemaphorePermit)>();
    let reader = tokio::spawn(async move {
        // After a stop no new page is asked for; one being read is dropped with the reader.
        while stop.reason().is_none() {
            let Some(batch) = batches.next().await else {
                break;
            };
            let bytes = match &batch {
                Ok(items) => items.iter().map(Weigh::weight).sum::<usize>(),
                Err(_) => 0,
            };
            let permits = u32::try_from(bytes.clamp(1, bound)).unwrap_or(u32::MAX);
            let Ok(permit) = Arc::clone(&budget).acquire_many_owned(permits).await else {
                break;
            };
            let failed = batch.is_err();
            if tx.send((batch, permit)).is_err() || failed {
                break;
            }
        }
    });

    let result = async {
        loop {
            let next = tokio::select! {
                next = rx.recv() => next,
                () = stop.asked() => None,
            };
            let Some((batch, _permit)) = next else {
                break;
            };
            // Asked while this batch waited: it is not written.
            stop.check()?;
            let batch = batch?;
            report.read += batch.len() as u64;
            let (items, skipped) = transform(batch)?;
            report.skipped += skipped;
            if items.is_empty() {
                continue;
            }
            let count = items.len() as u64;
            match sink.write(items).await {
                Ok(outcome) => {
                    report.written += outcome.written;
                    report.skipped += outcome.skipped;
                    report.rejected.extend(outcome.rejected);
                }
                Err(Error::PartlyWritten { written, error }) => {
                    let written = written.min(count);
                    report.written += written;
                    report.failed += count - written;
                    return Err(*error);
                }
                Err(err) => {
                    report.failed += count;
                    return Err(err);
                }
            }
            tracing::debug!(
                read = report.read,
                written = report.written,
                "batch written"
            );
        }
        Ok(())
    }
    .await
    // Asked during the last write: the run is not finished (a replace deletes nothing).
    .and_then(|()| stop.check());
    drop(rx);
    reader.abort();
    if let Err(mut err) = result {
        if matches!(err.innermost(), Error::Stopped(_)) {
            err = stop.error(report).unwrap_or(err);
        }
        if mode.is_replace() {
            report.notes.push(format!(
                "replace stopped before its deletes: {to} keeps its previous records"
            ));
        }
        return Err(err);
    }

    if let WriteMode::Replace { allow_empty: false } = mode {
        if report.read == 0 {
            let note = format!(
                "{from} returned no records: {to} was left untouched rather than emptied \
                 (allow an empty replace explicitly if the container really is empty)"
            );
            tracing::warn!("{note}");
            report.notes.push(note);
            return Ok(());
        }
    }
    let deleted = sink.finish(mode).await;
    // What the finish wrote again counts even when it then failed.
    let finished = sink.finished();
    report.written += u64::from(finished.recovered);
    report.recovered += finished.recovered;
    report.rejected.extend(finished.rejected);
    report.notes.extend(finished.notes);
    report.deleted = deleted?;
    Ok(())
}
