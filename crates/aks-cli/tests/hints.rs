//! An unreachable service is reported in one format by every command: the error, its cause, then
//! `check: <setting> (<url>) is right, and reachable from here (...)`, the setting being the env
//! var or config key the URL came from; no client adds a hint of its own.

mod common;

use common::{stderr, Fakes, APP};

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
