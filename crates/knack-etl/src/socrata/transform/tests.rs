use chrono::TimeZone;
use serde_json::json;

use super::*;

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().expect("test value is an object").clone()
}

fn columns(pairs: &[(&str, &str)]) -> SocrataColumns {
    pairs.iter().copied().collect()
}

fn fields() -> Vec<FieldSpec> {
    vec![
        FieldSpec::new("field_1", "Name", "short_text"),
        FieldSpec::new("field_5", "Is Active", "boolean"),
        FieldSpec::new("field_6", "Flag", "boolean"),
        FieldSpec::new("field_7", "Tags", "multiple_choice"),
        FieldSpec::new("field_9", "Location", "address"),
        FieldSpec::new("field_14", "Install Date", "date_time"),
        FieldSpec::new("field_15", "Note Date", "date_time"),
    ]
}

fn transform(cols: &[(&str, &str)], options: SocrataOptions) -> SocrataTransform {
    SocrataTransform::new(columns(cols), &fields(), options).expect("valid transform")
}

fn row(t: &SocrataTransform, formatted: Value) -> Map<String, Value> {
    t.row(obj(formatted), &Map::new()).expect("row")
}

#[test]
fn booleans_become_python_strings_except_in_checkbox_columns() {
    let t = transform(
        &[("is_active", "checkbox"), ("flag", "text")],
        SocrataOptions::default(),
    );
    let r = row(&t, json!({"Is Active": true, "Flag": false}));
    assert_eq!(
        Value::Object(r),
        json!({"is_active": true, "flag": "False"})
    );
    let r = row(&t, json!({"Is Active": false, "Flag": true}));
    assert_eq!(
        Value::Object(r),
        json!({"is_active": false, "flag": "True"})
    );
}

#[test]
fn lists_are_joined_with_comma_space_using_python_str() {
    let t = transform(&[("tags", "text")], SocrataOptions::default());
    let r = row(&t, json!({"Tags": ["Loop", 2, true, null, {"id": "a"}]}));
    assert_eq!(r["tags"], "Loop, 2, True, None, {'id': 'a'}");
}

#[test]
fn unknown_fields_are_dropped_and_reported() {
    let t = transform(
        &[("id", "text"), ("name", "text")],
        SocrataOptions::default(),
    );
    assert_eq!(
        t.dropped_fields(),
        [
            "is_active",
            "flag",
            "tags",
            "location",
            "install_date",
            "note_date"
        ]
    );
    let r = row(
        &t,
        json!({"id": "r1", "Name": "x", "Is Active": true, "Surprise": 1}),
    );
    assert_eq!(Value::Object(r), json!({"id": "r1", "name": "x"}));
}

#[test]
fn each_record_is_checked_on_its_own_keys() {
    // The original took the unknown names from record 0 only.
    let t = transform(&[("name", "text")], SocrataOptions::default());
    assert_eq!(
        Value::Object(row(&t, json!({"Name": "a"}))),
        json!({"name": "a"})
    );
    assert_eq!(
        Value::Object(row(&t, json!({"Name": "b", "Other": 1}))),
        json!({"name": "b"})
    );
}

#[test]
fn id_label_becomes_underscore_id_and_record_id_stays() {
    let f = [FieldSpec::new("field_19", "ID", "short_text")];
    let t = SocrataTransform::new(
        columns(&[("id", "text"), ("_id", "text")]),
        &f,
        SocrataOptions::default(),
    )
    .unwrap();
    let r = t
        .row(obj(json!({"id": "rec", "ID": "SIG-1"})), &Map::new())
        .unwrap();
    assert_eq!(Value::Object(r), json!({"id": "rec", "_id": "SIG-1"}));
}

#[test]
fn floating_timestamps_keep_local_wall_clock_without_offset() {
    let t = transform(
        &[("install_date", "calendar_date"), ("note_date", "text")],
        SocrataOptions::default(),
    );
    let cases = [
        ("2014-03-08T00:00:00-06:00", "2014-03-08T00:00:00"),
        // DST: the hour after spring-forward and the repeated hour of fall-back.
        ("2024-03-10T03:30:00-05:00", "2024-03-10T03:30:00"),
        ("2024-03-10T01:59:00-06:00", "2024-03-10T01:59:00"),
        ("2023-11-05T01:30:00-05:00", "2023-11-05T01:30:00"),
        ("2023-11-05T01:30:00-06:00", "2023-11-05T01:30:00"),
        ("2019-09-11T16:14:00.123000-05:00", "2019-09-11T16:14:00"),
        ("2019-09-11T21:14:00Z", "2019-09-11T21:14:00"),
        ("2019-09-11T16:14:00-0500", "2019-09-11T16:14:00"),
        ("2019-09-11T16:14:00", "2019-09-11T16:14:00"),
        ("2019-09-11 16:14", "2019-09-11T16:14:00"),
        ("2019-09-11", "2019-09-11T00:00:00"),
    ];
    for (input, expected) in cases {
        let r = row(&t, json!({"Install Date": input, "Note Date": input}));
        assert_eq!(r["install_date"], expected, "input {input}");
        assert_eq!(r["note_date"], input, "text column untouched for {input}");
    }
    let r = row(&t, json!({"Install Date": null}));
    assert_eq!(r["install_date"], Value::Null);
    let r = row(&t, json!({"Install Date": ""}));
    assert_eq!(r["install_date"], "");
}

#[test]
fn floating_text_is_chronos_format_for_every_year_and_second() {
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let cases = [
        day(2024, 3, 10).and_hms_opt(2, 30, 0).unwrap(),
        day(1, 1, 1).and_hms_opt(0, 0, 0).unwrap(),
        day(0, 12, 31).and_hms_opt(23, 59, 59).unwrap(),
        day(9999, 12, 31)
            .and_hms_nano_opt(23, 59, 59, 999_999_999)
            .unwrap(),
        // Outside 0..=9999 and a leap second: chrono's own spelling (`+10000`, `-0001`, `:60`).
        day(10000, 1, 1).and_hms_opt(0, 0, 0).unwrap(),
        day(-1, 6, 15).and_hms_opt(12, 0, 0).unwrap(),
        day(2016, 12, 31)
            .and_hms_milli_opt(23, 59, 59, 1_500)
            .unwrap(),
    ];
    for dt in cases {
        assert_eq!(
            floating_text(&dt),
            dt.format(FLOATING_FORMAT).to_string(),
            "{dt:?}"
        );
    }
    assert_eq!(
        floating_text(&cases[6]),
        "2016-12-31T23:59:60",
        "a leap second keeps its :60"
    );
}

#[test]
fn unparseable_floating_timestamp_is_an_error_naming_the_column() {
    let t = transform(
        &[("install_date", "calendar_date")],
        SocrataOptions::default(),
    );
    let err = t
        .row(obj(json!({"Install Date": "soon"})), &Map::new())
        .unwrap_err();
    assert_eq!(
        err,
        TransformError::InvalidTimestamp {
            column: "install_date".into(),
            value: "\"soon\"".into()
        }
    );
}

#[test]
fn appended_run_timestamp_is_local_time_without_offset_at_the_end() {
    let options = SocrataOptions::default().append_timestamp("published_date");
    // 08:30Z on spring-forward day is 03:30 CDT; 07:30Z on fall-back day is 01:30 CST.
    for (utc, local) in [
        (
            Utc.with_ymd_and_hms(2024, 3, 10, 8, 30, 0).unwrap(),
            "2024-03-10T03:30:00",
        ),
        (
            Utc.with_ymd_and_hms(2023, 11, 5, 7, 30, 0).unwrap(),
            "2023-11-05T01:30:00",
        ),
    ] {
        let t = SocrataTransform::new_at(
            columns(&[("name", "text"), ("published_date", "calendar_date")]),
            &fields(),
            options.clone(),
            utc,
        )
        .unwrap();
        assert_eq!(t.run_timestamp(), Some(local));
        let r = row(&t, json!({"Name": "a", "Other": 1}));
        assert_eq!(
            Value::Object(r),
            json!({"name": "a", "published_date": local})
        );
        let keys: Vec<_> = row(&t, json!({"Name": "b"})).keys().cloned().collect();
        assert_eq!(keys, ["name", "published_date"]);
    }
}

#[test]
fn append_timestamp_column_must_exist() {
    let err = SocrataTransform::new(
        columns(&[("name", "text")]),
        &fields(),
        SocrataOptions::default().append_timestamp("published_date"),
    )
    .unwrap_err();
    assert_eq!(
        err,
        TransformError::TimestampColumnMissing {
            column: "published_date".into()
        }
    );
}

fn location_row(data_type: &str, raw_value: Value) -> Result<Value, TransformError> {
    let t = transform(
        &[("location", data_type)],
        SocrataOptions::default().location_field("field_9"),
    );
    let raw = obj(json!({"field_9": "formatted text", "field_9_raw": raw_value}));
    t.row(obj(json!({"Location": "1241 MANOR RD"})), &raw)
        .map(|mut r| r.remove("location").unwrap())
}

#[test]
fn point_columns_get_geojson_points_with_float_coordinates() {
    let addr = json!({"street": "1 A ST", "latitude": "30.29436", "longitude": -97});
    assert_eq!(
        location_row("point", addr).unwrap(),
        json!({"type": "Point", "coordinates": [-97.0, 30.29436]})
    );
    assert_eq!(location_row("point", json!("")).unwrap(), Value::Null);
    assert_eq!(location_row("point", json!(null)).unwrap(), Value::Null);
}

#[test]
fn point_without_coordinates_is_null_not_a_crash() {
    assert_eq!(
        location_row(
            "point",
            json!({"street": "1 A ST", "latitude": "", "longitude": ""})
        )
        .unwrap(),
        Value::Null
    );
    assert_eq!(
        location_row("point", json!({"street": "1 A ST"})).unwrap(),
        Value::Null
    );
    assert_eq!(
        location_row("point", json!({"latitude": 30.1, "longitude": ""})).unwrap(),
        Value::Null
    );
    assert!(matches!(
        location_row("point", json!({"latitude": "north", "longitude": 1})),
        Err(TransformError::InvalidCoordinate { .. })
    ));
    assert!(matches!(
        location_row("point", json!([{"latitude": 1, "longitude": 2}])),
        Err(TransformError::InvalidLocation { .. })
    ));
}

#[test]
fn legacy_location_columns_get_lat_first_python_text() {
    assert_eq!(
        location_row(
            "location",
            json!({"latitude": 30.326333, "longitude": -97.627703})
        )
        .unwrap(),
        "(30.326333, -97.627703)"
    );
    assert_eq!(
        location_row("location", json!({"latitude": "30.1", "longitude": "-97"})).unwrap(),
        "(30.1, -97)"
    );
    assert_eq!(
        location_row("location", json!({"latitude": "", "longitude": ""})).unwrap(),
        Value::Null
    );
}

#[test]
fn multipoint_columns_get_every_address_or_null() {
    let addresses =
        json!([{"latitude": 30.1, "longitude": -97.1}, {"latitude": "30.2", "longitude": "-97.2"}]);
    assert_eq!(
        location_row("multipoint", addresses).unwrap(),
        json!({"type": "MultiPoint", "coordinates": [[-97.1, 30.1], [-97.2, 30.2]]})
    );
    let one_bad =
        json!([{"latitude": 30.1, "longitude": -97.1}, {"latitude": "", "longitude": ""}]);
    assert_eq!(location_row("multipoint", one_bad).unwrap(), Value::Null);
    assert_eq!(
        location_row("multipoint", json!({"latitude": 30.1, "longitude": -97.1})).unwrap(),
        json!({"type": "MultiPoint", "coordinates": [[-97.1, 30.1]]})
    );
    assert_eq!(location_row("multipoint", json!([])).unwrap(), Value::Null);
}

#[test]
fn location_field_is_matched_by_normalised_label() {
    let f = [FieldSpec::new("field_9", "Site Location", "address")];
    let t = SocrataTransform::new(
        columns(&[("site_location", "point")]),
        &f,
        SocrataOptions::default().location_field("field_9"),
    )
    .expect("labels with spaces match their normalised column");
    let raw = obj(json!({"field_9_raw": {"latitude": 1.5, "longitude": 2.5}}));
    let r = t.row(obj(json!({"Site Location": "x"})), &raw).unwrap();
    assert_eq!(
        r["site_location"],
        json!({"type": "Point", "coordinates": [2.5, 1.5]})
    );
}

#[test]
fn location_config_errors_are_caught_when_built() {
    let build = |cols: &[(&str, &str)], key: &str| {
        SocrataTransform::new(
            columns(cols),
            &fields(),
            SocrataOptions::default().location_field(key),
        )
        .unwrap_err()
    };
    assert_eq!(
        build(&[("location", "point")], "field_99"),
        TransformError::UnknownLocationField {
            field_key: "field_99".into()
        }
    );
    assert_eq!(
        build(&[("name", "text")], "field_9"),
        TransformError::LocationColumnMissing {
            field_key: "field_9".into(),
            column: "location".into()
        }
    );
    assert!(matches!(
        build(&[("location", "text")], "field_9"),
        TransformError::LocationColumnType { data_type, .. } if data_type == "text"
    ));
}

#[test]
fn columns_read_from_dataset_metadata() {
    let meta = json!({"columns": [{"fieldName": "id", "dataTypeName": "text"}, {"fieldName": "at", "dataTypeName": "calendar_date"}]});
    let cols = SocrataColumns::from_metadata(&meta).unwrap();
    assert_eq!(
        cols.iter().collect::<Vec<_>>(),
        [("id", "text"), ("at", "calendar_date")]
    );
    assert_eq!(cols.data_type("at"), Some("calendar_date"));
    assert!(!cols.contains("nope"));
    assert!(matches!(
        SocrataColumns::from_metadata(&json!({"name": "x"})),
        Err(TransformError::InvalidDatasetMetadata { .. })
    ));
}
