//! List the records of a Knack view, filtered on the server, page by page.
//!
//! ```sh
//! cargo run --example knack_records
//! ```
//!
//! Runs against the fake Knack of `knack-client`'s `testkit` feature; against
//! the real API, build the client with `Client::builder().app_id(..).api_key(..)`.

use std::io::Write;

use futures::TryStreamExt;
use knack_client::testkit::FakeKnack;
use knack_client::{Container, Filter, Operator, RecordsQuery, Rule};
use knack_services_examples::{demo, Result};

/// Lists the PHB signals with more than two lanes; returns how many matched.
pub async fn run(out: &mut impl Write) -> Result<usize> {
    // A fake Knack on 127.0.0.1, serving the demo app's metadata and 120 records.
    let fake = FakeKnack::start().await;
    fake.set_metadata(demo::metadata(&fake.app_id()));
    let view = Container::view(demo::SCENE, demo::VIEW)?;
    let now = chrono::Utc::now().naive_utc();
    fake.set_records(&view, demo::records(120, now));

    // The client: app id, API key and base URL come from the fake. It keeps
    // under Knack's 10 requests per second and retries 429s and 5xx by itself.
    let client = fake.client_builder().build()?;

    // Knack filters on the server with rules on field keys (`field_N`), not labels.
    let filter = Filter::and([
        Rule::new(demo::SIGNAL_TYPE_FIELD, Operator::Is, "PHB"),
        Rule::new(demo::LANE_COUNT_FIELD, Operator::HigherThan, 2),
    ]);
    writeln!(out, "filters={}", filter.to_json_string())?;

    // `records` is a Stream: it fetches the next page (here 10 rows) only when
    // the previous one is used up, and stops on Knack's last page.
    let query = RecordsQuery::new().rows_per_page(10).filter(filter);
    let mut records = Box::pin(client.records(&view, query));
    let mut count = 0;
    while let Some(record) = records.try_next().await? {
        count += 1;
        if count <= 5 {
            // `display_value` is Knack's formatted text; `raw_value` its `_raw` twin.
            let name = record.display_value("field_1").cloned().unwrap_or_default();
            let lanes = record
                .raw_value(demo::LANE_COUNT_FIELD)
                .cloned()
                .unwrap_or_default();
            writeln!(out, "{}  {name}  lanes={lanes}", record.id())?;
        }
    }
    let pages = fake.requests().len();
    writeln!(out, "{count} matching records in {pages} page request(s)")?;
    Ok(count)
}

#[tokio::main]
async fn main() -> Result<()> {
    run(&mut std::io::stdout()).await?;
    Ok(())
}
