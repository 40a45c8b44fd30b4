//! Two apps of one config each publishing one container to one Socrata dataset, and to one
//! ArcGIS layer: a full replace of either, in either order, keeps every row the other app
//! staged and deletes only what neither staged.

mod e2e_common;

use std::collections::BTreeSet;

use e2e_common::{container, fixture, fixture_records, Env, APP_ID, DATASET, LAYER};
use knack_etl::agol::records_to_agol;
use knack_etl::agol_client::testkit::ITEM_ID;
use knack_etl::agol_client::Feature;
use knack_etl::knack_client::testkit::FakeKnack;
use knack_etl::socrata::records_to_socrata;
use knack_etl::staging::{metadata_to_postgrest, records_to_postgrest};
use knack_etl::sync::config::{plan, Apps};
use knack_etl::sync::SyncPlan;
use knack_etl::RunOptions;
use serde_json::json;

/// The second app's id.
const APP_2: &str = "5e1f0c0ffee0c0ffee0c0ffe";
/// A row or feature neither app staged: a full replace deletes it.
const STALE: &str = "ffffffffffffffffffffffff";

/// The config: apps `one` (the fixture app) and `two`, each with `view_1` published to the
/// fixture's dataset and layer.
fn apps() -> Apps {
    let view = json!({
        "scene_id": "scene_1",
        "modified_date_field_id": e2e_common::MODIFIED_FIELD,
        "location_fields": [e2e_common::LOCATION_FIELD],
        "socrata_resource_id": DATASET,
        "service_id": ITEM_ID, "layer_id": 0, "item_type": "layer"
    });
    serde_json::from_value(json!({
        "one": {"app_id": APP_ID, "containers": {"view_1": view}},
        "two": {"app_id": APP_2, "containers": {"view_1": view}}
    }))
    .unwrap()
}

/// The fixture's first 30 records staged by app one, the other 30 by app two (its own Knack),
/// each app's plan, and every record id.
async fn two_apps_staged() -> (Env, [(SyncPlan, &'static str); 2], BTreeSet<String>) {
    let env = Env::start().await;
    let all = fixture_records();
    env.knack.set_records(&container(), all[..30].to_vec());
    let knack_2 = FakeKnack::start_for(APP_2, "key-2").await;
    knack_2.set_rate_limit(None);
    let mut metadata = fixture("metadata.json");
    metadata["application"]["id"] = json!(APP_2);
    knack_2.set_metadata(metadata);
    knack_2.set_records(&container(), all[30..].to_vec());
    let client_2 = knack_2.client_builder().build().unwrap();
    for knack in [&env.knack_client, &client_2] {
        metadata_to_postgrest(knack, &env.pg_client, false)
            .await
            .unwrap();
        let field = Some(e2e_common::MODIFIED_FIELD);
        let options = RunOptions::default();
        records_to_postgrest(knack, &env.pg_client, &container(), field, &options)
            .await
            .unwrap();
    }
    let config = apps();
    let plans = [
        (plan(&config, "one", "view_1").unwrap(), APP_ID),
        (plan(&config, "two", "view_1").unwrap(), APP_2),
    ];
    let ids = all.iter().map(|r| r["id"].as_str().unwrap().to_string());
    (env, plans, ids.collect())
}

#[tokio::test]
async fn full_replaces_of_a_dataset_shared_by_two_apps_keep_both_apps_rows_in_either_order() {
    let (env, plans, ids) = two_apps_staged().await;
    assert_eq!(
        plans[0].0.socrata.as_ref().unwrap().shared_with,
        [format!("{APP_2}/view_1")]
    );
    for order in [[0, 1], [1, 0]] {
        let stale = json!({"id": STALE, "location_name": "gone"});
        env.socrata.add_dataset(
            knack_etl::socrata_client::testkit::FakeDataset::from_metadata(&fixture(
                "socrata_dataset.json",
            ))
            .rows([stale]),
        );
        for i in order {
            let (plan, app_id) = &plans[i];
            let target = plan.socrata.as_ref().unwrap();
            let report = records_to_socrata(
                &env.pg_client,
                &env.socrata_client,
                &plan.publication(app_id),
                target,
                &RunOptions::default(),
            )
            .await
            .unwrap();
            assert_eq!(report.written, 30, "app {app_id}");
            let rows: BTreeSet<String> = env.socrata_rows().into_keys().collect();
            assert!(!rows.contains(STALE), "the row nobody staged is deleted");
        }
        // The second replace found the first app's 30 rows in the dataset and kept them.
        let rows: BTreeSet<String> = env.socrata_rows().into_keys().collect();
        assert_eq!(rows, ids, "order {order:?}");
        // Each app's replace again, now that both are published: nothing is lost.
        for (plan, app_id) in &plans {
            let target = plan.socrata.as_ref().unwrap();
            let options = RunOptions::default();
            let publication = plan.publication(app_id);
            let report = records_to_socrata(
                &env.pg_client,
                &env.socrata_client,
                &publication,
                target,
                &options,
            )
            .await
            .unwrap();
            assert_eq!(report.deleted, 0);
        }
        assert_eq!(env.socrata_rows().len(), 60);
    }
}

#[tokio::test]
async fn full_replaces_of_a_layer_shared_by_two_apps_keep_both_apps_features_in_either_order() {
    let (env, plans, ids) = two_apps_staged().await;
    assert_eq!(
        plans[1].0.agol.as_ref().unwrap().shared_with,
        [format!("{APP_ID}/view_1")]
    );
    for order in [[0, 1], [1, 0]] {
        let stale: Feature = serde_json::from_value(json!({"attributes": {"id": STALE}})).unwrap();
        env.agol.seed(LAYER, [stale]);
        for i in order {
            let (plan, app_id) = &plans[i];
            let target = plan.agol.as_ref().unwrap();
            let publication = plan.publication(app_id);
            let options = RunOptions::default();
            records_to_agol(
                &env.pg_client,
                &env.agol_client,
                &publication,
                target,
                &options,
            )
            .await
            .unwrap();
            let features = env.agol_features();
            assert!(
                !features.contains_key(STALE),
                "the feature nobody staged is deleted"
            );
        }
        let features: BTreeSet<String> = env.agol_features().into_keys().collect();
        assert_eq!(features, ids, "order {order:?}");
    }
}
