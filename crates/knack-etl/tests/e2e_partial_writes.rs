//! A batch that fails part-way is reported as it happened: the rows of the requests that
//! succeeded are written, only the rest failed, and the error is the destination's own.

mod e2e_common;

use e2e_common::{synthetic_record, Env};
use knack_etl::Error;
use knack_etl::RunOptions;
use serde_json::{json, Value};
use socrata_client::testkit::Fault;

fn revised(n: usize) -> Value {
    let mut record = synthetic_record(n);
    record["field_1"] = json!(format!("Signal {n} revised"));
    record
}

#[tokio::test]
async fn postgrest_failing_on_the_second_request_of_a_batch_counts_the_other_requests_as_written() {
    let env = Env::start().await;
    let container = e2e_common::container();
    env.knack
        .set_records(&container, (0..600).map(synthetic_record).collect());
    env.stage(&RunOptions::default()).await.unwrap();

    // One Knack page of 600 records: one batch, upserted as 3 requests of 200 rows, all in flight
    // at once. Record 299 appears twice in the second request, which Postgres refuses for rows
    // that already exist (400 "cannot affect row a second time", not retried).
    let mut records: Vec<Value> = (0..600).map(revised).collect();
    records[300] = revised(299);
    env.knack.set_records(&container, records);
    env.pg.clear_requests();

    let failure = env.stage(&RunOptions::default()).await.unwrap_err();

    let Error::Postgrest(err) = &*failure.error else {
        panic!("the PostgREST error itself: {failure}")
    };
    assert_eq!(err.status(), Some(400), "{err}");
    assert!(!failure.error.is_retryable());
    let r = &failure.report;
    assert_eq!(
        (r.read, r.written, r.failed, r.deleted),
        (600, 400, 200, 0),
        "{r}"
    );
    let posts = env
        .pg
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 3);
    assert!(env.pg.requests().iter().all(|r| r.method != "DELETE"));

    // What the report calls written really is: requests 1 and 3 were applied, request 2 not.
    let staged = env.staged_records();
    for n in (0..600).filter(|n| *n != 300) {
        let id = format!("{n:024x}");
        let revised = staged[&id]["field_1"] == json!(format!("Signal {n} revised"));
        assert_eq!(revised, !(200..400).contains(&n), "record {n}");
    }
}

#[tokio::test]
async fn socrata_failing_on_the_second_post_counts_the_first_as_written() {
    let env = Env::start().await.staged().await;
    let socrata = env.socrata.client_builder().batch_size(20).build().unwrap();
    // The 60 staged records go to Socrata as one batch of 3 POSTs of 20 rows, sent one by one.
    // The fake's faults apply to the next matching requests, so the first POST gets a canned
    // success (standing in for a request that worked) and the second a permanent 403 (a 400 or
    // `Errors` would be about the rows, and the sink would narrow it down instead).
    env.socrata.inject(
        Fault::status(200)
            .body(
                json!({"Rows Created": 20, "Rows Updated": 0, "Rows Deleted": 0, "Errors": 0})
                    .to_string(),
            )
            .on_method("POST"),
    );
    env.socrata.inject(Fault::status(403).on_method("POST"));

    let failure = knack_etl::socrata::records_to_socrata(
        &env.pg_client,
        &socrata,
        &env.publication(),
        &env.socrata_target(),
        &RunOptions::default(),
    )
    .await
    .unwrap_err();

    let Error::Socrata(err) = &*failure.error else {
        panic!("the Socrata error itself: {failure}")
    };
    assert_eq!(err.status(), Some(403), "{err}");
    let r = &failure.report;
    assert_eq!(
        (r.read, r.written, r.failed, r.deleted),
        (60, 20, 40, 0),
        "{r}"
    );
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("keeps its previous records")),
        "{:?}",
        r.notes
    );
    let (_, writes, _) = env.writes();
    assert_eq!(
        writes.len(),
        2,
        "the third POST and the deletes never sent: {writes:?}"
    );
}
