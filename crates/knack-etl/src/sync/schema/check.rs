//! One container's schema check in a sync: its fields now (from the metadata the sync refreshed)
//! and its destinations' columns now (read once before its stages and handed to the publishers,
//! which read them themselves until now: no request more), against the stored fingerprints;
//! which stages therefore run in full and why, the one line naming what changed, the warnings
//! naming the columns to add or drop, and which fingerprints to store after a stage succeeded.

use std::collections::BTreeMap;

use super::{breaks, column_changes, field_changes, Fingerprint, SchemaRow};
use crate::sync::plan::SyncPlan;
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

/// What a sync does about one container's schema.
#[derive(Debug, Default)]
pub(crate) struct SchemaCheck {
    /// What each stage is computed from now.
    now: BTreeMap<Destination, Fingerprint>,
    /// What each stage's last successful run was computed from.
    stored: BTreeMap<Destination, Fingerprint>,
    /// Why the Knack side changed (the staging load and every publisher run in full).
    knack: Vec<String>,
    /// Why each publisher runs in full.
    why: BTreeMap<Destination, String>,
    /// The one line naming what changed, with the container's id first.
    pub(crate) line: Option<String>,
    /// The columns to add or drop, one sentence each, with the destination they concern.
    pub(crate) warnings: Vec<(Destination, String)>,
}

impl SchemaCheck {
    /// The check of container `id` with `knack`'s fields (`None`: unknown) and `dests`'
    /// columns, against `stored` (the app's rows; `None`: unreadable, so nothing is decided and
    /// nothing stored).
    pub(crate) fn new(
        id: &str,
        stored: Option<&[SchemaRow]>,
        knack: Option<Fingerprint>,
        dests: &DestSchemas,
    ) -> Self {
        let (Some(rows), Some(knack)) = (stored, knack) else {
            return Self::default();
        };
        let mut check = Self::default();
        for row in rows.iter().filter(|r| r.container_id == id) {
            check
                .stored
                .insert(row.destination.clone(), row.fingerprint.clone());
        }
        if let Some(d) = &dests.dataset {
            let columns = d.columns.iter();
            let columns = columns.map(|c| (c.field_name.clone(), c.data_type.name().to_string()));
            let print = knack.at(format!("socrata {}", d.id), columns);
            check.now.insert(Destination::Socrata, print);
        }
        if let Some(l) = &dests.layer {
            let fields = l.info().fields.iter();
            let fields = fields.map(|f| (f.name.clone(), f.field_type.clone()));
            let print = knack.at(format!("agol {}", l.info().name), fields);
            check.now.insert(Destination::Agol, print);
        }
        if let Some(old) = check.stored.get(&Destination::Postgrest) {
            check.knack = field_changes(&old.fields, &knack.fields);
        }
        check.now.insert(Destination::Postgrest, knack);
        let mut parts = check.knack.clone();
        for dest in [Destination::Socrata, Destination::Agol] {
            let Some(now) = check.now.get(&dest) else {
                continue;
            };
            let changes = match check.stored.get(&dest) {
                Some(old) => {
                    let mut c = field_changes(&old.fields, &now.fields);
                    c.extend(column_changes(old, now));
                    let warnings = breaks(&old.fields, now).into_iter();
                    check.warnings.extend(warnings.map(|w| (dest.clone(), w)));
                    c
                }
                None => check.knack.clone(),
            };
            for change in &changes {
                if !parts.contains(change) {
                    parts.push(change.clone());
                }
            }
            if !changes.is_empty() {
                check.why.insert(dest, changes.join("; "));
            }
        }
        check.warnings.dedup();
        if !parts.is_empty() {
            check.line = Some(format!("{id}: {}", parts.join("; ")));
        }
        check
    }

    /// Why stage `dest` runs in full (`None`: as the watermark says).
    pub(crate) fn full(&self, dest: &Destination) -> Option<String> {
        match self.why.get(dest) {
            Some(why) => Some(why.clone()),
            None if self.knack.is_empty() => None,
            None => Some(self.knack.join("; ")),
        }
    }

    /// The stages that run in full, by name.
    pub(crate) fn full_stages(&self, plan: &SyncPlan) -> Vec<String> {
        let stages = plan.destinations().into_iter();
        stages
            .filter(|d| self.full(d).is_some())
            .map(|d| d.to_string())
            .collect()
    }

    /// The fingerprint to store after stage `dest` succeeded, with what changed: `None` when
    /// the stored one is the same (no write), or nothing is known of it.
    pub(crate) fn to_store(&self, dest: &Destination) -> Option<(&Fingerprint, Option<String>)> {
        let now = self.now.get(dest)?;
        match self.stored.get(dest) {
            Some(old) if old == now => None,
            Some(_) => Some((now, self.full(dest))),
            None => Some((now, None)),
        }
    }
}

#[cfg(test)]
mod tests {
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

    fn row(dest: Destination, fingerprint: Fingerprint) -> SchemaRow {
        SchemaRow {
            app_id: "app".into(),
            container_id: "view_1".into(),
            destination: dest,
            fingerprint,
            last_change: None,
            updated_at: None,
        }
    }

    #[test]
    fn a_knack_change_runs_every_stage_in_full_and_no_change_none() {
        let rows = [row(Destination::Postgrest, fields("Contact Email"))];
        let dests = DestSchemas::default();
        let check = SchemaCheck::new("view_1", Some(&rows), Some(fields("Email")), &dests);
        let why = r#"field_1 renamed "Contact Email" -> "Email""#;
        assert_eq!(check.full(&Destination::Postgrest).as_deref(), Some(why));
        assert_eq!(check.full(&Destination::Socrata).as_deref(), Some(why));
        assert_eq!(check.line, Some(format!("view_1: {why}")));
        assert_eq!(
            check.to_store(&Destination::Postgrest).map(|(_, w)| w),
            Some(Some(why.to_string()))
        );
        let same = SchemaCheck::new("view_1", Some(&rows), Some(fields("Contact Email")), &dests);
        assert!(same.full(&Destination::Postgrest).is_none() && same.line.is_none());
        assert!(same.to_store(&Destination::Postgrest).is_none());
        let first = SchemaCheck::new("view_1", Some(&[]), Some(fields("Email")), &dests);
        assert!(first.full(&Destination::Postgrest).is_none());
        assert_eq!(
            first.to_store(&Destination::Postgrest).map(|(_, w)| w),
            Some(None)
        );
        let unknown = SchemaCheck::new("view_1", None, Some(fields("Email")), &dests);
        assert!(unknown.to_store(&Destination::Postgrest).is_none());
    }
}
