//! Throughput and memory of Knack → PostgREST and PostgREST → Socrata over the testkit fakes.
//!
//! ```sh
//! cargo run --release -p knack-etl --example bench_pipelines --features testkit [-- 20000,200000]
//! ```
//!
//! The fakes keep every record in memory, so they run in a separate process (this program
//! started with `serve N`): the pipeline's own memory is measured in the process that runs it,
//! the fakes' memory in theirs. Each size runs in a fresh driver process (`drive N`) so its
//! peak (`VmHWM`) is its own. Knack answers every request after 150 ms, as a far-away API does.
//!
//! Phases: Knack → PostgREST (full replace), PostgREST → Socrata (full replace, which keeps the
//! written ids to delete the rest), and PostgREST → Socrata again as an upsert (no id set), so the
//! cost of a replace shows apart from the streaming.

use std::alloc::System;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use peakmem_alloc::{PeakMemAlloc, PeakMemAllocTrait, INSTRUMENTED_SYSTEM};

use knack_etl::pipelines::{self, Publication, RunOptions, SocrataTarget};
use knack_etl::{knack_client, pgrest_client, socrata_client, RunFailure, RunReport};
use serde_json::{json, Value};

const APP_ID: &str = "807d63882254235602b447c3";
const KNACK_KEY: &str = "bench-knack-key";
const JWT: &str = "bench-jwt";
const DATASET: &str = "acc1-0001";
const METADATA: &str = include_str!("../tests/fixtures/metadata.json");
const SOCRATA_DATASET: &str = include_str!("../tests/fixtures/socrata_dataset.json");

/// Counts heap bytes. RSS alone cannot tell whether memory grows with the dataset: the
/// allocator keeps freed pages, so RSS drifts up with churn even when what the pipeline holds
/// does not. The peak of live heap bytes is what the pipeline really held at once.
#[global_allocator]
static HEAP: &PeakMemAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The most heap the process held above its level at the last [`reset_peak`], in MiB.
fn heap_peak() -> f64 {
    HEAP.get_peak_memory() as f64 / (1024.0 * 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => serve(count(&args)),
        Some("drive") => drive(count(&args)),
        other => {
            let sizes: Vec<usize> = other
                .unwrap_or("20000,200000")
                .split(',')
                .map(|s| s.trim().parse().expect("sizes: comma-separated numbers"))
                .collect();
            table(&sizes);
        }
    }
}

fn count(args: &[String]) -> usize {
    args.get(1)
        .and_then(|s| s.parse().ok())
        .expect("a record count")
}

/// A few fields of the fixture app's view_1: name, number, boolean, address, date.
fn record(n: usize) -> Value {
    let lat = 30.2 + (n % 1000) as f64 / 10_000.0;
    let lon = -97.7 - (n % 777) as f64 / 10_000.0;
    json!({
        "id": format!("{n:024x}"),
        "field_1": format!("SIGNAL {n}"), "field_1_raw": format!("SIGNAL {n}"),
        "field_3": (n % 8).to_string(), "field_3_raw": n % 8,
        "field_5": if n % 2 == 0 { "Yes" } else { "No" }, "field_5_raw": n % 2 == 0,
        "field_9": "1241 MANOR RD<br />Austin, TX 78759",
        "field_9_raw": {"street": "1241 MANOR RD", "city": "Austin", "state": "TX", "zip": "78759",
                        "latitude": lat, "longitude": lon},
        "field_21": "03/10/2024 2:30am",
        "field_21_raw": {"date": "03/10/2024", "unix_timestamp": 1_710_037_800_000_u64,
                         "iso_timestamp": "2024-03-10T02:30:00.000Z", "timestamp": "03/10/2024 02:30 am"},
    })
}

/// The fixture app cut down to the fields [`record`] fills (the formatter insists that every
/// field the metadata lists is in each record).
fn metadata() -> Value {
    const KEPT: [&str; 5] = ["field_1", "field_3", "field_5", "field_9", "field_21"];
    let mut metadata: Value = serde_json::from_str(METADATA).unwrap();
    let app = &mut metadata["application"];
    for object in app["objects"].as_array_mut().unwrap() {
        if let Some(fields) = object["fields"].as_array_mut() {
            fields.retain(|f| object_field_kept(f, &KEPT));
        }
    }
    for scene in app["scenes"].as_array_mut().unwrap() {
        for view in scene["views"].as_array_mut().unwrap() {
            if let Some(columns) = view["columns"].as_array_mut() {
                columns.retain(|c| object_field_kept(&c["field"], &KEPT));
            }
        }
    }
    metadata
}

fn object_field_kept(field: &Value, kept: &[&str]) -> bool {
    field["key"]
        .as_str()
        .is_some_and(|k| !k.starts_with("field_") || kept.contains(&k) || k == "field_30")
}

/// The fakes' process: starts them, prints their addresses, serves until stdin closes.
fn serve(n: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let knack = knack_client::testkit::FakeKnack::start_for(APP_ID, KNACK_KEY).await;
        knack.set_metadata(metadata());
        let view = knack_client::Container::view("scene_1", "view_1").unwrap();
        knack.set_records(&view, (0..n).map(record).collect());
        knack.set_latency(Duration::from_millis(150));
        let pg = pgrest_client::testkit::FakePostgrest::staging(JWT).await;
        pg.set_request_log(false);
        let socrata = socrata_client::testkit::FakeSocrata::start().await;
        socrata.set_request_log(false);
        socrata.add_dataset(socrata_client::testkit::FakeDataset::from_metadata(
            &serde_json::from_str(SOCRATA_DATASET).unwrap(),
        ));
        println!("{} {} {}", knack.base_url(), pg.uri(), socrata.uri());
        std::io::stdout().flush().unwrap();
        // Block a worker thread on stdin; the fakes keep serving on the others.
        tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
                line.clear();
            }
        })
        .await
        .unwrap();
        drop((knack, pg, socrata));
    });
}

/// `VmRSS` or `VmHWM` of a process, in MiB.
fn mem(pid: &str, key: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Resets this process's `VmHWM` to its current RSS and the heap peak to zero, so the next
/// phase's peaks are its own.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    HEAP.reset_peak_memory();
}

struct Phase {
    seconds: f64,
    written: u64,
    rss_before: f64,
    peak: f64,
    rss_after: f64,
    heap_peak: f64,
    fakes_rss: f64,
}

impl Phase {
    fn line(&self) -> String {
        format!(
            "{:.3} {} {:.1} {:.1} {:.1} {:.1} {:.1}",
            self.seconds,
            self.written,
            self.rss_before,
            self.peak,
            self.rss_after,
            self.heap_peak,
            self.fakes_rss
        )
    }
}

/// Runs one pipeline with the peaks reset first, and reads time, memory and the fakes' RSS.
async fn measure(
    fakes_pid: &str,
    name: &str,
    pipeline: impl std::future::Future<Output = Result<RunReport, RunFailure>>,
) -> Phase {
    reset_peak();
    let rss_before = mem("self", "VmRSS");
    let started = Instant::now();
    let report = pipeline.await.unwrap_or_else(|e| panic!("{name}: {e}"));
    Phase {
        seconds: started.elapsed().as_secs_f64(),
        written: report.written,
        rss_before,
        peak: mem("self", "VmHWM"),
        rss_after: mem("self", "VmRSS"),
        heap_peak: heap_peak(),
        fakes_rss: mem(fakes_pid, "VmRSS"),
    }
}

/// One size: starts the fakes' process, runs both pipelines, prints one result line per phase.
fn drive(n: usize) {
    let exe = std::env::current_exe().unwrap();
    let mut fakes = Command::new(exe)
        .args(["serve", &n.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the fakes' process");
    let fakes_pid = fakes.id().to_string();
    let mut addresses = String::new();
    BufReader::new(fakes.stdout.take().unwrap())
        .read_line(&mut addresses)
        .unwrap();
    let addresses: Vec<&str> = addresses.split_whitespace().collect();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let phases = rt.block_on(async {
        let knack = knack_client::Client::builder()
            .app_id(APP_ID)
            .api_key(KNACK_KEY)
            .base_url(addresses[0])
            .build()
            .unwrap();
        let pg = pgrest_client::Client::builder()
            .endpoint(addresses[1])
            .schema("api")
            .jwt(JWT)
            .build()
            .unwrap();
        let socrata = socrata_client::Client::builder()
            .domain(addresses[2])
            .build()
            .unwrap();
        let view = knack_client::Container::view("scene_1", "view_1").unwrap();
        pipelines::metadata_to_postgrest(&knack, &pg, false)
            .await
            .unwrap();

        let fakes_pid = fakes_pid.as_str();
        let mut phases = Vec::new();
        phases.push(
            measure(fakes_pid, "Knack → PostgREST", async {
                pipelines::records_to_postgrest(
                    &knack,
                    &pg,
                    &view,
                    Some("field_21"),
                    &RunOptions::default(),
                )
                .await
            })
            .await,
        );
        let publication = Publication {
            app_id: APP_ID.into(),
            container: view,
            location_fields: vec!["field_9".into()],
        };
        let target = SocrataTarget {
            resource_id: DATASET.into(),
            ..SocrataTarget::default()
        };
        let replace = RunOptions::default();
        // Every staged row (all were written after the epoch), upserted: a replace's id set is
        // not kept, so this phase shows what the streaming itself holds.
        let upsert = RunOptions {
            since: Some(chrono::DateTime::UNIX_EPOCH),
            ..RunOptions::default()
        };
        for (name, options) in [
            ("PostgREST → Socrata", &replace),
            ("PostgREST → Socrata (upsert)", &upsert),
        ] {
            phases.push(
                measure(fakes_pid, name, async {
                    pipelines::records_to_socrata(&pg, &socrata, &publication, &target, options)
                        .await
                })
                .await,
            );
        }
        phases
    });
    drop(fakes.stdin.take());
    let _ = fakes.wait();
    for phase in phases {
        println!("{}", phase.line());
    }
}

/// Runs every size in its own driver process and prints the table.
fn table(sizes: &[usize]) {
    let exe = std::env::current_exe().unwrap();
    println!(
        "{:<22} {:>8} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "pipeline",
        "records",
        "secs",
        "records/s",
        "RSS start",
        "RSS peak",
        "RSS end",
        "heap peak",
        "fakes RSS"
    );
    for &n in sizes {
        let out = Command::new(&exe)
            .args(["drive", &n.to_string()])
            .stderr(Stdio::inherit())
            .output()
            .expect("run a driver");
        assert!(out.status.success(), "the {n}-record run failed");
        let text = String::from_utf8_lossy(&out.stdout);
        for (name, line) in [
            "Knack → PostgREST",
            "PostgREST → Socrata",
            "PostgREST → Socrata ⁺",
        ]
        .iter()
        .zip(text.lines())
        {
            let f: Vec<f64> = line
                .split_whitespace()
                .map(|x| x.parse().unwrap())
                .collect();
            let (secs, written) = (f[0], f[1]);
            println!(
                "{:<22} {:>8} {:>8.1} {:>10.0} {:>9.1}M {:>9.1}M {:>9.1}M {:>9.1}M {:>9.1}M",
                name,
                written,
                secs,
                written / secs,
                f[2],
                f[3],
                f[4],
                f[5],
                f[6]
            );
        }
    }
    println!(
        "RSS start/peak/end: the pipeline's process only (peak = VmHWM, reset before each phase);"
    );
    println!(
        "heap peak: the most heap the pipeline's process held above its level at the phase's start."
    );
    println!(
        "⁺ upsert (since the epoch) instead of a full replace: no set of written ids is kept."
    );
    println!("fakes RSS: the separate process holding Knack's records and the PostgREST and Socrata stores.");
}
