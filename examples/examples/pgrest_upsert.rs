//! Page through a PostgREST table by keyset, then upsert rows into it.
//!
//! ```sh
//! cargo run --example pgrest_upsert
//! ```
//!
//! Runs against the fake PostgREST of `pgrest-client`'s `testkit` feature;
//! against a real one, build the client with `.base_url(..).jwt(..).schema(..)`.

use std::io::Write;

use futures::TryStreamExt;
use pgrest_client::testkit::{FakePostgrest, TableSpec};
use pgrest_client::{Keyset, Query, Upsert};
use serde_json::{json, Value};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Pages a 25-row table, then upserts one changed and two new rows;
/// returns (pages read, rows in the table at the end).
pub async fn run(out: &mut impl Write) -> Result<(usize, usize)> {
    // A fake PostgREST with one table `api.signals`: `id` is an identity
    // column (numbered by "the database"), `signal_id` the primary key.
    let spec = TableSpec::new("signals")
        .primary_key(["signal_id"])
        .identity("id");
    let fake = FakePostgrest::builder()
        .table(spec)
        .jwt("example-jwt")
        .start()
        .await;
    let rows = (1..=25).map(|n| json!({"signal_id": format!("SIG-{n:03}"), "lanes": n % 4}));
    fake.seed("signals", rows);
    let client = fake.client_builder().build()?;

    // Keyset paging: each page asks for `id > last id seen`, ordered by id, so
    // rows are never skipped or read twice even if the table changes meanwhile.
    let query = Query::new().gte("lanes", 1);
    let mut pages =
        Box::pin(client.select_pages::<Value>("signals", query, Keyset::on("id").page_size(10)));
    let (mut page_count, mut row_count) = (0, 0);
    while let Some(page) = pages.try_next().await? {
        page_count += 1;
        row_count += page.len();
        writeln!(
            out,
            "page {page_count}: {} rows, first {}",
            page.len(),
            page[0]["signal_id"]
        )?;
    }
    writeln!(
        out,
        "{row_count} rows with lanes >= 1 in {page_count} pages"
    )?;

    // An upsert: rows whose key exists are updated, the others inserted.
    // `on_conflict` names the unique key PostgREST matches on.
    let changes = [
        json!({"signal_id": "SIG-001", "lanes": 6}),
        json!({"signal_id": "SIG-026", "lanes": 2}),
        json!({"signal_id": "SIG-027", "lanes": 3}),
    ];
    let summary = client
        .upsert("signals", &changes, &Upsert::on_conflict(["signal_id"]))
        .await?;
    writeln!(
        out,
        "upserted {} rows in {} request(s)",
        summary.rows, summary.batches
    )?;

    let first: Vec<Value> = client
        .select("signals", &Query::new().eq("signal_id", "SIG-001"))
        .await?;
    writeln!(out, "SIG-001 now: {}", first[0])?;
    let total = fake.rows("signals").len();
    writeln!(out, "the table holds {total} rows")?;
    Ok((page_count, total))
}

#[tokio::main]
async fn main() -> Result<()> {
    run(&mut std::io::stdout()).await?;
    Ok(())
}
