//! records-to-knack end to end on the fakes: staged source rows → mapped → created/updated in a
//! destination Knack app, with the destination staged back through records-to-postgrest.

use std::time::Duration;

use chrono::{DateTime, Utc};
use knack_client::testkit::{FakeKnack, Fault};
use knack_client::Container;
use knack_etl::knack_copy::{
    records_to_knack, Action, FieldMap, FieldMapping, KnackDestination, KnackReport,
};
use knack_etl::staging::{records_to_postgrest, store_metadata, StagingRow, StagingSink};
use knack_etl::RunOptions;
use knack_etl::{knack_client, pgrest_client, Sink};
use pgrest_client::testkit::FakePostgrest;
use serde_json::{json, Map, Value};

const SRC_APP: &str = "5d0000000000000000000001";
const DEST_APP: &str = "5d0000000000000000000002";
const DEST_KEY: &str = "dest-api-key";
const JWT: &str = "records-to-knack-jwt";
const SRC_VIEW: &str = "view_197";
const DEST_OBJECT: &str = "object_26";

fn ms(iso: &str) -> i64 {
    iso.parse::<DateTime<Utc>>().unwrap().timestamp_millis()
}

/// A Knack date object as the source app (Phoenix, no DST) stores it: wall time labelled UTC.
fn knack_date(wall_iso: &str) -> Value {
    json!({"date": "x", "unix_timestamp": ms(wall_iso), "iso_timestamp": wall_iso})
}

fn metadata(app_id: &str, timezone: &str) -> Value {
    json!({"application": {"id": app_id, "name": app_id, "settings": {"timezone": timezone},
        "objects": [{"key": DEST_OBJECT, "name": "Signals", "fields": [
            {"key": "field_380", "name": "Signal ID", "type": "number"},
            {"key": "field_382", "name": "Location", "type": "short_text"}]}],
        "scenes": []}})
}

fn field_map() -> FieldMap {
    let entries: Vec<FieldMapping> = serde_json::from_value(json!([
        {"src": "field_199_raw", "dest": "field_380", "primary_key": true},
        {"src": "field_211_raw", "dest": "field_382", "handler": "strip"},
        {"src": "field_491", "dest": "field_383", "default": "Unknown", "ignore_diff": true},
        {"src": "field_505_raw", "dest": "field_384", "handler": "connection_identifiers"},
        {"src": "field_189_raw", "dest": "field_385", "handler": "multiple_choice"},
        {"src": "field_251", "dest": "field_386", "handler": "no_choice_to_empty_string"},
        {"src": "field_205_raw", "dest": "field_391_raw"},
        {"src": "field_300_raw", "dest": "field_392"},
    ]))
    .unwrap();
    FieldMap::new(entries).unwrap()
}

fn source_record(n: u32, name: &str, wall: &str) -> Value {
    json!({
        "id": format!("5e00000000000000000000{n:02}"),
        "field_199_raw": n,
        "field_211_raw": format!("  {name} "),
        "field_491": null,
        "field_505_raw": [{"id": "5f0000000000000000000001", "identifier": "Ann"},
                          {"id": "5f0000000000000000000002", "identifier": "Bo"}],
        "field_189_raw": ["District 1", "District 9"],
        "field_251": null,
        "field_205_raw": knack_date(wall),
        "field_300_raw": 1234,
    })
}

struct World {
    pg: FakePostgrest,
    pgc: pgrest_client::Client,
    dest: FakeKnack,
    destc: knack_client::Client,
}

impl World {
    async fn start() -> Self {
        let pg = FakePostgrest::staging(JWT).await;
        let pgc = pg.client_builder().build().unwrap();
        let dest = FakeKnack::start_for(DEST_APP, DEST_KEY).await;
        dest.set_metadata(metadata(DEST_APP, "America/Chicago"));
        let destc = dest.client_builder().build().unwrap();
        store_metadata(&pgc, SRC_APP, &metadata(SRC_APP, "America/Phoenix"))
            .await
            .unwrap();
        store_metadata(&pgc, DEST_APP, &metadata(DEST_APP, "America/Chicago"))
            .await
            .unwrap();
        Self {
            pg,
            pgc,
            dest,
            destc,
        }
    }

    async fn stage_source(&self, records: Vec<Value>) {
        let rows: Vec<StagingRow> = records
            .into_iter()
            .map(|r| {
                let rec = knack_client::Record::new(r.as_object().unwrap().clone());
                StagingRow::new(SRC_APP, SRC_VIEW, rec)
            })
            .collect();
        StagingSink::new(self.pgc.clone(), SRC_APP, SRC_VIEW)
            .write(rows)
            .await
            .unwrap();
    }

    /// What `aks records-to-postgrest` of the destination app does: a full reload.
    async fn stage_dest(&self) {
        records_to_postgrest(
            &self.destc,
            &self.pgc,
            &object(),
            None,
            &RunOptions::default(),
        )
        .await
        .unwrap();
    }

    async fn run(&self, dry_run: bool) -> KnackReport {
        let options = RunOptions {
            dry_run,
            ..RunOptions::default()
        };
        records_to_knack(&self.pgc, &self.destc, &destination(), &options)
            .await
            .unwrap()
    }

    fn dest_records(&self) -> Vec<Map<String, Value>> {
        let mut v: Vec<_> = self
            .dest
            .records(&object())
            .into_iter()
            .map(|r| r.into_raw())
            .collect();
        v.sort_by_key(|r| r["field_380_raw"].as_i64());
        v
    }

    fn writes(&self) -> Vec<String> {
        self.dest
            .requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}

fn object() -> Container {
    Container::object(DEST_OBJECT).unwrap()
}

fn destination() -> KnackDestination {
    KnackDestination {
        source_app_id: SRC_APP.into(),
        source_container: SRC_VIEW.into(),
        dest_app_id: DEST_APP.into(),
        dest_container: DEST_OBJECT.into(),
        dest_object: object(),
        fields: field_map(),
    }
}

/// The destination as Knack would hold signal `n` after a write of `source_record(n, name, wall)`:
/// both keys of each field, numbers formatted with separators in `field_N`.
fn dest_copy(n: u32, name: &str, chicago_wall: &str, status: &str) -> Value {
    json!({
        "field_380": n.to_string(), "field_380_raw": n,
        "field_382": name, "field_382_raw": name,
        "field_383": status, "field_383_raw": status,
        "field_384": "Ann, Bo", "field_384_raw": "Ann, Bo",
        "field_385": "District 1, District 9", "field_385_raw": "District 1, District 9",
        "field_386": "", "field_386_raw": "",
        "field_391": "03/11/2024 1:00pm",
        "field_391_raw": {"date": "03/11/2024", "unix_timestamp": ms(chicago_wall)},
        "field_392": "1,234", "field_392_raw": 1234,
    })
}

#[tokio::test]
async fn creates_updates_and_leaves_alone_then_a_rerun_writes_nothing() {
    let w = World::start().await;
    // 1: new. 2: same as the destination but for formatting. 3: a real difference.
    // 4: differs only in an ignore_diff field.
    w.stage_source(vec![
        source_record(1, "Lamar / 5th", "2024-03-09T11:00:00Z"),
        source_record(2, "Congress / 6th", "2024-03-11T11:00:00Z"),
        source_record(3, "Renamed", "2024-03-11T11:00:00Z"),
        source_record(4, "Burnet / 45th", "2024-03-11T11:00:00Z"),
    ])
    .await;
    w.dest.set_records(
        &object(),
        vec![
            dest_copy(2, "Congress / 6th", "2024-03-11T13:00:00Z", "Unknown"),
            dest_copy(3, "Old name", "2024-03-11T13:00:00Z", "Unknown"),
            dest_copy(4, "Burnet / 45th", "2024-03-11T13:00:00Z", "Flashing"),
        ],
    );
    w.stage_dest().await;
    w.dest.clear_requests();

    let report = w.run(false).await;
    assert_eq!(
        (
            report.created,
            report.updated,
            report.unchanged,
            report.run.failed
        ),
        (1, 1, 2, 0),
        "{report:?}"
    );
    assert_eq!(report.run.written, 2);
    let writes = w.writes();
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert_eq!(writes[0], "POST /v1/objects/object_26/records");
    assert!(writes[1].starts_with("PUT /v1/objects/object_26/records/"));

    let dest = w.dest_records();
    let created = &dest[0];
    assert_eq!(created["field_380"], json!(1));
    assert_eq!(created["field_382"], "Lamar / 5th", "strip");
    assert_eq!(created["field_383"], "Unknown", "default for a null source");
    assert_eq!(created["field_384"], "Ann, Bo", "connection_identifiers");
    assert_eq!(
        created["field_385"], "District 1, District 9",
        "multiple_choice"
    );
    assert_eq!(created["field_386"], "", "no_choice_to_empty_string");
    // 11:00 in Phoenix (MST) on 03/09 is noon in Chicago before spring-forward ...
    assert_eq!(created["field_391"], json!(ms("2024-03-09T12:00:00Z")));
    assert!(
        !created.contains_key("field_391_raw") || created["field_391_raw"] == created["field_391"]
    );
    // ... and the same 11:00 on 03/11 is 1 pm, after it.
    let updated = &dest[2];
    assert_eq!(updated["field_382"], "Renamed");
    assert_eq!(updated["field_391"], json!(ms("2024-03-11T13:00:00Z")));
    // Untouched: the record that differed only in the ignored field.
    assert_eq!(dest[3]["field_383"], "Flashing");

    // The destination is staged again (as its own records-to-postgrest would), then a rerun.
    w.stage_dest().await;
    w.dest.clear_requests();
    let again = w.run(false).await;
    assert_eq!(
        (again.created, again.updated, again.unchanged),
        (0, 0, 4),
        "{again:?}"
    );
    assert!(w.writes().is_empty(), "a rerun must write nothing");
    assert!(w.pg.rows("knack").len() >= 8);
}

#[tokio::test]
async fn a_dry_run_prints_the_plan_and_writes_nothing() {
    let w = World::start().await;
    w.stage_source(vec![
        source_record(1, "New", "2024-03-09T11:00:00Z"),
        source_record(3, "Renamed", "2024-03-11T11:00:00Z"),
    ])
    .await;
    w.dest.set_records(
        &object(),
        vec![dest_copy(3, "Old", "2024-03-11T13:00:00Z", "Unknown")],
    );
    w.stage_dest().await;
    w.dest.clear_requests();
    let report = w.run(true).await;
    assert!(w.dest.requests().is_empty());
    assert_eq!(
        (report.created, report.updated, report.run.written),
        (1, 1, 0)
    );
    assert_eq!(report.plan.len(), 2);
    let by_pk = |n: i64| {
        report
            .plan
            .iter()
            .find(|p| p.primary_key == json!(n))
            .unwrap()
    };
    assert_eq!(by_pk(1).action, Action::Create);
    let Action::Update { changed, .. } = &by_pk(3).action else {
        panic!("expected an update: {:?}", by_pk(3))
    };
    assert_eq!(changed, &vec!["field_382".to_string()]);
}

#[tokio::test]
async fn a_write_refused_part_way_is_reported_by_record_and_the_next_run_finishes() {
    let w = World::start().await;
    let records: Vec<Value> = (1..=12)
        .map(|n| source_record(n, &format!("Signal {n}"), "2024-03-11T11:00:00Z"))
        .collect();
    w.stage_source(records).await;
    w.stage_dest().await;
    w.dest.clear_requests();
    // The first two writes pass, the third is refused (a permanent 400 naming a field).
    w.dest.inject(Fault::slow(Duration::ZERO).times(2));
    w.dest.inject(
        Fault::status(400).body(
            json!({"errors": [{"field": "field_382", "message": "field_382 must be under 10 characters"}]})
                .to_string(),
        ),
    );
    let report = w.run(false).await;
    // Refused, not failed: the refusal is named in `failures`, `run.failed` counts only what
    // could not be delivered this time.
    assert_eq!(
        (report.created, report.failures.len(), report.run.failed),
        (11, 1, 0),
        "{report:?}"
    );
    let failure = &report.failures[0];
    assert_eq!(failure.source_record_id, "5e0000000000000000000003");
    assert_eq!(failure.fields, vec!["field_382".to_string()]);
    assert!(
        failure.reason.contains("must be under 10 characters"),
        "{failure}"
    );
    // One record per request, never faster than Knack's 10 per second.
    let writes = w.writes();
    assert_eq!(writes.len(), 12);
    assert!(writes
        .iter()
        .all(|r| r == "POST /v1/objects/object_26/records"));
    assert!(w.dest.max_requests_in_window(Duration::from_secs(1)) <= 10);
    assert!(w.dest.requests().iter().all(|r| r.status != 429));

    w.stage_dest().await;
    w.dest.clear_requests();
    let next = w.run(false).await;
    assert_eq!(
        (next.created, next.updated, next.unchanged, next.run.failed),
        (1, 0, 11, 0),
        "{next:?}"
    );
    assert_eq!(w.dest_records().len(), 12);
    assert_eq!(w.dest_records()[2]["field_380"], json!(3));
}

#[tokio::test]
async fn a_missing_destination_metadata_stops_before_any_write() {
    let w = World::start().await;
    w.stage_source(vec![source_record(1, "x", "2024-03-09T11:00:00Z")])
        .await;
    let mut d = destination();
    d.dest_app_id = "5d0000000000000000000009".into();
    let err = records_to_knack(&w.pgc, &w.destc, &d, &RunOptions::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("run `aks metadata-to-postgrest`"),
        "{err}"
    );
    assert!(w.dest.requests().is_empty());
}

/// The destination container's staged rows (records-to-knack's write-through included).
fn dest_staged(w: &World) -> usize {
    w.pg.rows("knack")
        .into_iter()
        .filter(|r| r["app_id"] == DEST_APP && r["container_id"] == DEST_OBJECT)
        .count()
}

#[tokio::test]
async fn a_create_answered_500_after_it_was_applied_leaves_one_record() {
    let w = World::start().await;
    let records: Vec<Value> = (1..=3)
        .map(|n| source_record(n, &format!("Signal {n}"), "2024-03-11T11:00:00Z"))
        .collect();
    w.stage_source(records).await;
    w.stage_dest().await;
    w.dest.clear_requests();
    // The second create is applied, then answered 500: the record exists, the answer says not.
    w.dest.inject(Fault::slow(Duration::ZERO).on_method("POST"));
    w.dest.inject(Fault::applied_then(500).on_method("POST"));
    let report = w.run(false).await;
    assert_eq!(
        (report.created, report.run.failed, report.failures.len()),
        (3, 0, 0),
        "{report:?}"
    );
    assert_eq!(w.dest_records().len(), 3, "no duplicate");
    let posts = w.writes().iter().filter(|r| r.starts_with("POST")).count();
    assert_eq!(posts, 3, "the lost create was looked up, not sent again");
    let lookups = w
        .dest
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.query_param("filters").is_some())
        .count();
    assert_eq!(lookups, 1);
    assert_eq!(dest_staged(&w), 3, "written through");
}

#[tokio::test]
async fn a_lost_create_that_never_landed_is_created_once() {
    let w = World::start().await;
    w.stage_source(vec![source_record(1, "Signal 1", "2024-03-11T11:00:00Z")])
        .await;
    w.stage_dest().await;
    // A 502 from a proxy: the create may or may not have happened (here it did not).
    w.dest.inject(Fault::status(502).on_method("POST"));
    let report = w.run(false).await;
    assert_eq!((report.created, report.run.failed), (1, 0), "{report:?}");
    assert_eq!(w.dest_records().len(), 1);
}

#[tokio::test]
async fn a_destination_without_a_modified_date_rule_never_doubles() {
    let w = World::start().await;
    let records: Vec<Value> = (1..=4)
        .map(|n| source_record(n, &format!("Signal {n}"), "2024-03-11T11:00:00Z"))
        .collect();
    w.stage_source(records).await;
    w.stage_dest().await;
    // Three creates are applied but answered 500, as in the 200-record copy.
    w.dest
        .inject(Fault::applied_then(500).on_method("POST").times(3));
    let first = w.run(false).await;
    assert_eq!((first.created, first.run.failed), (4, 0), "{first:?}");
    // No refresh of the destination's staged rows between the runs (an incremental refresh by a
    // modified date the app never stamps reads nothing): the write-through alone shows the
    // records created.
    w.dest.clear_requests();
    let second = w.run(false).await;
    assert_eq!((second.created, second.unchanged), (0, 4), "{second:?}");
    assert!(w.writes().is_empty(), "{:?}", w.writes());
    assert_eq!(w.dest_records().len(), 4);
}

#[tokio::test]
async fn a_transient_failure_past_its_retries_is_failed_not_rejected() {
    let w = World::start().await;
    w.stage_source(vec![source_record(1, "Signal 1", "2024-03-11T11:00:00Z")])
        .await;
    w.stage_dest().await;
    // Every create of this run is answered 503 (the first and the three after its look-ups).
    w.dest.inject(Fault::status(503).on_method("POST").times(4));
    let report = w.run(false).await;
    assert_eq!(
        (report.created, report.run.failed, report.failures.len()),
        (0, 1, 0),
        "failed this time, not refused: {report:?}"
    );
    assert!(w.dest_records().is_empty());
    let next = w.run(false).await;
    assert_eq!((next.created, next.run.failed), (1, 0), "{next:?}");
    assert_eq!(w.dest_records().len(), 1);
}

#[tokio::test]
async fn a_stopped_copy_writes_no_new_record_and_the_next_run_completes() {
    let w = World::start().await;
    w.stage_source(vec![
        source_record(1, "Lamar / 5th", "2024-03-09T11:00:00Z"),
        source_record(2, "Congress / 6th", "2024-03-11T11:00:00Z"),
    ])
    .await;
    w.stage_dest().await;
    w.dest.clear_requests();
    let stop = knack_etl::Stop::new();
    stop.request("SIGTERM");
    let options = RunOptions {
        stop,
        ..RunOptions::default()
    };
    let failure = records_to_knack(&w.pgc, &w.destc, &destination(), &options)
        .await
        .unwrap_err();
    assert!(
        matches!(&*failure.error, knack_etl::Error::Stopped(_)),
        "{}",
        failure.error
    );
    assert_eq!(failure.report.written, 0);
    assert!(w.writes().is_empty(), "{:?}", w.writes());

    let report = w.run(false).await;
    assert_eq!((report.created, report.run.written), (2, 2), "{report:?}");
    assert_eq!(w.dest_records().len(), 2);
}
