//! Command-line arguments, with the original scripts' flags, and their help texts.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use knack_etl::engine::parse_since;

use crate::settings::Env;

/// `aks sync --help`: what it runs and what its checks cost.
const SYNC_LONG_ABOUT: &str = "\
Sync a whole app: refresh its metadata once, then per container (at once, --concurrency) load \
Knack -> api.knack and, only when that succeeded, publish to the container's Socrata dataset and \
ArcGIS Online layer and copy it into each Knack app under knack_destinations. Every stage reads \
from its own watermark in api.knack_sync_state (a full load and safe replace when it has none; \
-d overrides for one run) and advances it only when it succeeded. One Knack client per app keeps \
the whole run within Knack's 10 requests per second. Ends with one table (container x stage) and \
the Knack quota left; exit 0 when every stage succeeded, 1 when one failed, 2 before any write.

Drift repair: after an incremental publish, the destination is compared with the staging store: \
1 PostgREST count (one more per container sharing the destination) and 1 Socrata count \
(`count(*)`), or for ArcGIS Online 1 token, 2 item/layer look-ups and 1 count. Only when the \
counts differ are the ids read (1 PostgREST request per 10,000 staged rows, 1 Socrata request per \
1,000 rows, 1 ArcGIS request per page of features); the staged records the destination lacks are \
then re-published, and Socrata rows no container staged are deleted (reported instead under \
no_replace_socrata; ArcGIS features are reported, never deleted). A swap that keeps the count is \
not seen: `aks status --verify` compares ids always.

Schema changes: each stage's last successful run stores what it was computed from in its \
api.knack_sync_state row (the container's fields from the metadata; the dataset's columns, the \
layer's fields). A change of the container's fields (renamed, added to or removed from the view, \
retyped) reloads it from Knack and republishes it to every destination in full; a change of a \
destination's columns republishes that destination in full. One log line names the change; \
columns a rename leaves unwritten are warnings naming the column to add or drop. No change: no \
request more to Knack, Socrata, ArcGIS or PostgREST.

Knack destinations: before comparing, the destination container's staged rows are refreshed from \
the destination app (incremental under its own postgrest watermark when [apps.<dest>.containers.\
<container>] names its modified_date_field_id, else a full reload), so no record is created twice. \
Needs KNACK_API_KEY_DEST, the destination app's id (KNACK_APP_ID_DEST or app_id under \
[apps.<dest>]) and, when it is on another Knack API, KNACK_API_URL_DEST.";

/// `aks status --help`: what it reads and how many requests that takes.
const STATUS_LONG_ABOUT: &str = "\
Show, per container and destination (postgrest, socrata, agol), the watermark the next `aks sync` \
reads from, when the last run started and how it ended. Read-only.

Requests: without --verify, one (PostgREST: api.knack_sync_state, with each stage's last schema \
change). With --verify, per container \
also: 1 Knack request (total_records), 1 PostgREST count, and per destination 1 count request each \
side plus the ids of both: 1 PostgREST request per 10,000 staged rows, 1 Socrata request per 1,000 \
dataset rows, and for ArcGIS Online 1 token, 2 item/layer look-ups and 1 request per page of \
features (the layer's maxRecordCount). Counts and ids are compared side by side (a destination \
shared by several containers against all their staged rows) and up to 20 ids present in staging \
but missing in a destination are listed; exit 3 when anything is out of step, 0 when nothing is. \
A plain `aks sync` repairs what this finds.";

/// The exit codes (`crate::error`'s `EXIT_*`), as `aks --help` ends. The README and
/// deploy/README.md repeat this block word for word, and tests/docs.rs checks that they do: an
/// operator reading any of the three (or an Airflow task's failure) gets the same meaning.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  runtime failure: a service failed or could not be reached, or a destination rejected
     records (each named in the log; every other record was written); sync still runs its
     other stages
  2  usage, config or environment error, found before any write: nothing was written
     (config check: also when the config does not match Knack or a destination)
  3  status --verify found drift: a destination out of step with the staging store
  143  stopped by SIGTERM (130: SIGINT): the requests in flight ended (20 s at most), nothing
     deleted; the stopped stages failed, the next run repeats them; a 2nd signal exits at once";

/// Moves Knack records to the PostgREST staging store, Socrata and ArcGIS Online.
#[derive(Debug, Parser)]
#[command(name = "aks", version, about, long_about = None, after_help = EXIT_CODES)]
pub struct Cli {
    /// Config file; else $AKS_CONFIG, else ./knack.toml.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Log format on stderr; `json` gives one JSON object per line (for Airflow).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Read and transform, write nothing, and say what would have been written ("would write N").
    /// `db init` connects and prints the SQL it would apply; `config check` only reads anyway.
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
    /// Sync a whole app: metadata once, then per container Knack -> PostgREST and (only on
    /// success) its publishers and Knack destinations, each stage from its own watermark.
    #[command(long_about = SYNC_LONG_ABOUT)]
    Sync(SyncArgs),
    /// Show each container's watermarks and last runs; --verify compares counts and ids.
    #[command(long_about = STATUS_LONG_ABOUT)]
    Status(StatusArgs),
    /// Create or update a container's staged records in another Knack app (the field map under
    /// knack_destinations in the config).
    RecordsToKnack(KnackDestArgs),
    /// Write a dated CSV snapshot of a Socrata dataset to a directory or S3, keeping the newest N.
    BackupSocrata(BackupArgs),
    /// Inspect the config file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The staging database.
    #[command(subcommand)]
    Db(DbCommand),
}

impl Command {
    /// The subcommand as typed (`records-to-socrata`, `config check`), for the log.
    pub fn name(&self) -> &'static str {
        match self {
            Command::MetadataToPostgrest(_) => "metadata-to-postgrest",
            Command::RecordsToPostgrest(_) => "records-to-postgrest",
            Command::RecordsToSocrata(_) => "records-to-socrata",
            Command::RecordsToAgol(_) => "records-to-agol",
            Command::Sync(_) => "sync",
            Command::Status(_) => "status",
            Command::RecordsToKnack(_) => "records-to-knack",
            Command::BackupSocrata(_) => "backup-socrata",
            Command::Config(ConfigCommand::Check { .. }) => "config check",
            Command::Db(DbCommand::Init { .. }) => "db init",
        }
    }
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
    /// Apply the staging schema (tables api.knack, api.knack_metadata, api.knack_sync_state).
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
    /// without it every record is processed: a full replace for the records-to-* loads and
    /// publishers, while records-to-knack only creates and updates (it never deletes).
    #[arg(short = 'd', long = "date", value_name = "DATE", value_parser = parse_since)]
    pub date: Option<DateTime<Utc>>,
}

/// `aks sync -a APP -e ENV [-c CONTAINER]... [-d DATE] [--concurrency N]`.
#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    /// `-a APP -e ENV`.
    #[command(flatten)]
    pub app: AppArgs,
    /// Only these containers (repeat the flag); default: every container of the app.
    #[arg(short = 'c', long = "container", value_name = "CONTAINER")]
    pub containers: Vec<String>,
    /// Read every stage from this ISO-8601 date instead of its watermark (UTC when no offset is
    /// given); e.g. `-d 1970-01-01` re-publishes everything as an upsert.
    #[arg(short = 'd', long = "date", value_name = "DATE", value_parser = parse_since)]
    pub date: Option<DateTime<Utc>>,
    /// Containers synced at once; they share one Knack client, so Knack never sees more than
    /// 10 requests in any second whatever this is.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

/// `aks status -a APP -e ENV [--verify] [--format json]`.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// `-a APP -e ENV`.
    #[command(flatten)]
    pub app: AppArgs,
    /// Also count records in Knack, the staging store, Socrata and ArcGIS Online, and list ids
    /// staged but missing in a destination; exit 3 when anything is out of step.
    #[arg(long)]
    pub verify: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A table.
    Text,
    /// One JSON document.
    Json,
}

/// `records-to-knack -a SRC_APP -c CONTAINER --dest DEST_APP -e ENV [-d DATE]`.
#[derive(Debug, Clone, Args)]
pub struct KnackDestArgs {
    /// The source container, as for the other records commands.
    #[command(flatten)]
    pub records: RecordsArgs,
    /// The destination app: a table under the container's knack_destinations.
    #[arg(
        long = "dest",
        visible_alias = "app-name-dest",
        value_name = "DEST_APP"
    )]
    pub dest: String,
}

/// `backup-socrata (--dataset 4x4 | -a APP -c CONTAINER) -e ENV [--keep N] [--to URL]`.
#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["dataset", "app_name"])))]
pub struct BackupArgs {
    /// The dataset id (4x4), e.g. p53x-x73x.
    #[arg(short = 'f', long = "dataset", value_name = "4x4", conflicts_with_all = ["app_name", "container"])]
    pub dataset: Option<String>,
    /// App name as in the config file; with -c, backs up the container's socrata_resource_id.
    #[arg(
        short = 'a',
        long = "app-name",
        value_name = "APP",
        requires = "container"
    )]
    pub app_name: Option<String>,
    /// Knack object or view key whose Socrata dataset is backed up.
    #[arg(
        short = 'c',
        long = "container",
        value_name = "CONTAINER",
        requires = "app_name"
    )]
    pub container: Option<String>,
    /// Application environment.
    #[arg(short = 'e', long = "env", value_enum, value_name = "ENV")]
    pub env: Env,
    /// Snapshots of the dataset to keep, newest first (default: `[backup]` keep, else 30).
    #[arg(long = "keep", value_name = "N")]
    pub keep: Option<usize>,
    /// Where snapshots go: a directory, file:///dir or s3://bucket/prefix (default: `[backup]` to,
    /// else ./backups).
    #[arg(long = "to", value_name = "URL")]
    pub to: Option<String>,
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
    fn records_to_knack_and_backup_flags_parse() {
        let cli = Cli::try_parse_from([
            "aks",
            "records-to-knack",
            "-a",
            "data-tracker",
            "-c",
            "view_197",
            "--dest",
            "smart-mobility",
            "-e",
            "prod",
            "--dry-run",
        ])
        .unwrap();
        let Command::RecordsToKnack(a) = cli.command else {
            panic!("wrong command")
        };
        assert_eq!(
            (a.records.container.as_str(), a.dest.as_str()),
            ("view_197", "smart-mobility")
        );
        let cli = Cli::try_parse_from([
            "aks",
            "backup-socrata",
            "--dataset",
            "p53x-x73x",
            "-e",
            "prod",
            "--keep",
            "7",
            "--to",
            "s3://bucket/snapshots",
        ])
        .unwrap();
        let Command::BackupSocrata(b) = cli.command else {
            panic!("wrong command")
        };
        assert_eq!((b.dataset.as_deref(), b.keep), (Some("p53x-x73x"), Some(7)));
        // Exactly one of --dataset and -a/-c.
        for bad in [
            &["aks", "backup-socrata", "-e", "prod"][..],
            &[
                "aks",
                "backup-socrata",
                "-f",
                "p53x-x73x",
                "-a",
                "x",
                "-c",
                "view_1",
                "-e",
                "dev",
            ],
            &["aks", "backup-socrata", "-a", "x", "-e", "dev"],
        ] {
            assert_eq!(
                Cli::try_parse_from(bad).unwrap_err().exit_code(),
                2,
                "{bad:?}"
            );
        }
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
        assert!(e.to_string().contains(knack_etl::engine::SINCE_EXAMPLE));
    }
}
