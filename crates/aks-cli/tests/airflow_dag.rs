//! The Airflow DAG example (`deploy/airflow/knack_services_dag.py`) in a real Airflow, from the
//! virtualenv `.ci/python-env` builds from `.ci/python-requirements.txt` (`AKS_TEST_VENV`;
//! `scripts/test` prepares it and runs these tests).
//!
//! - Loaded by Airflow's own `DagBag` as production has it (DockerOperator): no import errors, one
//!   `aks sync` task per app and no edges between apps, one backup task per dataset, templates
//!   that render the secrets into the task and show none of them.
//! - Run by Airflow (`airflow dags test --use-executor`: the LocalExecutor, the task supervisor
//!   and the execution API server, as a deployment runs a task) with `AKS_DAG_RUNNER=local`, so
//!   each task runs the `aks` built here against the four fakes: a sync is a successful task, exit
//!   1 (a rejected record) and exit 3 (`status --verify` finding drift) fail their task and never
//!   the other app's, the PostgREST connection defined by URI gives `aks` a full URL, and the
//!   secrets reach `aks` but none shows in the task logs or the rendered templates.
//!
//! Both are `#[ignore]`d, so plain `cargo test` lists them as ignored rather than passing them
//! unchecked; run without `AKS_TEST_VENV` they fail with one line saying how to get it.

mod common;

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::sync::delete_from_socrata;
use common::{
    fixture, fixture_container_toml, Fakes, APP_ID, DATASET, KNACK_API_KEY, PGREST_JWT, RECORDS,
    SOCRATA_API_KEY_ID, SOCRATA_API_KEY_SECRET, SOCRATA_APP_TOKEN, VIEW,
};
use knack_etl::agol_client::testkit::{PASSWORD, USERNAME};
use knack_etl::knack_client::Container;
use serde_json::{json, Value};

const NEEDS_AIRFLOW: &str = "AKS_TEST_VENV is not set: the Airflow DAG tests need Airflow; run \
     scripts/test (it builds the Python tools), or export AKS_TEST_VENV=$(bash .ci/python-env)";

/// The fake secrets the connections hold in the load test; none may be shown.
const SECRETS: &[&str] = &[
    "knack-key-dt-5f3e",
    "knack-key-sm-77a1",
    "pgrest-jwt-c0ffee",
    "socrata-key-id-91b2",
    "socrata-key-secret-4d4d",
    "socrata-app-token-e5e5",
    "agol-password-8c8c",
    "knack-key-smart-3a3a",
    "aws-key-id-AKIA5151",
    "aws-secret-6e6e",
];

fn venv() -> PathBuf {
    let venv = std::env::var_os("AKS_TEST_VENV")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{NEEDS_AIRFLOW}"));
    assert!(
        venv.join("bin/airflow").is_file(),
        "{} has no bin/airflow: AKS_TEST_VENV must be the virtualenv .ci/python-env prints",
        venv.display()
    );
    venv
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn dag_folder() -> PathBuf {
    root().join("deploy/airflow")
}

/// An Airflow home of its own in a temporary directory (sqlite, no examples, the DAG folder of
/// this repository) and an environment with nothing of the test process's: no stray `KNACK_*`,
/// `AWS_*` or `AKS_DAG_*` of the developer's shell changes what the DAG or `aks` do.
fn airflow_env(home: &Path) -> Vec<(String, String)> {
    let mut env = vec![
        ("AIRFLOW_HOME", home.display().to_string()),
        (
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
            format!("sqlite:///{}", home.join("airflow.db").display()),
        ),
        ("AIRFLOW__CORE__LOAD_EXAMPLES", "False".into()),
        (
            "AIRFLOW__CORE__DAGS_FOLDER",
            dag_folder().display().to_string(),
        ),
        ("HOME", home.display().to_string()),
        ("LANG", "C.UTF-8".into()),
        // No __pycache__ left in deploy/airflow.
        ("PYTHONDONTWRITEBYTECODE", "1".into()),
    ];
    if let Some(path) = std::env::var_os("PATH") {
        env.push(("PATH", path.to_string_lossy().into_owned()));
    }
    env.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn load_test_connections() -> Vec<(String, String)> {
    let conn = |login: &str, password: &str| {
        json!({"conn_type": "http", "login": login, "password": password}).to_string()
    };
    vec![
        ("AIRFLOW_CONN_KNACK_DATA_TRACKER".into(), conn("5815f29f7f7252cc2ca91c4f", SECRETS[0])),
        ("AIRFLOW_CONN_KNACK_SIGNS_MARKINGS".into(), conn("5e2216f7d5c6c2001650a5b2", SECRETS[1])),
        (
            "AIRFLOW_CONN_AKS_PGREST".into(),
            json!({"conn_type": "http", "host": "https://pgrest.example.org", "password": SECRETS[2]}).to_string(),
        ),
        (
            "AIRFLOW_CONN_AKS_SOCRATA".into(),
            json!({"conn_type": "http", "login": SECRETS[3], "password": SECRETS[4], "extra": {"app_token": SECRETS[5]}}).to_string(),
        ),
        ("AIRFLOW_CONN_AKS_AGOL".into(), conn("atd_publisher", SECRETS[6])),
        ("AIRFLOW_CONN_KNACK_SMART_MOBILITY".into(), conn("5e0d3c5c4f5ac70015c27a9b", SECRETS[7])),
        (
            "AIRFLOW_CONN_AKS_S3".into(),
            json!({"conn_type": "aws", "login": SECRETS[8], "password": SECRETS[9], "extra": {"region": "us-east-1"}}).to_string(),
        ),
        ("AIRFLOW_VAR_AKS_IMAGE".into(), "atddocker/aks:test".into()),
        ("AIRFLOW_VAR_AKS_ENV".into(), "prod".into()),
        ("AIRFLOW_VAR_AKS_BACKUP_TO".into(), "s3://aks-backups/socrata".into()),
    ]
}

#[test]
#[ignore = "needs Airflow from the Python tools (AKS_TEST_VENV): scripts/test prepares them and runs this"]
fn the_dag_loads_in_airflow_with_one_sync_task_per_app_and_shows_no_secret() {
    let venv = venv();
    let script = root().join("crates/aks-cli/tests/airflow/load_dag.py");
    let home = tempfile::tempdir().unwrap();
    let report = home.path().join("report.json");
    let out = Command::new(venv.join("bin/python"))
        .arg(&script)
        .arg(dag_folder().join("knack_services_dag.py"))
        .arg(&report)
        .env_clear()
        .envs(airflow_env(home.path()))
        .envs(load_test_connections())
        .output()
        .unwrap();
    let logs = text(&out);
    assert!(out.status.success(), "loading the DAG failed:\n{logs}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(doc["import_errors"], json!({}), "{doc:#}");

    let dags = doc["dags"].as_object().unwrap();
    let ids: Vec<&String> = dags.keys().collect();
    assert_eq!(
        ids,
        [
            "knack_services",
            "knack_services_extras",
            "knack_services_verify"
        ]
    );
    let sync = &dags["knack_services"];
    assert_eq!(sync["schedule"], "*/30 * * * *");
    let tasks: BTreeMap<String, Value> = serde_json::from_value(sync["tasks"].clone()).unwrap();
    assert_eq!(
        tasks.keys().collect::<Vec<_>>(),
        ["data-tracker.sync", "signs-markings.sync"]
    );
    for (id, task) in &tasks {
        // Without AKS_DAG_RUNNER, production's runner: the image.
        assert_eq!(task["operator"], "DockerOperator", "{id}");
        assert_eq!(task["retries"], 1, "{id}");
        assert_eq!(task["upstream"], json!([]), "{id}: apps are independent");
        assert_eq!(task["downstream"], json!([]), "{id}");
        let command = task["rendered"]["command"].as_str().unwrap();
        let app = id.trim_end_matches(".sync");
        assert_eq!(command, format!("--log-format json sync -a {app} -e prod"));
        assert!(!command.contains("--date"), "no date computing: {command}");
        assert_eq!(task["rendered"]["image"], "atddocker/aks:test");
    }
    let verify: Vec<&String> = dags["knack_services_verify"]["tasks"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(verify, ["data-tracker.verify", "signs-markings.verify"]);
    assert_eq!(
        dags["knack_services_verify"]["tasks"]["data-tracker.verify"]["rendered"]["command"],
        "--log-format json status --verify -a data-tracker -e prod"
    );

    // Backups: one independent task per dataset, daily.
    let extras = &dags["knack_services_extras"];
    assert_eq!(extras["schedule"], "@daily");
    let backups: BTreeMap<String, Value> = serde_json::from_value(extras["tasks"].clone()).unwrap();
    assert_eq!(
        backups.keys().collect::<Vec<_>>(),
        [
            "data-tracker.view_197.backup",
            "data-tracker.view_2863.backup",
            "signs-markings.view_3307.backup"
        ]
    );
    for (id, task) in &backups {
        assert_eq!(task["upstream"], json!([]), "{id}");
        assert_eq!(task["downstream"], json!([]), "{id}");
    }
    assert_eq!(
        backups["data-tracker.view_197.backup"]["rendered"]["command"],
        "--log-format json backup-socrata -a data-tracker -c view_197 -e prod --keep 30 --to \
         s3://aks-backups/socrata"
    );
    let env = &backups["data-tracker.view_197.backup"]["rendered"]["environment"];
    assert_eq!(env["AWS_SECRET_ACCESS_KEY"], SECRETS[9]);
    assert_eq!(env["AWS_REGION"], "us-east-1");

    // The templates really render the secrets into what the container gets (the Knack
    // destination's key to the app that copies into it, and only to that one)...
    let env = &tasks["data-tracker.sync"]["rendered"]["environment"];
    assert_eq!(env["KNACK_API_KEY_DEST"], SECRETS[7]);
    assert_eq!(env["KNACK_APP_ID_DEST"], "5e0d3c5c4f5ac70015c27a9b");
    assert!(tasks["signs-markings.sync"]["rendered"]["environment"]
        .get("KNACK_API_KEY_DEST")
        .is_none());
    assert_eq!(env["KNACK_API_KEY"], SECRETS[0]);
    assert_eq!(env["PGREST_JWT"], SECRETS[2]);
    assert_eq!(env["PGREST_ENDPOINT"], "https://pgrest.example.org");
    assert_eq!(env["SOCRATA_APP_TOKEN"], SECRETS[5]);
    assert_eq!(env["AGOL_PASSWORD"], SECRETS[6]);
    // ... and Airflow shows none of them, in any task of any DAG, nor in its logs.
    for dag in dags.values() {
        for (id, task) in dag["tasks"].as_object().unwrap() {
            let shown = task["shown"].to_string();
            for secret in SECRETS {
                assert!(!shown.contains(secret), "{id} shows {secret}: {shown}");
            }
            assert!(shown.contains("***"), "{id}: {shown}");
        }
    }
    for secret in SECRETS {
        assert!(!logs.contains(secret), "Airflow logged {secret}:\n{logs}");
    }

    // PGREST_ENDPOINT is a full URL however the connection holds it (aks refuses a bare host).
    assert_eq!(
        doc["endpoint_urls"],
        json!({
            "uri-https": "https://pgrest.example.org",
            "uri-https-port-path": "https://pgrest.example.org:8443/api/v1",
            "uri-http-loopback": "http://127.0.0.1:3000",
            "host-full-url": "https://pgrest.example.org/api",
            "http-ui-schema-https": "https://pgrest.example.org:8443",
            "generic-bare-host": "https://pgrest.example.org",
        })
    );
}

/// A free loopback port (the listener is dropped, so a server can take it).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

/// An Airflow of its own: metadata database migrated once, the execution API server (the one
/// endpoint a task's supervisor reports to) on a free loopback port, killed when this drops.
struct Airflow {
    venv: PathBuf,
    home: tempfile::TempDir,
    env: Vec<(String, String)>,
    api_server: Child,
}

impl Airflow {
    fn start(venv: PathBuf, extra_env: Vec<(String, String)>) -> Self {
        let home = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut env = airflow_env(home.path());
        env.extend(
            [
                (
                    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
                    format!("http://127.0.0.1:{port}/execution/"),
                ),
                ("AIRFLOW__CORE__EXECUTOR", "LocalExecutor".into()),
                // Two worker processes: the two apps' tasks at once, on a 2-core machine.
                ("AIRFLOW__CORE__PARALLELISM", "2".into()),
            ]
            .map(|(k, v)| (k.to_string(), v)),
        );
        env.extend(extra_env);
        // A cluster policy (Airflow's own hook for a deployment's rules) sets retries to 0: the
        // DAG's one retry, 5 minutes later, would only make a failed task wait here.
        let config = home.path().join("config");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::write(
            config.join("airflow_local_settings.py"),
            "def task_policy(task):\n    task.retries = 0\n",
        )
        .unwrap();

        let migrate = Command::new(venv.join("bin/airflow"))
            .args(["db", "migrate"])
            .env_clear()
            .envs(env.clone())
            .current_dir(home.path())
            .output()
            .unwrap();
        assert!(
            migrate.status.success(),
            "airflow db migrate:\n{}",
            text(&migrate)
        );
        let log = std::fs::File::create(home.path().join("api-server.log")).unwrap();
        let api_server = std::os::unix::process::CommandExt::process_group(
            Command::new(venv.join("bin/airflow"))
                .args(["api-server", "--apps", "execution", "-H", "127.0.0.1"])
                .args(["-p", &port.to_string(), "-w", "1"])
                .env_clear()
                .envs(env.clone())
                .current_dir(home.path())
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log),
            0,
        )
        .spawn()
        .unwrap();
        let airflow = Self {
            venv,
            home,
            env,
            api_server,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the Airflow API server did not listen on {port} within 120 s:\n{}",
                airflow.file("api-server.log")
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        airflow
    }

    fn file(&self, rel: &str) -> String {
        std::fs::read_to_string(self.home.path().join(rel)).unwrap_or_default()
    }

    /// `airflow dags test --use-executor DAG`: one run of every task of the DAG, through the
    /// executor and the task supervisor. Its exit code says whether the run failed.
    fn dags_test(&self, dag: &str) -> Output {
        Command::new(self.venv.join("bin/airflow"))
            .args(["dags", "test", "--use-executor", dag])
            .env_clear()
            .envs(self.env.clone())
            .current_dir(self.home.path())
            .output()
            .unwrap()
    }

    /// The newest run of `dag` as the metadata database has it (run_states.py).
    fn run(&self, dag: &str) -> Run {
        let out = Command::new(self.venv.join("bin/python"))
            .arg(root().join("crates/aks-cli/tests/airflow/run_states.py"))
            .arg(self.home.path().join("airflow.db"))
            .arg(dag)
            .output()
            .unwrap();
        assert!(out.status.success(), "run_states.py:\n{}", text(&out));
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        let run_id = doc["run_id"].as_str().unwrap().to_string();
        let tasks = doc["tasks"].as_object().unwrap();
        let tasks = tasks
            .iter()
            .map(|(id, t)| {
                let log = format!("logs/dag_id={dag}/run_id={run_id}/task_id={id}/attempt=1.log");
                let task = Task {
                    state: t["state"].as_str().unwrap_or("none").to_string(),
                    rendered: t["rendered"].clone(),
                    log: self.file(&log),
                };
                (id.clone(), task)
            })
            .collect();
        Run {
            state: doc["state"].as_str().unwrap_or("none").to_string(),
            tasks,
            printed: String::new(),
        }
    }
}

impl Drop for Airflow {
    fn drop(&mut self) {
        // The API server's workers are in its process group: stop them all (and at least the
        // server itself should `kill` be missing).
        let group = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.api_server.id())])
            .status();
        if !group.is_ok_and(|s| s.success()) {
            let _ = self.api_server.kill();
        }
        let _ = self.api_server.wait();
    }
}

struct Run {
    state: String,
    tasks: BTreeMap<String, Task>,
    /// What `airflow dags test` printed.
    printed: String,
}

#[derive(Debug)]
struct Task {
    state: String,
    /// The rendered templates as Airflow stored them (its "Rendered Template" view).
    rendered: Value,
    /// The task's log file, as the UI shows it: one JSON event a line, aks's lines among them.
    log: String,
}

impl Run {
    fn task(&self, id: &str) -> &Task {
        self.tasks
            .get(id)
            .unwrap_or_else(|| panic!("no task {id} in {:?}", self.tasks.keys()))
    }
}

/// The secrets the DAG run's connections hold (the fakes check each one).
const RUN_SECRETS: &[&str] = &[
    KNACK_API_KEY,
    PGREST_JWT,
    SOCRATA_APP_TOKEN,
    SOCRATA_API_KEY_ID,
    SOCRATA_API_KEY_SECRET,
    PASSWORD,
    "knack-key-smart-3a3a",
];

/// The connections and Variables of the DAG run: every app reads the one fake Knack app (the two
/// apps differ in containers); `aks_pgrest` is defined by URI, as production usually defines it,
/// so PGREST_ENDPOINT must come out of the DAG as a full URL.
fn run_connections(fakes: &Fakes) -> Vec<(String, String)> {
    let knack =
        json!({"conn_type": "http", "login": APP_ID, "password": KNACK_API_KEY}).to_string();
    let mut pgrest = url::Url::parse(&fakes.pg.uri()).unwrap();
    pgrest.set_password(Some(PGREST_JWT)).unwrap();
    vec![
        ("AIRFLOW_CONN_KNACK_DATA_TRACKER".into(), knack.clone()),
        ("AIRFLOW_CONN_KNACK_SIGNS_MARKINGS".into(), knack),
        (
            "AIRFLOW_CONN_KNACK_SMART_MOBILITY".into(),
            json!({"conn_type": "http", "login": "5e0d3c5c4f5ac70015c27a9b", "password": RUN_SECRETS[6]}).to_string(),
        ),
        ("AIRFLOW_CONN_AKS_PGREST".into(), pgrest.to_string()),
        (
            "AIRFLOW_CONN_AKS_SOCRATA".into(),
            json!({"conn_type": "http", "login": SOCRATA_API_KEY_ID, "password": SOCRATA_API_KEY_SECRET, "extra": {"app_token": SOCRATA_APP_TOKEN}}).to_string(),
        ),
        (
            "AIRFLOW_CONN_AKS_AGOL".into(),
            json!({"conn_type": "http", "login": USERNAME, "password": PASSWORD}).to_string(),
        ),
        ("AIRFLOW_VAR_AKS_ENV".into(), "dev".into()),
    ]
}

/// The config the workers' `aks` reads (AKS_CONFIG): the DAG's two apps on the fakes. No
/// `[postgrest]` table: the endpoint comes from the Airflow connection alone.
fn write_config(fakes: &Fakes, dir: &Path) -> PathBuf {
    let path = dir.join("knack.toml");
    std::fs::write(
        &path,
        format!(
            r#"[knack]
api_url = "{knack}"

[socrata]
url = "{socrata}"

[agol]
url = "{agol}"

{container}
# Staged only: no destination.
[apps.signs-markings.containers.view_2]
scene_id = "scene_2"
modified_date_field_id = "field_21"
"#,
            container = fixture_container_toml("data-tracker"),
            knack = fakes.knack.uri(),
            socrata = fakes.socrata.uri(),
            agol = fakes.agol.uri(),
        ),
    )
    .unwrap();
    path
}

/// `aks`'s own log events (`--log-format json`, one object a line) in a task's log, where
/// Airflow holds each output line as the `event` of one of its own JSON lines.
fn aks_events(task: &Task) -> Vec<Value> {
    task.log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|l| serde_json::from_str::<Value>(l["event"].as_str()?).ok())
        .filter(|e| e.get("message").is_some())
        .collect()
}

/// Moves every record of the fixture view to today in Knack (`field_21`, its modified date),
/// names untouched, so the next incremental sync publishes them all again.
fn touch_all_in_knack(fakes: &Fakes) {
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::America::Chicago)
        .format("%m/%d/%Y")
        .to_string();
    let mut records = fixture("records_view_1.json").as_array().unwrap().clone();
    for r in &mut records {
        r["field_21_raw"]["date"] = json!(today);
    }
    fakes
        .knack
        .set_records(&Container::view("scene_1", VIEW).unwrap(), records);
}

/// What a task's log says of the `aks` it ran: the command's exit code line.
fn exit_line(task: &Task) -> &str {
    task.log
        .lines()
        .find(|l| l.contains("Command exited with return code"))
        .unwrap_or_else(|| panic!("no exit line in the task log:\n{}", task.log))
}

/// Airflow shows none of the secrets of a run: not in any task's log, not in its rendered
/// templates (each secret variable is there as `***`), not in what `airflow dags test` printed.
fn assert_nothing_shown(run: &Run) {
    let printed = &run.printed;
    for (id, task) in &run.tasks {
        let rendered = task.rendered.to_string();
        for secret in RUN_SECRETS {
            assert!(!task.log.contains(secret), "{id}'s log shows {secret}");
            assert!(
                !rendered.contains(secret),
                "{id} shows {secret}: {rendered}"
            );
            assert!(
                !printed.contains(secret),
                "airflow dags test printed {secret}"
            );
        }
        let env = &task.rendered["env"];
        for var in [
            "KNACK_API_KEY",
            "PGREST_JWT",
            "SOCRATA_APP_TOKEN",
            "SOCRATA_API_KEY_ID",
            "SOCRATA_API_KEY_SECRET",
            "AGOL_PASSWORD",
        ] {
            assert_eq!(env[var], "***", "{id}: {var} in {env}");
        }
    }
}

/// Runs `f` off the async runtime: the fakes are served by it while Airflow runs `aks`.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// One `airflow dags test` of `dag` and what came of it: the run as the database has it, and
/// whether the command succeeded (it fails when the run failed). Checks that Airflow showed no
/// secret anywhere.
async fn run_dag(airflow: &Arc<Airflow>, dag: &'static str) -> (Run, bool) {
    let af = airflow.clone();
    let out = blocking(move || af.dags_test(dag)).await;
    let printed = text(&out);
    let af = airflow.clone();
    let mut run = blocking(move || af.run(dag)).await;
    run.printed = printed;
    assert_nothing_shown(&run);
    (run, out.status.success())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Airflow from the Python tools (AKS_TEST_VENV): scripts/test prepares them and runs this"]
async fn airflow_runs_the_dag_with_the_local_aks_and_maps_its_exit_codes_to_task_states() {
    let venv = venv();
    let fakes = Fakes::start().await;
    let records = fixture("records_view_1.json").as_array().unwrap().clone();
    // view_2 shows the same object in another scene.
    fakes
        .knack
        .set_records(&Container::view("scene_2", "view_2").unwrap(), records);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&fakes, dir.path());
    let aks = PathBuf::from(env!("CARGO_BIN_EXE_aks"));
    let mut env = run_connections(&fakes);
    env.extend(
        [
            ("AKS_DAG_RUNNER", "local".to_string()),
            ("AKS_DAG_BIN", aks.display().to_string()),
            // Inherited by aks from the worker (the local runner's append_env).
            ("AKS_CONFIG", config.display().to_string()),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    );
    let airflow = Arc::new(blocking(move || Airflow::start(venv, env)).await);

    // 1. Both apps sync: successful tasks, and the data is where it belongs.
    let (run, ok) = run_dag(&airflow, "knack_services").await;
    for id in ["data-tracker.sync", "signs-markings.sync"] {
        let task = run.task(id);
        assert_eq!(
            task.state, "success",
            "{id}:\n{}\n{}",
            task.log, run.printed
        );
        assert!(exit_line(task).contains("return code 0"), "{id}");
    }
    assert_eq!(run.state, "success");
    assert!(ok, "{}", run.printed);
    assert_eq!(fakes.socrata.rows(DATASET).len(), RECORDS);
    assert_eq!(fakes.agol.features(0).len(), RECORDS);
    for view in [VIEW, "view_2"] {
        let staged = fakes
            .pg
            .rows("knack")
            .into_iter()
            .filter(|r| r["container_id"] == view)
            .count();
        assert_eq!(staged, RECORDS, "{view} staged");
    }
    // The templates rendered: the local aks, its arguments, and a full URL from the connection
    // defined by URI (its host alone, 127.0.0.1, is what aks refuses).
    let task = run.task("data-tracker.sync");
    assert_eq!(
        task.rendered["bash_command"],
        format!(
            "{} --log-format json sync -a data-tracker -e dev",
            aks.display()
        )
    );
    assert_eq!(task.rendered["env"]["PGREST_ENDPOINT"], fakes.pg.uri());
    assert_eq!(task.rendered["env"]["KNACK_APP_ID"], APP_ID);
    // aks's own JSON log lines are in the task log: it started, and published the 60 records.
    let events = aks_events(task);
    assert!(
        events.iter().any(|e| e["message"] == "starting"
            && e["command"] == "sync"
            && e["app"] == "data-tracker"),
        "{events:#?}"
    );
    let published = format!("sync {VIEW}/socrata: read {RECORDS}, written {RECORDS}");
    assert!(
        events
            .iter()
            .any(|e| e["message"].as_str().unwrap().starts_with(&published)),
        "{events:#?}"
    );

    // 2. Drift: rows vanish from the dataset behind aks's back. status --verify exits 3, which
    // fails that app's task only.
    delete_from_socrata(&fakes, 2).await;
    let (run, ok) = run_dag(&airflow, "knack_services_verify").await;
    let task = run.task("data-tracker.verify");
    assert_eq!(task.state, "failed", "{}\n{}", task.log, run.printed);
    assert!(exit_line(task).contains("return code 3"), "{}", task.log);
    let task = run.task("signs-markings.verify");
    assert_eq!(task.state, "success", "{}\n{}", task.log, run.printed);
    assert!(exit_line(task).contains("return code 0"));
    assert_eq!(run.state, "failed");
    assert!(!ok, "a failed run fails `airflow dags test`");

    // 3. A destination rejects records: the layer's field is too short for most names. The
    // sync writes the rest and exits 1, which fails that app's task only.
    fakes.agol.set_field(
        0,
        json!({"name": "location_name", "type": "esriFieldTypeString", "length": 20}),
    );
    touch_all_in_knack(&fakes);
    let (run, ok) = run_dag(&airflow, "knack_services").await;
    let task = run.task("data-tracker.sync");
    assert_eq!(task.state, "failed", "{}\n{}", task.log, run.printed);
    assert!(exit_line(task).contains("return code 1"), "{}", task.log);
    let rejected = aks_events(task)
        .iter()
        .filter(|e| e["message"].as_str().unwrap().contains("rejected record "))
        .count();
    assert!(rejected > 0, "{}", task.log);
    assert_eq!(run.task("signs-markings.sync").state, "success");
    assert_eq!(run.state, "failed");
    assert!(!ok);
    // The sync also repaired the drift of step 2.
    assert_eq!(fakes.socrata.rows(DATASET).len(), RECORDS);
}
