//! A full reload never drops a record Knack still has (issue #30): the staged records a read did
//! not return are confirmed gone with Knack before they are deleted, and those Knack still has
//! (missing only because a page shifted under the read) are staged again.
//!
//! The fake Knack computes every page when it is asked for, as Knack does, and runs a test's
//! change to the records just before it answers a given page (`FakeKnack::before_page`).

use std::collections::BTreeMap;

use knack_etl::knack_client::testkit::{FakeKnack, RecordBuilder};
use knack_etl::knack_client::{Client, Container, SortOrder};
use knack_etl::pgrest_client::testkit::FakePostgrest;
use knack_etl::staging::records_to_postgrest;
use knack_etl::{RunOptions, RunReport};
use serde_json::{json, Value};

const APP: &str = "5f0000000000000000000001";
const MODIFIED: &str = "field_2";

struct Env {
    knack: FakeKnack,
    client: Client,
    pg: FakePostgrest,
    pgc: knack_etl::pgrest_client::Client,
}

impl Env {
    async fn start() -> Self {
        Self::with_pages_at_once(4).await
    }

    /// A client reading `n` pages at once (4 by default). At 1, a change made before page N is
    /// answered falls exactly between pages N-1 and N, however the fake schedules requests.
    async fn with_pages_at_once(n: usize) -> Self {
        let knack = FakeKnack::start().await;
        // The client's own limiter keeps it at 10 a second.
        knack.set_rate_limit(None);
        let client = knack.client_builder().page_concurrency(n).build().unwrap();
        let pg = FakePostgrest::staging("jwt").await;
        let pgc = pg.client_builder().build().unwrap();
        Self {
            knack,
            client,
            pg,
            pgc,
        }
    }

    /// A full reload (`aks records-to-postgrest` without `--date`).
    async fn reload(&self, container: &Container) -> RunReport {
        records_to_postgrest(
            &self.client,
            &self.pgc,
            container,
            Some(MODIFIED),
            &RunOptions::default(),
        )
        .await
        .unwrap()
    }

    /// The staged rows of `container`: record id → record, and how many rows there are.
    fn staged(&self, container: &Container) -> (BTreeMap<String, Value>, usize) {
        let rows: Vec<Value> = self
            .pg
            .rows("knack")
            .into_iter()
            .filter(|r| r["app_id"] == APP && r["container_id"] == container.id())
            .collect();
        let n = rows.len();
        let by_id = rows
            .into_iter()
            .map(|r| {
                (
                    r["record_id"].as_str().unwrap().to_string(),
                    r["record"].clone(),
                )
            })
            .collect();
        (by_id, n)
    }

    /// What Knack holds for `container`: record id → record.
    fn in_knack(&self, container: &Container) -> BTreeMap<String, Value> {
        self.knack
            .records(container)
            .into_iter()
            .map(|r| (r.id().to_string(), Value::Object(r.into_raw())))
            .collect()
    }

    /// Asserts that the staging store holds exactly what Knack holds, one row a record.
    fn assert_in_step(&self, container: &Container) {
        let (staged, rows) = self.staged(container);
        let knack = self.in_knack(container);
        assert_eq!(rows, staged.len(), "a record is staged once");
        let missing: Vec<&String> = knack
            .keys()
            .filter(|id| !staged.contains_key(*id))
            .collect();
        let extra: Vec<&String> = staged
            .keys()
            .filter(|id| !knack.contains_key(*id))
            .collect();
        assert!(missing.is_empty(), "Knack has, not staged: {missing:?}");
        assert!(extra.is_empty(), "staged, not in Knack: {extra:?}");
        let stale: Vec<&String> = knack
            .iter()
            .filter(|(id, r)| staged[*id] != **r)
            .map(|(id, _)| id)
            .collect();
        assert!(stale.is_empty(), "staged as an older version: {stale:?}");
    }

    /// Knack list and single-record requests since the log was cleared.
    fn knack_requests(&self) -> (usize, usize) {
        let requests = self.knack.requests();
        let lists = requests
            .iter()
            .filter(|r| r.path.ends_with("/records"))
            .count();
        (lists, requests.len() - lists)
    }
}

/// Record `n`: a 24-hex id, a name, and a modified date `minute` minutes into 2024.
fn record(n: usize, minute: i64) -> Value {
    let modified = chrono::NaiveDate::from_ymd_opt(2024, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        + chrono::Duration::minutes(minute);
    RecordBuilder::new(format!("{n:024x}"))
        .field("field_1", format!("Signal {n}"))
        .date_time(MODIFIED, modified, true)
        .to_json()
}

fn records(n: usize) -> Vec<Value> {
    (0..n).map(|i| record(i, i as i64)).collect()
}

fn object() -> Container {
    Container::object("object_1").unwrap()
}

fn view() -> Container {
    Container::view("scene_1", "view_1").unwrap()
}

/// An object of `n` records, staged by a first full reload; the request log cleared.
async fn staged_object(n: usize) -> Env {
    let env = Env::start().await;
    env.knack.set_records(&object(), records(n));
    let first = env.reload(&object()).await;
    assert_eq!((first.written, first.deleted), (n as u64, 0));
    env.knack.clear_requests();
    env
}

#[tokio::test]
async fn a_record_deleted_on_page_1_during_a_30_page_read_leaves_every_other_record_staged() {
    let env = staged_object(30_000).await;
    let doomed = format!("{:024x}", 17);
    let gone = doomed.clone();
    // A person deletes a record of page 1 while the read is at page 9: every later record moves
    // up one place, and the first record of page 9 is now the last of page 8, already read.
    env.knack.before_page(&object(), 9, move |records| {
        assert!(records.delete(&gone));
    });
    let report = env.reload(&object()).await;

    env.assert_in_step(&object());
    let (staged, _) = env.staged(&object());
    assert_eq!(staged.len(), 29_999);
    assert!(!staged.contains_key(&doomed), "the deleted record is gone");
    assert_eq!(report.deleted, 1, "{report}");
    assert!(
        report.recovered >= 1,
        "a record only missing from a shifted page is staged again: {report}"
    );
    let note = report.notes.join("; ");
    assert!(
        note.contains("total_records moved from 30000 to 29999"),
        "{note}"
    );
    // total_records moved, so the container was read again (30 pages), and the one record
    // missing from both reads was looked up (404).
    let (lists, lookups) = env.knack_requests();
    assert_eq!((lists, lookups), (30 + 30, 1), "{note}");
}

#[tokio::test]
async fn a_record_created_during_the_read_is_staged_once() {
    let env = staged_object(30_000).await;
    // Created at the front of the read's order: every later record moves down one place, one
    // is read twice and the new one was on a page already read.
    env.knack.before_page(&object(), 9, |records| {
        records.insert(0, record(900_000, -1));
    });
    let report = env.reload(&object()).await;

    env.assert_in_step(&object());
    let (staged, rows) = env.staged(&object());
    assert_eq!((staged.len(), rows), (30_001, 30_001));
    assert!(staged.contains_key(&format!("{:024x}", 900_000)));
    assert_eq!(report.deleted, 0, "{report}");
    // The new record, and the old last one: pushed onto a 31st page the read (30 pages, as page
    // 1 said) never asked for. total_records moved, so the container was read again (31 pages).
    assert_eq!(report.recovered, 2, "{report}");
    assert_eq!(env.knack_requests(), (30 + 31, 0));

    // Created after the others, as Knack does: the read returns it once, nothing to confirm.
    env.knack.clear_requests();
    env.knack.before_page(&object(), 9, |records| {
        records.push(record(900_001, 1_000_000));
    });
    let report = env.reload(&object()).await;
    env.assert_in_step(&object());
    assert_eq!(env.staged(&object()).1, 30_002);
    assert_eq!(report.deleted, 0, "{report}");
}

#[tokio::test]
async fn records_edited_during_a_read_of_a_view_sorted_by_modified_date_are_all_staged() {
    // One page at a time: a record edited after its page was read is simply staged in its older
    // version (the next incremental run brings the new one); this test is about the others.
    let env = Env::with_pages_at_once(1).await;
    env.knack.set_records(&view(), records(5_000));
    // The view shows the last modified first: an edit moves a record to the front.
    env.knack.sort_by(&view(), MODIFIED, SortOrder::Desc);
    env.reload(&view()).await;
    env.knack.clear_requests();

    // While the read is at page 3, people edit five records of pages 3 to 5 (positions 2,500
    // to 4,500 of the newest-first order).
    let edited: Vec<usize> = vec![2_400, 2_000, 1_500, 900, 500];
    let ids = edited.clone();
    env.knack.before_page(&view(), 3, move |records| {
        for (k, n) in ids.iter().enumerate() {
            let fresh = record(*n, 100_000 + k as i64);
            let mut fields = fresh.as_object().unwrap().clone();
            fields.insert("field_1".into(), json!(format!("Signal {n}, edited")));
            fields.insert("field_1_raw".into(), json!(format!("Signal {n}, edited")));
            assert!(records.update(&format!("{n:024x}"), fields));
        }
    });
    let report = env.reload(&view()).await;

    // Each edited record moved to page 1, already read: only the confirmation found them.
    env.assert_in_step(&view());
    let (staged, _) = env.staged(&view());
    for n in &edited {
        assert_eq!(
            staged[&format!("{n:024x}")]["field_1"],
            json!(format!("Signal {n}, edited"))
        );
    }
    assert_eq!(report.deleted, 0, "{report}");
    assert_eq!(report.recovered as usize, edited.len(), "{report}");
    // A view is confirmed by a second read (Knack documents no single-record GET for views).
    assert_eq!(env.knack_requests(), (5 + 5, 0));
}

#[tokio::test]
async fn a_thousand_true_deletions_are_confirmed_by_one_more_read() {
    let env = staged_object(30_000).await;
    // Deleted in Knack between two runs: every 30th record.
    env.knack.edit(&object(), |records| {
        for n in (0..30_000).step_by(30) {
            assert!(records.delete(&format!("{n:024x}")));
        }
    });
    let report = env.reload(&object()).await;

    env.assert_in_step(&object());
    assert_eq!(report.deleted, 1_000, "{report}");
    assert_eq!(report.recovered, 0, "{report}");
    // 29 pages read, then 29 more to confirm: 1,000 candidates cost more one by one than a read.
    assert_eq!(env.knack_requests(), (29 + 29, 0));
    let note = report.notes.join("; ");
    assert!(
        note.contains("29 request(s): 0 single-record read(s), 1 more read(s)"),
        "{note}"
    );
}

#[tokio::test]
async fn a_few_deletions_are_confirmed_one_record_at_a_time() {
    let env = staged_object(3_000).await;
    env.knack.edit(&object(), |records| {
        for n in [5, 1_500, 2_999] {
            assert!(records.delete(&format!("{n:024x}")));
        }
    });
    let report = env.reload(&object()).await;

    env.assert_in_step(&object());
    assert_eq!(report.deleted, 3, "{report}");
    // 3 pages read, then one GET a candidate (each answered 404).
    assert_eq!(env.knack_requests(), (3, 3));
    let lookups: Vec<u16> = env
        .knack
        .requests()
        .iter()
        .filter(|r| !r.path.ends_with("/records"))
        .map(|r| r.status)
        .collect();
    assert_eq!(lookups, [404, 404, 404]);
}

#[tokio::test]
async fn a_view_whose_reads_all_move_keeps_what_it_cannot_confirm() {
    let env = Env::with_pages_at_once(1).await;
    env.knack.set_records(&view(), records(3_000));
    env.reload(&view()).await;
    env.knack.clear_requests();
    // A record deleted between the runs, and people creating records during every read.
    let doomed = format!("{:024x}", 10);
    env.knack
        .edit(&view(), |records| assert!(records.delete(&doomed)));
    for k in 0..3 {
        env.knack.before_page(&view(), 2, move |records| {
            records.insert(0, record(800_000 + k, -1));
        });
    }
    let report = env.reload(&view()).await;

    let (staged, _) = env.staged(&view());
    assert!(
        staged.contains_key(&doomed),
        "missing only from reads that moved: kept, not deleted"
    );
    assert_eq!(report.deleted, 0, "{report}");
    let note = report.notes.join("; ");
    assert!(note.contains("1 kept"), "{note}");
    // The records created during the run's read and the first confirming read were found by
    // the next read and staged; the one created during the last read waits for the next run.
    for n in [800_000, 800_001] {
        assert!(staged.contains_key(&format!("{n:024x}")), "{n} not staged");
    }
    assert_eq!(env.knack_requests(), (3 + 3 + 4, 0));
}
