//! The real `aks` binary against the four fake servers seeded with the generated fixture app:
//! every command end to end, dry runs, JSON logs, bad input, and that no secret is ever printed.

mod common;

use common::{args, assert_no_secret, stderr, Fakes, APP, APP_ID, DATASET, RECORDS, VIEW};
use serde_json::Value;

const METADATA: &[&str] = &["metadata-to-postgrest", "-a", APP, "-e", "dev"];
const TO_PGREST: &[&str] = &["records-to-postgrest", "-a", APP, "-c", VIEW, "-e", "dev"];
const TO_SOCRATA: &[&str] = &["records-to-socrata", "-a", APP, "-c", VIEW, "-e", "dev"];
const TO_AGOL: &[&str] = &["records-to-agol", "-a", APP, "-c", VIEW, "-e", "dev"];

/// Runs a command that must succeed, returning its stderr.
async fn ok(fakes: &Fakes, args: &[&str]) -> String {
    let out = fakes.run(args).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{args:?} failed:\n{err}");
    assert_no_secret(&out);
    err
}

/// Metadata and every fixture record staged, then the request logs of the writers cleared.
async fn staged() -> Fakes {
    let fakes = Fakes::start().await;
    ok(&fakes, METADATA).await;
    ok(&fakes, TO_PGREST).await;
    assert_eq!(fakes.staged().len(), RECORDS);
    fakes.pg.clear_requests();
    fakes.socrata.clear_requests();
    fakes
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_to_postgrest_stores_the_metadata_row() {
    let fakes = Fakes::start().await;
    let err = ok(&fakes, METADATA).await;
    let rows = fakes.pg.rows("knack_metadata");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["app_id"], APP_ID);
    assert_eq!(
        rows[0]["metadata"]["application"]["id"], APP_ID,
        "the stored metadata is the app's"
    );
    assert!(
        err.contains("metadata-to-postgrest acc: read 1, written 1"),
        "{err}"
    );
    // Metadata is public: no key is sent to Knack.
    assert!(fakes
        .knack
        .requests()
        .iter()
        .all(|r| !r.headers.iter().any(|(k, _)| k == "x-knack-rest-api-key")));
}

#[tokio::test(flavor = "multi_thread")]
async fn records_to_postgrest_full_reload_stages_every_record() {
    let fakes = Fakes::start().await;
    let err = ok(&fakes, TO_PGREST).await;
    let staged = fakes.staged();
    assert_eq!(staged.len(), RECORDS);
    let ids = fixture_ids();
    for row in &staged {
        assert!(
            ids.iter().any(|id| row["record_id"] == id.as_str()),
            "{row}"
        );
    }
    assert!(
        err.contains(&format!(
            "records-to-postgrest acc/view_1: read {RECORDS}, written {RECORDS}, deleted 0, failed 0"
        )),
        "{err}"
    );
}

fn fixture_ids() -> Vec<String> {
    common::fixture("records_view_1.json")
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn records_to_socrata_full_publishes_every_staged_record() {
    let fakes = staged().await;
    let err = ok(&fakes, TO_SOCRATA).await;
    let rows = fakes.socrata.rows(DATASET);
    assert_eq!(rows.len(), RECORDS);
    let ids = fixture_ids();
    for row in &rows {
        assert!(ids.iter().any(|id| row["id"] == id.as_str()), "{row:?}");
    }
    assert!(
        err.contains(&format!(
            "records-to-socrata acc/view_1: read {RECORDS}, written {RECORDS}"
        )),
        "{err}"
    );
    // The credentials from the environment were sent (the fake refuses writes without them).
    assert!(fakes
        .socrata
        .requests()
        .iter()
        .any(|r| r.method != "GET" && r.header("authorization") == Some("[redacted]")));
}

#[tokio::test(flavor = "multi_thread")]
async fn records_to_agol_full_publishes_every_staged_record() {
    let fakes = staged().await;
    let err = ok(&fakes, TO_AGOL).await;
    let features = fakes.agol.features(0);
    assert_eq!(features.len(), RECORDS);
    let ids = fixture_ids();
    for f in &features {
        assert!(
            ids.iter().any(|id| f.attributes["id"] == id.as_str()),
            "{f:?}"
        );
    }
    assert!(
        err.contains(&format!(
            "records-to-agol acc/view_1: read {RECORDS}, written {RECORDS}"
        )),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_runs_write_nothing() {
    let fakes = Fakes::start().await;
    for (cmd, n) in [(METADATA, 1), (TO_PGREST, RECORDS)] {
        let err = ok(&fakes, &args(cmd, &["--dry-run"])).await;
        // One vocabulary: the run's own line and the summary both say "would write N".
        assert_eq!(
            err.matches(&format!("would write {n} (dry run)")).count(),
            if n == 1 { 1 } else { 2 },
            "{cmd:?}:\n{err}"
        );
        assert!(!err.contains("written 0"), "{cmd:?}:\n{err}");
    }
    assert_eq!(fakes.writes(), Vec::<String>::new());
    assert!(fakes.pg.rows("knack").is_empty());
    assert!(fakes.pg.rows("knack_metadata").is_empty());

    let fakes = staged().await;
    for cmd in [TO_SOCRATA, TO_AGOL] {
        let err = ok(&fakes, &args(cmd, &["--dry-run"])).await;
        assert!(
            err.contains(&format!("would write {RECORDS} (dry run)")),
            "{cmd:?}:\n{err}"
        );
    }
    assert_eq!(fakes.writes(), Vec::<String>::new());
    assert!(fakes.socrata.rows(DATASET).is_empty());
    assert!(fakes.agol.features(0).is_empty());
}

fn json_lines(err: &str) -> Vec<Value> {
    err.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_are_one_object_per_line_for_every_command() {
    let fakes = Fakes::start().await;
    for cmd in [METADATA, TO_PGREST, TO_SOCRATA, TO_AGOL] {
        let out = fakes.run(&args(cmd, &["--log-format", "json"])).await;
        assert_eq!(out.status.code(), Some(0), "{cmd:?}:\n{}", stderr(&out));
        assert!(out.stdout.is_empty());
        assert_no_secret(&out);
        let lines = json_lines(&stderr(&out));
        let summary = lines
            .iter()
            .find(|l| l["target"] == "aks::summary")
            .unwrap_or_else(|| panic!("{cmd:?}: no summary in {lines:?}"));
        assert_eq!(summary["failed"], 0);
        assert!(summary["read"].as_u64().unwrap() >= 1, "{summary}");
    }
    // A failure is a JSON line too, with its exit code.
    let out = fakes
        .run_with(
            &[("KNACK_API_KEY", "kk-wrong-never-print")],
            &args(TO_PGREST, &["--log-format", "json"]),
        )
        .await;
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&stderr(&out));
    let last = lines.last().unwrap();
    assert_eq!(last["level"], "ERROR");
    assert_eq!(last["exit_code"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_knack_key_fails_naming_it_and_writes_nothing() {
    let fakes = Fakes::start().await;
    let wrong = "kk-wrong-never-print";
    let out = fakes.run_with(&[("KNACK_API_KEY", wrong)], TO_PGREST).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("KNACK_API_KEY"), "{err}");
    assert!(!err.contains(wrong), "{err}");
    assert_no_secret(&out);
    // No data is written; the run's start and failure are recorded in the watermark table.
    assert_eq!(fakes.data_writes(), Vec::<String>::new());
    assert!(fakes.pg.rows("knack").is_empty());
    assert_eq!(
        fakes.pg.rows("knack_sync_state")[0]["last_result"],
        "failed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_container_is_exit_2_before_any_request() {
    let fakes = Fakes::start().await;
    for cmd in [
        "records-to-postgrest",
        "records-to-socrata",
        "records-to-agol",
    ] {
        let out = fakes
            .run(&[cmd, "-a", APP, "-c", "view_99", "-e", "dev"])
            .await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("unknown container `view_99`"), "{err}");
        assert!(err.contains(VIEW), "lists the known ones: {err}");
        assert_no_secret(&out);
    }
    assert_eq!(fakes.request_count(), 0);
}

const WRONG_KEY: (&str, &str) = ("KNACK_API_KEY", "kk-wrong-never-print");
const WRONG_SECRET: (&str, &str) = ("SOCRATA_API_KEY_SECRET", "sks-wrong-never-print");
const WRONG_PASSWORD: (&str, &str) = ("AGOL_PASSWORD", "agp-wrong-never-print");
const WRONG_JWT: (&str, &str) = ("PGREST_JWT", "jwt-wrong-never-print");
/// Variables overridden, the command, the expected exit code.
type Run<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], i32);

/// Successful and failing runs, text and JSON, at trace level: no credential reaches the output.
#[tokio::test(flavor = "multi_thread")]
async fn no_secret_is_printed_even_at_trace_level() {
    let fakes = staged().await;
    let runs: &[Run] = &[
        (&[], METADATA, 0),
        (&[], TO_PGREST, 0),
        (&[], TO_SOCRATA, 0),
        (&[], TO_AGOL, 0),
        (&[WRONG_KEY], TO_PGREST, 1),
        (&[WRONG_SECRET], TO_SOCRATA, 1),
        (&[WRONG_PASSWORD], TO_AGOL, 1),
        (&[WRONG_JWT], METADATA, 1),
    ];
    for format in ["text", "json"] {
        for (over, cmd, code) in runs {
            let mut over = over.to_vec();
            over.push(("RUST_LOG", "trace"));
            let out = fakes
                .run_with(&over, &args(cmd, &["--log-format", format]))
                .await;
            let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
            assert_eq!(out.status.code(), Some(*code), "{over:?} {cmd:?}:\n{all}");
            assert_no_secret(&out);
            for (name, value) in [WRONG_KEY, WRONG_SECRET, WRONG_PASSWORD, WRONG_JWT] {
                assert!(!all.contains(value), "{name} leaked:\n{all}");
            }
        }
    }
}
