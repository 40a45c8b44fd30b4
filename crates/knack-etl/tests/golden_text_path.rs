//! The publishers' text path (a record formatted straight from its staged JSON text, its row
//! written as JSON text) gives exactly what the map path gives, byte for byte, and the
//! original's rows.

mod common;

use common::{diff, fixture, LOCATION_FIELD};
use knack_etl::agol::{AgolFeatureBuilder, AgolOptions, AgolTransform};
use knack_etl::knack_client::{Container, Formatter, Metadata, Record};
use knack_etl::socrata::{SocrataColumns, SocrataOptions, SocrataRowWriter, SocrataTransform};
use knack_etl::transform::FieldSpec;
use serde_json::{Map, Value};

fn formatter() -> Formatter {
    let metadata = Metadata::from_json(fixture("metadata.json")).unwrap();
    let view = Container::view("scene_1", "view_1").unwrap();
    Formatter::new(&metadata, &view).unwrap()
}

fn field_specs(formatter: &Formatter) -> Vec<FieldSpec> {
    formatter
        .fields()
        .iter()
        .filter(|f| f.key != "id")
        .map(|f| FieldSpec::new(&f.key, &f.label, f.field_type.as_str()))
        .collect()
}

fn socrata_transform(fields: &[FieldSpec], options: SocrataOptions) -> SocrataTransform {
    let columns = SocrataColumns::from_metadata(&fixture("socrata_dataset.json")).unwrap();
    SocrataTransform::new_at(
        columns,
        fields,
        options.location_field(LOCATION_FIELD),
        "2024-03-10T08:30:00Z".parse().unwrap(),
    )
    .unwrap()
}

/// The fixture records as staged text, each also parsed.
fn staged() -> Vec<(String, Record)> {
    let records = fixture("records_view_1.json");
    records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r.to_string(), Record::new(r.as_object().unwrap().clone())))
        .collect()
}

fn check_socrata(options: SocrataOptions) {
    let formatter = formatter();
    let fields = field_specs(&formatter);
    let transform = socrata_transform(&fields, options);
    let labels: Vec<&str> = formatter
        .fields()
        .iter()
        .map(|f| f.label.as_str())
        .collect();
    let writer = SocrataRowWriter::new(transform.clone(), &labels, "id");
    let selector = formatter.selector(&[LOCATION_FIELD]);
    let expected = fixture("expected_socrata_rows.json");
    let mut mismatches = Vec::new();
    for (text, record) in staged() {
        let want = transform
            .row(formatter.format(&record).unwrap(), record.raw())
            .unwrap();
        let row = writer.row(&selector.format(&text).unwrap()).unwrap();
        // Byte for byte: the same keys in the same order, the same value spellings.
        assert_eq!(
            row.text().get(),
            serde_json::to_string(&want).unwrap(),
            "{}",
            record.id()
        );
        assert_eq!(row.id(), Some(record.id()));
        let original = expected
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == record.id())
            .and_then(Value::as_object)
            .unwrap();
        let parsed: Map<String, Value> = serde_json::from_str(row.text().get()).unwrap();
        if transform.run_timestamp().is_none() {
            mismatches.extend(diff(record.id(), original, &parsed));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn socrata_rows_written_as_text_are_the_map_paths_byte_for_byte() {
    check_socrata(SocrataOptions::default());
}

#[test]
fn socrata_text_rows_place_an_appended_timestamp_as_the_map_path_does() {
    // A calendar_date column every row already has: replaced in place, after its own
    // floating-timestamp step.
    check_socrata(SocrataOptions::default().append_timestamp("modified_date"));
}

#[test]
fn formatting_from_text_equals_formatting_the_parsed_record() {
    let formatter = formatter();
    let selector = formatter.selector(&[LOCATION_FIELD]);
    for (text, record) in staged() {
        let from_text = selector.format(&text).unwrap();
        let formatted = formatter.format(&record).unwrap();
        let values: Vec<Value> = formatted.values().cloned().collect();
        assert_eq!(from_text.values, values, "{}", record.id());
        let location = record
            .raw()
            .get(&format!("{LOCATION_FIELD}_raw"))
            .or_else(|| record.raw().get(LOCATION_FIELD));
        assert_eq!(from_text.extras, vec![location.cloned()]);
    }
}

#[test]
fn agol_features_built_from_values_are_the_map_paths() {
    let formatter = formatter();
    let fields = field_specs(&formatter);
    let labels: Vec<&str> = formatter
        .fields()
        .iter()
        .map(|f| f.label.as_str())
        .collect();
    for location in [Some(LOCATION_FIELD), None] {
        let mut options = AgolOptions::default();
        if let Some(field) = location {
            options = options.location_field(field);
        }
        let transform = AgolTransform::new(&fields, options).unwrap();
        let builder = AgolFeatureBuilder::new(transform.clone(), &labels);
        let selector = formatter.selector(&location.into_iter().collect::<Vec<_>>());
        for (text, record) in staged() {
            let want = transform.feature(formatter.format(&record).unwrap(), record.raw());
            let got = builder.feature(selector.format(&text).unwrap());
            // Same attributes in the same order, same geometry (or none).
            assert_eq!(
                serde_json::to_string(&got).unwrap(),
                serde_json::to_string(&want).unwrap(),
                "{}",
                record.id()
            );
            assert_eq!(got, want);
        }
    }
}
