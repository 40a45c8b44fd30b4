//! Golden output of the real `aks` binary: for the quickstart config (the four fakes seeded with
//! the fixture app) and for each error path the other tests exercise, the command line, exit code,
//! stdout and stderr, normalised, must match `tests/golden/<scenario>.txt` byte for byte. It exists
//! so that a restructure of aks-cli and knack-etl that must not change behaviour can prove it did
//! not change what an operator reads either: any wording change, added or lost line, or changed
//! exit code fails it with the scenario's name and a line diff.
//!
//! After an intended output change, rewrite the golden files and review their diff:
//!
//! ```text
//! AKS_BLESS=1 cargo test -p aks-cli --all-features --test golden_output
//! ```
//!
//! What varies from run to run is normalised before the comparison (see [`normalise`]):
//! timestamps near now, today's date, loopback ports, temp dir paths, durations, JSON `"target"`
//! values (module paths, which a restructure moves), TRACE/DEBUG lines and quota reset times.
//! The rules are the ones `/work/golden-tools/compare.py` showed to be stable over repeated runs
//! of the whole suite. A `sync` runs its containers' stages concurrently, so their log lines may
//! interleave in any order: those scenarios keep stderr sorted (their file says so) and stdout
//! exact.
//!
//! Each scenario gets its own fakes and runs concurrently with the others of its test (the slow
//! ones, an unreachable service, spend seconds in bounded retries); a chain of commands on one
//! set of fakes (the quickstart) runs in order. A golden file no scenario writes any more is not
//! detected: delete it with the scenario.

mod common;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Output;
use std::sync::{LazyLock, Mutex};

use chrono::{Duration as ChronoDuration, Local, Utc};
use common::knack_dest::{add_destination, append_config, dest_metadata, DEST, DEST_ID, DEST_KEY};
use common::sync::{
    busy_view, change_in_knack, delete_before_page, mark_no_replace, socrata_client, staged_ids,
};
use common::{
    aks, assert_no_secret, backup_keeping_two, fixture, Fakes, APP, APP_ID, DATASET, SECRETS, VIEW,
};
use knack_etl::knack_client::testkit::FakeKnack;
use knack_etl::socrata_client::testkit::FakeDataset;
use regex::{Captures, Regex};
use serde_json::json;

const GOLDEN_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");
const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../knack.example.toml");
/// Nothing listens on port 9 (discard): connections are refused.
const DEAD: &str = "http://127.0.0.1:9";

const METADATA: &[&str] = &["metadata-to-postgrest", "-a", APP, "-e", "dev"];
const TO_PGREST: &[&str] = &["records-to-postgrest", "-a", APP, "-c", VIEW, "-e", "dev"];
const TO_SOCRATA: &[&str] = &["records-to-socrata", "-a", APP, "-c", VIEW, "-e", "dev"];
const TO_AGOL: &[&str] = &["records-to-agol", "-a", APP, "-c", VIEW, "-e", "dev"];
const SYNC: &[&str] = &["sync", "-a", APP, "-e", "dev"];
const STATUS: &[&str] = &["status", "-a", APP, "-e", "dev"];
const TO_KNACK: &[&str] = &[
    "records-to-knack",
    "-a",
    APP,
    "-c",
    VIEW,
    "--dest",
    DEST,
    "-e",
    "dev",
];

// ---------------------------------------------------------------------------------------------
// The machinery: a run, its golden file, normalisation, comparison.
// ---------------------------------------------------------------------------------------------

/// Where a run's config and environment come from (the golden file names it, so a reader can
/// reproduce the run).
enum Base {
    /// `--config <the fakes' config>` and every credential the fakes accept.
    Fakes,
    /// `--config knack.example.toml` and every credential set, no service running.
    ExampleFullEnv,
    /// `--config knack.example.toml` and nothing else.
    Example,
    /// `--config <a config file written by the scenario>`.
    File,
    /// No `--config`, nothing in the environment but what the scenario sets.
    Bare,
}

/// One `aks` invocation.
struct Invocation {
    base: Base,
    config: Option<PathBuf>,
    /// The whole environment of the process.
    env: Vec<(String, String)>,
    /// What the scenario set on top of its base, shown in the golden file.
    over: Vec<(String, String)>,
    args: Vec<String>,
    cwd: Option<PathBuf>,
    /// Literal text shown otherwise in the golden file (a name unique to this run).
    aliases: Vec<(String, String)>,
}

fn strings(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

impl Invocation {
    /// `aks --config <fakes> ARGS` with the fakes' credentials, `over` replacing or adding some.
    fn fakes(fakes: &Fakes, over: &[(&str, &str)], args: &[&str]) -> Self {
        let mut env = fakes.env();
        for (k, v) in over {
            env.retain(|(name, _)| name != k);
            env.push((k.to_string(), v.to_string()));
        }
        Self {
            base: Base::Fakes,
            config: Some(fakes.config.clone()),
            env,
            over: strings(over),
            args: owned(args),
            cwd: None,
            aliases: Vec::new(),
        }
    }

    /// `aks --config knack.example.toml ARGS`, with every credential set when `full_env` (as
    /// cli.rs's `aks_full_env`), plus `over`.
    fn example(full_env: bool, over: &[(&str, &str)], args: &[&str]) -> Self {
        let mut env = Vec::new();
        if full_env {
            env.extend(strings(SECRETS));
            env.extend(strings(&[
                ("KNACK_APP_ID", "5815f29f7f7252cc2ca91c4f"),
                ("AGOL_USERNAME", "ops-user"),
            ]));
        }
        env.extend(strings(over));
        Self {
            base: if full_env {
                Base::ExampleFullEnv
            } else {
                Base::Example
            },
            config: Some(PathBuf::from(EXAMPLE)),
            env,
            over: strings(over),
            args: owned(args),
            cwd: None,
            aliases: Vec::new(),
        }
    }

    /// `aks --config FILE ARGS` with only `over` in the environment.
    fn file(config: &Path, over: &[(&str, &str)], args: &[&str]) -> Self {
        Self {
            base: Base::File,
            config: Some(config.to_path_buf()),
            env: strings(over),
            over: strings(over),
            args: owned(args),
            cwd: None,
            aliases: Vec::new(),
        }
    }

    /// `aks ARGS` with only `over` in the environment.
    fn bare(over: &[(&str, &str)], args: &[&str]) -> Self {
        Self {
            base: Base::Bare,
            config: None,
            env: strings(over),
            over: strings(over),
            args: owned(args),
            cwd: None,
            aliases: Vec::new(),
        }
    }

    fn in_dir(mut self, dir: &Path) -> Self {
        self.cwd = Some(dir.to_path_buf());
        self
    }

    /// Shows `literal` as `shown` wherever it appears.
    fn alias(mut self, literal: &str, shown: &str) -> Self {
        self.aliases.push((literal.to_string(), shown.to_string()));
        self
    }

    /// Runs the real binary off the async runtime (the fakes are served by it), with the same
    /// process set-up as `common::run_aks`.
    async fn run(&self) -> Output {
        let mut cmd = aks();
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        if let Some(config) = &self.config {
            cmd.arg("--config").arg(config);
        }
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        cmd.envs(self.env.clone());
        cmd.args(&self.args);
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap()
    }

    /// The command line as a reader would type it (arguments with spaces quoted).
    fn command_line(&self) -> String {
        let mut words = vec!["aks".to_string()];
        if let Some(config) = &self.config {
            words.push("--config".into());
            words.push(config.display().to_string());
        }
        words.extend(self.args.iter().map(|a| {
            if a.contains(' ') || a.is_empty() {
                format!("'{a}'")
            } else {
                a.clone()
            }
        }));
        words.join(" ")
    }

    /// The environment, described: the base, then what the scenario set. Credential values are
    /// never written, only whether they were emptied or replaced.
    fn env_line(&self) -> String {
        let base = match self.base {
            Base::Fakes => "the fakes' credentials",
            Base::ExampleFullEnv => "every credential set (no service running)",
            Base::Example | Base::File | Base::Bare => "empty",
        };
        let over: Vec<String> = self
            .over
            .iter()
            .map(|(k, v)| {
                let credential = SECRETS.iter().any(|(name, _)| name == k)
                    || k.contains("KEY")
                    || k.contains("JWT")
                    || k.contains("PASSWORD")
                    || k.contains("TOKEN");
                let shown = match (credential, v.is_empty()) {
                    (_, true) => "<empty>".to_string(),
                    (true, false) => "<another value>".to_string(),
                    // A URL's password (DATABASE_URL's) is a credential too.
                    (false, false) => URL_PASSWORD.replace(v, "$1<password>@").into_owned(),
                };
                format!("{k}={shown}")
            })
            .collect();
        if over.is_empty() {
            base.to_string()
        } else {
            format!("{base}; {}", over.join(" "))
        }
    }
}

/// How a scenario's stderr is compared.
#[derive(Clone, Copy, PartialEq)]
enum Stderr {
    /// Line for line.
    Exact,
    /// Lines sorted: `sync` runs its stages concurrently and their log lines interleave.
    Sorted,
}

/// The golden files checked by one test, and what did not match.
struct Goldens {
    bless: bool,
    failures: Mutex<Vec<String>>,
}

impl Goldens {
    fn new() -> Self {
        Self {
            bless: std::env::var_os("AKS_BLESS").is_some_and(|v| !v.is_empty() && v != "0"),
            failures: Mutex::new(Vec::new()),
        }
    }

    /// Runs `inv` and compares (or, blessing, writes) `tests/golden/<name>.txt`. `about` says
    /// what the scenario covers and which test or recorded invocation it mirrors.
    async fn check(&self, name: &str, about: &str, inv: Invocation, stderr: Stderr) {
        let out = inv.run().await;
        assert_no_secret(&out);
        let text = render(name, about, &inv, &out, stderr);
        no_secret(name, &text);
        let path = PathBuf::from(GOLDEN_DIR).join(format!("{name}.txt"));
        let expected = std::fs::read_to_string(&path).ok();
        if expected.as_deref() == Some(text.as_str()) {
            return;
        }
        if self.bless {
            std::fs::create_dir_all(GOLDEN_DIR).unwrap();
            std::fs::write(&path, &text).unwrap();
            eprintln!("blessed {}", path.display());
            return;
        }
        let report = match expected {
            None => format!(
                "scenario {name}: no golden file {} (AKS_BLESS=1 writes it); actual:\n{text}",
                path.display()
            ),
            Some(expected) => format!(
                "scenario {name}: output differs from {} (- expected, + actual):\n{}",
                path.display(),
                diff(&expected, &text)
            ),
        };
        self.failures.lock().unwrap().push(report);
    }

    /// Fails the test with every mismatch found.
    fn finish(&self) {
        let failures = std::mem::take(&mut *self.failures.lock().unwrap());
        assert!(
            failures.is_empty(),
            "{} golden scenario(s) differ; if the change is intended, rerun with AKS_BLESS=1 and \
             review the diff of tests/golden/\n\n{}",
            failures.len(),
            failures.join("\n\n")
        );
    }
}

/// Fails if a credential the tests use appears in a golden file (the output itself is checked by
/// `assert_no_secret`; this covers the command line and environment shown too). Every test
/// credential ends in `never-print`, the fakes' own and the wrong ones runs are given; the AGOL
/// password is the fake's own string.
fn no_secret(name: &str, text: &str) {
    assert!(
        !text.contains("never-print"),
        "{name}: a credential leaked:\n{text}"
    );
    for (var, value) in SECRETS {
        assert!(!text.contains(value), "{name}: {var} leaked:\n{text}");
    }
    assert!(
        !text.contains(DEST_KEY),
        "{name}: KNACK_API_KEY_DEST leaked"
    );
}

/// The golden file of one run: what ran, then its exit code, stdout and stderr, normalised.
fn render(name: &str, about: &str, inv: &Invocation, out: &Output, stderr: Stderr) -> String {
    let unalias = |text: &str| {
        inv.aliases
            .iter()
            .fold(text.to_string(), |t, (literal, shown)| {
                t.replace(literal, shown)
            })
    };
    let stdout = normalise(&unalias(&String::from_utf8_lossy(&out.stdout)));
    let stdout = align_free_tables_with_timestamps(&stdout);
    let mut err = normalise(&unalias(&String::from_utf8_lossy(&out.stderr)));
    if stderr == Stderr::Sorted {
        let mut lines: Vec<&str> = err.lines().collect();
        lines.sort_unstable();
        err = lines.iter().map(|l| format!("{l}\n")).collect();
    }
    let code = out
        .status
        .code()
        .map_or_else(|| "killed by a signal".to_string(), |c| c.to_string());
    let stderr_title = match stderr {
        Stderr::Exact => "--- stderr",
        Stderr::Sorted => "--- stderr (lines sorted: concurrent stages log in any order)",
    };
    let head = normalise(&unalias(&format!(
        "# scenario: {name}\n# {about}\n$ {}\nenv: {}\nexit: {code}\n",
        inv.command_line(),
        inv.env_line()
    )));
    format!(
        "{head}--- stdout\n{}{stderr_title}\n{}",
        block(&stdout),
        block(&err)
    )
}

/// A stream's text as lines; a missing final newline is marked, as diff does.
fn block(text: &str) -> String {
    if text.is_empty() || text.ends_with('\n') {
        text.to_string()
    } else {
        format!("{text}\n\\ no newline at end\n")
    }
}

/// A regex and its replacement.
struct Rule(Regex, &'static str);

fn rx(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap()
}

/// compare.py's duration and module-path rules, applied in order. Where they differ: a
/// duration in ms or µs becomes the same token as one in seconds, and the seconds cell of a table
/// ([`SECONDS_CELL`]) is matched with its spaces captured and put back (Rust's regex has no
/// look-around).
static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    vec![
        // Durations: "in 0.1s", "stopped after 3.6s".
        Rule(rx(r"\b\d+\.\d+s\b"), "Ns"),
        Rule(rx(r"seconds=\d+(\.\d+)?"), "seconds=N"),
        Rule(rx(r"duration_ms=\d+"), "duration_ms=N"),
        // A stage's time per service (`wait_knack_ms=120`, `"working_ms":3`).
        Rule(rx(r"\b(wait_\w+_ms|working_ms|stage_ms)=\d+"), "$1=N"),
        Rule(
            rx(r#""(wait_\w+_ms|working_ms|stage_ms)":\d+"#),
            r#""$1":N"#,
        ),
        Rule(
            rx(r#""(seconds|duration_ms|elapsed_ms|took_ms)":\d+(\.\d+)?"#),
            r#""$1":N"#,
        ),
        // The module path of a JSON event: a restructure moves modules, not messages.
        Rule(rx(r#""target":"[^"]*""#), r#""target":T"#),
        // Shorter durations print in the unit that fits their value (a retry's jittered wait is
        // `444.0ms` one run, `1.2s` the next): one token for all.
        Rule(rx(r"\b\d+(\.\d+)? ?(ns|µs|us|ms)\b"), "Ns"),
        Rule(rx(r"Port\(\d+\)"), "Port(N)"),
    ]
});

/// A loopback address and port; 0.0.0.0 reaches this machine too.
static LOOPBACK_PORT: LazyLock<Regex> =
    LazyLock::new(|| rx(r"(127\.0\.0\.1|localhost|\[::1\]|0\.0\.0\.0):(\d+)\b"));
/// The password in a URL's user info.
static URL_PASSWORD: LazyLock<Regex> = LazyLock::new(|| rx(r"(://[^:/@]+:)[^@/]+@"));
/// The local time Knack's spent daily quota resets at.
static QUOTA_RESET: LazyLock<Regex> =
    LazyLock::new(|| rx(r"resets at \d{4}-\d\d-\d\d \d\d:\d\d( [+-]\d\d:\d\d)?"));
/// A timestamp, with or without fraction and offset.
static TIMESTAMP: LazyLock<Regex> =
    LazyLock::new(|| rx(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"));
/// The seconds column of a table: one decimal, between spaces.
static SECONDS_CELL: LazyLock<Regex> = LazyLock::new(|| rx(r"(\s)\d+\.\d(\s)"));
static TEMP_PATH: LazyLock<Regex> = LazyLock::new(|| {
    let tmp = std::env::temp_dir();
    let tmp = regex::escape(tmp.to_str().unwrap().trim_end_matches('/'));
    rx(&format!(r"(?:{tmp}|/tmp)/\.tmp\w+"))
});

/// What varies from run to run, made constant; everything else is kept as the binary wrote it.
fn normalise(text: &str) -> String {
    // hyper/reqwest TRACE and DEBUG lines race between threads, and are not the operator's.
    let kept: Vec<&str> = text
        .split('\n')
        .filter(|l| {
            !(l.contains(" TRACE ")
                || l.contains(" DEBUG ")
                || l.contains(r#""level":"TRACE""#)
                || l.contains(r#""level":"DEBUG""#))
        })
        .collect();
    let mut text = kept.join("\n");
    // Knack's daily quota resets some hours from now, shown in local time.
    text = QUOTA_RESET
        .replace_all(&text, "resets at <RESET>")
        .into_owned();
    // Timestamps within days of now are the run's own (log lines, watermarks, last runs, the
    // quota's reset a day ahead); dates given on the command line (2020-09-08T09:21:08-05:00)
    // and the fixture's stay as they are.
    let now = Utc::now();
    text = TIMESTAMP
        .replace_all(
            &text,
            |c: &Captures| match chrono::DateTime::parse_from_rfc3339(&c[0]) {
                Ok(t) if (t.with_timezone(&Utc) - now).abs() < ChronoDuration::days(3) => {
                    "<TS>".to_string()
                }
                _ => c[0].to_string(),
            },
        )
        .into_owned();
    // Today's date: the backup's snapshot name, `today=` (UTC and local, around midnight).
    for day in [now.date_naive(), Local::now().date_naive()] {
        for d in [
            day - ChronoDuration::days(1),
            day,
            day + ChronoDuration::days(1),
        ] {
            text = text.replace(&d.format("%Y-%m-%d").to_string(), "<TODAY>");
        }
    }
    text = text.replace(MANIFEST_DIR, "<AKS_CLI>");
    text = TEMP_PATH.replace_all(&text, "<TMP>").into_owned();
    // The fakes listen on ports the system picks; the fixed ones stay: 9 (nothing listens, the
    // unreachable service) and 5432 (PostgreSQL, and the example in db init's messages).
    text = LOOPBACK_PORT
        .replace_all(&text, |c: &Captures| match &c[2] {
            "9" | "5432" => c[0].to_string(),
            _ => format!("{}:PORT", &c[1]),
        })
        .into_owned();
    for Rule(re, with) in RULES.iter() {
        text = re.replace_all(&text, *with).into_owned();
    }
    // Twice: two cells side by side share the space between them, which the first pass took.
    for _ in 0..2 {
        text = SECONDS_CELL.replace_all(&text, "${1}N.N${2}").into_owned();
    }
    text
}

/// A table (consecutive lines with cells two spaces or more apart) that holds a normalised
/// timestamp gets its cells one two-space gap apart: the column's width follows the
/// timestamp's length, which varies with its trailing zeros (chrono drops them: .022 vs
/// .022344). Tables without a timestamp keep their alignment, which stays checked.
fn align_free_tables_with_timestamps(text: &str) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    let is_row = |l: &str| l.trim_start().contains("  ");
    let gaps = rx(r" {2,}");
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        let mut j = i;
        while j < lines.len() && is_row(lines[j]) {
            j += 1;
        }
        if j > i {
            let table = &lines[i..j];
            let stamped = table.iter().any(|l| l.contains("<TS>"));
            out.extend(table.iter().map(|l| {
                if stamped {
                    gaps.replace_all(l, "  ").into_owned()
                } else {
                    l.to_string()
                }
            }));
            i = j;
        } else {
            out.push(lines[i].to_string());
            i += 1;
        }
    }
    out.join("\n")
}

/// A line diff of `expected` and `actual` (longest common subsequence), with two lines of
/// context around each change.
fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', a[i]));
            i += 1;
        } else {
            ops.push(('+', b[j]));
            j += 1;
        }
    }
    let near_change = |k: usize| {
        let lo = k.saturating_sub(2);
        let hi = (k + 2).min(ops.len() - 1);
        ops[lo..=hi].iter().any(|(op, _)| *op != ' ')
    };
    let mut out = String::new();
    let mut skipped = false;
    for (k, (op, line)) in ops.iter().enumerate() {
        if near_change(k) {
            out.push_str(&format!("{op} {line}\n"));
            skipped = false;
        } else if !skipped {
            out.push_str("  ...\n");
            skipped = true;
        }
    }
    out
}

type Scenario<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Runs independent scenarios at once: most of their time is spent waiting (on fakes, on the
/// clients' retries), not computing.
async fn all(scenarios: Vec<Scenario<'_>>) {
    futures::future::join_all(scenarios).await;
}

/// A step a scenario needs before the run it records; it must succeed.
async fn setup(fakes: &Fakes, args: &[&str]) {
    let out = Invocation::fakes(fakes, &[], args).run().await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "setup {args:?}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The fakes with the app's metadata and the view's records staged.
async fn staged() -> Fakes {
    let fakes = Fakes::start().await;
    setup(&fakes, METADATA).await;
    setup(&fakes, TO_PGREST).await;
    fakes
}

/// `base` followed by `extra`.
fn with<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(extra).copied().collect()
}

/// Replaces `from` by `to` in the fakes' config file.
fn edit_config(fakes: &Fakes, from: &str, to: &str) {
    let text = std::fs::read_to_string(&fakes.config).unwrap();
    assert!(text.contains(from), "{from} not in the config:\n{text}");
    std::fs::write(&fakes.config, text.replacen(from, to, 1)).unwrap();
}

/// A backup directory holding two old snapshots of the dataset (as services.rs's).
fn two_old_snapshots() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let snapshots = dir.path().join(DATASET);
    std::fs::create_dir_all(&snapshots).unwrap();
    for old in ["2020-01-01.csv", "2020-01-02.csv"] {
        std::fs::write(snapshots.join(old), "old").unwrap();
    }
    dir
}

// ---------------------------------------------------------------------------------------------
// (a) The quickstart: each command an operator runs, in order, on one set of fakes.
// ---------------------------------------------------------------------------------------------

/// The per-stage commands, a dry run, JSON logs, status, backup.
#[tokio::test(flavor = "multi_thread")]
async fn quickstart() {
    let g = Goldens::new();
    let fakes = Fakes::start().await;
    let f = &fakes;
    let steps: &[(&str, &str, Vec<&str>)] = &[
        (
            "quickstart-01-config-check-offline",
            "the fakes' config checked without a network (cli.rs \
            config_check_offline_passes_on_the_example)",
            vec!["config", "check", "--offline"],
        ),
        (
            "quickstart-02-config-check",
            "the config checked against Knack, Socrata and ArcGIS Online (config_check.rs)",
            vec!["config", "check"],
        ),
        (
            "quickstart-03-metadata-to-postgrest",
            "the app's metadata staged (e2e.rs metadata_to_postgrest_stores_the_metadata_row)",
            METADATA.to_vec(),
        ),
        (
            "quickstart-04-records-to-postgrest-dry-run",
            "a dry run says would write N and writes nothing (e2e.rs dry_runs_write_nothing, \
            messages.rs)",
            with(&["--dry-run"], TO_PGREST),
        ),
        (
            "quickstart-05-records-to-postgrest",
            "every record staged (e2e.rs records_to_postgrest_full_reload_stages_every_record)",
            TO_PGREST.to_vec(),
        ),
        (
            "quickstart-06-records-to-socrata-dry-run",
            "a publisher's dry run (e2e.rs dry_runs_write_nothing)",
            with(&["--dry-run"], TO_SOCRATA),
        ),
        (
            "quickstart-07-records-to-socrata",
            "every staged record published to Socrata, a full replace (e2e.rs \
            records_to_socrata_full_publishes_every_staged_record)",
            TO_SOCRATA.to_vec(),
        ),
        (
            "quickstart-08-records-to-agol",
            "every staged record published to ArcGIS Online, a full replace (e2e.rs \
            records_to_agol_full_publishes_every_staged_record)",
            TO_AGOL.to_vec(),
        ),
        (
            "quickstart-09-records-to-agol-since",
            "an incremental publish with -d (cli.rs agol_since)",
            with(TO_AGOL, &["-d", "2024-03-27"]),
        ),
        (
            "quickstart-10-status",
            "the watermarks the per-stage commands recorded (sync_drift.rs)",
            STATUS.to_vec(),
        ),
        (
            "quickstart-11-status-verify",
            "each destination compared with the staging store, text (sync_drift.rs)",
            with(STATUS, &["--verify"]),
        ),
        (
            "quickstart-12-metadata-to-postgrest-json",
            "JSON logs of a command without a container (e2e.rs \
            json_logs_are_one_object_per_line_for_every_command)",
            with(METADATA, &["--log-format", "json"]),
        ),
        (
            "quickstart-13-records-to-postgrest-json-since",
            "JSON logs with a --date carrying an offset (cli.rs \
            json_log_format_emits_json_lines_on_stderr)",
            with(
                &["--log-format", "json"],
                &with(TO_PGREST, &["--date", "2020-09-08T09:21:08-05:00"]),
            ),
        ),
        (
            "quickstart-14-records-to-socrata-json-since",
            "JSON logs of a publisher (e2e.rs json_logs_are_one_object_per_line_for_every_command)",
            with(TO_SOCRATA, &["-d", "2024-03-27", "--log-format", "json"]),
        ),
    ];
    for (name, about, args) in steps {
        g.check(name, about, Invocation::fakes(f, &[], args), Stderr::Exact)
            .await;
    }

    let dir = two_old_snapshots();
    let to = dir.path().to_str().unwrap();
    g.check(
        "quickstart-15-backup-socrata-dry-run",
        "a dry run backup reads the dataset and writes or deletes nothing (services.rs \
        a_dry_run_backup_reads_the_dataset_and_writes_or_deletes_nothing)",
        Invocation::fakes(
            f,
            &[],
            &[
                "--dry-run",
                "backup-socrata",
                "--dataset",
                DATASET,
                "-e",
                "dev",
                "--keep",
                "2",
                "--to",
                to,
            ],
        ),
        Stderr::Exact,
    )
    .await;
    g.check(
        "quickstart-16-backup-socrata",
        "the dataset backed up to a directory keeping the newest 2 (services.rs \
        backup_socrata_to_a_directory_keeps_the_newest_n)",
        Invocation::fakes(f, &[], &backup_keeping_two(to)),
        Stderr::Exact,
    )
    .await;
    g.finish();
}

/// `sync` from nothing, then incremental, its dry run, `status --verify` in step and drifted,
/// and the sync that repairs the drift.
#[tokio::test(flavor = "multi_thread")]
async fn quickstart_sync() {
    let g = Goldens::new();
    let fakes = Fakes::start().await;
    // Knack reports the quota left on every answer: the summary shows the last reading.
    fakes.knack.set_plan_limit(5000, 5000);
    let f = &fakes;
    let check = |name: &'static str, about: &'static str, args: Vec<&'static str>, s: Stderr| {
        g.check(name, about, Invocation::fakes(f, &[], &args), s)
    };
    check(
        "sync-01-status-never",
        "status before any run: every stage never ran (sync_drift.rs)",
        STATUS.to_vec(),
        Stderr::Exact,
    )
    .await;
    check(
        "sync-02-first",
        "the first sync: metadata, a full load, safe replaces (sync.rs \
        first_sync_without_watermarks_is_a_full_load_and_safe_replace)",
        SYNC.to_vec(),
        Stderr::Sorted,
    )
    .await;
    check(
        "sync-03-status",
        "status after a sync: each stage's watermark and last run (sync_knack.rs)",
        STATUS.to_vec(),
        Stderr::Exact,
    )
    .await;
    let changed = change_in_knack(f, 10);
    check(
        "sync-04-dry-run",
        "a dry run from the watermarks after 10 records changed in Knack (sync.rs \
        dry_run_sync_writes_nothing_and_bad_containers_are_usage_errors)",
        with(&["--dry-run"], SYNC),
        Stderr::Sorted,
    )
    .await;
    check(
        "sync-05-incremental",
        "the second sync republishes only what changed (sync.rs \
        a_second_sync_republishes_only_what_changed_in_knack)",
        SYNC.to_vec(),
        Stderr::Sorted,
    )
    .await;
    check(
        "sync-06-status-verify-json",
        "every destination in step, JSON document (sync_drift.rs)",
        with(STATUS, &["--verify", "--format", "json"]),
        Stderr::Exact,
    )
    .await;
    // Three rows deleted from the dataset behind aks's back (as sync_drift.rs), none of those
    // changed in Knack, which the next sync re-publishes anyway: the repair has to find them.
    let gone: Vec<String> = f
        .socrata
        .rows(DATASET)
        .iter()
        .filter_map(|r| r["id"].as_str())
        .filter(|id| !changed.contains(*id))
        .take(3)
        .map(str::to_string)
        .collect();
    socrata_client(f)
        .delete(DATASET, "id", &gone)
        .await
        .unwrap();
    check(
        "sync-07-status-verify-drift",
        "drift found: exit 3 naming the fix, text table (sync_drift.rs \
        status_verify_shows_drift_after_rows_vanish_from_a_destination_and_none_after_a_sync)",
        with(STATUS, &["--verify"]),
        Stderr::Exact,
    )
    .await;
    check(
        "sync-08-status-verify-drift-json",
        "drift found: exit 3, JSON document with the missing ids (sync_drift.rs)",
        with(STATUS, &["--verify", "--format", "json"]),
        Stderr::Exact,
    )
    .await;
    socrata_client(f)
        .upsert(DATASET, &[json!({"id": "foreign-row"})])
        .await
        .unwrap();
    check(
        "sync-09-repair",
        "a plain sync re-publishes the missing rows and deletes the foreign one (sync_drift.rs)",
        SYNC.to_vec(),
        Stderr::Sorted,
    )
    .await;
    check(
        "sync-10-json",
        "a sync in step, JSON logs (messages.rs, e2e.rs JSON logs)",
        with(SYNC, &["--log-format", "json"]),
        Stderr::Sorted,
    )
    .await;
    // "Contact Email" renamed "Email" in Knack, and column `email` added to the dataset (knack-etl
    // schema_changes.rs a_renamed_field_and_its_new_socrata_column_reach_every_row_in_one_plain_sync).
    let mut metadata = fixture("metadata.json");
    let fields = metadata["application"]["objects"][0]["fields"].as_array_mut();
    let field = fields.unwrap().iter_mut().find(|f| f["key"] == "field_11");
    field.unwrap()["name"] = json!("Email");
    f.knack.set_metadata(metadata);
    f.socrata.add_column(DATASET, "email", "text");
    check(
        "sync-11-schema-change",
        "a field renamed in Knack and its new Socrata column: one line names the change, every \
        stage runs in full, the layer's warning names the field to add (schema_changes.rs)",
        SYNC.to_vec(),
        Stderr::Sorted,
    )
    .await;
    check(
        "sync-12-status-schema-change",
        "status shows each stage's last schema change (schema_changes.rs)",
        STATUS.to_vec(),
        Stderr::Exact,
    )
    .await;
    check(
        "sync-13-after-schema-change",
        "the next sync is incremental again (schema_changes.rs)",
        SYNC.to_vec(),
        Stderr::Sorted,
    )
    .await;
    g.finish();
}

/// A full reload while someone deletes a record: the record the deletion shifted onto a page
/// already read is confirmed in Knack and staged again, the deleted one confirmed gone
/// (confirmed_deletions.rs in knack-etl has the cases).
#[tokio::test(flavor = "multi_thread")]
async fn full_reload_of_a_busy_view() {
    let g = Goldens::new();
    let single = Fakes::start().await;
    let ids = busy_view(&single, 1_000);
    setup(&single, METADATA).await;
    setup(&single, TO_PGREST).await;
    delete_before_page(&single, 2, &ids[5]);
    g.check(
        "reload-01-records-to-postgrest-shifted-page",
        "a record of page 1 deleted while page 2 is asked for: every other record stays staged \
        (knack-etl confirmed_deletions.rs)",
        Invocation::fakes(&single, &[], TO_PGREST),
        Stderr::Exact,
    )
    .await;
    let mut want: Vec<String> = ids.iter().filter(|id| **id != ids[5]).cloned().collect();
    want.sort();
    assert_eq!(staged_ids(&single), want);

    let first_sync = Fakes::start().await;
    let ids = busy_view(&first_sync, 1_000);
    delete_before_page(&first_sync, 2, &ids[5]);
    g.check(
        "reload-02-sync-shifted-page",
        "the first sync (a full load) of a view a person edits meanwhile: the shifted record \
        is staged and published, the deleted one is not (knack-etl confirmed_deletions.rs)",
        Invocation::fakes(&first_sync, &[], SYNC),
        Stderr::Sorted,
    )
    .await;
    assert_eq!(staged_ids(&first_sync), want);
    assert_eq!(first_sync.socrata_rows().len(), want.len());
    g.finish();
}

/// records-to-knack into a second fake Knack app: the plan of a dry run, the copy, a rerun.
#[tokio::test(flavor = "multi_thread")]
async fn quickstart_records_to_knack() {
    let g = Goldens::new();
    let fakes = staged().await;
    let dest = add_destination(&fakes).await;
    // Knack counts every request of the last second; the client's own limiter keeps under it,
    // and a 429 from the fake (a window left by the previous run) would add a retry line.
    dest.set_rate_limit(None);
    let pg = fakes.pg.client_builder().build().unwrap();
    knack_etl::staging::store_metadata(&pg, DEST_ID, &dest_metadata())
        .await
        .unwrap();
    let url = dest.uri();
    let env = [
        ("KNACK_API_URL", url.as_str()),
        ("KNACK_API_KEY_DEST", DEST_KEY),
    ];
    g.check(
        "records-to-knack-01-dry-run",
        "the plan: 60 to create (services.rs \
        records_to_knack_plans_creates_then_a_rerun_writes_nothing)",
        Invocation::fakes(&fakes, &env, &with(&["--dry-run"], TO_KNACK)),
        Stderr::Exact,
    )
    .await;
    g.check(
        "records-to-knack-02-copy",
        "60 records created in the destination (services.rs)",
        Invocation::fakes(&fakes, &env, TO_KNACK),
        Stderr::Exact,
    )
    .await;
    stage_dest(&fakes, &dest).await;
    g.check(
        "records-to-knack-03-rerun",
        "a rerun after the destination is staged writes nothing (services.rs)",
        Invocation::fakes(&fakes, &env, TO_KNACK),
        Stderr::Exact,
    )
    .await;
    g.finish();
}

/// `sync` of a container with a Knack destination: the copy runs as a stage of its own.
#[tokio::test(flavor = "multi_thread")]
async fn quickstart_sync_with_a_knack_destination() {
    let g = Goldens::new();
    let fakes = Fakes::start().await;
    let dest = add_destination(&fakes).await;
    // As in quickstart_records_to_knack: no 429 from the fake, so no retry line.
    dest.set_rate_limit(None);
    let url = dest.uri();
    let env = [
        ("KNACK_API_URL_DEST", url.as_str()),
        ("KNACK_API_KEY_DEST", DEST_KEY),
    ];
    let f = &fakes;
    let check = |name: &'static str, about: &'static str, args: Vec<&'static str>| {
        g.check(
            name,
            about,
            Invocation::fakes(f, &env, &args),
            Stderr::Sorted,
        )
    };
    check(
        "sync-knack-01-first",
        "the first sync copies every record into the destination app, whose empty object is \
        left untouched by the refresh (sync_knack.rs \
        sync_copies_into_the_knack_destination_once_and_a_rerun_writes_nothing)",
        SYNC.to_vec(),
    )
    .await;
    check(
        "sync-knack-02-status",
        "the copy is tracked like the other stages (sync_knack.rs)",
        STATUS.to_vec(),
    )
    .await;
    change_in_knack(f, 10);
    check(
        "sync-knack-03-dry-run",
        "a dry run after 10 records changed says what it would update (sync_knack.rs)",
        with(&["--dry-run"], SYNC),
    )
    .await;
    check(
        "sync-knack-04-incremental",
        "the sync updates exactly those 10 in the destination (sync_knack.rs)",
        SYNC.to_vec(),
    )
    .await;
    g.finish();
}

/// The destination app's staged copy, as its own records-to-postgrest would make it.
async fn stage_dest(fakes: &Fakes, dest: &FakeKnack) {
    knack_etl::staging::records_to_postgrest(
        &dest.client_builder().build().unwrap(),
        &fakes.pg.client_builder().build().unwrap(),
        &knack_etl::knack_client::Container::object(common::knack_dest::OBJECT).unwrap(),
        None,
        &knack_etl::RunOptions::default(),
    )
    .await
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// (b) Error paths, and the warnings next to them.
// ---------------------------------------------------------------------------------------------

/// Refusals before any request: arguments, config files, environment, URLs. No fakes needed.
#[tokio::test(flavor = "multi_thread")]
async fn refusals_before_any_request() {
    let g = Goldens::new();
    // Each a `knack.toml` of its own, as cli.rs writes them.
    let unknown_key_dir = tempfile::tempdir().unwrap();
    let unknown_key = unknown_key_dir.path().join("knack.toml");
    std::fs::write(
        &unknown_key,
        "[apps.a.containers.view_1]\nscene_id = \"scene_1\"\nmodified_date_field = \"field_2\"\n",
    )
    .unwrap();
    let no_scene_dir = tempfile::tempdir().unwrap();
    let no_scene = no_scene_dir.path().join("knack.toml");
    std::fs::write(
        &no_scene,
        "[apps.a.containers.view_1]\nmodified_date_field_id = \"field_2\"\n",
    )
    .unwrap();
    let empty_dir = tempfile::tempdir().unwrap();
    let cwd_with_config = tempfile::tempdir().unwrap();
    std::fs::copy(EXAMPLE, cwd_with_config.path().join("knack.toml")).unwrap();
    let records = |cmd: &'static str, app: &'static str, container: &'static str| {
        vec![cmd, "-a", app, "-c", container, "-e", "prod"]
    };

    let cases: Vec<(&str, &str, Invocation)> = vec![
        (
            "args-bad-env",
            "a value -e does not take (cli.rs bad_env_is_a_usage_error)",
            Invocation::bare(
                &[],
                &[
                    "metadata-to-postgrest",
                    "-a",
                    "data-tracker",
                    "-e",
                    "staging",
                ],
            ),
        ),
        (
            "args-bad-date",
            "a --date that is no date, with an example (cli.rs \
            bad_date_is_a_usage_error_showing_an_example)",
            Invocation::bare(
                &[],
                &with(
                    &records("records-to-postgrest", "data-tracker", "view_197"),
                    &["--date", "last tuesday"],
                ),
            ),
        ),
        (
            "args-missing-env-text",
            "a required argument missing, clap's own text (messages.rs \
            argument_errors_are_json_events_with_json_logs)",
            Invocation::bare(&[], &["metadata-to-postgrest", "-a", "x"]),
        ),
        (
            "args-bad-date-json",
            "an argument error as one JSON ERROR event with exit_code 2 (messages.rs)",
            Invocation::bare(
                &[],
                &with(
                    &["--log-format", "json"],
                    &with(&records("records-to-postgrest", "x", VIEW), &["-d", "soon"]),
                ),
            ),
        ),
        (
            "args-missing-env-json",
            "a missing argument with --log-format=json after the subcommand (messages.rs)",
            Invocation::bare(
                &[],
                &["metadata-to-postgrest", "-a", "x", "--log-format=json"],
            ),
        ),
        (
            "args-unknown-flag-json",
            "an unknown flag with JSON logs (messages.rs)",
            Invocation::bare(&[], &["--log-format", "json", "config", "check", "--nope"]),
        ),
        (
            "args-help-json",
            "--help prints as usual with JSON logs (messages.rs \
            help_and_version_print_as_usual_with_json_logs)",
            Invocation::bare(&[], &["--log-format", "json", "--help"]),
        ),
        (
            "args-version-json",
            "--version prints as usual with JSON logs (messages.rs)",
            Invocation::bare(&[], &["--log-format", "json", "--version"]),
        ),
        (
            "config-example-check-offline",
            "the example config checked offline, with its shared-dataset note (cli.rs \
            config_check_offline_passes_on_the_example)",
            Invocation::example(false, &[], &["config", "check", "--offline"]),
        ),
        (
            "config-from-aks-config",
            "the config path from AKS_CONFIG (cli.rs \
            config_path_falls_back_to_aks_config_then_knack_toml)",
            Invocation::bare(
                &[("AKS_CONFIG", EXAMPLE)],
                &["config", "check", "--offline"],
            ),
        ),
        (
            "config-from-cwd",
            "the config path falls back to ./knack.toml (cli.rs \
            config_path_falls_back_to_aks_config_then_knack_toml)",
            Invocation::bare(&[], &["config", "check", "--offline"]).in_dir(cwd_with_config.path()),
        ),
        (
            "config-file-missing",
            "no --config, no AKS_CONFIG and no ./knack.toml (cli.rs \
            config_path_falls_back_to_aks_config_then_knack_toml)",
            Invocation::bare(&[], &["config", "check", "--offline"]).in_dir(empty_dir.path()),
        ),
        (
            "config-unknown-key",
            "a misspelt key named with its line (cli.rs unknown_config_key_is_named_with_its_line)",
            Invocation::file(&unknown_key, &[], &["config", "check", "--offline"]),
        ),
        (
            "config-view-needs-scene-id",
            "an invalid container, exit 2 naming it (cli.rs \
            invalid_values_exit_2_naming_the_container)",
            Invocation::file(
                &no_scene,
                &[],
                &[
                    "records-to-postgrest",
                    "-a",
                    "a",
                    "-c",
                    "view_1",
                    "-e",
                    "dev",
                ],
            ),
        ),
        (
            "config-unknown-app",
            "a misspelt app, the known ones listed (cli.rs unknown_app_lists_known_apps)",
            Invocation::example(
                true,
                &[],
                &records("records-to-socrata", "data-trakcer", "view_197"),
            ),
        ),
        (
            "config-unknown-container",
            "an unknown container, the known ones listed (cli.rs \
            unknown_container_lists_known_containers)",
            Invocation::example(
                true,
                &[],
                &records("records-to-socrata", "data-tracker", "view_9"),
            ),
        ),
        (
            "config-unknown-app-json",
            "an unknown app with JSON logs: the stopped summary, then the error (cli.rs \
            no_secret_is_ever_printed)",
            Invocation::example(
                true,
                &[],
                &with(
                    &["--log-format", "json"],
                    &records("records-to-socrata", "nope", "view_197"),
                ),
            ),
        ),
        (
            "env-missing-vars",
            "every missing variable named at once (cli.rs missing_env_vars_are_all_listed_at_once)",
            Invocation::example(
                false,
                &[],
                &records("records-to-socrata", "signs-markings", "view_3307"),
            ),
        ),
        (
            "url-plain-http-remote",
            "plain http off loopback refused (cli.rs plain_http_to_a_remote_host_is_refused)",
            Invocation::example(
                true,
                &[("PGREST_ENDPOINT", "http://pg.example.com")],
                &["metadata-to-postgrest", "-a", "data-tracker", "-e", "prod"],
            ),
        ),
        (
            "url-plain-http-config-check",
            "config check refuses plain http off loopback before any request (cli.rs \
            config_check_refuses_plain_http_to_a_remote_host)",
            Invocation::example(
                true,
                &[("AGOL_URL", "http://maps.example.com")],
                &["config", "check"],
            ),
        ),
        (
            "url-bare-host",
            "an endpoint without a scheme (messages.rs \
            a_bare_host_endpoint_asks_for_a_full_https_url)",
            Invocation::example(
                false,
                &[
                    ("PGREST_ENDPOINT", "pgrest.internal:3000"),
                    ("PGREST_JWT", "x"),
                    ("KNACK_APP_ID", "5815f29f7f7252cc2ca91c4f"),
                ],
                &["metadata-to-postgrest", "-a", "data-tracker", "-e", "prod"],
            ),
        ),
        (
            "preflight-no-replace-without-date",
            "no_replace_socrata without --date (cli.rs \
            no_replace_socrata_refuses_a_run_without_date)",
            Invocation::example(
                true,
                &[],
                &records("records-to-socrata", "data-tracker", "view_2863"),
            ),
        ),
        (
            "preflight-no-replace-without-date-json",
            "the same with JSON logs (cli.rs no_secret_is_ever_printed)",
            Invocation::example(
                true,
                &[],
                &with(
                    &["--log-format", "json"],
                    &records("records-to-socrata", "data-tracker", "view_2863"),
                ),
            ),
        ),
        (
            "preflight-agol-needs-service-id",
            "a container without the AGOL keys (cli.rs \
            publisher_without_destination_keys_is_a_config_error)",
            Invocation::example(
                true,
                &[],
                &records("records-to-agol", "data-tracker", "view_2863"),
            ),
        ),
    ];
    for (name, about, inv) in cases {
        g.check(name, about, inv, Stderr::Exact).await;
    }
    g.finish();
}

/// Failures and warnings against the fakes that come back at once: wrong credentials, refusals
/// by a destination, the Knack quota, rejected records, config problems found online.
#[tokio::test(flavor = "multi_thread")]
async fn failures_at_the_services() {
    let g = Goldens::new();
    let g = &g;
    let exact = Stderr::Exact;
    let mut scenarios: Vec<Scenario> = Vec::new();

    // Wrong credentials, one per service, text and JSON (e2e.rs
    // no_secret_is_printed_even_at_trace_level).
    for (cmd, var, value, service) in [
        (TO_PGREST, "KNACK_API_KEY", "kk-wrong-never-print", "knack"),
        (
            TO_SOCRATA,
            "SOCRATA_API_KEY_SECRET",
            "sks-wrong-never-print",
            "socrata",
        ),
        (TO_AGOL, "AGOL_PASSWORD", "agp-wrong-never-print", "agol"),
        (METADATA, "PGREST_JWT", "jwt-wrong-never-print", "pgrest"),
    ] {
        for json in [false, true] {
            scenarios.push(Box::pin(async move {
                let fakes = staged().await;
                let name = format!("auth-{service}-401{}", if json { "-json" } else { "" });
                let args = if json {
                    with(cmd, &["--log-format", "json"])
                } else {
                    cmd.to_vec()
                };
                g.check(
                    &name,
                    "a wrong credential fails naming it, never printing it (e2e.rs \
                    a_wrong_knack_key_fails_naming_it_and_writes_nothing, \
                    no_secret_is_printed_even_at_trace_level)",
                    Invocation::fakes(&fakes, &[(var, value)], &args),
                    exact,
                )
                .await;
            }));
        }
    }
    scenarios.push(Box::pin(async move {
        let fakes = Fakes::start().await;
        fakes.pg.expire_jwt();
        g.check(
            "auth-pgrest-jwt-expired",
            "an expired JWT fails before any write (cli.rs an_expired_jwt_fails_before_any_write)",
            Invocation::fakes(
                &fakes,
                &[],
                &[
                    "records-to-agol",
                    "-a",
                    APP,
                    "-c",
                    VIEW,
                    "-e",
                    "prod",
                    "-d",
                    "2024-03-27",
                ],
            ),
            exact,
        )
        .await;
    }));
    scenarios.push(Box::pin(async move {
        let fakes = Fakes::start().await;
        let wrong = [("PGREST_JWT", "wrong")];
        g.check(
            "auth-status-401",
            "status with a refused JWT ends with its summary line (end_line.rs \
            a_command_without_counts_ends_with_its_name_duration_and_exit_code)",
            Invocation::fakes(&fakes, &wrong, STATUS),
            exact,
        )
        .await;
        g.check(
            "auth-status-401-json",
            "the same with JSON logs: a stopped summary event, then the error (messages.rs \
            every_failure_ends_with_a_stopped_summary_in_json_logs, end_line.rs \
            json_logs_get_no_text_line)",
            Invocation::fakes(&fakes, &wrong, &with(STATUS, &["--log-format", "json"])),
            exact,
        )
        .await;
        g.check(
            "auth-sync-401-json",
            "a sync that could not start, JSON logs (messages.rs \
            every_failure_ends_with_a_stopped_summary_in_json_logs)",
            Invocation::fakes(&fakes, &wrong, &with(SYNC, &["--log-format", "json"])),
            exact,
        )
        .await;
        g.check(
            "env-empty-jwt",
            "an empty variable is a missing one, exit 2 with the end line (end_line.rs)",
            Invocation::fakes(&fakes, &[("PGREST_JWT", "")], METADATA),
            exact,
        )
        .await;
        let file = tempfile::NamedTempFile::new().unwrap();
        let not_a_dir = file.path().to_str().unwrap();
        g.check(
            "backup-to-a-file-json",
            "backup-socrata --to a file, JSON logs (messages.rs \
            every_failure_ends_with_a_stopped_summary_in_json_logs)",
            Invocation::fakes(
                &fakes,
                &[],
                &with(&backup_keeping_two(not_a_dir), &["--log-format", "json"]),
            ),
            exact,
        )
        .await;
        for (name, args) in [
            (
                "backup-unsupported-storage",
                vec![
                    "backup-socrata",
                    "--dataset",
                    DATASET,
                    "-e",
                    "dev",
                    "--to",
                    "gs://b/x",
                ],
            ),
            (
                "backup-not-a-dataset-id",
                vec!["backup-socrata", "--dataset", "not-a-4x4", "-e", "dev"],
            ),
            (
                "backup-keep-0",
                vec![
                    "backup-socrata",
                    "--dataset",
                    DATASET,
                    "-e",
                    "dev",
                    "--keep",
                    "0",
                ],
            ),
        ] {
            g.check(
                name,
                "refused before any request (services.rs \
                backup_socrata_refuses_bad_storage_and_ids_before_any_request)",
                Invocation::fakes(&fakes, &[], &args),
                exact,
            )
            .await;
        }
        g.check(
            "config-unknown-container-fakes",
            "an unknown container of the fakes' config, before any request (e2e.rs \
            an_unknown_container_is_exit_2_before_any_request)",
            Invocation::fakes(
                &fakes,
                &[],
                &["records-to-agol", "-a", APP, "-c", "view_99", "-e", "dev"],
            ),
            exact,
        )
        .await;
        g.check(
            "config-unknown-container-sync",
            "sync of an unknown container (sync.rs \
            dry_run_sync_writes_nothing_and_bad_containers_are_usage_errors)",
            Invocation::fakes(&fakes, &[], &with(SYNC, &["-c", "view_999"])),
            exact,
        )
        .await;
        g.check(
            "env-sync-missing-knack-key",
            "sync without KNACK_API_KEY (sync.rs)",
            Invocation::fakes(&fakes, &[("KNACK_API_KEY", "")], SYNC),
            exact,
        )
        .await;
        g.check(
            "url-insecure-refused",
            "plain http to a private host without the opt-in (messages.rs \
            allow_insecure_http_is_an_explicit_logged_opt_in)",
            Invocation::fakes(
                &fakes,
                &[("PGREST_ENDPOINT", "http://pgrest.invalid:3000")],
                METADATA,
            ),
            exact,
        )
        .await;
        g.check(
            "url-insecure-opt-in-not-a-boolean",
            "an opt-in that is neither true nor false (messages.rs)",
            Invocation::fakes(
                &fakes,
                &[("PGREST_ALLOW_INSECURE_HTTP", "perhaps")],
                METADATA,
            ),
            exact,
        )
        .await;
        g.check(
            "url-knack-insecure-refused",
            "KNACK_API_URL off loopback without the opt-in, before any request (messages.rs \
            the_knack_opt_in_reaches_the_client)",
            Invocation::fakes(
                &fakes,
                &[("KNACK_API_URL", "http://knack.invalid/v1")],
                &with(METADATA, &["--dry-run"]),
            ),
            exact,
        )
        .await;
    }));
    scenarios.push(Box::pin(async move {
        let fakes = Fakes::start().await;
        edit_config(
            &fakes,
            &format!("endpoint = \"{}\"", fakes.pg.uri()),
            "endpoint = \"http://pgrest.invalid:3000\"\nallow_insecure_http = true",
        );
        g.check(
            "url-insecure-opt-in-config-dry-run-json",
            "the config key's opt-in logged as a warning naming the table and file; a dry run of \
            the metadata never connects (messages.rs)",
            Invocation::fakes(
                &fakes,
                &[],
                &with(METADATA, &["--dry-run", "--log-format", "json"]),
            ),
            exact,
        )
        .await;
    }));
    scenarios.push(Box::pin(async move {
        let fakes = Fakes::start().await;
        let port = fakes.pg.uri().rsplit(':').next().unwrap().to_string();
        let endpoint = format!("http://0.0.0.0:{port}");
        let over = [
            ("PGREST_ENDPOINT", endpoint.as_str()),
            ("PGREST_ALLOW_INSECURE_HTTP", "true"),
        ];
        g.check(
            "url-insecure-opt-in-status-warns",
            "status warns of an endpoint allowed plain http off loopback (sync.rs \
            sync_and_status_warn_when_an_endpoint_allows_insecure_http)",
            Invocation::fakes(&fakes, &over, STATUS),
            exact,
        )
        .await;
    }));
    scenarios.push(Box::pin(async move {
        let fakes = staged().await;
        fakes.agol.inject(
            knack_etl::agol_client::testkit::arcgis_error(
                403,
                "You do not have permissions to access this resource or perform this operation.",
            )
            .on_path("/applyEdits"),
        );
        g.check(
            "agol-403-on-apply-edits",
            "a destination refusing the write: exit 1 naming the cause (cli.rs \
            runtime_failure_is_exit_1)",
            Invocation::fakes(&fakes, &[], &with(TO_AGOL, &["-d", "2024-03-27"])),
            exact,
        )
        .await;
    }));
    scenarios.push(Box::pin(async move {
        let fakes = staged().await;
        fakes.agol.set_field(
            0,
            json!({"name": "location_name", "type": "esriFieldTypeString", "length": 20}),
        );
        g.check(
            "agol-rejected-records",
            "records rejected one by one, the log capped at 20, exit 1 after the rest is written \
            (rejected.rs rejected_features_are_named_and_exit_1_after_the_rest_is_written)",
            Invocation::fakes(&fakes, &[], TO_AGOL),
            exact,
        )
        .await;
    }));
    scenarios.push(Box::pin(async move {
        let fakes = staged().await;
        let mut meta = fixture("socrata_dataset.json");
        meta.as_object_mut().unwrap().remove("row_identifier");
        fakes.socrata.add_dataset(FakeDataset::from_metadata(&meta));
        g.check(
            "preflight-socrata-no-row-identifier",
            "a dataset without the row identifier: exit 2 before any write (rejected.rs \
            a_dataset_without_the_row_identifier_is_exit_2_with_no_write)",
            Invocation::fakes(&fakes, &[], &with(TO_SOCRATA, &["-d", "2024-03-27"])),
            exact,
        )
        .await;
    }));
    scenarios.push(Box::pin(async move {
        let fakes = Fakes::start().await;
        let mut meta = fixture("socrata_dataset.json");
        meta.as_object_mut().unwrap().remove("row_identifier");
        fakes.socrata.add_dataset(FakeDataset::from_metadata(&meta));
        g.check(
            "preflight-sync-socrata-no-row-identifier",
            "the same stops the whole sync before any write (sync.rs \
            a_mis_set_destination_stops_the_whole_sync_before_any_write)",
            Invocation::fakes(&fakes, &[], SYNC),
            Stderr::Sorted,
        )
        .await;
    }));
    scenarios.push(Box::pin(async move {
        let fakes = Fakes::start().await;
        let reset = (std::time::SystemTime::now() + std::time::Duration::from_secs(6 * 3600))
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        fakes.knack.inject(
            knack_etl::knack_client::testkit::Fault::status(429)
                .header("X-RateLimit-Limit", 10)
                .header("X-RateLimit-Remaining", 0)
                .header("X-RateLimit-Reset", reset)
                .header("X-PlanLimit-Remaining", 0)
                .body("Rate limit exceeded")
                .times(1000),
        );
        g.check(
            "knack-quota-spent",
            "Knack's daily quota used up: fails fast with its reset time (knack_quota.rs \
            a_spent_daily_quota_fails_fast_with_its_message_and_writes_nothing)",
            Invocation::fakes(&fakes, &[], TO_PGREST),
            exact,
        )
        .await;
    }));
    scenarios.push(Box::pin(async move {
        let fakes = Fakes::start().await;
        fakes.knack.set_plan_limit(5000, 400);
        g.check(
            "knack-quota-low",
            "the quota left in the summary and a warning when it is low (knack_quota.rs \
            the_summary_shows_the_quota_left_and_warns_when_it_is_low)",
            Invocation::fakes(&fakes, &[], TO_PGREST),
            exact,
        )
        .await;
    }));
    scenarios.push(Box::pin(async move {
        let fakes = Fakes::start().await;
        fakes.socrata.inject(
            knack_etl::socrata_client::testkit::Fault::status(403)
                .on_method("POST")
                .times(1),
        );
        g.check(
            "sync-socrata-403",
            "a publisher failing in a sync: the others ran, FAILED in the table, the end line's \
            totals (end_line.rs a_failed_sync_ends_with_its_totals, sync.rs)",
            Invocation::fakes(&fakes, &[], SYNC),
            Stderr::Sorted,
        )
        .await;
    }));
    scenarios.push(Box::pin(async move {
        let fakes = Fakes::start().await;
        fakes.knack.inject(
            knack_etl::knack_client::testkit::Fault::status(404)
                .times(100)
                .on_path("applications"),
        );
        g.check(
            "sync-metadata-refresh-failed",
            "the metadata refresh failed, so nothing else ran (sync.rs \
            a_failed_metadata_refresh_says_nothing_else_ran)",
            Invocation::fakes(&fakes, &[], SYNC),
            Stderr::Sorted,
        )
        .await;
    }));
    scenarios.push(Box::pin(async move {
        let fakes = Fakes::start().await;
        mark_no_replace(&fakes);
        setup(&fakes, SYNC).await;
        socrata_client(&fakes)
            .upsert(DATASET, &[json!({"id": "foreign-row"})])
            .await
            .unwrap();
        g.check(
            "sync-no-replace-keeps-foreign-row",
            "a no_replace_socrata dataset keeps a row nobody staged and the sync says so \
            (sync_drift.rs a_no_replace_dataset_keeps_rows_nobody_staged_and_the_sync_says_so)",
            Invocation::fakes(&fakes, &[], SYNC),
            Stderr::Sorted,
        )
        .await;
        g.check(
            "sync-since-date",
            "-d overrides every watermark for one run (sync_drift.rs)",
            Invocation::fakes(&fakes, &[], &with(SYNC, &["-d", "1970-01-01"])),
            Stderr::Sorted,
        )
        .await;
    }));
    scenarios.push(Box::pin(async move {
        let fakes = Fakes::start().await;
        edit_config(
            &fakes,
            "location_fields = [\"field_9\"]",
            "location_fields = [\"field_999\"]",
        );
        g.check(
            "config-check-online-problems",
            "config check online leads with the problem count, each on stdout (messages.rs \
            online_config_check_leads_with_the_problem_count)",
            Invocation::fakes(&fakes, &[], &["config", "check"]),
            exact,
        )
        .await;
    }));
    scenarios.push(Box::pin(async move {
        let fakes = Fakes::start().await;
        // A copy within the fixture app, so one fake Knack serves both sides (as services.rs).
        append_config(
            &fakes,
            &format!(
                r#"
[apps.{APP}.containers.{VIEW}.knack_destinations.{APP}]
container = "{VIEW}"
object = "object_1"
fields = [
  {{ src = "field_19_raw", dest = "field_19", primary_key = true }},
  {{ src = "field_999", dest = "field_1" }},
  {{ src = "field_1_raw", dest = "field_998_raw" }},
]
"#
            ),
        );
        g.check(
            "config-check-field-map",
            "config check compares a field map with both apps' metadata (services.rs \
            config_check_compares_a_field_map_with_both_apps_metadata)",
            Invocation::fakes(
                &fakes,
                &[("KNACK_APP_ID_DEST", APP_ID)],
                &["config", "check"],
            ),
            exact,
        )
        .await;
    }));
    scenarios.push(Box::pin(async move {
        let fakes = Fakes::start().await;
        let _dest = add_destination(&fakes).await;
        g.check(
            "config-check-knack-destination",
            "config check of a field map whose destination app cannot be read (config_check.rs \
            each_app_s_metadata_is_read_once)",
            Invocation::fakes(&fakes, &[], &["config", "check"]),
            exact,
        )
        .await;
    }));
    scenarios.push(Box::pin(async move {
        let fakes = staged().await;
        let dest = add_destination(&fakes).await;
        let url = dest.uri();
        g.check(
            "knack-dest-missing-key",
            "records-to-knack without the destination's key, before any request (services.rs \
            records_to_knack_without_the_destination_key_is_exit_2_before_any_request)",
            Invocation::fakes(&fakes, &[("KNACK_API_URL", url.as_str())], TO_KNACK),
            exact,
        )
        .await;
        let unknown: Vec<&str> = TO_KNACK
            .iter()
            .map(|a| if *a == DEST { "nowhere" } else { a })
            .collect();
        g.check(
            "knack-dest-unknown",
            "an unknown destination, the known ones listed (services.rs)",
            Invocation::fakes(&fakes, &[("KNACK_API_KEY_DEST", DEST_KEY)], &unknown),
            exact,
        )
        .await;
        g.check(
            "knack-dest-sync-missing-key",
            "a sync with a Knack destination needs its key (sync_knack.rs \
            a_sync_with_a_knack_destination_needs_its_key_before_any_request)",
            Invocation::fakes(&fakes, &[], SYNC),
            exact,
        )
        .await;
        g.check(
            "knack-dest-sync-missing-everything",
            "one message names every missing variable, source and destination (sync_knack.rs)",
            Invocation::fakes(&fakes, &[("PGREST_JWT", ""), ("KNACK_API_KEY", "")], SYNC),
            exact,
        )
        .await;
        let text = std::fs::read_to_string(&fakes.config)
            .unwrap()
            .replace(", primary_key = true", "");
        std::fs::write(&fakes.config, text).unwrap();
        g.check(
            "knack-dest-no-primary-key",
            "a field map without one primary key (services.rs \
            a_field_map_without_one_primary_key_is_a_config_error)",
            Invocation::fakes(&fakes, &[], &["config", "check", "--offline"]),
            exact,
        )
        .await;
    }));
    scenarios.push(Box::pin(async move {
        let fakes = Fakes::start().await;
        let dest = add_destination(&fakes).await;
        dest.set_rate_limit(None);
        dest.inject(
            knack_etl::knack_client::testkit::Fault::status(403)
                .on_method("GET")
                .on_path("objects/object_26/records")
                .times(1),
        );
        let url = dest.uri();
        g.check(
            "knack-dest-sync-refresh-failed",
            "the destination's staged rows cannot be refreshed: nothing written there, the others \
            ran (sync_knack.rs a_failed_refresh_of_the_destination_writes_nothing_there)",
            Invocation::fakes(
                &fakes,
                &[
                    ("KNACK_API_URL_DEST", url.as_str()),
                    ("KNACK_API_KEY_DEST", DEST_KEY),
                ],
                SYNC,
            ),
            Stderr::Sorted,
        )
        .await;
    }));
    all(scenarios).await;
    g.finish();
}

/// An unreachable service, named with the setting to check, by every command that reaches it.
/// Each run spends seconds in its client's bounded retries, so all run at once.
#[tokio::test(flavor = "multi_thread")]
async fn unreachable_services() {
    let g = Goldens::new();
    let g = &g;
    let exact = Stderr::Exact;
    let mut scenarios: Vec<Scenario> = Vec::new();
    let publish =
        |cmd: &'static str| vec![cmd, "-a", APP, "-c", VIEW, "-e", "prod", "-d", "2024-01-01"];
    let prod_pgrest = vec!["records-to-postgrest", "-a", APP, "-c", VIEW, "-e", "prod"];

    // One per service, from its environment variable (hints.rs, messages.rs unreachable_*).
    let by_var: Vec<(&str, &str, Vec<&str>, bool)> = vec![
        (
            "unreachable-knack",
            "KNACK_API_URL",
            prod_pgrest.clone(),
            false,
        ),
        (
            "unreachable-knack-json",
            "KNACK_API_URL",
            prod_pgrest.clone(),
            true,
        ),
        (
            "unreachable-pgrest",
            "PGREST_ENDPOINT",
            METADATA.to_vec(),
            false,
        ),
        (
            "unreachable-socrata",
            "SOCRATA_URL",
            publish("records-to-socrata"),
            false,
        ),
        (
            "unreachable-agol",
            "AGOL_URL",
            publish("records-to-agol"),
            false,
        ),
        (
            "unreachable-status",
            "PGREST_ENDPOINT",
            STATUS.to_vec(),
            false,
        ),
        (
            "unreachable-status-verify-socrata",
            "SOCRATA_URL",
            with(STATUS, &["--verify"]),
            false,
        ),
        (
            "unreachable-status-verify-agol",
            "AGOL_URL",
            with(STATUS, &["--verify"]),
            false,
        ),
        (
            "unreachable-sync-cannot-start",
            "PGREST_ENDPOINT",
            SYNC.to_vec(),
            false,
        ),
    ];
    for (name, var, cmd, json) in by_var {
        scenarios.push(Box::pin(async move {
            let fakes = Fakes::start().await;
            if var != "PGREST_ENDPOINT" {
                // The publishers read the staging store first: it must hold the metadata.
                setup(&fakes, METADATA).await;
            }
            let args = if json {
                with(&cmd, &["--log-format", "json"])
            } else {
                cmd
            };
            g.check(
                name,
                "the cause, then one check: line naming the variable (hints.rs, messages.rs \
                unreachable_*_names_*)",
                Invocation::fakes(&fakes, &[(var, DEAD)], &args),
                exact,
            )
            .await;
        }));
    }
    scenarios.push(Box::pin(async move {
        let fakes = Fakes::start().await;
        let dir = tempfile::tempdir().unwrap();
        let to = dir.path().to_str().unwrap();
        g.check(
            "unreachable-backup-socrata",
            "backup-socrata names SOCRATA_URL (hints.rs backup_socrata_names_socrata_url)",
            Invocation::fakes(&fakes, &[("SOCRATA_URL", DEAD)], &backup_keeping_two(to)),
            exact,
        )
        .await;
    }));
    scenarios.push(Box::pin(async move {
        let fakes = Fakes::start().await;
        g.check(
            "unreachable-config-check-knack",
            "config check online: a runtime failure (exit 1), no problem list (config_check.rs \
            an_unreachable_knack_is_a_runtime_failure_naming_knack_api_url)",
            Invocation::fakes(
                &fakes,
                &[("KNACK_API_URL", "http://127.0.0.1:9/v1")],
                &["config", "check"],
            ),
            exact,
        )
        .await;
    }));
    scenarios.push(Box::pin(async move {
        let fakes = Fakes::start().await;
        edit_config(&fakes, &fakes.knack.uri(), "http://127.0.0.1:9/v1");
        g.check(
            "unreachable-knack-from-config-file",
            "a URL from the config file is named by its table, key and file (messages.rs \
            a_failure_names_the_config_key_when_the_url_came_from_the_file)",
            Invocation::fakes(&fakes, &[], &with(METADATA, &["--log-format", "json"])),
            exact,
        )
        .await;
    }));
    // A URL from an [env.<env>.<table>] table names that table (hints.rs
    // a_url_from_an_env_table_names_that_table_key_and_file).
    let from_env_table: Vec<(&str, &str, &str, &str, Vec<&str>)> = vec![
        (
            "unreachable-pgrest-from-env-table",
            "dev",
            "postgrest",
            "endpoint",
            STATUS.to_vec(),
        ),
        (
            "unreachable-knack-from-env-table",
            "prod",
            "knack",
            "api_url",
            prod_pgrest.clone(),
        ),
        (
            "unreachable-socrata-from-env-table",
            "prod",
            "socrata",
            "url",
            publish("records-to-socrata"),
        ),
        (
            "unreachable-agol-from-env-table",
            "prod",
            "agol",
            "url",
            publish("records-to-agol"),
        ),
    ];
    for (name, env, table, key, cmd) in from_env_table {
        scenarios.push(Box::pin(async move {
            let fakes = Fakes::start().await;
            setup(&fakes, METADATA).await;
            append_config(
                &fakes,
                &format!("\n[env.{env}.{table}]\n{key} = \"{DEAD}\"\n"),
            );
            g.check(
                name,
                "the check: line names [env.<env>.<table>] <key> in <file> (hints.rs)",
                Invocation::fakes(&fakes, &[], &cmd),
                exact,
            )
            .await;
        }));
    }
    scenarios.push(Box::pin(async move {
        let fakes = Fakes::start().await;
        let over = [
            ("KNACK_API_URL", "http://knack.invalid/v1"),
            ("KNACK_ALLOW_INSECURE_HTTP", "1"),
        ];
        g.check(
            "unreachable-knack-insecure-opt-in-json",
            "Knack's opt-in reaches the client: the run fails at the network, naming the setting \
            (messages.rs the_knack_opt_in_reaches_the_client)",
            Invocation::fakes(
                &fakes,
                &over,
                &with(METADATA, &["--dry-run", "--log-format", "json"]),
            ),
            exact,
        )
        .await;
    }));
    scenarios.push(Box::pin(async move {
        let fakes = Fakes::start().await;
        let over = [
            ("PGREST_ENDPOINT", "http://pgrest.invalid:3000"),
            ("PGREST_ALLOW_INSECURE_HTTP", "true"),
        ];
        g.check(
            "unreachable-insecure-opt-in-json",
            "the opt-in logged as a warning, then the host fails to resolve, named with its \
            variable (messages.rs allow_insecure_http_is_an_explicit_logged_opt_in)",
            Invocation::fakes(&fakes, &over, &with(METADATA, &["--log-format", "json"])),
            exact,
        )
        .await;
    }));
    all(scenarios).await;
    g.finish();
}

/// A scenario without fakes: its name, what it covers, its environment and its arguments.
type BareCase = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static [&'static str],
);

/// `aks db init`'s refusals and connection failures against the local PostgreSQL (db_init.rs).
#[tokio::test(flavor = "multi_thread")]
async fn db_init() {
    let g = Goldens::new();
    const INIT: &[&str] = &["db", "init"];
    let cases: &[BareCase] = &[
        (
            "db-init-print",
            "the staging SQL on stdout (db_init.rs print_writes_the_staging_sql_to_stdout)",
            &[],
            &["db", "init", "--print"],
        ),
        (
            "db-init-no-database-url",
            "without DATABASE_URL (db_init.rs without_database_url_it_is_a_usage_error)",
            &[],
            INIT,
        ),
        (
            "db-init-malformed-url",
            "not a PostgreSQL URL, the password not shown (db_init.rs \
            malformed_database_url_is_a_usage_error)",
            &[(
                "DATABASE_URL",
                "postgres://postgres:pw-never-print@127.0.0.1:port/knack",
            )],
            INIT,
        ),
        (
            "db-init-connection-refused",
            "nothing listens: the cause and the fix, the password not shown (db_init.rs \
            unreachable_database_names_the_cause_and_the_fix_without_the_password)",
            &[(
                "DATABASE_URL",
                "postgres://postgres:pw-never-print@127.0.0.1:9/knack",
            )],
            INIT,
        ),
        (
            "db-init-no-such-database",
            "the hint for a missing database (db_init.rs \
            connection_failures_get_the_hint_that_matches)",
            &[(
                "DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/aks_no_such_database",
            )],
            INIT,
        ),
        (
            "db-init-no-such-role",
            "the hint for a refused login (db_init.rs \
            connection_failures_get_the_hint_that_matches)",
            &[(
                "DATABASE_URL",
                "postgres://aks_no_such_role@127.0.0.1:5432/postgres",
            )],
            INIT,
        ),
        (
            "db-init-unreadable-root-cert",
            "PGSSLROOTCERT that cannot be read (db_init.rs \
            connection_failures_get_the_hint_that_matches)",
            &[
                (
                    "DATABASE_URL",
                    "postgres://postgres@127.0.0.1:5432/knack?sslmode=require",
                ),
                ("PGSSLROOTCERT", "/nonexistent/ca.pem"),
            ],
            INIT,
        ),
    ];
    for (name, about, env, args) in cases {
        g.check(name, about, Invocation::bare(env, args), Stderr::Exact)
            .await;
    }
    // TLS: the server's certificate (Debian's snakeoil, names localhost) untrusted with the
    // system store emptied (SSL_CERT_FILE, which rustls-native-certs honours), as db_init.rs.
    let empty = tempfile::NamedTempFile::new().unwrap();
    let empty = empty.path().to_str().unwrap().to_string();
    g.check(
        "db-init-tls-untrusted",
        "the TLS hint for an untrusted certificate (db_init.rs \
        sslmode_require_works_over_tls_and_its_failures_get_a_tls_hint)",
        Invocation::bare(
            &[
                (
                    "DATABASE_URL",
                    "postgres://postgres@localhost:5432/postgres?sslmode=require",
                ),
                ("SSL_CERT_FILE", empty.as_str()),
            ],
            &["db", "init"],
        ),
        Stderr::Exact,
    )
    .await;
    // Trusted through PGSSLROOTCERT (a copy, so the file's path is a temp one) but reached by
    // its IP address, which the certificate does not name.
    let cert = tempfile::NamedTempFile::new().unwrap();
    std::fs::copy(server_certificate().await, cert.path()).unwrap();
    let cert = cert.path().to_str().unwrap().to_string();
    g.check(
        "db-init-tls-wrong-name",
        "the TLS hint for a certificate that does not name the host (db_init.rs \
        sslmode_require_works_over_tls_and_its_failures_get_a_tls_hint)",
        Invocation::bare(
            &[
                (
                    "DATABASE_URL",
                    "postgres://postgres@127.0.0.1:5432/postgres?sslmode=require",
                ),
                ("PGSSLROOTCERT", cert.as_str()),
            ],
            &["db", "init"],
        ),
        Stderr::Exact,
    )
    .await;
    // A fresh database: a dry run finds the tables absent, then the schema is applied.
    let db = format!("aks_golden_{}", std::process::id());
    let admin = admin().await;
    for sql in [
        format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        format!("CREATE DATABASE {db}"),
    ] {
        admin.batch_execute(&sql).await.unwrap();
    }
    let url = format!("postgres://postgres@127.0.0.1:5432/{db}");
    for (name, about, args) in [
        (
            "db-init-dry-run",
            "connects, prints the SQL it would apply, applies nothing (db_init.rs \
            dry_run_prints_the_sql_and_applies_nothing)",
            &["--dry-run", "db", "init"][..],
        ),
        (
            "db-init-apply",
            "the schema applied to a fresh database (db_init.rs \
            applies_the_schema_twice_to_a_fresh_database)",
            &["db", "init"],
        ),
    ] {
        let inv =
            Invocation::bare(&[("DATABASE_URL", url.as_str())], args).alias(&db, "<SCRATCH_DB>");
        g.check(name, about, inv, Stderr::Exact).await;
    }
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .await
        .unwrap();
    g.finish();
}

/// A connection to the local PostgreSQL as its superuser.
async fn admin() -> tokio_postgres::Client {
    let (admin, conn) = tokio_postgres::connect(
        "host=127.0.0.1 port=5432 user=postgres dbname=postgres",
        tokio_postgres::NoTls,
    )
    .await
    .unwrap_or_else(|e| panic!("{}: {e}", common::PG_HINT));
    tokio::spawn(conn);
    admin
}

/// The local PostgreSQL's certificate file (it must have ssl = on, as db_init.rs requires).
async fn server_certificate() -> String {
    admin()
        .await
        .query_one("SELECT current_setting('ssl_cert_file')", &[])
        .await
        .unwrap()
        .get(0)
}
