//! What a pipeline run did.

use std::fmt;
use std::time::Duration;

use super::reject::Rejection;

/// The outcome of one pipeline run, successful or not: every count is what
/// really happened before the run ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Items read from the source.
    pub read: u64,
    /// Items written to the destination; in a dry run, items that would have been written.
    pub written: u64,
    /// Items deleted from the destination (a replace's clean-up). For the staging store, each
    /// one confirmed gone from Knack first, never inferred from a read that lacked it.
    pub deleted: u64,
    /// Items the read lacked that the source still had (missing only because a page shifted
    /// under the read), found while a replace confirmed its deletes and written: counted in
    /// `written` too. A `u32` (a run's shifted records are few) so that a [`RunFailure`], which
    /// carries this report, stays small enough to return by value.
    ///
    /// [`RunFailure`]: crate::RunFailure
    pub recovered: u32,
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
    /// A dry run: nothing was written, and `written` counts what would have been.
    pub dry_run: bool,
}

impl RunReport {
    /// Whether every record read was written (or deleted): no record failed and none was
    /// rejected by the destination. A run that is not clean keeps its watermark, so the next
    /// run offers the same records again.
    pub fn is_clean(&self) -> bool {
        self.failed == 0 && self.rejected.is_empty()
    }
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One vocabulary for a dry run: "would write N", never "written 0, skipped N".
        let written = if self.dry_run {
            format!("would write {} (dry run)", self.written)
        } else {
            format!("written {}", self.written)
        };
        // Shown only when there were some: most runs (every upsert) cannot recover anything.
        let recovered = if self.recovered > 0 {
            format!(", recovered {}", self.recovered)
        } else {
            String::new()
        };
        write!(
            f,
            "read {}, {written}, deleted {}{recovered}, skipped {}, failed {}, rejected {} in {:.1}s",
            self.read,
            self.deleted,
            self.skipped,
            self.failed,
            self.rejected.len(),
            self.duration.as_secs_f64()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dry_run_says_would_write() {
        let mut r = RunReport {
            read: 60,
            written: 60,
            dry_run: true,
            ..RunReport::default()
        };
        let line = r.to_string();
        assert!(
            line.starts_with("read 60, would write 60 (dry run), deleted 0, skipped 0"),
            "{line}"
        );
        r.dry_run = false;
        assert!(r.to_string().starts_with("read 60, written 60,"), "{r}");
        assert!(!r.to_string().contains("recovered"), "{r}");
        r.recovered = 2;
        r.deleted = 1;
        assert!(
            r.to_string()
                .starts_with("read 60, written 60, deleted 1, recovered 2, skipped 0"),
            "{r}"
        );
    }
}
