//! `aks status`: each container's watermarks and last runs from `api.knack_sync_state`, and with
//! `--verify` knack-etl's comparison of Knack, the staging store and each destination. Read-only.

use std::path::Path;

use knack_etl::sync::Status;

use crate::cli::{Cli, OutputFormat, StatusArgs};
use crate::clients;
use crate::error::{CliError, RunError};
use crate::output::diagnose;
use crate::output::table::render;
use crate::settings::plans::app_plans;
use crate::settings::EnvVars;

/// Runs `aks status`.
pub(super) async fn run(
    cli: &Cli,
    args: &StatusArgs,
    path: &Path,
    vars: &EnvVars,
) -> Result<(), CliError> {
    let (_, plans, settings) = app_plans(("status", args.verify), &args.app, &[], cli, path, vars)?;
    let settings = settings?;
    settings.warn_insecure_http();
    let pgrest = clients::postgrest(&settings)?;
    let (app, app_id) = (&args.app.app_name, &settings.app_id);
    let status = Status::read(&pgrest, app, app_id, &plans).await;
    let mut status = status.map_err(|e| RunError::Message(diagnose::explain(&e, &settings)))?;
    if args.verify {
        let clients = clients::sync(&settings)?;
        // The container's id, then the error as every command reports it (its cause and, for a
        // service that gave no answer, the `check:` line).
        let verified = status.verify(&clients, app_id, &plans).await;
        verified.map_err(|(id, e)| {
            RunError::Message(format!("{id}: {}", diagnose::explain(&e, &settings)))
        })?;
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
            args.app.app_name,
            args.app.env.as_str()
        ))),
        _ => Ok(()),
    }
}

/// The text table: one line per container and destination, then the last errors, schema changes
/// and the ids a destination lacks.
fn text(status: &Status) -> String {
    let verify = status.drift.is_some();
    let header = [
        "container",
        "destination",
        "watermark",
        "last run",
        "result",
    ];
    let mut rows = vec![header.map(String::from).to_vec()];
    if verify {
        rows[0].extend(["counts".into(), "drift".into()]);
    }
    for (container, per_dest) in &status.containers {
        for (dest, s) in per_dest {
            let mut row = vec![
                container.clone(),
                dest.clone(),
                s.watermark.clone().unwrap_or_else(|| "-".into()),
                s.last_run.clone().unwrap_or_else(|| "-".into()),
                s.result.clone(),
            ];
            if verify {
                let counts = s.counts.iter().flatten().map(|(k, v)| format!("{k}={v}"));
                row.push(counts.collect::<Vec<_>>().join(" "));
                row.push(match s.drift {
                    Some(true) => "DRIFT".into(),
                    Some(false) => "none".into(),
                    None => "-".into(),
                });
            }
            rows.push(row);
        }
    }
    let mut out = render(&rows, &[]);
    for (container, per_dest) in &status.containers {
        for (dest, s) in per_dest {
            if let Some(error) = &s.error {
                out.push_str(&format!("{container}/{dest} last error: {error}\n"));
            }
            if let Some(change) = &s.schema_change {
                out.push_str(&format!("{container}/{dest} last schema change {change}\n"));
            }
            if let Some(ids) = s.missing_ids.as_ref().filter(|i| !i.is_empty()) {
                out.push_str(&format!(
                    "{container}/{dest} missing (first {}): {}\n",
                    ids.len(),
                    ids.join(", ")
                ));
            }
        }
    }
    out
}
