use std::path::Path;

use secrecy::ExposeSecret;

use super::config::Config;
use super::*;

const CONFIG: &str = r#"
[apps.with-id]
app_id = "aaaaaaaaaaaaaaaaaaaaaaaa"
[apps.no-id]
"#;

fn config(extra: &str) -> Config {
    Config::parse(&format!("{extra}\n{CONFIG}"), Path::new("t.toml")).unwrap()
}

fn full_env() -> EnvVars {
    [
        ("KNACK_APP_ID", "aaaaaaaaaaaaaaaaaaaaaaaa"),
        ("KNACK_API_KEY", "knack-key-SECRET-1"),
        ("PGREST_ENDPOINT", "https://pg.example.com"),
        ("PGREST_JWT", "jwt-SECRET-2"),
        ("SOCRATA_APP_TOKEN", "token-SECRET-3"),
        ("SOCRATA_API_KEY_ID", "keyid-SECRET-4"),
        ("SOCRATA_API_KEY_SECRET", "keysecret-SECRET-5"),
        ("SOCRATA_URL", "https://data.example.com"),
        ("AGOL_USERNAME", "agol-user"),
        ("AGOL_PASSWORD", "agolpw-SECRET-6"),
        ("AGOL_URL", "https://maps.example.com"),
    ]
    .into_iter()
    .collect()
}

fn resolve(task: Task, app: &str, c: &Config, vars: &EnvVars) -> Result<Settings, SettingsError> {
    Settings::resolve(task, app, &c.apps[app], Env::Prod, c, vars, false)
}

#[test]
fn each_task_gets_exactly_its_credentials() {
    let c = config("");
    let v = full_env();
    let s = resolve(Task::MetadataToPostgrest, "no-id", &c, &v).unwrap();
    assert!(s.knack_key.is_none() && s.socrata.is_none() && s.agol.is_none());
    assert_eq!(s.knack_url.url.as_str(), "https://api.knack.com/v1");
    let s = resolve(Task::RecordsToPostgrest, "no-id", &c, &v).unwrap();
    assert_eq!(s.knack_key.unwrap().expose_secret(), "knack-key-SECRET-1");
    let s = resolve(Task::RecordsToSocrata, "no-id", &c, &v).unwrap();
    let so = s.socrata.unwrap();
    assert_eq!(so.api_key_secret.expose_secret(), "keysecret-SECRET-5");
    assert_eq!(so.url.url.as_str(), "https://data.example.com/");
    let s = resolve(Task::RecordsToAgol, "no-id", &c, &v).unwrap();
    assert_eq!(s.agol.unwrap().username, "agol-user");
    assert_eq!(s.jwt.expose_secret(), "jwt-SECRET-2");
}

#[test]
fn every_missing_variable_is_named_at_once() {
    let c = config("");
    let e = resolve(Task::RecordsToSocrata, "no-id", &c, &EnvVars::default()).unwrap_err();
    assert_eq!(
        e.missing,
        [
            "KNACK_APP_ID (or app_id under [apps.no-id])",
            "PGREST_ENDPOINT (or postgrest.endpoint in the config file)",
            "PGREST_JWT",
            "SOCRATA_URL (or socrata.url in the config file)",
            "SOCRATA_APP_TOKEN",
            "SOCRATA_API_KEY_ID",
            "SOCRATA_API_KEY_SECRET",
        ]
    );
    let e = resolve(Task::RecordsToAgol, "with-id", &c, &EnvVars::default()).unwrap_err();
    let shown = e.to_string();
    for var in [
        "PGREST_ENDPOINT",
        "PGREST_JWT",
        "AGOL_URL",
        "AGOL_USERNAME",
        "AGOL_PASSWORD",
    ] {
        assert!(shown.contains(var), "{shown}");
    }
    assert!(
        !shown.contains("KNACK_APP_ID") && !shown.contains("SOCRATA"),
        "{shown}"
    );
    let e = resolve(Task::RecordsToPostgrest, "with-id", &c, &EnvVars::default()).unwrap_err();
    assert_eq!(e.missing[0], "KNACK_API_KEY");
}

#[test]
fn empty_values_count_as_missing() {
    let c = config("");
    let mut v = full_env();
    v.0.insert("PGREST_JWT".into(), "  ".into());
    let e = resolve(Task::MetadataToPostgrest, "no-id", &c, &v).unwrap_err();
    assert_eq!(e.missing, ["PGREST_JWT"]);
}

#[test]
fn env_beats_per_env_config_beats_top_level() {
    let c = config(
        "[postgrest]\nendpoint = \"https://top.example.com\"\n[env.dev.postgrest]\nendpoint = \"http://127.0.0.1:3000\"\n",
    );
    let mut v = full_env();
    v.0.remove("PGREST_ENDPOINT");
    let dev = Settings::resolve(
        Task::MetadataToPostgrest,
        "no-id",
        &c.apps["no-id"],
        Env::Dev,
        &c,
        &v,
        true,
    )
    .unwrap();
    assert_eq!(dev.pgrest_url.url.as_str(), "http://127.0.0.1:3000/");
    assert_eq!(
        dev.pgrest_url.origin,
        "[env.dev.postgrest] endpoint in t.toml"
    );
    assert!(dev.dry_run);
    let prod = resolve(Task::MetadataToPostgrest, "no-id", &c, &v).unwrap();
    assert_eq!(prod.pgrest_url.url.as_str(), "https://top.example.com/");
    assert_eq!(prod.pgrest_url.origin, "[postgrest] endpoint in t.toml");
    v.0.insert("PGREST_ENDPOINT".into(), "https://env.example.com".into());
    let prod = resolve(Task::MetadataToPostgrest, "no-id", &c, &v).unwrap();
    assert_eq!(prod.pgrest_url.url.as_str(), "https://env.example.com/");
    assert_eq!(prod.pgrest_url.origin, "PGREST_ENDPOINT");
}

/// Each URL's origin (what an unreachable-service hint tells the user to check) is exactly where
/// it was written: the env var, or `[env.<env>.<table>] <key> in <file>`, or the top-level table,
/// or Knack's default; an opt-in to plain http names its own table too.
#[test]
fn every_url_names_the_table_key_and_file_it_came_from() {
    let c = config(
        "[knack]\napi_url = \"https://top-knack.example.com/v1\"\n\
         [socrata]\nurl = \"https://top-data.example.com\"\n\
         [agol]\nurl = \"https://top-maps.example.com\"\n\
         [env.prod.knack]\napi_url = \"https://knack.example.com/v1\"\n\
         [env.prod.postgrest]\nendpoint = \"http://pg.internal:3000\"\n\
         [env.prod.agol]\nurl = \"https://maps.example.com\"\n\
         [postgrest]\nallow_insecure_http = true\n",
    );
    let mut v = full_env();
    for var in ["PGREST_ENDPOINT", "SOCRATA_URL", "AGOL_URL"] {
        v.0.remove(var);
    }
    let task = Task::Composite {
        name: "sync",
        knack_key: true,
        socrata: true,
        agol: true,
    };
    let s = resolve(task, "no-id", &c, &v).unwrap();
    assert_eq!(s.knack_url.origin, "[env.prod.knack] api_url in t.toml");
    assert_eq!(
        s.pgrest_url.origin,
        "[env.prod.postgrest] endpoint in t.toml"
    );
    assert_eq!(s.socrata.unwrap().url.origin, "[socrata] url in t.toml");
    assert_eq!(s.agol.unwrap().url.origin, "[env.prod.agol] url in t.toml");
    assert_eq!(
        s.insecure_http,
        ["[env.prod.postgrest] endpoint in t.toml uses plain http:// to pg.internal, allowed by \
          [postgrest] allow_insecure_http in t.toml: credentials travel unencrypted on that \
          network"]
    );
    let bare = config("");
    let s = resolve(Task::MetadataToPostgrest, "no-id", &bare, &full_env()).unwrap();
    assert_eq!(s.knack_url.origin, "default KNACK_API_URL");
}

#[test]
fn plain_http_to_a_remote_host_is_refused_with_missing_vars_alongside() {
    let c = config("");
    let mut v = full_env();
    v.0.insert("PGREST_ENDPOINT".into(), "http://pg.example.com".into());
    v.0.insert("KNACK_API_URL".into(), "http://api.knack.com/v1".into());
    v.0.remove("PGREST_JWT");
    let e = resolve(Task::MetadataToPostgrest, "no-id", &c, &v).unwrap_err();
    assert_eq!(e.missing, ["PGREST_JWT"]);
    assert_eq!(e.invalid.len(), 2, "{e}");
    assert!(
        e.invalid[0].starts_with("KNACK_API_URL uses plain http://"),
        "{e}"
    );
    assert!(
        e.invalid[1].starts_with("PGREST_ENDPOINT uses plain http://"),
        "{e}"
    );
}

#[test]
fn app_id_from_config_and_disagreement_is_an_error() {
    let c = config("");
    let mut v = full_env();
    v.0.remove("KNACK_APP_ID");
    let s = resolve(Task::MetadataToPostgrest, "with-id", &c, &v).unwrap();
    assert_eq!(s.app_id, "aaaaaaaaaaaaaaaaaaaaaaaa");
    v.0.insert("KNACK_APP_ID".into(), "bbbbbbbbbbbbbbbbbbbbbbbb".into());
    let e = resolve(Task::MetadataToPostgrest, "with-id", &c, &v).unwrap_err();
    assert!(e.to_string().contains("disagrees with app_id"), "{e}");
}

#[test]
fn debug_and_errors_never_show_secrets() {
    let c = config("");
    let v = full_env();
    for task in [
        Task::RecordsToPostgrest,
        Task::RecordsToSocrata,
        Task::RecordsToAgol,
    ] {
        let s = resolve(task, "no-id", &c, &v).unwrap();
        let dbg = format!("{s:?} {v:?}");
        assert!(!dbg.contains("-SECRET-"), "{dbg}");
        assert!(dbg.contains("[REDACTED]"), "{dbg}");
    }
    let mut v = full_env();
    v.0.insert(
        "PGREST_ENDPOINT".into(),
        "http://pg.example.com/?k=-SECRET-".into(),
    );
    let e = resolve(Task::RecordsToSocrata, "no-id", &c, &v).unwrap_err();
    assert!(!format!("{e} {e:?}").contains("-SECRET-"));
}
