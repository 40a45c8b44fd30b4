//! The endpoint tables (`[knack]`, `[postgrest]`, `[socrata]`, `[agol]`, and the same under
//! `[env.dev]` / `[env.prod]`), and where each value was written, so that a message names the
//! table that really supplied it.

use serde::Deserialize;

use super::Config;
use crate::settings::Env;

/// `[knack]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnackEndpoint {
    /// Knack API base, default `https://api.knack.com/v1`.
    pub api_url: Option<String>,
    /// Allow plain `http://` off loopback (logged: credentials travel unencrypted); env:
    /// `KNACK_ALLOW_INSECURE_HTTP`.
    #[serde(default)]
    pub allow_insecure_http: Option<bool>,
}

/// `[postgrest]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgrestEndpoint {
    /// PostgREST base URL.
    pub endpoint: Option<String>,
    /// Allow plain `http://` off loopback (logged: credentials travel unencrypted); env:
    /// `PGREST_ALLOW_INSECURE_HTTP`.
    #[serde(default)]
    pub allow_insecure_http: Option<bool>,
}

/// `[socrata]` and `[agol]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalEndpoint {
    /// Portal root URL.
    pub url: Option<String>,
    /// Allow plain `http://` off loopback (logged: credentials travel unencrypted); env:
    /// `SOCRATA_ALLOW_INSECURE_HTTP` / `AGOL_ALLOW_INSECURE_HTTP`.
    #[serde(default)]
    pub allow_insecure_http: Option<bool>,
}

/// `[env.dev]` / `[env.prod]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvOverrides {
    /// Overrides used with `-e dev`.
    pub dev: Option<Endpoints>,
    /// Overrides used with `-e prod`.
    pub prod: Option<Endpoints>,
}

/// The endpoint tables, as they may appear under `[env.<name>]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoints {
    /// `[env.X.knack]`.
    #[serde(default)]
    pub knack: KnackEndpoint,
    /// `[env.X.postgrest]`.
    #[serde(default)]
    pub postgrest: PostgrestEndpoint,
    /// `[env.X.socrata]`.
    #[serde(default)]
    pub socrata: PortalEndpoint,
    /// `[env.X.agol]`.
    #[serde(default)]
    pub agol: PortalEndpoint,
}

/// The four services whose base URL the config file may give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// `[knack] api_url`.
    Knack,
    /// `[postgrest] endpoint`.
    Postgrest,
    /// `[socrata] url`.
    Socrata,
    /// `[agol] url`.
    Agol,
}

impl Service {
    /// Every service, in the order the file's tables are checked.
    pub const ALL: [Service; 4] = [
        Service::Knack,
        Service::Postgrest,
        Service::Socrata,
        Service::Agol,
    ];

    /// Its environment variable (which wins over the file), its table and the URL's key there:
    /// `("PGREST_ENDPOINT", "postgrest", "endpoint")`.
    pub fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Service::Knack => ("KNACK_API_URL", "knack", "api_url"),
            Service::Postgrest => ("PGREST_ENDPOINT", "postgrest", "endpoint"),
            Service::Socrata => ("SOCRATA_URL", "socrata", "url"),
            Service::Agol => ("AGOL_URL", "agol", "url"),
        }
    }

    /// The URL and `allow_insecure_http` of its table among `e`.
    pub(super) fn values(self, e: &Endpoints) -> (Option<&str>, Option<bool>) {
        match self {
            Service::Knack => (e.knack.api_url.as_deref(), e.knack.allow_insecure_http),
            Service::Postgrest => (
                e.postgrest.endpoint.as_deref(),
                e.postgrest.allow_insecure_http,
            ),
            Service::Socrata => (e.socrata.url.as_deref(), e.socrata.allow_insecure_http),
            Service::Agol => (e.agol.url.as_deref(), e.agol.allow_insecure_http),
        }
    }
}

/// One service's base URL and `allow_insecure_http` as the config file gives them, each with the
/// words naming where it was written: `[env.prod.postgrest] endpoint in knack.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigUrl {
    /// The URL as written; `None` when no table sets it.
    pub url: Option<String>,
    /// Where `url` was written (the top-level table's key when it is not written anywhere).
    pub origin: String,
    /// The endpoint's `allow_insecure_http`, when a table sets it.
    pub allow_insecure_http: Option<bool>,
    /// Where `allow_insecure_http` was written.
    pub allow_origin: String,
}

impl Config {
    /// `service`'s URL and opt-in from `[env.<env>.<table>]`, else from the top-level table
    /// (`env` `None`: the top-level table only, as `config check` reads it), each with where it
    /// was written.
    pub fn endpoint(&self, env: Option<Env>, service: Service) -> ConfigUrl {
        let top_tables = self.top_level();
        let top = service.values(&top_tables);
        let (_, table, key) = service.names();
        let over = env.and_then(|e| {
            let tables = match e {
                Env::Dev => self.env.dev.as_ref(),
                Env::Prod => self.env.prod.as_ref(),
            };
            tables.map(|t| (format!("env.{}.{table}", e.as_str()), service.values(t)))
        });
        let file = match self.path.as_os_str().is_empty() {
            true => "the config file".to_owned(),
            false => self.path.display().to_string(),
        };
        let at = |table: &str, key: &str| format!("[{table}] {key} in {file}");
        let (url, origin) = match &over {
            Some((env_table, (Some(url), _))) => (Some(*url), at(env_table, key)),
            _ => (top.0, at(table, key)),
        };
        let (allow, allow_origin) = match &over {
            Some((env_table, (_, Some(allow)))) => {
                (Some(*allow), at(env_table, "allow_insecure_http"))
            }
            _ => (top.1, at(table, "allow_insecure_http")),
        };
        ConfigUrl {
            url: url.map(str::to_owned),
            origin,
            allow_insecure_http: allow,
            allow_origin,
        }
    }

    /// The top-level tables alone.
    pub(super) fn top_level(&self) -> Endpoints {
        Endpoints {
            knack: self.knack.clone(),
            postgrest: self.postgrest.clone(),
            socrata: self.socrata.clone(),
            agol: self.agol.clone(),
        }
    }
}
