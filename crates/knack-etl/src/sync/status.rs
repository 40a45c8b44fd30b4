//! An app's status, as `aks status` prints it: per container and destination the watermark, the
//! last run and its result, the last schema change, and after [`verify`](super::verify) the counts side by side and the
//! ids a destination lacks. Serializes as one JSON document.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::plan::{SyncClients, SyncPlan};
use super::verify::{verify, Verification};
use super::watermark::{Destination, SyncState, Watermarks};
use crate::Error;

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
    /// The last schema change found for this stage and republished, as `<database time>:
    /// <what changed>` (the row's `schema_changed_at` and `schema_change`); absent when none was
    /// ever found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_change: Option<String>,
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
            schema_change: state.and_then(|s| {
                let at = s.schema_changed_at.map(|t| t.to_rfc3339());
                let change = s.schema_change.as_ref()?;
                Some(format!("{}: {change}", at.as_deref().unwrap_or("-")))
            }),
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

impl Status {
    /// The status of `plans` (one app's) from their rows in `api.knack_sync_state`.
    pub fn new(app: &str, app_id: &str, plans: &[SyncPlan], states: &[SyncState]) -> Self {
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

    /// The status of `plans` (app `app`'s, whose Knack id is `app_id`), from the watermarks and
    /// last schema changes in the staging store: one request.
    ///
    /// # Errors
    /// The staging store's.
    pub async fn read(
        pgrest: &pgrest_client::Client,
        app: &str,
        app_id: &str,
        plans: &[SyncPlan],
    ) -> Result<Self, Error> {
        let states = Watermarks::new(pgrest.clone(), app_id).all().await?;
        Ok(Self::new(app, app_id, plans, &states))
    }

    /// Compares each of `plans` ([`verify`](super::verify)) and adds what it found
    /// ([`Status::verified`]), then whether anything is out of step (`drift`).
    ///
    /// # Errors
    /// The first container whose comparison failed (its id, and the error).
    pub async fn verify(
        &mut self,
        clients: &SyncClients,
        app_id: &str,
        plans: &[SyncPlan],
    ) -> Result<(), (String, Error)> {
        let mut any = false;
        for plan in plans {
            let id = plan.container.id();
            let found = verify(clients, app_id, plan).await;
            any |= self.verified(id, &found.map_err(|e| (id.to_owned(), e))?);
        }
        self.drift = Some(any);
        Ok(())
    }

    /// Adds `--verify`'s comparison of container `id`: counts, the first missing ids, drift.
    /// Whether anything of it is out of step.
    pub fn verified(&mut self, id: &str, v: &Verification) -> bool {
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

#[cfg(test)]
mod tests {
    use knack_client::Container;

    use super::*;
    use crate::socrata::SocrataTarget;
    use crate::staging::Drift;

    #[test]
    fn the_status_shows_each_stage_and_what_verify_found() {
        let plan = SyncPlan {
            container: Container::view("scene_1", "view_1").unwrap(),
            modified_date_field: "field_1".into(),
            location_fields: Vec::new(),
            socrata: Some(SocrataTarget::default()),
            agol: None,
            knack: Vec::new(),
        };
        let state = SyncState {
            app_id: "app".into(),
            container_id: "view_1".into(),
            destination: Destination::Postgrest,
            watermark: None,
            last_run_at: None,
            last_result: Some("failed".into()),
            last_report: Some(serde_json::json!({"error": "boom"})),
            schema_fingerprint: None,
            schema_change: Some("field_1 renamed".into()),
            schema_changed_at: "2026-01-02T03:04:05Z".parse().ok(),
            updated_at: None,
        };
        let mut status = Status::new("acc", "app", &[plan], &[state]);
        let stages = &status.containers["view_1"];
        assert_eq!(stages.keys().collect::<Vec<_>>(), ["postgrest", "socrata"]);
        assert_eq!(stages["postgrest"].result, "failed");
        assert_eq!(stages["postgrest"].error.as_deref(), Some("boom"));
        assert_eq!(stages["socrata"].result, "never");
        assert_eq!(
            stages["postgrest"].schema_change.as_deref(),
            Some("2026-01-02T03:04:05+00:00: field_1 renamed")
        );
        assert_eq!(stages["socrata"].schema_change, None);
        let missing: Vec<String> = (0..30).map(|i| format!("r{i}")).collect();
        let drift = Drift {
            staged: 30,
            found: 0,
            missing: Some(missing),
            ..Drift::default()
        };
        let found = Verification {
            knack: 30,
            staged: 30,
            socrata: Some(drift),
            agol: None,
        };
        assert!(status.verified("view_1", &found));
        let socrata = &status.containers["view_1"]["socrata"];
        assert_eq!(
            socrata.missing_ids.as_ref().map(Vec::len),
            Some(MISSING_IDS_CAP)
        );
        assert_eq!(socrata.drift, Some(true));
        assert_eq!(status.containers["view_1"]["postgrest"].drift, Some(false));
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(
            json["containers"]["view_1"]["socrata"]["counts"]["socrata"],
            0
        );
    }
}
