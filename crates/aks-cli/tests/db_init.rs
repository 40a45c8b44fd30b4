//! `aks db init` against the real local PostgreSQL (CI starts it).

use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

mod common;

use common::aks;

const ADMIN: &str = "host=127.0.0.1 port=5432 user=postgres dbname=postgres";

#[test]
fn print_writes_the_staging_sql_to_stdout() {
    aks()
        .args(["db", "init", "--print"])
        .assert()
        .success()
        .stdout(contains("CREATE SCHEMA IF NOT EXISTS api").and(contains("knack_metadata")));
}

#[test]
fn without_database_url_it_is_a_usage_error() {
    aks()
        .args(["db", "init"])
        .assert()
        .code(2)
        .stderr(contains("DATABASE_URL").and(contains("--print")));
}

#[test]
fn unreachable_database_names_the_cause_and_the_fix_without_the_password() {
    // Port 9 (discard) has no PostgreSQL: the connection is refused.
    aks()
        .env(
            "DATABASE_URL",
            "postgres://postgres:pw-never-print@127.0.0.1:9/knack",
        )
        .args(["db", "init"])
        .assert()
        .code(1)
        .stderr(
            contains("cannot connect to DATABASE_URL")
                .and(contains("Connection refused"))
                .and(contains("check that PostgreSQL is running"))
                .and(contains("pw-never-print").not()),
        );
}

#[test]
fn malformed_database_url_is_a_usage_error() {
    aks()
        .env(
            "DATABASE_URL",
            "postgres://postgres:pw-never-print@127.0.0.1:port/knack",
        )
        .args(["db", "init"])
        .assert()
        .code(2)
        .stderr(
            contains("DATABASE_URL is not a PostgreSQL URL")
                .and(contains("postgres://postgres@127.0.0.1:5432/knack"))
                .and(contains("pw-never-print").not()),
        );
}

#[tokio::test(flavor = "multi_thread")]
async fn applies_the_schema_twice_to_a_fresh_database() {
    let db = format!("aks_db_init_{}", std::process::id());
    let (admin, conn) = tokio_postgres::connect(ADMIN, tokio_postgres::NoTls)
        .await
        .expect("PostgreSQL must be running on 127.0.0.1:5432 (.ci/run starts it)");
    tokio::spawn(conn);
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .await
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .unwrap();

    let url = format!("postgres://postgres@127.0.0.1:5432/{db}");
    let outcome = tokio::task::spawn_blocking(move || {
        (0..2)
            .map(|_| {
                aks()
                    .env("DATABASE_URL", &url)
                    .args(["db", "init"])
                    .output()
                    .unwrap()
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();

    let check = async {
        let (client, conn) = tokio_postgres::connect(
            &format!("host=127.0.0.1 port=5432 user=postgres dbname={db}"),
            tokio_postgres::NoTls,
        )
        .await
        .unwrap();
        tokio::spawn(conn);
        let row = client
            .query_one(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'api' \
                 AND table_name IN ('knack', 'knack_metadata')",
                &[],
            )
            .await
            .unwrap();
        row.get::<_, i64>(0)
    }
    .await;
    // FORCE: the check's connection may still be closing.
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .await
        .unwrap();

    for out in &outcome {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("staging schema applied"));
    }
    assert_eq!(check, 2, "api.knack and api.knack_metadata exist");
}
