//! An unreachable service is reported in one format by every command: the error, its cause, then
//! `check: <setting> (<url>) is right, and reachable from here (...)`, the setting being the env
//! var, or the config table, key and file, the URL came from; no client adds a hint of its own.

mod common;

use common::{args, records, stderr, Fakes, APP, VIEW};

const DEAD: &str = "http://127.0.0.1:9";

/// Runs `cmd` with `var` pointing at a port nobody listens on; returns stderr after checking the
/// failure names `var` once, in the shared format.
async fn unreachable(var: &str, cmd: &[&str]) -> String {
    let fakes = Fakes::start().await;
    let out = fakes.run_with(&[(var, DEAD)], cmd).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{cmd:?}: {err}");
    let error = err
        .lines()
        .skip_while(|l| !l.starts_with("error: "))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        error.contains(&format!("check: {var} ({DEAD}/) is right, and reachable")),
        "{cmd:?}: {error}"
    );
    assert_eq!(error.matches("check").count(), 1, "{cmd:?}: {error}");
    error
}

#[tokio::test(flavor = "multi_thread")]
async fn status_names_pgrest_endpoint() {
    unreachable("PGREST_ENDPOINT", &["status", "-a", APP, "-e", "dev"]).await;
}

/// `status --verify` compares each destination; one that cannot be reached is named like in
/// every other command, under the container it stopped at.
#[tokio::test(flavor = "multi_thread")]
async fn status_verify_names_an_unreachable_destination() {
    let verify = ["status", "-a", APP, "-e", "dev", "--verify"];
    for (var, system) in [("SOCRATA_URL", "Socrata"), ("AGOL_URL", "ArcGIS Online")] {
        let error = unreachable(var, &verify).await;
        assert!(error.contains(&format!("{VIEW}: {system}: ")), "{error}");
        let twice = format!("{system}: {system}:");
        assert!(!error.contains(&twice), "the system named once: {error}");
        assert!(error.contains("connection refused"), "{error}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_that_cannot_start_names_pgrest_endpoint() {
    let error = unreachable("PGREST_ENDPOINT", &["sync", "-a", APP, "-e", "dev"]).await;
    assert!(error.contains("could not start"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn backup_socrata_names_socrata_url() {
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().to_str().unwrap();
    unreachable("SOCRATA_URL", &common::backup_keeping_two(to)).await;
}

/// A URL written in an environment table of the config file (`[env.prod.agol] url`) is named by
/// that table, its key and the file, not by the top-level key it overrides; for every service.
#[tokio::test(flavor = "multi_thread")]
async fn a_url_from_an_env_table_names_that_table_key_and_file() {
    let publish = |cmd| args(&records(cmd, APP, VIEW), &["-d", "2024-01-01"]);
    let cases: [(&str, &str, &str, Vec<&str>); 4] = [
        (
            "dev",
            "postgrest",
            "endpoint",
            vec!["status", "-a", APP, "-e", "dev"],
        ),
        (
            "prod",
            "knack",
            "api_url",
            records("records-to-postgrest", APP, VIEW).to_vec(),
        ),
        ("prod", "socrata", "url", publish("records-to-socrata")),
        ("prod", "agol", "url", publish("records-to-agol")),
    ];
    for (env, table, key, cmd) in cases {
        let fakes = Fakes::start().await;
        // The publishers read the staging store first: it must hold the metadata.
        fakes
            .run(&["metadata-to-postgrest", "-a", APP, "-e", "dev"])
            .await;
        let mut text = std::fs::read_to_string(&fakes.config).unwrap();
        text.push_str(&format!("\n[env.{env}.{table}]\n{key} = \"{DEAD}\"\n"));
        std::fs::write(&fakes.config, text).unwrap();
        let out = fakes.run(&cmd).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{cmd:?}: {err}");
        let origin = format!("[env.{env}.{table}] {key} in {}", fakes.config.display());
        assert!(
            err.contains(&format!(
                "check: {origin} ({DEAD}/) is right, and reachable"
            )),
            "{cmd:?}: {err}"
        );
        assert_eq!(err.matches("check: ").count(), 1, "{cmd:?}: {err}");
    }
}
