//! `aks backup-socrata`: a dated CSV snapshot of a Socrata dataset in a directory or S3.
//!
//! `--to` (else `[backup] to`, else `./backups`) takes a directory path, `file:///dir` or
//! `s3://bucket/prefix`. S3 reads the usual AWS variables (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`/`AWS_DEFAULT_REGION`, and
//! `AWS_ENDPOINT_URL` + `AWS_ALLOW_HTTP` for an S3-compatible store). Socrata needs only its URL
//! (`SOCRATA_URL` or `[socrata] url`); `SOCRATA_APP_TOKEN` and the key pair are used when set
//! (private datasets need the key pair).

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use knack_etl::socrata::{self, BackupError, BackupTarget, DEFAULT_KEEP};
use knack_etl::socrata_client;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path;

use crate::cli::{BackupArgs, Cli};
use crate::clients;
use crate::error::{CliError, RunError};
use crate::output::diagnose::{check_line, socrata_unanswered};
use crate::settings::base_url::base_url;
use crate::settings::config::{is_four_by_four, Config, ConfigError, Service};
use crate::settings::{Env, EnvVars, SettingsError};

/// Where snapshots go when neither `--to` nor `[backup] to` says.
const DEFAULT_TO: &str = "./backups";

/// Opens the storage `to` names (see the module docs); a usage error (exit 2) names what is wrong.
/// A local directory is created, except for a dry run (`create` false), which reads a missing
/// directory as an empty one.
fn open_target(to: &str, vars: &EnvVars, create: bool) -> Result<BackupTarget, CliError> {
    let usage = |msg: String| CliError::Usage(format!("backup-socrata --to {to:?}: {msg}"));
    if let Some(rest) = to.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(usage("name the bucket: s3://bucket/prefix".into()));
        }
        let mut builder = AmazonS3Builder::new().with_bucket_name(bucket);
        for (name, value) in vars.with_prefix("AWS_") {
            // The same keys AmazonS3Builder::from_env reads, taken from this run's environment.
            if let Ok(key) = name.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
                builder = builder.with_config(key, value);
            }
        }
        let store = builder
            .build()
            .map_err(|e| usage(format!("{e}; check the AWS_* variables")))?;
        let prefix = Path::parse(prefix.trim_end_matches('/'))
            .map_err(|e| usage(format!("the prefix is not a valid object path: {e}")))?;
        return Ok(BackupTarget {
            store: Arc::new(store),
            prefix,
        });
    }
    let dir: PathBuf = if let Some(rest) = to.strip_prefix("file://") {
        if !rest.starts_with('/') {
            return Err(usage(
                "a file URL needs an absolute path: file:///dir".into(),
            ));
        }
        PathBuf::from(rest)
    } else if to.contains("://") {
        return Err(usage(
            "unsupported storage; use a directory, file:///dir or s3://bucket/prefix".into(),
        ));
    } else {
        PathBuf::from(to)
    };
    local(&dir, create).map_err(usage)
}

fn local(dir: &FsPath, create: bool) -> Result<BackupTarget, String> {
    if !create && !dir.exists() {
        return Ok(BackupTarget {
            store: Arc::new(object_store::memory::InMemory::new()),
            prefix: Path::default(),
        });
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create directory {}: {e}", dir.display()))?;
    let store = LocalFileSystem::new_with_prefix(dir).map_err(|e| e.to_string())?;
    Ok(BackupTarget {
        store: Arc::new(store),
        prefix: Path::default(),
    })
}

/// The dataset, the storage, `keep` and the Socrata client, all checked before any request.
fn prepare(
    a: &BackupArgs,
    path: &FsPath,
    vars: &EnvVars,
    dry_run: bool,
) -> Result<(String, BackupTarget, String, usize, socrata_client::Client), CliError> {
    // With --dataset, a first run needs no config file at all.
    let config = if a.dataset.is_some() && !path.exists() {
        Config::default()
    } else {
        Config::load(path)?
    };
    let dataset = match (&a.dataset, &a.app_name, &a.container) {
        (Some(d), _, _) => d.clone(),
        (None, Some(app), Some(c)) => {
            let container = config.container(path, app, c)?;
            container.config.socrata_resource_id.ok_or_else(|| {
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
    if !is_four_by_four(&dataset) {
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
    let from_config = config.endpoint(Some(a.env), Service::Socrata);
    let url = match base_url(vars, "SOCRATA_URL", &from_config) {
        Some(Ok(url)) => url,
        other => {
            let (missing, invalid) = match other {
                Some(Err(e)) => (vec![], vec![e]),
                _ => (
                    vec!["SOCRATA_URL (or socrata.url in the config file)".to_owned()],
                    vec![],
                ),
            };
            return Err(SettingsError {
                task: "backup-socrata",
                missing,
                invalid,
            }
            .into());
        }
    };
    if let Some(warning) = &url.insecure {
        tracing::warn!("{warning}");
    }
    let client = clients::backup_socrata(&url, vars)?;
    // Last, so a run refused for its settings creates no directory.
    let target = open_target(&to, vars, !dry_run)?;
    Ok((dataset, target, to, keep, client))
}

/// Runs `backup-socrata`: today's (UTC) snapshot, then the rotation; a Socrata that gave no
/// answer gets the same `check:` line as every other command.
pub(super) async fn run(
    cli: &Cli,
    a: &BackupArgs,
    path: &FsPath,
    vars: &EnvVars,
) -> Result<(), CliError> {
    snapshot(cli, a, path, vars)
        .await
        .map_err(|e| socrata_hint(e, path, a.env, vars))
}

async fn snapshot(
    cli: &Cli,
    a: &BackupArgs,
    path: &FsPath,
    vars: &EnvVars,
) -> Result<(), CliError> {
    let dry_run = cli.dry_run;
    let (dataset, target, to, keep, client) = prepare(a, path, vars, dry_run)?;
    let today = chrono::Utc::now().date_naive();
    tracing::info!(command = "backup-socrata", %dataset, to = %to, keep, %today, dry_run, "starting");
    let report = if dry_run {
        socrata::backup_socrata_dry_run(&client, &dataset, &target, today, keep).await
    } else {
        socrata::backup_socrata(&client, &dataset, &target, today, keep).await
    };
    let report = report.map_err(|e| match e {
        BackupError::Refused(m) => CliError::Usage(m),
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

/// `backup-socrata`'s failure to reach Socrata, with the same `check: <setting> (<url>)` line as
/// every other command ([`check_line`]); any other error as is.
fn socrata_hint(error: CliError, path: &FsPath, env: Env, vars: &EnvVars) -> CliError {
    let CliError::Runtime(RunError::Pipeline(e)) = &error else {
        return error;
    };
    let Some(BackupError::Socrata(s)) = e.downcast_ref::<BackupError>() else {
        return error;
    };
    if !socrata_unanswered(s) {
        return error;
    }
    let from_config = Config::load(path)
        .map(|c| c.endpoint(Some(env), Service::Socrata))
        .unwrap_or_default();
    let found = base_url(vars, Service::Socrata.var(), &from_config);
    match found {
        Some(Ok(base)) => {
            RunError::Message(format!("{error}{}", check_line(&base.origin, &base.url))).into()
        }
        _ => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> EnvVars {
        pairs.iter().copied().collect()
    }

    #[test]
    fn storage_urls_open_or_fail_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a/b");
        assert!(open_target(plain.to_str().unwrap(), &vars(&[]), true).is_ok());
        assert!(plain.is_dir(), "the directory is created");
        let url = format!("file://{}", dir.path().join("c").display());
        assert!(open_target(&url, &vars(&[]), true).is_ok());
        let unmade = dir.path().join("dry");
        assert!(open_target(unmade.to_str().unwrap(), &vars(&[]), false).is_ok());
        assert!(!unmade.exists(), "a dry run creates no directory");
        let s3 = open_target(
            "s3://bucket/snap/shots/",
            &vars(&[
                ("AWS_REGION", "us-east-1"),
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "s3cr3t-value"),
            ]),
            true,
        )
        .unwrap();
        assert_eq!(s3.prefix.as_ref(), "snap/shots");
        assert!(!format!("{s3:?}").contains("s3cr3t-value"), "{s3:?}");
        for (bad, why) in [
            ("gs://bucket/x", "unsupported storage"),
            ("s3:///x", "name the bucket"),
            ("file://relative", "absolute path"),
        ] {
            let e = open_target(bad, &vars(&[]), true).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains(why), "{e}");
        }
    }
}
