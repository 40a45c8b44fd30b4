//! An incremental AGOL run updates features in place, so it must move or clear their points the way
//! the original's delete-and-re-add did: a record whose address was emptied loses its point, one
//! whose address changed gets the new point.

mod e2e_common;

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use e2e_common::{fixture_records, Env, APP_ID, LOCATION_FIELD, VIEW};
use knack_etl::agol_client::Geometry;
use knack_etl::RunOptions;
use serde_json::{json, Value};

/// Replaces the staged rows: ids in `recent` staged in June 2024, the others in 2020.
fn stage(env: &Env, records: &[Value], recent: &BTreeSet<&str>) {
    env.pg.clear("knack");
    env.pg.seed(
        "knack",
        records.iter().map(|r| {
            let id = r["id"].as_str().unwrap();
            let at = if recent.contains(id) {
                "2024-06-01T12:00:00+00:00"
            } else {
                "2020-01-01T00:00:00+00:00"
            };
            json!({"app_id": APP_ID, "container_id": VIEW, "record_id": id, "record": r, "updated_at": at})
        }),
    );
}

fn id_of(record: &Value) -> &str {
    record["id"].as_str().unwrap()
}

#[tokio::test]
async fn an_incremental_run_clears_an_emptied_address_and_moves_a_changed_one() {
    let env = Env::start().await;
    env.metadata(false).await.unwrap();
    let mut records = fixture_records();
    stage(&env, &records, &BTreeSet::new());
    env.to_agol(50, &RunOptions::default()).await.unwrap();
    let before = env.agol_features();

    // The first two fixture records have geocoded addresses; the third stays as it is.
    let (emptied, moved, untouched) = (
        id_of(&records[0]).to_string(),
        id_of(&records[1]).to_string(),
        id_of(&records[2]).to_string(),
    );
    for id in [&emptied, &moved, &untouched] {
        assert!(
            matches!(before[id].geometry, Some(Geometry::Point { .. })),
            "{id} starts with a point"
        );
    }
    // Knack's shape of an address field that was cleared (as the fixture's empty ones).
    records[0][LOCATION_FIELD] = json!("");
    records[0][format!("{LOCATION_FIELD}_raw")] = json!("");
    let raw = &mut records[1][format!("{LOCATION_FIELD}_raw")];
    raw["latitude"] = json!(30.2672);
    raw["longitude"] = json!(-97.7431);
    stage(&env, &records, &[emptied.as_str(), moved.as_str()].into());
    let earlier_edits = env.agol.requests_for("applyEdits").len();

    let options = RunOptions {
        since: Some(Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap()),
        ..RunOptions::default()
    };
    let report = env.to_agol(50, &options).await.unwrap();
    assert_eq!((report.read, report.written, report.deleted), (2, 2, 0));

    let edits = &env.agol.requests_for("applyEdits")[earlier_edits..];
    assert_eq!(edits.len(), 1);
    assert_eq!(edits[0].param("adds"), Some("[]"), "both were updates");
    let updates: Vec<Value> = serde_json::from_str(edits[0].param("updates").unwrap()).unwrap();
    let sent = |id: &str| {
        updates
            .iter()
            .find(|u| u["attributes"]["id"] == id)
            .unwrap_or_else(|| panic!("{id} sent"))
            .clone()
    };
    assert_eq!(sent(&emptied).get("geometry"), Some(&Value::Null));

    let after = env.agol_features();
    assert_eq!(after.len(), 60, "updated in place, nothing added");
    assert_eq!(
        after[&emptied].geometry, None,
        "the emptied address lost its point"
    );
    assert_eq!(
        after[&emptied].attributes["OBJECTID"], before[&emptied].attributes["OBJECTID"],
        "the same feature"
    );
    assert_eq!(
        after[&moved].geometry,
        Some(Geometry::point(-97.7431, 30.2672)),
        "the changed address has the new point"
    );
    assert_eq!(after[&untouched], before[&untouched]);
}
