//! `aks config check` (online): each container against the Knack app's
//! metadata and against its destination's schema.

use std::collections::BTreeSet;

use knack_etl::agol_client;
use knack_etl::knack_client::{self, Container, Formatter};
use knack_etl::preflight;
use knack_etl::socrata_client;
use knack_etl::transform::field_key;

use crate::config::{AppConfig, Config, ContainerConfig};
use url::Url;

use crate::endpoint::is_insecure;
use crate::env::{base_url, EnvVars, DEFAULT_KNACK_API_URL};
use crate::error::{CliError, RunError};

/// One sentence per mismatch; empty when everything matches.
///
/// Knack metadata is public, so the Knack checks need only the app id (from
/// the config's `app_id` or `KNACK_APP_ID`). Socrata columns are checked
/// when a Socrata URL is known (`SOCRATA_URL` or `[socrata] url`); the
/// dataset metadata is public too.
pub async fn config_check(config: &Config, vars: &EnvVars) -> Result<Vec<String>, CliError> {
    let knack_url = url(
        vars,
        "KNACK_API_URL",
        "knack.api_url",
        &config.knack.api_url,
        config.knack.allow_insecure_http,
    )?;
    let socrata_url = url(
        vars,
        "SOCRATA_URL",
        "socrata.url",
        &config.socrata.url,
        config.socrata.allow_insecure_http,
    )?;
    let agol = agol_client(config, vars)?;
    let urls = Destinations {
        knack: knack_url
            .as_ref()
            .map_or(DEFAULT_KNACK_API_URL, Url::as_str),
        socrata: socrata_url.as_ref().map(Url::as_str),
        agol: agol.as_ref(),
    };
    let mut mismatches = Vec::new();
    for (name, app) in &config.apps {
        check_app(name, app, vars, &urls, &mut mismatches).await?;
    }
    mismatches.extend(crate::knack_dest::check(config, vars, urls.knack).await);
    Ok(mismatches)
}

/// The env var, else the config value, refused (exit 2) where `aks` would refuse it for a run:
/// credentials never travel over plain http to another machine.
fn url(
    vars: &EnvVars,
    var: &str,
    config_key: &str,
    from_config: &Option<String>,
    allow: Option<bool>,
) -> Result<Option<Url>, CliError> {
    let base = base_url(vars, var, config_key, from_config.as_deref(), allow)
        .transpose()
        .map_err(|e| CliError::Usage(format!("config check cannot start: {e}")))?;
    if let Some(note) = base.as_ref().and_then(|b| b.insecure.as_deref()) {
        tracing::warn!("{note}");
    }
    Ok(base.map(|b| b.url))
}

/// Where the checks look.
struct Destinations<'a> {
    knack: &'a str,
    socrata: Option<&'a str>,
    agol: Option<&'a agol_client::Client>,
}

/// An AGOL client when a portal URL and credentials are known (layers are
/// rarely public, so the AGOL checks need AGOL_USERNAME / AGOL_PASSWORD).
fn agol_client(config: &Config, vars: &EnvVars) -> Result<Option<agol_client::Client>, CliError> {
    let (Some(user), Some(password)) = (vars.get("AGOL_USERNAME"), vars.get("AGOL_PASSWORD"))
    else {
        return Ok(None);
    };
    let Some(url) = url(
        vars,
        "AGOL_URL",
        "agol.url",
        &config.agol.url,
        config.agol.allow_insecure_http,
    )?
    else {
        return Ok(None);
    };
    let client = agol_client::Client::builder()
        .portal_url(url.as_str())
        .credentials(user.to_owned(), password.to_owned())
        .allow_insecure_http(is_insecure(&url))
        .build()
        .map_err(RunError::pipeline)?;
    Ok(Some(client))
}

async fn check_app(
    name: &str,
    app: &AppConfig,
    vars: &EnvVars,
    urls: &Destinations<'_>,
    out: &mut Vec<String>,
) -> Result<(), RunError> {
    let Some(app_id) = app.app_id.as_deref().or_else(|| vars.get("KNACK_APP_ID")) else {
        out.push(format!(
            "[apps.{name}]: no app_id in the config and KNACK_APP_ID is unset; cannot check it"
        ));
        return Ok(());
    };
    let knack = knack_client::Client::builder()
        .app_id(app_id)
        .base_url(urls.knack)
        // Plain http off loopback got past `url()` only through the endpoint's opt-in.
        .allow_insecure_http(Url::parse(urls.knack).is_ok_and(|u| is_insecure(&u)))
        .build()
        .map_err(RunError::pipeline)?;
    let metadata = match knack.metadata().await {
        Ok(m) => m,
        Err(e) => {
            out.push(with_cause(
                format!("[apps.{name}]: Knack metadata for app {app_id} could not be read: {e}"),
                &e,
            ));
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
        let keys: BTreeSet<&str> = formatter.fields().iter().map(|f| f.key.as_str()).collect();
        for field in c.modified_date_field_id.iter().chain(&c.location_fields) {
            if !keys.contains(field.as_str()) {
                out.push(format!(
                    "{at}: field {field} is not in {container} (check the key in Knack)"
                ));
            }
        }
        if let (Some(url), Some(resource)) = (urls.socrata, &c.socrata_resource_id) {
            check_socrata(&at, url, resource, &formatter, out).await;
        }
        if let Some(agol) = urls.agol {
            check_agol(&at, agol, c, &formatter, out).await;
        }
    }
    Ok(())
}

async fn check_socrata(
    at: &str,
    url: &str,
    resource: &str,
    formatter: &Formatter,
    out: &mut Vec<String>,
) {
    let client = match socrata_client::Client::builder()
        .domain(url)
        .allow_insecure_http(Url::parse(url).is_ok_and(|u| is_insecure(&u)))
        .build()
    {
        Ok(client) => client,
        Err(e) => return out.push(format!("{at}: Socrata client: {e}")),
    };
    let dataset = match client.metadata(resource).await {
        Ok(d) => d,
        Err(e) => {
            return out.push(with_cause(
                format!("{at}: Socrata dataset {resource}: {e}"),
                &e,
            ))
        }
    };
    // The same checks a run makes before its first write.
    for problem in preflight::socrata_problems(&dataset) {
        out.push(format!("{at}: {problem}"));
    }
    let missing: Vec<String> = formatter
        .fields()
        .iter()
        .map(|f| field_key(&f.label))
        .filter(|k| !dataset.has_field(k))
        .collect();
    if !missing.is_empty() {
        out.push(format!(
            "{at}: Socrata dataset {resource} lacks columns {}; those fields will be dropped when publishing",
            missing.join(", ")
        ));
    }
}

async fn check_agol(
    at: &str,
    agol: &agol_client::Client,
    c: &ContainerConfig,
    formatter: &Formatter,
    out: &mut Vec<String>,
) {
    let (Some(service), Some(index), Some(item_type)) = (&c.service_id, c.layer_id, c.item_type)
    else {
        return;
    };
    let layer = match agol
        .layer_from_item(service, item_type.selector(index))
        .await
    {
        Ok(layer) => layer,
        Err(e) => {
            return out.push(with_cause(
                format!("{at}: ArcGIS Online item {service}: {e}"),
                &e,
            ))
        }
    };
    let has = |name: &str| layer.info().fields.iter().any(|f| f.name == name);
    // The same checks a run makes before its first write.
    for problem in preflight::agol_problems(layer.info(), c.matching_field()) {
        out.push(format!("{at}: {problem}"));
    }
    let missing: Vec<String> = formatter
        .fields()
        .iter()
        .map(|f| field_key(&f.label))
        .filter(|k| !has(k))
        .collect();
    if !missing.is_empty() {
        out.push(format!(
            "{at}: layer {} lacks fields {}; ArcGIS will not store those attributes",
            layer.info().name,
            missing.join(", ")
        ));
    }
}

/// `message` followed by the causes (the error's `source()` chain) it does not already say.
fn with_cause(message: String, e: &(dyn std::error::Error + 'static)) -> String {
    let causes = crate::diagnose::causes(e, &message);
    if causes.is_empty() {
        message
    } else {
        format!("{message} (cause: {})", causes.join(": "))
    }
}
