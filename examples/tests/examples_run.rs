//! Runs every example's logic, as CI must, and checks what it did: an
//! example that compiles but no longer works would mislead a newcomer.

// The per-client examples are self-contained files; their `run` functions are
// called here, their `main`s are not.
#[allow(dead_code)]
#[path = "../examples/agol_edits.rs"]
mod agol_edits;
#[allow(dead_code)]
#[path = "../examples/knack_records.rs"]
mod knack_records;
#[allow(dead_code)]
#[path = "../examples/pgrest_upsert.rs"]
mod pgrest_upsert;
#[allow(dead_code)]
#[path = "../examples/socrata_query.rs"]
mod socrata_query;

use knack_services_examples::demo;
use knack_services_examples::quickstart::{self, EDITED, RECORDS};

#[tokio::test]
async fn quickstart_moves_everything_then_exactly_the_edited_records() {
    let mut out = Vec::new();
    let summary = quickstart::run(&mut out)
        .await
        .expect("the quickstart runs");
    let text = String::from_utf8(out).unwrap();

    assert_eq!(summary.metadata.written, 1);
    let n = RECORDS as u64;
    for (step, report) in ["knack", "socrata", "agol"].iter().zip(&summary.full) {
        assert_eq!(
            (report.read, report.written, report.failed),
            (n, n, 0),
            "full {step}"
        );
    }
    let e = EDITED.len() as u64;
    for (step, report) in ["knack", "socrata", "agol"]
        .iter()
        .zip(&summary.incremental)
    {
        assert_eq!(
            (report.read, report.written, report.deleted),
            (e, e, 0),
            "incremental {step}"
        );
    }
    assert_eq!(summary.socrata_rows, RECORDS);
    assert_eq!(summary.agol_features, RECORDS);
    assert_eq!(summary.edits_published, EDITED.len());
    assert_eq!(summary.edited_ids, EDITED.map(demo::record_id).to_vec());

    // The incremental Knack read used the whole-day modified-date filter.
    let filter: serde_json::Value = serde_json::from_str(&summary.knack_filter).unwrap();
    assert_eq!(filter["match"], "or");
    assert_eq!(filter["rules"][0]["field"], demo::MODIFIED_FIELD);
    assert_eq!(filter["rules"][1]["operator"], "is after");

    // The field with no Socrata column was reported, not silently lost.
    assert!(text.contains("dropped: contact_email"), "{text}");
    assert!(text.contains("3 of 3 edits published to both"), "{text}");
}

#[tokio::test]
async fn knack_records_lists_the_filtered_records() {
    // Record i is a PHB when i % 3 == 1 and has 1 + (i / 3) % 6 lanes.
    let expected = (0..120usize)
        .filter(|i| i % 3 == 1 && 1 + (i / 3) % 6 > 2)
        .count();
    assert_eq!(expected, 26);
    let mut out = Vec::new();
    let count = knack_records::run(&mut out).await.unwrap();
    assert_eq!(count, expected, "{}", String::from_utf8_lossy(&out));
}

#[tokio::test]
async fn pgrest_upsert_pages_then_updates_one_row_and_inserts_two() {
    let mut out = Vec::new();
    let (pages, total) = pgrest_upsert::run(&mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    // 25 seeded rows, 6 with lanes = 0 (n % 4 == 0): 19 rows, in pages of 10.
    assert!(
        text.contains("19 rows with lanes >= 1 in 2 pages"),
        "{text}"
    );
    assert_eq!(pages, 2);
    assert_eq!(total, 27);
    assert!(text.contains(r#""lanes":6"#), "{text}");
}

#[tokio::test]
async fn socrata_query_reads_then_upserts() {
    let mut out = Vec::new();
    let (phb, total) = socrata_query::run(&mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(phb, 10, "{text}");
    assert_eq!(total, 31);
    assert!(text.contains("created 1, updated 1, errors 0"), "{text}");
}

#[tokio::test]
async fn agol_edits_queries_then_adds_updates_and_deletes() {
    let mut out = Vec::new();
    let (phb, total) = agol_edits::run(&mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(phb, 4, "{text}");
    // 12 seeded, one added, one deleted.
    assert_eq!(total, 12);
    assert!(text.contains("1 updated, 1 deleted"), "{text}");
}
