//! Query a Socrata dataset with SoQL, then upsert rows into it.
//!
//! ```sh
//! cargo run --example socrata_query
//! ```
//!
//! Runs against the fake portal of `socrata-client`'s `testkit` feature;
//! against a real one, build the client with `.domain(..).api_key(..).app_token(..)`.

use std::io::Write;

use futures::TryStreamExt;
use serde_json::json;
use socrata_client::testkit::{FakeDataset, FakeSocrata};
use socrata_client::Query;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Reads the PHB signals, then upserts one changed and one new row;
/// returns (PHB rows read, rows in the dataset at the end).
pub async fn run(out: &mut impl Write) -> Result<(usize, usize)> {
    // A fake portal with one dataset whose row identifier is `id`: upserts
    // match rows on it (without one, Socrata would append duplicates).
    let fake = FakeSocrata::start().await;
    let rows = (1..=30).map(|n| {
        let kind = ["TRAFFIC", "PHB", "FLASHER"][n % 3];
        json!({"id": format!("SIG-{n:03}"), "signal_type": kind, "lane_count": n % 5})
    });
    let dataset = FakeDataset::new("abcd-1234")
        .column("id", "text")
        .column("signal_type", "text")
        .column("lane_count", "number")
        .row_identifier("id")
        .rows(rows);
    fake.add_dataset(dataset);
    // Writes need an API key; the fake checks it just as a portal does.
    fake.require_basic_auth("key-id", "key-secret");
    let client = fake
        .client_builder()
        .api_key("key-id", "key-secret")
        .build()?;

    // The metadata tells which columns exist and which one identifies a row.
    let meta = client.metadata("abcd-1234").await?;
    writeln!(
        out,
        "columns: {:?}, row identifier: {:?}",
        meta.columns
            .iter()
            .map(|c| &c.field_name)
            .collect::<Vec<_>>(),
        meta.row_identifier
    )?;

    // `rows` pages through the answer ($limit/$offset) and always sends
    // `$order`, so no row is skipped or read twice between pages.
    let query = Query::new().where_eq("signal_type", "PHB").order("id");
    let phb: Vec<_> = client.rows("abcd-1234", query).try_collect().await?;
    writeln!(out, "{} PHB signals, first: {}", phb.len(), json!(phb[0]))?;

    // An upsert: SIG-002 exists and is updated; SIG-031 is created.
    let changes = [
        json!({"id": "SIG-002", "signal_type": "TRAFFIC", "lane_count": 4}),
        json!({"id": "SIG-031", "signal_type": "PHB", "lane_count": 1}),
    ];
    let summary = client.upsert("abcd-1234", &changes).await?;
    writeln!(
        out,
        "created {}, updated {}, errors {}",
        summary.rows_created, summary.rows_updated, summary.errors
    )?;

    let total = fake.rows("abcd-1234").len();
    writeln!(out, "the dataset holds {total} rows")?;
    Ok((phb.len(), total))
}

#[tokio::main]
async fn main() -> Result<()> {
    run(&mut std::io::stdout()).await?;
    Ok(())
}
