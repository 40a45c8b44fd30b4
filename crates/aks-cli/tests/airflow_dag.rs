//! The Airflow DAG example (`deploy/airflow/knack_services_dag.py`) loaded by a real Airflow: its
//! own `DagBag`, in the virtualenv `.ci/python-env` builds from `.ci/python-requirements.txt`
//! (`AKS_TEST_VENV`; `.ci/run` sets it). No import errors, one `aks sync` task per app and no edges
//! between apps, one backup task per dataset, and no secret in what Airflow shows of a rendered
//! task.
//!
//! Without `AKS_TEST_VENV` the test fails when `CI` is set and is skipped (saying so) otherwise.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// The fake secrets the connections hold; none may be shown.
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

fn venv() -> Option<PathBuf> {
    match std::env::var_os("AKS_TEST_VENV").filter(|v| !v.is_empty()) {
        Some(v) => Some(PathBuf::from(v)),
        None if std::env::var_os("CI").is_some() => panic!(
            "AKS_TEST_VENV is not set: CI must run the Airflow DAG test; .ci/run sets it \
             (export AKS_TEST_VENV=$(bash .ci/python-env))"
        ),
        None => {
            println!(
                "SKIPPED: the Airflow DAG test needs AKS_TEST_VENV (export \
                 AKS_TEST_VENV=$(bash .ci/python-env) builds it)"
            );
            None
        }
    }
}

fn connections() -> Vec<(String, String)> {
    let conn = |login: &str, password: &str| {
        serde_json::json!({"conn_type": "http", "login": login, "password": password}).to_string()
    };
    vec![
        ("AIRFLOW_CONN_KNACK_DATA_TRACKER".into(), conn("5815f29f7f7252cc2ca91c4f", SECRETS[0])),
        ("AIRFLOW_CONN_KNACK_SIGNS_MARKINGS".into(), conn("5e2216f7d5c6c2001650a5b2", SECRETS[1])),
        (
            "AIRFLOW_CONN_AKS_PGREST".into(),
            serde_json::json!({"conn_type": "http", "host": "https://pgrest.example.org", "password": SECRETS[2]}).to_string(),
        ),
        (
            "AIRFLOW_CONN_AKS_SOCRATA".into(),
            serde_json::json!({"conn_type": "http", "login": SECRETS[3], "password": SECRETS[4], "extra": {"app_token": SECRETS[5]}}).to_string(),
        ),
        ("AIRFLOW_CONN_AKS_AGOL".into(), conn("atd_publisher", SECRETS[6])),
        ("AIRFLOW_CONN_KNACK_SMART_MOBILITY".into(), conn("5e0d3c5c4f5ac70015c27a9b", SECRETS[7])),
        (
            "AIRFLOW_CONN_AKS_S3".into(),
            serde_json::json!({"conn_type": "aws", "login": SECRETS[8], "password": SECRETS[9], "extra": {"region": "us-east-1"}}).to_string(),
        ),
        ("AIRFLOW_VAR_AKS_IMAGE".into(), "atddocker/aks:test".into()),
        ("AIRFLOW_VAR_AKS_ENV".into(), "prod".into()),
        ("AIRFLOW_VAR_AKS_BACKUP_TO".into(), "s3://aks-backups/socrata".into()),
    ]
}

#[test]
fn the_dag_loads_in_airflow_with_one_sync_task_per_app_and_shows_no_secret() {
    let Some(venv) = venv() else { return };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dag = root.join("deploy/airflow/knack_services_dag.py");
    let script = root.join("crates/aks-cli/tests/airflow/load_dag.py");
    let home = tempfile::tempdir().unwrap();
    let report = home.path().join("report.json");
    let out = Command::new(venv.join("bin/python"))
        .arg(&script)
        .arg(&dag)
        .arg(&report)
        .env("AIRFLOW_HOME", home.path())
        .env(
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
            format!("sqlite:///{}", home.path().join("airflow.db").display()),
        )
        .env("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        .env("AIRFLOW__CORE__DAGS_FOLDER", dag.parent().unwrap())
        .envs(connections())
        .output()
        .unwrap();
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "loading the DAG failed:\n{logs}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(doc["import_errors"], serde_json::json!({}), "{doc:#}");

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
        assert_eq!(task["operator"], "DockerOperator", "{id}");
        assert_eq!(
            task["upstream"],
            serde_json::json!([]),
            "{id}: apps are independent"
        );
        assert_eq!(task["downstream"], serde_json::json!([]), "{id}");
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
        assert_eq!(task["upstream"], serde_json::json!([]), "{id}");
        assert_eq!(task["downstream"], serde_json::json!([]), "{id}");
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
}
