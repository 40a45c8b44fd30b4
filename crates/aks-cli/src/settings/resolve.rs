//! The one [`Settings`] value of a command: which variables it needs ([`Task`]), resolved from the
//! environment and the config file, every missing or unusable one reported in one error before
//! any request.

use std::fmt;

use secrecy::SecretString;
use url::Url;

use super::base_url::{base_url, parse_base_url, BaseUrl};
use super::config::{AppConfig, Config, Service};
use super::vars::EnvVars;
use super::Env;

/// Knack's API base when neither `KNACK_API_URL` nor `[knack] api_url` is set.
pub const DEFAULT_KNACK_API_URL: &str = "https://api.knack.com/v1";

/// The commands that need resolved settings, each with its own set of variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Knack metadata (public, no key) → PostgREST.
    MetadataToPostgrest,
    /// Knack records (key) → PostgREST.
    RecordsToPostgrest,
    /// PostgREST → Socrata.
    RecordsToSocrata,
    /// PostgREST → ArcGIS Online.
    RecordsToAgol,
    /// A command over several containers (`sync`, `status`): it needs the Knack key, Socrata and
    /// ArcGIS Online only when asked.
    Composite {
        /// The subcommand name.
        name: &'static str,
        /// Whether `KNACK_API_KEY` is needed.
        knack_key: bool,
        /// Whether the `SOCRATA_*` variables are needed.
        socrata: bool,
        /// Whether the `AGOL_*` variables are needed.
        agol: bool,
    },
}

impl Task {
    /// The subcommand name.
    pub fn name(self) -> &'static str {
        match self {
            Task::MetadataToPostgrest => "metadata-to-postgrest",
            Task::RecordsToPostgrest => "records-to-postgrest",
            Task::RecordsToSocrata => "records-to-socrata",
            Task::RecordsToAgol => "records-to-agol",
            Task::Composite { name, .. } => name,
        }
    }

    fn needs_knack_key(self) -> bool {
        matches!(
            self,
            Task::RecordsToPostgrest
                | Task::Composite {
                    knack_key: true,
                    ..
                }
        )
    }

    fn needs_socrata(self) -> bool {
        matches!(
            self,
            Task::RecordsToSocrata | Task::Composite { socrata: true, .. }
        )
    }

    fn needs_agol(self) -> bool {
        matches!(
            self,
            Task::RecordsToAgol | Task::Composite { agol: true, .. }
        )
    }
}

/// Knack access. The key is `Some` for `records-to-postgrest` (and `sync`, `status --verify`): metadata is public and the
/// publishers read from PostgREST.
#[derive(Clone)]
pub struct KnackSettings {
    /// API base, e.g. `https://api.knack.com/v1`.
    pub api_url: Url,
    /// Where `api_url` came from (`KNACK_API_URL`, `[knack] api_url in knack.toml` or its `[env.<env>.knack]`, or the default), for messages.
    pub api_url_origin: String,
    /// `KNACK_API_KEY`.
    pub api_key: Option<SecretString>,
}

/// The PostgREST staging store; every pipeline command needs it.
#[derive(Clone)]
pub struct PostgrestSettings {
    /// Base URL.
    pub endpoint: Url,
    /// Where `endpoint` came from (`PGREST_ENDPOINT`, or the table, key and file, e.g.
    /// `[env.prod.postgrest] endpoint in knack.toml`), for messages.
    pub endpoint_origin: String,
    /// `PGREST_JWT`.
    pub jwt: SecretString,
}

/// Socrata publishing credentials.
#[derive(Clone)]
pub struct SocrataSettings {
    /// Portal root, e.g. `https://datahub.austintexas.gov`.
    pub url: Url,
    /// Where `url` came from (`SOCRATA_URL`, or the table, key and file), for messages.
    pub url_origin: String,
    /// `SOCRATA_APP_TOKEN` (sent as `X-App-Token`).
    pub app_token: SecretString,
    /// `SOCRATA_API_KEY_ID` (basic-auth user).
    pub api_key_id: SecretString,
    /// `SOCRATA_API_KEY_SECRET` (basic-auth password).
    pub api_key_secret: SecretString,
}

/// ArcGIS Online credentials.
#[derive(Clone)]
pub struct AgolSettings {
    /// Portal root, e.g. `https://austin.maps.arcgis.com`.
    pub url: Url,
    /// Where `url` came from (`AGOL_URL`, or the table, key and file), for messages.
    pub url_origin: String,
    /// `AGOL_USERNAME`.
    pub username: String,
    /// `AGOL_PASSWORD`.
    pub password: SecretString,
}

/// Everything a pipeline command needs from config and environment, validated.
#[derive(Clone)]
pub struct Settings {
    /// The app name (`-a`).
    pub app_name: String,
    /// `-e`.
    pub env: Env,
    /// The Knack application id (`KNACK_APP_ID` or the app's `app_id`).
    pub app_id: String,
    /// `--dry-run`: read and transform, write nothing.
    pub dry_run: bool,
    /// Knack API.
    pub knack: KnackSettings,
    /// Staging store.
    pub postgrest: PostgrestSettings,
    /// `Some` for `records-to-socrata` (and `sync`/`status --verify` of a container published there).
    pub socrata: Option<SocrataSettings>,
    /// `Some` for `records-to-agol` (and `sync`/`status --verify` of a container published there).
    pub agol: Option<AgolSettings>,
    /// Endpoints allowed plain http off loopback by their opt-in, one sentence each, for the
    /// run to log as warnings.
    pub insecure_http: Vec<String>,
}

/// Missing or unusable variables, all of them (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{task} cannot start:{}", render(missing, invalid))]
pub struct SettingsError {
    /// The subcommand.
    pub task: &'static str,
    /// Missing variables, each with its alternative (a config key) where there is one.
    pub missing: Vec<String>,
    /// Variables or config values that are set but unusable.
    pub invalid: Vec<String>,
}

fn render(missing: &[String], invalid: &[String]) -> String {
    let mut s = String::new();
    if !missing.is_empty() {
        s.push_str(&format!(
            "\n  missing environment variables: {}\n  fix: set them (e.g. docker run --env-file FILE)",
            missing.join(", ")
        ));
    }
    for i in invalid {
        s.push_str(&format!("\n  - {i}"));
    }
    s
}

/// Collects every problem while resolving, so the error lists them all.
struct Resolver<'a> {
    vars: &'a EnvVars,
    config: &'a Config,
    env: Env,
    missing: Vec<String>,
    invalid: Vec<String>,
    insecure: Vec<String>,
}

impl Resolver<'_> {
    fn secret(&mut self, name: &str) -> Option<SecretString> {
        match self.vars.get(name) {
            Some(v) => Some(SecretString::from(v.to_owned())),
            None => {
                self.missing.push(name.to_owned());
                None
            }
        }
    }

    /// [`base_url`] of `service` (its env var, else `[env.<env>.<table>]`, else the top-level
    /// table), else `default`; a missing or unusable URL is recorded.
    fn url(&mut self, service: Service, default: Option<&str>) -> Option<BaseUrl> {
        let var = service.var();
        let from_config = self.config.endpoint(Some(self.env), service);
        let found = base_url(self.vars, var, &from_config).or_else(|| {
            default.map(|d| {
                let origin = format!("default {var}");
                parse_base_url(&origin, d, false).map(|url| BaseUrl {
                    url,
                    origin,
                    insecure: None,
                })
            })
        });
        match found {
            Some(Ok(base)) => {
                if let Some(note) = &base.insecure {
                    self.insecure.push(note.clone());
                }
                Some(base)
            }
            Some(Err(e)) => {
                self.invalid.push(e);
                None
            }
            None => {
                let (table, key) = (service.table(), service.key());
                self.missing
                    .push(format!("{var} (or {table}.{key} in the config file)"));
                None
            }
        }
    }
}

impl Settings {
    /// Logs one warning per endpoint that plain http off loopback was allowed for (its opt-in):
    /// every command that resolved settings calls this once, before its first request, so the
    /// operator sees that credentials travel unencrypted whichever command ran.
    pub fn warn_insecure_http(&self) {
        for note in &self.insecure_http {
            tracing::warn!("{note}");
        }
    }

    /// Resolves and checks what `task` needs for app `app_name`, reporting every problem at once.
    pub fn resolve(
        task: Task,
        app_name: &str,
        app: &AppConfig,
        env: Env,
        config: &Config,
        vars: &EnvVars,
        dry_run: bool,
    ) -> Result<Settings, SettingsError> {
        let mut r = Resolver {
            vars,
            config,
            env,
            missing: Vec::new(),
            invalid: Vec::new(),
            insecure: Vec::new(),
        };
        let app_id = match (vars.get("KNACK_APP_ID"), app.app_id.as_deref()) {
            (Some(v), Some(c)) if v != c => {
                r.invalid.push(format!(
                    "KNACK_APP_ID={v} disagrees with app_id = \"{c}\" under [apps.{app_name}]; \
                     unset one of them or make them equal"
                ));
                None
            }
            (Some(v), _) => Some(v.to_owned()),
            (None, Some(c)) => Some(c.to_owned()),
            (None, None) => {
                r.missing
                    .push(format!("KNACK_APP_ID (or app_id under [apps.{app_name}])"));
                None
            }
        };
        let knack_url = r.url(Service::Knack, Some(DEFAULT_KNACK_API_URL));
        let api_key = match task.needs_knack_key() {
            true => r.secret("KNACK_API_KEY"),
            false => None,
        };
        let pg_url = r.url(Service::Postgrest, None);
        let jwt = r.secret("PGREST_JWT");
        let socrata = if task.needs_socrata() {
            let url = r.url(Service::Socrata, None);
            let app_token = r.secret("SOCRATA_APP_TOKEN");
            let id = r.secret("SOCRATA_API_KEY_ID");
            let secret = r.secret("SOCRATA_API_KEY_SECRET");
            Some((url, app_token, id, secret))
        } else {
            None
        };
        let agol = if task.needs_agol() {
            let url = r.url(Service::Agol, None);
            let user = r.vars.get("AGOL_USERNAME").map(str::to_owned);
            if user.is_none() {
                r.missing.push("AGOL_USERNAME".to_owned());
            }
            let password = r.secret("AGOL_PASSWORD");
            Some((url, user, password))
        } else {
            None
        };
        let fail = |r: Resolver<'_>| SettingsError {
            task: task.name(),
            missing: r.missing,
            invalid: r.invalid,
        };
        if !r.missing.is_empty() || !r.invalid.is_empty() {
            return Err(fail(r));
        }
        // No problem was recorded, so every value below is present.
        let (Some(app_id), Some(api_url), Some(endpoint), Some(jwt)) =
            (app_id, knack_url, pg_url, jwt)
        else {
            return Err(fail(r));
        };
        let socrata = match socrata {
            None => None,
            Some((Some(url), Some(app_token), Some(api_key_id), Some(api_key_secret))) => {
                Some(SocrataSettings {
                    url: url.url,
                    url_origin: url.origin,
                    app_token,
                    api_key_id,
                    api_key_secret,
                })
            }
            Some(_) => return Err(fail(r)),
        };
        let agol = match agol {
            None => None,
            Some((Some(url), Some(username), Some(password))) => Some(AgolSettings {
                url: url.url,
                url_origin: url.origin,
                username,
                password,
            }),
            Some(_) => return Err(fail(r)),
        };
        Ok(Settings {
            app_name: app_name.to_owned(),
            env,
            app_id,
            dry_run,
            knack: KnackSettings {
                api_url: api_url.url,
                api_url_origin: api_url.origin,
                api_key,
            },
            postgrest: PostgrestSettings {
                endpoint: endpoint.url,
                endpoint_origin: endpoint.origin,
                jwt,
            },
            socrata,
            agol,
            insecure_http: r.insecure,
        })
    }
}

const REDACTED: &str = "[REDACTED]";

fn redacted<T>(s: &Option<T>) -> Option<&'static str> {
    s.as_ref().map(|_| REDACTED)
}

impl fmt::Debug for KnackSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KnackSettings")
            .field("api_url", &self.api_url.as_str())
            .field("api_key", &redacted(&self.api_key))
            .finish()
    }
}

impl fmt::Debug for PostgrestSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgrestSettings")
            .field("endpoint", &self.endpoint.as_str())
            .field("jwt", &REDACTED)
            .finish()
    }
}

impl fmt::Debug for SocrataSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocrataSettings")
            .field("url", &self.url.as_str())
            .field("app_token", &REDACTED)
            .field("api_key_id", &REDACTED)
            .field("api_key_secret", &REDACTED)
            .finish()
    }
}

impl fmt::Debug for AgolSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgolSettings")
            .field("url", &self.url.as_str())
            .field("username", &self.username)
            .field("password", &REDACTED)
            .finish()
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("app_name", &self.app_name)
            .field("env", &self.env)
            .field("app_id", &self.app_id)
            .field("dry_run", &self.dry_run)
            .field("knack", &self.knack)
            .field("postgrest", &self.postgrest)
            .field("socrata", &self.socrata)
            .field("agol", &self.agol)
            .field("insecure_http", &self.insecure_http)
            .finish()
    }
}
