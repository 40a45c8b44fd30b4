//! The rolling-window rate limit, checked against the testkit's detector.

use std::time::Duration;

use futures::TryStreamExt;
use knack_client::testkit::FakeKnack;
use knack_client::{Container, RecordsQuery};
use serde_json::json;

fn records(n: usize) -> Vec<serde_json::Value> {
    (0..n).map(|i| json!({"id": format!("{i:024x}")})).collect()
}

#[tokio::test]
async fn the_detector_catches_a_burst() {
    // Guards the guard: raw requests with no limiter must trip the fake.
    let fake = FakeKnack::start().await;
    let http = reqwest::Client::new();
    for _ in 0..12 {
        let url = format!("{}/objects/object_1/records", fake.uri());
        http.get(url)
            .header("X-Knack-Application-Id", fake.app_id())
            .header("X-Knack-REST-API-Key", fake.api_key())
            .send()
            .await
            .unwrap();
    }
    let log = fake.requests();
    assert_eq!(log.iter().filter(|r| r.status == 429).count(), 2);
    assert!(fake.max_requests_in_window(Duration::from_secs(1)) > 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_never_exceeds_ten_requests_in_any_rolling_second() {
    let fake = FakeKnack::start_for("5f0000000000000000000301", "k").await;
    let object = Container::object("object_1").unwrap();
    fake.set_records(&object, records(25));
    fake.set_latency(Duration::from_millis(20));
    let client = fake.client_builder().page_concurrency(8).build().unwrap();
    let got: Vec<_> = client
        .records(&object, RecordsQuery::new().rows_per_page(1))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(got.len(), 25);
    let log = fake.requests();
    assert_eq!(log.len(), 25);
    assert!(
        log.iter().all(|r| r.status == 200),
        "a request was refused: {log:?}"
    );
    let max = fake.max_requests_in_window(Duration::from_secs(1));
    assert!(max <= 10, "{max} requests within one second");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_of_one_app_share_the_limit() {
    let fake = FakeKnack::start_for("5f0000000000000000000302", "k").await;
    let a = Container::object("object_1").unwrap();
    let b = Container::object("object_2").unwrap();
    fake.set_records(&a, records(12));
    fake.set_records(&b, records(12));
    let c1 = fake.client_builder().build().unwrap();
    let c2 = fake.client_builder().build().unwrap();
    let q = || RecordsQuery::new().rows_per_page(1);
    let (r1, r2) = tokio::join!(
        c1.records(&a, q()).try_collect::<Vec<_>>(),
        c2.records(&b, q()).try_collect::<Vec<_>>()
    );
    assert_eq!(r1.unwrap().len() + r2.unwrap().len(), 24);
    assert!(fake.requests().iter().all(|r| r.status == 200));
    assert!(fake.max_requests_in_window(Duration::from_secs(1)) <= 10);
}

#[tokio::test]
async fn injected_faults_are_retried_and_logged() {
    let fake = FakeKnack::start_for("5f0000000000000000000303", "k").await;
    let object = Container::object("object_1").unwrap();
    fake.set_records(&object, records(3));
    fake.inject(knack_client::testkit::Fault::status(500).times(2));
    let client = fake.client_builder().build().unwrap();
    let got: Vec<_> = client
        .records(&object, RecordsQuery::new())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(got.len(), 3);
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 500, 200]);
}

#[tokio::test]
async fn writes_change_the_fakes_records() {
    let fake = FakeKnack::start_for("5f0000000000000000000304", "k").await;
    let object = Container::object("object_1").unwrap();
    let client = fake.client_builder().build().unwrap();
    let created = client
        .create(&object, &json!({"field_1": "a"}))
        .await
        .unwrap();
    let updated = client
        .update(&object, created.id(), &json!({"field_1": "b"}))
        .await
        .unwrap();
    assert_eq!(updated.display_value("field_1"), Some(&json!("b")));
    assert_eq!(fake.records(&object).len(), 1);
    client.delete(&object, created.id()).await.unwrap();
    assert!(fake.records(&object).is_empty());
    let err = client.delete(&object, created.id()).await.unwrap_err();
    assert_eq!(err.status(), Some(404));
}

/// Knack limits each app on its own server: two fakes serving the same app id in one test
/// binary are two apps, and each gets its own 10 requests per second (they used to share one
/// limiter per app id, so each test ran at half speed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_fakes_of_one_app_id_do_not_share_the_limit() {
    let (one, two) = (FakeKnack::start().await, FakeKnack::start().await);
    assert_eq!(one.app_id(), two.app_id());
    let object = Container::object("object_1").unwrap();
    let read = |fake: &FakeKnack| {
        let client = fake.client_builder().build().unwrap();
        let object = object.clone();
        async move {
            for _ in 0..15 {
                let query = RecordsQuery::new().rows_per_page(1);
                let _: Vec<_> = client.records(&object, query).try_collect().await.unwrap();
            }
        }
    };
    tokio::join!(read(&one), read(&two));
    let second = Duration::from_secs(1);
    // Each fake saw Knack's limit kept; together they saw more than one app's 10 a second.
    assert!(one.max_requests_in_window(second) <= 10);
    assert!(two.max_requests_in_window(second) <= 10);
    let both: Vec<_> = [one.requests(), two.requests()]
        .concat()
        .iter()
        .map(|r| r.at)
        .collect();
    assert!(knack_client::testkit::max_in_window(&both, second) > 10);
}

/// Knack counts requests as they arrive: with up to 90 ms of arrival jitter, a limiter that allows
/// exactly 10 in any second as sent would be refused; 10 in any 1.1 s is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrival_jitter_provokes_no_429_and_a_long_read_stays_within_1_1_times_the_ceiling() {
    let fake = FakeKnack::start_for("5f0000000000000000000302", "k").await;
    let object = Container::object("object_1").unwrap();
    fake.set_records(&object, records(40));
    fake.set_latency(Duration::from_millis(30));
    fake.set_arrival_jitter(Duration::from_millis(90), 7);
    let client = fake.client_builder().page_concurrency(8).build().unwrap();
    let started = std::time::Instant::now();
    let got: Vec<_> = client
        .records(&object, RecordsQuery::new().rows_per_page(1))
        .try_collect()
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(got.len(), 40);
    let log = fake.requests();
    assert!(log.iter().all(|r| r.status != 429), "a 429 under jitter");
    // 40 requests: 10 at once, then 10 per 1.1 s (the last at 3.3 s), never under the 3.0 s
    // 10 req/s would take between the first and the last, and within 1.1 times it (plus the
    // answer time of the last).
    let span = log.last().unwrap().at.duration_since(log[0].at);
    assert!(span >= Duration::from_millis(3_000), "{span:?}");
    assert!(span <= Duration::from_millis(3_500), "{span:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test]
async fn the_jittered_detector_catches_ten_a_second_as_sent() {
    // Guards the guard: 11 requests evenly 100 ms apart as sent pass without jitter; with jitter,
    // some arrive closer together and Knack's rolling second refuses one.
    let fake = FakeKnack::start().await;
    fake.set_arrival_jitter(Duration::from_millis(90), 3);
    let http = reqwest::Client::new();
    for _ in 0..25 {
        let url = format!("{}/objects/object_1/records", fake.uri());
        http.get(url)
            .header("X-Knack-Application-Id", fake.app_id())
            .header("X-Knack-REST-API-Key", fake.api_key())
            .send()
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refused = fake.requests().iter().filter(|r| r.status == 429).count();
    assert!(refused > 0, "jitter must make 10/s as sent too many");
}
