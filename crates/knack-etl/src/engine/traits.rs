//! The two traits every pipeline is assembled from: a [`Source`] of batches
//! and a [`Sink`] that writes them.
//!
//! Both are object-safe (`#[async_trait]`) so a pipeline can be put together
//! at run time from config (`Box<dyn Source<T>>`, `Box<dyn Sink<T>>`), and
//! another team can plug in its own source or destination.

use async_trait::async_trait;
use futures::stream::BoxStream;

use super::reject::Rejection;
use crate::Error;

/// A stream of batches, in source order. A batch is one page of the source.
pub type BatchStream<T> = BoxStream<'static, Result<Vec<T>, Error>>;

/// How a sink applies a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Insert new items and update existing ones; never delete.
    Upsert,
    /// Make the destination hold exactly what the source has: upsert every
    /// item, then, only once every write succeeded, delete what the source
    /// no longer has. Never truncates first, so a failure at any step leaves
    /// the previous data in place.
    Replace {
        /// Whether a source with zero items may empty the destination. Off by
        /// default: an empty read is far more often an outage or a wrong filter
        /// than a container whose records were really all deleted.
        allow_empty: bool,
    },
}

impl WriteMode {
    /// A full replace that refuses to empty the destination.
    pub const REPLACE: Self = Self::Replace { allow_empty: false };

    /// Whether this is a full replace.
    pub fn is_replace(self) -> bool {
        matches!(self, Self::Replace { .. })
    }
}

/// What a sink did with one batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Items written (created or updated).
    pub written: u64,
    /// Items deliberately not written (for example a record without a key).
    pub skipped: u64,
    /// Items the destination refused, named; the rest of the batch was written.
    pub rejected: Vec<Rejection>,
}

/// What a sink's [`Sink::finish`] did besides deleting, handed over by [`Sink::finished`]: a
/// replace that confirms its deletes with the source (the staging store's, see
/// `StagingSink`) finds some of the items it was about to delete still there, and writes them
/// again instead.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Finished {
    /// Items the run's read lacked that the source still had (a page that shifted under the
    /// read), found while confirming the deletes and written.
    pub recovered: u32,
    /// Items of those the destination refused; their previous version stays.
    pub rejected: Vec<Rejection>,
    /// Things a person should know (how the deletes were confirmed, what was kept and why).
    pub notes: Vec<String>,
}

/// Where items come from.
#[async_trait]
pub trait Source<T: Send + 'static>: Send + Sync {
    /// A short human name for logs and reports, such as `Knack view_1 (scene_1)`.
    fn describe(&self) -> String;

    /// Starts a fresh read. Batches arrive page by page; memory must not grow
    /// with the size of the source.
    async fn batches(&self) -> Result<BatchStream<T>, Error>;

    /// The most bytes of batches the source itself fetches ahead of the driver (pages in
    /// flight or waiting to be taken, like a Knack client's read-ahead). The driver counts
    /// them against its own read-ahead bound (3 MiB), so the two do not add up. 0, the default,
    /// for a source that reads only when asked.
    fn read_ahead_bytes(&self) -> usize {
        0
    }
}

/// Where items go.
///
/// The driver calls [`Sink::begin`] once, [`Sink::write`] for each batch in
/// order, and [`Sink::finish`] only when every batch was written. A sink that
/// needs to delete what a replace did not write does it in `finish`, so a
/// failed run never deletes anything.
#[async_trait]
pub trait Sink<T: Send + 'static>: Send {
    /// A short human name for logs and reports, such as `Socrata dataset abcd-1234`.
    fn describe(&self) -> String;

    /// Whether this sink only counts what it would write (`--dry-run`); the run's report then
    /// says "would write N" instead of "written N".
    fn is_dry_run(&self) -> bool {
        false
    }

    /// Prepares the run (checks the destination, loads existing keys). A destination that cannot
    /// take this run is refused here with [`Error::Preflight`], before any write.
    async fn begin(&mut self, _mode: WriteMode) -> Result<(), Error> {
        Ok(())
    }

    /// Writes one batch.
    ///
    /// A record the destination refuses because of its own values is not an error: the sink
    /// writes the rest of the batch and returns the refused ones in
    /// [`BatchOutcome::rejected`]. In a replace, a rejected record's previous version stays at
    /// the destination and is never deleted.
    ///
    /// A sink that sends a batch in several requests and fails after some of
    /// them succeeded returns [`Error::PartlyWritten`] with the number of
    /// items those requests carried (build it with [`Error::after_writing`]):
    /// the run's report then counts them as written and only the rest as
    /// failed, instead of the whole batch. Any other error counts the whole
    /// batch as failed.
    async fn write(&mut self, batch: Vec<T>) -> Result<BatchOutcome, Error>;

    /// Completes the run after every batch succeeded. For
    /// [`WriteMode::Replace`] it deletes what the source no longer has and
    /// returns how many items it deleted.
    async fn finish(&mut self, mode: WriteMode) -> Result<u64, Error>;

    /// What [`Sink::finish`] did besides deleting (items found still at the source and written
    /// again, notes), taken by the driver once `finish` returned, whether it succeeded or not.
    /// Nothing, by default.
    fn finished(&mut self) -> Finished {
        Finished::default()
    }
}
