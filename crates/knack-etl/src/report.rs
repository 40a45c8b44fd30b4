//! What a pipeline run did.

use std::fmt;
use std::time::Duration;

use crate::reject::Rejection;

/// The outcome of one pipeline run, successful or not: every count is what
/// really happened before the run ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Items read from the source.
    pub read: u64,
    /// Items written to the destination.
    pub written: u64,
    /// Items deleted from the destination (a replace's clean-up).
    pub deleted: u64,
    /// Items deliberately not written.
    pub skipped: u64,
    /// Items that failed to be written because the run stopped (not counted in `rejected`).
    pub failed: u64,
    /// Records the destination refused, each named with the destination's reason. The run
    /// went on without them: every other record was written, and a replace kept their previous
    /// version. A caller should treat a non-empty list as a failed run (`aks` exits 1).
    pub rejected: Vec<Rejection>,
    /// Wall-clock time of the run.
    pub duration: Duration,
    /// Things a person should know about the run (dropped fields, a replace
    /// that was not finished and why).
    pub notes: Vec<String>,
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "read {}, written {}, deleted {}, skipped {}, failed {}, rejected {} in {:.1}s",
            self.read,
            self.written,
            self.deleted,
            self.skipped,
            self.failed,
            self.rejected.len(),
            self.duration.as_secs_f64()
        )
    }
}
