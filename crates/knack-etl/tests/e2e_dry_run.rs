//! A dry run reads and transforms everything and writes nothing anywhere.

mod e2e_common;

use e2e_common::{fixture, Env};
use knack_etl::RunOptions;
use serde_json::json;
use socrata_client::testkit::FakeDataset;

#[tokio::test]
async fn a_dry_run_of_every_pipeline_writes_nothing() {
    // Staged data and a Socrata row the source lacks, so a real replace would write and delete.
    let env = Env::start().await.staged().await;
    env.socrata.add_dataset(
        FakeDataset::from_metadata(&fixture("socrata_dataset.json"))
            .rows([json!({"id": "gone-1", "location_name": "removed from Knack"})]),
    );
    let mut old = agol_client::Feature::default();
    old.attributes.insert("id".into(), json!("gone-1"));
    env.agol.seed(e2e_common::LAYER, [old]);
    let mut records = e2e_common::fixture_records();
    records.truncate(30);
    env.knack.set_records(&e2e_common::container(), records);

    let staged_before = env.staged_records();
    let metadata_before = env.pg.rows("knack_metadata");
    let socrata_before = env.socrata_rows();
    let agol_before = env.agol_features();
    env.pg.clear_requests();
    env.socrata.clear_requests();

    let dry = RunOptions {
        dry_run: true,
        ..RunOptions::default()
    };
    let metadata = env.metadata(true).await.unwrap();
    let staged = env.stage(&dry).await.unwrap();
    let socrata = env.to_socrata(&dry).await.unwrap();
    let agol = env.to_agol(10, &dry).await.unwrap();

    // Everything was read and transformed...
    // ...and counted as "would write" (the report's dry_run flag), never as skipped.
    assert_eq!(
        (metadata.read, metadata.written, metadata.dry_run),
        (1, 1, true)
    );
    assert!(
        metadata.to_string().contains("would write 1 (dry run)"),
        "{metadata}"
    );
    assert!(staged.dry_run && socrata.dry_run && agol.dry_run);
    assert!(
        staged.to_string().contains("would write 30 (dry run)"),
        "{staged}"
    );
    assert_eq!(
        (staged.read, staged.written, staged.skipped, staged.deleted),
        (30, 30, 0, 0)
    );
    assert_eq!(
        (
            socrata.read,
            socrata.written,
            socrata.skipped,
            socrata.deleted
        ),
        (60, 60, 0, 0)
    );
    assert_eq!(
        (agol.read, agol.written, agol.skipped, agol.deleted),
        (60, 60, 0, 0)
    );

    // ...and nothing was sent that writes.
    let (pg_writes, socrata_writes, agol_writes) = env.writes();
    assert!(pg_writes.is_empty(), "PostgREST writes: {pg_writes:?}");
    assert!(
        socrata_writes.is_empty(),
        "Socrata writes: {socrata_writes:?}"
    );
    assert!(agol_writes.is_empty(), "AGOL writes: {agol_writes:?}");
    assert!(!env.pg.requests().is_empty() && !env.socrata.requests().is_empty());

    assert_eq!(env.staged_records(), staged_before);
    assert_eq!(env.pg.rows("knack_metadata"), metadata_before);
    assert_eq!(env.socrata_rows(), socrata_before);
    assert_eq!(env.agol_features(), agol_before);
}
