//! Golden checks of the value helpers against the original's published rows.

use serde_json::Value;
use socrata_client::values::{floating_timestamp_from_iso, parse_checkbox};
use socrata_client::{DataType, DatasetMetadata, Point};

fn load(name: &str) -> Value {
    let p = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn normalise(label: &str) -> String {
    label.to_lowercase().replace([' ', '-'], "_")
}

#[test]
fn floating_timestamps_match_the_original() {
    let meta = DatasetMetadata::from_json(
        &std::fs::read(format!(
            "{}/tests/fixtures/socrata_dataset.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let formatted = load("formatted_view_1.json");
    let expected = load("expected_socrata_rows.json");
    let mut checked = 0;
    for (rec, want) in formatted
        .as_array()
        .unwrap()
        .iter()
        .zip(expected.as_array().unwrap())
    {
        for (label, value) in rec["formatted"].as_object().unwrap() {
            let field = normalise(label);
            let Some(col) = meta.column(&field) else {
                continue;
            };
            match col.data_type {
                DataType::FloatingTimestamp => {
                    let got = match value.as_str().filter(|s| !s.is_empty()) {
                        Some(s) => Value::String(floating_timestamp_from_iso(s).unwrap()),
                        None => Value::Null,
                    };
                    assert_eq!(got, want[&field], "{field} of {}", rec["id"]);
                    checked += 1;
                }
                DataType::Checkbox if !value.is_null() => {
                    assert_eq!(
                        parse_checkbox(value).map(Value::Bool).unwrap(),
                        want[&field]
                    );
                }
                _ => {}
            }
        }
    }
    assert!(checked >= 100, "only {checked} timestamps checked");
}

#[test]
fn points_match_the_original_geojson() {
    let expected = load("expected_socrata_rows.json");
    let mut n = 0;
    for row in expected.as_array().unwrap() {
        let loc = &row["location"];
        if loc.is_null() {
            continue;
        }
        let c = loc["coordinates"].as_array().unwrap();
        let p = Point::new(c[1].as_f64().unwrap(), c[0].as_f64().unwrap()).unwrap();
        assert_eq!(&p.to_value(), loc);
        n += 1;
    }
    assert!(n > 10);
}
