//! What a container's config becomes for knack-etl: its Socrata and ArcGIS targets (with the
//! other containers of the app that publish to the same destination), the container as
//! knack-client reads it, and the sync plans of an app.

use std::path::Path;

use knack_etl::agol::AgolTarget;
use knack_etl::knack_client;
use knack_etl::socrata::SocrataTarget;
use knack_etl::sync::{share_destinations, shared_destinations, SyncPlan};

use super::config::{AppConfig, Config, ConfigError, Container, ContainerKind};
use super::knack_dest::copy_plans;
use super::vars::EnvVars;
use super::{Env, Settings, SettingsError, Task};
use crate::error::{CliError, RunError};

/// `[apps.<app>.containers.<id>]`, as messages name a container.
pub(crate) fn at(container: &Container) -> String {
    format!("[apps.{}.containers.{}]", container.app_name, container.id)
}

/// The knack-client container of a validated config container.
pub(crate) fn knack_container(c: &Container) -> Result<knack_client::Container, RunError> {
    let scene = match &c.kind {
        ContainerKind::Object => None,
        ContainerKind::View { scene_id } => Some(scene_id.as_str()),
    };
    knack_client::Container::parse(&c.id, scene).map_err(RunError::pipeline)
}

/// Every container of `app`, only as far as where it publishes, with knack-etl's
/// `share_destinations` applied: who shares a dataset or a layer with whom.
fn app_destinations(app: &AppConfig) -> Vec<SyncPlan> {
    let mut plans: Vec<SyncPlan> = app
        .containers
        .iter()
        .filter_map(|(id, c)| {
            Some(SyncPlan {
                container: knack_client::Container::parse(id, c.scene_id.as_deref()).ok()?,
                modified_date_field: String::new(),
                location_fields: Vec::new(),
                socrata: c
                    .socrata_resource_id
                    .clone()
                    .map(|resource_id| SocrataTarget {
                        resource_id,
                        ..SocrataTarget::default()
                    }),
                agol: match (&c.service_id, c.layer_id, c.item_type) {
                    (Some(s), Some(l), Some(t)) => {
                        Some(AgolTarget::new(s.clone(), t.selector(l), "id"))
                    }
                    _ => None,
                },
                knack: Vec::new(),
            })
        })
        .collect();
    share_destinations(&mut plans);
    plans
}

/// The other containers of `app` that publish to `container`'s Socrata dataset and ArcGIS
/// layer: a full replace of one keeps the records the others have staged.
fn sharers(app: &AppConfig, container: &str) -> (Vec<String>, Vec<String>) {
    let plans = app_destinations(app);
    let plan = plans.into_iter().find(|p| p.container.id() == container);
    let socrata = plan.as_ref().and_then(|p| p.socrata.as_ref());
    let agol = plan.as_ref().and_then(|p| p.agol.as_ref());
    (
        socrata.map(|t| t.shared_with.clone()).unwrap_or_default(),
        agol.map(|t| t.shared_with.clone()).unwrap_or_default(),
    )
}

/// One line per destination that more than one container of an app publishes to (`config
/// check` prints them).
pub(crate) fn shared_lines(config: &Config) -> Vec<String> {
    let mut lines = Vec::new();
    for (name, app) in &config.apps {
        for shared in shared_destinations(&app_destinations(app)) {
            lines.push(format!(
                "[apps.{name}]: {} is shared by containers {}: a full replace of one keeps the \
                 records the others have staged",
                shared.destination,
                shared.containers.join(", ")
            ));
        }
    }
    lines
}

/// The container's Socrata destination, or a config error naming the missing key.
pub(crate) fn socrata_target(
    container: &Container,
    app: &AppConfig,
) -> Result<SocrataTarget, CliError> {
    let c = &container.config;
    let resource_id = c.socrata_resource_id.clone().ok_or_else(|| {
        ConfigError::NotUsable(format!(
            "{} has no socrata_resource_id; add the destination dataset id (e.g. \
             socrata_resource_id = \"p53x-x73x\") to publish it to Socrata",
            at(container)
        ))
    })?;
    Ok(SocrataTarget {
        resource_id,
        append_timestamp_key: c.append_timestamps_socrata.as_ref().map(|a| a.key.clone()),
        no_replace: c.no_replace_socrata,
        shared_with: sharers(app, &container.id).0,
    })
}

/// The container's ArcGIS Online destination, or a config error naming the missing keys.
pub(crate) fn agol_target(container: &Container, app: &AppConfig) -> Result<AgolTarget, CliError> {
    let c = &container.config;
    match (&c.service_id, c.layer_id, c.item_type) {
        (Some(s), Some(l), Some(t)) => Ok(AgolTarget {
            shared_with: sharers(app, &container.id).1,
            ..AgolTarget::new(s.clone(), t.selector(l), c.matching_field())
        }),
        _ => Err(ConfigError::NotUsable(format!(
            "{} needs service_id, layer_id and item_type (\"layer\" or \"table\") to publish to \
             ArcGIS Online",
            at(container)
        ))
        .into()),
    }
}

/// The plans of app `app_name`'s containers `ids` (every container when empty), each validated
/// with its destinations. Every problem is reported at once, before any request.
fn sync_plans(
    config: &Config,
    path: &Path,
    app_name: &str,
    ids: &[String],
    vars: &EnvVars,
) -> Result<Vec<SyncPlan>, CliError> {
    let app = config.app(path, app_name)?;
    let ids: Vec<String> = if ids.is_empty() {
        app.containers.keys().cloned().collect()
    } else {
        ids.to_vec()
    };
    if ids.is_empty() {
        return Err(CliError::Usage(format!(
            "app `{app_name}` has no containers in {}; add [apps.{app_name}.containers.<view_N or \
             object_N>]",
            path.display()
        )));
    }
    let (mut plans, mut problems) = (Vec::new(), Vec::new());
    for id in &ids {
        let plan = config
            .container(path, app_name, id)
            .map_err(CliError::from)
            .and_then(|c| {
                let socrata = match c.config.socrata_resource_id {
                    Some(_) => Some(socrata_target(&c, app)?),
                    None => None,
                };
                let agol = match c.config.service_id {
                    Some(_) => Some(agol_target(&c, app)?),
                    None => None,
                };
                Ok(SyncPlan {
                    container: knack_container(&c)?,
                    modified_date_field: c.modified_date_field_id.clone(),
                    location_fields: c.config.location_fields.clone(),
                    socrata,
                    agol,
                    knack: copy_plans(config, app_name, &c, vars)?,
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

/// What a command over an app (`sync`, `status`) needs before any request.
pub(crate) struct AppPlans {
    /// The config file.
    pub(crate) config: Config,
    /// The plans of the containers asked for.
    pub(crate) plans: Vec<SyncPlan>,
    /// The command's settings; the error is the caller's, who may add to it.
    pub(crate) settings: Result<Settings, SettingsError>,
}

/// The config, the plans of `ids` (every container when empty), and the settings of command
/// `name` over them: the Knack key, and the variables of the publishers the plans name, when
/// `knack_and_publishers`.
pub(crate) fn app_plans(
    (name, knack_and_publishers): (&'static str, bool),
    (app_name, ids, env, dry_run): (&str, &[String], Env, bool),
    path: &Path,
    vars: &EnvVars,
) -> Result<AppPlans, CliError> {
    let config = Config::load(path)?;
    let plans = sync_plans(&config, path, app_name, ids, vars)?;
    let task = Task::Composite {
        name,
        knack_key: knack_and_publishers,
        socrata: knack_and_publishers && plans.iter().any(|p| p.socrata.is_some()),
        agol: knack_and_publishers && plans.iter().any(|p| p.agol.is_some()),
    };
    let app = config.app(path, app_name)?;
    let settings = Settings::resolve(task, app_name, app, env, &config, vars, dry_run);
    Ok(AppPlans {
        config,
        plans,
        settings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_sharing_a_dataset_or_a_layer_are_found_and_listed_once() {
        let c: Config = toml::from_str(
            r#"
            [apps.tracker.containers.view_1]
            scene_id = "scene_1"
            modified_date_field_id = "field_1"
            socrata_resource_id = "abcd-1234"
            [apps.tracker.containers.view_2]
            scene_id = "scene_1"
            modified_date_field_id = "field_1"
            socrata_resource_id = "abcd-1234"
            service_id = "item1"
            layer_id = 0
            item_type = "layer"
            [apps.tracker.containers.view_3]
            scene_id = "scene_1"
            modified_date_field_id = "field_1"
            socrata_resource_id = "wxyz-9876"
            service_id = "item1"
            layer_id = 0
            item_type = "layer"
            "#,
        )
        .expect("test config parses");
        let app = &c.apps["tracker"];
        assert_eq!(sharers(app, "view_1").0, ["view_2"]);
        assert!(sharers(app, "view_3").0.is_empty());
        assert_eq!(sharers(app, "view_2").1, ["view_3"]);
        assert!(sharers(app, "view_1").1.is_empty());
        let lines = shared_lines(&c);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].contains("Socrata dataset abcd-1234 is shared by containers view_1, view_2")
        );
        assert!(lines[1]
            .contains("ArcGIS layer 0 of item item1 is shared by containers view_2, view_3"));
    }
}
