//! The whole pipeline, with no account and no network: four fake services
//! on loopback, a generated Knack app, and the real clients and pipelines.

use std::io::Write;
use std::time::Duration;

use agol_client::testkit::{FakeAgol, ITEM_ID};
use agol_client::LayerSelector;
use chrono::{NaiveDateTime, Timelike, Utc};
use knack_client::testkit::FakeKnack;
use knack_client::Container;
use knack_etl::agol::{records_to_agol, AgolTarget};
use knack_etl::socrata::{records_to_socrata, SocrataTarget};
use knack_etl::staging::{metadata_to_postgrest, records_to_postgrest, Publication};
use knack_etl::{RunOptions, RunReport};
use pgrest_client::testkit::FakePostgrest;
use serde_json::{json, Value};
use socrata_client::testkit::FakeSocrata;

use crate::demo::{self, DATASET_ID, LOCATION_FIELD, MODIFIED_FIELD, SCENE, VIEW};
use crate::Result;

/// How many records the demo app holds.
pub const RECORDS: usize = 300;
/// Which demo records get edited before the incremental run.
pub const EDITED: [usize; 3] = [4, 57, 211];

/// The note the edit writes into each edited record.
pub const EDITED_NOTE: &str = "Retimed after a citizen report";

/// What the quickstart did, for the smoke test.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Metadata → PostgREST.
    pub metadata: RunReport,
    /// Full runs: Knack → PostgREST, PostgREST → Socrata, PostgREST → AGOL.
    pub full: [RunReport; 3],
    /// The same three, incrementally, after the edits.
    pub incremental: [RunReport; 3],
    /// The `filters` parameter the incremental Knack read sent.
    pub knack_filter: String,
    /// Ids of the edited records.
    pub edited_ids: Vec<String>,
    /// Rows in the Socrata dataset at the end.
    pub socrata_rows: usize,
    /// Features in the AGOL layer at the end.
    pub agol_features: usize,
    /// Edited records whose new note reached both Socrata and AGOL.
    pub edits_published: usize,
}

fn print_report(out: &mut impl Write, step: &str, report: &RunReport) -> Result<()> {
    writeln!(out, "  {step}: {report}")?;
    for note in &report.notes {
        writeln!(out, "    note: {note}")?;
    }
    Ok(())
}

/// The app's wall-clock time now: Knack dates are local times.
fn now_in_app() -> Result<NaiveDateTime> {
    let tz = knack_client::parse_timezone(demo::TIMEZONE)?;
    let now = Utc::now().with_timezone(&tz).naive_local();
    // Knack keeps no fractions of a second.
    Ok(now.with_nanosecond(0).unwrap_or(now))
}

/// A few columns of a row, so the output stays readable.
fn sample(row: &serde_json::Map<String, Value>, keys: &[&str]) -> Value {
    let picked: serde_json::Map<String, Value> = keys
        .iter()
        .filter_map(|k| row.get(*k).map(|v| ((*k).to_string(), v.clone())))
        .collect();
    Value::Object(picked)
}

/// Runs the quickstart, printing each step to `out`.
///
/// # Errors
/// Any failure of a fake, a client or a pipeline (none is expected).
pub async fn run(out: &mut impl Write) -> Result<Summary> {
    writeln!(
        out,
        "== 1. Starting four fake services on 127.0.0.1 (no account, no network)"
    )?;
    let knack_fake = FakeKnack::start().await;
    // No artificial latency, and Knack's real limit (10 requests in any second) enforced:
    // the client's own limiter keeps it from ever being hit.
    knack_fake.set_latency(Duration::ZERO);
    knack_fake.set_rate_limit(Some(10));
    let pgrest_fake = FakePostgrest::staging("demo-jwt").await;
    let socrata_fake = FakeSocrata::start().await;
    let agol_fake = FakeAgol::start().await;
    writeln!(out, "  Knack      {}", knack_fake.uri())?;
    writeln!(
        out,
        "  PostgREST  {} (api.knack, api.knack_metadata)",
        pgrest_fake.uri()
    )?;
    writeln!(out, "  Socrata    {}", socrata_fake.uri())?;
    writeln!(
        out,
        "  ArcGIS     {} (item {ITEM_ID}, layer 0 `signals`)",
        agol_fake.uri()
    )?;

    writeln!(out, "\n== 2. Generating a demo Knack app")?;
    let container = Container::view(SCENE, VIEW)?;
    knack_fake.set_metadata(demo::metadata(&knack_fake.app_id()));
    let mut records = demo::records(RECORDS, now_in_app()?);
    knack_fake.set_records(&container, records.clone());
    socrata_fake.add_dataset(demo::socrata_dataset());
    writeln!(
        out,
        "  app {} ({}), {RECORDS} records in {SCENE}/{VIEW}, 11 fields of 9 Knack types incl. an address \
         ({LOCATION_FIELD}) and a modified date ({MODIFIED_FIELD}), all modified 3+ days ago",
        knack_fake.app_id(),
        demo::TIMEZONE
    )?;
    writeln!(
        out,
        "  Socrata dataset {DATASET_ID}: row identifier `id`, `location` is a point column"
    )?;

    // The real clients, pointed at the fakes.
    let knack = knack_fake.client_builder().build()?;
    let pgrest = pgrest_fake.client_builder().build()?;
    let socrata = socrata_fake.client_builder().build()?;
    let agol = agol_fake.client_builder().build()?;
    let publication = Publication {
        app_id: knack.app_id().to_string(),
        container: container.clone(),
        location_fields: vec![LOCATION_FIELD.to_string()],
    };
    let socrata_target = SocrataTarget {
        resource_id: DATASET_ID.to_string(),
        ..SocrataTarget::default()
    };
    let agol_target = AgolTarget {
        batch_size: 100,
        ..AgolTarget::new(ITEM_ID, LayerSelector::LayerIndex(0), "id")
    };

    writeln!(out, "\n== 3. Metadata → PostgREST")?;
    let metadata = metadata_to_postgrest(&knack, &pgrest, false).await?;
    print_report(out, "api.knack_metadata", &metadata)?;
    writeln!(
        out,
        "    why: the publishers format records from the stored metadata, not from Knack"
    )?;

    writeln!(
        out,
        "\n== 4. Full runs (no `since`: read everything, replace the destination)"
    )?;
    let full_opts = RunOptions::default();
    let knack_requests = knack_fake.requests().len();
    let staged = records_to_postgrest(
        &knack,
        &pgrest,
        &container,
        Some(MODIFIED_FIELD),
        &full_opts,
    )
    .await?;
    print_report(out, "Knack → api.knack", &staged)?;
    writeln!(
        out,
        "    {} Knack request(s), no filter; {} staged rows, each the raw record untouched",
        knack_fake.requests().len() - knack_requests,
        pgrest_fake.rows("knack").len()
    )?;
    let to_socrata =
        records_to_socrata(&pgrest, &socrata, &publication, &socrata_target, &full_opts).await?;
    print_report(out, "api.knack → Socrata", &to_socrata)?;
    writeln!(
        out,
        "    why: each staged record is formatted as knackpy does (labels, local times), its \
         labels normalised (\"Lane Count\" → lane_count) and matched to the dataset's columns"
    )?;
    let rows = socrata_fake.rows(DATASET_ID);
    if let Some(row) = rows.first() {
        let keys = [
            "id",
            "location_name",
            "is_active",
            "location",
            "modified_date",
        ];
        writeln!(out, "    sample row: {}", sample(row, &keys))?;
    }
    let to_agol = records_to_agol(&pgrest, &agol, &publication, &agol_target, &full_opts).await?;
    print_report(out, "api.knack → ArcGIS", &to_agol)?;
    if let Some(feature) = agol_fake.features(0).first() {
        let attributes = sample(
            &feature.attributes,
            &["id", "location_name", "modified_date"],
        );
        writeln!(
            out,
            "    sample feature: {attributes} geometry {}",
            json!(feature.geometry)
        )?;
    }
    writeln!(
        out,
        "    why deleted 0: a replace deletes what Knack no longer has, and only after every \
         write succeeded; nothing was removed from Knack"
    )?;

    writeln!(
        out,
        "\n== 5. Someone edits {} records in Knack",
        EDITED.len()
    )?;
    // `since` is when the last successful run ended: anything modified or staged
    // after it moves. (The short pause keeps it clear of the full run's writes.)
    tokio::time::sleep(Duration::from_millis(20)).await;
    let since = Utc::now();
    let edited_at = now_in_app()?;
    let mut edited_ids = Vec::new();
    for &i in &EDITED {
        let record = records[i]
            .as_object_mut()
            .ok_or("a demo record is an object")?;
        record.insert(demo::NOTES_FIELD.into(), json!(EDITED_NOTE));
        record.insert(format!("{}_raw", demo::NOTES_FIELD), json!(EDITED_NOTE));
        demo::set_modified(record, edited_at);
        edited_ids.push(demo::record_id(i));
        writeln!(
            out,
            "  {}: Notes → {EDITED_NOTE:?}, Modified Date → {edited_at}",
            demo::record_id(i)
        )?;
    }
    knack_fake.set_records(&container, records);

    let since_text = since.format("%Y-%m-%d %H:%M:%S%.3f UTC");
    writeln!(
        out,
        "\n== 6. Incremental runs (since = {since_text}, just before the edits)"
    )?;
    let inc_opts = RunOptions {
        since: Some(since),
        ..RunOptions::default()
    };
    knack_fake.clear_requests();
    let inc_staged =
        records_to_postgrest(&knack, &pgrest, &container, Some(MODIFIED_FIELD), &inc_opts).await?;
    let knack_filter = knack_fake
        .requests()
        .iter()
        .find_map(|r| r.query_param("filters").map(str::to_string))
        .unwrap_or_default();
    print_report(out, "Knack → api.knack", &inc_staged)?;
    writeln!(out, "    Knack filter: {knack_filter}")?;
    writeln!(
        out,
        "    why: Knack filters dates by whole day in the app's timezone, so the run asks for \
         \"{MODIFIED_FIELD} is, or is after, the day of `since`\" and upserts what comes back"
    )?;
    let inc_socrata =
        records_to_socrata(&pgrest, &socrata, &publication, &socrata_target, &inc_opts).await?;
    print_report(out, "api.knack → Socrata", &inc_socrata)?;
    let inc_agol = records_to_agol(&pgrest, &agol, &publication, &agol_target, &inc_opts).await?;
    print_report(out, "api.knack → ArcGIS", &inc_agol)?;
    writeln!(
        out,
        "    why: the publishers read only staged rows whose updated_at >= since, and upsert them \
         on `id`: nothing is deleted"
    )?;

    let socrata_rows = socrata_fake.rows(DATASET_ID);
    let features = agol_fake.features(0);
    let edits_published = edited_ids
        .iter()
        .filter(|id| {
            let in_socrata = socrata_rows
                .iter()
                .any(|r| r["id"] == id.as_str() && r["notes"] == EDITED_NOTE);
            let in_agol = features
                .iter()
                .any(|f| f.attributes["id"] == id.as_str() && f.attributes["notes"] == EDITED_NOTE);
            in_socrata && in_agol
        })
        .count();
    if let Some(row) = socrata_rows
        .iter()
        .find(|r| r["id"] == edited_ids[0].as_str())
    {
        let keys = ["id", "notes", "modified_date"];
        writeln!(out, "    edited row in Socrata: {}", sample(row, &keys))?;
    }
    writeln!(
        out,
        "\n== Done: Socrata holds {} rows, ArcGIS {} features; {} of {} edits published to both.",
        socrata_rows.len(),
        features.len(),
        edits_published,
        edited_ids.len()
    )?;
    Ok(Summary {
        metadata,
        full: [staged, to_socrata, to_agol],
        incremental: [inc_staged, inc_socrata, inc_agol],
        knack_filter,
        edited_ids,
        socrata_rows: socrata_rows.len(),
        agol_features: features.len(),
        edits_published,
    })
}
