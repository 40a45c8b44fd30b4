//! The typed metadata model, its lookups, and where the formatter deliberately
//! differs from knackpy 1.0.21 (each difference asserted explicitly).

use knack_client::{Container, Error, FieldType, Formatter, Metadata, Record};
use serde_json::{json, Value};

fn fixture(path: &str) -> Value {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(full).unwrap()).unwrap()
}

/// A small app whose metadata is odd in the ways Knack's can be.
fn odd_app(timezone: &str) -> Metadata {
    Metadata::from_json(json!({"application": {
        "id": "app1", "name": "Odd", "slug": "odd", "brand_new_key": {"x": 1},
        "account": {"slug": "acct", "id": 7},
        "settings": {"timezone": timezone, "timezone_offset": -21600},
        "objects": [
            {"key": "object_1", "name": "Things", "identifier": null, "fields": [
                {"key": "field_1", "name": "Label", "type": "short_text", "required": "true",
                 "format": {"precision": "2"}},
                {"key": "field_2", "name": "Choices", "type": "multiple_choice", "format": []},
                {"key": "field_3", "name": "Label", "type": "number", "unique": 1},
                {"key": "field_4", "name": "Who", "type": "connection",
                 "relationship": {"object": "object_2", "has": "many", "belongs_to": "one"}},
                {"key": "field_5", "name": "Hologram", "type": "hologram", "relationship": "odd"},
                "not a field"
            ]},
            {"key": "object_2", "name": "Others", "fields": null}
        ],
        "scenes": [
            {"key": "scene_1", "name": "Page", "views": [
                {"key": "view_1", "type": "table", "source": {"object": "object_1"},
                 "columns": [
                    {"header": "Renamed", "type": "field", "field": {"key": "field_3"}},
                    {"header": "Open", "type": "link", "link_type": "scene"},
                    {"type": "field", "field": {"key": "field_1"}},
                    {"type": "field", "field": "garbage"}
                 ]},
                {"key": "view_2", "type": "details", "source": {"object": "object_1"}},
                {"key": "view_3", "type": "rich_text", "source": null, "columns": {"odd": true}}
            ]},
            {"key": "scene_2"}
        ]
    }}))
    .unwrap()
}

#[test]
fn typed_metadata_from_the_real_fixture() {
    let md = Metadata::from_json(fixture("knackpy-tests/metadata.json")).unwrap();
    let app = md.application();
    assert_eq!(app.id, "5d79512148c4af00106d1507");
    assert!(!app.name.is_empty() && !app.slug.is_empty() && !app.account.slug.is_empty());
    assert_eq!(app.settings.timezone, "Central Time (US & Canada)");
    assert_eq!(app.settings.timezone_offset, "-21600");
    assert_eq!(md.timezone().unwrap(), chrono_tz::America::Chicago);
    let object = md.object("object_3").unwrap();
    assert_eq!(object.name, "all_fields_test");
    assert_eq!(object.fields.len(), 32);
    assert!(object
        .fields
        .iter()
        .all(|f| !matches!(f.field_type, FieldType::Unknown(_))));
    let connection = md.field("field_128").unwrap();
    assert_eq!(connection.field_type, FieldType::Connection);
    assert_eq!(connection.object, "object_3");
    assert_eq!(connection.relationship.as_ref().unwrap().object, "object_7");
    assert_eq!(md.field("field_125").unwrap().label(), "_id");
    assert_eq!(
        md.field("field_36").unwrap().field_type,
        FieldType::UserRoles
    );
    let view = md.view("scene_6", "view_18").unwrap();
    assert!(view.is_table());
    assert_eq!(view.source_object(), Some("object_3"));
    assert_eq!(view.column_field_keys().count(), 32);
    assert!(
        md.view("scene_1", "view_18").is_none(),
        "a view is looked up in its own scene"
    );
    assert_eq!(md.scene("scene_2").unwrap().views.len(), 2);
    assert_eq!(md.raw()["application"]["id"], "5d79512148c4af00106d1507");
}

#[test]
fn a_views_fields_are_its_columns_in_metadata_order_with_object_labels() {
    let md = odd_app("Central Time (US & Canada)");
    let keys: Vec<_> = md
        .fields_of(&Container::view("scene_1", "view_1").unwrap())
        .unwrap()
        .iter()
        .map(|f| f.key.as_str())
        .collect();
    // column order is field_3, field_1; knackpy keeps metadata order
    assert_eq!(keys, ["field_1", "field_3"]);
    let all = md
        .fields_of(&Container::object("object_1").unwrap())
        .unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(
        md.fields_of(&Container::object("object_2").unwrap())
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn odd_metadata_is_read_leniently() {
    let md = odd_app("Central Time (US & Canada)");
    assert_eq!(md.application().account.id, "7");
    assert_eq!(md.application().settings.timezone_offset, "-21600");
    let f1 = md.field("field_1").unwrap();
    assert!(f1.required);
    assert_eq!(f1.format["precision"], "2");
    assert!(md.field("field_3").unwrap().unique);
    let f5 = md.field("field_5").unwrap();
    assert_eq!(f5.field_type, FieldType::Unknown("hologram".into()));
    assert!(f5.relationship.is_none());
    assert_eq!(
        md.field("field_4")
            .unwrap()
            .relationship
            .as_ref()
            .unwrap()
            .has,
        "many"
    );
    assert!(md.view("scene_1", "view_3").unwrap().columns.is_empty());
    assert!(md
        .view("scene_1", "view_3")
        .unwrap()
        .source_object()
        .is_none());
    assert!(md.scene("scene_2").unwrap().views.is_empty());
    assert!(Metadata::from_json(json!({"objects": []})).is_err());
    assert!(format!("{md:?}").contains("app1"));
}

#[test]
fn an_unknown_container_names_itself_and_the_app() {
    let md = odd_app("Central Time (US & Canada)");
    for container in [
        Container::object("object_9").unwrap(),
        Container::view("scene_2", "view_1").unwrap(),
    ] {
        let err = md.fields_of(&container).unwrap_err().to_string();
        assert!(
            err.contains(container.id()) && err.contains("app1") && err.contains("Odd"),
            "{err}"
        );
        assert!(Formatter::new(&md, &container).is_err());
    }
}

#[test]
fn an_unknown_timezone_fails_the_formatter_with_the_name() {
    let md = odd_app("Mars Standard Time");
    let err = Formatter::new(&md, &Container::object("object_1").unwrap()).unwrap_err();
    assert!(
        matches!(err, Error::UnknownTimezone(ref name) if name == "Mars Standard Time"),
        "{err}"
    );
    // knackpy also accepts IANA names; so do we
    let md = odd_app("America/Denver");
    assert_eq!(md.timezone().unwrap(), chrono_tz::America::Denver);
}

// ---- deliberate differences from knackpy 1.0.21 ----

#[test]
fn difference_timezone_names_knackpy_misspelled_resolve() {
    // knackpy maps these to "America/Sao_Paul" and "Europe/Istanbu" and fails
    assert_eq!(
        odd_app("Brasilia").timezone().unwrap(),
        chrono_tz::America::Sao_Paulo
    );
    let athens = odd_app("Athens,Bucharest, Istanbul").timezone().unwrap();
    assert_eq!(athens, chrono_tz::Europe::Istanbul);
    // Rails names knackpy's table lacks
    assert_eq!(
        odd_app("London").timezone().unwrap(),
        chrono_tz::Europe::London
    );
}

#[test]
fn difference_a_non_table_view_is_an_error_not_empty_records() {
    // knackpy knows no fields for a details view and formats each record to {}
    let md = odd_app("Central Time (US & Canada)");
    let err = Formatter::new(&md, &Container::view("scene_1", "view_2").unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("view_2") && err.contains("details") && err.contains("object_1"),
        "{err}"
    );
}

#[test]
fn difference_a_missing_field_is_a_clear_error() {
    // knackpy raises a bare KeyError
    let md = odd_app("Central Time (US & Canada)");
    let formatter = Formatter::new(&md, &Container::view("scene_1", "view_1").unwrap()).unwrap();
    let record: Record =
        serde_json::from_value(json!({"id": "r1", "field_1": "a", "field_1_raw": "a"})).unwrap();
    let err = formatter.format(&record).unwrap_err();
    assert!(matches!(err, Error::MissingField { ref field, .. } if field == "field_3"));
    let msg = err.to_string();
    assert!(
        msg.contains("r1") && msg.contains("field_3") && msg.contains("re-fetch"),
        "{msg}"
    );
}

#[test]
fn difference_nulls_inside_a_multiple_choice_list_are_dropped() {
    // knackpy: ["a", None] -> "a, None"; only exactly [None] became None
    let md = odd_app("Central Time (US & Canada)");
    let formatter = Formatter::new(&md, &Container::object("object_1").unwrap()).unwrap();
    let record: Record = serde_json::from_value(json!({
        "id": "r1", "field_1": "a", "field_1_raw": "a", "field_2": "x", "field_2_raw": ["x", null],
        "field_3": 1, "field_3_raw": 1, "field_4": "", "field_4_raw": [], "field_5": "h", "field_5_raw": "h"
    }))
    .unwrap();
    let out = formatter.format(&record).unwrap();
    assert_eq!(out["Choices"], "x");
    assert_eq!(out["Who"], Value::Null);
}

#[test]
fn duplicate_labels_keep_the_later_field_in_the_earlier_place_as_knackpy() {
    let md = odd_app("Central Time (US & Canada)");
    let formatter = Formatter::new(&md, &Container::object("object_1").unwrap()).unwrap();
    let labels: Vec<_> = formatter
        .fields()
        .iter()
        .map(|f| (f.label.as_str(), f.key.as_str()))
        .collect();
    assert_eq!(
        labels,
        [
            ("id", "id"),
            ("Label", "field_3"),
            ("Choices", "field_2"),
            ("Who", "field_4"),
            ("Hologram", "field_5")
        ]
    );
}
