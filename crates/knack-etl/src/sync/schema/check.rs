//! One container's schema check: its fields now (from the metadata the sync refreshed, or the
//! stored one for a per-stage command) and its destinations' columns now (read once before its
//! stages and handed to the publishers, which read them themselves until now: no request more),
//! and what each stage decides from the fingerprint its own row held when it opened: whether it
//! runs in full and why, the phrases naming what changed, the warnings naming the columns to add
//! or drop, and which fingerprint its close stores after it succeeded.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{breaks, column_changes, field_changes, Fingerprint};
use crate::engine::{RunFailure, RunReport};
use crate::sync::plan::SyncPlan;
use crate::sync::tracked::SchemaPlan;
use crate::sync::watermark::Destination;
use crate::{agol, socrata};
/// The destinations' metadata as read before a container's stages (`None` when the plan has no
/// such destination, its client is missing or the read failed: in a sync the publisher then reads
/// it itself, and fails as it always did; a per-stage command fails with `failed`).
#[derive(Debug, Default)]
pub(crate) struct DestSchemas {
    /// The Socrata dataset's metadata.
    pub(crate) dataset: Option<socrata_client::DatasetMetadata>,
    /// The ArcGIS layer, opened.
    pub(crate) layer: Option<agol_client::Layer>,
    /// Why a read failed (the last one), for a caller that fails the stage with it rather than
    /// have its publisher read (and retry) again.
    pub(crate) failed: Option<crate::Error>,
}

/// Reads the plan's dataset (with `socrata`) and layer (with `agol`) as their publishers read
/// them (the same requests).
pub(crate) async fn dest_schemas(
    socrata: Option<&socrata_client::Client>,
    agol: Option<&agol_client::Client>,
    plan: &SyncPlan,
) -> DestSchemas {
    let mut out = DestSchemas::default();
    if let (Some(t), Some(c)) = (&plan.socrata, socrata) {
        match socrata::preflight::dataset(c, &t.resource_id).await {
            Ok(dataset) => out.dataset = Some(dataset),
            Err(error) => out.failed = Some(error),
        }
    }
    if let (Some(t), Some(c)) = (&plan.agol, agol) {
        let layer = agol::preflight::layer(c, &t.service_id, t.selector, &t.matching_field);
        match layer.await {
            Ok(layer) => out.layer = Some(layer),
            Err(error) => out.failed = Some(error),
        }
    }
    out
}

/// What a container's stages are computed from now; empty when the container's fields are
/// unknown (the metadata unreadable), so nothing is decided and nothing stored.
#[derive(Debug, Default)]
pub(crate) struct SchemaNow {
    now: BTreeMap<Destination, Fingerprint>,
}

/// What one stage does about its schema, from the fingerprint its row held.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Decision {
    /// What changed for this stage, one phrase each (its part of the container's line).
    pub(crate) changes: Vec<String>,
    /// Why the stage runs in full (`None`: as its watermark says).
    pub(crate) full: Option<String>,
    /// The columns to add or drop, one sentence each.
    pub(crate) warnings: Vec<String>,
    /// The fingerprint to store after the stage succeeded, and what changed.
    store: Option<(Value, Option<String>)>,
}

impl SchemaNow {
    /// The stages of `plan` with `knack`'s fields (`None`: unknown) and `dests`' columns; a
    /// Knack copy's fingerprint is the container's fields.
    pub(crate) fn new(knack: Option<Fingerprint>, dests: &DestSchemas, plan: &SyncPlan) -> Self {
        let Some(knack) = knack else {
            return Self::default();
        };
        let mut now = BTreeMap::new();
        if let Some(d) = &dests.dataset {
            let columns = d.columns.iter();
            let columns = columns.map(|c| (c.field_name.clone(), c.data_type.name().to_string()));
            now.insert(
                Destination::Socrata,
                knack.at(format!("socrata {}", d.id), columns),
            );
        }
        if let Some(l) = &dests.layer {
            let fields = l.info().fields.iter();
            let fields = fields.map(|f| (f.name.clone(), f.field_type.clone()));
            now.insert(
                Destination::Agol,
                knack.at(format!("agol {}", l.info().name), fields),
            );
        }
        for copy in &plan.knack {
            now.insert(Destination::knack(&copy.app_name), knack.clone());
        }
        now.insert(Destination::Postgrest, knack);
        Self { now }
    }

    /// What stage `dest` does, given the fingerprint its row held (`stored`) and what this run's
    /// staging load found changed on the Knack side (`knack`; empty outside a sync): a change
    /// since its own fingerprint runs it in full, and so does a Knack-side change when it has
    /// none yet (or its destination could not be read).
    pub(crate) fn decide(
        &self,
        dest: &Destination,
        stored: Option<&Value>,
        knack: &[String],
    ) -> Decision {
        let old = stored.and_then(|v| serde_json::from_value::<Fingerprint>(v.clone()).ok());
        let mut decision = Decision::default();
        let now = self.now.get(dest);
        decision.changes = match (&old, now) {
            (Some(old), Some(now)) => {
                let mut changes = field_changes(&old.fields, &now.fields);
                if matches!(dest, Destination::Socrata | Destination::Agol) {
                    changes.extend(column_changes(old, now));
                    decision.warnings = breaks(&old.fields, now);
                }
                changes
            }
            _ => knack.to_vec(),
        };
        decision.full = match (decision.changes.is_empty(), knack.is_empty()) {
            (false, _) => Some(decision.changes.join("; ")),
            (true, false) => Some(knack.join("; ")),
            (true, true) => None,
        };
        decision.store = match (old, now) {
            (_, None) => None,
            (Some(old), Some(now)) if old == *now => None,
            (Some(_), Some(now)) => Some((json(now), decision.full.clone())),
            (None, Some(now)) => Some((json(now), None)),
        };
        decision
    }
}

fn json(print: &Fingerprint) -> Value {
    serde_json::to_value(print).expect("a fingerprint is plain JSON")
}

impl Decision {
    /// What the watermark does about it: read from `full_since` (everything, or for a dataset
    /// that forbids a replace the epoch) when the stage runs in full, and store the fingerprint.
    pub(crate) fn plan(&self, full_since: Option<DateTime<Utc>>) -> SchemaPlan {
        SchemaPlan {
            since: self.full.as_ref().map(|_| full_since),
            store: self.store.clone(),
        }
    }

    /// Adds to stage `dest`'s `result` why it ran (or would run) in full and the columns to add
    /// or drop.
    pub(crate) fn annotate(
        &self,
        dest: &Destination,
        dry_run: bool,
        result: &mut Result<RunReport, RunFailure>,
    ) {
        let notes = match result {
            Ok(report) => &mut report.notes,
            Err(failure) => &mut failure.report.notes,
        };
        if let Some(why) = &self.full {
            let (verb, dry) = match dest {
                Destination::Postgrest => ("reloaded", "reload"),
                _ => ("republished", "republish"),
            };
            notes.push(match dry_run {
                true => format!("dry run: would {dry} in full after a schema change ({why})"),
                false => format!("{verb} in full after a schema change ({why})"),
            });
        }
        notes.extend(self.warnings.iter().map(|w| format!("schema change: {w}")));
    }
}

/// The one line naming what changed in container `id`'s schema, from what its stages decided
/// (each phrase once); `None` when nothing changed.
pub(crate) fn line(id: &str, decisions: &[&Decision]) -> Option<String> {
    let mut parts: Vec<&String> = Vec::new();
    for change in decisions.iter().flat_map(|d| &d.changes) {
        if !parts.contains(&change) {
            parts.push(change);
        }
    }
    let parts: Vec<&str> = parts.into_iter().map(String::as_str).collect();
    (!parts.is_empty()).then(|| format!("{id}: {}", parts.join("; ")))
}

#[cfg(test)]
mod tests {
    use knack_client::Container;

    use super::*;
    use crate::sync::schema::FieldPrint;

    fn fields(label: &str) -> Fingerprint {
        Fingerprint {
            fields: vec![FieldPrint {
                key: "field_1".into(),
                label: label.into(),
                field_type: "email".into(),
            }],
            ..Fingerprint::default()
        }
    }

    fn now(label: &str) -> SchemaNow {
        let plan = SyncPlan {
            container: Container::view("scene_1", "view_1").unwrap(),
            modified_date_field: "field_2".into(),
            location_fields: Vec::new(),
            socrata: None,
            agol: None,
            knack: Vec::new(),
        };
        SchemaNow::new(Some(fields(label)), &DestSchemas::default(), &plan)
    }

    #[test]
    fn a_stage_decides_from_its_own_fingerprint_and_a_knack_change_runs_every_stage_in_full() {
        let old = json(&fields("Contact Email"));
        let why = r#"field_1 renamed "Contact Email" -> "Email""#;
        let staging = now("Email").decide(&Destination::Postgrest, Some(&old), &[]);
        assert_eq!(staging.full.as_deref(), Some(why));
        assert_eq!(staging.changes, [why]);
        let plan = staging.plan(None);
        assert_eq!(plan.since, Some(None), "read everything");
        assert_eq!(plan.store, Some((json(&fields("Email")), Some(why.into()))));
        // A publisher whose destination was not read: the staging load's change decides.
        let knack = staging.changes.clone();
        let socrata = now("Email").decide(&Destination::Socrata, Some(&old), &knack);
        assert_eq!(socrata.full.as_deref(), Some(why));
        assert_eq!(socrata.plan(None).store, None, "nothing known to store");
        assert_eq!(
            line("view_1", &[&staging, &socrata]),
            Some(format!("view_1: {why}"))
        );

        let same = now("Contact Email").decide(&Destination::Postgrest, Some(&old), &[]);
        assert_eq!(
            same,
            Decision::default(),
            "no change: nothing to do or store"
        );
        assert_eq!(line("view_1", &[&same]), None);
        let first = now("Email").decide(&Destination::Postgrest, None, &[]);
        assert!(first.full.is_none());
        assert_eq!(first.plan(None).store, Some((json(&fields("Email")), None)));
        let unknown = SchemaNow::default().decide(&Destination::Postgrest, Some(&old), &[]);
        assert_eq!(unknown.plan(None), SchemaPlan::default());
    }
}
