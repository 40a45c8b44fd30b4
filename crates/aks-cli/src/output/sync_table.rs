//! The end of `aks sync`: the summary table, the quota line, the failures and the log lines.

use knack_etl::knack_client::Quota;
use knack_etl::sync::{StageOutcome, SyncReport};
use knack_etl::RunReport;

use super::summary::recovered_part;

/// What the summary's `rejected` column shows for a stage: records the destination refused,
/// each named in the log (knack-etl's README, "When a record is rejected").
pub(crate) fn rejected(report: &RunReport) -> u64 {
    report.rejected.len() as u64
}

/// `Knack quota left 1199 of 5000`, or that Knack did not say.
pub(crate) fn quota_line(quota: Option<&Quota>) -> String {
    match quota {
        Some(Quota {
            remaining,
            limit: Some(limit),
            ..
        }) => format!("Knack quota left {remaining} of {limit}"),
        Some(q) => format!("Knack quota left {}", q.remaining),
        None => "Knack quota left: not reported by Knack".to_string(),
    }
}

pub(crate) fn failures(report: &SyncReport) -> Vec<String> {
    let mut out = Vec::new();
    if let Err(f) = &report.metadata {
        out.push(format!("metadata: {}", f.error));
    }
    for (name, refreshed) in &report.dest_metadata {
        if let Err(f) = refreshed {
            out.push(format!("metadata of {name}: {}", f.error));
        }
    }
    for s in &report.stages {
        match &s.outcome {
            StageOutcome::Ran(t) => match &t.result {
                Err(f) => out.push(format!("{}/{}: {}", s.container_id, s.destination, f.error)),
                Ok(r) if !r.is_clean() => out.push(format!(
                    "{}/{}: {} record(s) failed, {} rejected",
                    s.container_id,
                    s.destination,
                    r.failed,
                    r.rejected.len()
                )),
                Ok(_) => {}
            },
            StageOutcome::Skipped(why) if report.metadata.is_ok() => {
                out.push(format!(
                    "{}/{}: skipped, {why}",
                    s.container_id, s.destination
                ));
            }
            StageOutcome::Skipped(_) => {}
        }
    }
    out
}

pub(crate) fn log_outcome(report: &SyncReport) {
    for s in &report.stages {
        let Some(r) = s.outcome.report() else {
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
            rejected = rejected(r),
            duration_ms = r.duration.as_millis() as u64,
            ok = s.outcome.is_success(),
            "sync {}/{}: read {}, written {}, deleted {}{}, rejected {}",
            s.container_id,
            s.destination,
            r.read,
            r.written,
            r.deleted,
            recovered_part(u64::from(r.recovered)),
            rejected(r)
        );
    }
}

/// The stages' notes, one line each under the table (`view_197/socrata: repaired: 3 staged
/// record(s) missing from dataset p53x-x73x, re-published`), so what a run repaired or dropped is
/// seen without reading the log.
pub(crate) fn notes(report: &SyncReport) -> String {
    let mut out = String::new();
    for s in &report.stages {
        for note in s.outcome.report().map_or(&[][..], |r| &r.notes[..]) {
            out.push_str(&format!("{}/{}: {note}\n", s.container_id, s.destination));
        }
    }
    out
}

/// The end-of-run table: container × stage with since, read, written, deleted, rejected, seconds
/// and the result.
pub(crate) fn summary_table(report: &SyncReport, dry_run: bool) -> String {
    let mut rows = vec![[
        "container",
        "stage",
        "since",
        "read",
        "written",
        "deleted",
        "rejected",
        "seconds",
        "result",
    ]
    .map(String::from)
    .to_vec()];
    let ok = if dry_run { "ok (dry run)" } else { "ok" };
    match &report.metadata {
        Ok(r) => rows.push(row("(app)", "metadata", "-", r, ok.into())),
        Err(f) => rows.push(row("(app)", "metadata", "-", &f.report, "FAILED".into())),
    }
    for (name, refreshed) in &report.dest_metadata {
        let app = format!("({name})");
        match refreshed {
            Ok(r) => rows.push(row(&app, "metadata", "-", r, ok.into())),
            Err(f) => rows.push(row(&app, "metadata", "-", &f.report, "FAILED".into())),
        }
    }
    for s in &report.stages {
        let (container, stage) = (s.container_id.as_str(), s.destination.as_str());
        match &s.outcome {
            StageOutcome::Skipped(_) => rows.push(row(
                container,
                stage,
                "-",
                &RunReport::default(),
                "skipped".into(),
            )),
            StageOutcome::Ran(t) => {
                let since = t
                    .since
                    .map_or_else(|| "full".to_string(), |d| d.to_rfc3339());
                let result = match &t.result {
                    Ok(r) if r.is_clean() => ok.to_string(),
                    Ok(_) => "FAILED (records)".to_string(),
                    Err(_) => "FAILED".to_string(),
                };
                let report = s.outcome.report().cloned().unwrap_or_default();
                rows.push(row(container, stage, &since, &report, result));
            }
        }
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
        rejected(r).to_string(),
        format!("{:.1}", r.duration.as_secs_f64()),
        result,
    ]
}

/// `sync acc: 1 of 3 stage(s) failed or skipped; read 120, written 118, deleted 0, failed 2,
/// rejected 0 in 12.3s`: a failed sync's totals over the stages that ran, for the end line of a
/// text log (the JSON log's summary event names only the command and the duration).
pub(crate) fn totals_line(app: &str, report: &SyncReport, took: std::time::Duration) -> String {
    let (mut read, mut written, mut deleted, mut failed, mut rejected) = (0, 0, 0, 0, 0);
    let mut not_ok = 0;
    for s in &report.stages {
        if !s.outcome.is_success() {
            not_ok += 1;
        }
        let StageOutcome::Ran(t) = &s.outcome else {
            continue;
        };
        let r = match &t.result {
            Ok(r) => r,
            Err(f) => &f.report,
        };
        read += r.read;
        written += r.written;
        deleted += r.deleted;
        failed += r.failed;
        rejected += r.rejected.len();
    }
    format!(
        "sync {app}: {not_ok} of {} stage(s) failed or skipped; read {read}, written {written}, \
         deleted {deleted}, failed {failed}, rejected {rejected} in {:.1}s",
        report.stages.len(),
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
        assert_eq!(failures(&report).len(), 2);
    }
}
