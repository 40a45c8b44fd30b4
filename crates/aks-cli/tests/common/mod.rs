//! The four fake servers seeded with the generated fixture app, a config file pointing at them,
//! and the real `aks` binary run against them.

#![allow(dead_code)]

pub mod knack_dest;
pub mod sync;

use std::path::PathBuf;
use std::process::Output;

use assert_cmd::Command;
use knack_etl::agol_client::testkit::{FakeAgol, ITEM_ID, PASSWORD, USERNAME};
use knack_etl::knack_client::testkit::FakeKnack;
use knack_etl::knack_client::Container;
use knack_etl::pgrest_client::testkit::FakePostgrest;
use knack_etl::socrata_client::testkit::{FakeDataset, FakeSocrata};
use serde_json::Value;

/// The generated app's id (the fixture metadata's `application.id`).
pub const APP_ID: &str = "807d63882254235602b447c3";
/// The app name used with `-a`.
pub const APP: &str = "acc";
/// The fixture view (in `scene_1`, over `object_1`).
pub const VIEW: &str = "view_1";
/// The fixture's Socrata dataset.
pub const DATASET: &str = "acc1-0001";
/// Records in `records_view_1.json`.
pub const RECORDS: usize = 60;

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

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

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

/// Every fake, seeded, and a config file pointing at them.
pub struct Fakes {
    pub knack: FakeKnack,
    pub pg: FakePostgrest,
    pub socrata: FakeSocrata,
    pub agol: FakeAgol,
    pub config: PathBuf,
    _dir: tempfile::TempDir,
}

impl Fakes {
    pub async fn start() -> Self {
        let knack = FakeKnack::start_for(APP_ID, KNACK_API_KEY).await;
        knack.set_rate_limit(None);
        knack.set_metadata(fixture("metadata.json"));
        let records = fixture("records_view_1.json").as_array().unwrap().clone();
        assert_eq!(records.len(), RECORDS);
        knack.set_records(&Container::view("scene_1", VIEW).unwrap(), records);
        let pg = FakePostgrest::staging(PGREST_JWT).await;
        let socrata = FakeSocrata::start().await;
        socrata.add_dataset(FakeDataset::from_metadata(&fixture("socrata_dataset.json")));
        socrata.require_basic_auth(SOCRATA_API_KEY_ID, SOCRATA_API_KEY_SECRET);
        let agol = FakeAgol::start().await;
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
                knack = knack.base_url(),
                pg = pg.uri(),
                socrata = socrata.uri(),
                agol = agol.uri(),
                container = fixture_container_toml(APP),
            ),
        )
        .unwrap();
        Self {
            knack,
            pg,
            socrata,
            agol,
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
        let pg = self
            .pg
            .requests()
            .into_iter()
            .filter(|r| r.method != "GET" && r.method != "HEAD")
            .map(|r| format!("pgrest {} {}", r.method, r.path));
        let socrata = self
            .socrata
            .requests()
            .into_iter()
            .filter(|r| r.method != "GET" && r.method != "HEAD")
            .map(|r| format!("socrata {} {}", r.method, r.path));
        let agol = self
            .agol
            .requests()
            .into_iter()
            .filter(|r| {
                [
                    "addFeatures",
                    "updateFeatures",
                    "deleteFeatures",
                    "applyEdits",
                    "truncate",
                ]
                .contains(&r.operation.as_str())
            })
            .map(|r| format!("agol {}", r.operation));
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

    /// How many requests the four fakes received in all.
    pub fn request_count(&self) -> usize {
        self.knack.requests().len()
            + self.pg.requests().len()
            + self.socrata.requests().len()
            + self.agol.requests().len()
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
