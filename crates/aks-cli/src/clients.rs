//! The one place settings become clients: every `Client::builder()` of `aks` is here, so the
//! plain-http opt-in, the credentials and the error a builder's refusal becomes are decided once.

use knack_etl::sync::SyncClients;
use knack_etl::{agol_client, knack_client, pgrest_client, socrata_client};
use secrecy::SecretString;

use crate::error::RunError;
use crate::output::diagnose::build_failed;
use crate::settings::base_url::{is_insecure, BaseUrl};
use crate::settings::knack_dest::DestApp;
use crate::settings::{AgolSettings, EnvVars, Settings, SocrataSettings};

/// Knack for `settings`' app, with `key` when given (metadata is public).
pub(crate) fn knack(
    settings: &Settings,
    key: Option<&SecretString>,
) -> Result<knack_client::Client, RunError> {
    let mut builder = knack_client::Client::builder()
        .app_id(settings.app_id.clone())
        .base_url(settings.knack.api_url.as_str())
        // Plain http off loopback got past validation only through the endpoint's opt-in.
        .allow_insecure_http(is_insecure(&settings.knack.api_url));
    if let Some(key) = key {
        builder = builder.api_key(key.clone());
    }
    builder
        .build()
        .map_err(|e| RunError::Message(build_failed("Knack", &settings.knack.api_url_origin, &e)))
}

/// The staging store's PostgREST, with the JWT.
pub(crate) fn postgrest(settings: &Settings) -> Result<pgrest_client::Client, RunError> {
    pgrest_client::Client::builder()
        .base_url(settings.postgrest.endpoint.as_str())
        .jwt(settings.postgrest.jwt.clone())
        .allow_insecure_http(is_insecure(&settings.postgrest.endpoint))
        .build()
        .map_err(|e| {
            RunError::Message(build_failed(
                "PostgREST",
                &settings.postgrest.endpoint_origin,
                &e,
            ))
        })
}

/// A Socrata client with the publishing credentials.
pub(crate) fn socrata(socrata: &SocrataSettings) -> Result<socrata_client::Client, RunError> {
    socrata_client::Client::builder()
        .domain(socrata.url.as_str())
        .api_key(socrata.api_key_id.clone(), socrata.api_key_secret.clone())
        .app_token(socrata.app_token.clone())
        .allow_insecure_http(is_insecure(&socrata.url))
        .build()
        .map_err(|e| RunError::Message(build_failed("Socrata", &socrata.url_origin, &e)))
}

/// An ArcGIS Online client with the publishing credentials.
pub(crate) fn agol(agol: &AgolSettings) -> Result<agol_client::Client, RunError> {
    agol_client::Client::builder()
        .portal_url(agol.url.as_str())
        .credentials(agol.username.clone(), agol.password.clone())
        .allow_insecure_http(is_insecure(&agol.url))
        .build()
        .map_err(|e| RunError::Message(build_failed("ArcGIS Online", &agol.url_origin, &e)))
}

/// The clients `settings` allow, for `sync` and `status --verify`: Knack (with its key, if
/// resolved), PostgREST, and Socrata / ArcGIS Online when their credentials were resolved.
/// `knack` is cloned for every container, so they all share its limiter.
pub(crate) fn sync(settings: &Settings) -> Result<SyncClients, RunError> {
    Ok(SyncClients {
        knack: knack(settings, settings.knack.api_key.as_ref())?,
        pgrest: postgrest(settings)?,
        socrata: settings.socrata.as_ref().map(socrata).transpose()?,
        agol: settings.agol.as_ref().map(agol).transpose()?,
        knack_dests: Default::default(),
    })
}

/// A Knack client of a destination app (its own limiter: Knack's limit is per app); logs the
/// plain-http warning of its URL first, when it has one.
pub(crate) fn dest_knack(dest: &DestApp) -> Result<knack_client::Client, RunError> {
    if let Some(note) = &dest.url.insecure {
        tracing::warn!("{note}");
    }
    knack_client::Client::builder()
        .app_id(dest.app_id.clone())
        .api_key(dest.key.clone())
        .base_url(dest.url.url.as_str())
        .allow_insecure_http(is_insecure(&dest.url.url))
        .build()
        .map_err(RunError::pipeline)
}

/// Knack for reading app `app_id`'s public metadata (`config check`).
pub(crate) fn public_knack(app_id: &str, base: &BaseUrl) -> Result<knack_client::Client, RunError> {
    knack_client::Client::builder()
        .app_id(app_id)
        .base_url(base.url.as_str())
        // Plain http off loopback got past the URL's check only through the endpoint's opt-in.
        .allow_insecure_http(is_insecure(&base.url))
        .build()
        .map_err(RunError::pipeline)
}

/// Socrata without credentials, for public dataset metadata (`config check`).
pub(crate) fn public_socrata(
    base: &BaseUrl,
) -> Result<socrata_client::Client, socrata_client::Error> {
    socrata_client::Client::builder()
        .domain(base.url.as_str())
        .allow_insecure_http(is_insecure(&base.url))
        .build()
}

/// ArcGIS Online with `AGOL_USERNAME` / `AGOL_PASSWORD` (`config check`: layers are rarely
/// public).
pub(crate) fn checking_agol(
    base: &BaseUrl,
    user: &str,
    password: &str,
) -> Result<agol_client::Client, RunError> {
    agol_client::Client::builder()
        .portal_url(base.url.as_str())
        .credentials(user.to_owned(), password.to_owned())
        .allow_insecure_http(is_insecure(&base.url))
        .build()
        .map_err(RunError::pipeline)
}

/// Socrata for `backup-socrata`: `SOCRATA_APP_TOKEN` and the key pair when set (private datasets
/// need the key pair).
pub(crate) fn backup_socrata(
    url: &BaseUrl,
    vars: &EnvVars,
) -> Result<socrata_client::Client, RunError> {
    let mut builder = socrata_client::Client::builder()
        .domain(url.url.as_str())
        .allow_insecure_http(url.insecure.is_some());
    if let Some(token) = vars.get("SOCRATA_APP_TOKEN") {
        builder = builder.app_token(token);
    }
    if let (Some(id), Some(secret)) = (
        vars.get("SOCRATA_API_KEY_ID"),
        vars.get("SOCRATA_API_KEY_SECRET"),
    ) {
        builder = builder.api_key(id, secret);
    }
    builder.build().map_err(RunError::pipeline)
}
