//! Time, CPU, memory and allocations of every pipeline over the testkit fakes, on full-size
//! records: the 23 fields of the fixture app's view_1 (about 2.5 KB of JSON each), cycled with
//! fresh ids.
//!
//! ```sh
//! cargo run --release -p knack-etl --example bench_pipelines --features testkit [-- 20000,100000,1000000]
//! BENCH_PHASES=1,5,6 cargo run ... -- 1000000    # some phases only (indexes into PHASES)
//! ```
//!
//! The fakes keep every record in memory, so they run in a separate process (this program
//! started with `serve N`): the pipeline's own memory and CPU are measured in the process that
//! runs it, the fakes' in theirs. Each phase runs in a fresh driver process (`drive PHASE`)
//! so its peak (`VmHWM`) is its own, not pages the allocator kept from an earlier phase. Knack
//! answers every request after 150 ms, as a far-away API does, and answers 429 above 10
//! requests in any second, as Knack does, counting each as it arrives (up to
//! `KNACK_ARRIVAL_JITTER_MS`, default 60, after it was sent).
//!
//! Each driver runs with `MALLOC_ARENA_MAX=1`, as `aks` does in its image (`deploy/Dockerfile`),
//! unless the environment sets it: `MALLOC_ARENA_MAX=16 cargo run ...` measures glibc's default on
//! two cores (8 arenas a core).
//!
//! Phases: Knack read alone (a dry run, so the fetch rate shows without a sink behind it), then
//! each stage as a full replace and as an upsert of every record: Knack → PostgREST,
//! PostgREST → Socrata, PostgREST → ArcGIS Online; and the copy again into a store slower than
//! Knack (250 ms an answer), so the read-ahead is full all along: its peak is the bound.

use std::alloc::System;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use peakmem_alloc::{PeakMemAlloc, PeakMemAllocTrait};
use stats_alloc::StatsAlloc;

use knack_etl::agol::{records_to_agol, AgolTarget};
use knack_etl::socrata::{records_to_socrata, SocrataTarget};
use knack_etl::staging::{metadata_to_postgrest, records_to_postgrest, Publication};
use knack_etl::RunOptions;
use knack_etl::{agol_client, knack_client, pgrest_client, socrata_client, RunFailure, RunReport};

mod fakes;
use fakes::{serve, start_fakes, Fakes};

const APP_ID: &str = "807d63882254235602b447c3";
const KNACK_KEY: &str = "bench-knack-key";
const JWT: &str = "bench-jwt";
const DATASET: &str = "acc1-0001";
const METADATA: &str = include_str!("../../tests/fixtures/metadata.json");
const RECORDS: &str = include_str!("../../tests/fixtures/records_view_1.json");
const SOCRATA_DATASET: &str = include_str!("../../tests/fixtures/socrata_dataset.json");
/// Knack's 150 ms answer time, and its limit of 10 requests in any second.
const KNACK_LATENCY: Duration = Duration::from_millis(150);
const KNACK_PER_SECOND: f64 = 10.0;

/// Counts heap bytes (the peak of live bytes, peakmem-alloc) and allocations (stats_alloc,
/// wrapped inside). RSS alone cannot tell whether memory grows with the dataset: the allocator
/// keeps freed pages, so RSS drifts up with churn even when what the pipeline holds does not.
#[global_allocator]
static HEAP: PeakMemAlloc<&StatsAlloc<System>> =
    PeakMemAlloc::new(&stats_alloc::INSTRUMENTED_SYSTEM);

/// Allocations (new blocks and reallocations) so far.
fn allocations() -> u64 {
    let stats = stats_alloc::INSTRUMENTED_SYSTEM.stats();
    (stats.allocations + stats.reallocations) as u64
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => serve(count(&args)),
        Some("drive") => drive(&args[1..]),
        other => {
            let sizes: Vec<usize> = other
                .unwrap_or("20000,100000")
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

/// User + system CPU seconds this process used so far: `utime` + `stime` of `/proc/self/stat`,
/// what `getrusage(RUSAGE_SELF)` reports, in clock ticks (1/100 s).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|t| t.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// What one phase measured in its own process.
struct Phase {
    seconds: f64,
    cpu: f64,
    written: u64,
    peak: f64,
    heap_peak: f64,
    allocations: u64,
}

impl Phase {
    fn line(&self) -> String {
        format!(
            "{:.3} {:.3} {} {:.1} {:.1} {}",
            self.seconds, self.cpu, self.written, self.peak, self.heap_peak, self.allocations,
        )
    }
}

/// Runs one pipeline with the peaks reset first, and reads time, CPU, memory and allocations.
async fn measure(
    name: &str,
    pipeline: impl std::future::Future<Output = Result<RunReport, RunFailure>>,
) -> Phase {
    // Resets VmHWM to the current RSS and the heap peak to zero: the peaks are the phase's own,
    // not its setup's.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    HEAP.reset_peak_memory();
    let allocs_before = allocations();
    let cpu = cpu_seconds();
    let started = Instant::now();
    let report = pipeline.await.unwrap_or_else(|e| panic!("{name}: {e}"));
    Phase {
        seconds: started.elapsed().as_secs_f64(),
        cpu: cpu_seconds() - cpu,
        // Records read: the same as written but for the dry run, which writes none.
        written: report.read,
        peak: mem("self", "VmHWM"),
        heap_peak: HEAP.get_peak_memory() as f64 / (1024.0 * 1024.0),
        allocations: allocations() - allocs_before,
    }
}

const PHASES: [&str; 8] = [
    "Knack (dry run)",
    "Knack → PostgREST",
    "Knack → PostgREST ⁺",
    "PostgREST → Socrata",
    "PostgREST → Socrata ⁺",
    "PostgREST → AGOL",
    "PostgREST → AGOL ⁺",
    "Knack → slow PostgREST",
];

/// The order phases run in: the copy to a slow store (7) needs Knack's records, which are
/// dropped before the publishers (3 to 6).
const RUN_ORDER: [usize; 8] = [0, 1, 2, 7, 3, 4, 5, 6];

/// How long the store takes to answer in phase 7: longer than Knack's 105 ms between pages, so
/// pages wait for the writer and the read-ahead is full from the first pages to the last.
const SLOW_STORE_MS: u64 = 250;

/// One phase in a process of its own, so that its peaks are its own and not what the
/// allocator kept from an earlier phase: connects to the fakes at `args[1..5]`, writes the
/// metadata, prints `ready`, waits for a line on stdin (the table process resets Knack's
/// request count meanwhile), runs phase `args[0]` and prints its result line.
fn drive(args: &[String]) {
    let index: usize = args[0].parse().expect("a phase index");
    let addresses = &args[1..5];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let knack = knack_client::Client::builder()
            .app_id(APP_ID)
            .api_key(KNACK_KEY)
            .base_url(&addresses[0])
            .build()
            .unwrap();
        let pg = pgrest_client::Client::builder()
            .base_url(&addresses[1])
            .schema("api")
            .jwt(JWT)
            .build()
            .unwrap();
        let socrata = socrata_client::Client::builder()
            .domain(&addresses[2])
            .build()
            .unwrap();
        let agol = agol_client::Client::builder()
            .portal_url(&addresses[3])
            .credentials(
                agol_client::testkit::USERNAME,
                agol_client::testkit::PASSWORD,
            )
            .build()
            .unwrap();
        let view = knack_client::Container::view("scene_1", "view_1").unwrap();
        metadata_to_postgrest(&knack, &pg, false).await.unwrap();
        // Every record (the fixture's dates are all later), upserted: no set of written keys.
        let options = match index {
            0 => RunOptions {
                dry_run: true,
                ..RunOptions::default()
            },
            2 | 4 | 6 => RunOptions {
                since: Some("2000-01-01T00:00:00Z".parse().unwrap()),
                ..RunOptions::default()
            },
            _ => RunOptions::default(),
        };
        let publication = Publication {
            app_id: APP_ID.into(),
            container: view.clone(),
            location_fields: vec!["field_9".into()],
        };
        let socrata_target = SocrataTarget {
            resource_id: DATASET.into(),
            ..SocrataTarget::default()
        };
        let agol_target = AgolTarget::new(
            agol_client::testkit::ITEM_ID,
            agol_client::LayerSelector::LayerIndex(0),
            "id",
        );
        println!("ready");
        std::io::stdout().flush().unwrap();
        let mut go = String::new();
        std::io::stdin().read_line(&mut go).unwrap();
        let name = PHASES[index];
        let phase = match index {
            0..=2 | 7 => {
                let run = records_to_postgrest(&knack, &pg, &view, Some("field_21"), &options);
                measure(name, run).await
            }
            3 | 4 => {
                let run =
                    records_to_socrata(&pg, &socrata, &publication, &socrata_target, &options);
                measure(name, run).await
            }
            _ => {
                let run = records_to_agol(&pg, &agol, &publication, &agol_target, &options);
                measure(name, run).await
            }
        };
        println!("{}", phase.line());
        std::io::stdout().flush().unwrap();
    });
}

/// Runs phase `index` in its own driver process; returns its result line's numbers, then
/// Knack's requests, 429s and span, and the fakes' RSS.
fn run_phase(fakes: &mut Fakes, n: usize, index: usize, addresses: &[String]) -> Vec<f64> {
    let exe = std::env::current_exe().unwrap();
    let mut driver = Command::new(exe);
    // As `aks` runs in its image (deploy/Dockerfile): one glibc arena, unless the caller chose.
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        driver.env("MALLOC_ARENA_MAX", "1");
    }
    let mut driver = driver
        .args(["drive", &index.to_string()])
        .args(addresses)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run a driver");
    let mut stdin = driver.stdin.take().unwrap();
    let mut stdout = BufReader::new(driver.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready", "phase {index} did not start");
    fakes.knack_requests();
    writeln!(stdin, "go").unwrap();
    stdin.flush().unwrap();
    line.clear();
    stdout.read_line(&mut line).unwrap();
    assert!(
        driver.wait().unwrap().success(),
        "phase {index} of the {n}-record run failed"
    );
    let mut numbers: Vec<f64> = line
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    let (requests, limited, span) = fakes.knack_requests();
    numbers.extend([
        requests as f64,
        limited as f64,
        span,
        mem(&fakes.pid, "VmRSS"),
    ]);
    numbers
}

/// The phases `BENCH_PHASES` names (every phase when it is not set).
fn phases_wanted() -> Vec<usize> {
    match std::env::var("BENCH_PHASES") {
        Ok(list) => list
            .split(',')
            .map(|i| i.trim().parse().expect("BENCH_PHASES: indexes into PHASES"))
            .collect(),
        Err(_) => (0..PHASES.len()).collect(),
    }
}

/// Runs every size with a fakes' process of its own, each phase in its own driver process,
/// and prints the table.
fn table(sizes: &[usize]) {
    println!(
        "{:<22} {:>8} {:>7} {:>7} {:>9} {:>9} {:>9} {:>8} {:>6} {:>7} {:>6} {:>9} {:>9}",
        "pipeline",
        "records",
        "wall s",
        "CPU s",
        "records/s",
        "RSS peak",
        "heap peak",
        "allocs/r",
        "Knack",
        "req/s",
        "429s",
        "fakes RSS",
        "× ceiling"
    );
    let wanted = phases_wanted();
    for &n in sizes {
        let (mut child, mut fakes, addresses) = start_fakes(n);
        for index in RUN_ORDER {
            let name = PHASES[index];
            // A store the remaining phases do not read is emptied, so that a million records
            // in four stores at once fit in memory.
            if index == 3 {
                fakes.command("drop knack");
            }
            if index == 5 {
                fakes.command("drop socrata");
            }
            if !wanted.contains(&index) {
                continue;
            }
            if index == 7 {
                fakes.command(&format!("pg latency {SLOW_STORE_MS}"));
            }
            let f = run_phase(&mut fakes, n, index, &addresses);
            if index == 7 {
                fakes.command("pg latency 0");
            }
            let (secs, cpu, written) = (f[0], f[1], f[2]);
            let (requests, limited, span) = (f[6], f[7], f[8]);
            // Requests per second over the span from the first to the last request.
            let rate = if requests > 1.0 && span > 0.0 {
                format!("{:.2}", (requests - 1.0) / span)
            } else {
                "—".into()
            };
            // The span against the least time Knack's ceiling allows for these requests.
            let ratio = if requests > 1.0 && span > 0.0 {
                format!("{:.3}", span * KNACK_PER_SECOND / (requests - 1.0))
            } else {
                "—".into()
            };
            println!(
                "{:<22} {:>8} {:>7.1} {:>7.2} {:>9.0} {:>8.1}M {:>8.1}M {:>8.1} {:>6} {:>7} {:>6} {:>8.0}M {:>9}",
                name,
                written,
                secs,
                cpu,
                written / secs,
                f[3],
                f[4],
                f[5] / written.max(1.0),
                requests,
                rate,
                limited,
                f[9],
                ratio
            );
            std::io::stdout().flush().unwrap();
        }
        drop(fakes.stdin);
        let _ = child.wait();
    }
    println!("CPU s: user + system of the pipeline's process (/proc/self/stat), the reliable column on a");
    println!("  shared machine; wall time also counts waits for the fakes and other processes.");
    println!("RSS peak: VmHWM of the phase's own process, reset after its setup. heap peak: the");
    println!("  most heap it held above its level at the phase's start. allocs/r: allocations per");
    println!("  record written.");
    println!("Knack: requests Knack received in the phase; req/s from the first to the last");
    println!(
        "  (ceiling {KNACK_PER_SECOND}); 429s: requests Knack refused, counting each request up to"
    );
    println!("  KNACK_ARRIVAL_JITTER_MS (default 60) after it was sent, as arrival jitter does. × ceiling:");
    println!(
        "  the span over the least the 10 req/s ceiling allows for those requests (goal <= 1.1)."
    );
    println!("⁺ upsert of every record (since 2000-01-01) instead of a full replace: no key set.");
    println!(
        "fakes RSS: the separate process holding Knack's records and the three stores (Knack's"
    );
    println!(
        "  records are dropped before the publishers run, Socrata's rows before AGOL's phases)."
    );
}
