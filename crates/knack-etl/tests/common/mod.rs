//! Loads the golden fixtures (copied from shared/fixtures/generated, produced by the original).

#![allow(dead_code)]

use knack_etl::transform::FieldSpec;

pub use knack_etl::testkit::fixture;
use serde_json::{Map, Value};

pub const CONTAINER: &str = "view_1";
pub const LOCATION_FIELD: &str = "field_9";

/// The container's fields as knackpy picks them: the object fields shown in the table view.
pub fn view_fields(metadata: &Value, view: &str) -> Vec<FieldSpec> {
    let app = &metadata["application"];
    let column_keys: Vec<&str> = app["scenes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["views"].as_array().unwrap())
        .filter(|v| v["key"] == view)
        .flat_map(|v| v["columns"].as_array().unwrap())
        .filter_map(|c| c["field"]["key"].as_str())
        .collect();
    app["objects"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| o["fields"].as_array().unwrap())
        .filter(|f| column_keys.contains(&f["key"].as_str().unwrap()))
        .map(|f| {
            FieldSpec::new(
                f["key"].as_str().unwrap(),
                f["name"].as_str().unwrap(),
                f["type"].as_str().unwrap(),
            )
        })
        .collect()
}

/// `(record id, formatted record, raw record)`.
pub type FixtureRecord = (String, Map<String, Value>, Map<String, Value>);

/// Every record of the view, in fixture order.
pub fn records() -> Vec<FixtureRecord> {
    let formatted = fixture("formatted_view_1.json");
    let raw = fixture("records_view_1.json");
    let raw = raw.as_array().unwrap();
    formatted
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let id = f["id"].as_str().unwrap().to_owned();
            let raw = raw
                .iter()
                .find(|r| r["id"] == id.as_str())
                .unwrap_or_else(|| panic!("no raw record {id}"));
            (
                id,
                f["formatted"].as_object().unwrap().clone(),
                raw.as_object().unwrap().clone(),
            )
        })
        .collect()
}

/// Every difference between two objects, key by key, in order; empty when equal.
pub fn diff(id: &str, expected: &Map<String, Value>, actual: &Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for (key, want) in expected {
        match actual.get(key) {
            Some(got) if got == want => {}
            got => out.push(format!(
                "{id} `{key}`: expected {want}, actual {}",
                show(got)
            )),
        }
    }
    for key in actual.keys().filter(|k| !expected.contains_key(*k)) {
        out.push(format!(
            "{id} `{key}`: not expected, actual {}",
            actual[key]
        ));
    }
    let (want, got): (Vec<_>, Vec<_>) = (expected.keys().collect(), actual.keys().collect());
    if out.is_empty() && want != got {
        out.push(format!(
            "{id}: key order differs: expected {want:?}, actual {got:?}"
        ));
    }
    out
}

fn show(v: Option<&Value>) -> String {
    v.map_or_else(|| "(missing)".to_owned(), Value::to_string)
}
