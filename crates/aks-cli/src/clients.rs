//! The one place settings become clients: every `Client::builder()` of `aks` is here, so the
//! plain-http opt-in, the credentials and the error a builder's refusal becomes are decided once.
//! A URL that is plain http off loopback got past validation only through its endpoint's opt-in,
//! so that is what the client is told to allow.

use knack_etl::sync::SyncClients;
use knack_etl::{agol_client, knack_client, pgrest_client, socrata_client};
use secrecy::SecretString;

use crate::error::RunError;
use crate::output::diagnose::env_hints;
use crate::settings::base_url::{is_insecure, BaseUrl};
use crate::settings::knack_dest::DestApp;
use crate::settings::{AgolSettings, EnvVars, Settings, SocrataSettings};

/// A builder refusing a value `aks` already validated (kept for defence in depth), as an error
/// naming the setting the value came from.
fn refused<'a, E: std::error::Error>(
    system: &'a str,
    base: &'a BaseUrl,
) -> impl FnOnce(E) -> RunError + 'a {
    let origin = &base.origin;
    move |e| {
        let why = env_hints(&e.to_string());
        RunError::Message(format!(
            "cannot set up the {system} client from {origin}: {why}"
        ))
    }
}

/// Knack for app `app_id` at `base`, with `key` when given (metadata is public: `config check`
/// reads it without).
pub(crate) fn knack_at(
    app_id: &str,
    key: Option<&SecretString>,
    base: &BaseUrl,
) -> Result<knack_client::Client, knack_client::Error> {
    let builder = knack_client::Client::builder().app_id(app_id);
    let builder = match key {
        Some(key) => builder.api_key(key.clone()),
        None => builder,
    };
    let builder = builder.base_url(base.url.as_str());
    builder.allow_insecure_http(is_insecure(&base.url)).build()
}

/// Socrata at `base`, with an app token and a key pair when given (`config check` reads public
/// dataset metadata without).
pub(crate) fn socrata_at(
    base: &BaseUrl,
    token: Option<SecretString>,
    key: Option<(SecretString, SecretString)>,
) -> Result<socrata_client::Client, socrata_client::Error> {
    let mut builder = socrata_client::Client::builder().domain(base.url.as_str());
    if let Some(token) = token {
        builder = builder.app_token(token);
    }
    if let Some((id, secret)) = key {
        builder = builder.api_key(id, secret);
    }
    builder.allow_insecure_http(is_insecure(&base.url)).build()
}

/// ArcGIS Online at `base`, signed in as `user` (`config check` reads layers with
/// `AGOL_USERNAME` / `AGOL_PASSWORD`: they are rarely public).
pub(crate) fn agol_at(
    base: &BaseUrl,
    user: String,
    password: SecretString,
) -> Result<agol_client::Client, agol_client::Error> {
    agol_client::Client::builder()
        .portal_url(base.url.as_str())
        .credentials(user, password)
        .allow_insecure_http(is_insecure(&base.url))
        .build()
}

/// Knack for `settings`' app, with its key when it was resolved (metadata is public).
pub(crate) fn knack(settings: &Settings) -> Result<knack_client::Client, RunError> {
    let (key, base) = (settings.knack_key.as_ref(), &settings.knack_url);
    knack_at(&settings.app_id, key, base).map_err(refused("Knack", base))
}

/// The staging store's PostgREST, with the JWT.
pub(crate) fn postgrest(settings: &Settings) -> Result<pgrest_client::Client, RunError> {
    let base = &settings.pgrest_url;
    pgrest_client::Client::builder()
        .base_url(base.url.as_str())
        .jwt(settings.jwt.clone())
        .allow_insecure_http(is_insecure(&base.url))
        .build()
        .map_err(refused("PostgREST", base))
}

/// A Socrata client with the publishing credentials.
pub(crate) fn socrata(s: &SocrataSettings) -> Result<socrata_client::Client, RunError> {
    let key = (s.api_key_id.clone(), s.api_key_secret.clone());
    socrata_at(&s.url, Some(s.app_token.clone()), Some(key)).map_err(refused("Socrata", &s.url))
}

/// An ArcGIS Online client with the publishing credentials.
pub(crate) fn agol(a: &AgolSettings) -> Result<agol_client::Client, RunError> {
    let (user, password) = (a.username.clone(), a.password.clone());
    agol_at(&a.url, user, password).map_err(refused("ArcGIS Online", &a.url))
}

/// The clients `settings` allow, for `sync` and `status --verify`: Knack (with its key, if
/// resolved), PostgREST, and Socrata / ArcGIS Online when their credentials were resolved.
/// `knack` is cloned for every container, so they all share its limiter.
pub(crate) fn sync(settings: &Settings) -> Result<SyncClients, RunError> {
    Ok(SyncClients {
        knack: knack(settings)?,
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
    knack_at(&dest.app_id, Some(&dest.key), &dest.url).map_err(RunError::pipeline)
}

/// Socrata for `backup-socrata`: `SOCRATA_APP_TOKEN` and the key pair when set (private datasets
/// need the key pair).
pub(crate) fn backup_socrata(
    base: &BaseUrl,
    vars: &EnvVars,
) -> Result<socrata_client::Client, RunError> {
    let secret = |name: &str| vars.get(name).map(|v| SecretString::from(v.to_owned()));
    let key = secret("SOCRATA_API_KEY_ID").zip(secret("SOCRATA_API_KEY_SECRET"));
    socrata_at(base, secret("SOCRATA_APP_TOKEN"), key).map_err(RunError::pipeline)
}
