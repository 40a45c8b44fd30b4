//! The end of `aks sync`: the summary table, the quota line, the failures and the log lines.

use knack_etl::sync::{StageOutcome, SyncReport};
use knack_etl::RunReport;

use super::summary::recovered_part;

/// Logs each stage's notes and its summary event.
pub(crate) fn log_outcome(report: &SyncReport) {
    for s in &report.stages {
        let (Some(r), t) = (s.outcome.report(), s.outcome.time()) else {
            continue;
        };
        for note in &r.notes {
            tracing::info!(container = %s.container_id, stage = %s.destination, "{note}");
        }
        tracing::info!(
            target: "aks::summary",
            container = %s.container_id,
            stage = %s.destination,
            read = r.read,
            written = r.written,
            deleted = r.deleted,
            recovered = (r.recovered > 0).then_some(r.recovered),
            rejected = r.rejected.len(),
            duration_ms = r.duration.as_millis() as u64,
            wait_knack_ms = t.waited_ms("Knack"), wait_postgrest_ms = t.waited_ms("PostgREST"),
            wait_knack_rate_limit_ms = t.waited_ms("Knack rate limit"),
            wait_socrata_ms = t.waited_ms("Socrata"), wait_arcgis_ms = t.waited_ms("ArcGIS"),
            working_ms = t.working().as_millis() as u64, stage_ms = t.wall.as_millis() as u64,
            ok = s.outcome.is_success(),
            "sync {}/{}: read {}, written {}, deleted {}{}, rejected {}",
            s.container_id,
            s.destination,
            r.read,
            r.written,
            r.deleted,
            recovered_part(u64::from(r.recovered)),
            r.rejected.len()
        );
    }
}

/// The end-of-run table: container × stage with since, read, written, deleted, rejected, seconds
/// and the result.
pub(crate) fn summary_table(report: &SyncReport, dry_run: bool) -> String {
    let header = "container stage since read written deleted rejected seconds result";
    let mut rows = vec![header.split(' ').map(String::from).collect()];
    let ok = if dry_run { "ok (dry run)" } else { "ok" };
    let dest_apps = report.dest_metadata.iter();
    let apps = dest_apps.map(|(name, r)| (format!("({name})"), r));
    for (app, refreshed) in std::iter::once(("(app)".to_owned(), &report.metadata)).chain(apps) {
        let (r, result) = match refreshed {
            Ok(r) => (r, ok),
            Err(f) => (&f.report, "FAILED"),
        };
        rows.push(row(&app, "metadata", "-", r, result.into()));
    }
    let none = RunReport::default();
    for s in &report.stages {
        let (container, stage) = (s.container_id.as_str(), s.destination.as_str());
        let StageOutcome::Ran(t) = &s.outcome else {
            rows.push(row(container, stage, "-", &none, "skipped".into()));
            continue;
        };
        let since = t.since.map_or_else(|| "full".into(), |d| d.to_rfc3339());
        let result = match &t.result {
            Ok(r) if r.is_clean() => ok,
            Ok(_) => "FAILED (records)",
            Err(_) => "FAILED",
        };
        let r = s.outcome.report().unwrap_or(&none);
        rows.push(row(container, stage, &since, r, result.into()));
    }
    // Counts and seconds read best right-aligned.
    super::table::render(&rows, &[3, 4, 5, 6, 7])
}

fn row(container: &str, stage: &str, since: &str, r: &RunReport, result: String) -> Vec<String> {
    // In a dry run `written` counts what would have been written.
    let written = r.written;
    vec![
        container.to_string(),
        stage.to_string(),
        since.to_string(),
        r.read.to_string(),
        written.to_string(),
        r.deleted.to_string(),
        // Records the destination refused, each named in the log.
        r.rejected.len().to_string(),
        format!("{:.1}", r.duration.as_secs_f64()),
        result,
    ]
}

/// `sync acc: 1 of 3 stage(s) failed or skipped; read 120, written 118, deleted 0, failed 2,
/// rejected 0 in 12.3s`: a failed sync's totals over the stages that ran, for the end line of a
/// text log (the JSON log's summary event names only the command and the duration).
pub(crate) fn totals_line(app: &str, report: &SyncReport, took: std::time::Duration) -> String {
    let t = report.totals();
    format!(
        "sync {app}: {} of {} stage(s) failed or skipped; read {}, written {}, deleted {}, \
         failed {}, rejected {} in {:.1}s",
        t.not_ok,
        t.stages,
        t.read,
        t.written,
        t.deleted,
        t.failed,
        t.rejected,
        took.as_secs_f64()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use knack_etl::sync::StageResult;
    use knack_etl::sync::{Destination, Tracked};
    use knack_etl::{Error, RunFailure};
    use std::time::Duration;

    /// A stage that ran; its `rejected` records were refused one by one by the destination.
    fn ran(read: u64, written: u64, rejected: u64) -> StageOutcome {
        let rejected = (0..rejected)
            .map(|i| knack_etl::Rejection {
                record_id: format!("r{i}"),
                field: None,
                code: None,
                reason: "refused".into(),
            })
            .collect();
        StageOutcome::Ran(Tracked {
            since: None,
            watermark: None,
            time: Default::default(),
            result: Ok(RunReport {
                read,
                written,
                failed: 0,
                rejected,
                duration: Duration::from_millis(1_300),
                ..RunReport::default()
            }),
        })
    }

    #[test]
    fn table_has_a_row_per_stage_with_every_count_and_the_result() {
        let report = SyncReport {
            dest_metadata: Vec::new(),
            metadata: Ok(RunReport {
                read: 1,
                written: 1,
                ..RunReport::default()
            }),
            stages: vec![
                StageResult {
                    container_id: "view_1".into(),
                    destination: Destination::Postgrest,
                    outcome: ran(60, 60, 0),
                },
                StageResult {
                    container_id: "view_1".into(),
                    destination: Destination::Socrata,
                    outcome: ran(60, 58, 2),
                },
                StageResult {
                    container_id: "view_1".into(),
                    destination: Destination::Agol,
                    outcome: StageOutcome::Ran(Tracked {
                        since: Some("2024-03-27T05:00:00Z".parse().unwrap()),
                        watermark: None,
                        time: Default::default(),
                        result: Err(RunFailure {
                            report: RunReport::default(),
                            error: Box::new(Error::Refused("no".into())),
                        }),
                    }),
                },
            ],
        };
        let table = summary_table(&report, false);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 5, "{table}");
        assert!(lines[0].starts_with("container"), "{table}");
        assert!(lines[0].contains("rejected"), "{table}");
        let cells = |l: &str| l.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        assert_eq!(
            cells(lines[2]),
            [
                "view_1",
                "postgrest",
                "full",
                "60",
                "60",
                "0",
                "0",
                "1.3",
                "ok"
            ]
        );
        assert_eq!(
            cells(lines[3]),
            [
                "view_1",
                "socrata",
                "full",
                "60",
                "58",
                "0",
                "2",
                "1.3",
                "FAILED",
                "(records)"
            ]
        );
        assert!(lines[4].contains("2024-03-27T05:00:00+00:00") && lines[4].ends_with("FAILED"));
        assert!(!report.is_success());
        assert_eq!(report.failures().len(), 2);
    }
}
