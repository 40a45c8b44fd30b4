//! Runs a parsed command: validate everything first, then call the pipeline, then summarise.
//!
//! The config, the container, its destination keys, the date and the environment are all checked
//! here, before any request, so [`crate::pipelines`] receives only values that are present and
//! well-formed.

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Utc};
use knack_etl::agol::AgolTarget;
use knack_etl::socrata::{BackupError, SocrataTarget};

use crate::cli::{Cli, Command, ConfigCommand, DbCommand, Env, RecordsArgs};
use crate::config::{AppConfig, Config, ConfigError, Container, Service};
use crate::env::{EnvVars, Settings, Task};
use crate::error::{CliError, RunError};
use crate::report::{emit_stopped, emit_summary, Progress, RunReport};
use crate::{check, db, pipelines, shared};

/// The config file used when neither `--config` nor `AKS_CONFIG` is given.
pub const DEFAULT_CONFIG: &str = "knack.toml";

/// `--config`, else `AKS_CONFIG`, else `./knack.toml`.
pub fn config_path(flag: Option<&Path>, vars: &EnvVars) -> PathBuf {
    flag.map(Path::to_owned)
        .or_else(|| vars.get("AKS_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG))
}

/// One container to move, and from when.
#[derive(Debug, Clone)]
pub struct RecordsJob {
    /// The validated container.
    pub container: Container,
    /// `--date`: only records modified at or after it; `None` means everything (full replace).
    pub since: Option<DateTime<Utc>>,
}

/// Runs `cli` with environment `vars`. Errors carry their exit code ([`CliError::exit_code`]).
pub async fn execute(cli: &Cli, vars: &EnvVars) -> Result<(), CliError> {
    let path = config_path(cli.config.as_deref(), vars);
    match &cli.command {
        Command::MetadataToPostgrest(a) => {
            let config = Config::load(&path)?;
            let app = config.app(&path, &a.app_name)?;
            let task = Task::MetadataToPostgrest;
            let settings =
                Settings::resolve(task, &a.app_name, app, a.env, &config, vars, cli.dry_run)?;
            let what = format!("{} {}", task.name(), a.app_name);
            log_start(task, &settings, None);
            let progress = Progress::for_terminal(&what, cli.log_format);
            let started = Instant::now();
            let result = pipelines::metadata_to_postgrest(&settings).await;
            finish(&what, &progress, started, result)
        }
        Command::RecordsToPostgrest(a) => {
            let (settings, job, ()) =
                prepare(Task::RecordsToPostgrest, cli, a, &path, vars, |_, _| Ok(()))?;
            let key = settings.knack.api_key.clone().ok_or_else(|| {
                CliError::Usage("records-to-postgrest needs KNACK_API_KEY".to_owned())
            })?;
            let (what, progress, started) = begin(cli, Task::RecordsToPostgrest, &settings, &job);
            let result = pipelines::records_to_postgrest(&settings, &key, &job).await;
            finish(&what, &progress, started, result)
        }
        Command::RecordsToSocrata(a) => {
            let (settings, job, target) =
                prepare(Task::RecordsToSocrata, cli, a, &path, vars, socrata_target)?;
            let socrata = settings.socrata.clone().ok_or_else(|| {
                CliError::Usage("records-to-socrata needs the SOCRATA_* variables".to_owned())
            })?;
            let (what, progress, started) = begin(cli, Task::RecordsToSocrata, &settings, &job);
            let result = pipelines::records_to_socrata(&settings, &socrata, &target, &job).await;
            finish(&what, &progress, started, result)
        }
        Command::RecordsToAgol(a) => {
            let (settings, job, target) =
                prepare(Task::RecordsToAgol, cli, a, &path, vars, agol_target)?;
            let agol = settings.agol.clone().ok_or_else(|| {
                CliError::Usage("records-to-agol needs the AGOL_* variables".to_owned())
            })?;
            let (what, progress, started) = begin(cli, Task::RecordsToAgol, &settings, &job);
            let result = pipelines::records_to_agol(&settings, &agol, &target, &job).await;
            finish(&what, &progress, started, result)
        }
        Command::RecordsToKnack(a) => crate::knack_dest::run(cli, a, &path, vars).await,
        Command::BackupSocrata(a) => crate::backup::run(cli, a, &path, vars)
            .await
            .map_err(|e| socrata_hint(e, &path, a.env, vars)),
        // Only reads (the file, and online Knack and the destinations), so a dry run is the same.
        Command::Config(ConfigCommand::Check { offline }) => {
            let config = Config::load(&path)?;
            let containers: usize = config.apps.values().map(|a| a.containers.len()).sum();
            let counts = format!("{} apps, {} containers", config.apps.len(), containers);
            // Destinations several containers publish to: a replace of one keeps the others'.
            let print_shared = || {
                for line in shared::shared_destinations(&config) {
                    println!("shared: {line}");
                }
            };
            if *offline {
                println!("{}: OK ({counts})", path.display());
                print_shared();
                return Ok(());
            }
            let problems = check::config_check(&config, vars).await?;
            if problems.is_empty() {
                println!(
                    "{}: OK ({counts}; every container matches Knack and its destinations)",
                    path.display()
                );
                print_shared();
                return Ok(());
            }
            // The count first, so the verdict is the first thing read.
            println!(
                "{}: {} problem(s) ({counts})",
                path.display(),
                problems.len()
            );
            for p in &problems {
                println!("  - {p}");
            }
            print_shared();
            Err(CliError::Usage(format!(
                "config check found {} problem(s) (listed on stdout): the config does not match \
                 Knack or a destination",
                problems.len()
            )))
        }
        Command::Db(DbCommand::Init { print }) => db::init(*print, cli.dry_run, vars).await,
        Command::Sync(a) => crate::sync::execute(cli, a, &path, vars).await,
        Command::Status(a) => crate::status::execute(cli, a, &path, vars).await,
    }
}

/// Config, container, the command's destination keys (`target`), then environment: all before
/// any request, and a config problem before a missing variable.
fn prepare<T>(
    task: Task,
    cli: &Cli,
    a: &RecordsArgs,
    path: &Path,
    vars: &EnvVars,
    target: impl FnOnce(&RecordsJob, &AppConfig) -> Result<T, CliError>,
) -> Result<(Settings, RecordsJob, T), CliError> {
    let config = Config::load(path)?;
    let app = config.app(path, &a.app_name)?;
    let container = config.container(path, &a.app_name, &a.container)?;
    let job = RecordsJob {
        container,
        since: a.date,
    };
    let target = target(&job, app)?;
    let settings = Settings::resolve(task, &a.app_name, app, a.env, &config, vars, cli.dry_run)?;
    Ok((settings, job, target))
}

fn at(container: &Container) -> String {
    format!("[apps.{}.containers.{}]", container.app_name, container.id)
}

fn socrata_target(job: &RecordsJob, app: &AppConfig) -> Result<SocrataTarget, CliError> {
    let target = socrata_target_of(&job.container, app)?;
    let mode = knack_etl::RunOptions::from_since(job.since, false).mode();
    if target.check_mode(mode).is_err() {
        return Err(CliError::Usage(format!(
            "{} sets no_replace_socrata, and without --date records-to-socrata would replace the \
             whole dataset; pass --date (e.g. --date 1970-01-01 to upsert every record), or use \
             `aks sync`, which upserts every record when the dataset has no watermark yet",
            at(&job.container)
        )));
    }
    Ok(target)
}

/// The container's Socrata destination, or a config error naming the missing key.
pub(crate) fn socrata_target_of(
    container: &Container,
    app: &AppConfig,
) -> Result<SocrataTarget, CliError> {
    let c = &container.config;
    let resource_id = c.socrata_resource_id.clone().ok_or_else(|| {
        ConfigError::NotUsable(format!(
            "{} has no socrata_resource_id; add the destination dataset id (e.g. \
             socrata_resource_id = \"p53x-x73x\") to publish it to Socrata",
            at(container)
        ))
    })?;
    Ok(SocrataTarget {
        resource_id,
        append_timestamp_key: c.append_timestamps_socrata.as_ref().map(|a| a.key.clone()),
        no_replace: c.no_replace_socrata,
        shared_with: shared::socrata_sharers(app, &container.id),
    })
}

fn agol_target(job: &RecordsJob, app: &AppConfig) -> Result<AgolTarget, CliError> {
    agol_target_of(&job.container, app)
}

/// The container's ArcGIS Online destination, or a config error naming the missing keys.
pub(crate) fn agol_target_of(
    container: &Container,
    app: &AppConfig,
) -> Result<AgolTarget, CliError> {
    let c = &container.config;
    match (&c.service_id, c.layer_id, c.item_type) {
        (Some(s), Some(l), Some(t)) => Ok(AgolTarget {
            shared_with: shared::agol_sharers(app, &container.id),
            ..AgolTarget::new(s.clone(), t.selector(l), c.matching_field())
        }),
        _ => Err(ConfigError::NotUsable(format!(
            "{} needs service_id, layer_id and item_type (\"layer\" or \"table\") to publish to \
             ArcGIS Online",
            at(container)
        ))
        .into()),
    }
}

fn log_start(task: Task, s: &Settings, job: Option<&RecordsJob>) {
    tracing::info!(
        command = task.name(),
        app = %s.app_name,
        app_id = %s.app_id,
        env = s.env.as_str(),
        container = job.map(|j| j.container.id.as_str()),
        since = job.and_then(|j| j.since).map(|d| d.to_rfc3339()),
        dry_run = s.dry_run,
        "starting"
    );
    if s.dry_run {
        tracing::info!("dry run: nothing will be written");
    }
    s.warn_insecure_http();
}

/// Logs the start and sets up the progress bar and the clock.
fn begin(
    cli: &Cli,
    task: Task,
    settings: &Settings,
    job: &RecordsJob,
) -> (String, Progress, Instant) {
    let what = format!(
        "{} {}/{}",
        task.name(),
        job.container.app_name,
        job.container.id
    );
    log_start(task, settings, Some(job));
    let progress = Progress::for_terminal(&what, cli.log_format);
    (what, progress, Instant::now())
}

fn finish(
    what: &str,
    progress: &Progress,
    started: Instant,
    result: Result<RunReport, RunError>,
) -> Result<(), CliError> {
    progress.finish();
    let mut report = match result {
        Ok(report) => report,
        Err(e) => return Err(stopped(what, started, e)),
    };
    report.duration = started.elapsed();
    emit_summary(what, &report);
    if report.failed > 0 {
        Err(RunError::RecordsFailed {
            failed: report.failed,
        }
        .into())
    } else if report.rejected > 0 {
        Err(RunError::RecordsRejected {
            rejected: report.rejected,
        }
        .into())
    } else {
        Ok(())
    }
}

/// A run's failure as the error to exit with; a [`RunError::Stopped`] logs its summary first, with
/// the real duration since `started` (retries included).
pub(crate) fn stopped(what: &str, started: Instant, error: RunError) -> CliError {
    match error {
        RunError::Stopped {
            message,
            mut report,
        } => {
            report.duration = report.duration.max(started.elapsed());
            emit_stopped(what, &report);
            RunError::Stopped { message, report }.into()
        }
        e => e.into(),
    }
}

/// `backup-socrata`'s failure to reach Socrata, with the same `check: <setting> (<url>)` line as
/// every other command ([`crate::diagnose::check_line`]); any other error as is.
fn socrata_hint(error: CliError, path: &Path, env: Env, vars: &EnvVars) -> CliError {
    let CliError::Runtime(RunError::Pipeline(e)) = &error else {
        return error;
    };
    let Some(BackupError::Socrata(s)) = e.downcast_ref::<BackupError>() else {
        return error;
    };
    if !crate::diagnose::socrata_unanswered(s) {
        return error;
    }
    let from_config = Config::load(path)
        .map(|c| c.endpoint(Some(env), Service::Socrata))
        .unwrap_or_default();
    let found = crate::env::base_url(vars, Service::Socrata.var(), &from_config);
    match found {
        Some(Ok(base)) => RunError::Message(format!(
            "{error}{}",
            crate::diagnose::check_line(&base.origin, &base.url)
        ))
        .into(),
        _ => error,
    }
}
