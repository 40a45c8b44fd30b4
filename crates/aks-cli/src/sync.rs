//! `aks sync`: a whole app in one run (knack-etl's [`knack_etl::sync`]), checked first, summed
//! up in one table at the end.

use std::path::Path;

use knack_etl::knack_client::Quota;
use knack_etl::sync::{self, StageOutcome, SyncClients, SyncOptions, SyncPlan, SyncReport};
use knack_etl::RunReport;

use crate::cli::{Cli, SyncArgs};
use crate::config::Config;
use crate::env::{EnvVars, Settings, Task};
use crate::error::{CliError, RunError};
use crate::pipelines;
use crate::report::warn_if_quota_low;
use crate::run::{agol_target_of, socrata_target_of};

/// What the summary's `rejected` column shows for a stage: records the destination refused,
/// each named in the log (knack-etl's README, "When a record is rejected").
pub fn rejected(report: &RunReport) -> u64 {
    report.rejected.len() as u64
}

/// The containers to sync (`-c`, else all of the app's), each validated with its destinations.
/// Every problem is reported at once, before any request.
pub fn plans(config: &Config, path: &Path, args: &SyncArgs) -> Result<Vec<SyncPlan>, CliError> {
    let app = config.app(path, &args.app_name)?;
    let ids: Vec<String> = if args.containers.is_empty() {
        app.containers.keys().cloned().collect()
    } else {
        args.containers.clone()
    };
    if ids.is_empty() {
        return Err(CliError::Usage(format!(
            "app `{}` has no containers in {}; add [apps.{}.containers.<view_N or object_N>]",
            args.app_name,
            path.display(),
            args.app_name
        )));
    }
    let (mut plans, mut problems) = (Vec::new(), Vec::new());
    for id in &ids {
        let plan = config
            .container(path, &args.app_name, id)
            .map_err(CliError::from)
            .and_then(|c| {
                let socrata = match c.config.socrata_resource_id {
                    Some(_) => Some(socrata_target_of(&c, app)?),
                    None => None,
                };
                let agol = match c.config.service_id {
                    Some(_) => Some(agol_target_of(&c, app)?),
                    None => None,
                };
                Ok(SyncPlan {
                    container: pipelines::knack_container(&c).map_err(CliError::from)?,
                    modified_date_field: c.modified_date_field_id.clone(),
                    location_fields: c.config.location_fields.clone(),
                    socrata,
                    agol,
                })
            });
        match plan {
            Ok(plan) => plans.push(plan),
            Err(e) => problems.push(e.to_string()),
        }
    }
    if problems.is_empty() {
        Ok(plans)
    } else {
        Err(CliError::Usage(format!(
            "sync cannot start:\n  - {}",
            problems.join("\n  - ")
        )))
    }
}

/// The settings of a command over `plans` (`sync`, `status`): the Knack key when `knack_and_publishers`,
/// and then the Socrata and AGOL credentials when a plan publishes there. Errors before any request.
#[allow(clippy::too_many_arguments)]
pub(crate) fn settings(
    name: &'static str,
    knack_and_publishers: bool,
    plans: &[SyncPlan],
    cli: &Cli,
    args: &SyncArgs,
    config: &Config,
    path: &Path,
    vars: &EnvVars,
) -> Result<Settings, CliError> {
    let app = config.app(path, &args.app_name)?;
    let task = Task::Composite {
        name,
        knack_key: knack_and_publishers,
        socrata: knack_and_publishers && plans.iter().any(|p| p.socrata.is_some()),
        agol: knack_and_publishers && plans.iter().any(|p| p.agol.is_some()),
    };
    Ok(Settings::resolve(
        task,
        &args.app_name,
        app,
        args.env,
        config,
        vars,
        cli.dry_run,
    )?)
}

/// The clients `settings` allow: Knack (with its key, if resolved), PostgREST, and Socrata / AGOL
/// when their credentials were resolved.
pub(crate) fn clients(settings: &Settings) -> Result<SyncClients, RunError> {
    Ok(SyncClients {
        knack: pipelines::knack(settings, settings.knack.api_key.as_ref())?,
        pgrest: pipelines::postgrest(settings)?,
        socrata: settings
            .socrata
            .as_ref()
            .map(pipelines::socrata)
            .transpose()?,
        agol: settings.agol.as_ref().map(pipelines::agol).transpose()?,
    })
}

/// Runs `aks sync`.
pub async fn execute(
    cli: &Cli,
    args: &SyncArgs,
    path: &Path,
    vars: &EnvVars,
) -> Result<(), CliError> {
    let config = Config::load(path)?;
    let plans = plans(&config, path, args)?;
    let settings = settings("sync", true, &plans, cli, args, &config, path, vars)?;
    let clients = clients(&settings)?;
    tracing::info!(
        command = "sync",
        app = %settings.app_name,
        app_id = %settings.app_id,
        env = settings.env.as_str(),
        containers = plans.len(),
        since = args.date.map(|d| d.to_rfc3339()),
        concurrency = args.concurrency,
        dry_run = settings.dry_run,
        "starting"
    );
    settings.warn_insecure_http();
    let options = SyncOptions {
        since: args.date,
        dry_run: cli.dry_run,
        concurrency: usize::from(args.concurrency),
    };
    // Every destination is checked before the first write, so a mis-set one stops the whole
    // run with exit 2 instead of failing after other containers were loaded.
    if let Err(e) = sync::preflight(&clients, &settings.app_id, &plans).await {
        return Err(match e {
            knack_etl::Error::Preflight(message) => RunError::Preflight(message),
            other => RunError::Message(format!(
                "sync of {} could not start: {other}",
                args.app_name
            )),
        }
        .into());
    }
    let report = sync::sync(&clients, &settings.app_id, &plans, options).await;
    print!("{}", summary_table(&report, cli.dry_run));
    // One Knack client served every container, so its last reading is the app's.
    let quota = clients.knack.quota();
    println!("{}", quota_line(quota.as_ref()));
    log_outcome(&report);
    warn_if_quota_low(quota.as_ref());
    if report.is_success() {
        return Ok(());
    }
    let failed: Vec<String> = failures(&report);
    Err(RunError::Message(format!(
        "sync of {} failed in {} stage(s) (the others ran): {}",
        args.app_name,
        failed.len(),
        failed.join("; ")
    ))
    .into())
}

/// `Knack quota left 1199 of 5000`, or that Knack did not say.
pub fn quota_line(quota: Option<&Quota>) -> String {
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

fn failures(report: &SyncReport) -> Vec<String> {
    let mut out = Vec::new();
    if let Err(f) = &report.metadata {
        out.push(format!("metadata: {}", f.error));
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

fn log_outcome(report: &SyncReport) {
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
            rejected = rejected(r),
            duration_ms = r.duration.as_millis() as u64,
            ok = s.outcome.is_success(),
            "sync {}/{}: read {}, written {}, deleted {}, rejected {}",
            s.container_id,
            s.destination,
            r.read,
            r.written,
            r.deleted,
            rejected(r)
        );
    }
}

/// The end-of-run table: container × stage with since, read, written, deleted, rejected, seconds
/// and the result.
pub fn summary_table(report: &SyncReport, dry_run: bool) -> String {
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
    crate::table::render(&rows, &[3, 4, 5, 6, 7])
}

fn row(container: &str, stage: &str, since: &str, r: &RunReport, result: String) -> Vec<String> {
    // A dry run writes nothing: what it would have written is counted as skipped.
    let written = r.written.max(r.skipped);
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

#[cfg(test)]
mod tests {
    use super::*;
    use knack_etl::sync::StageResult;
    use knack_etl::watermark::{Destination, Tracked};
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
