//! `sync::config::check_config` against the fakes of the fixture app: what does not match Knack,
//! the dataset or the layer is listed, each app's metadata is read once, and a service that gives
//! no answer ends the check instead of being listed.

mod e2e_common;

use agol_client::testkit::ITEM_ID;
use e2e_common::{Env, APP_ID, DATASET, MODIFIED_FIELD, SCENE, VIEW};
use knack_etl::sync::config::{check_config, Apps, CheckClients, CheckError};
use knack_etl::{agol_client, knack_client, Error};
use serde_json::json;

/// App `acc` with the fixture view, one unknown location field, its dataset and its layer.
fn apps(app_id: Option<&str>) -> Apps {
    serde_json::from_value(json!({"acc": {"app_id": app_id, "containers": {VIEW: {
        "scene_id": SCENE,
        "modified_date_field_id": MODIFIED_FIELD,
        "location_fields": ["field_999"],
        "socrata_resource_id": DATASET,
        "service_id": ITEM_ID,
        "layer_id": 0,
        "item_type": "layer"
    }}}}))
    .unwrap()
}

fn no_fallback(name: &str) -> Result<String, String> {
    Err(format!("no id for {name}"))
}

#[tokio::test]
async fn mismatches_are_listed_with_their_place_and_each_app_read_once() {
    let env = Env::start().await;
    let knack = |id: &str| env.knack.client_builder().app_id(id).build();
    let clients = CheckClients {
        knack: &knack,
        socrata: Some(Ok(env.socrata_client.clone())),
        agol: Some(env.agol_client.clone()),
        app_id: &no_fallback,
        dest_app_id: &no_fallback,
    };
    env.knack.clear_requests();
    let problems = check_config(&apps(Some(APP_ID)), &clients).await.unwrap();
    let at = "[apps.acc.containers.view_1]: ";
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(problems.iter().all(|p| p.starts_with(at)), "{problems:?}");
    assert!(
        problems[0].contains("field field_999 is not in view_1"),
        "{problems:?}"
    );
    assert!(problems[1].contains(&format!("Socrata dataset {DATASET} lacks columns")));
    assert!(
        problems[2].contains("layer signals lacks fields"),
        "{problems:?}"
    );
    let reads = env.knack.requests().into_iter();
    assert_eq!(reads.filter(|r| r.path.contains(APP_ID)).count(), 1);

    // Without an app id, the app cannot be checked: the caller's sentence says why.
    let problems = check_config(&apps(None), &clients).await.unwrap();
    assert_eq!(problems, ["[apps.acc]: no id for acc"]);
}

#[tokio::test]
async fn an_unreachable_knack_ends_the_check() {
    let env = Env::start().await;
    let knack = |id: &str| {
        let builder = knack_client::Client::builder().app_id(id);
        builder.base_url("http://127.0.0.1:9/v1").build()
    };
    let clients = CheckClients {
        knack: &knack,
        socrata: None,
        agol: None::<agol_client::Client>,
        app_id: &no_fallback,
        dest_app_id: &no_fallback,
    };
    let stopped = check_config(&apps(Some(APP_ID)), &clients)
        .await
        .unwrap_err();
    let CheckError::Unreachable(e) = stopped else {
        panic!("expected Unreachable, got {stopped:?}");
    };
    assert!(matches!(e, Error::Knack(_)) && e.is_unanswered(), "{e:?}");
    assert_eq!(env.socrata.requests().len(), 0);
}
