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
use crate::output::knack_plan::print_plan;
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
    let r = &a.records;
    let p = resolve_copy(
        (&r.app_name, &r.container),
        &a.dest,
        r.env,
        cli.dry_run,
        path,
        vars,
    )?;
    let what = format!(
        "records-to-knack {}/{} -> {}/{}",
        a.records.app_name, a.records.container, a.dest, p.destination.dest_object
    );
    tracing::info!(
        command = "records-to-knack",
        app = %a.records.app_name,
        container = %a.records.container,
        dest = %a.dest,
        dest_app_id = %p.destination.dest_app_id,
        since = a.records.date.map(|d| d.to_rfc3339()),
        dry_run = cli.dry_run,
        "starting"
    );
    p.settings.warn_insecure_http();
    let started = Instant::now();
    let pgrest = clients::postgrest(&p.settings)?;
    let knack = clients::dest_knack(&p.dest)?;
    let options = RunOptions::from_since(a.records.date, cli.dry_run);
    let report = knack_copy::records_to_knack(&pgrest, &knack, &p.destination, &options)
        .await
        .map_err(|failure| {
            // The one Knack this run talks to is the destination: its URL is the one to check.
            let mut settings = p.settings.clone();
            settings.knack.api_url = p.dest.url.url.clone();
            settings.knack.api_url_origin = p.dest.url.origin.clone();
            stopped(&what, started, failed(&failure, &settings))
        })?;
    if cli.dry_run {
        print_plan(&report);
    }
    for f in &report.failures {
        tracing::error!(
            source_record = %f.source_record_id,
            dest_record = f.dest_record_id.as_deref(),
            fields = %f.fields.join(", "),
            "Knack refused {f}"
        );
    }
    let summary = Summary {
        read: report.run.read,
        written: if cli.dry_run {
            report.created + report.updated
        } else {
            report.run.written
        },
        deleted: 0,
        recovered: 0,
        // Every failure is a record Knack refused, named above; the others were written.
        failed: 0,
        rejected: report.run.failed,
        duration: started.elapsed(),
        dry_run: cli.dry_run,
        knack_quota: knack.quota(),
    };
    emit_summary(&what, &summary);
    if summary.is_success() {
        Ok(())
    } else {
        Err(RunError::RecordsFailed {
            failed: summary.rejected,
        }
        .into())
    }
}
