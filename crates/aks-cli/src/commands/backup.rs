//! `aks backup-socrata`: a dated CSV snapshot of a Socrata dataset in a directory or S3.
//!
//! `--to` (else `[backup] to`, else `./backups`) takes a directory path, `file:///dir` or
//! `s3://bucket/prefix`. S3 reads the usual AWS variables (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`/`AWS_DEFAULT_REGION`, and
//! `AWS_ENDPOINT_URL` + `AWS_ALLOW_HTTP` for an S3-compatible store). Socrata needs only its URL
//! (`SOCRATA_URL` or `[socrata] url`); `SOCRATA_APP_TOKEN` and the key pair are used when set
//! (private datasets need the key pair).

use std::path::Path as FsPath;

use knack_etl::socrata::{self, is_dataset_id, BackupError, BackupTarget, DEFAULT_KEEP};

use crate::cli::{BackupArgs, Cli};
use crate::clients;
use crate::error::{CliError, RunError};
use crate::output::diagnose::check_line;
use crate::settings::config::{Config, ConfigError, Service};
use crate::settings::{endpoint, EnvVars};

/// Where snapshots go when neither `--to` nor `[backup] to` says.
const DEFAULT_TO: &str = "./backups";

/// Opens the storage `to` names (knack-etl's [`BackupTarget::open`], with the `AWS_*`
/// variables); a usage error (exit 2) names what is wrong. A dry run (`create` false) creates no
/// directory.
fn open_target(to: &str, vars: &EnvVars, create: bool) -> Result<BackupTarget, CliError> {
    BackupTarget::open(to, vars.with_prefix("AWS_"), create)
        .map_err(|msg| CliError::Usage(format!("backup-socrata --to {to:?}: {msg}")))
}

/// Runs `backup-socrata`: the dataset, the storage, `keep` and the Socrata client, all checked
/// before any request; then today's (UTC) snapshot and the rotation. A Socrata that gave no
/// answer gets the same `check:` line as every other command ([`check_line`]).
pub(super) async fn run(
    cli: &Cli,
    a: &BackupArgs,
    path: &FsPath,
    vars: &EnvVars,
) -> Result<(), CliError> {
    let dry_run = cli.dry_run;
    // With --dataset, a first run needs no config file at all.
    let config = if a.dataset.is_some() && !path.exists() {
        Config::default()
    } else {
        Config::load(path)?
    };
    let dataset = match (&a.dataset, &a.app_name, &a.container) {
        (Some(d), _, _) => d.clone(),
        (None, Some(app), Some(c)) => {
            let container = config.container(app, c)?;
            container.socrata_resource_id.clone().ok_or_else(|| {
                ConfigError::NotUsable(format!(
                    "[apps.{app}.containers.{c}] has no socrata_resource_id to back up; add it \
                     or pass --dataset 4x4"
                ))
            })?
        }
        _ => {
            return Err(CliError::Usage(
                "pass --dataset 4x4, or -a APP and -c CONTAINER".into(),
            ))
        }
    };
    if !is_dataset_id(&dataset) {
        return Err(CliError::Usage(format!(
            "{dataset:?} is not a Socrata dataset id (four-by-four such as p53x-x73x)"
        )));
    }
    let keep = a.keep.or(config.backup.keep).unwrap_or(DEFAULT_KEEP);
    if keep == 0 {
        return Err(CliError::Usage(
            "--keep 0 would delete the snapshot just written; use 1 or more".into(),
        ));
    }
    let to =
        a.to.clone()
            .or_else(|| config.backup.to.clone())
            .unwrap_or_else(|| DEFAULT_TO.to_owned());
    let url = endpoint("backup-socrata", Service::Socrata, &config, a.env, vars)?;
    if let Some(warning) = &url.insecure {
        tracing::warn!("{warning}");
    }
    let client = clients::backup_socrata(&url, vars)?;
    // Last, so a run refused for its settings creates no directory.
    let target = open_target(&to, vars, !dry_run)?;
    let today = chrono::Utc::now().date_naive();
    tracing::info!(command = "backup-socrata", %dataset, to = %to, keep, %today, dry_run, "starting");
    let report = if dry_run {
        socrata::backup_socrata_dry_run(&client, &dataset, &target, today, keep).await
    } else {
        socrata::backup_socrata(&client, &dataset, &target, today, keep).await
    };
    let report = report.map_err(|e| match e {
        BackupError::Refused(m) => CliError::Usage(m),
        e if e.is_unanswered() => {
            RunError::Message(format!("{e}{}", check_line(&url.origin, &url.url))).into()
        }
        other => RunError::pipeline(other).into(),
    })?;
    tracing::info!(
        target: "aks::summary",
        rows = report.rows,
        bytes = report.bytes,
        deleted = report.deleted.len(),
        duration_ms = report.duration.as_millis() as u64,
        dry_run,
        "backup-socrata {dataset}: {} rows ({} bytes) {} {to} as {}, {} old snapshot(s) {} in {:.1}s",
        report.rows,
        report.bytes,
        if dry_run { "would be written to" } else { "written to" },
        report.path,
        report.deleted.len(),
        if dry_run { "would be deleted" } else { "deleted" },
        report.duration.as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storage_url_that_cannot_open_is_a_usage_error_naming_it() {
        let e = open_target("gs://bucket/x", &EnvVars::default(), true).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let e = e.to_string();
        assert!(
            e.starts_with("backup-socrata --to \"gs://bucket/x\": "),
            "{e}"
        );
        assert!(e.contains("unsupported storage"), "{e}");
    }
}
