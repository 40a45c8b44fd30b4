//! `aks sync` stopped by SIGTERM (how Airflow stops a task) mid-run: it exits 143 soon after,
//! saying so in one line, with no stage row left `running` in `api.knack_sync_state`, every
//! destination whole (nothing deleted, nothing doubled), and the next sync completes. A run that
//! cannot end by itself is ended 20 s after the signal, or at once at a second one, with 143.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::sync::{busy_view, socrata_client, SYNC};
use common::{Fakes, DATASET};
use serde_json::{json, Value};

/// The ids in `rows`, asserting none is there twice.
fn unique(rows: impl IntoIterator<Item = String>, what: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for id in rows {
        assert!(ids.insert(id.clone()), "{what}: {id} is there twice");
    }
    ids
}

fn staged(fakes: &Fakes) -> BTreeSet<String> {
    let rows = fakes.staged().into_iter();
    unique(
        rows.map(|r| r["record_id"].as_str().unwrap().to_string()),
        "staging",
    )
}

fn socrata(fakes: &Fakes) -> BTreeSet<String> {
    let rows = fakes.socrata.rows(DATASET).into_iter();
    unique(
        rows.map(|r| r["id"].as_str().unwrap().to_string()),
        "Socrata",
    )
}

fn agol(fakes: &Fakes) -> BTreeSet<String> {
    let features = fakes.agol.features(0).into_iter();
    let ids = features.map(|f| f.attributes["id"].as_str().unwrap().to_string());
    unique(ids, "ArcGIS")
}

/// `aks sync` against the fakes, started; its stderr goes to the file returned (in the directory
/// returned with it).
fn spawn_sync(fakes: &Fakes) -> (Child, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let err = dir.path().join("stderr");
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("aks"));
    cmd.env_clear()
        .arg("--config")
        .arg(&fakes.config)
        .args(SYNC)
        .envs(fakes.env())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap());
    (cmd.spawn().unwrap(), err, dir)
}

fn sigterm(child: &Child) {
    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
}

/// How `child` exited. Generous: aks exits within 20 s of a signal whatever happens, and a run
/// that ends by itself sooner.
async fn exited(child: &mut Child) -> ExitStatus {
    let signalled = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(30),
            "aks did not exit"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn sync_rows(fakes: &Fakes) -> Vec<Value> {
    fakes.pg.rows("knack_sync_state")
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_sync_exits_143_with_no_stage_left_running_and_every_destination_whole() {
    let fakes = Fakes::start().await;
    // 3,000 records (three Knack pages), and a Socrata row the full replace would delete last.
    let ids: BTreeSet<String> = busy_view(&fakes, 2_940).into_iter().collect();
    socrata_client(&fakes)
        .upsert(DATASET, &[json!({"id": "stale-row"})])
        .await
        .unwrap();
    // Slow enough that the staging load is still writing when the signal comes.
    fakes.pg.set_latency(Duration::from_millis(300));

    let (mut child, err, _dir) = spawn_sync(&fakes);

    // Mid-run: the first page of the staging load has reached PostgREST.
    let writing = || {
        let requests = fakes.pg.requests();
        requests
            .iter()
            .any(|r| r.method == "POST" && r.path == "/knack")
    };
    let waited = Instant::now();
    while !writing() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "aks ended before the signal"
        );
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "no staging write"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let signalled = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        // Generous: aks exits within 20 s whatever happens; a run that ends by itself is faster.
        assert!(
            signalled.elapsed() < Duration::from_secs(30),
            "aks did not exit"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let stderr = std::fs::read_to_string(&err).unwrap();
    assert_eq!(status.code(), Some(143), "{stderr}");
    let stop_lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("SIGTERM: stopping after the requests in flight"))
        .collect();
    assert_eq!(stop_lines.len(), 1, "{stderr}");
    assert!(
        stderr.contains("stopped by SIGTERM before it finished"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("exiting now"),
        "the run ended by itself: {stderr}"
    );

    // No stage left running: the staging load failed, its publishers never started.
    let rows = sync_rows(&fakes);
    assert!(!rows.is_empty());
    for row in &rows {
        assert_ne!(row["last_result"], "running", "{row}");
    }
    let postgrest = rows
        .iter()
        .find(|r| r["destination"] == "postgrest")
        .unwrap();
    assert_eq!(postgrest["last_result"], "failed", "{postgrest}");
    assert!(postgrest["watermark"].is_null(), "{postgrest}");
    // Every destination whole: some records staged, none twice; Socrata and ArcGIS untouched.
    let partly = staged(&fakes);
    assert!(
        !partly.is_empty() && partly.len() < ids.len(),
        "{}",
        partly.len()
    );
    assert!(partly.is_subset(&ids));
    assert_eq!(socrata(&fakes), BTreeSet::from(["stale-row".to_string()]));
    assert!(agol(&fakes).is_empty());

    // The next sync completes to what an uninterrupted one leaves.
    fakes.pg.set_latency(Duration::ZERO);
    let next = fakes.run(SYNC).await;
    assert_eq!(next.status.code(), Some(0), "{}", common::stderr(&next));
    assert_eq!(staged(&fakes), ids);
    assert_eq!(socrata(&fakes), ids);
    assert_eq!(agol(&fakes), ids);
    for row in sync_rows(&fakes) {
        assert_eq!(row["last_result"], "succeeded", "{row}");
    }
}

/// `aks sync` with every PostgREST answer a minute away (the run cannot end by itself here),
/// sent SIGTERM once its stop line is logged; its stderr.
async fn stuck_sync_stopped(fakes: &Fakes) -> (Child, PathBuf, tempfile::TempDir) {
    fakes.pg.set_latency(Duration::from_secs(60));
    let (child, err, dir) = spawn_sync(fakes);
    // Handlers installed: the preflight's first request is waiting.
    let waited = Instant::now();
    while fakes.pg.requests().is_empty() {
        assert!(waited.elapsed() < Duration::from_secs(60), "no request");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sigterm(&child);
    let waited = Instant::now();
    while !read(&err).contains("SIGTERM: stopping after the requests in flight") {
        assert!(waited.elapsed() < Duration::from_secs(30), "{}", read(&err));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (child, err, dir)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_sigterm_exits_at_once_with_143() {
    let fakes = Fakes::start().await;
    let (mut child, err, _dir) = stuck_sync_stopped(&fakes).await;
    sigterm(&child);
    let status = exited(&mut child).await;
    assert_eq!(status.code(), Some(143), "{}", read(&err));
    let said = read(&err);
    assert!(
        said.contains("SIGTERM again: exiting now with 143"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_that_does_not_end_20_s_after_sigterm_is_ended_with_143() {
    let fakes = Fakes::start().await;
    let (mut child, err, _dir) = stuck_sync_stopped(&fakes).await;
    let status = exited(&mut child).await;
    assert_eq!(status.code(), Some(143), "{}", read(&err));
    let said = read(&err);
    assert!(
        said.contains("SIGTERM: the run had not ended 20s after it; exiting now with 143"),
        "{said}"
    );
}
