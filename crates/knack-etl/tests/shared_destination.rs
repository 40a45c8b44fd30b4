//! Two containers publishing to one Socrata dataset (the example config's two views): a full
//! replace of either removes only rows neither container still has.

mod e2e_common;

use e2e_common::{container, fixture_records, Env, DATASET, VIEW};
use knack_etl::knack_client::Container;
use knack_etl::socrata::{records_to_socrata, SocrataTarget};
use knack_etl::staging::{records_to_postgrest, Publication};
use knack_etl::RunOptions;
use knack_etl::{RunFailure, RunReport};

const OTHER: &str = "object_1";

fn target(shared_with: &str) -> SocrataTarget {
    SocrataTarget {
        resource_id: DATASET.into(),
        shared_with: vec![shared_with.into()],
        ..SocrataTarget::default()
    }
}

/// The view's records as the object reads them: every field of the object present (the view
/// hides `Internal Comments`).
fn object_records(records: &[serde_json::Value]) -> Vec<serde_json::Value> {
    records
        .iter()
        .cloned()
        .map(|mut r| {
            for key in ["field_22", "field_22_raw"] {
                if r.get(key).is_none() {
                    r[key] = serde_json::json!("");
                }
            }
            r
        })
        .collect()
}

/// The fixture's first 30 records staged under the view, the other 30 under the object.
async fn two_containers_staged() -> (Env, Vec<serde_json::Value>, Container) {
    let env = Env::start().await;
    let all = fixture_records();
    let other = Container::object(OTHER).unwrap();
    env.knack.set_records(&container(), all[..30].to_vec());
    env.knack.set_records(&other, object_records(&all[30..]));
    env.metadata(false).await.unwrap();
    env.stage(&RunOptions::default()).await.unwrap();
    stage_other(&env).await;
    (env, all, other)
}

async fn stage_other(env: &Env) -> RunReport {
    records_to_postgrest(
        &env.knack_client,
        &env.pg_client,
        &Container::object(OTHER).unwrap(),
        None,
        &RunOptions::default(),
    )
    .await
    .unwrap()
}

async fn replace(
    env: &Env,
    publication: &Publication,
    target: &SocrataTarget,
) -> Result<RunReport, RunFailure> {
    records_to_socrata(
        &env.pg_client,
        &env.socrata_client,
        publication,
        target,
        &RunOptions::default(),
    )
    .await
}

#[tokio::test]
async fn a_full_replace_of_each_container_keeps_the_other_containers_rows() {
    let (env, all, other) = two_containers_staged().await;
    let view = env.publication();
    let object = Publication {
        container: other.clone(),
        ..env.publication()
    };

    let first = replace(&env, &view, &target(OTHER)).await.unwrap();
    assert_eq!((first.written, first.deleted), (30, 0));
    let second = replace(&env, &object, &target(VIEW)).await.unwrap();
    assert_eq!(
        (second.written, second.deleted),
        (30, 0),
        "the view's 30 rows stay"
    );
    let again = replace(&env, &view, &target(OTHER)).await.unwrap();
    assert_eq!(again.deleted, 0, "the object's 30 rows stay");
    assert_eq!(env.socrata_rows().len(), 60);

    // The object loses one record in Knack: its replace removes that row, and only that row.
    let lost = all[59]["id"].as_str().unwrap().to_string();
    env.knack.set_records(&other, object_records(&all[30..59]));
    stage_other(&env).await;
    let report = replace(&env, &object, &target(VIEW)).await.unwrap();
    assert_eq!(report.deleted, 1);
    let rows = env.socrata_rows();
    assert_eq!(rows.len(), 59);
    assert!(!rows.contains_key(&lost));

    // Unshared, a replace of the view deletes every row it did not write: the old bug.
    let unshared = SocrataTarget {
        resource_id: DATASET.into(),
        ..SocrataTarget::default()
    };
    let report = replace(&env, &view, &unshared).await.unwrap();
    assert_eq!(report.deleted, 29, "what sharing prevents");
}

#[tokio::test]
async fn a_layer_shared_by_two_containers_keeps_both_on_a_full_replace_of_each() {
    let (env, _, other) = two_containers_staged().await;
    let object = Publication {
        container: other.clone(),
        ..env.publication()
    };
    let to_agol = |publication: Publication, shared: &str| {
        let mut target = env.agol_target(50);
        target.shared_with = vec![shared.to_string()];
        let env = &env;
        async move {
            env.to_agol_with(&publication, &target, &RunOptions::default())
                .await
        }
    };

    let first = to_agol(env.publication(), OTHER).await.unwrap();
    assert_eq!((first.written, first.deleted), (30, 0));
    let second = to_agol(object.clone(), VIEW).await.unwrap();
    assert_eq!((second.written, second.deleted), (30, 0));
    let again = to_agol(env.publication(), OTHER).await.unwrap();
    assert_eq!(again.deleted, 0);
    assert_eq!(env.agol_features().len(), 60);

    // Shared, a layer matched on another field cannot tell the containers' features apart.
    let mut target = env.agol_target(50);
    target.shared_with = vec![OTHER.to_string()];
    target.matching_field = "signal_number".into();
    let failure = env
        .to_agol_with(&env.publication(), &target, &RunOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&*failure.error, knack_etl::Error::Preflight(m) if m.contains("upsert_matching_field = \"id\"")),
        "{failure}"
    );
}
