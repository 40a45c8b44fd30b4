//! Pages per second against the testkit at 150 ms latency, next to Knack's
//! ceiling of 10 requests per second.
//!
//! `cargo run --release -p knack-client --features testkit --example bench_paging`

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use knack_client::testkit::FakeKnack;
use knack_client::{Container, RecordsQuery};
use serde_json::json;

#[tokio::main]
async fn main() -> knack_client::Result<()> {
    let pages = 50;
    let latency = Duration::from_millis(150);
    println!(
        "| concurrency | pages | latency | elapsed | pages/s | ceiling | 429s | max in any 1 s |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for concurrency in [1, 2, 4, 8] {
        let app_id = format!("5f00000000000000000009{concurrency:02}");
        let fake = FakeKnack::start_for(&app_id, "bench").await;
        let object = Container::object("object_1")?;
        fake.set_records(
            &object,
            (0..pages)
                .map(|i| json!({"id": format!("{i:024x}")}))
                .collect(),
        );
        fake.set_latency(latency);
        let client = fake
            .client_builder()
            .page_concurrency(concurrency)
            .build()?;
        let started = Instant::now();
        let n = client
            .records(&object, RecordsQuery::new().rows_per_page(1))
            .try_fold(0usize, |n, _| async move { Ok(n + 1) })
            .await?;
        let elapsed = started.elapsed();
        assert_eq!(n, pages);
        let refused = fake.requests().iter().filter(|r| r.status == 429).count();
        println!(
            "| {concurrency} | {pages} | {latency:?} | {:.2} s | {:.2} | 10.00 | {refused} | {} |",
            elapsed.as_secs_f64(),
            pages as f64 / elapsed.as_secs_f64(),
            fake.max_requests_in_window(Duration::from_secs(1)),
        );
    }
    println!(
        "\nsequential fetching would take {:.1} s (pages x latency)",
        pages as f64 * latency.as_secs_f64()
    );
    Ok(())
}
