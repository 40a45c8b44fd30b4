//! `aks status`: each container's watermarks and last runs from `api.knack_sync_state`, and with
//! `--verify` knack-etl's comparison of Knack, the staging store and each destination. Read-only.

use std::path::Path;

use knack_etl::sync::{verify, Watermarks};

use crate::cli::{Cli, OutputFormat, StatusArgs};
use crate::clients;
use crate::error::{CliError, RunError};
use crate::output::diagnose;
use crate::output::status::{text, Status};
use crate::settings::plans::{app_plans, AppPlans};
use crate::settings::EnvVars;

/// Runs `aks status`.
pub(super) async fn run(
    cli: &Cli,
    args: &StatusArgs,
    path: &Path,
    vars: &EnvVars,
) -> Result<(), CliError> {
    let args_of = (args.app_name.as_str(), &[][..], args.env, cli.dry_run);
    let AppPlans {
        plans, settings, ..
    } = app_plans(("status", args.verify), args_of, path, vars)?;
    let settings = settings?;
    settings.warn_insecure_http();
    let pgrest = clients::postgrest(&settings)?;
    let states = Watermarks::new(pgrest.clone(), &settings.app_id)
        .all()
        .await
        .map_err(|e| RunError::Message(diagnose::explain(&e, &settings)))?;
    let mut status = Status::new(&args.app_name, &settings.app_id, &plans, &states);
    if args.verify {
        let clients = clients::sync(&settings)?;
        let mut any = false;
        for plan in &plans {
            let id = plan.container.id();
            // The container's id, then the error as every command reports it (its cause and,
            // for a service that gave no answer, the `check:` line).
            let v = verify(&clients, &settings.app_id, plan)
                .await
                .map_err(|e| {
                    RunError::Message(format!("{id}: {}", diagnose::explain(&e, &settings)))
                })?;
            any |= status.verified(id, &v);
        }
        status.drift = Some(any);
    }
    match args.format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&status)
                .map_err(|e| RunError::Message(format!("cannot print the status: {e}")))?
        ),
        OutputFormat::Text => print!("{}", text(&status)),
    }
    match status.drift {
        Some(true) => Err(CliError::Drift(format!(
            "drift: a destination is out of step with the staging store (see above); run `aks \
             sync -a {} -e {}`, which re-publishes the staged records a destination lacks and \
             deletes from a Socrata dataset the rows no container staged (unless \
             no_replace_socrata)",
            args.app_name,
            args.env.as_str()
        ))),
        _ => Ok(()),
    }
}
