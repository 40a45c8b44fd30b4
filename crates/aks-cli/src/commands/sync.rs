//! `aks sync`: a whole app in one run (knack-etl's [`knack_etl::sync`]), every destination
//! checked first, summed up in one table at the end.

use std::collections::BTreeMap;
use std::path::Path;

use knack_etl::knack::quota_left;
use knack_etl::sync::{self, SyncOptions};

use crate::cli::{Cli, SyncArgs};
use crate::clients;
use crate::error::{CliError, RunError};
use crate::output::diagnose;
use crate::output::summary::{note_summary, warn_if_quota_low};
use crate::output::sync_table::{log_outcome, summary_table, totals_line};
use crate::settings::knack_dest::{add_problems, sync_dest};
use crate::settings::plans::app_plans;
use crate::settings::EnvVars;

/// Runs `aks sync`.
pub(super) async fn run(
    cli: &Cli,
    args: &SyncArgs,
    path: &Path,
    vars: &EnvVars,
) -> Result<(), CliError> {
    let app_name = &args.app.app_name;
    let (config, mut plans, settings) =
        app_plans(("sync", true), &args.app, &args.containers, cli, path, vars)?;
    let settings = settings.map_err(|mut e| {
        add_problems(&config, &plans, vars, &mut e);
        e
    })?;
    let mut clients = clients::sync(&settings)?;
    let dest = sync_dest(&config, &mut plans, &settings, vars)?;
    let dest_app = dest.as_ref().map(|(_, d)| d.app_id.clone());
    if let Some((name, dest)) = dest {
        clients.knack_dests = BTreeMap::from([(name, clients::dest_knack(&dest)?)]);
    }
    tracing::info!(
        command = "sync",
        app = %settings.app_name,
        app_id = %settings.app_id,
        env = settings.env.as_str(),
        containers = plans.len(),
        since = args.date.map(|d| d.to_rfc3339()),
        concurrency = args.concurrency,
        dry_run = settings.dry_run,
        "starting"
    );
    settings.warn_insecure_http();
    let options = SyncOptions {
        since: args.date,
        dry_run: cli.dry_run,
        concurrency: usize::from(args.concurrency),
        stop: knack_etl::Stop::process(),
    };
    // Every destination is checked before the first write, so a mis-set one stops the whole
    // run with exit 2 instead of failing after other containers were loaded.
    let preflight = sync::preflight(&clients, &settings.app_id, &plans).await;
    preflight.map_err(|e| match e {
        knack_etl::Error::Preflight(message) => RunError::Preflight(message),
        other => RunError::Message(format!(
            "sync of {app_name} could not start: {}",
            diagnose::explain(&other, &settings)
        )),
    })?;
    let started = std::time::Instant::now();
    let report = sync::sync(&clients, &settings.app_id, &plans, options).await;
    print!("{}", summary_table(&report, cli.dry_run));
    print!("{}", report.time_lines());
    // What a run repaired or dropped, seen without reading the log.
    for note in report.notes() {
        println!("{note}");
    }
    // One Knack client served every container, so its last reading is the app's.
    let quota = clients.knack.quota();
    println!("{}", quota_left(quota.as_ref()));
    log_outcome(&report);
    warn_if_quota_low(quota.as_ref());
    if report.is_success() {
        return Ok(());
    }
    let took = started.elapsed();
    note_summary(totals_line(app_name, &report, took));
    if let Err(f) = &report.metadata {
        // Every stage waits on the metadata: none ran, and the message must not say otherwise.
        let why = diagnose::explain(&f.error, &settings);
        let message =
            format!("sync of {app_name}: the metadata refresh failed, so nothing else ran: {why}");
        return Err(RunError::Message(message).into());
    }
    let failed = report.failures();
    let listed = failed
        .iter()
        .map(|f| diagnose::env_hints_for(f, dest_app.as_deref()));
    let (n, listed) = (failed.len(), listed.collect::<Vec<_>>().join("; "));
    let message = format!(
        "sync of {app_name}: {n} stage(s) failed or were skipped (every stage not listed ran): \
         {listed}"
    );
    Err(RunError::Message(message).into())
}
