//! `aks config check`: the file, and (without `--offline`) each container against the Knack
//! app's metadata and its destination's schema, and each `knack_destinations` map against both
//! apps' metadata.

use std::path::Path;

use knack_etl::sync::config::OUTSIDE_PUBLISHERS;
use knack_etl::sync::config::{check_config, shared_lines, CheckClients, CheckError};
use url::Url;

use crate::clients;
use crate::error::{CliError, RunError};
use crate::output::diagnose;
use crate::settings::base_url::{base_url, BaseUrl};
use crate::settings::config::{Config, Service};
use crate::settings::{EnvVars, DEFAULT_KNACK_API_URL};

/// Runs `config check`: the file (`offline`), else also every container against Knack and its
/// destinations; prints the verdict first, then each problem, then the shared destinations.
pub(super) async fn run(offline: bool, path: &Path, vars: &EnvVars) -> Result<(), CliError> {
    let config = Config::load(path)?;
    let containers: usize = config.apps.values().map(|a| a.containers.len()).sum();
    let counts = format!("{} apps, {} containers", config.apps.len(), containers);
    let problems = match offline {
        true => Vec::new(),
        false => config_check(&config, vars).await?,
    };
    let (path, n) = (path.display(), problems.len());
    match (offline, n) {
        (true, _) => println!("{path}: OK ({counts})"),
        (false, 0) => {
            println!("{path}: OK ({counts}; every container matches Knack and its destinations)")
        }
        // The count first, so the verdict is the first thing read.
        _ => println!("{path}: {n} problem(s) ({counts})"),
    }
    for p in &problems {
        println!("  - {p}");
    }
    // Destinations several containers publish to (of any app): a replace of one keeps the
    // others'; then what the file cannot show (a publisher outside it) and how to declare one.
    for line in shared_lines(&config.apps) {
        println!("shared: {line}");
    }
    println!("note: {OUTSIDE_PUBLISHERS}");
    match n {
        0 => Ok(()),
        _ => Err(CliError::Usage(format!(
            "config check found {n} problem(s) (listed on stdout): the config does not match \
             Knack or a destination"
        ))),
    }
}

/// One sentence per mismatch (knack-etl's [`check_config`]); empty when everything matches.
/// Knack and Socrata metadata are public: their checks need an app id (`app_id` or
/// `KNACK_APP_ID`) and a Socrata URL; ArcGIS's need `AGOL_USERNAME` / `AGOL_PASSWORD` too.
/// Errors: a refused URL (exit 2); a service that gives no answer at all (exit 1, naming the
/// setting to check), since an unreachable service says nothing about the config.
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
    // Layers are rarely public: the ArcGIS checks need AGOL_USERNAME / AGOL_PASSWORD too.
    let (agol, agol_base) = match (vars.get("AGOL_USERNAME"), vars.get("AGOL_PASSWORD")) {
        (Some(user), Some(password)) => url(config, vars, Service::Agol)?
            .map(|base| {
                let (user, password) = (user.to_owned(), password.to_owned().into());
                let client = clients::agol_at(&base, user, password);
                Ok::<_, RunError>((client.map_err(RunError::pipeline)?, base))
            })
            .transpose()?
            .unzip(),
        _ => (None, None),
    };
    let fallback = |var: &str, problem: String| vars.get(var).map(str::to_owned).ok_or(problem);
    let app_id = |_: &str| {
        let problem = "no app_id in the config and KNACK_APP_ID is unset; cannot check it";
        fallback("KNACK_APP_ID", problem.to_owned())
    };
    let dest_app_id = |dest: &str| {
        let problem = format!(
            "no app_id under [apps.{dest}] and KNACK_APP_ID_DEST is unset; cannot check the \
             destination"
        );
        fallback("KNACK_APP_ID_DEST", problem)
    };
    let checks = CheckClients {
        knack: &|app_id: &str| clients::knack_at(app_id, None, &knack),
        socrata: socrata
            .as_ref()
            .map(|base| clients::socrata_at(base, None, None)),
        agol,
        app_id: &app_id,
        dest_app_id: &dest_app_id,
    };
    let unreachable = |e: knack_etl::Error| {
        let (system, base) = match &e {
            knack_etl::Error::Socrata(_) => ("Socrata", socrata.as_ref()),
            knack_etl::Error::Agol(_) => ("ArcGIS Online", agol_base.as_ref()),
            _ => ("Knack", Some(&knack)),
        };
        let base = base.unwrap_or(&knack);
        let why = diagnose::unreachable(&e, &base.origin, &base.url);
        RunError::Message(format!(
            "config check could not reach {system}, so it could not compare the config with it: \
             {why}"
        ))
    };
    let problems = check_config(&config.apps, &checks).await;
    problems.map_err(|e| match e {
        CheckError::Unreachable(e) => unreachable(e).into(),
        other => RunError::pipeline(other).into(),
    })
}

/// `service`'s env var, else its top-level table's value (the check has no `-e`), refused (exit 2)
/// where `aks` would refuse it for a run: credentials never travel over plain http to another
/// machine.
fn url(config: &Config, vars: &EnvVars, service: Service) -> Result<Option<BaseUrl>, CliError> {
    let from_config = config.endpoint(None, service);
    let base = base_url(vars, service.names().0, &from_config)
        .transpose()
        .map_err(|e| CliError::Usage(format!("config check cannot start: {e}")))?;
    if let Some(note) = base.as_ref().and_then(|b| b.insecure.as_deref()) {
        tracing::warn!("{note}");
    }
    Ok(base)
}
