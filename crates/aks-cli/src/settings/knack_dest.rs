//! A Knack destination app's settings, for `records-to-knack` and `sync`'s Knack copies: its id
//! (`KNACK_APP_ID_DEST` or `app_id` under `[apps.<dest>]`), key (`KNACK_API_KEY_DEST`) and API
//! URL (`KNACK_API_URL_DEST`, else the source's), resolved before any request.

use std::collections::BTreeSet;
use std::path::Path;

use knack_etl::knack_copy::KnackDestination;
use knack_etl::sync::SyncPlan;
use secrecy::SecretString;

use super::base_url::{base_url, BaseUrl};
use super::config::{Config, ConfigError, ConfigUrl};
use super::resolve::{app_id, var};
use super::vars::EnvVars;
use super::{Settings, SettingsError, Task};
use crate::cli::KnackDestArgs;
use crate::error::CliError;

/// The source side's settings: app id, Knack URL and PostgREST (the key, Socrata and ArcGIS
/// Online are not needed; the destination's variables are resolved here).
const TASK: Task = Task::RecordsToKnack;

/// A Knack destination app: id, key and API URL, resolved before any request.
pub(crate) struct DestApp {
    /// `KNACK_APP_ID_DEST`, else `app_id` under `[apps.<dest>]`.
    pub app_id: String,
    /// `KNACK_API_KEY_DEST`.
    pub key: SecretString,
    /// `KNACK_API_URL_DEST`, else the source app's Knack API URL (with its insecure-http warning
    /// already logged through the settings).
    pub url: BaseUrl,
}

/// `records-to-knack -a <app> -c <container> --dest <dest> -e <env>`: the config, the
/// container's field map for `dest`, then both apps' variables, every problem at once; what it
/// copies from where to where: the source side's settings (app id, Knack URL, PostgREST), the
/// destination app, and both sides with the field map for knack-etl.
pub(crate) fn resolve_copy(
    KnackDestArgs { records: r, dest }: &KnackDestArgs,
    dry_run: bool,
    path: &Path,
    vars: &EnvVars,
) -> Result<(Settings, DestApp, KnackDestination), CliError> {
    let (app_name, container_id, dest_name) = (&r.app_name, &r.container, dest.as_str());
    let config = Config::load(path)?;
    let app = config.app(app_name)?;
    config.container(app_name, container_id)?;
    let destination = app.knack_destination(app_name, container_id, dest_name);
    let mut destination = destination.map_err(ConfigError::NotUsable)?;
    let mut dest = SettingsError::new(TASK.name());
    let found = dest_settings(&config, &BTreeSet::from([dest_name]), vars, &mut dest);
    // The source side's problems and the destination's, reported together.
    let settings = Settings::resolve(TASK, app_name, app, r.env, &config, vars, dry_run).map_err(
        |mut e| {
            e.missing.extend(dest.missing.iter().cloned());
            e.invalid.extend(dest.invalid.iter().cloned());
            e
        },
    )?;
    let dest = dest_app(found, &settings, vars, dest)?;
    destination.source_app_id = settings.app_id.clone();
    destination.dest_app_id = dest.app_id.clone();
    Ok((settings, dest, destination))
}

/// The destination app from its id and key (each resolved, or `None` with its problem in
/// `problems`) and its URL (`KNACK_API_URL_DEST`, else the source's), or every problem.
fn dest_app(
    (app_id, key): (Option<String>, Option<SecretString>),
    source: &Settings,
    vars: &EnvVars,
    mut problems: SettingsError,
) -> Result<DestApp, SettingsError> {
    // `KNACK_API_URL_DEST` has the same https rule and `KNACK_ALLOW_INSECURE_HTTP` opt-in as
    // `KNACK_API_URL`; both apps are usually on the same Knack API.
    let url = match base_url(vars, "KNACK_API_URL_DEST", &ConfigUrl::default()) {
        Some(found) => found.map_err(|e| problems.invalid.push(e)).ok(),
        None => Some(BaseUrl {
            url: source.knack_url.url.clone(),
            origin: "KNACK_API_URL".to_owned(),
            insecure: None,
        }),
    };
    match (app_id, key, url, problems.invalid.is_empty()) {
        (Some(app_id), Some(key), Some(url), true) => Ok(DestApp { app_id, key, url }),
        _ => Err(problems),
    }
}

/// The destination app `plans` copy into (one per run), by its name, with every plan's source
/// and destination app ids filled in; `None` when they copy nowhere. Every problem (a missing
/// `KNACK_APP_ID_DEST` or `KNACK_API_KEY_DEST`, two destination apps for the one key) is
/// reported at once, before any request.
pub(crate) fn sync_dest(
    config: &Config,
    plans: &mut [SyncPlan],
    settings: &Settings,
    vars: &EnvVars,
) -> Result<Option<(String, DestApp)>, SettingsError> {
    let names = destination_names(plans);
    let Some(name) = names.first().map(|n| n.to_string()) else {
        return Ok(None);
    };
    let mut problems = SettingsError::new("sync");
    let found = dest_settings(config, &names, vars, &mut problems);
    let dest = dest_app(found, settings, vars, problems)?;
    for k in plans.iter_mut().flat_map(|p| &mut p.knack) {
        k.destination.source_app_id = settings.app_id.clone();
        k.destination.dest_app_id = dest.app_id.clone();
    }
    Ok(Some((name, dest)))
}

/// Adds to `error` (the source app's settings problems) what the destination apps of `plans`
/// lack, so one message names every variable the run needs.
pub(crate) fn add_problems(
    config: &Config,
    plans: &[SyncPlan],
    vars: &EnvVars,
    error: &mut SettingsError,
) {
    let names = destination_names(plans);
    if !names.is_empty() {
        dest_settings(config, &names, vars, error);
    }
}

fn destination_names(plans: &[SyncPlan]) -> BTreeSet<&str> {
    let knack = plans.iter().flat_map(|p| &p.knack);
    knack.map(|k| k.app_name.as_str()).collect()
}

/// The id (`KNACK_APP_ID_DEST` or `app_id` under `[apps.<dest>]`, as in the original) and key
/// (`KNACK_API_KEY_DEST`) of destination app `names` (one per run: there is one key), each
/// `None` with its problem recorded.
fn dest_settings(
    config: &Config,
    names: &BTreeSet<&str>,
    vars: &EnvVars,
    problems: &mut SettingsError,
) -> (Option<String>, Option<SecretString>) {
    let Some(&name) = names.first() else {
        return (None, None);
    };
    if names.len() > 1 {
        problems.invalid.push(format!(
            "the containers copy into {} Knack apps ({}), but KNACK_API_KEY_DEST holds one key: \
             sync them with -c in separate runs, one destination app each",
            names.len(),
            names.iter().copied().collect::<Vec<_>>().join(", ")
        ));
    }
    let configured = config.apps.get(name).and_then(|d| d.app_id.as_deref());
    let app_id = app_id((vars, "KNACK_APP_ID_DEST"), (name, configured), problems);
    let key = var(vars, "KNACK_API_KEY_DEST", problems).map(SecretString::from);
    (app_id, key)
}
