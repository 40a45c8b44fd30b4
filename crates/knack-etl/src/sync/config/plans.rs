//! What a container's config becomes for a run: the container as Knack reads it, its Socrata and
//! ArcGIS targets (with the other containers of the app publishing to the same destination), its
//! Knack copies, and its whole [`SyncPlan`]. Each refusal is one sentence naming the container's
//! place and the key to add.

use knack_client::Container;

use super::{container_at, AppConfig, Apps, ContainerConfig, KnackDestinationConfig};
use crate::agol::AgolTarget;
use crate::knack_copy::KnackDestination;
use crate::socrata::SocrataTarget;
use crate::sync::plan::{KnackPlan, SyncPlan};
use crate::sync::shared::{keys, share_destinations, shared_destinations, SharedDestination};

impl ContainerConfig {
    /// Container `id`'s plan as far as Knack and the staging store go (its container, modified
    /// date field and location fields; no destination): what `records-to-postgrest` needs, and
    /// what a publisher reads ([`SyncPlan::publication`]).
    ///
    /// # Errors
    /// A view without `scene_id`, no `modified_date_field_id`, or a malformed key; the message
    /// names `[apps.<app>.containers.<id>]`.
    pub fn staging_plan(&self, app: &str, id: &str) -> Result<SyncPlan, String> {
        let at = container_at(app, id);
        let scene = match id.starts_with("object_") {
            true => None,
            false => Some(self.scene_id.as_deref().ok_or_else(|| {
                format!(
                    "{at} is a view and needs scene_id (the scene that holds the view, e.g. \
                     scene_id = \"scene_73\")"
                )
            })?),
        };
        let modified = self
            .modified_date_field_id
            .clone()
            .ok_or_else(|| format!("{at} needs modified_date_field_id (e.g. \"field_205\")"))?;
        Ok(SyncPlan {
            container: Container::parse(id, scene).map_err(|e| e.to_string())?,
            modified_date_field: modified,
            location_fields: self.location_fields.clone(),
            socrata: None,
            agol: None,
            knack: Vec::new(),
        })
    }
}

impl AppConfig {
    /// Container `id`'s Socrata destination, shared with the app's other containers publishing
    /// to the same dataset.
    ///
    /// # Errors
    /// The container is not configured or has no `socrata_resource_id`.
    pub fn socrata_target(&self, app: &str, id: &str) -> Result<SocrataTarget, String> {
        let found = self.containers.get(id);
        let Some((c, resource_id)) = found.and_then(|c| Some((c, c.socrata_resource_id.clone()?)))
        else {
            return Err(format!(
                "{} has no socrata_resource_id; add the destination dataset id (e.g. \
                 socrata_resource_id = \"p53x-x73x\") to publish it to Socrata",
                container_at(app, id)
            ));
        };
        Ok(SocrataTarget {
            resource_id,
            append_timestamp_key: c.append_timestamps_socrata.as_ref().map(|a| a.key.clone()),
            no_replace: c.no_replace_socrata,
            shared_with: self.sharers(id).0,
        })
    }

    /// Container `id`'s ArcGIS Online layer or table, shared with the app's other containers
    /// publishing to the same one.
    ///
    /// # Errors
    /// The container is not configured or lacks `service_id`, `layer_id` or `item_type`.
    pub fn agol_target(&self, app: &str, id: &str) -> Result<AgolTarget, String> {
        match self.containers.get(id).and_then(agol_target) {
            Some(target) => Ok(AgolTarget {
                shared_with: self.sharers(id).1,
                ..target
            }),
            None => Err(format!(
                "{} needs service_id, layer_id and item_type (\"layer\" or \"table\") to publish \
                 to ArcGIS Online",
                container_at(app, id)
            )),
        }
    }

    /// The destinations more than one of the app's containers publishes to: a full replace of
    /// one keeps the records the others have staged.
    pub fn shared(&self) -> Vec<SharedDestination> {
        shared_destinations(&self.destinations())
    }

    /// Every container of the app, only as far as where it publishes, with
    /// [`share_destinations`] applied: who shares a dataset or a layer with whom.
    fn destinations(&self) -> Vec<SyncPlan> {
        let mut plans: Vec<SyncPlan> = self
            .containers
            .iter()
            .filter_map(|(id, c)| {
                Some(SyncPlan {
                    container: Container::parse(id, c.scene_id.as_deref()).ok()?,
                    modified_date_field: String::new(),
                    location_fields: Vec::new(),
                    socrata: c
                        .socrata_resource_id
                        .clone()
                        .map(|resource_id| SocrataTarget {
                            resource_id,
                            ..SocrataTarget::default()
                        }),
                    agol: agol_target(c).map(|t| AgolTarget::new(t.service_id, t.selector, "id")),
                    knack: Vec::new(),
                })
            })
            .collect();
        share_destinations(&mut plans);
        plans
    }

    /// The other containers publishing to container `id`'s Socrata dataset and ArcGIS layer.
    fn sharers(&self, id: &str) -> (Vec<String>, Vec<String>) {
        let plans = self.destinations();
        let plan = plans.into_iter().find(|p| p.container.id() == id);
        let socrata = plan.as_ref().and_then(|p| p.socrata.as_ref());
        let agol = plan.as_ref().and_then(|p| p.agol.as_ref());
        (
            socrata.map(|t| t.shared_with.clone()).unwrap_or_default(),
            agol.map(|t| t.shared_with.clone()).unwrap_or_default(),
        )
    }

    /// Container `id`'s copy into the Knack app `dest` (`records-to-knack`): both sides and the
    /// field map. The app ids are left empty: where they come from is the caller's.
    ///
    /// # Errors
    /// The container has no `knack_destinations.<dest>` (the message lists those it has), or its
    /// map or object is unusable.
    pub fn knack_destination(
        &self,
        app: &str,
        id: &str,
        dest: &str,
    ) -> Result<KnackDestination, String> {
        let at = container_at(app, id);
        let dests = self.containers.get(id).map(|c| &c.knack_destinations);
        let Some(d) = dests.and_then(|d| d.get(dest)) else {
            let known: Vec<&str> = dests
                .into_iter()
                .flatten()
                .map(|(k, _)| k.as_str())
                .collect();
            return Err(format!(
                "{at} has no knack_destinations.{dest}; known destinations: {known}; add \
                 [apps.{app}.containers.{id}.knack_destinations.{dest}] with container, object \
                 and fields",
                known = if known.is_empty() {
                    "(none)".to_owned()
                } else {
                    known.join(", ")
                },
            ));
        };
        copy(&format!("{at} knack_destinations.{dest}:"), id, d)
    }
}

/// The ArcGIS target `c` names (not shared yet), when it has all three keys.
fn agol_target(c: &ContainerConfig) -> Option<AgolTarget> {
    match (&c.service_id, c.layer_id, c.item_type) {
        (Some(s), Some(l), Some(t)) => {
            let mut target = AgolTarget::new(s.clone(), t.selector(l), c.matching_field());
            if let Some(n) = c.agol_batch_size.filter(|n| *n > 0) {
                target.batch_size = n as usize;
            }
            if let Some(n) = c.agol_in_flight {
                target.in_flight = (n as usize).clamp(1, AgolTarget::MAX_IN_FLIGHT);
            }
            Some(target)
        }
        _ => None,
    }
}

/// The copy of `source_container` that `d` describes, app ids left empty; `at` begins each
/// message.
fn copy(
    at: &str,
    source_container: &str,
    d: &KnackDestinationConfig,
) -> Result<KnackDestination, String> {
    let fields = d
        .field_map()
        .map_err(|p| format!("{at} {}", p.join("; ")))?;
    let dest_object = Container::object(&d.object).map_err(|e| format!("{at} {e}"))?;
    Ok(KnackDestination {
        source_app_id: String::new(),
        source_container: source_container.to_owned(),
        dest_app_id: String::new(),
        dest_container: d.container.clone(),
        dest_object,
        fields,
    })
}

/// The whole plan of container `id` of app `app`: its staging plan, its Socrata and ArcGIS
/// targets, and its Knack copies (each destination app's id from its `app_id`, empty when the
/// config names none: a caller resolving it elsewhere sets it, as it sets the source app's id).
///
/// # Errors
/// The first problem of the container, one sentence naming its place and the fix.
pub fn plan(apps: &Apps, app: &str, id: &str) -> Result<SyncPlan, String> {
    let (a, c) = apps
        .get(app)
        .and_then(|a| Some((a, a.containers.get(id)?)))
        .ok_or_else(|| format!("{} is not in the config", container_at(app, id)))?;
    let mut plan = c.staging_plan(app, id)?;
    if c.socrata_resource_id.is_some() {
        plan.socrata = Some(a.socrata_target(app, id)?);
    }
    if c.service_id.is_some() {
        plan.agol = Some(a.agol_target(app, id)?);
    }
    share_across_apps(apps, app, &mut plan)?;
    for (name, d) in &c.knack_destinations {
        let at = format!("[apps.{app}.containers.{id}.knack_destinations.{name}]:");
        let mut destination = copy(&at, id, d)?;
        let dest_app = apps.get(name);
        let configured = dest_app.and_then(|a| a.containers.get(&d.container));
        let scene = configured.and_then(|k| k.scene_id.as_deref());
        if d.container.starts_with("view_") && scene.is_none() {
            return Err(format!(
                "{at} container {} is a view, and sync refreshes its staged rows from Knack \
                 before comparing, which needs its scene: add [apps.{name}.containers.{}] with \
                 scene_id and modified_date_field_id",
                d.container, d.container
            ));
        }
        let dest_container =
            Container::parse(&d.container, scene).map_err(|e| format!("{at} {e}"))?;
        destination.dest_app_id = dest_app.and_then(|a| a.app_id.clone()).unwrap_or_default();
        plan.knack.push(KnackPlan {
            app_name: name.clone(),
            destination,
            dest_container,
            dest_modified_field: configured.and_then(|k| k.modified_date_field_id.clone()),
        });
    }
    Ok(plan)
}

/// Every container of `apps` with where it publishes (its dataset's and its layer's key, as
/// [`SharedDestination::destination`] words them): `(key, app name, container id)`.
fn publishers(apps: &Apps) -> Vec<(String, &str, String)> {
    let mut out = Vec::new();
    for (name, app) in apps {
        for plan in app.destinations() {
            for key in keys(&plan).into_iter().flatten() {
                out.push((key, name.as_str(), plan.container.id().to_string()));
            }
        }
    }
    out
}

/// Adds to `plan`'s targets the containers of the config's other apps publishing to the same
/// dataset or layer, as `<app id>/<container id>` (their rows are staged under their app's id).
///
/// # Errors
/// Such an app has no `app_id` in the config: without it a full replace could not tell its rows
/// apart, so the plan is refused, naming the key to add.
fn share_across_apps(apps: &Apps, app: &str, plan: &mut SyncPlan) -> Result<(), String> {
    let all = publishers(apps);
    let mine = keys(plan);
    for (which, key) in mine.iter().enumerate() {
        let Some(key) = key else {
            continue;
        };
        let mut entries = Vec::new();
        for (_, other, container) in all.iter().filter(|p| p.0 == *key && p.1 != app) {
            let Some(other_id) = apps.get(*other).and_then(|a| a.app_id.as_deref()) else {
                return Err(format!(
                    "{}: {key} is also published by [apps.{other}.containers.{container}], and \
                     [apps.{other}] has no app_id: add it (app_id = \"<its Knack application \
                     id>\"), so a full replace of either keeps the other's rows",
                    container_at(app, plan.container.id())
                ));
            };
            entries.push(format!("{other_id}/{container}"));
        }
        let shared_with = match which {
            0 => plan.socrata.as_mut().map(|t| &mut t.shared_with),
            _ => plan.agol.as_mut().map(|t| &mut t.shared_with),
        };
        if let Some(shared_with) = shared_with {
            shared_with.extend(entries);
        }
    }
    Ok(())
}

/// One line per destination more than one container of `apps` publishes to, as `aks config
/// check` prints them: within one app `[apps.<app>]: <destination> is shared by containers
/// <ids>: ...`; across apps `<destination> is shared by [apps.<a>] <id>, [apps.<b>] <id>: ...`.
pub fn shared_lines(apps: &Apps) -> Vec<String> {
    let all = publishers(apps);
    let keys: Vec<&String> = all.iter().map(|p| &p.0).collect();
    let mut seen: Vec<&String> = Vec::new();
    let mut lines = Vec::new();
    for key in keys {
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let users: Vec<_> = all.iter().filter(|p| p.0 == *key).collect();
        if users.len() < 2 {
            continue;
        }
        let keeps = "a full replace of one keeps the records the others have staged";
        if users.iter().all(|u| u.1 == users[0].1) {
            let mut ids: Vec<&str> = users.iter().map(|u| u.2.as_str()).collect();
            ids.sort_unstable();
            let app = users[0].1;
            lines.push(format!(
                "[apps.{app}]: {key} is shared by containers {}: {keeps}",
                ids.join(", ")
            ));
            continue;
        }
        let mut named: Vec<String> = users
            .iter()
            .map(|u| format!("[apps.{}] {}", u.1, u.2))
            .collect();
        named.sort();
        let missing: Vec<String> = users
            .iter()
            .filter(|u| apps.get(u.1).is_some_and(|a| a.app_id.is_none()))
            .map(|u| format!("[apps.{}]", u.1))
            .collect();
        let tail = match missing.is_empty() {
            true => format!("{keeps}, whichever app it belongs to"),
            false => format!(
                "{} need(s) app_id, without which sync refuses these containers",
                missing.join(", ")
            ),
        };
        lines.push(format!("{key} is shared by {}: {tail}", named.join(", ")));
    }
    lines
}

/// What `aks config check` says after the shared destinations: the limit of what it can know.
pub const OUTSIDE_PUBLISHERS: &str = "a dataset or layer also written by an app or container \
    outside this config is not known here, and a full replace deletes its rows: declare each \
    such publisher in this config, as [apps.<name>] with its app_id and the container with the \
    same socrata_resource_id (or service_id, layer_id and item_type); sync runs only the app it \
    is asked to";
