//! What a sync did: per container and stage, the stage's result with the watermark it left, or
//! why it was skipped; the metadata refreshes; and the run's verdict.

use super::tracked::Tracked;
use super::watermark::Destination;
use crate::engine::{RunFailure, RunReport};

/// What happened to one stage of one container.
#[derive(Debug)]
pub enum StageOutcome {
    /// The stage ran; its result, with the watermark it left.
    Ran(Tracked),
    /// The stage did not run, and why (its staging load failed, the metadata refresh failed).
    Skipped(String),
}

impl StageOutcome {
    /// Whether the stage ran and succeeded with no failed or rejected record.
    pub fn is_success(&self) -> bool {
        matches!(self, StageOutcome::Ran(t) if matches!(&t.result, Ok(r) if r.is_clean()))
    }

    /// Where the stage's time went; nothing when it was skipped.
    pub fn time(&self) -> super::StageTime {
        match self {
            StageOutcome::Ran(t) => t.time.clone(),
            StageOutcome::Skipped(_) => super::StageTime::default(),
        }
    }

    /// The stage's report: what it did, or what it did before failing; `None` when skipped.
    pub fn report(&self) -> Option<&RunReport> {
        match self {
            StageOutcome::Ran(t) => Some(match &t.result {
                Ok(report) => report,
                Err(failure) => &failure.report,
            }),
            StageOutcome::Skipped(_) => None,
        }
    }
}

/// One row of the run's summary.
#[derive(Debug)]
pub struct StageResult {
    /// The container id.
    pub container_id: String,
    /// The stage.
    pub destination: Destination,
    /// What happened.
    pub outcome: StageOutcome,
}

/// The whole run: the metadata refresh and every stage, containers in plan order.
#[derive(Debug)]
pub struct SyncReport {
    /// `metadata-to-postgrest`'s outcome.
    pub metadata: Result<RunReport, RunFailure>,
    /// The metadata refresh of each Knack destination app, by its name in the config.
    pub dest_metadata: Vec<(String, Result<RunReport, RunFailure>)>,
    /// Every stage of every container.
    pub stages: Vec<StageResult>,
}

/// A sync's counts over the stages that ran (what they did before failing, for a failed one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncTotals {
    /// Stages that did not succeed (failed, with failed or rejected records, or skipped).
    pub not_ok: usize,
    /// Every stage.
    pub stages: usize,
    /// Records read.
    pub read: u64,
    /// Records written (in a dry run, that would have been).
    pub written: u64,
    /// Records deleted.
    pub deleted: u64,
    /// Records that failed.
    pub failed: u64,
    /// Records the destinations rejected.
    pub rejected: usize,
}

impl SyncReport {
    /// One line per stage that ran: `view_1/postgrest time: Knack 4.1s, Knack rate limit 0.3s,
    /// PostgREST 0.9s, working 0.2s` (see [`StageTime`](super::StageTime)): where each stage's
    /// seconds went, so the bottleneck shows.
    pub fn time_lines(&self) -> String {
        let ran = self.stages.iter().filter_map(|s| {
            let StageOutcome::Ran(t) = &s.outcome else {
                return None;
            };
            Some(format!(
                "{}/{} time: {}\n",
                s.container_id, s.destination, t.time
            ))
        });
        ran.collect()
    }

    /// One sentence per refresh or stage that did not succeed, naming it: `metadata: ...`,
    /// `metadata of <app>: ...`, `<container>/<stage>: <error>` (or its failed and rejected
    /// counts, or why it was skipped). Stages skipped because the metadata refresh failed are
    /// not listed: the refresh's own line says why.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Err(f) = &self.metadata {
            out.push(format!("metadata: {}", f.error));
        }
        for (name, refreshed) in &self.dest_metadata {
            if let Err(f) = refreshed {
                out.push(format!("metadata of {name}: {}", f.error));
            }
        }
        for s in &self.stages {
            let at = format!("{}/{}", s.container_id, s.destination);
            match &s.outcome {
                StageOutcome::Ran(t) => match &t.result {
                    Err(f) => out.push(format!("{at}: {}", f.error)),
                    Ok(r) if !r.is_clean() => out.push(format!(
                        "{at}: {} record(s) failed, {} rejected",
                        r.failed,
                        r.rejected.len()
                    )),
                    Ok(_) => {}
                },
                StageOutcome::Skipped(why) if self.metadata.is_ok() => {
                    out.push(format!("{at}: skipped, {why}"));
                }
                StageOutcome::Skipped(_) => {}
            }
        }
        out
    }

    /// The stages' notes (what a run repaired or dropped), one line each:
    /// `<container>/<stage>: <note>`. In a dry run whose staging load would stage records, one
    /// more line says the publishing stages' counts leave those out: a dry run stages nothing,
    /// so they read what is staged now.
    pub fn notes(&self) -> Vec<String> {
        let stages = self.stages.iter();
        let reports = stages.filter_map(|s| Some((s, s.outcome.report()?)));
        let notes = reports.flat_map(|(s, r)| r.notes.iter().map(move |n| (s, n)));
        let mut out: Vec<String> = notes
            .map(|(s, note)| format!("{}/{}: {note}", s.container_id, s.destination))
            .collect();
        for s in &self.stages {
            let Some(r) = s.outcome.report() else {
                continue;
            };
            let later = self.stages.iter().any(|o| {
                o.container_id == s.container_id && o.destination != Destination::Postgrest
            });
            if s.destination == Destination::Postgrest && r.dry_run && r.written > 0 && later {
                out.push(format!(
                    "{}: dry run: the later stages read what is staged now, so their counts leave \
                     out the {} record(s) the {} stage would stage",
                    s.container_id, r.written, s.destination
                ));
            }
        }
        out
    }

    /// The stages' counts, summed over those that ran.
    pub fn totals(&self) -> SyncTotals {
        let mut t = SyncTotals {
            stages: self.stages.len(),
            ..SyncTotals::default()
        };
        for s in &self.stages {
            if !s.outcome.is_success() {
                t.not_ok += 1;
            }
            if let Some(r) = s.outcome.report() {
                t.read += r.read;
                t.written += r.written;
                t.deleted += r.deleted;
                t.failed += r.failed;
                t.rejected += r.rejected.len();
            }
        }
        t
    }

    /// Whether every stage (and the metadata refresh) succeeded.
    pub fn is_success(&self) -> bool {
        self.metadata.is_ok()
            && self.dest_metadata.iter().all(|(_, m)| m.is_ok())
            && self.stages.iter().all(|s| s.outcome.is_success())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Rejection;
    use crate::Error;

    fn stage(destination: Destination, result: Result<RunReport, RunFailure>) -> StageResult {
        StageResult {
            container_id: "view_1".into(),
            destination,
            outcome: StageOutcome::Ran(Tracked {
                since: None,
                watermark: None,
                result,
                time: Default::default(),
            }),
        }
    }

    #[test]
    fn failures_totals_and_notes_name_each_stage() {
        let rejected = vec![Rejection {
            record_id: "r1".into(),
            field: None,
            code: None,
            reason: "refused".into(),
        }];
        let staged = RunReport {
            read: 60,
            written: 60,
            notes: vec!["repaired: 3 staged record(s)".into()],
            ..RunReport::default()
        };
        let published = RunReport {
            read: 60,
            written: 59,
            rejected,
            ..RunReport::default()
        };
        let failed = RunFailure {
            report: RunReport {
                read: 2,
                ..RunReport::default()
            },
            error: Box::new(Error::Refused("no".into())),
        };
        let report = SyncReport {
            metadata: Ok(RunReport::default()),
            dest_metadata: Vec::new(),
            stages: vec![
                stage(Destination::Postgrest, Ok(staged)),
                stage(Destination::Socrata, Ok(published)),
                stage(Destination::Agol, Err(failed)),
                StageResult {
                    container_id: "view_2".into(),
                    destination: Destination::Postgrest,
                    outcome: StageOutcome::Skipped("the staging load of view_2 failed".into()),
                },
            ],
        };
        assert_eq!(
            report.failures(),
            [
                "view_1/socrata: 0 record(s) failed, 1 rejected",
                "view_1/agol: no",
                "view_2/postgrest: skipped, the staging load of view_2 failed",
            ]
        );
        let t = report.totals();
        assert_eq!((t.not_ok, t.stages, t.read, t.written), (3, 4, 122, 119));
        assert_eq!((t.deleted, t.failed, t.rejected), (0, 0, 1));
        assert_eq!(
            report.notes(),
            ["view_1/postgrest: repaired: 3 staged record(s)"]
        );
        assert!(!report.is_success());
    }
}
