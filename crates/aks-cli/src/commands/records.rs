//! `metadata-to-postgrest`, `records-to-postgrest`, `records-to-socrata` and `records-to-agol`:
//! the config, the container, its destination keys and the environment checked before any
//! request, then one knack-etl pipeline with its watermark recorded, then the summary.

use std::future::Future;
use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Utc};
use knack_etl::agol::records_to_agol;
use knack_etl::socrata::records_to_socrata;
use knack_etl::staging::{metadata_to_postgrest, records_to_postgrest, Publication};
use knack_etl::sync::{run_tracked, Destination};
use knack_etl::{RunFailure, RunOptions, RunReport};

use super::{failed, stopped};
use crate::cli::{AppArgs, Cli, RecordsArgs};
use crate::clients;
use crate::error::{CliError, RunError};
use crate::output::progress::Progress;
use crate::output::summary::{emit_summary, Summary};
use crate::settings::config::{AppConfig, Config, Container};
use crate::settings::plans::{agol_target, at, knack_container, socrata_target};
use crate::settings::{EnvVars, Settings, Task};

/// One container to move, and from when.
struct Job {
    /// The validated container.
    container: Container,
    /// `--date`: only records modified at or after it; `None` means everything (full replace).
    since: Option<DateTime<Utc>>,
}

impl Job {
    fn options(&self, settings: &Settings) -> RunOptions {
        RunOptions::from_since(self.since, settings.dry_run)
    }

    fn publication(&self, settings: &Settings) -> Result<Publication, RunError> {
        Ok(Publication {
            app_id: settings.app_id.clone(),
            container: knack_container(&self.container)?,
            location_fields: self.container.config.location_fields.clone(),
        })
    }
}

/// knack-etl's outcome as the summary's counts, the run's notes logged. A failure keeps the
/// counts of what happened before it, for the summary, and is explained for the user.
fn summary(
    result: Result<RunReport, RunFailure>,
    settings: &Settings,
) -> Result<Summary, RunError> {
    let etl = result.map_err(|failure| failed(&failure, settings))?;
    for note in &etl.notes {
        tracing::info!("{note}");
    }
    Ok(Summary::counted(&etl, settings.dry_run))
}

/// `metadata-to-postgrest`: Knack metadata of the app → `api.knack_metadata`.
pub(super) async fn metadata(
    cli: &Cli,
    a: &AppArgs,
    path: &Path,
    vars: &EnvVars,
) -> Result<(), CliError> {
    let config = Config::load(path)?;
    let app = config.app(path, &a.app_name)?;
    let task = Task::MetadataToPostgrest;
    let settings = Settings::resolve(task, &a.app_name, app, a.env, &config, vars, cli.dry_run)?;
    let what = format!("{} {}", task.name(), a.app_name);
    log_start(task, &settings, None);
    let progress = Progress::for_terminal(&what, cli.log_format);
    let started = Instant::now();
    let result = async {
        let knack = clients::knack(&settings, settings.knack.api_key.as_ref())?;
        let pgrest = clients::postgrest(&settings)?;
        let etl = metadata_to_postgrest(&knack, &pgrest, settings.dry_run).await;
        let mut run = summary(etl, &settings)?;
        run.knack_quota = knack.quota();
        Ok(run)
    };
    finish(&what, &progress, started, result.await)
}

/// `records-to-postgrest`: Knack records of the container → `api.knack`; a full (safe) reload
/// without `--date`.
pub(super) async fn to_postgrest(
    cli: &Cli,
    a: &RecordsArgs,
    path: &Path,
    vars: &EnvVars,
) -> Result<(), CliError> {
    let task = Task::RecordsToPostgrest;
    let (settings, job, ()) = prepare(task, cli, a, path, vars, |_, _| Ok(()))?;
    let key =
        settings.knack.api_key.clone().ok_or_else(|| {
            CliError::Usage("records-to-postgrest needs KNACK_API_KEY".to_owned())
        })?;
    let pipeline = async {
        let knack = clients::knack(&settings, Some(&key))?;
        let pgrest = clients::postgrest(&settings)?;
        let container = knack_container(&job.container)?;
        let field = Some(job.container.modified_date_field_id.as_str());
        let opts = job.options(&settings);
        let (app_id, id) = (&settings.app_id, &job.container.id);
        let result = run_tracked(&pgrest, app_id, id, Destination::Postgrest, &opts, || {
            records_to_postgrest(&knack, &pgrest, &container, field, &opts)
        })
        .await;
        let mut run = summary(result, &settings)?;
        run.knack_quota = knack.quota();
        Ok(run)
    };
    run(cli, task, &settings, &job, pipeline).await
}

/// `records-to-socrata`: staged records of the container → its Socrata dataset (upsert; safe
/// replace without `--date`, which a `no_replace_socrata` dataset refuses before any request).
pub(super) async fn to_socrata(
    cli: &Cli,
    a: &RecordsArgs,
    path: &Path,
    vars: &EnvVars,
) -> Result<(), CliError> {
    let task = Task::RecordsToSocrata;
    let (settings, job, target) = prepare(task, cli, a, path, vars, |job, app| {
        let target = socrata_target(&job.container, app)?;
        if target
            .check_mode(RunOptions::from_since(job.since, false).mode())
            .is_err()
        {
            return Err(CliError::Usage(format!(
                "{} sets no_replace_socrata, and without --date records-to-socrata would replace \
                 the whole dataset; pass --date (e.g. --date 1970-01-01 to upsert every record), \
                 or use `aks sync`, which upserts every record when the dataset has no watermark \
                 yet",
                at(&job.container)
            )));
        }
        Ok(target)
    })?;
    let socrata = settings.socrata.clone().ok_or_else(|| {
        CliError::Usage("records-to-socrata needs the SOCRATA_* variables".to_owned())
    })?;
    let pipeline = async {
        let pgrest = clients::postgrest(&settings)?;
        let client = clients::socrata(&socrata)?;
        let publication = job.publication(&settings)?;
        let opts = job.options(&settings);
        let (app_id, id) = (&settings.app_id, &job.container.id);
        let result = run_tracked(&pgrest, app_id, id, Destination::Socrata, &opts, || {
            records_to_socrata(&pgrest, &client, &publication, &target, &opts)
        })
        .await;
        summary(result, &settings)
    };
    run(cli, task, &settings, &job, pipeline).await
}

/// `records-to-agol`: staged records of the container → its ArcGIS Online layer or table (upsert
/// by matching field; without `--date`, the features the source no longer has deleted last).
pub(super) async fn to_agol(
    cli: &Cli,
    a: &RecordsArgs,
    path: &Path,
    vars: &EnvVars,
) -> Result<(), CliError> {
    let task = Task::RecordsToAgol;
    let (settings, job, target) = prepare(task, cli, a, path, vars, |job, app| {
        agol_target(&job.container, app)
    })?;
    let agol = settings
        .agol
        .clone()
        .ok_or_else(|| CliError::Usage("records-to-agol needs the AGOL_* variables".to_owned()))?;
    let pipeline = async {
        let pgrest = clients::postgrest(&settings)?;
        let client = clients::agol(&agol)?;
        let publication = job.publication(&settings)?;
        let opts = job.options(&settings);
        let (app_id, id) = (&settings.app_id, &job.container.id);
        let result = run_tracked(&pgrest, app_id, id, Destination::Agol, &opts, || {
            records_to_agol(&pgrest, &client, &publication, &target, &opts)
        })
        .await;
        summary(result, &settings)
    };
    run(cli, task, &settings, &job, pipeline).await
}

/// Config, container, the command's destination keys (`target`), then environment: all before
/// any request, and a config problem before a missing variable.
fn prepare<T>(
    task: Task,
    cli: &Cli,
    a: &RecordsArgs,
    path: &Path,
    vars: &EnvVars,
    target: impl FnOnce(&Job, &AppConfig) -> Result<T, CliError>,
) -> Result<(Settings, Job, T), CliError> {
    let config = Config::load(path)?;
    let app = config.app(path, &a.app_name)?;
    let container = config.container(path, &a.app_name, &a.container)?;
    let job = Job {
        container,
        since: a.date,
    };
    let target = target(&job, app)?;
    let settings = Settings::resolve(task, &a.app_name, app, a.env, &config, vars, cli.dry_run)?;
    Ok((settings, job, target))
}

fn log_start(task: Task, s: &Settings, job: Option<&Job>) {
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

/// Logs the start, runs `pipeline` with a progress bar and the clock, and sums it up.
async fn run(
    cli: &Cli,
    task: Task,
    settings: &Settings,
    job: &Job,
    pipeline: impl Future<Output = Result<Summary, RunError>>,
) -> Result<(), CliError> {
    let what = format!(
        "{} {}/{}",
        task.name(),
        job.container.app_name,
        job.container.id
    );
    log_start(task, settings, Some(job));
    let progress = Progress::for_terminal(&what, cli.log_format);
    let started = Instant::now();
    finish(&what, &progress, started, pipeline.await)
}

fn finish(
    what: &str,
    progress: &Progress,
    started: Instant,
    result: Result<Summary, RunError>,
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
