//! Helpers of the `sync` and `status` tests: the real binary run, the summary table read back,
//! watermark rows, records changed in Knack.

use std::collections::BTreeSet;
use std::process::Output;

use chrono::Utc;
use knack_etl::knack_client::Container;
use knack_etl::socrata_client::testkit::FakeSocrata;
use serde_json::{json, Value};

use super::{
    assert_no_secret, fixture, stderr, Fakes, APP, DATASET, SOCRATA_API_KEY_ID,
    SOCRATA_API_KEY_SECRET, VIEW,
};

pub const SYNC: &[&str] = &["sync", "-a", APP, "-e", "dev"];
pub const VERIFY: &[&str] = &[
    "status", "-a", APP, "-e", "dev", "--verify", "--format", "json",
];

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub async fn run(fakes: &Fakes, args: &[&str], code: i32) -> Output {
    let out = fakes.run(args).await;
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}:\nstdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_no_secret(&out);
    out
}

/// The summary row of `container`/`stage` as cells: container, stage, since, read, written,
/// deleted, rejected, seconds, result.
pub fn row(out: &Output, container: &str, stage: &str) -> Vec<String> {
    stdout(out)
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .find(|c| c.len() >= 9 && c[0] == container && c[1] == stage)
        .unwrap_or_else(|| panic!("no {container}/{stage} row in:\n{}", stdout(out)))
}

/// read, written, deleted of a summary row.
pub fn counts(out: &Output, container: &str, stage: &str) -> [u64; 3] {
    let r = row(out, container, stage);
    [3, 4, 5].map(|i| r[i].parse().unwrap())
}

/// The watermark row of one stage of the fixture view.
pub fn state(fakes: &Fakes, destination: &str) -> Value {
    fakes
        .pg
        .rows("knack_sync_state")
        .into_iter()
        .find(|r| r["container_id"] == VIEW && r["destination"] == destination)
        .unwrap_or_else(|| panic!("no {destination} row in knack_sync_state"))
}

/// Changes `n` of the fixture view's records in Knack: a new name and today's modified date.
pub fn change_in_knack(fakes: &Fakes, n: usize) -> BTreeSet<String> {
    let today = Utc::now()
        .with_timezone(&chrono_tz::America::Chicago)
        .format("%m/%d/%Y")
        .to_string();
    let mut records = fixture("records_view_1.json").as_array().unwrap().clone();
    let mut changed = BTreeSet::new();
    for r in records.iter_mut().take(n) {
        r["field_21_raw"]["date"] = json!(today);
        r["field_1"] = json!("CHANGED");
        r["field_1_raw"] = json!("CHANGED");
        changed.insert(r["id"].as_str().unwrap().to_string());
    }
    fakes
        .knack
        .set_records(&Container::view("scene_1", VIEW).unwrap(), records);
    changed
}

/// Ids in the rows the Socrata fake was sent by upserts (deletes left out) since its log was last cleared.
pub fn socrata_upserted_ids(fakes: &Fakes) -> BTreeSet<String> {
    fakes
        .socrata
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .flat_map(|r| FakeSocrata::body_rows(&r))
        .filter(|row| row.get(":deleted").is_none())
        .filter_map(|row| row["id"].as_str().map(str::to_string))
        .collect()
}

/// Deletes the first `n` rows of the fixture dataset behind aks's back (drift); their ids.
pub async fn delete_from_socrata(fakes: &Fakes, n: usize) -> Vec<String> {
    let gone: Vec<String> = fakes.socrata.rows(DATASET)[..n]
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    socrata_client(fakes)
        .delete(DATASET, "id", &gone)
        .await
        .unwrap();
    gone
}

pub fn socrata_client(fakes: &Fakes) -> knack_etl::socrata_client::Client {
    fakes
        .socrata
        .client_builder()
        .api_key(SOCRATA_API_KEY_ID, SOCRATA_API_KEY_SECRET)
        .build()
        .unwrap()
}

/// Marks the fixture dataset `no_replace_socrata` in the fakes' config.
pub fn mark_no_replace(fakes: &Fakes) {
    let config = std::fs::read_to_string(&fakes.config).unwrap();
    let config = config.replace(
        &format!("socrata_resource_id = \"{DATASET}\"\n"),
        &format!("socrata_resource_id = \"{DATASET}\"\nno_replace_socrata = true\n"),
    );
    std::fs::write(&fakes.config, config).unwrap();
}

/// Makes the fixture view a busy one: its 60 records and `copies` more (the fixture's, cycled,
/// each under a new id), so a full read takes two pages of 1,000. Returns every id, in order.
pub fn busy_view(fakes: &Fakes, copies: usize) -> Vec<String> {
    let fixture = fixture("records_view_1.json").as_array().unwrap().clone();
    let mut records = fixture.clone();
    for n in 0..copies {
        let mut copy = fixture[n % fixture.len()].clone();
        copy["id"] = json!(format!("b{n:023x}"));
        records.push(copy);
    }
    let ids = records
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    fakes
        .knack
        .set_records(&Container::view("scene_1", VIEW).unwrap(), records);
    ids
}

/// Someone deletes record `id` just before Knack answers page `page` of the view: every later
/// record moves up one place, and the first record of that page lands on a page already read.
pub fn delete_before_page(fakes: &Fakes, page: u32, id: &str) {
    let id = id.to_string();
    fakes.knack.before_page(
        &Container::view("scene_1", VIEW).unwrap(),
        page,
        move |records| {
            assert!(records.delete(&id), "{id} is not in the view");
        },
    );
}

/// The ids staged for the fixture view, sorted.
pub fn staged_ids(fakes: &Fakes) -> Vec<String> {
    fakes.staged_records().into_keys().collect()
}
