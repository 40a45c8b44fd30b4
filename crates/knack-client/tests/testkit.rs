//! The testkit's builders make what Knack answers: metadata the client parses, records the
//! formatter reads, so a test needs no hand-written JSON.

use chrono::NaiveDate;
use futures::TryStreamExt;
use knack_client::testkit::{AppMetadata, FakeKnack, ObjectSpec, RecordBuilder};
use knack_client::{
    Container, Error, FieldType, Filter, Formatter, Operator, Record, RecordsQuery, Rule,
};
use serde_json::json;

#[tokio::test]
async fn built_metadata_and_records_are_read_and_formatted_like_knacks() {
    let fake = FakeKnack::start().await;
    let object = ObjectSpec::new("object_1", "Signal")
        .field("field_1", "Signal ID", FieldType::ShortText)
        .field("field_2", "Lanes", FieldType::Number)
        .field_with_format(
            "field_3",
            "Modified",
            FieldType::DateTime,
            json!({"date_format": "mm/dd/yyyy", "time_format": "h:mma"}),
        );
    fake.set_metadata(
        AppMetadata::new(fake.app_id())
            .timezone("Central Time (US & Canada)")
            .object(object)
            .view("scene_1", "view_1", "object_1", &["field_1", "field_3"])
            .to_json(),
    );
    let client = fake.client_builder().build().unwrap();
    let metadata = client.metadata().await.unwrap();
    assert_eq!(metadata.timezone().unwrap(), chrono_tz::America::Chicago);
    let view = metadata.view("scene_1", "view_1").expect("the view");
    assert_eq!(
        view.column_field_keys().collect::<Vec<_>>(),
        ["field_1", "field_3"]
    );

    let local = NaiveDate::from_ymd_opt(2024, 3, 27)
        .unwrap()
        .and_hms_opt(14, 5, 0)
        .unwrap();
    let record = RecordBuilder::new("5d7964422d7159001659b27a")
        .field("field_1", "SIG-1")
        .field("field_2", 4)
        .date_time("field_3", local, true)
        .to_json();
    // Knack's two forms, as in knackpy's recorded tests/_all_fields.json.
    assert_eq!(record["field_2"], "4");
    assert_eq!(record["field_2_raw"], 4);
    assert_eq!(record["field_3"], "03/27/2024 2:05pm");
    assert_eq!(record["field_3_raw"]["hours"], "02");
    assert_eq!(record["field_3_raw"]["am_pm"], "PM");
    assert_eq!(
        record["field_3_raw"]["unix_timestamp"],
        1_711_548_300_000_i64
    );

    let container = Container::view("scene_1", "view_1").unwrap();
    let formatter = Formatter::new(&metadata, &container).unwrap();
    let record: Record = serde_json::from_value(record).unwrap();
    let formatted = formatter.format(&record).unwrap();
    assert_eq!(formatted["Signal ID"], "SIG-1");
    // The local wall time, corrected once with the app's zone (CDT, UTC-5, on that day).
    assert_eq!(formatted["Modified"], "2024-03-27T14:05:00-05:00");
    assert!(!formatted.contains_key("Lanes"), "not a column of the view");
}

/// Rules take field keys; `field_key` finds one by its label, and `Rule::date` writes the day
/// as Knack reads it (`MM/DD/YYYY`), so a caller formats nothing by hand.
#[tokio::test]
async fn a_rule_by_label_and_date_filters_on_the_fake() {
    let fake = FakeKnack::start().await;
    let object = ObjectSpec::new("object_1", "Signal")
        .field("field_1", "Signal ID", FieldType::ShortText)
        .field("field_3", "Installed", FieldType::DateTime);
    fake.set_metadata(AppMetadata::new(fake.app_id()).object(object).to_json());
    let container = Container::object("object_1").unwrap();
    let day = |d: u32| {
        NaiveDate::from_ymd_opt(2024, 3, d)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap()
    };
    let records = (1..=9).map(|d| {
        RecordBuilder::new(format!("{d:024x}"))
            .field("field_1", format!("SIG-{d}"))
            .date_time("field_3", day(d), false)
            .into()
    });
    fake.set_records_from(&container, records);
    let client = fake.client_builder().build().unwrap();
    let metadata = client.metadata().await.unwrap();

    let installed = metadata.field_key(&container, "Installed").unwrap();
    assert_eq!(installed, "field_3");
    let after = Rule::date(installed, Operator::IsAfter, day(6).date());
    let query = RecordsQuery::new().filter(Filter::and([after]));
    let found: Vec<_> = client
        .records(&container, query)
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<_> = found
        .iter()
        .map(|r| r.display_value("field_1").cloned().unwrap())
        .collect();
    assert_eq!(ids, ["SIG-7", "SIG-8", "SIG-9"]);

    let err = metadata.field_key(&container, "Lanes").unwrap_err();
    assert!(
        matches!(err, Error::Metadata(_)) && err.to_string().contains("Signal ID"),
        "{err}"
    );
}

/// A table view that shows no field formats to ids alone: an error, not a silent `{"id"}`.
#[test]
fn a_view_with_no_field_column_is_an_error() {
    let json = AppMetadata::new("5f0000000000000000000001")
        .object(ObjectSpec::new("object_1", "Signal").field(
            "field_1",
            "Signal ID",
            FieldType::ShortText,
        ))
        .view("scene_1", "view_1", "object_1", &[])
        .to_json();
    let metadata = knack_client::Metadata::from_json(json).unwrap();
    let view = Container::view("scene_1", "view_1").unwrap();
    let err = Formatter::new(&metadata, &view).unwrap_err();
    assert!(err.to_string().contains("shows no field column"), "{err}");
}
