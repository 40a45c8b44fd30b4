//! `aks status`: each container's watermarks and last runs from `api.knack_sync_state`, and with
//! `--verify` counts and ids side by side. Read-only.

use std::collections::BTreeMap;
use std::path::Path;

use knack_etl::staging::Drift;
use knack_etl::sync::{Destination, SyncClients, SyncPlan, SyncState, Watermarks};
use serde::Serialize;
use serde_json::Value;

use crate::cli::{Cli, OutputFormat, StatusArgs, SyncArgs};
use crate::config::Config;
use crate::diagnose;
use crate::env::{EnvVars, Settings};
use crate::error::{CliError, RunError};
use crate::pipelines;

/// `aks status --help`: what it reads and how many requests that takes.
pub const LONG_ABOUT: &str = "\
Show, per container and destination (postgrest, socrata, agol), the watermark the next `aks sync` \
reads from, when the last run started and how it ended. Read-only.

Requests: without --verify, one (PostgREST, api.knack_sync_state). With --verify, per container \
also: 1 Knack request (total_records), 1 PostgREST count, and per destination 1 count request each \
side plus the ids of both: 1 PostgREST request per 10,000 staged rows, 1 Socrata request per 1,000 \
dataset rows, and for ArcGIS Online 1 token, 2 item/layer look-ups and 1 request per page of \
features (the layer's maxRecordCount). Counts and ids are compared side by side (a destination \
shared by several containers against all their staged rows) and up to 20 ids present in staging \
but missing in a destination are listed; exit 3 when anything is out of step, 0 when nothing is. \
A plain `aks sync` repairs what this finds.";

/// Ids listed per destination when some are missing.
pub const MISSING_IDS_CAP: usize = 20;

/// One container × destination line of the status.
#[derive(Debug, Clone, Serialize)]
pub struct StageStatus {
    /// The watermark (database time), `null` before the first success.
    pub watermark: Option<String>,
    /// When the last run started (database time).
    pub last_run: Option<String>,
    /// `succeeded`, `failed`, `running`, or `never`.
    pub result: String,
    /// The last run's error, if it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// With `--verify`: record counts (`knack` and `staging` for postgrest; `staging` and the
    /// destination's for the publishers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<BTreeMap<String, u64>>,
    /// With `--verify`: up to 20 staged ids the destination lacks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_ids: Option<Vec<String>>,
    /// With `--verify`: whether this destination is out of step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<bool>,
}

impl StageStatus {
    fn from_state(state: Option<&SyncState>) -> Self {
        let error = state
            .and_then(|s| s.last_report.as_ref())
            .and_then(|r| r.get("error"))
            .and_then(Value::as_str)
            .map(str::to_string);
        Self {
            watermark: state.and_then(|s| s.watermark).map(|w| w.to_rfc3339()),
            last_run: state.and_then(|s| s.last_run_at).map(|w| w.to_rfc3339()),
            result: state
                .and_then(|s| s.last_result.clone())
                .unwrap_or_else(|| "never".to_string()),
            error,
            counts: None,
            missing_ids: None,
            drift: None,
        }
    }
}

/// The whole status document (`--format json`).
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The app name (`-a`).
    pub app: String,
    /// The Knack application id.
    pub app_id: String,
    /// Container → destination → status.
    pub containers: BTreeMap<String, BTreeMap<String, StageStatus>>,
    /// With `--verify`: whether anything is out of step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<bool>,
}

/// Runs `aks status`.
pub async fn execute(
    cli: &Cli,
    args: &StatusArgs,
    path: &Path,
    vars: &EnvVars,
) -> Result<(), CliError> {
    let config = Config::load(path)?;
    let all = SyncArgs {
        app_name: args.app_name.clone(),
        env: args.env,
        containers: Vec::new(),
        date: None,
        concurrency: 1,
    };
    let plans = crate::sync::plans(&config, path, &all, vars)?;
    let settings = crate::sync::settings(
        "status",
        args.verify,
        &plans,
        cli,
        &all,
        &config,
        path,
        vars,
    )?;
    settings.warn_insecure_http();
    let pgrest = pipelines::postgrest(&settings)?;
    let states = Watermarks::new(pgrest.clone(), &settings.app_id)
        .all()
        .await
        .map_err(|e| RunError::Message(diagnose::explain(&e, &settings)))?;
    let mut status = Status {
        app: args.app_name.clone(),
        app_id: settings.app_id.clone(),
        containers: BTreeMap::new(),
        drift: None,
    };
    for plan in &plans {
        let id = plan.container.id();
        let mut per_dest = BTreeMap::new();
        for dest in plan.destinations() {
            let state = states
                .iter()
                .find(|s| s.container_id == id && s.destination == dest);
            per_dest.insert(dest.to_string(), StageStatus::from_state(state));
        }
        status.containers.insert(id.to_string(), per_dest);
    }
    if args.verify {
        let verifier = Verifier {
            clients: crate::sync::clients(&settings)?,
            settings: &settings,
        };
        let mut any = false;
        for plan in &plans {
            let Some(per_dest) = status.containers.get_mut(plan.container.id()) else {
                continue;
            };
            any |= verifier
                .verify(plan, per_dest)
                .await
                .map_err(RunError::Message)?;
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

/// The clients `--verify` reads with, and the settings its errors name.
struct Verifier<'a> {
    clients: SyncClients,
    settings: &'a Settings,
}

impl Verifier<'_> {
    /// Fills in counts and missing ids for one container; whether anything drifted. An error is
    /// the container's id, then the error as every command reports it ([`diagnose::explain`]:
    /// its cause and, for a service that gave no answer, the `check:` line).
    async fn verify(
        &self,
        plan: &SyncPlan,
        per_dest: &mut BTreeMap<String, StageStatus>,
    ) -> Result<bool, String> {
        let id = plan.container.id();
        self.compare(plan, per_dest)
            .await
            .map_err(|e| format!("{id}: {}", diagnose::explain(&e, self.settings)))
    }

    async fn compare(
        &self,
        plan: &SyncPlan,
        per_dest: &mut BTreeMap<String, StageStatus>,
    ) -> Result<bool, knack_etl::Error> {
        let v = knack_etl::sync::verify(&self.clients, &self.settings.app_id, plan).await?;
        let mut drift = false;
        if let Some(s) = per_dest.get_mut(Destination::Postgrest.as_str()) {
            let d = v.is_staging_drift();
            s.counts = Some(counts(&[("knack", v.knack), ("staging", v.staged)]));
            s.drift = Some(d);
            drift |= d;
        }
        if let Some(found) = &v.socrata {
            drift |= record(per_dest, Destination::Socrata, found);
        }
        if let Some(found) = &v.agol {
            drift |= record(per_dest, Destination::Agol, found);
        }
        Ok(drift)
    }
}

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// Staging against one destination: counts, the first missing ids, drift.
fn record(per_dest: &mut BTreeMap<String, StageStatus>, dest: Destination, found: &Drift) -> bool {
    let drift = found.is_drift();
    if let Some(s) = per_dest.get_mut(dest.as_str()) {
        s.counts = Some(counts(&[
            ("staging", found.staged),
            (dest.as_str(), found.found),
        ]));
        s.missing_ids = found
            .missing
            .as_ref()
            .map(|ids| ids.iter().take(MISSING_IDS_CAP).cloned().collect());
        s.drift = Some(drift);
    }
    drift
}

/// The text table: one line per container and destination.
pub fn text(status: &Status) -> String {
    let verify = status.drift.is_some();
    let mut rows = vec![vec![
        "container".to_string(),
        "destination".into(),
        "watermark".into(),
        "last run".into(),
        "result".into(),
    ]];
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
                let counts = s.counts.as_ref().map_or_else(String::new, |c| {
                    c.iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                });
                row.push(counts);
                row.push(match s.drift {
                    Some(true) => "DRIFT".into(),
                    Some(false) => "none".into(),
                    None => "-".into(),
                });
            }
            rows.push(row);
        }
    }
    let mut out = crate::table::render(&rows, &[]);
    for (container, per_dest) in &status.containers {
        for (dest, s) in per_dest {
            if let Some(error) = &s.error {
                out.push_str(&format!("{container}/{dest} last error: {error}\n"));
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
