use serde_json::json;

use super::*;

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().expect("test value is an object").clone()
}

fn fields() -> Vec<FieldSpec> {
    vec![
        FieldSpec::new("field_1", "Name", "short_text"),
        FieldSpec::new("field_2", "Notes", "paragraph_text"),
        FieldSpec::new("field_3", "Rich", "rich_text"),
        FieldSpec::new("field_9", "Location", "address"),
        FieldSpec::new("field_19", "id", "short_text"),
    ]
}

fn with_location() -> AgolTransform {
    AgolTransform::new(&fields(), AgolOptions::default().location_field("field_9")).unwrap()
}

fn geometry_of(raw_value: Value) -> Option<Geometry> {
    let raw = obj(json!({"field_9": "text", "field_9_raw": raw_value}));
    with_location()
        .feature(obj(json!({"id": "r"})), &raw)
        .geometry
}

#[test]
fn angle_brackets_are_stripped_only_when_both_are_present_in_text_values() {
    let t = AgolTransform::new(&fields(), AgolOptions::default()).unwrap();
    let f = t.feature(
        obj(json!({"id": "r1", "Name": "A <b>&</b> B", "Notes": "a < b", "Rich": "<p>x</p>"})),
        &Map::new(),
    );
    assert_eq!(f.attributes["name"], "A b&/b B");
    assert_eq!(f.attributes["notes"], "a < b");
    assert_eq!(
        f.attributes["rich"], "x",
        "rich text is published as its text (ArcGIS refused the original's HTML)"
    );
    let f = t.feature(obj(json!({"Notes": "a > b < c"})), &Map::new());
    assert_eq!(f.attributes["notes"], "a  b  c");
}

#[test]
fn a_field_labelled_id_is_sanitized_under_underscore_id() {
    let t = AgolTransform::new(&fields(), AgolOptions::default()).unwrap();
    let f = t.feature(obj(json!({"id": "rec<1>", "_id": "<SIG-1>"})), &Map::new());
    assert_eq!(
        f.attributes["id"], "rec<1>",
        "the record id is never touched"
    );
    assert_eq!(f.attributes["_id"], "SIG-1");
}

#[test]
fn attributes_keep_formatted_values_under_normalised_keys() {
    let t = AgolTransform::new(&fields(), AgolOptions::default()).unwrap();
    let f = t.feature(
        obj(json!({"id": "r1", "Is Active": true, "Install Date": "2024-03-10T03:30:00-05:00", "Work Order - Zone": 1})),
        &Map::new(),
    );
    assert_eq!(
        Value::Object(f.attributes),
        json!({"id": "r1", "is_active": true, "install_date": "2024-03-10T03:30:00-05:00", "work_order___zone": 1})
    );
    assert_eq!(f.geometry, None);
}

#[test]
fn point_geometry_from_the_raw_address_with_numbers_kept() {
    let point = geometry_of(json!({"latitude": 30.326333, "longitude": -97.627703}));
    assert_eq!(point, Some(Geometry::point(-97.627703, 30.326333)));
    assert_eq!(
        serde_json::to_value(point).unwrap(),
        json!({"spatialReference": {"wkid": WKID_WGS84}, "x": -97.627703, "y": 30.326333})
    );
    // Knack sometimes stores coordinates as strings; AGOL gets numbers.
    assert_eq!(
        geometry_of(json!({"latitude": "30.29436", "longitude": "-97.894399"})),
        Some(Geometry::point(-97.894399, 30.29436))
    );
}

#[test]
fn missing_location_gives_no_geometry_and_missing_coordinates_a_null_one() {
    assert_eq!(geometry_of(json!("")), None);
    assert_eq!(geometry_of(json!(null)), None);
    assert_eq!(geometry_of(json!({})), None);
    for unusable in [
        json!({"latitude": "", "longitude": ""}),
        json!({"latitude": 0, "longitude": 0}),
        json!({"latitude": 30.1, "longitude": ""}),
        json!({"latitude": "n/a", "longitude": -97.0}),
    ] {
        assert_eq!(
            geometry_of(unusable.clone()),
            Some(Geometry::Null),
            "{unusable}"
        );
    }
    let no_location = AgolTransform::new(&fields(), AgolOptions::default()).unwrap();
    let raw = obj(json!({"field_9_raw": {"latitude": 1, "longitude": 2}}));
    assert_eq!(no_location.feature(Map::new(), &raw).geometry, None);
}

#[test]
fn a_list_of_addresses_gives_a_multipoint_of_the_usable_ones() {
    let addresses = json!([
        {"latitude": 30.1, "longitude": -97.1},
        {"latitude": "", "longitude": ""},
        {"latitude": "30.2", "longitude": "-97.2"},
        {"latitude": 0, "longitude": -97.3}
    ]);
    let multipoint = geometry_of(addresses);
    assert_eq!(
        serde_json::to_value(multipoint).unwrap(),
        json!({"points": [[-97.1, 30.1], [-97.2, 30.2]], "spatialReference": {"wkid": 4326}})
    );
    assert_eq!(
        geometry_of(json!([{"latitude": "", "longitude": ""}])),
        Some(Geometry::Null)
    );
}

#[test]
fn features_serialize_as_agol_json() {
    let raw = |address: Value| obj(json!({"field_9_raw": address}));
    let t = with_location();
    let no_address = t.feature(obj(json!({"id": "r"})), &raw(json!("")));
    assert_eq!(
        serde_json::to_string(&no_address).unwrap(),
        r#"{"attributes":{"id":"r"}}"#
    );
    let no_coordinates = t.feature(obj(json!({"id": "r"})), &raw(json!({"latitude": ""})));
    assert_eq!(
        serde_json::to_string(&no_coordinates).unwrap(),
        r#"{"attributes":{"id":"r"},"geometry":null}"#
    );
}

#[test]
fn unknown_location_field_is_a_config_error() {
    assert_eq!(
        AgolTransform::new(&fields(), AgolOptions::default().location_field("field_42"))
            .unwrap_err(),
        TransformError::UnknownLocationField {
            field_key: "field_42".into()
        }
    );
}

#[test]
fn html_looking_text_is_made_safe_whatever_the_field_type() {
    let fields = vec![
        FieldSpec::new("field_1", "Name", "short_text"),
        FieldSpec::new("field_3", "Description", "rich_text"),
        FieldSpec::new("field_4", "Owner", "connection"),
        FieldSpec::new("field_5", "Label", "concatenation"),
        FieldSpec::new("field_6", "Count", "number"),
    ];
    let t = AgolTransform::new(&fields, AgolOptions::default()).unwrap();
    let f = t.feature(
        obj(json!({
            "id": "r1",
            "Name": "<b>5TH</b> ST",
            "Description": "<p>Needs <strong>repair</strong></p>",
            "Owner": ["<b>Crew 1</b>", "Crew 2"],
            "Label": "Signal <b>42</b>",
            "Count": 3
        })),
        &Map::new(),
    );
    assert_eq!(
        f.attributes["name"], "b5TH/b ST",
        "short text: the original's rule, unchanged"
    );
    assert_eq!(f.attributes["description"], "Needs repair");
    assert_eq!(f.attributes["owner"], json!(["bCrew 1/b", "Crew 2"]));
    assert_eq!(f.attributes["label"], "Signal b42/b");
    assert_eq!(f.attributes["count"], 3);
}
