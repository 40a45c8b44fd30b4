//! A whole-app `sync` of full-size records (the 23 fields of the fixture app's view_1, cycled
//! with fresh ids) over fakes that answer as slowly as the real services, each stage's wall time
//! against its floor; then `records-to-agol` again with the default batches one at a time, and
//! with the original's 50-feature batches, 4 in flight and one at a time.
//!
//! ```sh
//! cargo run --release -p knack-etl --example bench_latency --features testkit [-- 100000]
//! ```
//!
//! The model (per request, plus per item sent: records, rows or features in the body):
//!
//! | Service | Latency | Per item | Why |
//! |---|---|---|---|
//! | Knack | 150 ms a page, 10 requests/s | 0 | its API answers a 1,000-record page in 100–200 ms from Austin; 10/s is its documented rate limit |
//! | PostgREST | 3 ms | 0 | the staging database sits next to the runner (same VPC) |
//! | Socrata | 300 ms | 0 | a SODA upsert of 1,000 rows answers in hundreds of ms |
//! | ArcGIS Online | 300 ms | 2 ms a feature sent | an `applyEdits` round trip to a hosted layer, plus the layer's own work per feature (the issue's model; 1,000 point features in about 2.3 s); concurrent requests to one layer are served in parallel |
//!
//! The model assumes ArcGIS Online serves concurrent requests to one hosted layer in parallel
//! (its hosting tier is scaled out; Esri's own apps, such as Field Maps, edit one layer from many
//! clients at once). A layer that serialized edits would keep only the batch-size gain.
//!
//! A stage's floor is the fewest requests it must make × their modelled time, divided by the
//! requests it keeps in flight at once:
//! - records-to-postgrest: Knack's pages at 10 a second (`pages / 10` s; the staging writes
//!   overlap the reads);
//! - records-to-socrata: one upsert of 1,000 rows a request (`rows / 1000 × 300 ms`; a replace
//!   also reads the row ids back, as many requests again, which this floor leaves out);
//! - records-to-agol: one `applyEdits` of a batch, `in_flight` at once (`(batches × 300 ms +
//!   features × 2 ms) / in_flight`; the replace's look-up of an empty layer and its reads of
//!   staging add a few requests more).
//!
//! `BENCH_SKIP_50=1` leaves out the 50-feature runs; `BENCH_REQUESTS=1` prints Socrata's requests.
//!
//! The fakes run in this process (their CPU competes with the pipeline's; the stages here wait on
//! modelled latency, so that matters little) with their request logs off.

use std::time::{Duration, Instant};

use knack_etl::agol::{records_to_agol, AgolTarget};
use knack_etl::socrata::SocrataTarget;
use knack_etl::staging::Publication;
use knack_etl::sync::{sync, SyncClients, SyncOptions, SyncPlan};
use knack_etl::testkit::{
    container, fixture_records, FakeApp, APP_ID, DATASET, LOCATION_FIELD, MODIFIED_FIELD,
};
use knack_etl::{agol_client, RunOptions};
use serde_json::Value;

const KNACK_PAGE: Duration = Duration::from_millis(150);
const KNACK_PER_SECOND: f64 = 10.0;
const PGREST: Duration = Duration::from_millis(3);
const SOCRATA: Duration = Duration::from_millis(300);
const AGOL: Duration = Duration::from_millis(300);
const AGOL_PER_FEATURE: Duration = Duration::from_millis(2);

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(100_000, |s| s.parse().expect("a record count"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(n));
}

/// `n` records: the fixture's in turn, each with a fresh id.
fn records(n: usize) -> impl Iterator<Item = Value> {
    let fixture = fixture_records();
    (0..n).map(move |i| {
        let mut record = fixture[i % fixture.len()].clone();
        record["id"] = Value::String(format!("{i:024x}"));
        record
    })
}

async fn run(n: usize) {
    let app = FakeApp::start("bench-knack-key", "bench-jwt").await;
    app.knack.set_records_from(&container(), records(n));
    app.knack.set_rate_limit(Some(KNACK_PER_SECOND as usize));
    app.knack.set_latency(KNACK_PAGE);
    app.pg.set_request_log(false);
    app.pg.set_latency(PGREST);
    // BENCH_REQUESTS=1: keep the Socrata log and print its requests per path after the sync.
    let count_requests = std::env::var_os("BENCH_REQUESTS").is_some();
    app.socrata.set_request_log(count_requests);
    app.socrata.set_latency(SOCRATA);
    app.agol.set_request_log(false);
    app.agol.set_latency(AGOL);
    app.agol.set_item_cost(AGOL_PER_FEATURE);

    // The production clients' behaviour (Knack's own 10/s limiter, default retries), pointed
    // at the fakes.
    let knack = knack_etl::knack_client::Client::builder()
        .app_id(APP_ID)
        .api_key("bench-knack-key")
        .base_url(app.knack.uri())
        .build()
        .unwrap();
    let agol = app
        .agol
        .client_builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let clients = SyncClients {
        knack,
        pgrest: app.pg.client_builder().build().unwrap(),
        socrata: Some(app.socrata.client_builder().build().unwrap()),
        agol: Some(agol.clone()),
        knack_dests: Default::default(),
    };
    let agol_target = AgolTarget::new(
        agol_client::testkit::ITEM_ID,
        agol_client::LayerSelector::LayerIndex(0),
        "id",
    );
    let plan = SyncPlan {
        container: container(),
        modified_date_field: MODIFIED_FIELD.to_string(),
        location_fields: vec![LOCATION_FIELD.to_string()],
        socrata: Some(SocrataTarget {
            resource_id: DATASET.to_string(),
            ..SocrataTarget::default()
        }),
        agol: Some(agol_target.clone()),
        knack: Vec::new(),
    };
    let options = SyncOptions {
        since: None,
        dry_run: false,
        concurrency: 1,
        stop: knack_etl::Stop::process(),
    };

    println!("whole-app sync of {n} full-size records, latency-modelled fakes (--release)");
    let started = Instant::now();
    let report = sync(&clients, APP_ID, std::slice::from_ref(&plan), options).await;
    let total = started.elapsed();
    let pages = n.div_ceil(1000) as f64;
    let floors = [
        ("postgrest", pages / KNACK_PER_SECOND),
        ("socrata", pages * SOCRATA.as_secs_f64()),
        (
            "agol",
            agol_floor(
                n,
                AgolTarget::DEFAULT_BATCH_SIZE,
                AgolTarget::DEFAULT_IN_FLIGHT,
            ),
        ),
    ];
    println!();
    println!("| Stage | Written | Wall (s) | Floor (s) | Wall / floor | Where the time went |");
    println!("|---|---|---|---|---|---|");
    let mut agol_default = f64::NAN;
    for stage in &report.stages {
        let Some(r) = stage.outcome.report() else {
            println!("| {} | skipped | | | |", stage.destination);
            continue;
        };
        let name = stage.destination.to_string();
        let floor = floors
            .iter()
            .find(|(k, _)| name.contains(k))
            .map_or(f64::NAN, |(_, f)| *f);
        let wall = r.duration.as_secs_f64();
        if name.contains("agol") {
            agol_default = wall;
        }
        println!(
            "| records-to-{name} | {} | {wall:.1} | {floor:.1} | {:.2} | {} |",
            r.written,
            wall / floor,
            stage.outcome.time()
        );
    }
    println!(
        "(whole sync, metadata included: {:.1} s)",
        total.as_secs_f64()
    );
    if count_requests {
        let mut per_path = std::collections::BTreeMap::<String, usize>::new();
        for r in app.socrata.requests() {
            *per_path
                .entry(format!("{} {}", r.method, r.path))
                .or_default() += 1;
        }
        println!("Socrata requests: {per_path:?}");
    }

    // records-to-agol again with other settings, each into an emptied layer, as the sync's first
    // run wrote into an empty one: (b) the default batches one at a time, (d) the original's 50
    // features with the default in flight, (c) the original's 50 one at a time.
    let publication = Publication {
        app_id: APP_ID.to_string(),
        container: container(),
        location_fields: vec![LOCATION_FIELD.to_string()],
    };
    let default = AgolTarget::DEFAULT_BATCH_SIZE;
    let mut runs = vec![(
        default,
        AgolTarget::DEFAULT_IN_FLIGHT,
        n as u64,
        agol_default,
    )];
    let mut settings = vec![(default, 1)];
    if std::env::var_os("BENCH_SKIP_50").is_none() {
        settings.extend([(50, AgolTarget::DEFAULT_IN_FLIGHT), (50, 1)]);
    }
    for (batch_size, in_flight) in settings {
        let layer = agol
            .layer_from_item(
                agol_client::testkit::ITEM_ID,
                agol_client::LayerSelector::LayerIndex(0),
            )
            .await
            .unwrap();
        layer.delete_where("1=1").await.unwrap();
        let target = AgolTarget {
            batch_size,
            in_flight,
            ..agol_target.clone()
        };
        let options = RunOptions::default();
        let started = Instant::now();
        let r = records_to_agol(&clients.pgrest, &agol, &publication, &target, &options)
            .await
            .unwrap();
        runs.push((
            batch_size,
            in_flight,
            r.written,
            started.elapsed().as_secs_f64(),
        ));
    }
    let wall_of = |size: usize, k: usize| {
        runs.iter()
            .find(|r| r.0 == size && r.1 == k)
            .map_or(f64::NAN, |r| r.3)
    };
    let (one_by_one, fifty_at_once) = (wall_of(50, 1), wall_of(50, AgolTarget::DEFAULT_IN_FLIGHT));
    println!();
    println!(
        "| records-to-agol | In flight | Written | Wall (s) | Floor (s) | Wall / floor | \
         Speed-up vs 50 one at a time | vs 50, {} in flight |",
        AgolTarget::DEFAULT_IN_FLIGHT
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (size, k, written, wall) in &runs {
        let floor = agol_floor(n, *size, *k);
        let what = match (*size, *k) {
            (s, k) if s == default && k == AgolTarget::DEFAULT_IN_FLIGHT => {
                format!("batches of {s} (default)")
            }
            (50, _) => "batches of 50 (the original's)".to_string(),
            (s, _) => format!("batches of {s}"),
        };
        println!(
            "| {what} | {k} | {written} | {wall:.1} | {floor:.1} | {:.2} | {:.1}× | {:.1}× |",
            wall / floor,
            one_by_one / wall,
            fifty_at_once / wall,
        );
    }
}

/// records-to-agol's floor for `n` features in batches of `size`, `in_flight` at once: the
/// fewest `applyEdits` × their modelled time, shared between the batches in flight.
fn agol_floor(n: usize, size: usize, in_flight: usize) -> f64 {
    let requests = n.div_ceil(size) as f64;
    (requests * AGOL.as_secs_f64() + n as f64 * AGOL_PER_FEATURE.as_secs_f64()) / in_flight as f64
}
