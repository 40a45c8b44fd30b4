//! Command-line arguments, with the original scripts' flags.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::date::parse_date;

/// Moves Knack records to the PostgREST staging store, Socrata and ArcGIS Online.
#[derive(Debug, Parser)]
#[command(name = "aks", version, about, long_about = None)]
pub struct Cli {
    /// Config file; else $AKS_CONFIG, else ./knack.toml.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Log format on stderr; `json` gives one JSON object per line (for Airflow).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Read and transform, write nothing, and say what would have been written.
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load an app's Knack metadata into api.knack_metadata.
    MetadataToPostgrest(AppArgs),
    /// Load a container's Knack records into api.knack (a full replace without --date).
    RecordsToPostgrest(RecordsArgs),
    /// Publish a container's staged records to its Socrata dataset.
    RecordsToSocrata(RecordsArgs),
    /// Publish a container's staged records to its ArcGIS Online layer or table.
    RecordsToAgol(RecordsArgs),
    /// Inspect the config file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The staging database.
    #[command(subcommand)]
    Db(DbCommand),
}

/// `aks config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the config file, and (with credentials) each container against Knack and the
    /// destinations.
    Check {
        /// Only validate the file; make no request.
        #[arg(long)]
        offline: bool,
    },
}

/// `aks db ...`.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply the staging schema (api.knack, api.knack_metadata).
    Init {
        /// Print the SQL for psql instead of applying it.
        #[arg(long)]
        print: bool,
    },
}

/// `-a APP -e ENV`.
#[derive(Debug, Clone, Args)]
pub struct AppArgs {
    /// App name as in the config file, e.g. data-tracker.
    #[arg(short = 'a', long = "app-name", value_name = "APP")]
    pub app_name: String,
    /// Application environment.
    #[arg(short = 'e', long = "env", value_enum, value_name = "ENV")]
    pub env: Env,
}

/// `-a APP -c CONTAINER -e ENV [-d DATE]`.
#[derive(Debug, Clone, Args)]
pub struct RecordsArgs {
    /// App name as in the config file, e.g. data-tracker.
    #[arg(short = 'a', long = "app-name", value_name = "APP")]
    pub app_name: String,
    /// Knack object or view key, e.g. view_197.
    #[arg(short = 'c', long = "container", value_name = "CONTAINER")]
    pub container: String,
    /// Application environment.
    #[arg(short = 'e', long = "env", value_enum, value_name = "ENV")]
    pub env: Env,
    /// Only records modified at or after this ISO-8601 date (UTC when no offset is given);
    /// without it every record is processed and the destination fully replaced.
    #[arg(short = 'd', long = "date", value_name = "DATE", value_parser = parse_date)]
    pub date: Option<DateTime<Utc>>,
}

/// `--env`: which deployment's endpoints and credentials are in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Env {
    /// Production.
    Prod,
    /// Development / staging.
    Dev,
}

impl Env {
    /// `prod` or `dev`.
    pub fn as_str(self) -> &'static str {
        match self {
            Env::Prod => "prod",
            Env::Dev => "dev",
        }
    }
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn records_flags_parse() {
        let cli = Cli::try_parse_from([
            "aks",
            "records-to-socrata",
            "-a",
            "data-tracker",
            "-c",
            "view_197",
            "-e",
            "prod",
            "-d",
            "2020-09-08T09:21:08-05:00",
            "--dry-run",
        ])
        .unwrap();
        assert!(cli.dry_run);
        let Command::RecordsToSocrata(a) = cli.command else {
            panic!("wrong command")
        };
        assert_eq!(a.app_name, "data-tracker");
        assert_eq!(a.container, "view_197");
        assert_eq!(a.env, Env::Prod);
        assert_eq!(a.date.unwrap().to_rfc3339(), "2020-09-08T14:21:08+00:00");
    }

    #[test]
    fn bad_env_and_date_are_usage_errors() {
        let e = Cli::try_parse_from(["aks", "metadata-to-postgrest", "-a", "x", "-e", "staging"])
            .unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let e = Cli::try_parse_from([
            "aks",
            "records-to-agol",
            "-a",
            "x",
            "-c",
            "view_1",
            "-e",
            "dev",
            "-d",
            "soon",
        ])
        .unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains(crate::date::DATE_EXAMPLE));
    }
}
