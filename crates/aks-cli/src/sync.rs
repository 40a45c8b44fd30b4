//! `aks sync`: a whole app in one run (knack-etl's [`knack_etl::sync`]), checked first, summed
//! up in one table at the end.

use std::path::Path;

use knack_etl::knack_client::Quota;
use std::collections::{BTreeMap, BTreeSet};

use knack_etl::knack_client::Container;
use knack_etl::knack_dest::KnackDestination;
use knack_etl::sync::{
    self, KnackPlan, StageOutcome, SyncClients, SyncOptions, SyncPlan, SyncReport,
};
use knack_etl::RunReport;

use crate::cli::{Cli, SyncArgs};
use crate::config::{Config, ConfigError};
use crate::env::{EnvVars, Settings, SettingsError, Task};
use crate::error::{CliError, RunError};
use crate::knack_dest;
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
pub fn plans(
    config: &Config,
    path: &Path,
    args: &SyncArgs,
    vars: &EnvVars,
) -> Result<Vec<SyncPlan>, CliError> {
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
                let container = pipelines::knack_container(&c).map_err(CliError::from)?;
                let knack = knack_plans(config, &args.app_name, &c, vars)?;
                Ok(SyncPlan {
                    container,
                    modified_date_field: c.modified_date_field_id.clone(),
                    location_fields: c.config.location_fields.clone(),
                    socrata,
                    agol,
                    knack,
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

/// The container's Knack destinations (`knack_destinations`), each with the destination
/// container as Knack reads it. The destination app's id is resolved as `records-to-knack` does;
/// unresolved it is left empty here ([`knack_clients`] reports it for `sync`; `status` needs none).
fn knack_plans(
    config: &Config,
    app_name: &str,
    c: &crate::config::Container,
    vars: &EnvVars,
) -> Result<Vec<KnackPlan>, CliError> {
    let mut out = Vec::new();
    for (name, d) in &c.config.knack_destinations {
        let at = format!(
            "[apps.{app_name}.containers.{}.knack_destinations.{name}]",
            c.id
        );
        let fields = d
            .field_map()
            .map_err(|p| ConfigError::NotUsable(format!("{at}: {}", p.join("; "))))?;
        let dest_object = Container::object(&d.object)
            .map_err(|e| ConfigError::NotUsable(format!("{at}: {e}")))?;
        let configured = config
            .apps
            .get(name)
            .and_then(|a| a.containers.get(&d.container));
        let scene = configured.and_then(|k| k.scene_id.as_deref());
        let dest_container = if d.container.starts_with("view_") && scene.is_none() {
            return Err(ConfigError::NotUsable(format!(
                "{at}: container {} is a view, and sync refreshes its staged rows from Knack                  before comparing, which needs its scene: add [apps.{name}.containers.{}] with                  scene_id and modified_date_field_id",
                d.container, d.container
            ))
            .into());
        } else {
            Container::parse(&d.container, scene)
                .map_err(|e| ConfigError::NotUsable(format!("{at}: {e}")))?
        };
        let dest_app_id =
            knack_dest::dest_app_id(config, name, vars, &mut Vec::new(), &mut Vec::new())
                .unwrap_or_default();
        out.push(KnackPlan {
            app_name: name.clone(),
            destination: KnackDestination {
                source_app_id: String::new(),
                source_container: c.id.clone(),
                dest_app_id,
                dest_container: d.container.clone(),
                dest_object,
                fields,
            },
            dest_container,
            dest_modified_field: configured.and_then(|k| k.modified_date_field_id.clone()),
        });
    }
    Ok(out)
}

/// The Knack clients of the destination apps `plans` copy into, by app name, with every plan's
/// source and destination app ids filled in. Every problem (a missing `KNACK_APP_ID_DEST` or
/// `KNACK_API_KEY_DEST`, two destination apps for the one key) is reported at once, before any
/// request.
fn knack_clients(
    config: &Config,
    plans: &mut [SyncPlan],
    settings: &Settings,
    vars: &EnvVars,
) -> Result<BTreeMap<String, knack_etl::knack_client::Client>, CliError> {
    let names: BTreeSet<String> = plans
        .iter()
        .flat_map(|p| p.knack.iter().map(|k| k.app_name.clone()))
        .collect();
    let Some(name) = names.first() else {
        return Ok(BTreeMap::new());
    };
    let (mut missing, mut invalid) = (Vec::new(), Vec::new());
    if names.len() > 1 {
        invalid.push(format!(
            "the containers copy into {} Knack apps ({}), but KNACK_API_KEY_DEST holds one key:              sync them with -c in separate runs, one destination app each",
            names.len(),
            names.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    let app_id = knack_dest::dest_app_id(config, name, vars, &mut missing, &mut invalid);
    let key = knack_dest::dest_key(vars, &mut missing);
    let url = knack_dest::dest_url(vars, &settings.knack.api_url)
        .map_err(|e| invalid.push(e))
        .ok();
    let (Some(app_id), Some(key), Some(url), true) = (app_id, key, url, invalid.is_empty()) else {
        return Err(SettingsError {
            task: "sync",
            missing,
            invalid,
        }
        .into());
    };
    for plan in plans.iter_mut() {
        for k in &mut plan.knack {
            k.destination.source_app_id = settings.app_id.clone();
            k.destination.dest_app_id = app_id.clone();
        }
    }
    let dest = knack_dest::DestApp { app_id, key, url };
    Ok(BTreeMap::from([(name.clone(), dest.client()?)]))
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
        knack_dests: BTreeMap::new(),
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
    let mut plans = plans(&config, path, args, vars)?;
    let settings = settings("sync", true, &plans, cli, args, &config, path, vars)?;
    let mut clients = clients(&settings)?;
    clients.knack_dests = knack_clients(&config, &mut plans, &settings, vars)?;
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
    crate::table::render(&rows, &[3, 4, 5, 6, 7])
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
