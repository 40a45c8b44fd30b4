//! `aks config check`: the file, and (without `--offline`) each container against the Knack
//! app's metadata and its destination's schema, and each `knack_destinations` map against both
//! apps' metadata.

use std::collections::HashMap;
use std::path::Path;

use knack_etl::agol_client;
use knack_etl::knack_client::{self, Container, Formatter};
use knack_etl::{agol, knack, knack_copy, socrata};
use url::Url;

use crate::clients;
use crate::error::{CliError, RunError};
use crate::output::diagnose;
use crate::settings::base_url::{base_url, BaseUrl};
use crate::settings::config::{AppConfig, Config, ContainerConfig, Service};
use crate::settings::plans::shared_lines;
use crate::settings::{EnvVars, DEFAULT_KNACK_API_URL};

/// Runs `config check`: the file (`offline`), else also every container against Knack and its
/// destinations; prints the verdict first, then each problem, then the shared destinations.
pub(super) async fn run(offline: bool, path: &Path, vars: &EnvVars) -> Result<(), CliError> {
    let config = Config::load(path)?;
    let containers: usize = config.apps.values().map(|a| a.containers.len()).sum();
    let counts = format!("{} apps, {} containers", config.apps.len(), containers);
    // Destinations several containers publish to: a replace of one keeps the others'.
    let print_shared = || {
        for line in shared_lines(&config) {
            println!("shared: {line}");
        }
    };
    if offline {
        println!("{}: OK ({counts})", path.display());
        print_shared();
        return Ok(());
    }
    let problems = config_check(&config, vars).await?;
    if problems.is_empty() {
        println!(
            "{}: OK ({counts}; every container matches Knack and its destinations)",
            path.display()
        );
        print_shared();
        return Ok(());
    }
    // The count first, so the verdict is the first thing read.
    println!(
        "{}: {} problem(s) ({counts})",
        path.display(),
        problems.len()
    );
    for p in &problems {
        println!("  - {p}");
    }
    print_shared();
    Err(CliError::Usage(format!(
        "config check found {} problem(s) (listed on stdout): the config does not match \
         Knack or a destination",
        problems.len()
    )))
}

/// One sentence per mismatch; empty when everything matches.
///
/// Knack metadata is public, so the Knack checks need only the app id (from
/// the config's `app_id` or `KNACK_APP_ID`). Socrata columns are checked
/// when a Socrata URL is known (`SOCRATA_URL` or `[socrata] url`); the
/// dataset metadata is public too.
///
/// # Errors
/// A refused URL (exit 2); a service that gives no answer at all (refused, timed out, DNS,
/// TLS): a runtime failure (exit 1) naming the service and the setting to check, since an
/// unreachable service says nothing about the config.
async fn config_check(config: &Config, vars: &EnvVars) -> Result<Vec<String>, CliError> {
    let knack = match url(config, vars, Service::Knack)? {
        Some(base) => base,
        None => BaseUrl {
            url: Url::parse(DEFAULT_KNACK_API_URL).map_err(RunError::pipeline)?,
            origin: "default KNACK_API_URL".to_owned(),
            insecure: None,
        },
    };
    let socrata = url(config, vars, Service::Socrata)?;
    let agol = agol_client(config, vars)?;
    let urls = Destinations {
        socrata: socrata.as_ref(),
        agol: agol.as_ref(),
    };
    let mut apps = KnackApps::new(knack);
    let mut mismatches = Vec::new();
    for (name, app) in &config.apps {
        check_app(name, app, vars, &mut apps, &urls, &mut mismatches).await?;
    }
    mismatches.extend(destinations(config, vars, &mut apps).await?);
    Ok(mismatches)
}

/// The Knack apps' metadata, each read once per check: the containers' check and the
/// `knack_destinations` check ask for the same apps.
struct KnackApps {
    base: BaseUrl,
    read: HashMap<String, Result<knack_client::Metadata, String>>,
}

impl KnackApps {
    fn new(base: BaseUrl) -> Self {
        Self {
            base,
            read: HashMap::new(),
        }
    }

    /// The app's metadata, or (inner `Err`) the problem to list (no such app, ...).
    ///
    /// # Errors
    /// Knack unreachable ([`unreachable`]).
    async fn metadata(
        &mut self,
        app_id: &str,
    ) -> Result<Result<knack_client::Metadata, String>, CliError> {
        if let Some(found) = self.read.get(app_id) {
            return Ok(found.clone());
        }
        let client = clients::public_knack(app_id, &self.base)?;
        let found = match client.metadata().await {
            Ok(m) => Ok(m),
            Err(e) => {
                let e = knack_etl::Error::from(e);
                if diagnose::is_network(&e) {
                    return Err(unreachable("Knack", &e, &self.base));
                }
                Err(with_cause(
                    format!("Knack metadata for app {app_id} could not be read: {e}"),
                    &e,
                ))
            }
        };
        self.read.insert(app_id.to_owned(), found.clone());
        Ok(found)
    }
}

/// The check's verdict when `system` gave no answer: exit 1, naming the setting to check.
fn unreachable(system: &str, e: &knack_etl::Error, base: &BaseUrl) -> CliError {
    RunError::Message(format!(
        "config check could not reach {system}, so it could not compare the config with it: {}",
        diagnose::unreachable(e, &base.origin, &base.url)
    ))
    .into()
}

/// `service`'s env var, else its top-level table's value (the check has no `-e`), refused (exit 2)
/// where `aks` would refuse it for a run: credentials never travel over plain http to another
/// machine.
fn url(config: &Config, vars: &EnvVars, service: Service) -> Result<Option<BaseUrl>, CliError> {
    let from_config = config.endpoint(None, service);
    let base = base_url(vars, service.var(), &from_config)
        .transpose()
        .map_err(|e| CliError::Usage(format!("config check cannot start: {e}")))?;
    if let Some(note) = base.as_ref().and_then(|b| b.insecure.as_deref()) {
        tracing::warn!("{note}");
    }
    Ok(base)
}

/// Where the checks look.
struct Destinations<'a> {
    socrata: Option<&'a BaseUrl>,
    agol: Option<&'a (agol_client::Client, BaseUrl)>,
}

/// An AGOL client when a portal URL and credentials are known (layers are
/// rarely public, so the AGOL checks need AGOL_USERNAME / AGOL_PASSWORD).
fn agol_client(
    config: &Config,
    vars: &EnvVars,
) -> Result<Option<(agol_client::Client, BaseUrl)>, CliError> {
    let (Some(user), Some(password)) = (vars.get("AGOL_USERNAME"), vars.get("AGOL_PASSWORD"))
    else {
        return Ok(None);
    };
    let Some(base) = url(config, vars, Service::Agol)? else {
        return Ok(None);
    };
    let client = clients::checking_agol(&base, user, password)?;
    Ok(Some((client, base)))
}

async fn check_app(
    name: &str,
    app: &AppConfig,
    vars: &EnvVars,
    apps: &mut KnackApps,
    urls: &Destinations<'_>,
    out: &mut Vec<String>,
) -> Result<(), CliError> {
    let Some(app_id) = app.app_id.as_deref().or_else(|| vars.get("KNACK_APP_ID")) else {
        out.push(format!(
            "[apps.{name}]: no app_id in the config and KNACK_APP_ID is unset; cannot check it"
        ));
        return Ok(());
    };
    let metadata = match apps.metadata(app_id).await? {
        Ok(m) => m,
        Err(problem) => {
            out.push(format!("[apps.{name}]: {problem}"));
            return Ok(());
        }
    };
    for (id, c) in &app.containers {
        let at = format!("[apps.{name}.containers.{id}]");
        let container = match Container::parse(id, c.scene_id.as_deref()) {
            Ok(container) => container,
            Err(e) => {
                out.push(format!("{at}: {e}"));
                continue;
            }
        };
        let formatter = match Formatter::new(&metadata, &container) {
            Ok(f) => f,
            Err(e) => {
                out.push(format!("{at}: {e}"));
                continue;
            }
        };
        let fields = c.modified_date_field_id.iter().chain(&c.location_fields);
        let unknown = knack::unknown_fields(&formatter, &container, fields.map(String::as_str));
        out.extend(unknown.into_iter().map(|p| format!("{at}: {p}")));
        if let (Some(base), Some(resource)) = (urls.socrata, &c.socrata_resource_id) {
            check_socrata(&at, base, resource, &formatter, out).await?;
        }
        if let Some((agol, base)) = urls.agol {
            check_agol(&at, agol, base, c, &formatter, out).await?;
        }
    }
    Ok(())
}

async fn check_socrata(
    at: &str,
    base: &BaseUrl,
    resource: &str,
    formatter: &Formatter,
    out: &mut Vec<String>,
) -> Result<(), CliError> {
    let client = match clients::public_socrata(base) {
        Ok(client) => client,
        Err(e) => {
            out.push(format!("{at}: Socrata client: {e}"));
            return Ok(());
        }
    };
    let dataset = match client.metadata(resource).await {
        Ok(d) => d,
        Err(e) => {
            let e = knack_etl::Error::from(e);
            if diagnose::is_network(&e) {
                return Err(unreachable("Socrata", &e, base));
            }
            out.push(with_cause(
                format!("{at}: Socrata dataset {resource}: {e}"),
                &e,
            ));
            return Ok(());
        }
    };
    // The same checks a run makes before its first write, and the columns it would drop.
    for problem in socrata::dataset_problems(resource, &dataset, formatter) {
        out.push(format!("{at}: {problem}"));
    }
    Ok(())
}

async fn check_agol(
    at: &str,
    agol: &agol_client::Client,
    base: &BaseUrl,
    c: &ContainerConfig,
    formatter: &Formatter,
    out: &mut Vec<String>,
) -> Result<(), CliError> {
    let (Some(service), Some(index), Some(item_type)) = (&c.service_id, c.layer_id, c.item_type)
    else {
        return Ok(());
    };
    let layer = match agol
        .layer_from_item(service, item_type.selector(index))
        .await
    {
        Ok(layer) => layer,
        Err(e) => {
            let e = knack_etl::Error::from(e);
            if diagnose::is_network(&e) {
                return Err(unreachable("ArcGIS Online", &e, base));
            }
            out.push(with_cause(
                format!("{at}: ArcGIS Online item {service}: {e}"),
                &e,
            ));
            return Ok(());
        }
    };
    // The same checks a run makes before its first write, and the fields it would not store.
    for problem in agol::layer_problems(layer.info(), c.matching_field(), formatter) {
        out.push(format!("{at}: {problem}"));
    }
    Ok(())
}

/// `message` followed by the causes (the error's `source()` chain) it does not already say.
fn with_cause(message: String, e: &(dyn std::error::Error + 'static)) -> String {
    let causes = diagnose::causes(e, &message);
    if causes.is_empty() {
        message
    } else {
        format!("{message} (cause: {})", causes.join(": "))
    }
}

/// `config check` for `knack_destinations`: each map against both apps' metadata (source keys
/// in the source container, destination fields in the destination object, the destination
/// container in the destination app). One sentence per mismatch; `Err` when Knack is unreachable.
async fn destinations(
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
