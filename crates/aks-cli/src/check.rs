//! `aks config check` (online): each container against the Knack app's
//! metadata and against its destination's schema.

use std::collections::BTreeSet;

use knack_etl::knack_client::{self, Container, Formatter};
use knack_etl::socrata_client;
use knack_etl::transform::field_key;

use crate::config::{AppConfig, Config, ContainerConfig};
use crate::env::{EnvVars, DEFAULT_KNACK_API_URL};
use crate::error::RunError;

/// One sentence per mismatch; empty when everything matches.
///
/// Knack metadata is public, so the Knack checks need only the app id (from
/// the config's `app_id` or `KNACK_APP_ID`). Socrata columns are checked
/// when a Socrata URL is known (`SOCRATA_URL` or `[socrata] url`); the
/// dataset metadata is public too.
pub async fn config_check(config: &Config, vars: &EnvVars) -> Result<Vec<String>, RunError> {
    let knack_url = vars
        .get("KNACK_API_URL")
        .map(str::to_owned)
        .or_else(|| config.knack.api_url.clone())
        .unwrap_or_else(|| DEFAULT_KNACK_API_URL.to_owned());
    let socrata_url = vars
        .get("SOCRATA_URL")
        .map(str::to_owned)
        .or_else(|| config.socrata.url.clone());
    let mut mismatches = Vec::new();
    for (name, app) in &config.apps {
        check_app(
            name,
            app,
            vars,
            &knack_url,
            socrata_url.as_deref(),
            &mut mismatches,
        )
        .await?;
    }
    Ok(mismatches)
}

async fn check_app(
    name: &str,
    app: &AppConfig,
    vars: &EnvVars,
    knack_url: &str,
    socrata_url: Option<&str>,
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
        .base_url(knack_url)
        .build()
        .map_err(RunError::pipeline)?;
    let metadata = match knack.metadata().await {
        Ok(m) => m,
        Err(e) => {
            out.push(format!(
                "[apps.{name}]: Knack metadata for app {app_id} could not be read: {e}"
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
        if let (Some(url), Some(_)) = (socrata_url, &c.socrata_resource_id) {
            check_socrata(&at, url, c, &formatter, out).await;
        }
    }
    Ok(())
}

async fn check_socrata(
    at: &str,
    url: &str,
    c: &ContainerConfig,
    formatter: &Formatter,
    out: &mut Vec<String>,
) {
    let Some(resource) = &c.socrata_resource_id else {
        return;
    };
    let client = match socrata_client::Client::builder().domain(url).build() {
        Ok(client) => client,
        Err(e) => return out.push(format!("{at}: Socrata client: {e}")),
    };
    let dataset = match client.metadata(resource).await {
        Ok(d) => d,
        Err(e) => return out.push(format!("{at}: Socrata dataset {resource}: {e}")),
    };
    if dataset.row_identifier.as_deref() != Some("id") {
        out.push(format!(
            "{at}: Socrata dataset {resource} should have the text column `id` as its row identifier \
             (it holds the Knack record id; upserts match on it)"
        ));
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
