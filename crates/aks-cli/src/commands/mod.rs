//! One file per subcommand, each a few calls into knack-etl between its settings and its output;
//! [`execute`] dispatches, and the failure of a run becomes the error to exit with here.

mod backup;
mod config_check;
mod db_init;
mod records;
mod records_to_knack;
mod status;
mod sync;

use std::path::{Path, PathBuf};
use std::time::Instant;

use knack_etl::sync::Destination::{Agol, Postgrest, Socrata};
use knack_etl::RunFailure;

use crate::cli::{Cli, Command, ConfigCommand, DbCommand};
use crate::error::{CliError, RunError};
use crate::output::diagnose::explain;
use crate::output::summary::{emit_stopped, Summary};
use crate::settings::{EnvVars, Settings};

/// The config file used when neither `--config` nor `AKS_CONFIG` is given.
const DEFAULT_CONFIG: &str = "knack.toml";

/// `--config`, else `AKS_CONFIG`, else `./knack.toml`.
fn config_path(flag: Option<&Path>, vars: &EnvVars) -> PathBuf {
    flag.map(Path::to_owned)
        .or_else(|| vars.get("AKS_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG))
}

/// Runs `cli` with environment `vars`. Errors carry their exit code ([`CliError::exit_code`]).
pub async fn execute(cli: &Cli, vars: &EnvVars) -> Result<(), CliError> {
    let path = config_path(cli.config.as_deref(), vars);
    match &cli.command {
        Command::MetadataToPostgrest(a) => records::metadata(cli, a, &path, vars).await,
        Command::RecordsToPostgrest(a) => records::stage(cli, a, &path, vars, Postgrest).await,
        Command::RecordsToSocrata(a) => records::stage(cli, a, &path, vars, Socrata).await,
        Command::RecordsToAgol(a) => records::stage(cli, a, &path, vars, Agol).await,
        Command::RecordsToKnack(a) => records_to_knack::run(cli, a, &path, vars).await,
        Command::BackupSocrata(a) => backup::run(cli, a, &path, vars).await,
        // Only reads (the file, and online Knack and the destinations), so a dry run is the same.
        Command::Config(ConfigCommand::Check { offline }) => {
            config_check::run(*offline, &path, vars).await
        }
        Command::Db(DbCommand::Init { print }) => db_init::init(*print, cli.dry_run, vars).await,
        Command::Sync(a) => sync::run(cli, a, &path, vars).await,
        Command::Status(a) => status::run(cli, a, &path, vars).await,
    }
}

/// A pipeline's failure for the user: a preflight refusal as is, anything else explained
/// ([`explain`]) with the counts until the failure, its notes logged.
fn failed(failure: &RunFailure, settings: &Settings) -> RunError {
    if let knack_etl::Error::Preflight(message) = &*failure.error {
        return RunError::Preflight(message.clone());
    }
    for note in &failure.report.notes {
        tracing::warn!("{note}");
    }
    RunError::Stopped {
        message: explain(&failure.error, settings),
        report: Box::new(Summary::counted(&failure.report, settings.dry_run, None)),
    }
}

/// A run's failure as the error to exit with; a [`RunError::Stopped`] logs its summary first, with
/// the real duration since `started` (retries included).
fn stopped(what: &str, started: Instant, mut error: RunError) -> CliError {
    if let RunError::Stopped { report, .. } = &mut error {
        report.duration = report.duration.max(started.elapsed());
        emit_stopped(what, report);
    }
    error.into()
}
