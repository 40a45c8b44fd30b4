//! What a command over an app (`sync`, `status`) needs before any request: the plans of its
//! containers (knack-etl's [`plan`] of each) and its settings.

use std::path::Path;

use knack_etl::sync::config::plan;
use knack_etl::sync::SyncPlan;

use super::config::Config;
use super::vars::EnvVars;
use super::{Settings, SettingsError, Task};
use crate::cli::{AppArgs, Cli};
use crate::error::CliError;

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
