//! `aks sync`: a whole app in one run (knack-etl's [`knack_etl::sync`]), checked first, summed
//! up in one table at the end.

mod knack;
mod summary;

use std::collections::BTreeMap;
use std::path::Path;

use knack_etl::sync::{self, SyncClients, SyncOptions, SyncPlan};

use crate::cli::{Cli, SyncArgs};
use crate::config::Config;
use crate::env::{EnvVars, Settings, Task};
use crate::error::{CliError, RunError};
use crate::report::warn_if_quota_low;
use crate::run::{agol_target_of, socrata_target_of};
use crate::{diagnose, pipelines};

use summary::{failures, log_outcome};
pub use summary::{quota_line, rejected, summary_table};

/// `aks sync --help`: what it runs and what its checks cost.
pub const LONG_ABOUT: &str = "\
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

Knack destinations: before comparing, the destination container's staged rows are refreshed from \
the destination app (incremental under its own postgrest watermark when [apps.<dest>.containers.\
<container>] names its modified_date_field_id, else a full reload), so no record is created twice. \
Needs KNACK_API_KEY_DEST, the destination app's id (KNACK_APP_ID_DEST or app_id under \
[apps.<dest>]) and, when it is on another Knack API, KNACK_API_URL_DEST.";

/// The containers to sync (`-c`, else all of the app's), each validated with its destinations.
/// Every problem is reported at once, before any request.
pub fn plans(
    config: &Config,
    path: &Path,
    args: &SyncArgs,
    vars: &EnvVars,
) -> Result<Vec<SyncPlan>, CliError> {
    let app = config.app(path, &args.app_name)?;
    let ids: Vec<String> = if args.containers.is_empty() {
        app.containers.keys().cloned().collect()
    } else {
        args.containers.clone()
    };
    if ids.is_empty() {
        return Err(CliError::Usage(format!(
            "app `{}` has no containers in {}; add [apps.{}.containers.<view_N or object_N>]",
            args.app_name,
            path.display(),
            args.app_name
        )));
    }
    let (mut plans, mut problems) = (Vec::new(), Vec::new());
    for id in &ids {
        let plan = config
            .container(path, &args.app_name, id)
            .map_err(CliError::from)
            .and_then(|c| {
                let socrata = match c.config.socrata_resource_id {
                    Some(_) => Some(socrata_target_of(&c, app)?),
                    None => None,
                };
                let agol = match c.config.service_id {
                    Some(_) => Some(agol_target_of(&c, app)?),
                    None => None,
                };
                let container = pipelines::knack_container(&c).map_err(CliError::from)?;
                let knack = knack::plans(config, &args.app_name, &c, vars)?;
                Ok(SyncPlan {
                    container,
                    modified_date_field: c.modified_date_field_id.clone(),
                    location_fields: c.config.location_fields.clone(),
                    socrata,
                    agol,
                    knack,
                })
            });
        match plan {
            Ok(plan) => plans.push(plan),
            Err(e) => problems.push(e.to_string()),
        }
    }
    if problems.is_empty() {
        Ok(plans)
    } else {
        Err(CliError::Usage(format!(
            "sync cannot start:\n  - {}",
            problems.join("\n  - ")
        )))
    }
}

/// The settings of a command over `plans` (`sync`, `status`): the Knack key when `knack_and_publishers`,
/// and then the Socrata and AGOL credentials when a plan publishes there. Errors before any request.
#[allow(clippy::too_many_arguments)]
pub(crate) fn settings(
    name: &'static str,
    knack_and_publishers: bool,
    plans: &[SyncPlan],
    cli: &Cli,
    args: &SyncArgs,
    config: &Config,
    path: &Path,
    vars: &EnvVars,
) -> Result<Settings, CliError> {
    let app = config.app(path, &args.app_name)?;
    let task = Task::Composite {
        name,
        knack_key: knack_and_publishers,
        socrata: knack_and_publishers && plans.iter().any(|p| p.socrata.is_some()),
        agol: knack_and_publishers && plans.iter().any(|p| p.agol.is_some()),
    };
    Ok(Settings::resolve(
        task,
        &args.app_name,
        app,
        args.env,
        config,
        vars,
        cli.dry_run,
    )?)
}

/// The clients `settings` allow: Knack (with its key, if resolved), PostgREST, and Socrata / AGOL
/// when their credentials were resolved.
pub(crate) fn clients(settings: &Settings) -> Result<SyncClients, RunError> {
    Ok(SyncClients {
        knack: pipelines::knack(settings, settings.knack.api_key.as_ref())?,
        pgrest: pipelines::postgrest(settings)?,
        socrata: settings
            .socrata
            .as_ref()
            .map(pipelines::socrata)
            .transpose()?,
        agol: settings.agol.as_ref().map(pipelines::agol).transpose()?,
        knack_dests: BTreeMap::new(),
    })
}

/// Runs `aks sync`.
pub async fn execute(
    cli: &Cli,
    args: &SyncArgs,
    path: &Path,
    vars: &EnvVars,
) -> Result<(), CliError> {
    let config = Config::load(path)?;
    let mut plans = plans(&config, path, args, vars)?;
    let settings = match settings("sync", true, &plans, cli, args, &config, path, vars) {
        Ok(settings) => settings,
        Err(CliError::Settings(mut e)) => {
            knack::add_problems(&config, &plans, vars, &mut e);
            return Err(e.into());
        }
        Err(e) => return Err(e),
    };
    let mut clients = clients(&settings)?;
    clients.knack_dests = knack::clients(&config, &mut plans, &settings, vars)?;
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
    };
    // Every destination is checked before the first write, so a mis-set one stops the whole
    // run with exit 2 instead of failing after other containers were loaded.
    if let Err(e) = sync::preflight(&clients, &settings.app_id, &plans).await {
        return Err(match e {
            knack_etl::Error::Preflight(message) => RunError::Preflight(message),
            other => RunError::Message(format!(
                "sync of {} could not start: {}",
                args.app_name,
                diagnose::explain(&other, &settings)
            )),
        }
        .into());
    }
    let started = std::time::Instant::now();
    let report = sync::sync(&clients, &settings.app_id, &plans, options).await;
    print!("{}", summary_table(&report, cli.dry_run));
    print!("{}", summary::notes(&report));
    // One Knack client served every container, so its last reading is the app's.
    let quota = clients.knack.quota();
    println!("{}", quota_line(quota.as_ref()));
    log_outcome(&report);
    warn_if_quota_low(quota.as_ref());
    if report.is_success() {
        return Ok(());
    }
    let took = started.elapsed();
    crate::report::note_summary(summary::totals_line(&args.app_name, &report, took));
    if let Err(f) = &report.metadata {
        // Every stage waits on the metadata: none ran, and the message must not say otherwise.
        return Err(RunError::Message(format!(
            "sync of {}: the metadata refresh failed, so nothing else ran: {}",
            args.app_name,
            diagnose::explain(&f.error, &settings)
        ))
        .into());
    }
    let failed: Vec<String> = failures(&report);
    Err(RunError::Message(format!(
        "sync of {}: {} stage(s) failed or were skipped (every stage not listed ran): {}",
        args.app_name,
        failed.len(),
        diagnose::env_hints(&failed.join("; "))
    ))
    .into())
}
