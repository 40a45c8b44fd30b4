//! The client against the fake PostgREST: keyset paging under a row cap, upserts on composite keys,
//! deletes and patches with filters, faults, JWT checks.
#![cfg(feature = "testkit")]

use std::time::Duration;

use futures::TryStreamExt;
use pgrest_client::testkit::{FakePostgrest, Fault, PostgrestFault, TableSpec};
use pgrest_client::{Keyset, Query, Upsert};
use serde::Deserialize;
use serde_json::{json, Value};

const JWT: &str = "test-jwt";

fn knack_row(container: &str, id: usize) -> Value {
    json!({"app_id": "app", "container_id": container, "record_id": format!("r{id:03}"), "record": {"n": id}})
}

#[derive(Debug, Deserialize, PartialEq)]
struct Staged {
    id: i64,
    record_id: String,
    record: Value,
}

#[tokio::test]
async fn keyset_stream_reads_every_row_once_under_a_max_rows_cap() {
    let fake = FakePostgrest::builder()
        .jwt(JWT)
        .table(TableSpec::knack())
        .max_rows(7)
        .start()
        .await;
    fake.seed("knack", (0..25).map(|i| knack_row("view_1", i)));
    fake.seed("knack", (0..5).map(|i| knack_row("view_2", i)));
    let client = fake.client_builder().build().unwrap();

    let q = Query::new()
        .select("id,record_id,record")
        .eq("app_id", "app")
        .eq("container_id", "view_1");
    let pages: Vec<Vec<Staged>> = client
        .select_pages("knack", q, Keyset::on("id").page_size(10))
        .try_collect()
        .await
        .unwrap();
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(
        sizes,
        vec![7, 7, 7, 4],
        "the server silently capped 10 to 7"
    );
    let ids: Vec<i64> = pages.iter().flatten().map(|r| r.id).collect();
    assert_eq!(ids, (1..=25).collect::<Vec<i64>>());

    // The log holds decoded pairs; the encoding itself is pinned in tests/wire.rs.
    let queries: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| {
            r.query
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        })
        .collect();
    let base = "select=id,record_id,record&app_id=eq.app&container_id=eq.view_1";
    assert_eq!(
        queries,
        vec![
            format!("{base}&order=id.asc&limit=10"),
            format!("{base}&id=gt.7&order=id.asc&limit=10"),
            format!("{base}&id=gt.14&order=id.asc&limit=10"),
            format!("{base}&id=gt.21&order=id.asc&limit=10"),
        ],
        "keyset on id, never offset; the 4-row page (< the learned cap of 7) ends the read"
    );
}

#[tokio::test]
async fn keyset_stream_does_not_skip_or_double_rows_written_during_the_read() {
    let fake = FakePostgrest::staging(JWT).await;
    fake.seed("knack", (0..6).map(|i| knack_row("view_1", i)));
    let client = fake.client_builder().build().unwrap();
    let mut rows = Box::pin(client.select_stream::<Staged>(
        "knack",
        Query::new(),
        Keyset::on("id").page_size(3),
    ));
    let mut seen = vec![];
    seen.push(rows.try_next().await.unwrap().unwrap().id);
    // Offset paging would shift here: a deleted early row and a new late row.
    client
        .delete("knack", &Query::new().eq("record_id", "r000"))
        .await
        .unwrap();
    fake.seed("knack", [knack_row("view_1", 99)]);
    while let Some(r) = rows.try_next().await.unwrap() {
        seen.push(r.id);
    }
    assert_eq!(seen, vec![1, 2, 3, 4, 5, 6, 7]);
}

#[tokio::test]
async fn keyset_errors_are_clear() {
    let fake = FakePostgrest::staging(JWT).await;
    fake.seed("knack", [knack_row("view_1", 1)]);
    let client = fake.client_builder().build().unwrap();
    let err = client
        .select_pages::<Value>("knack", Query::new().select("record_id"), Keyset::on("id"))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("keyset column `id`"), "{err}");
    let err = client
        .select_pages::<Value>(
            "knack",
            Query::new().order_asc("record_id"),
            Keyset::on("id"),
        )
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("remove order"), "{err}");
}

#[tokio::test]
async fn upsert_merges_on_the_composite_key_and_the_database_sets_id_and_updated_at() {
    let fake = FakePostgrest::staging(JWT).await;
    let t0 = chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
        .unwrap()
        .to_utc();
    fake.set_now(t0);
    let client = fake.client_builder().build().unwrap();
    let opts = Upsert::on_conflict(["app_id", "container_id", "record_id"])
        .batch_size(2)
        .concurrency(2);
    let rows: Vec<Value> = (0..5).map(|i| knack_row("view_1", i)).collect();
    assert_eq!(
        client.upsert("knack", &rows, &opts).await.unwrap().batches,
        3
    );
    assert_eq!(fake.rows("knack").len(), 5);

    fake.advance_clock(Duration::from_secs(60));
    let changed = json!({"app_id": "app", "container_id": "view_1", "record_id": "r002", "record": {"n": "new"}});
    let same_id_other_container =
        json!({"app_id": "app", "container_id": "view_9", "record_id": "r002", "record": {}});
    client
        .upsert("knack", &[changed, same_id_other_container], &opts)
        .await
        .unwrap();

    let stored = fake.rows("knack");
    assert_eq!(stored.len(), 6);
    let r2 = stored
        .iter()
        .find(|r| r["record_id"] == "r002" && r["container_id"] == "view_1")
        .unwrap();
    assert_eq!(r2["record"], json!({"n": "new"}));
    assert_eq!(r2["updated_at"], "2024-01-01T00:01:00.000000+00:00");
    let r1 = stored.iter().find(|r| r["record_id"] == "r001").unwrap();
    assert_eq!(
        r1["updated_at"], "2024-01-01T00:00:00.000000+00:00",
        "untouched rows keep their time"
    );
    let ids: Vec<i64> = stored.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 6);
    assert!(
        ids.iter().all(|&i| i >= 1)
            && ids.iter().collect::<std::collections::HashSet<_>>().len() == 6
    );

    // A plain insert of an existing key is a 409 conflict, and nothing is half-written.
    let err = client
        .insert("knack", &[knack_row("view_1", 50), knack_row("view_1", 0)])
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err:?}");
    assert_eq!(fake.rows("knack").len(), 6);
}

#[tokio::test]
async fn delete_by_container_and_updated_at_and_patch_with_filters() {
    let fake = FakePostgrest::staging(JWT).await;
    fake.seed("knack", [
        json!({"app_id": "app", "container_id": "c", "record_id": "old", "record": {}, "updated_at": "2023-12-31T23:00:00+00:00"}),
        json!({"app_id": "app", "container_id": "c", "record_id": "new", "record": {}, "updated_at": "2024-01-02T00:00:00+00:00"}),
        json!({"app_id": "other", "container_id": "c", "record_id": "old", "record": {}, "updated_at": "2000-01-01T00:00:00+00:00"}),
    ]);
    let client = fake.client_builder().build().unwrap();
    let run_start = chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00+00:00").unwrap();
    let filter = Query::new()
        .eq("app_id", "app")
        .eq("container_id", "c")
        .lt("updated_at", run_start);
    let gone: Vec<Value> = client
        .delete_returning("knack", &filter.clone().select("record_id"))
        .await
        .unwrap();
    assert_eq!(gone, vec![json!({"record_id": "old"})]);
    assert_eq!(fake.rows("knack").len(), 2);

    client
        .update(
            "knack",
            &Query::new().eq("app_id", "other"),
            &json!({"record": {"patched": true}}),
        )
        .await
        .unwrap();
    let other = fake
        .rows("knack")
        .into_iter()
        .find(|r| r["app_id"] == "other")
        .unwrap();
    assert_eq!(other["record"], json!({"patched": true}));
    assert_ne!(
        other["updated_at"], "2000-01-01T00:00:00+00:00",
        "the trigger-like clock bumps updated_at"
    );

    let err = client
        .update(
            "knack",
            &Query::new().eq("app_id", "other"),
            &json!({"id": 5}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.error_body().unwrap().code.as_deref(), Some("428C9"));
}

#[tokio::test]
async fn metadata_upsert_on_primary_key_and_jwt_checks() {
    let fake = FakePostgrest::staging(JWT).await;
    let client = fake.client_builder().build().unwrap();
    for v in [1, 2] {
        let row = json!({"app_id": "app", "metadata": {"application": {"v": v}}});
        client
            .upsert("knack_metadata", &[row], &Upsert::new())
            .await
            .unwrap();
    }
    assert_eq!(
        fake.rows("knack_metadata"),
        vec![json!({"app_id": "app", "metadata": {"application": {"v": 2}}})]
    );
    let prefer = fake.requests()[0].header("prefer").unwrap().to_string();
    assert_eq!(prefer, "resolution=merge-duplicates,return=minimal");

    let wrong = pgrest_client::Client::builder()
        .base_url(fake.uri())
        .jwt("forged")
        .build()
        .unwrap();
    let err = wrong
        .select::<Value>("knack_metadata", &Query::new())
        .await
        .unwrap_err();
    assert!(err.is_jwt_error(), "{err:?}");
    let anon = pgrest_client::Client::builder()
        .base_url(fake.uri())
        .build()
        .unwrap();
    let err = anon
        .select::<Value>("knack_metadata", &Query::new())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            pgrest_client::Error::PermissionDenied { status: 401, .. }
        ),
        "{err:?}"
    );
    fake.expire_jwt();
    let err = client
        .select::<Value>("knack_metadata", &Query::new())
        .await
        .unwrap_err();
    assert_eq!(err.error_body().unwrap().message, "JWT expired");
}

#[tokio::test]
async fn injected_faults_are_retried_for_reads_and_upserts_and_inserts_only_when_not_applied() {
    let fake = FakePostgrest::staging(JWT).await;
    let client = fake.client_builder().build().unwrap();
    fake.inject(Fault::unavailable().times(2));
    let rows: Vec<Value> = client.select("knack", &Query::new()).await.unwrap();
    assert!(rows.is_empty());
    assert_eq!(fake.requests().len(), 3);

    fake.clear_requests();
    fake.inject(Fault::gateway_timeout().on_method("POST"));
    client
        .upsert("knack", &[knack_row("c", 1)], &Upsert::new())
        .await
        .unwrap();
    assert_eq!(fake.requests().len(), 2);

    fake.clear_requests();
    fake.inject(Fault::postgrest(502, "", "Bad Gateway").on_method("POST"));
    let err = client
        .insert("knack", &[knack_row("c", 2)])
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(502));
    assert_eq!(
        fake.requests().len(),
        1,
        "an insert that may be applied is not repeated"
    );
    assert_eq!(fake.rows("knack").len(), 1);

    fake.clear_requests();
    fake.inject(Fault::unavailable().on_method("POST"));
    client.insert("knack", &[knack_row("c", 2)]).await.unwrap();
    assert_eq!(
        fake.requests().len(),
        2,
        "recovery's 503 refused it up front"
    );
    assert_eq!(fake.rows("knack").len(), 2);
}

#[tokio::test]
async fn filters_order_limit_offset_and_rpc_in_the_fake() {
    let fake = FakePostgrest::builder()
        .table(TableSpec::new("t").primary_key(["k"]))
        .start()
        .await;
    fake.seed(
        "t",
        [
            json!({"k": "a,b", "n": 3, "flag": true}),
            json!({"k": "x&y=1", "n": 1, "flag": null}),
            json!({"k": "ü+1", "n": 2, "flag": false}),
        ],
    );
    let c = fake.client_builder().build().unwrap();
    let keys = |rows: Vec<Value>| {
        rows.iter()
            .map(|r| r["k"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let q = Query::new().in_("k", ["a,b", "ü+1"]).order_desc("n");
    assert_eq!(keys(c.select("t", &q).await.unwrap()), ["a,b", "ü+1"]);
    assert_eq!(
        keys(c.select("t", &Query::new().eq("k", "x&y=1")).await.unwrap()),
        ["x&y=1"]
    );
    assert_eq!(
        keys(c.select("t", &Query::new().like("k", "*+*")).await.unwrap()),
        ["ü+1"]
    );
    assert_eq!(
        keys(
            c.select("t", &Query::new().is("flag", pgrest_client::IsValue::Null))
                .await
                .unwrap()
        ),
        ["x&y=1"]
    );
    let q = Query::new().gte("n", 1).order_asc("n").limit(1).offset(1);
    assert_eq!(keys(c.select("t", &q).await.unwrap()), ["ü+1"]);
    assert_eq!(
        keys(
            c.select("t", &Query::new().neq("n", 3).lte("n", 2).gt("n", 1))
                .await
                .unwrap()
        ),
        ["ü+1"]
    );

    fake.register_rpc("add", |a| {
        Ok(json!(
            a["x"].as_i64().unwrap_or(0) + a["y"].as_i64().unwrap_or(0)
        ))
    });
    let sum: i64 = c.rpc("add", &json!({"x": 2, "y": 40})).await.unwrap();
    assert_eq!(sum, 42);
    let err = c.rpc::<_, Value>("missing", &json!({})).await.unwrap_err();
    assert_eq!(err.error_body().unwrap().code.as_deref(), Some("PGRST202"));
}

#[tokio::test]
async fn a_failed_upsert_leaves_no_trace_and_keys_stay_findable_after_rows_move() {
    let fake = FakePostgrest::staging(JWT).await;
    let client = fake.client_builder().build().unwrap();
    let opts = Upsert::on_conflict(["app_id", "container_id", "record_id"]).batch_size(10);
    let rows: Vec<Value> = (0..3).map(|i| knack_row("view_1", i)).collect();
    client.upsert("knack", &rows, &opts).await.unwrap();

    // One statement: an update, an insert, then a row the table refuses. None of it may stay.
    let statement = [
        json!({"app_id": "app", "container_id": "view_1", "record_id": "r000", "record": {"n": "changed"}}),
        knack_row("view_1", 10),
        json!({"app_id": "app", "container_id": "view_1", "record_id": null, "record": {}}),
    ];
    let err = client.upsert("knack", &statement, &opts).await.unwrap_err();
    assert!(err.to_string().contains("not-null"), "{err}");
    let stored = fake.rows("knack");
    assert_eq!(stored.len(), 3, "the insert was rolled back");
    assert_eq!(
        stored[0]["record"],
        json!({"n": 0}),
        "the update was rolled back"
    );

    // A delete moves the rows behind it; the next upsert must still find every key.
    client
        .delete("knack", &Query::new().eq("record_id", "r000"))
        .await
        .unwrap();
    let again: Vec<Value> = (0..3)
        .map(|i| json!({"app_id": "app", "container_id": "view_1", "record_id": format!("r{i:03}"), "record": {"n": i + 100}}))
        .collect();
    client.upsert("knack", &again, &opts).await.unwrap();
    let stored = fake.rows("knack");
    let mut records: Vec<(String, Value)> = stored
        .iter()
        .map(|r| {
            (
                r["record_id"].as_str().unwrap().to_string(),
                r["record"].clone(),
            )
        })
        .collect();
    records.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        records,
        vec![
            ("r000".to_string(), json!({"n": 100})),
            ("r001".to_string(), json!({"n": 101})),
            ("r002".to_string(), json!({"n": 102})),
        ],
        "one row per key: updated where it existed, re-inserted where it was deleted"
    );
}

#[tokio::test]
async fn keyset_pages_are_right_when_rows_were_planted_out_of_identity_order() {
    let fake = FakePostgrest::staging(JWT).await;
    // Explicit ids, stored in this order: the fake cannot start a page by binary search and must
    // scan and sort, as it does for any other query.
    let planted = [12, 3, 30, 7, 21, 5];
    fake.seed(
        "knack",
        planted.iter().map(|&id| {
            let mut row = knack_row("view_1", id as usize);
            row["id"] = json!(id);
            row
        }),
    );
    fake.seed("knack", (100..103).map(|i| knack_row("view_1", i)));
    let client = fake.client_builder().build().unwrap();
    let q = Query::new()
        .select("id,record_id,record")
        .eq("container_id", "view_1");
    let pages: Vec<Vec<Staged>> = client
        .select_pages("knack", q, Keyset::on("id").page_size(4))
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<i64> = pages.iter().flatten().map(|r| r.id).collect();
    assert_eq!(ids, [3, 5, 7, 12, 21, 30, 31, 32, 33]);
}

#[tokio::test]
async fn sync_state_upsert_merges_only_sent_columns_stamps_updated_at_and_checks_destination() {
    let fake = FakePostgrest::staging(JWT).await;
    let client = fake.client_builder().build().unwrap();
    let on_key = Upsert::on_conflict(["app_id", "container_id", "destination"]);
    let key = json!({"app_id": "app", "container_id": "view_1", "destination": "socrata"});
    let mut first = key.clone();
    first["watermark"] = json!("2024-01-01T00:00:00Z");
    client
        .upsert("knack_sync_state", &[first], &on_key)
        .await
        .unwrap();
    let mut second = key.clone();
    second["last_result"] = json!("running");
    #[derive(Deserialize)]
    struct Stamp {
        updated_at: String,
    }
    let stamped: Vec<Stamp> = client
        .upsert_returning(
            "knack_sync_state",
            &[second],
            &on_key.clone().returning(["updated_at"]),
        )
        .await
        .unwrap();
    let rows = fake.rows("knack_sync_state");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        rows[0]["watermark"], "2024-01-01T00:00:00Z",
        "a column the upsert did not send keeps its value"
    );
    assert_eq!(rows[0]["last_result"], "running");
    assert_eq!(rows[0]["updated_at"], stamped[0].updated_at.as_str());

    let mut bad = key;
    bad["destination"] = json!("s3");
    let err = client
        .upsert("knack_sync_state", &[bad], &on_key)
        .await
        .unwrap_err();
    assert_eq!(err.error_body().unwrap().code.as_deref(), Some("23514"));
}

#[tokio::test]
async fn count_reads_the_total_of_the_filtered_rows_without_reading_them() {
    let fake = FakePostgrest::builder()
        .jwt(JWT)
        .table(TableSpec::knack())
        .max_rows(7)
        .start()
        .await;
    fake.seed("knack", (0..25).map(|i| knack_row("view_1", i)));
    fake.seed("knack", (0..5).map(|i| knack_row("view_2", i)));
    let client = fake.client_builder().build().unwrap();
    let of = |c: &str| Query::new().eq("app_id", "app").eq("container_id", c);
    assert_eq!(client.count("knack", &of("view_1")).await.unwrap(), 25);
    assert_eq!(client.count("knack", &of("view_2")).await.unwrap(), 5);
    assert_eq!(client.count("knack", &of("view_9")).await.unwrap(), 0);
    let requests = fake.requests();
    assert_eq!(requests.len(), 3, "one request per count");
    assert!(requests
        .iter()
        .all(|r| r.query.iter().any(|(k, v)| k == "limit" && v == "0")));
}
