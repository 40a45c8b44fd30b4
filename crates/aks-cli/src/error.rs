//! The CLI's errors and the exit code each one maps to.

use crate::output::summary::Summary;
use crate::settings::config::ConfigError;
use crate::settings::SettingsError;

/// Exit code for usage and config errors (also what clap uses for bad arguments).
pub const EXIT_USAGE: u8 = 2;
/// Exit code for failures while running (network, API errors, failed records).
pub const EXIT_RUNTIME: u8 = 1;
/// Exit code of `aks status --verify` when a destination is out of step with the staging store.
pub const EXIT_DRIFT: u8 = 3;

/// Anything that stops a command. [`CliError::exit_code`] decides the process's exit code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The config file is missing, malformed, or lacks what the command needs (exit 2).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Environment variables are missing or unusable (exit 2).
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// A combination of arguments and config that cannot run, e.g. a full replace of a Socrata
    /// dataset marked `no_replace_socrata` (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The pipeline failed after starting (exit 1).
    #[error(transparent)]
    Runtime(#[from] RunError),
    /// `aks status --verify` found drift (exit 3); the report is already printed.
    #[error("{0}")]
    Drift(String),
}

impl CliError {
    /// 2 for usage/config/environment errors, 1 for runtime failures, 3 for drift.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Config(_) | CliError::Settings(_) | CliError::Usage(_) => EXIT_USAGE,
            // The destination cannot take the run; found before the first write.
            CliError::Runtime(RunError::Preflight(_)) => EXIT_USAGE,
            CliError::Runtime(_) => EXIT_RUNTIME,
            CliError::Drift(_) => EXIT_DRIFT,
        }
    }
}

/// A failure inside a pipeline (exit 1).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The run finished but some records failed; the summary has the counts.
    #[error("{failed} record(s) failed; see the log above")]
    RecordsFailed {
        /// How many.
        failed: u64,
    },
    /// The run finished and wrote every other record, but the destination refused these; each is
    /// named in the log (exit 1).
    #[error("{rejected} record(s) rejected by the destination; each is named in the log above")]
    RecordsRejected {
        /// How many.
        rejected: u64,
    },
    /// A publisher's preflight found that the destination cannot take the run; nothing was
    /// written (exit 2). The message names the fix.
    #[error("{0}")]
    Preflight(String),
    /// A runtime failure described in one sentence.
    #[error("{0}")]
    Message(String),
    /// Any error from the pipeline (knack-etl, a client), displayed as is.
    #[error(transparent)]
    Pipeline(Box<dyn std::error::Error + Send + Sync + 'static>),
    /// A pipeline stopped part-way: `message` says why (its cause and the setting to check);
    /// `report` is what happened before, for the summary.
    #[error("{message}")]
    Stopped {
        /// The explanation.
        message: String,
        /// Counts until the failure; the dispatcher sets the real duration.
        report: Box<Summary>,
    },
}

impl RunError {
    /// Wraps a pipeline error.
    pub fn pipeline(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        RunError::Pipeline(Box::new(e))
    }
}
