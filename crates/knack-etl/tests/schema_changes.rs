//! Schema changes republish themselves: a plain sync after a change on the Knack side of a
//! container (a field renamed, added to the view, retyped) reloads it and republishes it in full,
//! after a change on a destination's side (a column added) republishes that destination in full,
//! and with no change runs incrementally with the requests it always made.

mod e2e_common;

use e2e_common::{fixture, fixture_records, Env, APP_ID, DATASET, LOCATION_FIELD, MODIFIED_FIELD};
use knack_etl::sync::{
    self, Destination, StageOutcome, SyncClients, SyncOptions, SyncPlan, SyncReport, SyncState,
    Watermarks,
};
use serde_json::{json, Value};

fn plan(env: &Env) -> SyncPlan {
    SyncPlan {
        container: e2e_common::container(),
        modified_date_field: MODIFIED_FIELD.into(),
        location_fields: vec![LOCATION_FIELD.into()],
        socrata: Some(env.socrata_target()),
        agol: Some(env.agol_target(100)),
        knack: Vec::new(),
    }
}

fn clients(env: &Env) -> SyncClients {
    SyncClients {
        knack: env.knack_client.clone(),
        pgrest: env.pg_client.clone(),
        socrata: Some(env.socrata_client.clone()),
        agol: Some(env.agol_client.clone()),
        knack_dests: Default::default(),
    }
}

/// A plain `aks sync` (preflight, then the sync from each watermark), which must succeed.
async fn sync_with(env: &Env, dry_run: bool) -> SyncReport {
    let (clients, plans) = (clients(env), [plan(env)]);
    sync::preflight(&clients, APP_ID, &plans).await.unwrap();
    let options = SyncOptions {
        since: None,
        dry_run,
        concurrency: 1,
        stop: knack_etl::Stop::process(),
    };
    let report = sync::sync(&clients, APP_ID, &plans, options).await;
    assert!(report.is_success(), "{:?}", report.failures());
    report
}

async fn sync(env: &Env) -> SyncReport {
    sync_with(env, false).await
}

/// Whether stage `dest` ran in full (read everything), and its notes.
fn ran(report: &SyncReport, dest: Destination) -> (bool, Vec<String>) {
    let stage = report
        .stages
        .iter()
        .find(|s| s.destination == dest)
        .unwrap();
    match &stage.outcome {
        StageOutcome::Ran(t) => {
            let notes = t.result.as_ref().unwrap().notes.clone();
            (t.since.is_none(), notes)
        }
        other => panic!("{dest} did not run: {other:?}"),
    }
}

/// The app's rows of `api.knack_sync_state`, which hold each stage's fingerprint.
async fn states(env: &Env) -> Vec<SyncState> {
    let watermarks = Watermarks::new(env.pg_client.clone(), APP_ID);
    watermarks.all().await.unwrap()
}

/// The fixture metadata with `change` applied to it.
fn metadata_with(change: impl FnOnce(&mut Value)) -> Value {
    let mut metadata = fixture("metadata.json");
    change(&mut metadata);
    metadata
}

/// Field `key` of `object_1` in `metadata`.
fn field<'a>(metadata: &'a mut Value, key: &str) -> &'a mut Value {
    let fields = metadata["application"]["objects"][0]["fields"]
        .as_array_mut()
        .unwrap();
    fields.iter_mut().find(|f| f["key"] == key).unwrap()
}

/// The fixture records' email addresses by record id.
fn emails() -> Vec<(String, String)> {
    fixture_records()
        .iter()
        .filter_map(|r| {
            let email = r["field_11_raw"]["email"].as_str()?;
            Some((r["id"].as_str()?.to_string(), email.to_string()))
        })
        .collect()
}

#[tokio::test]
async fn a_renamed_field_and_its_new_socrata_column_reach_every_row_in_one_plain_sync() {
    let env = Env::start().await;
    sync(&env).await;
    let emails = emails();
    assert!(emails.len() > 40, "the fixture has emails");
    assert!(env
        .socrata_rows()
        .values()
        .all(|r| !r.contains_key("email")));

    // "Contact Email" becomes "Email" in Knack, and the dataset's owner adds column `email`.
    env.knack.set_metadata(metadata_with(|m| {
        field(m, "field_11")["name"] = json!("Email");
    }));
    env.socrata.add_column(DATASET, "email", "text");
    let report = sync(&env).await;

    let rows = env.socrata_rows();
    for (id, email) in &emails {
        let got = rows[id].get("email").and_then(Value::as_str).unwrap_or("");
        assert!(got.contains(email.as_str()), "row {id}: email {got:?}");
    }
    let (full, notes) = ran(&report, Destination::Postgrest);
    assert!(full, "the staged records were reloaded in full");
    let why = r#"field_11 renamed "Contact Email" -> "Email""#;
    assert!(notes.iter().any(|n| n.contains(why)), "{notes:?}");
    let (full, notes) = ran(&report, Destination::Socrata);
    assert!(
        full && notes.iter().any(|n| n.contains("gained column email")),
        "{notes:?}"
    );
    // The layer has `contact_email` and no `email`: the rename leaves that field unwritten.
    let (full, notes) = ran(&report, Destination::Agol);
    let warning = notes
        .iter()
        .find(|n| n.contains("contact_email is no longer written"));
    assert!(
        full && warning.is_some_and(|w| w.contains("add field email")),
        "{notes:?}"
    );

    // The change is stored with the fingerprint, once: the next sync is incremental again.
    let rows = states(&env).await;
    let staging = rows
        .iter()
        .find(|r| r.destination == Destination::Postgrest)
        .unwrap();
    assert_eq!(staging.schema_change.as_deref(), Some(why));
    // `aks status` shows it per stage.
    let status = sync::Status::read(&env.pg_client, "app", APP_ID, &[plan(&env)])
        .await
        .unwrap();
    let per_dest = &status.containers["view_1"];
    let shown = per_dest["postgrest"].schema_change.as_deref().unwrap_or("");
    assert!(shown.ends_with(&format!(": {why}")), "{shown}");
    let shown = per_dest["socrata"].schema_change.as_deref().unwrap_or("");
    assert!(shown.contains("gained column email"), "{shown}");
    let report = sync(&env).await;
    for dest in [
        Destination::Postgrest,
        Destination::Socrata,
        Destination::Agol,
    ] {
        assert!(!ran(&report, dest.clone()).0, "{dest} ran in full again");
    }
}

#[tokio::test]
async fn a_field_added_to_the_view_is_staged_for_every_record_and_published_to_every_row() {
    let env = Env::start().await;
    sync(&env).await;

    // field_22 ("Internal Comments") is added to view_1: Knack now sends it with every record,
    // and both destinations get a column for it.
    env.knack.set_metadata(metadata_with(|m| {
        let view = &mut m["application"]["scenes"][0]["views"][0];
        let columns = view["columns"].as_array_mut().unwrap();
        columns.insert(
            0,
            json!({"header": "Internal Comments", "type": "field", "field": {"key": "field_22"}}),
        );
    }));
    let records: Vec<Value> = fixture_records()
        .into_iter()
        .map(|mut r| {
            let note = format!("comment on {}", r["id"].as_str().unwrap());
            r["field_22"] = json!(note);
            r["field_22_raw"] = json!(note);
            r
        })
        .collect();
    env.knack.set_records(&e2e_common::container(), records);
    env.socrata.add_column(DATASET, "internal_comments", "text");
    env.agol.set_field(
        e2e_common::LAYER,
        json!({"name": "internal_comments", "type": "esriFieldTypeString", "length": 255}),
    );
    let report = sync(&env).await;

    let staged = env.staged_records();
    assert_eq!(staged.len(), knack_etl::testkit::RECORDS);
    for (id, record) in &staged {
        assert_eq!(
            record["field_22"],
            json!(format!("comment on {id}")),
            "staged {id}"
        );
    }
    for (id, row) in env.socrata_rows() {
        assert_eq!(
            row["internal_comments"],
            json!(format!("comment on {id}")),
            "row {id}"
        );
    }
    let features = env.agol_features();
    assert_eq!(features.len(), knack_etl::testkit::RECORDS);
    for (id, f) in features {
        assert_eq!(
            f.attributes["internal_comments"],
            json!(format!("comment on {id}"))
        );
    }
    let (full, notes) = ran(&report, Destination::Postgrest);
    assert!(
        full && notes
            .iter()
            .any(|n| n.contains(r#"field_22 "Internal Comments" added"#))
    );
}

#[tokio::test]
async fn a_column_added_to_the_dataset_republishes_only_that_destination_in_full() {
    let env = Env::start().await;
    sync(&env).await;
    env.socrata.add_column(DATASET, "contact_email", "text");
    env.agol.clear_requests();
    let report = sync(&env).await;

    let rows = env.socrata_rows();
    for (id, email) in emails() {
        let got = rows[&id]
            .get("contact_email")
            .and_then(Value::as_str)
            .unwrap_or("");
        assert!(
            got.contains(email.as_str()),
            "row {id}: contact_email {got:?}"
        );
    }
    let (full, notes) = ran(&report, Destination::Socrata);
    let why = "socrata acc1-0001 gained column contact_email";
    assert!(full && notes.iter().any(|n| n.contains(why)), "{notes:?}");
    assert!(
        !ran(&report, Destination::Postgrest).0,
        "Knack is not read again"
    );
    assert!(
        !ran(&report, Destination::Agol).0,
        "the layer is not republished"
    );
    assert!(env.agol.requests_for("applyEdits").is_empty());
    let rows = states(&env).await;
    let socrata = rows
        .iter()
        .find(|r| r.destination == Destination::Socrata)
        .unwrap();
    assert_eq!(socrata.schema_change.as_deref(), Some(why));
}

#[tokio::test]
async fn a_field_type_change_reloads_and_republishes_and_a_dry_run_says_so_first() {
    let env = Env::start().await;
    sync(&env).await;
    env.knack.set_metadata(metadata_with(|m| {
        field(m, "field_3")["type"] = json!("short_text");
    }));
    let why = "field_3 type number -> short_text";

    let report = sync_with(&env, true).await;
    for dest in [
        Destination::Postgrest,
        Destination::Socrata,
        Destination::Agol,
    ] {
        let (full, notes) = ran(&report, dest.clone());
        let said = notes
            .iter()
            .any(|n| n.starts_with("dry run: would") && n.contains(why));
        assert!(full && said, "{dest}: {notes:?}");
    }
    let stored = states(&env).await;
    assert!(
        stored.iter().all(|r| r.schema_change.is_none()),
        "a dry run stores nothing"
    );

    let report = sync(&env).await;
    for dest in [
        Destination::Postgrest,
        Destination::Socrata,
        Destination::Agol,
    ] {
        let (full, notes) = ran(&report, dest.clone());
        assert!(
            full && notes.iter().any(|n| n.contains(why)),
            "{dest}: {notes:?}"
        );
    }
}

#[tokio::test]
async fn with_no_schema_change_an_incremental_sync_makes_the_same_requests_as_before() {
    let env = Env::start().await;
    sync(&env).await;
    sync(&env).await;
    env.knack.clear_requests();
    env.pg.clear_requests();
    env.socrata.clear_requests();
    env.agol.clear_requests();
    let report = sync(&env).await;
    for dest in [
        Destination::Postgrest,
        Destination::Socrata,
        Destination::Agol,
    ] {
        assert!(!ran(&report, dest).0);
    }
    // What this sync made before fingerprints existed (measured on main a509a09 with the same
    // scenario): Knack the metadata and one page of records; Socrata the preflight, the
    // publisher's read of the dataset and the repair's count; ArcGIS 10; the staging store 21.
    // The sync now reads the dataset and layer once before the stages and hands them to the
    // publishers instead of their own read, and each stage's fingerprint comes back with the
    // upsert that opens it: no request more anywhere, none to a table of fingerprints.
    let counts = (
        env.knack.requests().len(),
        env.socrata.requests().len(),
        env.agol.requests().len(),
    );
    assert_eq!(counts, (2, 3, 10), "knack, socrata, agol");
    let paths: Vec<String> = env.pg.requests().into_iter().map(|r| r.path).collect();
    assert!(
        paths
            .iter()
            .all(|p| ["/knack", "/knack_metadata", "/knack_sync_state"].contains(&p.as_str())),
        "{paths:?}"
    );
    assert_eq!(env.pg.requests().len(), 21);
}

/// The requests to `api.knack_sync_state` since the last clear, as `METHOD path`.
fn sync_state_requests(env: &Env) -> Vec<String> {
    let requests = env.pg.requests().into_iter();
    let state = requests.filter(|r| r.path != "/knack" && r.path != "/knack_metadata");
    state.map(|r| format!("{} {}", r.method, r.path)).collect()
}

#[tokio::test]
async fn a_sync_after_a_schema_change_reads_and_stores_fingerprints_only_in_its_stages_own_upserts()
{
    let env = Env::start().await;
    sync(&env).await;
    sync(&env).await;
    env.pg.clear_requests();
    sync(&env).await;
    let unchanged = sync_state_requests(&env);
    // Each of the three stages: the upsert that opens it and the one that closes it.
    assert_eq!(unchanged, vec!["POST /knack_sync_state"; 6]);

    env.knack.set_metadata(metadata_with(|m| {
        field(m, "field_11")["name"] = json!("Email");
    }));
    env.socrata.add_column(DATASET, "email", "text");
    env.pg.clear_requests();
    let report = sync(&env).await;
    assert!(ran(&report, Destination::Postgrest).0 && ran(&report, Destination::Socrata).0);
    assert_eq!(sync_state_requests(&env), unchanged, "no request more");
    // The closes stored the new fingerprints and what changed.
    let rows = states(&env).await;
    assert_eq!(rows.len(), 3);
    for row in &rows {
        let print = row.schema_fingerprint.as_ref().unwrap();
        let labels: Vec<&str> = print["fields"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["label"].as_str())
            .collect();
        assert!(labels.contains(&"Email"), "{}: {labels:?}", row.destination);
        let change = row.schema_change.as_deref().unwrap_or("");
        assert!(change.contains("renamed"), "{}: {change}", row.destination);
        assert_eq!(
            row.schema_changed_at, row.last_run_at,
            "{}",
            row.destination
        );
    }
}

#[tokio::test]
async fn a_per_stage_command_after_a_schema_change_runs_in_full_and_records_it() {
    use knack_etl::sync::{run_stage, StageClients};
    use knack_etl::RunOptions;
    let env = Env::start().await;
    sync(&env).await;
    env.socrata.add_column(DATASET, "contact_email", "text");
    let clients = StageClients {
        pgrest: &env.pg_client,
        knack: None,
        socrata: Some(&env.socrata_client),
        agol: None,
    };
    // `records-to-socrata -d <now>`: incremental as asked, but the new column needs every row.
    let options = RunOptions {
        since: Some(chrono::Utc::now()),
        ..RunOptions::default()
    };
    let report = run_stage(clients, APP_ID, &plan(&env), Destination::Socrata, &options)
        .await
        .unwrap();
    assert_eq!(report.written, knack_etl::testkit::RECORDS as u64);
    assert!(report
        .notes
        .iter()
        .any(|n| n.contains("gained column contact_email")));
    let with_email = env
        .socrata_rows()
        .values()
        .filter(|r| r.contains_key("contact_email"))
        .count();
    assert_eq!(with_email, emails().len());
    // Stored: the next sync is incremental.
    let report = sync(&env).await;
    assert!(!ran(&report, Destination::Socrata).0);
}
