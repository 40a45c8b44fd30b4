//! What an operator meets when something is wrong: argument errors in JSON, network failures
//! naming their cause and setting, endpoints, dry-run wording, and no record contents at INFO.

mod common;

use std::time::Instant;

use common::{aks, args, assert_no_secret, records, stderr, Fakes, APP, RECORDS, VIEW};
use serde_json::Value;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../knack.example.toml");
const METADATA: &[&str] = &["metadata-to-postgrest", "-a", APP, "-e", "dev"];

fn json_lines(err: &str) -> Vec<Value> {
    err.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// A bad `-d`, a missing `-e`, an unknown flag: with `--log-format json` each is one ERROR event
/// carrying exit code 2, as deploy/README promises; every stderr line is JSON.
#[test]
fn argument_errors_are_json_events_with_json_logs() {
    let cases: &[(&[&str], &str)] = &[
        (
            &args(
                &["--log-format", "json"],
                &args(&records("records-to-postgrest", "x", VIEW), &["-d", "soon"]),
            ),
            "soon",
        ),
        (
            &["metadata-to-postgrest", "-a", "x", "--log-format=json"],
            "--env",
        ),
        (
            &["--log-format", "json", "config", "check", "--nope"],
            "--nope",
        ),
    ];
    for (argv, says) in cases {
        let out = aks().args(*argv).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{argv:?}");
        assert!(out.stdout.is_empty(), "{argv:?}");
        let lines = json_lines(&stderr(&out));
        assert_eq!(lines.len(), 1, "{argv:?}: {lines:?}");
        let event = &lines[0];
        assert_eq!(event["level"], "ERROR", "{event}");
        assert_eq!(event["exit_code"], 2, "{event}");
        let message = event["message"].as_str().unwrap();
        assert!(message.contains(says), "{argv:?}: {message}");
    }
    // Text logs keep clap's own message.
    let out = aks()
        .args(["metadata-to-postgrest", "-a", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.starts_with("error:") && err.contains("--env"), "{err}");
}

#[test]
fn help_and_version_print_as_usual_with_json_logs() {
    let out = aks()
        .args(["--log-format", "json", "--help"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage:"));
    let out = aks()
        .args(["--log-format", "json", "--version"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("aks "));
}

/// Runs `cmd` with `over`, expecting exit 1; returns stderr (JSON lines) and the wall time.
async fn failing(fakes: &Fakes, over: &[(&str, &str)], cmd: &[&str]) -> (Vec<Value>, u128) {
    let started = Instant::now();
    let out = fakes
        .run_with(over, &args(cmd, &["--log-format", "json"]))
        .await;
    let wall = started.elapsed().as_millis();
    assert_eq!(out.status.code(), Some(1), "{cmd:?}:\n{}", stderr(&out));
    assert_no_secret(&out);
    (json_lines(&stderr(&out)), wall)
}

/// Nothing listens on port 9 (discard): connections are refused.
const DEAD: &str = "http://127.0.0.1:9";

/// An unreachable system: the error names the underlying cause (connection refused) and the
/// setting to check under its user-facing name, and the summary reports the run's real
/// duration, retries included (each client's bounded retries take seconds, not the 0.0s of a
/// report built at the failure).
async fn unreachable(var: &str, cmd: &[&str]) {
    let fakes = Fakes::start().await;
    if var != "PGREST_ENDPOINT" {
        // The publishers read the staging store first: it must hold the metadata.
        fakes.run(METADATA).await;
    }
    let (lines, wall) = failing(&fakes, &[(var, DEAD)], cmd).await;
    let error = lines.last().unwrap();
    assert_eq!(error["exit_code"], 1, "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("check: {var} (http://127.0.0.1:9/")),
        "{var}: {message}"
    );
    assert!(
        message.to_lowercase().contains("connection refused"),
        "{var}: the root cause: {message}"
    );
    assert_eq!(
        message.matches("check").count(),
        1,
        "one hint, in the one format (no client's own): {message}"
    );
    if var == "KNACK_API_URL" {
        // knack-client (on knack-services-core) names no library method any more.
        assert!(!message.contains("ClientBuilder"), "{message}");
    }
    let summary = lines
        .iter()
        .find(|l| l["target"] == "aks::summary")
        .unwrap_or_else(|| panic!("{var}: no summary in {lines:?}"));
    assert_eq!(summary["stopped"], true);
    let reported = summary["duration_ms"].as_u64().unwrap() as u128;
    assert!(
        reported >= 1_000 && reported <= wall,
        "{var}: {reported} ms of {wall} ms"
    );
    let text = summary["message"].as_str().unwrap();
    assert!(text.contains("stopped after read"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_knack_names_knack_api_url() {
    unreachable("KNACK_API_URL", &records("records-to-postgrest", APP, VIEW)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_postgrest_names_pgrest_endpoint() {
    unreachable("PGREST_ENDPOINT", METADATA).await;
}

/// An incremental publisher run.
fn publish(command: &str) -> Vec<&str> {
    args(&records(command, APP, VIEW), &["-d", "2024-01-01"])
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_socrata_names_socrata_url() {
    unreachable("SOCRATA_URL", &publish("records-to-socrata")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_agol_names_agol_url() {
    unreachable("AGOL_URL", &publish("records-to-agol")).await;
}

/// The same failure from a URL given in the config file names the table, the key and the file.
#[tokio::test(flavor = "multi_thread")]
async fn a_failure_names_the_config_key_when_the_url_came_from_the_file() {
    let fakes = Fakes::start().await;
    let text = std::fs::read_to_string(&fakes.config).unwrap();
    let text = text.replacen(&fakes.knack.uri(), "http://127.0.0.1:9/v1", 1);
    std::fs::write(&fakes.config, text).unwrap();
    let (lines, _) = failing(&fakes, &[], METADATA).await;
    let message = lines.last().unwrap()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    let origin = format!("[knack] api_url in {}", fakes.config.display());
    assert!(
        message.contains(&format!("check: {origin} (http://127.0.0.1:9/v1)")),
        "{message}"
    );
}

#[test]
fn a_bare_host_endpoint_asks_for_a_full_https_url() {
    let out = aks()
        .arg("--config")
        .arg(EXAMPLE)
        .env("PGREST_ENDPOINT", "pgrest.internal:3000")
        .env("PGREST_JWT", "x")
        .env("KNACK_APP_ID", "5815f29f7f7252cc2ca91c4f")
        .args(["metadata-to-postgrest", "-a", "data-tracker", "-e", "prod"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("PGREST_ENDPOINT must be a full URL with its scheme, such as https://pgrest.internal:3000"),
        "{err}"
    );
    assert!(!err.contains("relative URL"), "{err}");
}

/// Plain http off loopback: refused by default; with the opt-in (env or config) accepted and
/// logged as a warning, then used (here it fails to resolve, and the error names the setting).
#[tokio::test(flavor = "multi_thread")]
async fn allow_insecure_http_is_an_explicit_logged_opt_in() {
    let fakes = Fakes::start().await;
    let private = ("PGREST_ENDPOINT", "http://pgrest.invalid:3000");
    let out = fakes.run_with(&[private], METADATA).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("allow_insecure_http = true"));

    let (lines, _) = failing(
        &fakes,
        &[private, ("PGREST_ALLOW_INSECURE_HTTP", "true")],
        METADATA,
    )
    .await;
    let warning = lines
        .iter()
        .find(|l| l["level"] == "WARN")
        .unwrap_or_else(|| panic!("no warning in {lines:?}"));
    let w = warning["message"].as_str().unwrap();
    assert!(
        w.contains("PGREST_ENDPOINT uses plain http:// to pgrest.invalid"),
        "{w}"
    );
    assert!(w.contains("allowed by PGREST_ALLOW_INSECURE_HTTP"), "{w}");
    let error = lines.last().unwrap()["message"].as_str().unwrap();
    assert!(
        error.contains("check: PGREST_ENDPOINT (http://pgrest.invalid:3000/)"),
        "{error}"
    );

    // The config key does the same, per endpoint table.
    let text = std::fs::read_to_string(&fakes.config).unwrap();
    let text = text.replacen(
        &format!("endpoint = \"{}\"", fakes.pg.uri()),
        "endpoint = \"http://pgrest.invalid:3000\"\nallow_insecure_http = true",
        1,
    );
    std::fs::write(&fakes.config, text).unwrap();
    // A dry run of the metadata never reaches PostgREST: only the validation and the warning.
    let out = fakes
        .run(&args(METADATA, &["--dry-run", "--log-format", "json"]))
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = json_lines(&stderr(&out));
    let file = fakes.config.display();
    let warned = format!(
        "[postgrest] endpoint in {file} uses plain http:// to pgrest.invalid, allowed by \
         [postgrest] allow_insecure_http in {file}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "WARN" && l["message"].as_str().unwrap().contains(&warned)),
        "{lines:?}"
    );
    let out = fakes
        .run_with(&[("PGREST_ALLOW_INSECURE_HTTP", "perhaps")], METADATA)
        .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("PGREST_ALLOW_INSECURE_HTTP=perhaps must be true or false"));
}

/// aks's loopback rule is all of 127.0.0.0/8, ::1 and localhost: http to 127.0.0.2 passes
/// validation without any opt-in or warning (a dry run of the metadata never connects to it).
#[tokio::test(flavor = "multi_thread")]
async fn all_of_127_0_0_0_8_counts_as_loopback() {
    let fakes = Fakes::start().await;
    for url in [
        "http://127.0.0.2:3000",
        "http://[::1]:3000",
        "http://localhost:3000",
    ] {
        let out = fakes
            .run_with(&[("PGREST_ENDPOINT", url)], &args(METADATA, &["--dry-run"]))
            .await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{url}: {err}");
        assert!(!err.contains("plain http"), "{err}");
    }
    let out = fakes
        .run_with(&[("PGREST_ENDPOINT", "http://128.0.0.1:3000")], METADATA)
        .await;
    assert_eq!(out.status.code(), Some(2), "off loopback: {}", stderr(&out));
}

/// A dry run says "would write N" everywhere, never "written 0, skipped N", and logs no record
/// contents at INFO (they appear at TRACE only, which proves the check can fail).
#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_reports_would_write_and_logs_no_record_contents_at_info() {
    let fakes = Fakes::start().await;
    let to_pg = records("records-to-postgrest", APP, VIEW);
    let out = fakes.run(&args(&to_pg, &["--dry-run"])).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!("would write {RECORDS} (dry run)")),
        "{err}"
    );
    assert!(!err.contains("written 0"), "{err}");
    assert!(!err.contains(&format!("skipped {RECORDS}")), "{err}");
    // A street address and a free-text value of the fixture's first record.
    let contents = ["CESAR CHAVEZ", "Emoji test"];
    for c in contents {
        assert!(!err.contains(c), "record contents at INFO: {c}\n{err}");
    }
    let out = fakes
        .run_with(&[("RUST_LOG", "trace")], &args(&to_pg, &["--dry-run"]))
        .await;
    let err = stderr(&out);
    assert!(
        contents.iter().any(|c| err.contains(c)),
        "TRACE shows a sample"
    );
}

/// `config check` only reads, so `--dry-run` changes nothing in what it does.
#[test]
fn config_check_honours_dry_run() {
    let out = aks()
        .arg("--config")
        .arg(EXAMPLE)
        .args(["--dry-run", "config", "check", "--offline"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("OK (3 apps, 7 containers)"));
}

/// Online: OK only when everything matched; otherwise the count of problems comes first.
#[tokio::test(flavor = "multi_thread")]
async fn online_config_check_leads_with_the_problem_count() {
    let fakes = Fakes::start().await;
    let text = std::fs::read_to_string(&fakes.config).unwrap();
    let broken = text.replace(
        "location_fields = [\"field_9\"]",
        "location_fields = [\"field_999\"]",
    );
    std::fs::write(&fakes.config, broken).unwrap();
    let out = fakes.run(&["config", "check"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stdout}{}", stderr(&out));
    assert!(!stdout.contains("OK"), "{stdout}");
    let first = stdout.lines().next().unwrap();
    assert!(first.contains("problem(s)"), "{stdout}");
    let count: usize = first
        .rsplit(": ")
        .next()
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {first}"));
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("  - ")).count(),
        count
    );
    assert!(stdout.contains("field_999"), "{stdout}");
    assert!(stderr(&out).contains(&format!("{count} problem(s)")));
}

/// knack-client refuses plain http off loopback unless told otherwise: aks passes the endpoint's
/// opt-in on, so the run gets as far as the network (and fails there, naming the setting),
/// instead of stopping at the client's builder.
#[tokio::test(flavor = "multi_thread")]
async fn the_knack_opt_in_reaches_the_client() {
    let fakes = Fakes::start().await;
    let private = ("KNACK_API_URL", "http://knack.invalid/v1");
    let dry = args(METADATA, &["--dry-run"]);
    let out = fakes.run_with(&[private], &dry).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let (lines, _) = failing(&fakes, &[private, ("KNACK_ALLOW_INSECURE_HTTP", "1")], &dry).await;
    let error = lines.last().unwrap()["message"].as_str().unwrap();
    assert!(!error.contains("cannot set up the Knack client"), "{error}");
    assert!(
        error.contains("check: KNACK_API_URL (http://knack.invalid/v1)"),
        "{error}"
    );
}

/// Environment variables set for one run, over the fakes' own.
type Overrides<'a> = &'a [(&'a str, &'a str)];

/// Every command's failure ends a JSON log with a summary event (`stopped: true`) and then the
/// ERROR event with the exit code, also the commands that log no summary of their own: `status`,
/// a `sync` that could not start, `backup-socrata`. A run that logs its own stopped summary
/// (records-*) gets no second one.
#[tokio::test(flavor = "multi_thread")]
async fn every_failure_ends_with_a_stopped_summary_in_json_logs() {
    let fakes = Fakes::start().await;
    let file = tempfile::NamedTempFile::new().unwrap();
    let not_a_dir = file.path().to_str().unwrap();
    let runs: [(Overrides, Vec<&str>); 4] = [
        (
            &[("PGREST_JWT", "wrong")],
            vec!["status", "-a", APP, "-e", "dev"],
        ),
        (
            &[("PGREST_JWT", "wrong")],
            vec!["sync", "-a", APP, "-e", "dev"],
        ),
        (&[], common::backup_keeping_two(not_a_dir).to_vec()),
        (&[("PGREST_JWT", "wrong")], METADATA.to_vec()),
    ];
    for (over, cmd) in runs {
        let out = fakes
            .run_with(over, &args(&cmd, &["--log-format", "json"]))
            .await;
        let err = stderr(&out);
        assert_ne!(out.status.code(), Some(0), "{cmd:?}: {err}");
        let lines = json_lines(&err);
        let [.., summary, error] = &lines[..] else {
            panic!("{cmd:?}: {err}");
        };
        assert_eq!(error["exit_code"], out.status.code().unwrap(), "{error}");
        assert_eq!(summary["target"], "aks::summary", "{cmd:?}: {err}");
        assert_eq!(summary["stopped"], true, "{summary}");
        assert!(summary["duration_ms"].is_u64(), "{summary}");
        let summaries = lines.iter().filter(|l| l["target"] == "aks::summary");
        assert_eq!(summaries.count(), 1, "{cmd:?}: one summary: {err}");
    }
}
