//! `aks records-to-knack`: a container's staged records created or updated in another Knack app,
//! through the field map under `knack_destinations` in the config.
//!
//! Variables: the source app as for the other commands (`KNACK_APP_ID` or `app_id`,
//! `PGREST_ENDPOINT`, `PGREST_JWT`), the destination app's id from `KNACK_APP_ID_DEST` or
//! `app_id` under `[apps.<dest>]`, and its key from `KNACK_API_KEY_DEST` (as in the original);
//! its API URL from `KNACK_API_URL_DEST`, else the source's (`KNACK_API_URL`).

use std::path::Path;
use std::time::Instant;

use knack_etl::knack_client;
use knack_etl::knack_copy::{self, Action, KnackDestination, KnackReport};
use knack_etl::RunOptions;
use secrecy::SecretString;

use crate::check::KnackApps;
use crate::cli::{Cli, KnackDestArgs};
use crate::config::{Config, ConfigError, ConfigUrl};
use crate::env::{base_url, BaseUrl, EnvVars, Settings, SettingsError, Task};
use crate::error::{CliError, RunError};
use crate::pipelines;
use crate::report::{emit_summary, RunReport};

/// The source side's settings: app id, Knack URL and PostgREST (the key, Socrata and ArcGIS
/// Online are not needed; the destination's variables are resolved here).
const TASK: Task = Task::Composite {
    name: "records-to-knack",
    knack_key: false,
    socrata: false,
    agol: false,
};

/// Everything a run needs, checked before any request.
struct Prepared {
    settings: Settings,
    dest: DestApp,
    destination: KnackDestination,
}

fn prepare(
    cli: &Cli,
    a: &KnackDestArgs,
    path: &Path,
    vars: &EnvVars,
) -> Result<Prepared, CliError> {
    let r = &a.records;
    let config = Config::load(path)?;
    let app = config.app(path, &r.app_name)?;
    let container = config.container(path, &r.app_name, &r.container)?;
    let at = format!("[apps.{}.containers.{}]", r.app_name, r.container);
    let dest = container
        .config
        .knack_destinations
        .get(&a.dest)
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
                dest = a.dest,
                known = if known.is_empty() {
                    "(none)".to_owned()
                } else {
                    known.join(", ")
                },
                app = r.app_name,
                c = r.container,
            ))
        })?;
    // Checked when the file was loaded; a second look costs nothing and keeps this total.
    let fields = dest.field_map().map_err(|p| {
        ConfigError::NotUsable(format!(
            "{at} knack_destinations.{}: {}",
            a.dest,
            p.join("; ")
        ))
    })?;
    let dest_object = knack_client::Container::object(&dest.object)
        .map_err(|e| ConfigError::NotUsable(format!("{at} knack_destinations.{}: {e}", a.dest)))?;

    let (mut missing, mut invalid) = (Vec::new(), Vec::new());
    let dest_app_id = dest_app_id(&config, &a.dest, vars, &mut missing, &mut invalid);
    let dest_key = dest_key(vars, &mut missing);
    // The source side's problems and the destination's, reported together.
    let settings = Settings::resolve(TASK, &r.app_name, app, r.env, &config, vars, cli.dry_run)
        .map_err(|mut e| {
            e.missing.extend(missing.iter().cloned());
            e.invalid.extend(invalid.iter().cloned());
            e
        })?;
    let dest_url = dest_url(vars, &settings.knack.api_url)
        .map_err(|e| invalid.push(e))
        .ok();
    let (Some(dest_app_id), Some(dest_key), Some(dest_url), true) =
        (dest_app_id, dest_key, dest_url, invalid.is_empty())
    else {
        return Err(SettingsError {
            task: TASK.name(),
            missing,
            invalid,
        }
        .into());
    };
    let destination = KnackDestination {
        source_app_id: settings.app_id.clone(),
        source_container: r.container.clone(),
        dest_app_id,
        dest_container: dest.container.clone(),
        dest_object,
        fields,
    };
    Ok(Prepared {
        settings,
        dest: DestApp {
            app_id: destination.dest_app_id.clone(),
            key: dest_key,
            url: dest_url,
        },
        destination,
    })
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

impl DestApp {
    /// A Knack client of the destination app (its own limiter: Knack's limit is per app).
    pub(crate) fn client(&self) -> Result<knack_client::Client, RunError> {
        if let Some(note) = &self.url.insecure {
            tracing::warn!("{note}");
        }
        knack_client::Client::builder()
            .app_id(self.app_id.clone())
            .api_key(self.key.clone())
            .base_url(self.url.url.as_str())
            .allow_insecure_http(crate::endpoint::is_insecure(&self.url.url))
            .build()
            .map_err(RunError::pipeline)
    }
}

/// The destination app's id: `KNACK_APP_ID_DEST` or `app_id` under `[apps.<dest>]` (as in the
/// original); both set and different is a problem, neither is a missing variable.
pub(crate) fn dest_app_id(
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
pub(crate) fn dest_key(vars: &EnvVars, missing: &mut Vec<String>) -> Option<SecretString> {
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
pub(crate) fn dest_url(vars: &EnvVars, source: &url::Url) -> Result<BaseUrl, String> {
    match base_url(vars, "KNACK_API_URL_DEST", &ConfigUrl::default()) {
        Some(found) => found,
        None => Ok(BaseUrl {
            url: source.clone(),
            origin: "KNACK_API_URL".to_owned(),
            insecure: None,
        }),
    }
}

/// Runs `records-to-knack`: validate, run, print the plan (dry run), report every refused record.
pub async fn run(
    cli: &Cli,
    a: &KnackDestArgs,
    path: &Path,
    vars: &EnvVars,
) -> Result<(), CliError> {
    let p = prepare(cli, a, path, vars)?;
    let what = format!(
        "records-to-knack {}/{} -> {}/{}",
        a.records.app_name, a.records.container, a.dest, p.destination.dest_object
    );
    tracing::info!(
        command = "records-to-knack",
        app = %a.records.app_name,
        container = %a.records.container,
        dest = %a.dest,
        dest_app_id = %p.destination.dest_app_id,
        since = a.records.date.map(|d| d.to_rfc3339()),
        dry_run = cli.dry_run,
        "starting"
    );
    p.settings.warn_insecure_http();
    let started = Instant::now();
    let pgrest = pipelines::postgrest(&p.settings)?;
    let knack = p.dest.client()?;
    let options = RunOptions {
        since: a.records.date,
        allow_empty_replace: false,
        dry_run: cli.dry_run,
    };
    let report = knack_copy::records_to_knack(&pgrest, &knack, &p.destination, &options)
        .await
        .map_err(|failure| {
            // The one Knack this run talks to is the destination: its URL is the one to check.
            let mut settings = p.settings.clone();
            settings.knack.api_url = p.dest.url.url.clone();
            settings.knack.api_url_origin = p.dest.url.origin.clone();
            crate::run::stopped(&what, started, pipelines::failed(&failure, &settings))
        })?;
    if cli.dry_run {
        print_plan(&report);
    }
    for f in &report.failures {
        tracing::error!(
            source_record = %f.source_record_id,
            dest_record = f.dest_record_id.as_deref(),
            fields = %f.fields.join(", "),
            "Knack refused {f}"
        );
    }
    let summary = RunReport {
        read: report.run.read,
        written: if cli.dry_run {
            report.created + report.updated
        } else {
            report.run.written
        },
        deleted: 0,
        // Every failure is a record Knack refused, named above; the others were written.
        failed: 0,
        rejected: report.run.failed,
        duration: started.elapsed(),
        dry_run: cli.dry_run,
        knack_quota: knack.quota(),
    };
    emit_summary(&what, &summary);
    if summary.is_success() {
        Ok(())
    } else {
        Err(RunError::RecordsFailed {
            failed: summary.rejected,
        }
        .into())
    }
}

/// One line per record on stdout, then the totals.
fn print_plan(report: &KnackReport) {
    for p in &report.plan {
        match &p.action {
            Action::Create => println!(
                "create    source {} (primary key {})",
                p.source_record_id, p.primary_key
            ),
            Action::Update {
                dest_record_id,
                changed,
            } => println!(
                "update    source {} -> {dest_record_id} (primary key {}): {}",
                p.source_record_id,
                p.primary_key,
                changed.join(", ")
            ),
            Action::Unchanged { dest_record_id } => println!(
                "unchanged source {} = {dest_record_id} (primary key {})",
                p.source_record_id, p.primary_key
            ),
        }
    }
    println!(
        "plan: {} to create, {} to update, {} unchanged (dry run: nothing was written)",
        report.created, report.updated, report.unchanged
    );
}

/// `config check` for `knack_destinations`: each map against both apps' metadata (source keys
/// in the source container, destination fields in the destination object, the destination
/// container in the destination app). One sentence per mismatch; `Err` when Knack is unreachable.
pub(crate) async fn check(
    config: &Config,
    vars: &EnvVars,
    apps: &mut KnackApps,
) -> Result<Vec<String>, CliError> {
    let mut out = Vec::new();
    for (name, app) in &config.apps {
        for (cid, c) in &app.containers {
            if c.knack_destinations.is_empty() {
                continue;
            }
            let at = format!("[apps.{name}.containers.{cid}]");
            let Some(source_id) = app.app_id.as_deref().or_else(|| vars.get("KNACK_APP_ID")) else {
                continue; // the container check already says the app cannot be checked
            };
            let source = match apps.metadata(source_id).await? {
                Ok(m) => m,
                Err(e) => {
                    out.push(format!("{at}: {e}"));
                    continue;
                }
            };
            let container = knack_client::Container::parse(cid, c.scene_id.as_deref()).ok();
            for (dest, d) in &c.knack_destinations {
                let at = format!("{at} knack_destinations.{dest}");
                if let Some(container) = &container {
                    let problems = knack_copy::check_source(&source, container, &d.fields);
                    out.extend(problems.into_iter().map(|p| format!("{at}: {p}")));
                }
                let dest_id = config
                    .apps
                    .get(dest)
                    .and_then(|a| a.app_id.as_deref())
                    .or_else(|| vars.get("KNACK_APP_ID_DEST"));
                let Some(dest_id) = dest_id else {
                    out.push(format!(
                        "{at}: no app_id under [apps.{dest}] and KNACK_APP_ID_DEST is unset; \
                         cannot check the destination"
                    ));
                    continue;
                };
                let target = match apps.metadata(dest_id).await? {
                    Ok(m) => m,
                    Err(e) => {
                        out.push(format!("{at}: {e}"));
                        continue;
                    }
                };
                let problems = knack_copy::check_destination(
                    &target,
                    dest_id,
                    &d.container,
                    &d.object,
                    &d.fields,
                );
                out.extend(problems.into_iter().map(|p| format!("{at}: {p}")));
            }
        }
    }
    Ok(out)
}
