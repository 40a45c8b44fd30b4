//! `metadata-to-postgrest`, and `records-to-postgrest`, `records-to-socrata` and
//! `records-to-agol` (one stage of one container): the config, the container, its destination
//! keys and the environment checked before any request, then one knack-etl pipeline with its
//! watermark recorded, then the summary.

use std::future::Future;
use std::path::Path;
use std::time::Instant;

use knack_etl::knack_client::Quota;
use knack_etl::staging::metadata_to_postgrest;
use knack_etl::sync::config::container_at;
use knack_etl::sync::{run_stage, Destination, StageClients};
use knack_etl::{RunFailure, RunOptions, RunReport};

use super::{failed, stopped};
use crate::cli::{AppArgs, Cli, RecordsArgs};
use crate::clients;
use crate::error::{CliError, RunError};
use crate::output::progress::Progress;
use crate::output::summary::{emit_summary, Summary};
use crate::settings::config::{Config, ConfigError};
use crate::settings::{EnvVars, Settings, Task};

/// knack-etl's outcome as the summary's counts, the run's notes logged. A failure keeps the
/// counts of what happened before it, for the summary, and is explained for the user.
/// `quota` is Knack's last reading, for a run that read Knack.
fn summary(
    result: Result<RunReport, RunFailure>,
    settings: &Settings,
    quota: Option<Quota>,
) -> Result<Summary, RunError> {
    let etl = result.map_err(|failure| failed(&failure, settings))?;
    for note in &etl.notes {
        tracing::info!("{note}");
    }
    Ok(Summary::counted(&etl, settings.dry_run, quota))
}

/// `metadata-to-postgrest`: Knack metadata of the app → `api.knack_metadata`.
pub(super) async fn metadata(
    cli: &Cli,
    a: &AppArgs,
    path: &Path,
    vars: &EnvVars,
) -> Result<(), CliError> {
    let config = Config::load(path)?;
    let app = config.app(&a.app_name)?;
    let task = Task::MetadataToPostgrest;
    let settings = Settings::resolve(task, &a.app_name, app, a.env, &config, vars, cli.dry_run)?;
    let what = format!("{} {}", task.name(), a.app_name);
    let pipeline = async {
        let knack = clients::knack(&settings)?;
        let pgrest = clients::postgrest(&settings)?;
        let etl = metadata_to_postgrest(&knack, &pgrest, settings.dry_run).await;
        summary(etl, &settings, knack.quota())
    };
    run(cli, (task, &what), &settings, None, pipeline).await
}

/// One stage of container `-c`, from `--date` (without it, everything: a safe full reload of
/// `api.knack`; a safe replace of the Socrata dataset, which a `no_replace_socrata` dataset
/// refuses before any request; an ArcGIS upsert by matching field, the features the source no
/// longer has deleted last).
pub(super) async fn stage(
    cli: &Cli,
    a: &RecordsArgs,
    path: &Path,
    vars: &EnvVars,
    destination: Destination,
) -> Result<(), CliError> {
    // Config, container, the command's destination keys, then environment: all before any
    // request, and a config problem before a missing variable.
    let (name, id) = (a.app_name.as_str(), a.container.as_str());
    let config = Config::load(path)?;
    let app = config.app(name)?;
    let container = config.container(name, id)?;
    let plan = container.staging_plan(name, id);
    let mut plan = plan.map_err(ConfigError::NotUsable)?;
    let task = match destination {
        Destination::Socrata => {
            let target = app.socrata_target(name, id);
            let target = target.map_err(ConfigError::NotUsable)?;
            let mode = RunOptions::from_since(a.date, false).mode();
            if target.check_mode(mode).is_err() {
                return Err(CliError::Usage(format!(
                    "{} sets no_replace_socrata, and without --date records-to-socrata would \
                     replace the whole dataset; pass --date (e.g. --date 1970-01-01 to upsert \
                     every record), or use `aks sync`, which upserts every record when the \
                     dataset has no watermark yet",
                    container_at(name, id)
                )));
            }
            plan.socrata = Some(target);
            Task::RecordsToSocrata
        }
        Destination::Agol => {
            plan.agol = Some(app.agol_target(name, id).map_err(ConfigError::NotUsable)?);
            Task::RecordsToAgol
        }
        _ => Task::RecordsToPostgrest,
    };
    let settings = Settings::resolve(task, name, app, a.env, &config, vars, cli.dry_run)?;
    let what = format!("{} {name}/{id}", task.name());
    let pipeline = async {
        let pgrest = clients::postgrest(&settings)?;
        // Each credential was resolved only for the task that needs it: Knack's key for the
        // staging load, a publisher's for its own stage.
        let staging = destination == Destination::Postgrest;
        let knack = staging.then(|| clients::knack(&settings)).transpose()?;
        let (socrata, agol) = (settings.socrata.as_ref(), settings.agol.as_ref());
        let socrata = socrata.map(clients::socrata).transpose()?;
        let agol = agol.map(clients::agol).transpose()?;
        let clients = StageClients {
            pgrest: &pgrest,
            knack: knack.as_ref(),
            socrata: socrata.as_ref(),
            agol: agol.as_ref(),
        };
        let opts = RunOptions::from_since(a.date, settings.dry_run);
        let result = run_stage(clients, &settings.app_id, &plan, destination, &opts).await;
        summary(result, &settings, knack.and_then(|k| k.quota()))
    };
    run(cli, (task, &what), &settings, Some(a), pipeline).await
}

/// Logs the start, runs `pipeline` with a progress bar and the clock, and sums it up: the
/// summary line, and the error to exit with when records failed or were rejected.
async fn run(
    cli: &Cli,
    (task, what): (Task, &str),
    s: &Settings,
    records: Option<&RecordsArgs>,
    pipeline: impl Future<Output = Result<Summary, RunError>>,
) -> Result<(), CliError> {
    tracing::info!(
        command = task.name(),
        app = %s.app_name,
        app_id = %s.app_id,
        env = s.env.as_str(),
        container = records.map(|a| a.container.as_str()),
        since = records.and_then(|a| a.date).map(|d| d.to_rfc3339()),
        dry_run = s.dry_run,
        "starting"
    );
    if s.dry_run {
        tracing::info!("dry run: nothing will be written");
    }
    s.warn_insecure_http();
    let progress = Progress::for_terminal(what, cli.log_format);
    let started = Instant::now();
    let result = pipeline.await;
    progress.finish();
    let mut report = result.map_err(|e| stopped(what, started, e))?;
    report.duration = started.elapsed();
    emit_summary(what, &report);
    match (report.failed, report.rejected) {
        (0, 0) => Ok(()),
        (0, rejected) => Err(RunError::RecordsRejected { rejected }.into()),
        (failed, _) => Err(RunError::RecordsFailed { failed }.into()),
    }
}
