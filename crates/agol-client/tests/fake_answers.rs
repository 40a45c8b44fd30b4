//! The fake answers as ArcGIS Online does for what a peer client sends it: Esri's
//! arcgis-rest-js signs in with `generateToken` and then asks `community/self` who it is.
#![cfg(feature = "testkit")]

use agol_client::testkit::{FakeAgol, PASSWORD, USERNAME};
use serde_json::Value;

async fn post(url: &str, form: &[(&str, &str)]) -> Value {
    let resp = reqwest::Client::new()
        .post(url)
        .form(form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        200,
        "ArcGIS answers errors inside a 200"
    );
    resp.json().await.unwrap()
}

/// `ArcGISIdentityManager.signIn`: `generateToken`, then `community/self` with the token. The
/// user is shaped as arcgis-rest-js's recorded mock `GroupMemberUserResponse`
/// (packages/arcgis-rest-portal/test/mocks/users/user.ts, github.com/Esri/arcgis-rest-js at
/// 8ab270bbb9cdf55b0127993f5bd01bc3538034e8); the fake answered 418.
#[tokio::test]
async fn community_self_answers_the_signed_in_user() {
    let fake = FakeAgol::start().await;
    let sharing = format!("{}/sharing/rest", fake.uri());
    let token = post(
        &format!("{sharing}/generateToken"),
        &[
            ("username", USERNAME),
            ("password", PASSWORD),
            ("client", "requestip"),
            ("f", "json"),
        ],
    )
    .await;
    let token = token["token"].as_str().expect("a token").to_string();

    let me = post(
        &format!("{sharing}/community/self"),
        &[("f", "json"), ("token", &token)],
    )
    .await;
    assert_eq!(me["username"], USERNAME);
    assert!(me["orgId"].is_string() && me["role"].is_string(), "{me}");
    assert!(me["privileges"].is_array());

    // Without a token, or with one never issued: ArcGIS's 499 and 498 inside the 200.
    let anonymous = post(&format!("{sharing}/community/self"), &[("f", "json")]).await;
    assert_eq!(anonymous["error"]["code"], 499);
    let forged = post(
        &format!("{sharing}/community/self"),
        &[("f", "json"), ("token", "not-issued")],
    )
    .await;
    assert_eq!(forged["error"]["code"], 498);
}

/// A team's own service, not the bundled one: layers and fields as ArcGIS describes them.
#[tokio::test]
async fn the_fake_serves_a_service_of_your_own() {
    use agol_client::{Feature, Geometry};
    let fake = FakeAgol::start_with_service(&serde_json::json!({"layers": [{
        "id": 0, "name": "bridges", "geometryType": "esriGeometryPoint",
        "fields": [{"name": "bridge_id", "type": "esriFieldTypeString", "length": 20}],
    }]}))
    .await;
    let client = fake.client_builder().build().unwrap();
    let layer = client.layer(&fake.layer_url(0)).await.unwrap();
    assert_eq!(layer.info().name, "bridges");
    let mut attributes = serde_json::Map::new();
    attributes.insert("bridge_id".into(), "B-1".into());
    let bridge = Feature::new(attributes).with_geometry(Geometry::point(-97.7, 30.3));
    layer.add_features(&[bridge], true).await.unwrap();
    assert_eq!(fake.features(0)[0].attributes["bridge_id"], "B-1");
    // Edits are checked against your fields: a text longer than its `length` is refused.
    let mut long = serde_json::Map::new();
    long.insert("bridge_id".into(), "B".repeat(30).into());
    let err = layer
        .add_features(&[Feature::new(long)], false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("1016"), "{err}");
    assert_eq!(fake.features(0).len(), 1);
}
