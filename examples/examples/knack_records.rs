//! List the records of a Knack view, filtered on the server, page by page.
//!
//! ```sh
//! cargo run --example knack_records
//! ```
//!
//! Runs against the fake Knack of `knack-client`'s `testkit` feature; against
//! the real API, build the client with `Client::builder().app_id(..).api_key(..)`.
//! Needs only `knack-client` (with `testkit`), `tokio` and `futures`: copy it to start.

use std::io::Write;

use futures::TryStreamExt;
use knack_client::testkit::{AppMetadata, FakeKnack, ObjectSpec, RecordBuilder};
use knack_client::{Container, FieldType, Filter, Operator, RecordsQuery, Rule};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Lists the PHB signals with more than two lanes; returns how many matched.
pub async fn run(out: &mut impl Write) -> Result<usize> {
    // A fake Knack on 127.0.0.1: an app with one object shown by one table view, and 120
    // records built in Knack's shape (each field as `field_N` text and `field_N_raw` value).
    let fake = FakeKnack::start().await;
    let signal = ObjectSpec::new("object_1", "Signal")
        .field("field_1", "Location Name", FieldType::ShortText)
        .field("field_3", "Lane Count", FieldType::Number)
        .field("field_6", "Signal Type", FieldType::MultipleChoice);
    let columns = ["field_1", "field_3", "field_6"];
    fake.set_metadata(
        AppMetadata::new(fake.app_id())
            .object(signal)
            .view("scene_1", "view_1", "object_1", &columns)
            .to_json(),
    );
    let view = Container::view("scene_1", "view_1")?;
    fake.set_records_from(
        &view,
        (0..120).map(|i: usize| {
            RecordBuilder::new(format!("64a0{i:020x}"))
                .field("field_1", format!("SIGNAL {}", i + 1))
                .field("field_3", 1 + (i / 3) % 6)
                .field("field_6", ["TRAFFIC", "PHB", "FLASHER"][i % 3])
                .into()
        }),
    );

    // The client: app id, API key and base URL come from the fake. It keeps
    // under Knack's 10 requests per second and retries 429s and 5xx by itself.
    let client = fake.client_builder().build()?;

    // Knack filters on the server with rules on field keys (`field_N`), not labels.
    let filter = Filter::and([
        Rule::new("field_6", Operator::Is, "PHB"),
        Rule::new("field_3", Operator::HigherThan, 2),
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
            let lanes = record.raw_value("field_3").cloned().unwrap_or_default();
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
