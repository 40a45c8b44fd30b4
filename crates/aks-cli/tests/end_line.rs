//! With text logs (the default), a failed command ends, after its `error:` line, with one
//! `summary:` line holding the facts of the JSON log's summary event: what stopped, the counts so
//! far, the duration, and the exit code.

mod common;

use common::{args, assert_no_secret, records, stderr, Fakes, APP, VIEW};
use knack_etl::socrata_client::testkit::Fault;

/// Runs `cmd` (text logs), expecting `code`; returns the end line after checking it is the
/// last line of stderr, alone of its kind, after the error.
async fn end_line(fakes: &Fakes, over: &[(&str, &str)], cmd: &[&str], code: i32) -> String {
    let out = fakes.run_with(over, cmd).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "{cmd:?}: {err}");
    assert_no_secret(&out);
    let lines: Vec<&str> = err.lines().collect();
    let last = *lines
        .last()
        .unwrap_or_else(|| panic!("{cmd:?}: nothing on stderr"));
    assert!(last.starts_with("summary: "), "{cmd:?}: {err}");
    assert!(
        last.ends_with(&format!("; exit code {code}")),
        "{cmd:?}: {err}"
    );
    let error = lines.iter().position(|l| l.starts_with("error: "));
    assert!(error.is_some_and(|i| i < lines.len() - 1), "{cmd:?}: {err}");
    assert_eq!(err.matches("summary: ").count(), 1, "{cmd:?}: {err}");
    last.to_owned()
}

/// A records run that stopped: its own counts and duration, printed once (not also before the
/// error, as the stopped summary event used to be).
#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_run_ends_with_its_counts_duration_and_exit_code() {
    let fakes = Fakes::start().await;
    fakes
        .run(&["metadata-to-postgrest", "-a", APP, "-e", "dev"])
        .await;
    let cmd = args(
        &records("records-to-socrata", APP, VIEW),
        &["-d", "2024-01-01"],
    );
    let over = [("SOCRATA_URL", "http://127.0.0.1:9")];
    let line = end_line(&fakes, &over, &cmd, 1).await;
    let head = format!("summary: records-to-socrata {APP}/{VIEW}: stopped after read ");
    assert!(line.starts_with(&head), "{line}");
    assert!(
        line.contains(", written 0, deleted 0, failed ") && line.contains("s; exit code 1"),
        "{line}"
    );
    let out = fakes.run_with(&over, &cmd).await;
    assert_eq!(stderr(&out).matches("stopped after").count(), 1);
}

/// Commands with no counts of their own name themselves and their duration; a refusal before
/// any request ends the same way, with its exit code 2.
#[tokio::test(flavor = "multi_thread")]
async fn a_command_without_counts_ends_with_its_name_duration_and_exit_code() {
    let fakes = Fakes::start().await;
    let status = ["status", "-a", APP, "-e", "dev"];
    let line = end_line(&fakes, &[("PGREST_JWT", "wrong")], &status, 1).await;
    assert!(
        line.starts_with("summary: status: stopped after "),
        "{line}"
    );
    assert!(line.ends_with("s; exit code 1"), "{line}");

    let metadata = ["metadata-to-postgrest", "-a", APP, "-e", "dev"];
    let line = end_line(&fakes, &[("PGREST_JWT", "")], &metadata, 2).await;
    assert!(
        line.starts_with("summary: metadata-to-postgrest: stopped after "),
        "{line}"
    );
}

/// A sync whose publisher failed: its totals over the stages, and how many failed.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_sync_ends_with_its_totals() {
    let fakes = Fakes::start().await;
    fakes
        .socrata
        .inject(Fault::status(403).on_method("POST").times(1));
    let line = end_line(&fakes, &[], &["sync", "-a", APP, "-e", "dev"], 1).await;
    assert!(
        line.starts_with(&format!(
            "summary: sync {APP}: 1 of 3 stage(s) failed or skipped; read "
        )),
        "{line}"
    );
    assert!(
        line.contains(", failed ") && line.contains(" in "),
        "{line}"
    );
}

/// JSON logs are unchanged: no text end line (the summary event comes before the ERROR event).
#[tokio::test(flavor = "multi_thread")]
async fn json_logs_get_no_text_line() {
    let fakes = Fakes::start().await;
    let cmd = ["status", "-a", APP, "-e", "dev", "--log-format", "json"];
    let out = fakes.run_with(&[("PGREST_JWT", "wrong")], &cmd).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(!stderr(&out).contains("summary: "), "{}", stderr(&out));
}
