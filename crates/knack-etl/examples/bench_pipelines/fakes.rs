//! The fakes' side of the benchmark: the process that holds every record (`serve N`), and the
//! handle the table process drives it with.

use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, Command, Stdio};
use std::time::Duration;

use knack_etl::{agol_client, knack_client, pgrest_client, socrata_client};
use serde_json::Value;

use super::{APP_ID, JWT, KNACK_KEY, KNACK_LATENCY, METADATA, RECORDS, SOCRATA_DATASET};

/// `n` records: the fixture's records in turn, each with a fresh id, built one at a time (the
/// fake keeps each as text; a million of them as values would not fit in memory).
fn records(n: usize) -> impl Iterator<Item = Value> {
    let fixture: Vec<Value> = serde_json::from_str(RECORDS).unwrap();
    (0..n).map(move |i| {
        let mut record = fixture[i % fixture.len()].clone();
        record["id"] = Value::String(format!("{i:024x}"));
        record
    })
}

/// The fakes' process: starts them, prints their addresses, then answers `knack` on stdin with
/// Knack's request count, 429 count and the span from first to last request (and forgets them),
/// and `ok` to the commands of [`Fakes::command`], until stdin closes.
pub(crate) fn serve(n: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let knack = knack_client::testkit::FakeKnack::start_for(APP_ID, KNACK_KEY).await;
        knack.set_metadata(serde_json::from_str(METADATA).unwrap());
        let view = knack_client::Container::view("scene_1", "view_1").unwrap();
        knack.set_records_from(&view, records(n));
        knack.set_latency(KNACK_LATENCY);
        // Knack counts requests as they arrive, and arrivals jitter: each is counted up to
        // KNACK_ARRIVAL_JITTER_MS (default 60) after the fake received it.
        let jitter = std::env::var("KNACK_ARRIVAL_JITTER_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(60);
        knack.set_arrival_jitter(Duration::from_millis(jitter), 25);
        let pg = pgrest_client::testkit::FakePostgrest::staging(JWT).await;
        pg.set_request_log(false);
        let socrata = socrata_client::testkit::FakeSocrata::start().await;
        socrata.set_request_log(false);
        socrata.add_dataset(socrata_client::testkit::FakeDataset::from_metadata(
            &serde_json::from_str(SOCRATA_DATASET).unwrap(),
        ));
        let agol = agol_client::testkit::FakeAgol::start().await;
        agol.set_request_log(false);
        println!(
            "{} {} {} {}",
            knack.uri(),
            pg.uri(),
            socrata.uri(),
            agol.uri()
        );
        std::io::stdout().flush().unwrap();
        // Read stdin on a blocking thread; the fakes keep serving on the others.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
                let _ = tx.send(line.trim().to_string());
                line.clear();
            }
        });
        while let Some(command) = rx.recv().await {
            // A store the remaining phases do not read is emptied, so that a million records
            // in four stores at once do not exceed the machine's memory.
            if command == "drop knack" {
                knack.set_records(&view, Vec::new());
                println!("ok");
                std::io::stdout().flush().unwrap();
            }
            if let Some(ms) = command.strip_prefix("pg latency ") {
                pg.set_latency(Duration::from_millis(ms.parse().unwrap()));
                println!("ok");
                std::io::stdout().flush().unwrap();
            }
            if command == "drop socrata" {
                socrata.add_dataset(socrata_client::testkit::FakeDataset::from_metadata(
                    &serde_json::from_str(SOCRATA_DATASET).unwrap(),
                ));
                println!("ok");
                std::io::stdout().flush().unwrap();
            }
            if command == "knack" {
                let requests = knack.requests();
                knack.clear_requests();
                let limited = requests.iter().filter(|r| r.status == 429).count();
                let span = match (requests.first(), requests.last()) {
                    (Some(a), Some(b)) => b.at.duration_since(a.at).as_secs_f64(),
                    _ => 0.0,
                };
                println!("{} {limited} {span}", requests.len());
                std::io::stdout().flush().unwrap();
            }
        }
        drop((knack, pg, socrata, agol));
    });
}

/// The fakes' process: its pid, its stdin (commands) and its stdout (answers).
pub(crate) struct Fakes {
    pub(crate) pid: String,
    pub(crate) stdin: ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Fakes {
    /// Sends a command answered by `ok`: `drop knack` / `drop socrata` (empties a store the
    /// remaining phases do not read), `pg latency MS` (the store's answer time).
    pub(crate) fn command(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
    }

    /// Knack's (requests, 429s, seconds from first to last request) since the last call.
    pub(crate) fn knack_requests(&mut self) -> (u64, u64, f64) {
        writeln!(self.stdin, "knack").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let f: Vec<f64> = line
            .split_whitespace()
            .map(|x| x.parse().unwrap())
            .collect();
        (f[0] as u64, f[1] as u64, f[2])
    }
}

/// Starts the fakes' process for `n` records and reads their addresses.
pub(crate) fn start_fakes(n: usize) -> (std::process::Child, Fakes, Vec<String>) {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["serve", &n.to_string()])
        // The fakes parse and drop multi-megabyte bodies among the records they keep. glibc
        // raises its mmap threshold after the first such body is freed, so later ones come
        // from the heap and leave it fragmented (about twice what the stores hold, too much
        // for a million records). A fixed threshold keeps big buffers in mmap, returned on
        // free; two arenas limit per-thread slack. Only the fakes' process is affected.
        .env("MALLOC_MMAP_THRESHOLD_", "131072")
        .env("MALLOC_ARENA_MAX", "2")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the fakes' process");
    let mut fakes = Fakes {
        pid: child.id().to_string(),
        stdin: child.stdin.take().unwrap(),
        stdout: BufReader::new(child.stdout.take().unwrap()),
    };
    let mut addresses = String::new();
    fakes.stdout.read_line(&mut addresses).unwrap();
    let addresses = addresses.split_whitespace().map(String::from).collect();
    (child, fakes, addresses)
}
