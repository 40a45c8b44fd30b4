//! A Knack destination app's settings, for `records-to-knack` and `sync`'s Knack copies: its id
//! (`KNACK_APP_ID_DEST` or `app_id` under `[apps.<dest>]`), key (`KNACK_API_KEY_DEST`) and API
//! URL (`KNACK_API_URL_DEST`, else the source's), resolved before any request; and the knack-etl
//! plans of a container's `knack_destinations`.

use std::collections::BTreeSet;
use std::path::Path;

use knack_etl::knack_client::Container;
use knack_etl::knack_copy::KnackDestination;
use knack_etl::sync::{KnackPlan, SyncPlan};
use secrecy::SecretString;

use super::base_url::{base_url, BaseUrl};
use super::config::{self, Config, ConfigError, ConfigUrl};
use super::vars::EnvVars;
use super::{Env, Settings, SettingsError, Task};
use crate::error::CliError;

/// The source side's settings: app id, Knack URL and PostgREST (the key, Socrata and ArcGIS
/// Online are not needed; the destination's variables are resolved here).
const TASK: Task = Task::Composite {
    name: "records-to-knack",
    knack_key: false,
    socrata: false,
    agol: false,
};

/// What `records-to-knack` copies, from where to where: checked before any request.
pub(crate) struct Copy {
    /// The source side's settings (app id, Knack URL, PostgREST).
    pub(crate) settings: Settings,
    /// The destination app.
    pub(crate) dest: DestApp,
    /// Both sides and the field map, for knack-etl.
    pub(crate) destination: KnackDestination,
}

/// `records-to-knack -a <app> -c <container> --dest <dest> -e <env>`: the config, the
/// container's field map for `dest`, then both apps' variables, every problem at once.
pub(crate) fn resolve_copy(
    (app_name, container_id): (&str, &str),
    dest_name: &str,
    env: Env,
    dry_run: bool,
    path: &Path,
    vars: &EnvVars,
) -> Result<Copy, CliError> {
    let config = Config::load(path)?;
    let app = config.app(path, app_name)?;
    let container = config.container(path, app_name, container_id)?;
    let at = format!("[apps.{}.containers.{}]", app_name, container_id);
    let dest = container
        .config
        .knack_destinations
        .get(dest_name)
        .ok_or_else(|| {
            let known: Vec<&str> = container
                .config
                .knack_destinations
                .keys()
                .map(String::as_str)
                .collect();
            ConfigError::NotUsable(format!(
                "{at} has no knack_destinations.{dest}; known destinations: {known}; add \
                 [apps.{app}.containers.{c}.knack_destinations.{dest}] with container, object and \
                 fields",
                dest = dest_name,
                known = if known.is_empty() {
                    "(none)".to_owned()
                } else {
                    known.join(", ")
                },
                app = app_name,
                c = container_id,
            ))
        })?;
    // Checked when the file was loaded; a second look costs nothing and keeps this total.
    let fields = dest.field_map().map_err(|p| {
        ConfigError::NotUsable(format!(
            "{at} knack_destinations.{}: {}",
            dest_name,
            p.join("; ")
        ))
    })?;
    let dest_object = Container::object(&dest.object)
        .map_err(|e| ConfigError::NotUsable(format!("{at} knack_destinations.{dest_name}: {e}")))?;

    let (mut missing, mut invalid) = (Vec::new(), Vec::new());
    let dest_app_id = dest_app_id(&config, dest_name, vars, &mut missing, &mut invalid);
    let dest_key = dest_key(vars, &mut missing);
    // The source side's problems and the destination's, reported together.
    let settings =
        Settings::resolve(TASK, app_name, app, env, &config, vars, dry_run).map_err(|mut e| {
            e.missing.extend(missing.iter().cloned());
            e.invalid.extend(invalid.iter().cloned());
            e
        })?;
    let source_url = &settings.knack.api_url;
    let dest_app = dest_app(
        TASK.name(),
        (dest_app_id, dest_key),
        source_url,
        vars,
        missing,
        invalid,
    )?;
    let destination = KnackDestination {
        source_app_id: settings.app_id.clone(),
        source_container: container_id.to_owned(),
        dest_app_id: dest_app.app_id.clone(),
        dest_container: dest.container.clone(),
        dest_object,
        fields,
    };
    Ok(Copy {
        settings,
        dest: dest_app,
        destination,
    })
}

/// The destination app from its id and key (each resolved, or `None` with its problem recorded)
/// and its URL (`KNACK_API_URL_DEST`, else `source`), or every problem in one error of `task`.
fn dest_app(
    task: &'static str,
    (app_id, key): (Option<String>, Option<SecretString>),
    source: &url::Url,
    vars: &EnvVars,
    missing: Vec<String>,
    mut invalid: Vec<String>,
) -> Result<DestApp, SettingsError> {
    let url = dest_url(vars, source).map_err(|e| invalid.push(e)).ok();
    match (app_id, key, url, invalid.is_empty()) {
        (Some(app_id), Some(key), Some(url), true) => Ok(DestApp { app_id, key, url }),
        _ => Err(SettingsError {
            task,
            missing,
            invalid,
        }),
    }
}

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

/// The destination app's id: `KNACK_APP_ID_DEST` or `app_id` under `[apps.<dest>]` (as in the
/// original); both set and different is a problem, neither is a missing variable.
fn dest_app_id(
    config: &Config,
    dest: &str,
    vars: &EnvVars,
    missing: &mut Vec<String>,
    invalid: &mut Vec<String>,
) -> Option<String> {
    let from_config = config.apps.get(dest).and_then(|d| d.app_id.as_deref());
    match (vars.get("KNACK_APP_ID_DEST"), from_config) {
        (Some(v), Some(c)) if v != c => {
            invalid.push(format!(
                "KNACK_APP_ID_DEST={v} disagrees with app_id = \"{c}\" under [apps.{dest}]; unset \
                 one of them or make them equal"
            ));
            None
        }
        (Some(v), _) => Some(v.to_owned()),
        (None, Some(c)) => Some(c.to_owned()),
        (None, None) => {
            missing.push(format!("KNACK_APP_ID_DEST (or app_id under [apps.{dest}])"));
            None
        }
    }
}

/// `KNACK_API_KEY_DEST`, or a missing variable.
fn dest_key(vars: &EnvVars, missing: &mut Vec<String>) -> Option<SecretString> {
    let key = vars
        .get("KNACK_API_KEY_DEST")
        .map(|k| SecretString::from(k.to_owned()));
    if key.is_none() {
        missing.push("KNACK_API_KEY_DEST".to_owned());
    }
    key
}

/// `KNACK_API_URL_DEST` (the same https rule and `KNACK_ALLOW_INSECURE_HTTP` opt-in as
/// `KNACK_API_URL`), else `source`: both apps are usually on the same Knack API.
fn dest_url(vars: &EnvVars, source: &url::Url) -> Result<BaseUrl, String> {
    match base_url(vars, "KNACK_API_URL_DEST", &ConfigUrl::default()) {
        Some(found) => found,
        None => Ok(BaseUrl {
            url: source.clone(),
            origin: "KNACK_API_URL".to_owned(),
            insecure: None,
        }),
    }
}

/// The container's Knack destinations (`knack_destinations`), each with the destination
/// container as Knack reads it. The destination app's id is resolved as `records-to-knack` does;
/// unresolved it is left empty here ([`clients`] reports it for `sync`; `status` needs none).
pub(crate) fn copy_plans(
    config: &Config,
    app_name: &str,
    c: &config::Container,
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
            dest_app_id(config, name, vars, &mut Vec::new(), &mut Vec::new()).unwrap_or_default();
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
    let Some(name) = names.first() else {
        return Ok(None);
    };
    let (mut missing, mut invalid) = (Vec::new(), Vec::new());
    let found = destination_settings(config, &names, vars, &mut missing, &mut invalid);
    let source_url = &settings.knack.api_url;
    let dest = dest_app("sync", found, source_url, vars, missing, invalid)?;
    for plan in plans.iter_mut() {
        for k in &mut plan.knack {
            k.destination.source_app_id = settings.app_id.clone();
            k.destination.dest_app_id = dest.app_id.clone();
        }
    }
    Ok(Some((name.clone(), dest)))
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
        destination_settings(config, &names, vars, &mut error.missing, &mut error.invalid);
    }
}

fn destination_names(plans: &[SyncPlan]) -> BTreeSet<String> {
    plans
        .iter()
        .flat_map(|p| p.knack.iter().map(|k| k.app_name.clone()))
        .collect()
}

/// The destination app's id and key, each `None` with its problem recorded (one app per run).
fn destination_settings(
    config: &Config,
    names: &BTreeSet<String>,
    vars: &EnvVars,
    missing: &mut Vec<String>,
    invalid: &mut Vec<String>,
) -> (Option<String>, Option<SecretString>) {
    let Some(name) = names.first() else {
        return (None, None);
    };
    if names.len() > 1 {
        invalid.push(format!(
            "the containers copy into {} Knack apps ({}), but KNACK_API_KEY_DEST holds one key:              sync them with -c in separate runs, one destination app each",
            names.len(),
            names.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    (
        dest_app_id(config, name, vars, missing, invalid),
        dest_key(vars, missing),
    )
}
