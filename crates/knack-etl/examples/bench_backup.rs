//! Memory and speed of backup-socrata: whether the heap a snapshot needs grows with the dataset.
//!
//! ```sh
//! cargo run --release -p knack-etl --example bench_backup --features testkit [-- 20000,200000]
//! ```
//!
//! The Socrata fake holds the whole dataset (and sorts it for every page), so it runs in a
//! separate process (this program started with `serve N`); the heap peak measured here is the
//! backup's own: the page being encoded, the upload's buffered part and the parts in flight.
//! The snapshot goes to a local directory.

use std::alloc::System;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use knack_etl::socrata::{backup_socrata, BackupTarget};
use knack_etl::socrata_client::{
    self,
    testkit::{FakeDataset, FakeSocrata},
};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use peakmem_alloc::{PeakMemAlloc, PeakMemAllocTrait, INSTRUMENTED_SYSTEM};
use serde_json::json;

#[global_allocator]
static HEAP: &PeakMemAlloc<System> = &INSTRUMENTED_SYSTEM;

const DATASET: &str = "p53x-x73x";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("serve") {
        return serve(args[1].parse().expect("serve N")).await;
    }
    let sizes: Vec<usize> = args
        .first()
        .map_or("20000,200000", String::as_str)
        .split(',')
        .map(|s| s.trim().parse().expect("sizes: comma-separated numbers"))
        .collect();
    println!("| rows | CSV MiB | secs | rows/s | heap peak MiB |");
    println!("|---|---|---|---|---|");
    for n in sizes {
        let mut server = Command::new(std::env::current_exe().unwrap())
            .args(["serve", &n.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut uri = String::new();
        BufReader::new(server.stdout.take().unwrap())
            .read_line(&mut uri)
            .unwrap();
        let client = socrata_client::Client::builder()
            .domain(uri.trim())
            .page_size(1000)
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let target = BackupTarget {
            store: Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap()),
            prefix: Path::default(),
        };
        let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        HEAP.reset_peak_memory();
        let started = Instant::now();
        let report = backup_socrata(&client, DATASET, &target, date, 30)
            .await
            .unwrap();
        let secs = started.elapsed().as_secs_f64();
        let peak = HEAP.get_peak_memory() as f64 / (1024.0 * 1024.0);
        drop(server.stdin.take()); // the server exits when its stdin closes
        server.wait().unwrap();
        println!(
            "| {n} | {:.1} | {secs:.1} | {:.0} | {peak:.1} |",
            report.bytes as f64 / (1024.0 * 1024.0),
            n as f64 / secs
        );
    }
}

/// Serves a dataset of `n` rows until stdin closes, after printing its URI.
async fn serve(n: usize) {
    let fake = FakeSocrata::start().await;
    let rows = (0..n).map(|i| {
        json!({"signal_id": format!("S{i:07}"), "location_name": format!("5TH ST / LAMAR BLVD {i}"),
               "count": i % 97, "active": i % 2 == 0,
               "location": {"type": "Point", "coordinates": [-97.7, 30.25]}})
    });
    fake.add_dataset(
        FakeDataset::new(DATASET)
            .column("signal_id", "text")
            .column("location_name", "text")
            .column("count", "number")
            .column("active", "checkbox")
            .column("location", "point")
            .row_identifier("signal_id")
            .rows(rows),
    );
    fake.set_request_log(false);
    println!("{}", fake.uri());
    tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {}
    })
    .await
    .unwrap();
}
