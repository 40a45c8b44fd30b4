//! `sync::run_stage`: one stage of a plan outside a sync, as a per-stage command runs it, with
//! its watermark recorded; a stage the plan or the clients cannot run is refused before any
//! request.

mod e2e_common;

use e2e_common::{container, Env, APP_ID, LOCATION_FIELD, MODIFIED_FIELD, VIEW};
use knack_etl::sync::{run_stage, Destination, StageClients, SyncPlan, Watermarks};
use knack_etl::testkit::RECORDS;
use knack_etl::{Error, RunOptions};

const RECORDS_STAGED: u64 = RECORDS as u64;

fn plan(env: &Env) -> SyncPlan {
    SyncPlan {
        container: container(),
        modified_date_field: MODIFIED_FIELD.into(),
        location_fields: vec![LOCATION_FIELD.into()],
        socrata: Some(env.socrata_target()),
        agol: None,
        knack: Vec::new(),
    }
}

#[tokio::test]
async fn the_staging_load_and_a_publisher_run_and_record_their_watermarks() {
    let env = Env::start().await;
    env.metadata(false).await.unwrap();
    let clients = StageClients {
        pgrest: &env.pg_client,
        knack: Some(&env.knack_client),
        socrata: Some(&env.socrata_client),
        agol: None,
    };
    let (plan, opts) = (plan(&env), RunOptions::default());
    let staged = run_stage(clients, APP_ID, &plan, Destination::Postgrest, &opts).await;
    assert_eq!(staged.unwrap().written, RECORDS_STAGED);
    let published = run_stage(clients, APP_ID, &plan, Destination::Socrata, &opts).await;
    assert_eq!(published.unwrap().written, RECORDS_STAGED);
    assert_eq!(env.socrata_rows().len(), RECORDS);
    let states = Watermarks::new(env.pg_client.clone(), APP_ID)
        .all()
        .await
        .unwrap();
    let mut stages: Vec<_> = states
        .iter()
        .filter(|s| s.container_id == VIEW && s.last_result.as_deref() == Some("succeeded"))
        .map(|s| s.destination.as_str().to_owned())
        .collect();
    stages.sort();
    assert_eq!(stages, ["postgrest", "socrata"]);
}

#[tokio::test]
async fn a_stage_without_its_target_or_client_is_refused_before_any_request() {
    let env = Env::start().await;
    let clients = StageClients {
        pgrest: &env.pg_client,
        knack: None,
        socrata: None,
        agol: Some(&env.agol_client),
    };
    let opts = RunOptions::default();
    let before = env.request_count();
    for destination in [
        Destination::Postgrest,
        Destination::Socrata,
        Destination::Agol,
        Destination::knack("other"),
    ] {
        let failure = run_stage(clients, APP_ID, &plan(&env), destination, &opts)
            .await
            .unwrap_err();
        assert!(
            matches!(*failure.error, Error::Refused(_)),
            "{}",
            failure.error
        );
    }
    assert_eq!(env.request_count(), before);
}
