//! A demo Knack app generated in code: its metadata, its records as Knack's
//! API returns them (`field_N` display values beside `field_N_raw`), and a
//! Socrata dataset whose columns match what the pipeline publishes.
//!
//! Everything is deterministic (no randomness) so tests can count on it.

use chrono::{Duration, NaiveDateTime};
use knack_client::testkit::RecordBuilder;
use serde_json::{json, Map, Value};
use socrata_client::testkit::FakeDataset;

/// The scene holding the demo view.
pub const SCENE: &str = "scene_1";
/// The table view the pipeline reads (the original's "container").
pub const VIEW: &str = "view_1";
/// The object behind the view.
pub const OBJECT: &str = "object_1";
/// The address field whose latitude/longitude become geometry.
pub const LOCATION_FIELD: &str = "field_9";
/// The "Modified Date" field an incremental run filters on.
pub const MODIFIED_FIELD: &str = "field_21";
/// The "Notes" field (paragraph text).
pub const NOTES_FIELD: &str = "field_2";
/// The "Signal Type" field (single-choice).
pub const SIGNAL_TYPE_FIELD: &str = "field_6";
/// The "Lane Count" field (number).
pub const LANE_COUNT_FIELD: &str = "field_3";
/// The app's timezone, as Knack names it in `settings.timezone`.
pub const TIMEZONE: &str = "Central Time (US & Canada)";
/// The demo Socrata dataset id (a "4x4").
pub const DATASET_ID: &str = "sgnl-demo";
/// The signal types records cycle through.
pub const SIGNAL_TYPES: [&str; 3] = ["TRAFFIC", "PHB", "FLASHER"];

const STREETS: [&str; 8] = [
    "CONGRESS AVE",
    "LAMAR BLVD",
    "MANOR RD",
    "5TH ST",
    "CESAR CHAVEZ ST",
    "SLAUGHTER LN",
    "RIVERSIDE DR",
    "BURNET RD",
];
const DETECTION: [&str; 4] = ["Video", "Radar", "Loop", "Thermal"];

/// `(key, label, Knack type, format)` of every field of the demo object.
fn fields() -> Vec<(&'static str, &'static str, &'static str, Value)> {
    vec![
        ("field_1", "Location Name", "short_text", json!({})),
        ("field_2", "Notes", "paragraph_text", json!({})),
        ("field_3", "Lane Count", "number", json!({"precision": 0})),
        (
            "field_5",
            "Is Active",
            "boolean",
            json!({"format": "yes_no"}),
        ),
        (
            "field_6",
            "Signal Type",
            "multiple_choice",
            json!({"type": "single", "options": SIGNAL_TYPES}),
        ),
        (
            "field_7",
            "Detection Types",
            "multiple_choice",
            json!({"type": "multi", "options": DETECTION}),
        ),
        (
            "field_9",
            "Location",
            "address",
            json!({"input": "lat_long", "format": "US"}),
        ),
        ("field_11", "Contact Email", "email", json!({})),
        (
            "field_14",
            "Install Date",
            "date_time",
            json!({"date_format": "mm/dd/yyyy", "time_format": "Ignore Time"}),
        ),
        ("field_18", "Signal Number", "auto_increment", json!({})),
        (
            "field_21",
            "Modified Date",
            "date_time",
            json!({"date_format": "mm/dd/yyyy", "time_format": "h:mma"}),
        ),
    ]
}

/// The app's metadata, as `GET /v1/applications/{app_id}` returns it: one
/// object, and one table view in one scene showing every field.
pub fn metadata(app_id: &str) -> Value {
    let fields: Vec<Value> = fields()
        .into_iter()
        .map(|(key, name, kind, format)| {
            json!({"key": key, "name": name, "type": kind, "required": false,
                   "unique": false, "format": format, "object_key": OBJECT})
        })
        .collect();
    let columns: Vec<Value> = fields
        .iter()
        .map(|f| json!({"header": f["name"], "type": "field", "field": {"key": f["key"]}}))
        .collect();
    json!({"application": {
        "id": app_id,
        "name": "Demo Signals",
        "slug": "demo-signals",
        "account": {"id": "000000000000000000000acc", "slug": "demo-city", "name": "Demo City"},
        "settings": {"timezone": TIMEZONE, "timezone_offset": "-21600", "timezone_dst": "3600"},
        "objects": [{"key": OBJECT, "name": "Signal", "identifier": "field_1", "fields": fields}],
        "scenes": [{"key": SCENE, "name": "Signals", "slug": "signals", "views": [{
            "key": VIEW, "name": "Signals data pub view", "type": "table",
            "source": {"object": OBJECT}, "columns": columns,
        }]}],
    }})
}

/// The Knack record id of demo record `i` (24 hex digits, like Knack's).
pub fn record_id(i: usize) -> String {
    format!("64a0{i:020x}")
}

/// Knack's two forms of a date_time value (display text, raw object), as the testkit's
/// [`RecordBuilder::date_time`] writes them: local wall time labelled UTC, as Knack does.
fn date_time(local: NaiveDateTime, with_time: bool) -> (Value, Value) {
    let record = RecordBuilder::new("")
        .date_time("f", local, with_time)
        .to_json();
    (record["f"].clone(), record["f_raw"].clone())
}

fn set(record: &mut Map<String, Value>, key: &str, display: Value, raw: Value) {
    record.insert(key.to_string(), display);
    record.insert(format!("{key}_raw"), raw);
}

/// Sets a record's "Modified Date" to `local` (the app's wall time), as
/// Knack does when someone edits the record.
pub fn set_modified(record: &mut Map<String, Value>, local: NaiveDateTime) {
    let (display, raw) = date_time(local, true);
    set(record, MODIFIED_FIELD, display, raw);
}

/// Whether demo record `i` has no address (a few do, to show that a record
/// without coordinates is published without geometry).
pub fn has_no_location(i: usize) -> bool {
    i % 40 == 39
}

/// Demo record `i` (0-based), last modified at `modified` (local wall time).
pub fn record(i: usize, modified: NaiveDateTime) -> Value {
    let mut r = Map::new();
    r.insert("id".into(), json!(record_id(i)));
    let (a, b) = (STREETS[i % 8], STREETS[(i / 8 + 3) % 8]);
    let name = format!("{a} / {b}");
    set(&mut r, "field_1", json!(name), json!(name));
    let notes = format!("Signal {} installed by crew {}", i + 1, i % 5);
    set(&mut r, "field_2", json!(notes), json!(notes));
    let lanes = 1 + (i / 3) % 6;
    set(&mut r, "field_3", json!(lanes.to_string()), json!(lanes));
    let active = !i.is_multiple_of(7);
    set(
        &mut r,
        "field_5",
        json!(if active { "Yes" } else { "No" }),
        json!(active),
    );
    let kind = SIGNAL_TYPES[i % 3];
    set(&mut r, "field_6", json!(kind), json!(kind));
    let detection: Vec<&str> = DETECTION
        .iter()
        .copied()
        .skip(i % 4)
        .take(1 + i % 3)
        .collect();
    set(
        &mut r,
        "field_7",
        json!(detection.join(", ")),
        json!(detection),
    );
    if has_no_location(i) {
        set(&mut r, LOCATION_FIELD, json!(""), json!(""));
    } else {
        let street = format!("{} {a}", 100 + i * 3);
        let (lat, lon) = (
            30.2 + (i % 97) as f64 * 0.002,
            -97.8 + (i % 89) as f64 * 0.002,
        );
        let display = format!("{street}<br />Austin, TX 78701");
        let raw = json!({"street": street, "city": "Austin", "state": "TX", "zip": "78701",
                         "latitude": lat, "longitude": lon});
        set(&mut r, LOCATION_FIELD, json!(display), raw);
    }
    let email = format!("crew{}@example.org", i % 5);
    let link = format!("<a href=\"mailto:{email}\">{email}</a>");
    set(&mut r, "field_11", json!(link), json!({"email": email}));
    let installed = modified.date() - Duration::days(200 + (i as i64 * 37) % 3000);
    let (display, raw) = date_time(installed.and_hms_opt(0, 0, 0).unwrap_or_default(), false);
    set(&mut r, "field_14", display, raw);
    set(&mut r, "field_18", json!(i + 1), json!(i + 1));
    set_modified(&mut r, modified);
    Value::Object(r)
}

/// `n` demo records, each last modified between 3 and 60 days before
/// `now_local`, so that none of them falls on "today".
pub fn records(n: usize, now_local: NaiveDateTime) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let age = Duration::days(3 + (i as i64 % 58)) + Duration::minutes(i as i64 * 7 % 600);
            record(i, now_local - age)
        })
        .collect()
}

/// The Socrata dataset the demo publishes to: one column per published
/// field, named as the pipeline normalises labels ("Lane Count" →
/// `lane_count`), with `id` (the Knack record id) as row identifier and a
/// point column for the location. "Contact Email" is deliberately left out:
/// a field with no column is dropped (and the run says so).
pub fn socrata_dataset() -> FakeDataset {
    FakeDataset::new(DATASET_ID)
        .column("id", "text")
        .column("location_name", "text")
        .column("notes", "text")
        .column("lane_count", "number")
        .column("is_active", "checkbox")
        .column("signal_type", "text")
        .column("detection_types", "text")
        .column("location", "point")
        .column("install_date", "calendar_date")
        .column("signal_number", "number")
        .column("modified_date", "calendar_date")
        .row_identifier("id")
}
