//! A whole-app `sync` of full-size records (the 23 fields of the fixture app's view_1, cycled
//! with fresh ids) over fakes that answer as slowly as the real services, each stage's wall time
//! against its floor; then `records-to-agol` again with the original's 50-feature batches.
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
//! | ArcGIS Online | 300 ms | 2 ms a feature sent | an `applyEdits` round trip to a hosted layer, plus the layer's own work per feature (the issue's model; 1,000 point features in about 2.3 s) |
//!
//! A stage's floor is the fewest requests it must make one after another × their modelled time:
//! - records-to-postgrest: Knack's pages at 10 a second (`pages / 10` s; the staging writes
//!   overlap the reads);
//! - records-to-socrata: one upsert of 1,000 rows a request (`rows / 1000 × 300 ms`; a replace
//!   also reads the row ids back, as many requests again, which this floor leaves out);
//! - records-to-agol: one `applyEdits` of a batch (`batches × 300 ms + features × 2 ms`; the
//!   replace's look-up of an empty layer and its reads of staging add a few requests more).
//!
//! `BENCH_SKIP_50=1` leaves out the 50-feature run; `BENCH_REQUESTS=1` prints Socrata's requests.
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
            pages * AGOL.as_secs_f64() + n as f64 * AGOL_PER_FEATURE.as_secs_f64(),
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

    if std::env::var_os("BENCH_SKIP_50").is_some() {
        return;
    }
    // The same stage with the original's 50-feature batches, into an emptied layer, as the
    // sync's first run wrote into an empty one.
    let layer = agol
        .layer_from_item(
            agol_client::testkit::ITEM_ID,
            agol_client::LayerSelector::LayerIndex(0),
        )
        .await
        .unwrap();
    layer.delete_where("1=1").await.unwrap();
    let fifty = AgolTarget {
        batch_size: 50,
        ..agol_target
    };
    let publication = Publication {
        app_id: APP_ID.to_string(),
        container: container(),
        location_fields: vec![LOCATION_FIELD.to_string()],
    };
    let started = Instant::now();
    let r = records_to_agol(
        &clients.pgrest,
        &agol,
        &publication,
        &fifty,
        &RunOptions::default(),
    )
    .await
    .unwrap();
    let wall50 = started.elapsed().as_secs_f64();
    let floor50 =
        (n.div_ceil(50)) as f64 * AGOL.as_secs_f64() + n as f64 * AGOL_PER_FEATURE.as_secs_f64();
    println!();
    println!("| records-to-agol | Written | Wall (s) | Floor (s) |");
    println!("|---|---|---|---|");
    println!(
        "| batches of {} (default) | {n} | {agol_default:.1} | {:.1} |",
        AgolTarget::DEFAULT_BATCH_SIZE,
        floors[2].1
    );
    println!(
        "| batches of 50 (the original's) | {} | {wall50:.1} | {floor50:.1} |",
        r.written
    );
    println!(
        "default is {:.1}× faster than 50-feature batches",
        wall50 / agol_default
    );
}
