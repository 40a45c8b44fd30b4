//! Knack → PostgREST stores every record as the exact text Knack sent.

mod e2e_common;

use e2e_common::{container, Env, APP_ID, VIEW};
use knack_etl::RunOptions;

#[tokio::test]
async fn staged_records_are_the_bytes_knack_sent() {
    let env = Env::start().await;
    // What the fake Knack sends for each record: its stored value written out, key order kept.
    let sent: Vec<(String, String)> = env
        .knack
        .records(&container())
        .iter()
        .map(|r| (r.id().to_string(), serde_json::to_string(r.raw()).unwrap()))
        .collect();
    env.metadata(false).await.unwrap();
    env.pg.clear_requests();
    let report = env.stage(&RunOptions::default()).await.unwrap();
    assert_eq!(report.written, sent.len() as u64);

    let bodies: Vec<String> = env
        .pg
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/knack")
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    let all = bodies.concat();
    for (id, text) in &sent {
        let row = format!(
            r#"{{"app_id":"{APP_ID}","container_id":"{VIEW}","record_id":"{id}","record":{text}}}"#
        );
        assert!(
            all.contains(&row),
            "record {id} was not sent as Knack sent it"
        );
    }
    // And the store holds them, key order included.
    let staged = env.staged_records();
    for (id, text) in &sent {
        let stored = serde_json::to_string(&staged[id]).unwrap();
        assert_eq!(&stored, text);
    }
}
