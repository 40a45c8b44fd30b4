//! Whether a destination is in step with the staging store: the comparison each destination's
//! drift check makes ([`Staged`], [`Drift`]), and what their repairs share.
//!
//! An incremental publish only sends what was staged since its watermark, so rows removed from a
//! destination behind `aks`'s back (a hand edit, a restore) stay missing until a full run. The
//! check compares counts first (one request per side) and reads ids only when they differ, so a
//! destination in step costs a few count requests. It cannot see a swap that keeps the count (one
//! row missing, one foreign row added); `aks status --verify` compares ids always and does.
//!
//! A destination several containers publish to (`shared_with`, of this app or another) is
//! compared with all their staged rows: a row one of them staged is neither missing nor foreign.
//!
//! Each destination's own check and repair is in its room (`socrata/drift.rs`,
//! `agol/drift.rs`).

use std::collections::BTreeSet;

use pgrest_client::Query;

use super::publication::sharers;
use super::source::record_ids;
use super::tables::RECORDS_TABLE;
use crate::engine::{RunFailure, RunOptions, RunReport};
use crate::Error;

/// When the ids of both sides are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdCheck {
    /// Always (`status --verify`: finds a swap that keeps the count).
    Always,
    /// Only when the counts differ (`sync`: a destination in step costs count requests only).
    WhenCountsDiffer,
}

/// One destination compared with the staging store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drift {
    /// Rows staged for the container and the containers sharing the destination.
    pub staged: u64,
    /// Rows in the destination.
    pub found: u64,
    /// Ids this container staged that the destination lacks, sorted; `None` when ids were not
    /// compared.
    pub missing: Option<Vec<String>>,
    /// Ids in the destination that none of the sharing containers staged, sorted; `None` when
    /// ids were not compared.
    pub extra: Option<Vec<String>>,
}

impl Drift {
    /// Whether the destination is out of step: by ids when they were compared, else by counts.
    pub fn is_drift(&self) -> bool {
        match (&self.missing, &self.extra) {
            (Some(missing), Some(extra)) => !missing.is_empty() || !extra.is_empty(),
            _ => self.staged != self.found,
        }
    }
}

/// The staged side of a comparison: a container and the containers sharing its destination.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Staged<'a> {
    /// The staging store.
    pub(crate) pgrest: &'a pgrest_client::Client,
    /// The Knack application id the records are staged under.
    pub(crate) app_id: &'a str,
    /// The container.
    pub(crate) container_id: &'a str,
    /// The other containers publishing to the same destination (`container_id`, or
    /// `<app id>/<container_id>` for another app's).
    pub(crate) shared_with: &'a [String],
}

impl Staged<'_> {
    /// This container, then each sharing one, as (app, container).
    fn containers(&self) -> impl Iterator<Item = (&str, &str)> {
        std::iter::once((self.app_id, self.container_id)).chain(sharers(
            self.app_id,
            self.container_id,
            self.shared_with,
        ))
    }

    /// Staged rows of every container: one count request each.
    pub(crate) async fn count(&self) -> Result<u64, Error> {
        let mut total = 0;
        for (app_id, container) in self.containers() {
            let query = Query::new()
                .eq("app_id", app_id)
                .eq("container_id", container);
            total += self.pgrest.count(RECORDS_TABLE, &query).await?;
        }
        Ok(total)
    }

    /// This container's staged ids, and those of every sharing container with them.
    async fn ids(&self) -> Result<(BTreeSet<String>, BTreeSet<String>), Error> {
        let own: BTreeSet<String> = record_ids(self.pgrest, self.app_id, self.container_id)
            .await?
            .into_iter()
            .collect();
        let mut all = own.clone();
        for (app_id, container) in self.containers().skip(1) {
            all.extend(record_ids(self.pgrest, app_id, container).await?);
        }
        Ok((own, all))
    }

    /// Compares with a destination holding `found` rows, whose ids `read_ids` reads.
    pub(crate) async fn compare<F, Fut>(
        &self,
        found: u64,
        check: IdCheck,
        read_ids: F,
    ) -> Result<Drift, Error>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<BTreeSet<String>, Error>>,
    {
        let staged = self.count().await?;
        let mut drift = Drift {
            staged,
            found,
            missing: None,
            extra: None,
        };
        if check == IdCheck::WhenCountsDiffer && staged == found {
            return Ok(drift);
        }
        let (own, all) = self.ids().await?;
        let there = read_ids().await?;
        drift.missing = Some(own.difference(&there).cloned().collect());
        drift.extra = Some(there.difference(&all).cloned().collect());
        Ok(drift)
    }
}

pub(crate) fn text_id(v: Option<&serde_json::Value>) -> String {
    match v {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Adds a repair's counts and rejections to the stage's report.
pub(crate) fn absorb(report: &mut RunReport, repair: RunReport) {
    report.read += repair.read;
    report.written += repair.written;
    report.skipped += repair.skipped;
    report.failed += repair.failed;
    report.rejected.extend(repair.rejected);
    report.notes.extend(repair.notes);
    report.duration += repair.duration;
}

/// Options for re-publishing named records: an upsert (never a replace).
pub(crate) fn upsert(dry_run: bool) -> RunOptions {
    RunOptions::from_since(Some(chrono::DateTime::<chrono::Utc>::UNIX_EPOCH), dry_run)
}

/// The first ids of `ids`, for a message.
pub(crate) fn first(ids: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut text = ids
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN {
        text.push_str(", …");
    }
    text
}

/// Runs `publish` (the re-publication of the missing records) and adds what it did to `report`.
pub(crate) async fn republish(
    report: &mut RunReport,
    what: &str,
    dry_run: bool,
    publish: impl std::future::Future<Output = Result<RunReport, RunFailure>>,
) -> Result<(), RunFailure> {
    let repaired = publish.await.map_err(|f| merged(report, f))?;
    note_repair(report, what, dry_run);
    absorb(report, repaired);
    Ok(())
}

fn note_repair(report: &mut RunReport, what: &str, dry_run: bool) {
    if dry_run {
        report
            .notes
            .push(format!("dry run: {what} would be re-published"));
    } else {
        tracing::info!("repaired: {what}, re-published");
        report.notes.push(format!("repaired: {what}, re-published"));
    }
}

/// The stage's report with the check's error.
pub(crate) fn failure(report: &RunReport, error: impl Into<Error>) -> RunFailure {
    RunFailure {
        report: report.clone(),
        error: Box::new(error.into()),
    }
}

/// The stage's report plus what a failed repair did before failing.
fn merged(report: &RunReport, f: RunFailure) -> RunFailure {
    let mut all = report.clone();
    absorb(&mut all, f.report);
    RunFailure {
        report: all,
        error: f.error,
    }
}
