//! What a command over an app (`sync`, `status`) needs before any request: the plans of its
//! containers (knack-etl's [`plan`] of each) and its settings; and the destinations several
//! containers share, as `config check` lists them.

use std::path::Path;

use knack_etl::sync::config::plan;
use knack_etl::sync::SyncPlan;

use super::config::Config;
use super::vars::EnvVars;
use super::{Settings, SettingsError, Task};
use crate::cli::{AppArgs, Cli};
use crate::error::CliError;

/// One line per destination that more than one container of an app publishes to (`config
/// check` prints them).
pub(crate) fn shared_lines(config: &Config) -> Vec<String> {
    let mut lines = Vec::new();
    for (name, app) in &config.apps {
        for shared in app.shared() {
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

/// A command's settings, or what they lack.
type Resolved = Result<Settings, SettingsError>;

/// What a command over an app (`sync`, `status`) needs before any request: the config, the
/// plans of containers `ids` (every container of the app when empty; every problem of every
/// container at once), and the settings of command `name` over them (the Knack key and the
/// variables of the publishers the plans name when `knack_and_publishers`), whose error is the
/// caller's, who may add to it.
pub(crate) fn app_plans(
    (name, knack_and_publishers): (&'static str, bool),
    AppArgs { app_name, env }: &AppArgs,
    ids: &[String],
    cli: &Cli,
    path: &Path,
    vars: &EnvVars,
) -> Result<(Config, Vec<SyncPlan>, Resolved), CliError> {
    let config = Config::load(path)?;
    let app = config.app(app_name)?;
    let ids: Vec<&String> = match ids.is_empty() {
        true => app.containers.keys().collect(),
        false => ids.iter().collect(),
    };
    if ids.is_empty() {
        return Err(CliError::Usage(format!(
            "app `{app_name}` has no containers in {}; add [apps.{app_name}.containers.<view_N or \
             object_N>]",
            path.display()
        )));
    }
    let (mut plans, mut problems) = (Vec::new(), Vec::new());
    for id in ids {
        match config.container(app_name, id) {
            Ok(_) => match plan(&config.apps, app_name, id) {
                Ok(plan) => plans.push(plan),
                Err(e) => problems.push(e),
            },
            Err(e) => problems.push(e.to_string()),
        }
    }
    if !problems.is_empty() {
        return Err(CliError::Usage(format!(
            "sync cannot start:\n  - {}",
            problems.join("\n  - ")
        )));
    }
    let task = Task::Composite {
        name,
        knack_key: knack_and_publishers,
        socrata: knack_and_publishers && plans.iter().any(|p| p.socrata.is_some()),
        agol: knack_and_publishers && plans.iter().any(|p| p.agol.is_some()),
    };
    let settings = Settings::resolve(task, app_name, app, *env, &config, vars, cli.dry_run);
    Ok((config, plans, settings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_sharing_a_dataset_or_a_layer_are_listed_once() {
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
        let lines = shared_lines(&c);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].contains("Socrata dataset abcd-1234 is shared by containers view_1, view_2")
        );
        assert!(lines[1]
            .contains("ArcGIS layer 0 of item item1 is shared by containers view_2, view_3"));
    }
}
