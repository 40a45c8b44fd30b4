//! The Knack destinations of `aks sync`: each container's `knack_destinations` as knack-etl
//! plans, and the destination app's client, resolved as `records-to-knack` resolves them.

use std::collections::{BTreeMap, BTreeSet};

use knack_etl::knack_client::Container;
use knack_etl::knack_copy::KnackDestination;
use knack_etl::sync::{KnackPlan, SyncPlan};
use secrecy::SecretString;

use crate::config::{Config, ConfigError};
use crate::env::{EnvVars, Settings, SettingsError};
use crate::error::CliError;
use crate::knack_dest;

/// The container's Knack destinations (`knack_destinations`), each with the destination
/// container as Knack reads it. The destination app's id is resolved as `records-to-knack` does;
/// unresolved it is left empty here ([`clients`] reports it for `sync`; `status` needs none).
pub(super) fn plans(
    config: &Config,
    app_name: &str,
    c: &crate::config::Container,
    vars: &EnvVars,
) -> Result<Vec<KnackPlan>, CliError> {
    let mut out = Vec::new();
    for (name, d) in &c.config.knack_destinations {
        let at = format!(
            "[apps.{app_name}.containers.{}.knack_destinations.{name}]",
            c.id
        );
        let fields = d
            .field_map()
            .map_err(|p| ConfigError::NotUsable(format!("{at}: {}", p.join("; "))))?;
        let dest_object = Container::object(&d.object)
            .map_err(|e| ConfigError::NotUsable(format!("{at}: {e}")))?;
        let configured = config
            .apps
            .get(name)
            .and_then(|a| a.containers.get(&d.container));
        let scene = configured.and_then(|k| k.scene_id.as_deref());
        let dest_container = if d.container.starts_with("view_") && scene.is_none() {
            return Err(ConfigError::NotUsable(format!(
                "{at}: container {} is a view, and sync refreshes its staged rows from Knack                  before comparing, which needs its scene: add [apps.{name}.containers.{}] with                  scene_id and modified_date_field_id",
                d.container, d.container
            ))
            .into());
        } else {
            Container::parse(&d.container, scene)
                .map_err(|e| ConfigError::NotUsable(format!("{at}: {e}")))?
        };
        let dest_app_id =
            knack_dest::dest_app_id(config, name, vars, &mut Vec::new(), &mut Vec::new())
                .unwrap_or_default();
        out.push(KnackPlan {
            app_name: name.clone(),
            destination: KnackDestination {
                source_app_id: String::new(),
                source_container: c.id.clone(),
                dest_app_id,
                dest_container: d.container.clone(),
                dest_object,
                fields,
            },
            dest_container,
            dest_modified_field: configured.and_then(|k| k.modified_date_field_id.clone()),
        });
    }
    Ok(out)
}

/// The Knack clients of the destination apps `plans` copy into, by app name, with every plan's
/// source and destination app ids filled in. Every problem (a missing `KNACK_APP_ID_DEST` or
/// `KNACK_API_KEY_DEST`, two destination apps for the one key) is reported at once, before any
/// request.
pub(super) fn clients(
    config: &Config,
    plans: &mut [SyncPlan],
    settings: &Settings,
    vars: &EnvVars,
) -> Result<BTreeMap<String, knack_etl::knack_client::Client>, CliError> {
    let names = destination_names(plans);
    let Some(name) = names.first() else {
        return Ok(BTreeMap::new());
    };
    let (mut missing, mut invalid) = (Vec::new(), Vec::new());
    let dest = destination_settings(config, &names, vars, &mut missing, &mut invalid);
    let url = knack_dest::dest_url(vars, &settings.knack.api_url)
        .map_err(|e| invalid.push(e))
        .ok();
    let (Some((app_id, key)), Some(url), true) = (dest, url, invalid.is_empty()) else {
        return Err(SettingsError {
            task: "sync",
            missing,
            invalid,
        }
        .into());
    };
    for plan in plans.iter_mut() {
        for k in &mut plan.knack {
            k.destination.source_app_id = settings.app_id.clone();
            k.destination.dest_app_id = app_id.clone();
        }
    }
    let dest = knack_dest::DestApp { app_id, key, url };
    Ok(BTreeMap::from([(name.clone(), dest.client()?)]))
}

/// Adds to `error` (the source app's settings problems) what the destination apps of `plans`
/// lack, so one message names every variable the run needs.
pub(super) fn add_problems(
    config: &Config,
    plans: &[SyncPlan],
    vars: &EnvVars,
    error: &mut SettingsError,
) {
    let names = destination_names(plans);
    if !names.is_empty() {
        destination_settings(config, &names, vars, &mut error.missing, &mut error.invalid);
    }
}

fn destination_names(plans: &[SyncPlan]) -> BTreeSet<String> {
    plans
        .iter()
        .flat_map(|p| p.knack.iter().map(|k| k.app_name.clone()))
        .collect()
}

/// The destination app's id and key, or what is missing or wrong (one app per run).
fn destination_settings(
    config: &Config,
    names: &BTreeSet<String>,
    vars: &EnvVars,
    missing: &mut Vec<String>,
    invalid: &mut Vec<String>,
) -> Option<(String, SecretString)> {
    let name = names.first()?;
    if names.len() > 1 {
        invalid.push(format!(
            "the containers copy into {} Knack apps ({}), but KNACK_API_KEY_DEST holds one key:              sync them with -c in separate runs, one destination app each",
            names.len(),
            names.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    let app_id = knack_dest::dest_app_id(config, name, vars, missing, invalid);
    let key = knack_dest::dest_key(vars, missing);
    Some((app_id?, key?))
}
