//! `aks` when a destination refuses records (exit 1 after writing the rest, each named in the
//! log) and when it cannot take the run at all (exit 2 before any write).

mod common;

use common::{assert_no_secret, fixture, stderr, Fakes, APP, DATASET, RECORDS, VIEW};
use knack_etl::socrata_client::testkit::FakeDataset;
use serde_json::json;

const METADATA: &[&str] = &["metadata-to-postgrest", "-a", APP, "-e", "dev"];
const TO_PGREST: &[&str] = &["records-to-postgrest", "-a", APP, "-c", VIEW, "-e", "dev"];
const TO_SOCRATA: &[&str] = &["records-to-socrata", "-a", APP, "-c", VIEW, "-e", "dev"];
const TO_AGOL: &[&str] = &["records-to-agol", "-a", APP, "-c", VIEW, "-e", "dev"];

async fn staged() -> Fakes {
    let fakes = Fakes::start().await;
    for args in [METADATA, TO_PGREST] {
        let out = fakes.run(args).await;
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    fakes
}

#[tokio::test(flavor = "multi_thread")]
async fn rejected_features_are_named_and_exit_1_after_the_rest_is_written() {
    let fakes = staged().await;
    const MAX: usize = 20;
    fakes.agol.set_field(
        0,
        json!({"name": "location_name", "type": "esriFieldTypeString", "length": MAX}),
    );
    let records = fixture("records_view_1.json");
    let too_long: Vec<String> = records
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["field_1"].as_str().unwrap().chars().count() > MAX)
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        too_long.len() > 20,
        "enough to show the log's cap: {}",
        too_long.len()
    );

    let out = fakes.run(TO_AGOL).await;
    let err = stderr(&out);

    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_no_secret(&out);
    let named: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("rejected record ") && l.contains("field `location_name`"))
        .collect();
    assert_eq!(named.len(), 20, "one line per record, capped:\n{err}");
    assert!(named
        .iter()
        .all(|l| l.contains("Setting of value for location_name failed.")));
    assert!(too_long.iter().any(|id| named[0].contains(id.as_str())));
    assert!(
        err.contains(&format!("rejected {} more record(s)", too_long.len() - 20)),
        "{err}"
    );
    let written = RECORDS - too_long.len();
    assert!(
        err.contains(&format!(
            "records-to-agol acc/view_1: read {RECORDS}, written {written}, deleted 0, failed 0, rejected {}",
            too_long.len()
        )),
        "{err}"
    );
    assert!(
        err.contains("record(s) rejected by the destination"),
        "{err}"
    );
    assert_eq!(fakes.agol.features(0).len(), written);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dataset_without_the_row_identifier_is_exit_2_with_no_write() {
    let fakes = staged().await;
    let mut meta = fixture("socrata_dataset.json");
    meta.as_object_mut().unwrap().remove("row_identifier");
    fakes.socrata.add_dataset(FakeDataset::from_metadata(&meta));
    fakes.socrata.clear_requests();

    let mut args = TO_SOCRATA.to_vec();
    args.extend(["-d", "2024-03-27"]);
    let out = fakes.run(&args).await;
    let err = stderr(&out);

    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("Socrata dataset {DATASET}"))
            && err.contains("not the text column `id`")
            && err.contains("Row identifier"),
        "{err}"
    );
    assert!(
        fakes.socrata.requests().iter().all(|r| r.method == "GET"),
        "nothing written"
    );
    assert!(fakes.socrata.rows(DATASET).is_empty());
}
