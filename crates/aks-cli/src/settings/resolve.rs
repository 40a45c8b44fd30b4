//! The one [`Settings`] value of a command: which variables it needs ([`Task`]), resolved from the
//! environment and the config file, every missing or unusable one reported in one error before
//! any request.

use knack_etl::sync::config::AppConfig;
use secrecy::SecretString;

use super::base_url::{base_url, parse_base_url, BaseUrl};
use super::config::{Config, Service};
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
    /// PostgREST → another Knack app (the destination's variables are `knack_dest.rs`'s).
    RecordsToKnack,
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
        self.needs().0
    }

    /// The name, and whether `KNACK_API_KEY`, the `SOCRATA_*` and the `AGOL_*` variables are
    /// needed.
    fn needs(self) -> (&'static str, bool, bool, bool) {
        match self {
            Task::MetadataToPostgrest => ("metadata-to-postgrest", false, false, false),
            Task::RecordsToPostgrest => ("records-to-postgrest", true, false, false),
            Task::RecordsToSocrata => ("records-to-socrata", false, true, false),
            Task::RecordsToAgol => ("records-to-agol", false, false, true),
            Task::RecordsToKnack => ("records-to-knack", false, false, false),
            Task::Composite {
                name,
                knack_key,
                socrata,
                agol,
            } => (name, knack_key, socrata, agol),
        }
    }
}

/// Socrata publishing credentials.
#[derive(Debug, Clone)]
pub struct SocrataSettings {
    /// Portal root, e.g. `https://datahub.austintexas.gov`, with where it came from.
    pub url: BaseUrl,
    /// `SOCRATA_APP_TOKEN` (sent as `X-App-Token`).
    pub app_token: SecretString,
    /// `SOCRATA_API_KEY_ID` (basic-auth user).
    pub api_key_id: SecretString,
    /// `SOCRATA_API_KEY_SECRET` (basic-auth password).
    pub api_key_secret: SecretString,
}

/// ArcGIS Online credentials.
#[derive(Debug, Clone)]
pub struct AgolSettings {
    /// Portal root, e.g. `https://austin.maps.arcgis.com`, with where it came from.
    pub url: BaseUrl,
    /// `AGOL_USERNAME`.
    pub username: String,
    /// `AGOL_PASSWORD`.
    pub password: SecretString,
}

/// Everything a pipeline command needs from config and environment, validated. Its `Debug`
/// shows no secret (`SecretString` prints `[REDACTED]`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The app name (`-a`).
    pub app_name: String,
    /// `-e`.
    pub env: Env,
    /// The Knack application id (`KNACK_APP_ID` or the app's `app_id`).
    pub app_id: String,
    /// `--dry-run`: read and transform, write nothing.
    pub dry_run: bool,
    /// Knack's API base, e.g. `https://api.knack.com/v1`, with where it came from
    /// (`KNACK_API_URL`, `[knack] api_url in knack.toml` or its `[env.<env>.knack]`, or the
    /// default).
    pub knack_url: BaseUrl,
    /// `KNACK_API_KEY`: `Some` for `records-to-postgrest` (and `sync`, `status --verify`), since
    /// metadata is public and the publishers read from PostgREST.
    pub knack_key: Option<SecretString>,
    /// The staging store's PostgREST, with where it came from (`PGREST_ENDPOINT`, or the table,
    /// key and file, e.g. `[env.prod.postgrest] endpoint in knack.toml`).
    pub pgrest_url: BaseUrl,
    /// `PGREST_JWT`.
    pub jwt: SecretString,
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

impl SettingsError {
    /// No problem yet, for `task`.
    pub(super) fn new(task: &'static str) -> Self {
        Self {
            task,
            missing: Vec::new(),
            invalid: Vec::new(),
        }
    }
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

/// `name`'s value, or `None` with `name` recorded as missing.
pub(super) fn var(vars: &EnvVars, name: &str, problems: &mut SettingsError) -> Option<String> {
    let value = vars.get(name).map(str::to_owned);
    if value.is_none() {
        problems.missing.push(name.to_owned());
    }
    value
}

/// An app's id from env var `var`, else from `app_id` under `[apps.<app>]` (`configured`): both
/// set and different is a problem, neither a missing variable.
pub(super) fn app_id(
    (vars, var): (&EnvVars, &str),
    (app, configured): (&str, Option<&str>),
    problems: &mut SettingsError,
) -> Option<String> {
    match (vars.get(var), configured) {
        (Some(v), Some(c)) if v != c => {
            problems.invalid.push(format!(
                "{var}={v} disagrees with app_id = \"{c}\" under [apps.{app}]; unset one of \
                 them or make them equal"
            ));
            None
        }
        (Some(v), _) => Some(v.to_owned()),
        (None, Some(c)) => Some(c.to_owned()),
        (None, None) => {
            let missing = format!("{var} (or app_id under [apps.{app}])");
            problems.missing.push(missing);
            None
        }
    }
}

/// Collects every problem while resolving, so the error lists them all.
struct Resolver<'a> {
    vars: &'a EnvVars,
    config: &'a Config,
    env: Env,
    problems: SettingsError,
    insecure: Vec<String>,
}

impl<'a> Resolver<'a> {
    fn new(task: &'static str, vars: &'a EnvVars, config: &'a Config, env: Env) -> Self {
        let (problems, insecure) = (SettingsError::new(task), Vec::new());
        Self {
            vars,
            config,
            env,
            problems,
            insecure,
        }
    }

    fn secret(&mut self, name: &str) -> Option<SecretString> {
        var(self.vars, name, &mut self.problems).map(SecretString::from)
    }

    /// [`base_url`] of `service` (its env var, else `[env.<env>.<table>]`, else the top-level
    /// table), else `default`; a missing or unusable URL is recorded.
    fn url(&mut self, service: Service, default: Option<&str>) -> Option<BaseUrl> {
        let (var, table, key) = service.names();
        let from_config = self.config.endpoint(Some(self.env), service);
        let found = base_url(self.vars, var, &from_config).or_else(|| {
            let origin = format!("default {var}");
            let url = parse_base_url(&origin, var, default?, false);
            Some(url.map(|url| BaseUrl {
                url,
                origin,
                insecure: None,
            }))
        });
        match found {
            Some(Ok(base)) => {
                self.insecure.extend(base.insecure.clone());
                return Some(base);
            }
            Some(Err(e)) => self.problems.invalid.push(e),
            None => {
                let missing = format!("{var} (or {table}.{key} in the config file)");
                self.problems.missing.push(missing);
            }
        }
        None
    }
}

/// `service`'s URL alone, for command `task` that needs nothing else from the settings; a
/// missing or unusable one is `task`'s error.
pub fn endpoint(
    task: &'static str,
    service: Service,
    config: &Config,
    env: Env,
    vars: &EnvVars,
) -> Result<BaseUrl, SettingsError> {
    let mut r = Resolver::new(task, vars, config, env);
    r.url(service, None).ok_or(r.problems)
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
        let (name, knack_key, socrata, agol) = task.needs();
        let mut r = Resolver::new(name, vars, config, env);
        let this_app = (app_name, app.app_id.as_deref());
        let app_id = app_id((vars, "KNACK_APP_ID"), this_app, &mut r.problems);
        let knack_url = r.url(Service::Knack, Some(DEFAULT_KNACK_API_URL));
        let api_key = knack_key.then(|| r.secret("KNACK_API_KEY"));
        let pg_url = r.url(Service::Postgrest, None);
        let jwt = r.secret("PGREST_JWT");
        // Each `None` below was recorded as a problem: the settings are built only without any.
        let socrata = socrata.then(|| {
            let url = r.url(Service::Socrata, None);
            let app_token = r.secret("SOCRATA_APP_TOKEN");
            let key = (
                r.secret("SOCRATA_API_KEY_ID"),
                r.secret("SOCRATA_API_KEY_SECRET"),
            );
            Some(SocrataSettings {
                url: url?,
                app_token: app_token?,
                api_key_id: key.0?,
                api_key_secret: key.1?,
            })
        });
        let agol = agol.then(|| {
            let url = r.url(Service::Agol, None);
            let username = var(vars, "AGOL_USERNAME", &mut r.problems);
            let password = r.secret("AGOL_PASSWORD");
            Some(AgolSettings {
                url: url?,
                username: username?,
                password: password?,
            })
        });
        let (problems, insecure_http) = (r.problems, r.insecure);
        let settings = || {
            Some(Settings {
                app_name: app_name.to_owned(),
                env,
                app_id: app_id?,
                dry_run,
                knack_url: knack_url?,
                knack_key: api_key.flatten(),
                pgrest_url: pg_url?,
                jwt: jwt?,
                socrata: socrata.map(|s| s.ok_or(())).transpose().ok()?,
                agol: agol.map(|a| a.ok_or(())).transpose().ok()?,
                insecure_http,
            })
        };
        match problems.missing.is_empty() && problems.invalid.is_empty() {
            true => settings().ok_or(problems),
            false => Err(problems),
        }
    }
}
