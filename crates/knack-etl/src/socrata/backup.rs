//! Dated CSV snapshots of Socrata datasets in object storage (the original's
//! `backup_socrata.py`), so a bad publish can be undone.
//!
//! One run reads the whole dataset in a stable order (`$order=:id`, page by page: the original
//! paged without an order, so its pages could skip or repeat rows) and writes one CSV with the
//! dataset's own column order and a header row of field names, as `<4x4>/<YYYY-MM-DD>.csv` under
//! the target prefix. The file is written under a temporary name as a multipart upload and
//! renamed only once complete, so an interrupted run never leaves a partial file under a
//! snapshot's name, and a second run the same day replaces that day's file only when it has a
//! whole one. Only then are snapshots beyond the newest `keep` deleted (snapshots of this
//! dataset only).
//!
//! Storage is any [`object_store::ObjectStore`]: a local directory, S3 or an S3-compatible store.
//! Memory stays flat: each page is encoded and handed to the upload, which holds at most a few
//! parts (5 MiB each) in flight.

use std::time::Instant;

use chrono::NaiveDate;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, WriteMultipart};
use serde_json::{Map, Value};
use socrata_client::Query;

use super::backup_target::BackupTarget;

/// Snapshots kept when nothing else is asked (the original kept 30).
pub const DEFAULT_KEEP: usize = 30;

/// Upload parts in flight at once; with 5 MiB parts, the most a run buffers.
const PARTS_IN_FLIGHT: usize = 2;

/// What [`backup_socrata`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct BackupReport {
    /// The snapshot written.
    pub path: Path,
    /// Data rows written (the header not counted).
    pub rows: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Older snapshots (and left-over partial files) deleted by the rotation.
    pub deleted: Vec<Path>,
    /// Wall-clock time of the run.
    pub duration: std::time::Duration,
}

/// Why a backup failed. Previous snapshots are untouched in every case but
/// [`BackupError::Rotation`], which happens only after the new snapshot is complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// Reading the dataset or its columns failed.
    #[error("Socrata: {0}")]
    Socrata(#[from] socrata_client::Error),
    /// Writing the snapshot failed; nothing was written under the snapshot's name.
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    /// The new snapshot is complete, but deleting older ones failed.
    #[error("the snapshot {written} was written, but deleting older snapshots failed: {source}")]
    Rotation {
        /// The snapshot that was written.
        written: Path,
        /// The store's error.
        source: object_store::Error,
    },
    /// Encoding a row as CSV failed.
    #[error("CSV encoding: {0}")]
    Csv(String),
    /// The request cannot be carried out as asked.
    #[error("{0}")]
    Refused(String),
}

impl BackupError {
    /// Whether Socrata gave no answer at all (refused, timed out, DNS, TLS): see
    /// [`Error::is_unanswered`](crate::Error::is_unanswered).
    pub fn is_unanswered(&self) -> bool {
        matches!(self, BackupError::Socrata(e) if crate::error::socrata_unanswered(e))
    }
}

/// The snapshot's object name for `dataset` on `date` (UTC).
pub fn snapshot_path(prefix: &Path, dataset: &str, date: NaiveDate) -> Path {
    prefix
        .child(dataset)
        .child(format!("{}.csv", date.format("%Y-%m-%d")))
}

/// Writes a snapshot of `dataset` dated `date` and keeps the newest `keep` snapshots
/// (see the [room docs](super)): the dataset read in a stable order (`$order=:id`) into one CSV,
/// written under a temporary name and renamed once complete, then the older snapshots rotated out.
///
/// # Errors
/// [`BackupError::Refused`] for `keep == 0` (it would delete the new snapshot); the Socrata and
/// store errors, after which no snapshot was created, replaced or deleted; and
/// [`BackupError::Rotation`] when only the clean-up failed.
pub async fn backup_socrata(
    socrata: &socrata_client::Client,
    dataset: &str,
    target: &BackupTarget,
    date: NaiveDate,
    keep: usize,
) -> Result<BackupReport, BackupError> {
    let started = Instant::now();
    let columns = columns_to_back_up(socrata, dataset, keep).await?;
    let path = snapshot_path(&target.prefix, dataset, date);
    let partial = target.prefix.child(dataset).child(format!(
        ".partial-{}-{}.csv",
        date.format("%Y-%m-%d"),
        std::process::id()
    ));
    let upload = target.store.put_multipart(&partial).await?;
    let mut writer = WriteMultipart::new(upload);
    let written = write_rows(socrata, dataset, &columns, Some(&mut writer)).await;
    let (rows, bytes) = match written {
        Ok(counts) => counts,
        Err(e) => {
            // The upload never completes, so nothing appears under either name.
            if let Err(abort) = writer.abort().await {
                tracing::warn!(%abort, "aborting the partial upload failed; the store may keep its parts until it expires them");
            }
            return Err(e);
        }
    };
    writer.finish().await?;
    if let Err(e) = target.store.rename(&partial, &path).await {
        let _ = target.store.delete(&partial).await;
        return Err(e.into());
    }
    tracing::info!(%path, rows, bytes, "snapshot written");
    let deleted = rotate(target, dataset, date, keep, false)
        .await
        .map_err(|source| BackupError::Rotation {
            written: path.clone(),
            source,
        })?;
    Ok(BackupReport {
        path,
        rows,
        bytes,
        deleted,
        duration: started.elapsed(),
    })
}

/// What [`backup_socrata`] would do, doing none of it: reads and encodes the whole dataset as a
/// run would (so `rows` and `bytes` are the snapshot's), lists the store, and reports in
/// `deleted` the snapshots the rotation would delete. Nothing is created, renamed or deleted.
///
/// # Errors
/// As [`backup_socrata`], but never [`BackupError::Rotation`]: a listing that fails is
/// [`BackupError::Store`].
pub async fn backup_socrata_dry_run(
    socrata: &socrata_client::Client,
    dataset: &str,
    target: &BackupTarget,
    date: NaiveDate,
    keep: usize,
) -> Result<BackupReport, BackupError> {
    let started = Instant::now();
    let columns = columns_to_back_up(socrata, dataset, keep).await?;
    let (rows, bytes) = write_rows(socrata, dataset, &columns, None).await?;
    let deleted = rotate(target, dataset, date, keep, true).await?;
    Ok(BackupReport {
        path: snapshot_path(&target.prefix, dataset, date),
        rows,
        bytes,
        deleted,
        duration: started.elapsed(),
    })
}

/// Refuses `keep == 0` (it would delete the new snapshot), then reads the dataset's columns in
/// its own order. System fields (`:id`, `:created_at`) are Socrata's, not the dataset's columns.
async fn columns_to_back_up(
    socrata: &socrata_client::Client,
    dataset: &str,
    keep: usize,
) -> Result<Vec<String>, BackupError> {
    if keep == 0 {
        return Err(BackupError::Refused(
            "keep must be at least 1: the newest snapshot is the one just written".into(),
        ));
    }
    let metadata = socrata.metadata(dataset).await?;
    Ok(metadata
        .field_names()
        .filter(|f| !f.starts_with(':'))
        .map(str::to_string)
        .collect())
}

/// Streams the dataset page by page into `writer` (or only counts, without one): the header,
/// then one line per row.
async fn write_rows(
    socrata: &socrata_client::Client,
    dataset: &str,
    columns: &[String],
    mut writer: Option<&mut WriteMultipart>,
) -> Result<(u64, u64), BackupError> {
    let header = encode(std::iter::once(columns.iter().map(String::as_str)))?;
    let mut bytes = header.len() as u64;
    if let Some(w) = writer.as_deref_mut() {
        w.write(&header);
    }
    let mut rows = 0u64;
    let mut pages = Box::pin(socrata.pages_as::<Map<String, Value>>(dataset, Query::new()));
    while let Some(page) = pages.try_next().await? {
        rows += page.len() as u64;
        let cells: Vec<Vec<String>> = page
            .iter()
            .map(|row| columns.iter().map(|c| cell(row.get(c))).collect())
            .collect();
        let chunk = encode(cells.iter().map(|r| r.iter().map(String::as_str)))?;
        bytes += chunk.len() as u64;
        if let Some(w) = writer.as_deref_mut() {
            w.wait_for_capacity(PARTS_IN_FLIGHT).await?;
            w.write(&chunk);
        }
    }
    Ok((rows, bytes))
}

fn encode<'a, R, I>(records: R) -> Result<Vec<u8>, BackupError>
where
    R: Iterator<Item = I>,
    I: Iterator<Item = &'a str>,
{
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    for record in records {
        w.write_record(record)
            .map_err(|e| BackupError::Csv(e.to_string()))?;
    }
    w.into_inner().map_err(|e| BackupError::Csv(e.to_string()))
}

/// One CSV cell, as Socrata's own CSV export writes it: empty for null, text as is, points as
/// WKT (`POINT (lon lat)`), other structures as compact JSON.
pub fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(v @ Value::Object(o)) => match (o.get("type"), o.get("coordinates")) {
            (Some(Value::String(t)), Some(Value::Array(xy))) if t == "Point" && xy.len() == 2 => {
                format!("POINT ({} {})", xy[0], xy[1])
            }
            _ => v.to_string(),
        },
        Some(v) => v.to_string(),
    }
}

/// The snapshot date in an object name `<YYYY-MM-DD>.csv`; `None` for anything else.
fn snapshot_date(name: &str) -> Option<NaiveDate> {
    let stem = name.strip_suffix(".csv")?;
    if stem.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(stem, "%Y-%m-%d").ok()
}

/// Deletes this dataset's snapshots beyond the newest `keep`, and partial files a killed run
/// left on an earlier day.
async fn rotate(
    target: &BackupTarget,
    dataset: &str,
    today: NaiveDate,
    keep: usize,
    dry_run: bool,
) -> Result<Vec<Path>, object_store::Error> {
    let dir = target.prefix.child(dataset);
    let objects: Vec<_> = target.store.list(Some(&dir)).try_collect().await?;
    let mut snapshots = Vec::new();
    let mut stale = Vec::new();
    for meta in objects {
        // Only direct children: `<4x4>/<date>.csv`.
        let Some(name) = meta.location.filename().map(str::to_string) else {
            continue;
        };
        if meta.location.prefix_match(&dir).map(Iterator::count) != Some(1) {
            continue;
        }
        if let Some(date) = snapshot_date(&name) {
            snapshots.push((date, meta.location));
        } else if let Some(rest) = name.strip_prefix(".partial-") {
            let day = rest
                .get(..10)
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
            if day.is_some_and(|d| d < today) {
                stale.push(meta.location);
            }
        }
    }
    // A dry run has not written today's snapshot, but it counts among the newest `keep`.
    if dry_run && !snapshots.iter().any(|(d, _)| *d == today) {
        snapshots.push((today, snapshot_path(&target.prefix, dataset, today)));
    }
    snapshots.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut deleted = Vec::new();
    for path in snapshots
        .into_iter()
        .skip(keep)
        .map(|(_, p)| p)
        .chain(stale)
    {
        if dry_run {
            tracing::info!(%path, "dry run: old snapshot would be deleted");
        } else {
            target.store.delete(&path).await?;
            tracing::info!(%path, "old snapshot deleted");
        }
        deleted.push(path);
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cells_are_written_as_socratas_csv_export_writes_them() {
        assert_eq!(cell(None), "");
        assert_eq!(cell(Some(&Value::Null)), "");
        assert_eq!(cell(Some(&json!("12.50"))), "12.50");
        assert_eq!(cell(Some(&json!(true))), "true");
        assert_eq!(
            cell(Some(
                &json!({"type": "Point", "coordinates": [-97.7, 30.2]})
            )),
            "POINT (-97.7 30.2)"
        );
        assert_eq!(
            cell(Some(&json!({"url": "https://x"}))),
            r#"{"url":"https://x"}"#
        );
    }

    #[test]
    fn only_dated_csv_names_are_snapshots() {
        assert_eq!(
            snapshot_date("2026-11-29.csv"),
            NaiveDate::from_ymd_opt(2026, 11, 29)
        );
        assert_eq!(snapshot_date(".partial-2026-11-29-12.csv"), None);
        assert_eq!(snapshot_date("26_11_29.csv"), None);
        assert_eq!(snapshot_date("notes.txt"), None);
    }

    #[test]
    fn the_snapshot_is_named_by_dataset_and_utc_date() {
        let p = snapshot_path(
            &Path::from("backups/prod"),
            "abcd-1234",
            NaiveDate::from_ymd_opt(2026, 3, 8).unwrap(),
        );
        assert_eq!(p.as_ref(), "backups/prod/abcd-1234/2026-03-08.csv");
    }
}
