//! The fake portal itself: routes, auth, log, stored rows, the catch-all.

use serde_json::{json, Value};
use socrata_client::testkit::{FakeDataset, FakeSocrata, Fault};
use socrata_client::ClientBuilder;

async fn fake() -> FakeSocrata {
    let fake = FakeSocrata::start().await;
    fake.add_dataset(
        FakeDataset::new("abcd-1234")
            .column("id", "text")
            .column("n", "number")
            .row_identifier("id")
            .rows([json!({"id": "a", "n": 1, "gone": null})]),
    );
    fake.require_basic_auth("user", "pass");
    fake
}

/// A builder for a client of `fake` signed in as `user` with `password` (the right one is "pass").
fn as_user(fake: &FakeSocrata, password: &str) -> ClientBuilder {
    fake.client_builder().basic_auth("user", password)
}

#[tokio::test]
async fn unexpected_routes_answer_418_loudly() {
    let fake = fake().await;
    let r = reqwest::get(format!("{}/api/catalog/v1", fake.uri()))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 418);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("FAKE SOCRATA: unexpected request"));
}

#[tokio::test]
async fn unknown_dataset_is_404_and_wrong_credentials_401_even_on_reads() {
    let fake = fake().await;
    let c = as_user(&fake, "pass").build().unwrap();
    let e = c
        .upsert("zzzz-0000", &[json!({"id": "x"})])
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404));
    let bad = as_user(&fake, "nope").build().unwrap();
    assert_eq!(
        bad.metadata("abcd-1234").await.unwrap_err().status(),
        Some(401)
    );
    let anon = fake.client_builder().build().unwrap();
    assert_eq!(
        anon.metadata("abcd-1234")
            .await
            .unwrap()
            .row_identifier
            .as_deref(),
        Some("id")
    );
}

#[tokio::test]
async fn log_records_params_body_and_token_but_not_credentials() {
    let fake = fake().await;
    let c = as_user(&fake, "pass").app_token("tok").build().unwrap();
    c.upsert("abcd-1234", &[json!({"id": "b", "n": 2})])
        .await
        .unwrap();
    let log = fake.requests();
    assert_eq!(log.len(), 1);
    let r = &log[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str(), r.status),
        ("POST", "/resource/abcd-1234.json", 200)
    );
    assert_eq!(FakeSocrata::body_rows(r), vec![json!({"id": "b", "n": 2})]);
    // Secrets are logged as present, never by value.
    assert_eq!(r.header("x-app-token"), Some("[redacted]"));
    assert_eq!(r.header("authorization"), Some("[redacted]"));
    let shown = format!("{r:?}");
    assert!(
        !shown.contains("\"tok\"") && !shown.contains("dXNlcjpwYXNz"),
        "{shown}"
    );
}

#[tokio::test]
async fn stored_rows_hide_system_fields_and_nulls_clear_values() {
    let fake = fake().await;
    let c = as_user(&fake, "pass").build().unwrap();
    assert_eq!(
        fake.rows("abcd-1234"),
        vec![json!({"id": "a", "n": 1, "gone": null})
            .as_object()
            .unwrap()
            .clone()]
    );
    c.upsert("abcd-1234", &[json!({"id": "a", "n": null})])
        .await
        .unwrap();
    let rows = fake.rows("abcd-1234");
    assert!(!rows[0].contains_key("n") && !rows[0].contains_key(":id"));
}

#[tokio::test]
async fn faults_can_target_a_method_and_carry_retry_after() {
    let fake = fake().await;
    fake.inject(
        Fault::status(429)
            .on_method("PUT")
            .header("Retry-After", 3)
            .body(json!({"message": "slow down", "error": true}).to_string()),
    );
    let get = reqwest::get(format!("{}/api/views/abcd-1234.json", fake.uri()))
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 200, "a PUT fault leaves GETs alone");
    let put = reqwest::Client::new()
        .put(format!("{}/resource/abcd-1234.json", fake.uri()))
        .basic_auth("user", Some("pass"))
        .json(&json!([]))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 429);
    assert_eq!(put.headers()["retry-after"], "3");
    assert_eq!(
        put.json::<Value>().await.unwrap()["message"],
        json!("slow down")
    );
}

#[tokio::test]
async fn one_write_can_delete_re_add_and_update_and_the_next_write_sees_it() {
    let fake = fake().await;
    let c = as_user(&fake, "pass").build().unwrap();
    c.upsert(
        "abcd-1234",
        &[json!({"id": "b", "n": 2}), json!({"id": "c", "n": 3})],
    )
    .await
    .unwrap();
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/resource/abcd-1234.json", fake.uri()))
        .basic_auth("user", Some("pass"))
        .json(&json!([
            {"id": "a", ":deleted": true},
            {"id": "b", "n": 20},
            {"id": "a", "n": 10},
            {"id": "c", ":deleted": true},
            {"id": "c", ":deleted": true},
        ]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer,
        json!({"Errors": 1, "Rows Deleted": 2, "Rows Updated": 1, "By SID": 0,
               "Rows Created": 1, "By RowIdentifier": 1}),
        "a row deleted earlier in the same request is gone for the rows after it"
    );
    let ids = |fake: &FakeSocrata| -> Vec<(String, Value)> {
        fake.rows("abcd-1234")
            .into_iter()
            .map(|r| (r["id"].as_str().unwrap().to_string(), r["n"].clone()))
            .collect()
    };
    assert_eq!(
        ids(&fake),
        vec![("b".into(), json!(20)), ("a".into(), json!(10))]
    );

    // The deletes moved rows; the next write must still find each of them by its identifier.
    c.upsert(
        "abcd-1234",
        &[json!({"id": "a", "n": 11}), json!({"id": "c", "n": 30})],
    )
    .await
    .unwrap();
    assert_eq!(
        ids(&fake),
        vec![
            ("b".into(), json!(20)),
            ("a".into(), json!(11)),
            ("c".into(), json!(30))
        ]
    );
}
