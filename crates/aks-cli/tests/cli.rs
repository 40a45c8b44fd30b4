//! The real `aks` binary: exit codes, messages, log format, and that no secret is ever printed.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;

mod common;

use common::{aks, args, assert_no_secret, records, stderr, Fakes, APP, SECRETS, VIEW};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../knack.example.toml");

/// `aks --config <example>` with every credential set.
fn aks_full_env() -> Command {
    let mut cmd = aks();
    cmd.arg("--config").arg(EXAMPLE);
    for (k, v) in SECRETS {
        cmd.env(k, v);
    }
    cmd.env("KNACK_APP_ID", "5815f29f7f7252cc2ca91c4f")
        .env("AGOL_USERNAME", "ops-user");
    cmd
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("knack.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn bad_env_is_a_usage_error() {
    aks()
        .args([
            "metadata-to-postgrest",
            "-a",
            "data-tracker",
            "-e",
            "staging",
        ])
        .assert()
        .code(2)
        .stderr(contains("invalid value 'staging'").and(contains("prod")));
}

#[test]
fn bad_date_is_a_usage_error_showing_an_example() {
    aks()
        .args(records("records-to-postgrest", "data-tracker", "view_197"))
        .args(["--date", "last tuesday"])
        .assert()
        .code(2)
        .stderr(contains("last tuesday").and(contains("2020-09-08T09:21:08-05:00")));
}

#[test]
fn unknown_app_lists_known_apps() {
    aks_full_env()
        .args(records("records-to-socrata", "data-trakcer", "view_197"))
        .assert()
        .code(2)
        .stderr(
            contains("unknown app `data-trakcer`").and(contains("data-tracker, signs-markings")),
        );
}

#[test]
fn unknown_container_lists_known_containers() {
    aks_full_env()
        .args(records("records-to-socrata", "data-tracker", "view_9"))
        .assert()
        .code(2)
        .stderr(
            contains("unknown container `view_9`").and(contains("object_11, view_197, view_2863")),
        );
}

#[test]
fn unknown_config_key_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        "[apps.a.containers.view_1]\nscene_id = \"scene_1\"\nmodified_date_field = \"field_2\"\n",
    );
    aks()
        .arg("--config")
        .arg(&cfg)
        .args(["config", "check", "--offline"])
        .assert()
        .code(2)
        .stderr(
            contains("unknown field `modified_date_field`")
                .and(contains("line 3"))
                .and(contains("knack.toml")),
        );
}

#[test]
fn invalid_values_exit_2_naming_the_container() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        "[apps.a.containers.view_1]\nmodified_date_field_id = \"field_2\"\n",
    );
    aks()
        .arg("--config")
        .arg(&cfg)
        .args([
            "records-to-postgrest",
            "-a",
            "a",
            "-c",
            "view_1",
            "-e",
            "dev",
        ])
        .assert()
        .code(2)
        .stderr(contains(
            "[apps.a.containers.view_1]: a view needs scene_id",
        ));
}

#[test]
fn missing_env_vars_are_all_listed_at_once() {
    let out = aks()
        .arg("--config")
        .arg(EXAMPLE)
        .args(records("records-to-socrata", "signs-markings", "view_3307"))
        .assert()
        .code(2)
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    for var in [
        "KNACK_APP_ID",
        "PGREST_JWT",
        "SOCRATA_APP_TOKEN",
        "SOCRATA_API_KEY_ID",
        "SOCRATA_API_KEY_SECRET",
    ] {
        assert!(err.contains(var), "{var} not named:\n{err}");
    }
    // Endpoints come from the config file, so they are not missing.
    assert!(
        !err.contains("PGREST_ENDPOINT") && !err.contains("SOCRATA_URL"),
        "{err}"
    );
    assert_eq!(
        err.matches("missing environment variables").count(),
        1,
        "{err}"
    );
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let out = aks_full_env()
        .env("PGREST_ENDPOINT", "http://pg.example.com")
        .args(["metadata-to-postgrest", "-a", "data-tracker", "-e", "prod"])
        .assert()
        .code(2)
        .stderr(contains("PGREST_ENDPOINT uses plain http://").and(contains("pg.example.com")))
        .get_output()
        .clone();
    assert_no_secret(&out);
}

/// `config check` (online) sends the AGOL password too, so it refuses plain http off loopback
/// before making any request, as the pipeline commands do.
#[test]
fn config_check_refuses_plain_http_to_a_remote_host() {
    let out = aks_full_env()
        .env("AGOL_URL", "http://maps.example.com")
        .args(["config", "check"])
        .assert()
        .code(2)
        .stderr(
            contains("config check cannot start: AGOL_URL uses plain http://")
                .and(contains("maps.example.com"))
                .and(contains("use https://")),
        )
        .get_output()
        .clone();
    assert_no_secret(&out);
}

/// Plain http is fine for a loopback endpoint, here given by the environment.
#[tokio::test(flavor = "multi_thread")]
async fn loopback_http_is_allowed() {
    let fakes = Fakes::start().await;
    let endpoint = fakes.pg.uri();
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");
    let out = fakes
        .run_with(
            &[("PGREST_ENDPOINT", endpoint.as_str())],
            &["metadata-to-postgrest", "-a", APP, "-e", "prod"],
        )
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(fakes.pg.rows("knack_metadata").len(), 1);
}

#[test]
fn no_replace_socrata_refuses_a_run_without_date() {
    aks_full_env()
        .args(records("records-to-socrata", "data-tracker", "view_2863"))
        .assert()
        .code(2)
        .stderr(contains("no_replace_socrata").and(contains("--date")));
}

#[test]
fn publisher_without_destination_keys_is_a_config_error() {
    aks_full_env()
        .args(records("records-to-agol", "data-tracker", "view_2863"))
        .assert()
        .code(2)
        .stderr(contains(
            "[apps.data-tracker.containers.view_2863] needs service_id",
        ));
}

/// `records-to-agol` with a date: its output and stderr.
async fn agol_since(fakes: &Fakes) -> (std::process::Output, String) {
    let out = fakes
        .run(&args(
            &records("records-to-agol", APP, VIEW),
            &["-d", "2024-03-27"],
        ))
        .await;
    let err = stderr(&out);
    (out, err)
}

/// A valid run that fails at a destination is a runtime error (exit 1) naming the cause.
#[tokio::test(flavor = "multi_thread")]
async fn runtime_failure_is_exit_1() {
    let fakes = Fakes::start().await;
    for command in [
        vec!["metadata-to-postgrest", "-a", APP, "-e", "prod"],
        records("records-to-postgrest", APP, VIEW).to_vec(),
    ] {
        let out = fakes.run(&command).await;
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    fakes.agol.inject(
        knack_etl::agol_client::testkit::arcgis_error(
            403,
            "You do not have permissions to access this resource or perform this operation.",
        )
        .on_path("/applyEdits"),
    );
    let (out, err) = agol_since(&fakes).await;
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error: ArcGIS Online") && err.contains("permissions"),
        "{err}"
    );
    assert_no_secret(&out);
    assert!(fakes.agol.features(0).is_empty());
}

/// A staging store that refuses the JWT fails the run (exit 1) naming the cause, before any write.
#[tokio::test(flavor = "multi_thread")]
async fn an_expired_jwt_fails_before_any_write() {
    let fakes = Fakes::start().await;
    fakes.pg.expire_jwt();
    let (out, err) = agol_since(&fakes).await;
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error: PostgREST") && err.contains("JWT"),
        "{err}"
    );
    assert_no_secret(&out);
    assert!(fakes.agol.features(0).is_empty());
}

/// Every run that stops before a request (exit 2), at trace level. Runs that reach the fake
/// servers, succeeding and failing, are checked in `tests/e2e.rs`.
#[test]
fn no_secret_is_ever_printed() {
    let runs = [
        records("records-to-socrata", "data-tracker", "view_2863"),
        records("records-to-agol", "data-tracker", "view_2863"),
        records("records-to-postgrest", "data-tracker", "view_9"),
        records("records-to-socrata", "nope", "view_197"),
    ];
    for format in ["text", "json"] {
        for args in runs {
            let out = aks_full_env()
                .env("RUST_LOG", "trace")
                .args(["--log-format", format])
                .args(args)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            assert_no_secret(&out);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn json_log_format_emits_json_lines_on_stderr() {
    let fakes = Fakes::start().await;
    let out = fakes
        .run(&args(
            &["--log-format", "json"],
            &args(
                &records("records-to-postgrest", APP, VIEW),
                &["--date", "2020-09-08T09:21:08-05:00"],
            ),
        ))
        .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(out.stdout.is_empty());
    let lines: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let start = lines
        .iter()
        .find(|l| l["message"] == "starting")
        .expect("a start event");
    assert_eq!(start["container"], VIEW);
    assert_eq!(start["since"], "2020-09-08T14:21:08+00:00");
    let last = lines.last().unwrap();
    assert_eq!(last["level"], "INFO");
    assert_eq!(last["target"], "aks::summary");
    assert_eq!(last["failed"], 0);
    let read = last["read"].as_u64().unwrap();
    assert!(read >= 1, "{last}");
    assert_eq!(last["written"], read);
    assert_eq!(fakes.staged().len() as u64, read);
}

#[test]
fn config_check_offline_passes_on_the_example() {
    aks()
        .arg("--config")
        .arg(EXAMPLE)
        .args(["config", "check", "--offline"])
        .assert()
        .success()
        .stdout(contains("OK (3 apps, 7 containers)"))
        .stdout(contains(
            "shared: [apps.signs-markings]: Socrata dataset qvth-gwdv is shared by containers \
             view_3307, view_3528",
        ));
}

#[test]
fn config_path_falls_back_to_aks_config_then_knack_toml() {
    aks()
        .env("AKS_CONFIG", EXAMPLE)
        .args(["config", "check", "--offline"])
        .assert()
        .success()
        .stdout(contains("knack.example.toml: OK"));
    let dir = tempfile::tempdir().unwrap();
    aks()
        .current_dir(dir.path())
        .args(["config", "check", "--offline"])
        .assert()
        .code(2)
        .stderr(contains("cannot read config file knack.toml").and(contains("AKS_CONFIG")));
    std::fs::copy(EXAMPLE, dir.path().join("knack.toml")).unwrap();
    aks()
        .current_dir(dir.path())
        .args(["config", "check", "--offline"])
        .assert()
        .success();
}
