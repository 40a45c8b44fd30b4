//! The four fake servers of the fixture app (knack-etl's testkit), a config file pointing at them,
//! and the real `aks` binary run against them.

#![allow(dead_code)]

pub mod knack_dest;
pub mod sync;

use std::ops::Deref;
use std::path::PathBuf;
use std::process::Output;

use assert_cmd::Command;
use knack_etl::agol_client::testkit::{ITEM_ID, PASSWORD, USERNAME};
use knack_etl::testkit::FakeApp;
use serde_json::Value;

#[allow(unused_imports)]
pub use knack_etl::testkit::{fixture, fixture_records, APP_ID, DATASET, RECORDS, VIEW};

/// The app name used with `-a`.
pub const APP: &str = "acc";

pub const KNACK_API_KEY: &str = "kk-7f3a9e-never-print";
pub const PGREST_JWT: &str = "jwt-51c0de-never-print";
pub const SOCRATA_APP_TOKEN: &str = "sat-88aa11-never-print";
pub const SOCRATA_API_KEY_ID: &str = "sid-4242ab-never-print";
pub const SOCRATA_API_KEY_SECRET: &str = "sks-9b9b9b-never-print";

/// Distinctive secret values; none may appear in any output. The AGOL password is the fake's own.
pub const SECRETS: &[(&str, &str)] = &[
    ("KNACK_API_KEY", KNACK_API_KEY),
    ("PGREST_JWT", PGREST_JWT),
    ("SOCRATA_APP_TOKEN", SOCRATA_APP_TOKEN),
    ("SOCRATA_API_KEY_ID", SOCRATA_API_KEY_ID),
    ("SOCRATA_API_KEY_SECRET", SOCRATA_API_KEY_SECRET),
    ("AGOL_PASSWORD", PASSWORD),
];

/// What a test that needs the local PostgreSQL says when it cannot connect: how to get one
/// (`scripts/test` starts it; the tests log in as `postgres` with no password).
pub const PG_HINT: &str = "PostgreSQL must be running on 127.0.0.1:5432 with trust auth for user \
     postgres: scripts/test starts it, or run: pg_ctlcluster --skip-systemctl-redirect \
     $(ls /etc/postgresql) main start";

/// The config table of the fixture view under app `app`: its scene, modified date, the fixture
/// Socrata dataset and the AGOL fake's layer.
pub fn fixture_container_toml(app: &str) -> String {
    format!(
        r#"[apps.{app}.containers.{VIEW}]
scene_id = "scene_1"
modified_date_field_id = "field_21"
socrata_resource_id = "{DATASET}"
location_fields = ["field_9"]
service_id = "{ITEM_ID}"
layer_id = 0
item_type = "layer"
upsert_matching_field = "id"
"#
    )
}

/// Every fake of the fixture app ([`knack_etl::testkit::FakeApp`]; `fakes.knack`, `fakes.pg`,
/// ...), Socrata asking for the key pair, and a config file pointing at them.
pub struct Fakes {
    pub app: FakeApp,
    pub config: PathBuf,
    _dir: tempfile::TempDir,
}

impl Deref for Fakes {
    type Target = FakeApp;
    fn deref(&self) -> &FakeApp {
        &self.app
    }
}

impl Fakes {
    pub async fn start() -> Self {
        assert_eq!(fixture_records().len(), RECORDS);
        let app = FakeApp::start(KNACK_API_KEY, PGREST_JWT).await;
        app.socrata
            .require_basic_auth(SOCRATA_API_KEY_ID, SOCRATA_API_KEY_SECRET);
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("knack.toml");
        std::fs::write(
            &config,
            format!(
                r#"[knack]
api_url = "{knack}"

[postgrest]
endpoint = "{pg}"

[socrata]
url = "{socrata}"

[agol]
url = "{agol}"

{container}"#,
                knack = app.knack.uri(),
                pg = app.pg.uri(),
                socrata = app.socrata.uri(),
                agol = app.agol.uri(),
                container = fixture_container_toml(APP),
            ),
        )
        .unwrap();
        Self {
            app,
            config,
            _dir: dir,
        }
    }

    /// Every variable the commands read, set to the fakes' credentials.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut vars = vec![
            ("KNACK_APP_ID".to_string(), APP_ID.to_string()),
            ("AGOL_USERNAME".to_string(), USERNAME.to_string()),
        ];
        vars.extend(SECRETS.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        vars
    }

    /// `aks --config <fakes' config> ARGS` with [`Fakes::env`] overridden by `over`.
    pub async fn run_with(&self, over: &[(&str, &str)], args: &[&str]) -> Output {
        let mut vars = self.env();
        for (k, v) in over {
            vars.retain(|(name, _)| name != k);
            vars.push((k.to_string(), v.to_string()));
        }
        run_aks(self.config.clone(), vars, args).await
    }

    /// `aks --config <fakes' config> ARGS` with every credential set.
    pub async fn run(&self, args: &[&str]) -> Output {
        self.run_with(&[], args).await
    }

    /// Requests that change something, per destination: PostgREST, Socrata, AGOL.
    pub fn writes(&self) -> Vec<String> {
        let (pg, socrata, agol) = self.app.writes();
        let pg = pg.into_iter().map(|w| format!("pgrest {w}"));
        let socrata = socrata.into_iter().map(|w| format!("socrata {w}"));
        let agol = agol.into_iter().map(|w| format!("agol {w}"));
        pg.chain(socrata).chain(agol).collect()
    }

    /// [`Fakes::writes`] without the runs' own bookkeeping (each stage records its start and end
    /// in `knack_sync_state`): the data written.
    pub fn data_writes(&self) -> Vec<String> {
        self.writes()
            .into_iter()
            .filter(|w| w != "pgrest POST /knack_sync_state")
            .collect()
    }

    /// Staged rows of the fixture view in `api.knack`.
    pub fn staged(&self) -> Vec<Value> {
        self.pg
            .rows("knack")
            .into_iter()
            .filter(|r| r["app_id"] == APP_ID && r["container_id"] == VIEW)
            .collect()
    }
}

/// The binary with an empty environment (the test process's own env never leaks in).
pub fn aks() -> Command {
    let mut cmd = Command::cargo_bin("aks").unwrap();
    cmd.env_clear();
    cmd
}

/// `backup-socrata -a APP -c VIEW -e dev --keep 2 --to TO`: the fixture's dataset backed up.
pub fn backup_keeping_two(to: &str) -> [&str; 11] {
    [
        "backup-socrata",
        "-a",
        APP,
        "-c",
        VIEW,
        "-e",
        "dev",
        "--keep",
        "2",
        "--to",
        to,
    ]
}

/// `COMMAND -a APP -c CONTAINER -e prod`: a records command's arguments.
pub fn records<'a>(command: &'a str, app: &'a str, container: &'a str) -> [&'a str; 7] {
    [command, "-a", app, "-c", container, "-e", "prod"]
}

/// `base` followed by `extra`.
pub fn args<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(extra).copied().collect()
}

/// Runs the real binary off the async runtime (the fakes are served by it).
pub async fn run_aks(config: PathBuf, vars: Vec<(String, String)>, args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let mut cmd = aks();
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        cmd.arg("--config").arg(&config);
        cmd.envs(vars);
        cmd.args(&args);
        cmd.output().unwrap()
    })
    .await
    .unwrap()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Fails if any secret value appears on stdout or stderr.
pub fn assert_no_secret(out: &Output) {
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for (name, value) in SECRETS {
        assert!(!all.contains(value), "{name} leaked:\n{all}");
    }
}
