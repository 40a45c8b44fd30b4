//! The staging SQL against the real local PostgreSQL (127.0.0.1:5432, user postgres, trust auth).
//! `scripts/test` (what CI runs) starts the server; if it is unreachable these tests fail loudly,
//! saying how to start it, rather than pass.

use std::time::Duration;

use pgrest_client::schema::{ANON_ROLE, API_ROLE, STAGING_SQL};
use tokio_postgres::{Client, NoTls};

const ADMIN: &str = "host=127.0.0.1 port=5432 user=postgres dbname=postgres";

async fn connect(conninfo: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(conninfo, NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
            "cannot connect to PostgreSQL ({conninfo}): {e}. These tests need it on 127.0.0.1:5432 \
             with trust auth for user postgres: scripts/test starts it, or run: \
             pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        )
        });
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// A throwaway database, dropped when the guard goes out of scope, even when the test panics.
struct TempDb {
    name: String,
}

impl TempDb {
    async fn create() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!("pgrest_test_{}_{}", std::process::id(), nanos);
        connect(ADMIN)
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        Self { name }
    }
    fn conninfo(&self) -> String {
        format!(
            "host=127.0.0.1 port=5432 user=postgres dbname={}",
            self.name
        )
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot block: use a fresh thread and runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok((c, conn)) = tokio_postgres::connect(ADMIN, NoTls).await {
                    tokio::spawn(conn);
                    let _ = c
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// A fresh database with the schema applied twice (the second run proves it is idempotent).
async fn staged() -> (TempDb, Client) {
    // Roles are cluster-wide: apply the scripts of this binary's tests one at a time.
    static APPLY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _serial = APPLY.lock().await;
    let db = TempDb::create().await;
    let c = connect(&db.conninfo()).await;
    c.batch_execute(STAGING_SQL)
        .await
        .expect("first application of the staging SQL");
    c.batch_execute(STAGING_SQL)
        .await
        .expect("second application of the staging SQL (must be idempotent)");
    (db, c)
}

const UPSERT: &str = "INSERT INTO api.knack (app_id, container_id, record_id, record) VALUES ($1, $2, $3, $4::text::json) \
     ON CONFLICT (app_id, container_id, record_id) DO UPDATE SET record = EXCLUDED.record";

#[tokio::test]
async fn upsert_on_composite_key_updates_in_place_and_advances_updated_at() {
    let (_db, c) = staged().await;
    c.execute(UPSERT, &[&"app", &"view_1", &"r1", &r#"{"v":1}"#])
        .await
        .unwrap();
    // Same record id in another container is a different row (the reason id is not the key).
    c.execute(UPSERT, &[&"app", &"view_2", &"r1", &r#"{"v":1}"#])
        .await
        .unwrap();
    let before = c
        .query_one(
            "SELECT id, updated_at::text FROM api.knack WHERE container_id = 'view_1'",
            &[],
        )
        .await
        .unwrap();
    let (id_before, ts_before): (i64, String) = (before.get(0), before.get(1));
    tokio::time::sleep(Duration::from_millis(20)).await;
    c.execute(UPSERT, &[&"app", &"view_1", &"r1", &r#"{"v":2}"#])
        .await
        .unwrap();

    let rows = c
        .query(
            "SELECT container_id, record::text FROM api.knack ORDER BY container_id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get::<_, String>(1), r#"{"v":2}"#);
    let after = c
        .query_one(
            "SELECT id, updated_at > $1::text::timestamptz FROM api.knack WHERE container_id = 'view_1'",
            &[&ts_before],
        )
        .await
        .unwrap();
    assert_eq!(
        after.get::<_, i64>(0),
        id_before,
        "an upsert-update keeps the row's id"
    );
    assert!(after.get::<_, bool>(1), "updated_at must advance on update");

    // A plain UPDATE fires the trigger too, even when it tries to set updated_at itself.
    tokio::time::sleep(Duration::from_millis(20)).await;
    c.execute(
        "UPDATE api.knack SET updated_at = '2000-01-01' WHERE container_id = 'view_2'",
        &[],
    )
    .await
    .unwrap();
    let year: f64 = c
        .query_one("SELECT extract(year FROM updated_at)::float8 FROM api.knack WHERE container_id = 'view_2'", &[])
        .await
        .unwrap()
        .get(0);
    assert!(year > 2000.0, "the trigger overrides updated_at with now()");
}

#[tokio::test]
async fn ids_are_unique_and_increasing_and_cannot_be_supplied() {
    let (_db, c) = staged().await;
    for i in 0..5 {
        c.execute(UPSERT, &[&"app", &"view_1", &format!("r{i}"), &"{}"])
            .await
            .unwrap();
    }
    let ids: Vec<i64> = c
        .query("SELECT id FROM api.knack ORDER BY record_id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids.len(), 5);
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids increase with insertion order: {ids:?}"
    );
    let err = c
        .execute("INSERT INTO api.knack (app_id, container_id, record_id, record, id) VALUES ('a','b','c','{}', 1)", &[])
        .await
        .unwrap_err();
    assert_eq!(
        err.code().map(|c| c.code()),
        Some("428C9"),
        "id is GENERATED ALWAYS: {err}"
    );
    let not_null = c
        .execute(
            "INSERT INTO api.knack (app_id, container_id, record_id) VALUES ('a','b','c')",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(
        not_null.code().map(|c| c.code()),
        Some("23502"),
        "record is NOT NULL: {not_null}"
    );
}

#[tokio::test]
async fn api_role_reads_and_writes_anonymous_role_cannot() {
    let (_db, c) = staged().await;
    c.batch_execute(&format!("SET ROLE {API_ROLE}"))
        .await
        .unwrap();
    c.execute(UPSERT, &[&"app", &"view_1", &"r1", &"{}"])
        .await
        .expect("API role inserts/upserts into api.knack");
    c.execute(
        "INSERT INTO api.knack_metadata (app_id, metadata) VALUES ('app', '{}') \
         ON CONFLICT (app_id) DO UPDATE SET metadata = EXCLUDED.metadata",
        &[],
    )
    .await
    .expect("API role writes api.knack_metadata");
    let n: i64 = c
        .query_one("SELECT count(*) FROM api.knack", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    c.execute(
        "UPDATE api.knack SET record = '{\"x\":1}' WHERE app_id = 'app'",
        &[],
    )
    .await
    .unwrap();
    c.execute("DELETE FROM api.knack_metadata WHERE app_id = 'app'", &[])
        .await
        .unwrap();

    c.batch_execute(&format!("RESET ROLE; SET ROLE {ANON_ROLE}"))
        .await
        .unwrap();
    for sql in [
        "SELECT * FROM api.knack",
        "SELECT * FROM api.knack_metadata",
    ] {
        let err = c.query(sql, &[]).await.unwrap_err();
        assert_eq!(
            err.code().map(|c| c.code()),
            Some("42501"),
            "anonymous must be denied: {sql}: {err}"
        );
    }
    let err = c
        .execute(
            "INSERT INTO api.knack_metadata (app_id, metadata) VALUES ('x', '{}')",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("42501"));

    c.batch_execute("RESET ROLE").await.unwrap();
    let login: bool = c
        .query_one(
            "SELECT rolcanlogin AND NOT rolinherit FROM pg_roles WHERE rolname = 'authenticator'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(login, "authenticator logs in and does not inherit");
}

#[tokio::test]
async fn sync_state_is_keyed_checked_stamped_and_granted_to_the_api_role_only() {
    let (_db, c) = staged().await;
    c.batch_execute(&format!("SET ROLE {API_ROLE}"))
        .await
        .unwrap();
    let upsert = "INSERT INTO api.knack_sync_state (app_id, container_id, destination, watermark, \
                  last_result, last_report) VALUES ($1, 'view_1', $2, '2000-01-01', 'succeeded', \
                  '{\"read\": 3}'::jsonb) ON CONFLICT (app_id, container_id, destination) \
                  DO UPDATE SET last_result = EXCLUDED.last_result";
    for dest in ["postgrest", "socrata", "agol"] {
        c.execute(upsert, &[&"app", &dest])
            .await
            .expect("API role writes api.knack_sync_state");
    }
    // The same key again is an update, not a second row.
    c.execute(upsert, &[&"app", &"socrata"]).await.unwrap();
    let n: i64 = c
        .query_one("SELECT count(*) FROM api.knack_sync_state", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 3);
    c.execute(upsert, &[&"app", &"knack:smart-mobility"])
        .await
        .expect("a Knack destination is a destination");
    for bad in ["s3", "knack:"] {
        let err = c.execute(upsert, &[&"app", &bad]).await.unwrap_err();
        assert_eq!(err.code().map(|c| c.code()), Some("23514"), "{bad}: {err}");
    }
    c.execute(
        "DELETE FROM api.knack_sync_state WHERE destination LIKE 'knack:%'",
        &[],
    )
    .await
    .unwrap();
    let err = c.execute(upsert, &[&"app", &"s3"]).await.unwrap_err();
    assert_eq!(
        err.code().map(|c| c.code()),
        Some("23514"),
        "a destination outside postgrest/socrata/agol violates the CHECK: {err}"
    );
    // The trigger stamps updated_at with the database's clock, whatever the writer sends.
    c.execute(
        "UPDATE api.knack_sync_state SET updated_at = '2000-01-01' WHERE destination = 'agol'",
        &[],
    )
    .await
    .unwrap();
    let recent: bool = c
        .query_one(
            "SELECT updated_at > now() - interval '1 minute' FROM api.knack_sync_state \
             WHERE destination = 'agol'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(recent, "the trigger overrides updated_at with now()");

    c.batch_execute(&format!("RESET ROLE; SET ROLE {ANON_ROLE}"))
        .await
        .unwrap();
    let err = c
        .query("SELECT * FROM api.knack_sync_state", &[])
        .await
        .unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("42501"));
    c.batch_execute("RESET ROLE").await.unwrap();
}

/// A table made by the previous staging SQL (three destinations only) is widened by a rerun, rows
/// kept, and a third run changes nothing.
#[tokio::test]
async fn an_older_sync_state_table_is_widened_to_knack_destinations_in_place() {
    let (_db, c) = staged().await;
    c.batch_execute(
        "ALTER TABLE api.knack_sync_state DROP CONSTRAINT knack_sync_state_destination_check;
         ALTER TABLE api.knack_sync_state ADD CONSTRAINT knack_sync_state_destination_check
             CHECK (destination IN ('postgrest', 'socrata', 'agol'));
         INSERT INTO api.knack_sync_state (app_id, container_id, destination) VALUES ('a', 'view_1', 'socrata');",
    )
    .await
    .unwrap();
    let insert = "INSERT INTO api.knack_sync_state (app_id, container_id, destination) \
                  VALUES ('a', 'view_1', 'knack:dest')";
    assert!(c.execute(insert, &[]).await.is_err(), "the old check");
    for _ in 0..2 {
        c.batch_execute(STAGING_SQL).await.unwrap();
    }
    c.execute(insert, &[]).await.expect("widened");
    let n: i64 = c
        .query_one("SELECT count(*) FROM api.knack_sync_state", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2, "the old row kept");
}

/// A store of the previous release (fingerprints in `api.knack_schema`, no fingerprint columns in
/// `api.knack_sync_state`) has them moved into the matching rows and that table dropped; applied
/// twice in a row, the fingerprints stay and a row that already had one keeps its own.
#[tokio::test]
async fn the_previous_schema_table_is_folded_into_sync_state_keeping_the_fingerprints() {
    let (_db, c) = staged().await;
    c.batch_execute(
        "ALTER TABLE api.knack_sync_state DROP COLUMN schema_fingerprint,
             DROP COLUMN schema_change, DROP COLUMN schema_changed_at;
         CREATE TABLE api.knack_schema (
             app_id text NOT NULL, container_id text NOT NULL, destination text NOT NULL,
             fingerprint jsonb NOT NULL, last_change text,
             updated_at timestamptz NOT NULL DEFAULT now(),
             CONSTRAINT knack_schema_pkey PRIMARY KEY (app_id, container_id, destination));
         INSERT INTO api.knack_sync_state (app_id, container_id, destination, watermark) VALUES
             ('a', 'view_1', 'postgrest', '2026-01-02T00:00:00Z'),
             ('a', 'view_1', 'socrata', '2026-01-02T00:00:00Z'),
             ('a', 'view_2', 'postgrest', NULL);
         INSERT INTO api.knack_schema (app_id, container_id, destination, fingerprint, last_change, updated_at) VALUES
             ('a', 'view_1', 'postgrest', '{\"fields\": [1]}', NULL, '2026-01-01T00:00:00Z'),
             ('a', 'view_1', 'socrata', '{\"fields\": [2]}', 'field_1 renamed', '2026-01-01T00:00:00Z'),
             ('a', 'view_9', 'agol', '{\"fields\": [3]}', NULL, '2026-01-01T00:00:00Z');",
    )
    .await
    .unwrap();
    let rows = "SELECT container_id || '/' || destination, schema_fingerprint::text, \
                schema_change, schema_changed_at::text, watermark IS NOT NULL \
                FROM api.knack_sync_state ORDER BY 1";
    type Row = (String, Option<String>, Option<String>, Option<String>, bool);
    let read = |rows: Vec<tokio_postgres::Row>| -> Vec<Row> {
        rows.iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect()
    };
    let moved = |s: &str| Some(s.to_string());
    let expected: Vec<Row> = vec![
        (
            "view_1/postgrest".into(),
            moved(r#"{"fields": [1]}"#),
            None,
            None,
            true,
        ),
        (
            "view_1/socrata".into(),
            moved(r#"{"fields": [2]}"#),
            moved("field_1 renamed"),
            moved("2026-01-01 00:00:00+00"),
            true,
        ),
        ("view_2/postgrest".into(), None, None, None, false),
    ];
    c.batch_execute("SET TIME ZONE 'UTC'").await.unwrap();
    for run in 0..2 {
        c.batch_execute(STAGING_SQL).await.unwrap();
        let got = read(c.query(rows, &[]).await.unwrap());
        assert_eq!(got, expected, "after application {}", run + 1);
        let gone: bool = c
            .query_one("SELECT to_regclass('api.knack_schema') IS NULL", &[])
            .await
            .unwrap()
            .get(0);
        assert!(gone, "api.knack_schema dropped");
    }
    // A row that already holds a fingerprint keeps it when an old table is found again.
    c.batch_execute(
        "CREATE TABLE api.knack_schema (app_id text, container_id text, destination text,
             fingerprint jsonb, last_change text, updated_at timestamptz);
         INSERT INTO api.knack_schema VALUES ('a', 'view_1', 'postgrest', '{\"old\": true}', 'x', now());",
    )
    .await
    .unwrap();
    c.batch_execute(STAGING_SQL).await.unwrap();
    assert_eq!(read(c.query(rows, &[]).await.unwrap()), expected);
}
