//! What a sync did: per container and stage, the stage's result with the watermark it left, or
//! why it was skipped; the metadata refreshes; and the run's verdict.

use super::watermark::{Destination, Tracked};
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

impl SyncReport {
    /// Whether every stage (and the metadata refresh) succeeded.
    pub fn is_success(&self) -> bool {
        self.metadata.is_ok()
            && self.dest_metadata.iter().all(|(_, m)| m.is_ok())
            && self.stages.iter().all(|s| s.outcome.is_success())
    }
}
