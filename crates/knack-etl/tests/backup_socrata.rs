//! backup-socrata on the Socrata fake, against a local directory and against moto's S3 server.

use std::sync::Arc;

use chrono::NaiveDate;
use futures::TryStreamExt;
use knack_etl::socrata::{backup_socrata, cell, snapshot_path, BackupError, BackupTarget};
use knack_etl::socrata_client;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};
use serde_json::{json, Value};
use socrata_client::testkit::{FakeDataset, FakeSocrata, Fault};

use knack_etl::testkit::S3Server;

const DATASET: &str = "p53x-x73x";
const OTHER: &str = "hcaw-evi2";
/// The dataset's own column order, deliberately not alphabetical.
const COLUMNS: [&str; 5] = ["signal_id", "location_name", "count", "location", "active"];
const ROWS: usize = 2500;

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn rows() -> Vec<Value> {
    (0..ROWS)
        .map(|i| {
            let mut row = json!({
                "signal_id": format!("S{i:05}"),
                "location_name": if i % 7 == 0 { format!("LAMAR, \"{i}\"\nBLVD") } else { format!("5TH ST {i}") },
                "count": i % 13,
                "active": i % 2 == 0,
            });
            if i % 3 == 0 {
                row["location"] = json!({"type": "Point", "coordinates": [-97.7, 30.25]});
            }
            row
        })
        .collect()
}

async fn socrata() -> (FakeSocrata, socrata_client::Client) {
    let fake = FakeSocrata::start().await;
    let mut ds = FakeDataset::new(DATASET).row_identifier("signal_id");
    for (c, t) in COLUMNS
        .iter()
        .zip(["text", "text", "number", "point", "checkbox"])
    {
        ds = ds.column(c, t);
    }
    fake.add_dataset(ds.rows(rows()));
    fake.set_request_log(true);
    let client = fake.client_builder().page_size(1000).build().unwrap();
    (fake, client)
}

async fn names(store: &Arc<dyn ObjectStore>, prefix: &Path) -> Vec<String> {
    let mut v: Vec<String> = store
        .list(Some(prefix))
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .unwrap();
    v.sort();
    v
}

async fn read(store: &Arc<dyn ObjectStore>, path: &Path) -> Vec<u8> {
    store
        .get(path)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

async fn put(store: &Arc<dyn ObjectStore>, path: &Path, text: &str) {
    store
        .put(path, PutPayload::from(text.to_string()))
        .await
        .unwrap();
}

/// The snapshot equals the dataset, in its column order, read page by page on `:id`.
async fn content_equals_the_dataset(target: BackupTarget) {
    let (fake, client) = socrata().await;
    let report = backup_socrata(&client, DATASET, &target, day(29), 30)
        .await
        .unwrap();
    assert_eq!(report.rows, ROWS as u64);
    assert_eq!(report.path, snapshot_path(&target.prefix, DATASET, day(29)));
    let bytes = read(&target.store, &report.path).await;
    assert_eq!(report.bytes, bytes.len() as u64);
    let mut csv = csv::Reader::from_reader(bytes.as_slice());
    let header: Vec<String> = csv.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header, COLUMNS);
    let mut got: Vec<Vec<String>> = csv
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    // The expected cells come from the fake's own read answers (numbers as text, as SODA sends).
    let mut want: Vec<Vec<String>> = fake
        .rows(DATASET)
        .iter()
        .map(|row| {
            COLUMNS
                .iter()
                .map(|c| match row.get(*c) {
                    Some(Value::Number(n)) => n.to_string(),
                    other => cell(other),
                })
                .collect()
        })
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got.len(), ROWS);
    assert_eq!(got, want);
    let reads: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/resource/"))
        .collect();
    assert!(reads.len() >= 3, "paged: {} reads", reads.len());
    assert!(reads.iter().all(|r| r.query_param("$order") == Some(":id")));
}

/// Exactly `keep` snapshots of the dataset remain, the newest; other datasets and files stay.
async fn rotation_keeps_exactly_n(target: BackupTarget) {
    let (_fake, client) = socrata().await;
    let store = &target.store;
    for d in [20, 22, 24, 26, 28] {
        put(
            store,
            &snapshot_path(&target.prefix, DATASET, day(d)),
            "old",
        )
        .await;
    }
    put(
        store,
        &snapshot_path(&target.prefix, OTHER, day(1)),
        "other",
    )
    .await;
    put(
        store,
        &target.prefix.child(DATASET).child("README.txt"),
        "keep me",
    )
    .await;
    let report = backup_socrata(&client, DATASET, &target, day(29), 3)
        .await
        .unwrap();
    assert_eq!(report.deleted.len(), 3, "{:?}", report.deleted);
    let p = target.prefix.to_string();
    let pre = if p.is_empty() {
        String::new()
    } else {
        format!("{p}/")
    };
    assert_eq!(
        names(store, &target.prefix).await,
        vec![
            format!("{pre}{OTHER}/2026-11-01.csv"),
            format!("{pre}{DATASET}/2026-11-26.csv"),
            format!("{pre}{DATASET}/2026-11-28.csv"),
            format!("{pre}{DATASET}/2026-11-29.csv"),
            format!("{pre}{DATASET}/README.txt"),
        ]
    );
    // A second run the same day replaces that day's file and keeps the count.
    let again = backup_socrata(&client, DATASET, &target, day(29), 3)
        .await
        .unwrap();
    assert!(again.deleted.is_empty());
    assert_eq!(names(store, &target.prefix.child(DATASET)).await.len(), 4);
}

/// A read failing part-way leaves every previous snapshot (today's too) as it was, and no
/// partial file anywhere.
async fn an_interrupted_write_leaves_previous_snapshots(target: BackupTarget) {
    let (fake, client) = socrata().await;
    let store = &target.store;
    for d in [27, 28, 29] {
        put(
            store,
            &snapshot_path(&target.prefix, DATASET, day(d)),
            &format!("day {d}"),
        )
        .await;
    }
    let before = names(store, &target.prefix).await;
    // The metadata and the first page pass; the second page is refused for good.
    fake.inject(Fault::status(400).on_method("GET").after(2));
    let err = backup_socrata(&client, DATASET, &target, day(29), 1)
        .await
        .unwrap_err();
    assert!(matches!(err, BackupError::Socrata(_)), "{err}");
    assert_eq!(names(store, &target.prefix).await, before);
    for d in [27, 28, 29] {
        let path = snapshot_path(&target.prefix, DATASET, day(d));
        assert_eq!(read(store, &path).await, format!("day {d}").into_bytes());
    }
}

fn local_target(dir: &tempfile::TempDir) -> BackupTarget {
    BackupTarget {
        store: Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap()),
        prefix: Path::default(),
    }
}

#[tokio::test]
async fn local_dir_content_equals_the_dataset() {
    let dir = tempfile::tempdir().unwrap();
    content_equals_the_dataset(local_target(&dir)).await;
}

#[tokio::test]
async fn local_dir_rotation_keeps_exactly_n() {
    let dir = tempfile::tempdir().unwrap();
    rotation_keeps_exactly_n(local_target(&dir)).await;
}

#[tokio::test]
async fn local_dir_interrupted_write_leaves_previous_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    an_interrupted_write_leaves_previous_snapshots(local_target(&dir)).await;
    // Not even the local store's own staging file is left behind.
    let leftovers: Vec<_> = walk(dir.path());
    assert_eq!(leftovers.len(), 3, "{leftovers:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn s3_target(server: &S3Server, bucket: &str) -> BackupTarget {
    server.create_bucket(bucket);
    BackupTarget {
        store: server.store(bucket),
        prefix: Path::from("snapshots/prod"),
    }
}

#[tokio::test]
#[ignore = "needs moto from the Python tools (AKS_TEST_VENV): scripts/test prepares them and runs this"]
async fn s3_content_equals_the_dataset() {
    let server = S3Server::start();
    content_equals_the_dataset(s3_target(&server, "content")).await;
}

#[tokio::test]
#[ignore = "needs moto from the Python tools (AKS_TEST_VENV): scripts/test prepares them and runs this"]
async fn s3_rotation_keeps_exactly_n() {
    let server = S3Server::start();
    rotation_keeps_exactly_n(s3_target(&server, "rotation")).await;
}

#[tokio::test]
#[ignore = "needs moto from the Python tools (AKS_TEST_VENV): scripts/test prepares them and runs this"]
async fn s3_interrupted_write_leaves_previous_snapshots() {
    let server = S3Server::start();
    an_interrupted_write_leaves_previous_snapshots(s3_target(&server, "interrupted")).await;
}

#[tokio::test]
async fn keep_zero_is_refused_before_any_request() {
    let (fake, client) = socrata().await;
    let dir = tempfile::tempdir().unwrap();
    let err = backup_socrata(&client, DATASET, &local_target(&dir), day(29), 0)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("keep must be at least 1"));
    assert!(fake.requests().is_empty());
}
