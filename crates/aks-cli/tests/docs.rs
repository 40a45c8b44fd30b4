//! What the docs promise a newcomer, checked against what the code and scripts do: the exit codes
//! read the same in `aks --help`, the README and deploy/README.md; `aks db init --help` names every
//! table the schema creates; the README's test command is what CI runs; every ignored test says
//! why and is run by that command; the hints for a stopped PostgreSQL say how it is started.

mod common;

use std::path::{Path, PathBuf};

use common::aks;
use knack_etl::pgrest_client::schema::STAGING_SQL;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    let path = root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn stdout_of(args: &[&str]) -> String {
    let out = aks().args(args).output().unwrap();
    assert!(out.status.success(), "aks {args:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The lines from `Exit codes:` to the end of the block, each trimmed (a README indents the
/// block to sit in a list item).
fn exit_code_block(text: &str, what: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim() == "Exit codes:")
        .unwrap_or_else(|| panic!("{what} has no `Exit codes:` block"));
    lines[start..]
        .iter()
        .map(|l| l.trim())
        .take_while(|l| !l.is_empty() && !l.starts_with("```"))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_exit_codes_read_the_same_in_aks_help_and_both_readmes() {
    let help = exit_code_block(&stdout_of(&["--help"]), "aks --help");
    for code in ["0  ", "1  ", "2  ", "3  "] {
        assert!(
            help.iter().any(|l| l.starts_with(code)),
            "exit code {code}in {help:#?}"
        );
    }
    // `-h` ends the same way: the operator who types the short form gets them too.
    assert_eq!(exit_code_block(&stdout_of(&["-h"]), "aks -h"), help);
    for doc in ["README.md", "deploy/README.md"] {
        assert_eq!(exit_code_block(&read(doc), doc), help, "{doc}");
    }
}

#[test]
fn db_init_help_names_every_table_the_schema_creates() {
    let tables: Vec<&str> = STAGING_SQL
        .lines()
        .filter_map(|l| l.trim().strip_prefix("CREATE TABLE IF NOT EXISTS "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        tables,
        ["api.knack", "api.knack_metadata", "api.knack_sync_state"]
    );
    let help = stdout_of(&["db", "init", "--help"]);
    let summary = stdout_of(&["db", "--help"]);
    for table in &tables {
        assert!(
            help.contains(table),
            "aks db init --help lacks {table}:\n{help}"
        );
        assert!(
            summary.contains(table),
            "aks db --help lacks {table}:\n{summary}"
        );
    }
}

#[test]
fn the_readme_test_command_is_what_ci_runs() {
    let readme = read("README.md");
    let command = readme
        .split("## Two commands")
        .nth(1)
        .and_then(|s| s.split("```sh").nth(1))
        .and_then(|s| s.split("```").next())
        .expect("the README's Two commands block");
    let commands: Vec<&str> = command
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(commands, ["cargo run --example quickstart", "scripts/test"]);
    let ci: Vec<String> = read(".ci/run")
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert!(ci.iter().any(|l| l == "scripts/test"), "{ci:#?}");
    assert!(
        !ci.iter().any(|l| l.starts_with("cargo test")),
        "CI runs the tests only through scripts/test: {ci:#?}"
    );
    let script = read("scripts/test");
    assert!(script.contains("--skip-systemctl-redirect"));
    assert!(script.contains("trust auth"));
    assert!(script.contains("bash .ci/python-env"));
    assert!(script.contains("-- --ignored"));
}

/// Every `#[ignore]` in the workspace's tests has a reason, and the reason sends the reader to
/// `scripts/test`, which runs the ignored tests: none is left out of CI.
#[test]
fn every_ignored_test_says_why_and_is_run_by_the_test_command() {
    let mut ignored = Vec::new();
    for file in rust_files(&root().join("crates")) {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.starts_with("#[ignore") {
                let at = format!("{}:{}", file.display(), n + 1);
                assert!(
                    line.starts_with("#[ignore = \"") && line.contains("scripts/test"),
                    "{at}: an ignored test must say why and that scripts/test runs it: {line}"
                );
                ignored.push(at);
            }
        }
    }
    assert_eq!(ignored.len(), 6, "the Airflow and S3 tests: {ignored:#?}");
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target") {
                out.extend(rust_files(&path));
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// A test that cannot reach PostgreSQL says how to start it the way CI does, and that it needs
/// trust auth.
#[test]
fn the_postgresql_hints_say_how_ci_starts_it() {
    let schema_test = read("crates/pgrest-client/tests/schema_pg.rs");
    for (what, hint) in [
        ("common::PG_HINT", common::PG_HINT),
        ("schema_pg.rs", schema_test.as_str()),
    ] {
        assert!(
            hint.contains("pg_ctlcluster --skip-systemctl-redirect"),
            "{what}"
        );
        assert!(hint.contains("trust auth for user postgres"), "{what}");
        assert!(hint.contains("scripts/test"), "{what}");
    }
}

#[test]
fn the_deploy_readme_names_what_db_init_and_the_insecure_opt_in_need() {
    let deploy = read("deploy/README.md");
    let row = deploy
        .lines()
        .find(|l| l.starts_with("| `db init` |"))
        .expect("deploy/README.md's environment table has a `db init` row");
    assert!(row.contains("DATABASE_URL"), "{row}");
    assert!(deploy.contains("PGREST_ALLOW_INSECURE_HTTP=true"));
    let readme = read("README.md");
    let glossary = readme
        .split("## Glossary")
        .nth(1)
        .expect("the README has a glossary");
    for term in [
        "container",
        "record",
        "staged",
        "watermark",
        "row identifier",
        "match field",
    ] {
        assert!(
            glossary.contains(&format!("- **{term}**")),
            "the glossary explains {term}"
        );
    }
}
