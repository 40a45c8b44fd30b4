//! One stage run between its watermark's open and close ([`Watermarks::tracked`]): which records
//! it reads ([`Since`]), what it does about its schema fingerprint ([`SchemaPlan`]), and what the
//! run leaves behind ([`Tracked`], the `last_report` JSON).

use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::watermark::{
    explain_missing_table, Destination, Ending, Opened, Watermarks, SYNC_STATE_TABLE,
};
use super::StageTime;
use crate::engine::{RunFailure, RunReport};
use crate::Error;

/// Which records a tracked stage reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// Exactly this: `Some` is incremental, `None` a full run (the per-stage commands' `--date`).
    Given(Option<DateTime<Utc>>),
    /// From the stage's watermark less `margin`; a full run when it has none (`aks sync`).
    Watermark {
        /// Read this much before the watermark.
        margin: Duration,
    },
}

/// What a stage does about its schema, decided by the caller of [`Watermarks::tracked`] from the
/// fingerprint the stage's row held (the default: nothing, as the watermark says).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SchemaPlan {
    /// Where to read from instead of the asked `since` after a schema change (`Some(None)`:
    /// everything).
    pub since: Option<Option<DateTime<Utc>>>,
    /// The fingerprint to store with the close of a successful run (`None`: unchanged or
    /// unknown), and what changed (`None` for a stage's first fingerprint).
    pub store: Option<(Value, Option<String>)>,
}

/// A stage run through [`Watermarks::tracked`].
#[derive(Debug)]
pub struct Tracked {
    /// What the stage was asked to read from (`None`: everything).
    pub since: Option<DateTime<Utc>>,
    /// The watermark after the run (`None`: none yet).
    pub watermark: Option<DateTime<Utc>>,
    /// The pipeline's outcome. A success whose watermark could not be stored is a failure
    /// ([`Error::Staging`]) with the run's report: the data is written, the next run repeats it.
    pub result: Result<RunReport, RunFailure>,
    /// Where the stage's time went (nothing for a stage whose watermark could not be opened).
    pub time: StageTime,
}

impl Watermarks {
    /// Runs one stage between the opening of its row (marked `running`) and its close: `stage` gets the
    /// `since` to read from; the watermark advances to the run's start only when the run
    /// succeeded with no failed or rejected record and read everything since the previous watermark (a full
    /// run, or `since` at or before it). A dry run reads the watermark and writes nothing. The
    /// stage's schema fingerprint is left as it is ([`Watermarks::tracked_with_schema`] decides
    /// about it).
    pub async fn tracked<F, Fut>(
        &self,
        container_id: &str,
        destination: Destination,
        since: Since,
        dry_run: bool,
        stage: F,
    ) -> Tracked
    where
        F: FnOnce(Option<DateTime<Utc>>) -> Fut,
        Fut: Future<Output = Result<RunReport, RunFailure>>,
    {
        let schema = |_: Option<&Value>| SchemaPlan::default();
        self.tracked_with_schema(container_id, destination, since, dry_run, schema, stage)
            .await
    }

    /// [`Watermarks::tracked`], with `schema` given the schema fingerprint the stage's row held
    /// before `stage` starts: the [`SchemaPlan`] it returns may run the stage from elsewhere
    /// (in full after a schema change) and names the fingerprint the close stores after a
    /// success (no request of its own).
    pub async fn tracked_with_schema<S, F, Fut>(
        &self,
        container_id: &str,
        destination: Destination,
        since: Since,
        dry_run: bool,
        schema: S,
        stage: F,
    ) -> Tracked
    where
        S: FnOnce(Option<&Value>) -> SchemaPlan,
        F: FnOnce(Option<DateTime<Utc>>) -> Fut,
        Fut: Future<Output = Result<RunReport, RunFailure>>,
    {
        // A watermark that cannot be opened (the store unreachable, retried) takes time too.
        let started = std::time::Instant::now();
        let opened = if dry_run {
            self.get(container_id, destination.clone())
                .await
                .map(|row| Opened {
                    started: Utc::now(),
                    previous: row.as_ref().and_then(|r| r.watermark),
                    fingerprint: row.and_then(|r| r.schema_fingerprint),
                })
        } else {
            self.open(container_id, destination.clone()).await
        };
        let opened = match opened {
            Ok(opened) => opened,
            Err(error) => {
                return Tracked {
                    since: None,
                    watermark: None,
                    result: Err(RunFailure {
                        report: RunReport::default(),
                        error: Box::new(explain_missing_table(error, container_id, &destination)),
                    }
                    .lasting_since(started)),
                    time: StageTime::default(),
                }
            }
        };
        let plan = schema(opened.fingerprint.as_ref());
        let since = match (plan.since, since) {
            (Some(since), _) | (None, Since::Given(since)) => since,
            (None, Since::Watermark { margin }) => opened.previous.map(|w| w - margin),
        };
        let (result, time) = StageTime::measure(stage(since)).await;
        if dry_run {
            return Tracked {
                since,
                watermark: opened.previous,
                result,
                time,
            };
        }
        let succeeded = matches!(&result, Ok(r) if r.is_clean());
        let covered = match (since, opened.previous) {
            (None, _) => true,
            (Some(s), Some(previous)) => s <= previous,
            (Some(_), None) => false,
        };
        let advance = succeeded && covered;
        let closed = self
            .close(
                container_id,
                destination.clone(),
                &opened,
                Ending {
                    report: report_json(since, &result),
                    succeeded,
                    advance,
                    schema: plan.store.filter(|_| succeeded),
                },
            )
            .await;
        let watermark = if advance {
            Some(opened.started)
        } else {
            opened.previous
        };
        let result = match (result, closed) {
            (Ok(report), Err(error)) => Err(RunFailure {
                report,
                error: Box::new(Error::Staging(format!(
                    "the {destination} stage of {container_id} succeeded but its watermark could \
                     not be stored ({error}); the next run repeats this one"
                ))),
            }),
            (result, Err(error)) => {
                tracing::warn!(container = container_id, %destination, %error,
                    "the failed run could not be recorded in {SYNC_STATE_TABLE}");
                result
            }
            (result, Ok(())) => result,
        };
        Tracked {
            since,
            watermark: if result.is_ok() {
                watermark
            } else {
                opened.previous
            },
            result,
            time,
        }
    }
}

/// The `last_report` JSON: the counts, seconds, `since`, notes and, on failure, the error.
pub(crate) fn report_json(
    since: Option<DateTime<Utc>>,
    result: &Result<RunReport, RunFailure>,
) -> Value {
    let (report, error) = match result {
        Ok(report) => (report, None),
        Err(failure) => (&failure.report, Some(failure.error.to_string())),
    };
    json!({
        "since": since,
        "read": report.read,
        "written": report.written,
        "deleted": report.deleted,
        "recovered": report.recovered,
        "skipped": report.skipped,
        "failed": report.failed,
        "seconds": report.duration.as_secs_f64(),
        "notes": report.notes,
        "error": error,
    })
}
