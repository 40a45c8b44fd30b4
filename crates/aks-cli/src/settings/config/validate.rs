//! Value-level checks of a parsed config (serde has already refused unknown keys and wrong
//! types): the endpoints and `[backup]` here, the apps' containers and field maps by knack-etl.

use knack_etl::sync::config::{app_problems, destination_problems};

use super::{Config, Endpoints, Service};
use crate::settings::base_url::parse_base_url;
use crate::settings::Env;

pub(super) fn problems(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    endpoints(&mut out, "", &config.top_level(), |_, own| own);
    for (env, table) in [(Env::Dev, &config.env.dev), (Env::Prod, &config.env.prod)] {
        if let Some(e) = table {
            // An env table's URL is checked with the opt-in a run uses for it: its own, else the
            // top-level table's (see `Config::endpoint`).
            let prefix = format!("env.{}.", env.as_str());
            endpoints(&mut out, &prefix, e, |service, _| {
                config.endpoint(Some(env), service).allow_insecure_http
            });
        }
    }
    for (name, app) in &config.apps {
        out.extend(app_problems(name, app));
    }
    if config.backup.keep == Some(0) {
        out.push(
            "[backup] keep = 0 would delete the snapshot just written; use 1 or more".to_owned(),
        );
    }
    for (name, app) in &config.apps {
        out.extend(destination_problems(name, app));
    }
    out
}

/// Each URL of the tables `e` (`prefix`: where they are), checked with the opt-in `allow` gives
/// for it (from the table's own).
fn endpoints(
    out: &mut Vec<String>,
    prefix: &str,
    e: &Endpoints,
    allow: impl Fn(Service, Option<bool>) -> Option<bool>,
) {
    for service in Service::ALL {
        let (value, own) = service.values(e);
        if let Some(v) = value {
            let (var, table, key) = service.names();
            let key = format!("{prefix}{table}.{key}");
            let insecure = allow(service, own).unwrap_or(false);
            if let Err(msg) = parse_base_url(&key, var, v, insecure) {
                out.push(msg);
            }
        }
    }
}
