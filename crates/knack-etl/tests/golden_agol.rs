//! Every fixture record becomes the AGOL feature the original sent, with one deliberate
//! difference: coordinates Knack stored as strings are sent as numbers (see README).

mod common;

use common::{diff, fixture, records, view_fields, CONTAINER, LOCATION_FIELD};
use knack_etl::agol::{AgolOptions, AgolTransform};
use knack_etl::agol_client::Geometry;
use serde_json::{json, Value};

/// The original passed string coordinates through; we send the numbers they hold.
fn with_numeric_coordinates(mut geometry: Value) -> Value {
    for axis in ["x", "y"] {
        if let Some(Value::String(s)) = geometry.get(axis) {
            let number: f64 = s.parse().expect("fixture coordinate is numeric");
            geometry[axis] = json!(number);
        }
    }
    geometry
}

#[test]
fn every_record_matches_the_originals_agol_feature() {
    let fields = view_fields(&fixture("metadata.json"), CONTAINER);
    let transform = AgolTransform::new(
        &fields,
        AgolOptions::default().location_field(LOCATION_FIELD),
    )
    .unwrap();

    let expected = fixture("expected_agol_features.json");
    let expected = expected.as_array().unwrap().clone();
    let records = records();
    assert_eq!(records.len(), expected.len());
    assert_eq!(records.len(), 60);

    let mut mismatches = Vec::new();
    let mut string_coordinates = 0;
    for ((id, formatted, raw), want) in records.into_iter().zip(expected) {
        let feature = transform.feature(formatted, &raw);
        mismatches.extend(diff(
            &id,
            want["attributes"].as_object().unwrap(),
            &feature.attributes,
        ));
        // No key, `null` and a shape stay three different things: a `null` reads back as
        // `Geometry::Null` here, since it is the geometry value that is parsed.
        let sent_geometry = want.get("geometry").cloned();
        let want_geometry = sent_geometry.clone().map(with_numeric_coordinates);
        if want_geometry != sent_geometry {
            string_coordinates += 1;
        }
        let want_geometry: Option<Geometry> =
            want_geometry.map(|g| serde_json::from_value(g).unwrap());
        if feature.geometry != want_geometry {
            mismatches.push(format!(
                "{id} geometry: expected {want_geometry:?}, actual {:?}",
                feature.geometry
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert_eq!(
        string_coordinates, 4,
        "the fixture's string-coordinate records were compared"
    );
}

#[test]
fn records_without_an_address_have_no_geometry_key() {
    let fields = view_fields(&fixture("metadata.json"), CONTAINER);
    let transform = AgolTransform::new(
        &fields,
        AgolOptions::default().location_field(LOCATION_FIELD),
    )
    .unwrap();
    let expected = fixture("expected_agol_features.json");
    let without: Vec<&str> = expected
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f.get("geometry").is_none())
        .map(|f| f["attributes"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(without.len(), 4);
    for (id, formatted, raw) in records() {
        let text = serde_json::to_value(transform.feature(formatted, &raw)).unwrap();
        assert_eq!(
            text.get("geometry").is_none(),
            without.contains(&id.as_str()),
            "{id}"
        );
    }
}
