//! A run's summary: its counts ([`Summary`]), the end-of-run line, the summary event of the JSON
//! log, a failed command's last line, and the low Knack quota warning.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use knack_etl::knack::{quota_is_low, quota_left};
use knack_etl::knack_client::Quota;

/// What a command's run did, for its summary line: knack-etl's report of the run, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Records read from the source.
    pub read: u64,
    /// Records written (or, in a dry run, that would have been written).
    pub written: u64,
    /// Records deleted at the destination (full replace, AGOL simulated upsert); in the staging
    /// store, each one confirmed gone from Knack first.
    pub deleted: u64,
    /// Records the read of Knack lacked only because a page shifted under it, found while a
    /// full reload confirmed its deletes and staged again (shown when there are any).
    pub recovered: u64,
    /// Records that could not be transformed or written.
    pub failed: u64,
    /// Records the destination refused (named in the log); every other record was written.
    pub rejected: u64,
    /// Wall-clock time of the run; the dispatcher fills it in.
    pub duration: Duration,
    /// Whether this was a `--dry-run`.
    pub dry_run: bool,
    /// The app's daily Knack API quota after the run, when Knack reported it.
    pub knack_quota: Option<Quota>,
}

impl Summary {
    /// The counts of knack-etl's report of a run (what happened until it stopped, for a failed
    /// one), with Knack's last `quota` reading; the duration is the dispatcher's to set.
    pub(crate) fn counted(etl: &knack_etl::RunReport, dry_run: bool, quota: Option<Quota>) -> Self {
        Summary {
            read: etl.read,
            written: etl.written,
            deleted: etl.deleted,
            recovered: u64::from(etl.recovered),
            failed: etl.failed,
            rejected: etl.rejected.len() as u64,
            duration: etl.duration,
            dry_run,
            knack_quota: quota,
        }
    }

    /// A run that leaves failed or rejected records ends with exit code 1.
    pub(crate) fn is_success(&self) -> bool {
        self.failed == 0 && self.rejected == 0
    }
}

/// `records-to-socrata data-tracker/view_197: read 120, written 118, deleted 0, failed 2, rejected 1 in 3.4s`
/// (after `deleted`, `recovered N` when a full reload staged again records a shifted page hid).
pub(crate) fn summary_line(what: &str, r: &Summary) -> String {
    let written = if r.dry_run {
        format!("would write {} (dry run)", r.written)
    } else {
        format!("written {}", r.written)
    };
    let quota = r.knack_quota.as_ref().map(|q| quota_left(Some(q)));
    let quota = quota.map(|q| format!(", {q}")).unwrap_or_default();
    format!(
        "{what}: read {}, {written}, deleted {}{}, failed {}, rejected {} in {:.1}s{quota}",
        r.read,
        r.deleted,
        recovered_part(r.recovered),
        r.failed,
        r.rejected,
        r.duration.as_secs_f64()
    )
}

/// `, recovered N` when N > 0 (most runs recover nothing, and their lines stay as they were).
pub(crate) fn recovered_part(n: u64) -> String {
    match n {
        0 => String::new(),
        n => format!(", recovered {n}"),
    }
}

/// `records-to-agol data-tracker/view_197: stopped after read 0, written 0, deleted 0, failed 0 in 7.1s`.
pub(crate) fn stopped_line(what: &str, r: &Summary) -> String {
    let rest = summary_line("", r);
    format!("{what}: stopped after {}", rest.trim_start_matches(": "))
}

/// Whether this process logged a run's summary ([`emit_summary`], [`emit_stopped`]); when it did
/// not and the command fails, [`emit_failed`] ends the log instead.
static SUMMARY_LOGGED: AtomicBool = AtomicBool::new(false);

/// The last summary line of this process ([`emit_summary`], [`emit_stopped`], [`note_summary`]):
/// what a failed command's text-mode end line repeats ([`failed_line`]).
static LAST_SUMMARY: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Keeps `line` (counts and duration, no secret) for [`failed_line`]: for a command whose summary
/// is printed rather than logged (`sync`'s table).
pub(crate) fn note_summary(line: String) {
    *LAST_SUMMARY.lock().unwrap_or_else(|e| e.into_inner()) = Some(line);
}

/// A failed command's last line in text mode, after `error: ...`: the facts the JSON log's
/// summary event holds, in one line. `summary: <what>: stopped after read 0, written 0, ... in
/// 7.1s; exit code 1` when the command logged a summary (a run that stopped, or one whose failed
/// or rejected records failed it), else `summary: <command>: stopped after 0.4s; exit code 2`.
pub fn failed_line(command: &str, started: std::time::Instant, exit_code: u8) -> String {
    let last = LAST_SUMMARY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let secs = started.elapsed().as_secs_f64();
    let line = last.unwrap_or_else(|| format!("{command}: stopped after {secs:.1}s"));
    format!("summary: {line}; exit code {exit_code}")
}

/// The summary event: the line, with the counts as structured fields for `--log-format json`.
macro_rules! summary_event {
    ($level:expr, $r:expr, $stopped:expr, $line:expr) => {
        SUMMARY_LOGGED.store(true, Ordering::Relaxed);
        let line: String = $line;
        note_summary(line.clone());
        tracing::event!(
            target: "aks::summary",
            $level,
            read = $r.read,
            written = $r.written,
            deleted = $r.deleted,
            recovered = ($r.recovered > 0).then_some($r.recovered),
            failed = $r.failed,
            rejected = $r.rejected,
            duration_ms = $r.duration.as_millis() as u64,
            dry_run = $r.dry_run,
            knack_quota_left = $r.knack_quota.map(|q| q.remaining),
            stopped = $stopped,
            "{}",
            line
        )
    };
}

/// Logs the summary of a run that stopped on an error (at ERROR; the error itself follows). Text
/// logs leave it out (see [`super::logging::init`]): there it is the end line, after the error
/// ([`failed_line`]).
pub(crate) fn emit_stopped(what: &str, r: &Summary) {
    summary_event!(tracing::Level::ERROR, r, true, stopped_line(what, r));
}

/// The summary of a command that failed without logging one of its own (`status`, a `sync` that
/// could not start, `backup-socrata`, any command refused before it ran): `stopped: true` and
/// the time since `started`, so a JSON log always ends with a summary event (then the ERROR
/// event with the exit code). Does nothing when the command logged its summary.
pub fn emit_failed(command: &str, started: std::time::Instant) {
    if SUMMARY_LOGGED.load(Ordering::Relaxed) {
        return;
    }
    let duration = started.elapsed();
    tracing::error!(
        target: "aks::summary",
        command,
        duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
        stopped = true,
        "{command}: stopped after {:.1}s",
        duration.as_secs_f64()
    );
}

/// Warns when the app's daily Knack quota is low (knack-etl's [`quota_is_low`]).
pub(crate) fn warn_if_quota_low(quota: Option<&Quota>) {
    if let Some(q) = quota.filter(|q| quota_is_low(q)) {
        tracing::warn!(
            remaining = q.remaining,
            limit = q.limit,
            resets_at = q.resets_at.map(|t| t.to_rfc3339()),
            "the app's daily Knack API quota is running low: {} calls left; runs will fail with \
             the daily-limit error once it is spent",
            q.remaining
        );
    }
}

/// Logs the summary once, with the counts as structured fields for `--log-format json`.
pub(crate) fn emit_summary(what: &str, r: &Summary) {
    warn_if_quota_low(r.knack_quota.as_ref());
    summary_event!(tracing::Level::INFO, r, false, summary_line(what, r));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_has_every_count() {
        let r = Summary {
            read: 120,
            written: 118,
            deleted: 3,
            recovered: 0,
            failed: 2,
            rejected: 1,
            duration: Duration::from_millis(3_450),
            dry_run: false,
            knack_quota: None,
        };
        assert_eq!(
            summary_line("records-to-socrata data-tracker/view_197", &r),
            "records-to-socrata data-tracker/view_197: read 120, written 118, deleted 3, failed 2, rejected 1 in 3.5s"
        );
        assert!(!r.is_success());
        let recovered = Summary {
            read: 29_999,
            written: 30_000,
            deleted: 1,
            recovered: 1,
            ..Summary::default()
        };
        assert!(
            summary_line("x", &recovered)
                .starts_with("x: read 29999, written 30000, deleted 1, recovered 1, failed 0"),
            "{}",
            summary_line("x", &recovered)
        );
        let only_rejected = Summary {
            rejected: 1,
            ..Summary::default()
        };
        assert!(
            !only_rejected.is_success(),
            "a rejected record fails the run"
        );
    }

    #[test]
    fn summary_shows_the_quota_left() {
        use knack_etl::knack_client::Quota;
        let q = |remaining, limit| Quota {
            remaining,
            limit,
            resets_at: None,
        };
        let r = Summary {
            knack_quota: Some(q(1199, Some(5000))),
            ..Summary::default()
        };
        assert!(summary_line("x", &r).ends_with(", Knack quota left 1199 of 5000"));
    }

    #[test]
    fn dry_run_says_would() {
        let r = Summary {
            written: 7,
            dry_run: true,
            ..Summary::default()
        };
        assert!(summary_line("x", &r).contains("would write 7 (dry run)"));
        assert!(r.is_success());
    }

    #[test]
    fn a_stopped_run_says_so_with_its_duration() {
        let r = Summary {
            read: 2,
            duration: Duration::from_millis(7_140),
            ..Summary::default()
        };
        assert_eq!(
            stopped_line("records-to-agol a/view_1", &r),
            "records-to-agol a/view_1: stopped after read 2, written 0, deleted 0, failed 0, rejected 0 in \
             7.1s"
        );
    }
}
