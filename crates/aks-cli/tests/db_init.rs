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
                .and(contains("nothing accepts connections there"))
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
        .unwrap_or_else(|e| panic!("{}: {e}", common::PG_HINT));
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

/// A fresh database for one test, dropped (with FORCE) by [`Scratch::drop_now`].
struct Scratch {
    admin: tokio_postgres::Client,
    name: String,
}

impl Scratch {
    async fn new(tag: &str) -> Self {
        let name = format!("aks_db_{tag}_{}", std::process::id());
        let (admin, conn) = tokio_postgres::connect(ADMIN, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", common::PG_HINT));
        tokio::spawn(conn);
        for sql in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            admin.batch_execute(&sql).await.unwrap();
        }
        Self { admin, name }
    }

    /// Whether the staging tables exist in the scratch database.
    async fn tables(&self) -> i64 {
        let (client, conn) = tokio_postgres::connect(
            &format!(
                "host=127.0.0.1 port=5432 user=postgres dbname={}",
                self.name
            ),
            tokio_postgres::NoTls,
        )
        .await
        .unwrap();
        tokio::spawn(conn);
        client
            .query_one(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'api' \
                 AND table_name IN ('knack', 'knack_metadata')",
                &[],
            )
            .await
            .unwrap()
            .get(0)
    }

    async fn drop_now(self) {
        self.admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await
            .unwrap();
    }
}

/// `aks ARGS` with `vars`, off the async runtime.
async fn run(
    vars: Vec<(&'static str, String)>,
    args: &'static [&'static str],
) -> std::process::Output {
    tokio::task::spawn_blocking(move || aks().envs(vars).args(args).output().unwrap())
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `--dry-run db init` connects, prints the SQL it would apply, and applies nothing.
#[tokio::test(flavor = "multi_thread")]
async fn dry_run_prints_the_sql_and_applies_nothing() {
    let db = Scratch::new("dry").await;
    let url = format!("postgres://postgres@127.0.0.1:5432/{}", db.name);
    let out = run(vec![("DATABASE_URL", url)], &["--dry-run", "db", "init"]).await;
    let tables = db.tables().await;
    db.drop_now().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("CREATE SCHEMA IF NOT EXISTS api"));
    assert!(!text(&out.stdout).contains("staging schema applied"));
    let err = text(&out.stderr);
    assert!(
        err.contains("nothing was applied") && err.contains("absent"),
        "{err}"
    );
    assert_eq!(tables, 0, "a dry run created tables");
}

/// `sslmode=require` connects over TLS (rustls) and verifies the server's certificate: trusted
/// through PGSSLROOTCERT it works; untrusted, the hint is about the certificate.
#[tokio::test(flavor = "multi_thread")]
async fn sslmode_require_works_over_tls_and_its_failures_get_a_tls_hint() {
    let db = Scratch::new("tls").await;
    let row = db
        .admin
        .query_one(
            "SELECT current_setting('ssl'), current_setting('ssl_cert_file')",
            &[],
        )
        .await
        .unwrap();
    let (ssl, cert): (String, String) = (row.get(0), row.get(1));
    assert_eq!(
        ssl, "on",
        "the test PostgreSQL must have ssl = on (Debian's default)"
    );
    // The server's certificate (Debian's snakeoil) names localhost. With the system store
    // emptied (SSL_CERT_FILE, which rustls-native-certs honours) it is trusted only through
    // PGSSLROOTCERT; by its IP address it does not match the name.
    let url = format!(
        "postgres://postgres@localhost:5432/{}?sslmode=require",
        db.name
    );
    let empty = tempfile::NamedTempFile::new().unwrap();
    let empty = empty.path().display().to_string();
    let no_roots = ("SSL_CERT_FILE", empty.clone());
    let untrusted = run(
        vec![("DATABASE_URL", url.clone()), no_roots.clone()],
        &["db", "init"],
    )
    .await;
    let by_ip = run(
        vec![
            ("DATABASE_URL", url.replace("@localhost:", "@127.0.0.1:")),
            ("PGSSLROOTCERT", cert.clone()),
        ],
        &["db", "init"],
    )
    .await;
    let trusted = run(
        vec![
            ("DATABASE_URL", url.clone()),
            ("PGSSLROOTCERT", cert.clone()),
            no_roots,
        ],
        &["db", "init"],
    )
    .await;
    let verify_full = url.replace("sslmode=require", "sslmode=verify-full");
    let again = run(
        vec![("DATABASE_URL", verify_full), ("PGSSLROOTCERT", cert)],
        &["db", "init"],
    )
    .await;
    let tables = db.tables().await;
    db.drop_now().await;

    assert_eq!(trusted.status.code(), Some(0), "{}", text(&trusted.stderr));
    assert!(text(&trusted.stdout).contains("staging schema applied"));
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert_eq!(tables, 2);
    for (out, why) in [
        (&untrusted, "UnknownIssuer"),
        (&by_ip, "not valid for name"),
    ] {
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(!err.contains("no TLS implementation configured"), "{err}");
        assert!(err.contains(why), "the root cause: {err}");
        assert!(
            err.contains("the TLS handshake failed") && err.contains("PGSSLROOTCERT"),
            "{err}"
        );
        assert!(!err.contains("check that PostgreSQL is running"), "{err}");
    }
}

/// Each connection failure gets the hint that matches it.
#[test]
fn connection_failures_get_the_hint_that_matches() {
    let cases = [
        (
            "postgres://postgres@127.0.0.1:5432/aks_no_such_database",
            "the database does not exist",
        ),
        (
            "postgres://aks_no_such_role@127.0.0.1:5432/postgres",
            "PostgreSQL refused the login",
        ),
        (
            "postgres://postgres@127.0.0.1:9/knack",
            "nothing accepts connections there",
        ),
    ];
    for (url, hint) in cases {
        aks()
            .env("DATABASE_URL", url)
            .args(["db", "init"])
            .assert()
            .code(1)
            .stderr(contains("cannot connect to DATABASE_URL").and(contains(hint)));
    }
    aks()
        .env(
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/knack?sslmode=require",
        )
        .env("PGSSLROOTCERT", "/nonexistent/ca.pem")
        .args(["db", "init"])
        .assert()
        .code(2)
        .stderr(contains("PGSSLROOTCERT=/nonexistent/ca.pem cannot be read"));
}

/// PostgreSQL's NOTICEs ("schema api already exists, skipping") come at DEBUG, as JSON, with no
/// path from the build machine; at the default level they are not shown.
#[tokio::test(flavor = "multi_thread")]
async fn notices_are_debug_events_without_build_paths() {
    let db = Scratch::new("notice").await;
    let url = format!("postgres://postgres@127.0.0.1:5432/{}", db.name);
    let first = run(
        vec![("DATABASE_URL", url.clone())],
        &["--log-format", "json", "db", "init"],
    )
    .await;
    let second = run(
        vec![("DATABASE_URL", url.clone()), ("RUST_LOG", "debug".into())],
        &["--log-format", "json", "db", "init"],
    )
    .await;
    let quiet = run(
        vec![("DATABASE_URL", url)],
        &["--log-format", "json", "db", "init"],
    )
    .await;
    db.drop_now().await;
    for out in [&first, &second, &quiet] {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let err = text(&second.stderr);
    let lines: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let notices: Vec<_> = lines
        .iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.contains("already exists"))
        })
        .collect();
    assert!(!notices.is_empty(), "a re-run gets NOTICEs: {err}");
    for n in &notices {
        assert_eq!(n["level"], "DEBUG", "{n}");
        assert!(n.get("log.file").is_none(), "{n}");
    }
    assert!(
        !err.contains(".cargo/registry") && !err.contains("log.file"),
        "{err}"
    );
    assert!(
        !text(&quiet.stderr).contains("already exists"),
        "{}",
        text(&quiet.stderr)
    );
}
