//! `aks records-to-knack`: a container's staged records created or updated in another Knack app,
//! through the field map under `knack_destinations` in the config.
//!
//! Variables: the source app as for the other commands (`KNACK_APP_ID` or `app_id`,
//! `PGREST_ENDPOINT`, `PGREST_JWT`), the destination app's id from `KNACK_APP_ID_DEST` or
//! `app_id` under `[apps.<dest>]`, and its key from `KNACK_API_KEY_DEST` (as in the original);
//! its API URL from `KNACK_API_URL_DEST`, else the source's (`KNACK_API_URL`).

use std::path::Path;
use std::time::Instant;

use knack_etl::knack_copy;
use knack_etl::RunOptions;

use super::{failed, stopped};
use crate::cli::{Cli, KnackDestArgs};
use crate::clients;
use crate::error::{CliError, RunError};
use crate::output::summary::{emit_summary, Summary};
use crate::settings::knack_dest::resolve_copy;
use crate::settings::EnvVars;

/// Runs `records-to-knack`: validate, run, print the plan (dry run), report every refused record.
pub(super) async fn run(
    cli: &Cli,
    a: &KnackDestArgs,
    path: &Path,
    vars: &EnvVars,
) -> Result<(), CliError> {
    let (settings, dest, destination) = resolve_copy(a, cli.dry_run, path, vars)?;
    let what = format!(
        "records-to-knack {}/{} -> {}/{}",
        a.records.app_name, a.records.container, a.dest, destination.dest_object
    );
    tracing::info!(
        command = "records-to-knack",
        app = %a.records.app_name,
        container = %a.records.container,
        dest = %a.dest,
        dest_app_id = %destination.dest_app_id,
        since = a.records.date.map(|d| d.to_rfc3339()),
        dry_run = cli.dry_run,
        "starting"
    );
    settings.warn_insecure_http();
    let started = Instant::now();
    let (pgrest, knack) = (clients::postgrest(&settings)?, clients::dest_knack(&dest)?);
    let options = RunOptions::from_since(a.records.date, cli.dry_run);
    let report = knack_copy::records_to_knack(&pgrest, &knack, &destination, &options)
        .await
        .map_err(|failure| {
            // The one Knack this run talks to is the destination: its URL is the one to check.
            let mut settings = settings.clone();
            settings.knack_url = dest.url.clone();
            stopped(&what, started, failed(&failure, &settings))
        })?;
    if cli.dry_run {
        for planned in &report.plan {
            println!("{planned}");
        }
        println!(
            "plan: {} to create, {} to update, {} unchanged (dry run: nothing was written)",
            report.created, report.updated, report.unchanged
        );
    }
    for f in &report.failures {
        tracing::error!(
            source_record = %f.source_record_id,
            dest_record = f.dest_record_id.as_deref(),
            fields = %f.fields.join(", "),
            "Knack refused {f}"
        );
    }
    let planned = report.created + report.updated;
    let summary = Summary {
        written: if cli.dry_run {
            planned
        } else {
            report.run.written
        },
        // `failures` are the records Knack refused, named above; `failed` those not delivered
        // this time (a transient failure past its retries), which the next run sends again.
        failed: report.run.failed,
        rejected: report.failures.len() as u64,
        duration: started.elapsed(),
        ..Summary::counted(&report.run, cli.dry_run, knack.quota())
    };
    emit_summary(&what, &summary);
    match summary.is_success() {
        true => Ok(()),
        false => Err(RunError::RecordsFailed {
            failed: summary.rejected + summary.failed,
        }
        .into()),
    }
}
