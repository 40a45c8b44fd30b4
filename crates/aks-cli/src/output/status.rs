//! `aks status`'s document: per container and destination the watermark, the last run and its
//! result, and with `--verify` the counts side by side and the ids a destination lacks; printed
//! as one JSON document or as a table.

use std::collections::BTreeMap;

use knack_etl::sync::{Destination, SyncPlan, SyncState, Verification};
use serde::Serialize;
use serde_json::Value;

/// Ids listed per destination when some are missing.
pub(crate) const MISSING_IDS_CAP: usize = 20;

/// One container × destination line of the status.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StageStatus {
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
pub(crate) struct Status {
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

impl Status {
    /// The status of `plans` (one app's) from their rows in `api.knack_sync_state`.
    pub(crate) fn new(app: &str, app_id: &str, plans: &[SyncPlan], states: &[SyncState]) -> Self {
        let mut containers = BTreeMap::new();
        for plan in plans {
            let id = plan.container.id();
            let mut per_dest = BTreeMap::new();
            for dest in plan.destinations() {
                let state = states
                    .iter()
                    .find(|s| s.container_id == id && s.destination == dest);
                per_dest.insert(dest.to_string(), StageStatus::from_state(state));
            }
            containers.insert(id.to_string(), per_dest);
        }
        Self {
            app: app.to_string(),
            app_id: app_id.to_string(),
            containers,
            drift: None,
        }
    }

    /// Adds `--verify`'s comparison of container `id`: counts, the first missing ids, drift.
    /// Whether anything of it is out of step.
    pub(crate) fn verified(&mut self, id: &str, v: &Verification) -> bool {
        let Some(per_dest) = self.containers.get_mut(id) else {
            return false;
        };
        if let Some(s) = per_dest.get_mut(Destination::Postgrest.as_str()) {
            s.counts = Some(counts(&[("knack", v.knack), ("staging", v.staged)]));
            s.drift = Some(v.is_staging_drift());
        }
        for (dest, found) in [
            (Destination::Socrata, &v.socrata),
            (Destination::Agol, &v.agol),
        ] {
            if let (Some(s), Some(found)) = (per_dest.get_mut(dest.as_str()), found) {
                s.counts = Some(counts(&[
                    ("staging", found.staged),
                    (dest.as_str(), found.found),
                ]));
                s.missing_ids = found
                    .missing
                    .as_ref()
                    .map(|ids| ids.iter().take(MISSING_IDS_CAP).cloned().collect());
                s.drift = Some(found.is_drift());
            }
        }
        v.is_drift()
    }
}

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// The text table: one line per container and destination.
pub(crate) fn text(status: &Status) -> String {
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
    let mut out = super::table::render(&rows, &[]);
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
