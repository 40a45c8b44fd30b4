use super::*;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond};

struct Echo(std::sync::Arc<Frame>);

impl Respond for Echo {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let at = Instant::now();
        let fault = self.0.take_fault(req.method.as_str(), req.url.path());
        let delay = self.0.latency() + fault.as_ref().map_or(Duration::ZERO, |f| f.delay);
        let (resp, status) = match fault {
            Some(f) if f.status.is_some() => (f.respond(), f.status.unwrap_or(200)),
            Some(f) => (
                f.finish(ResponseTemplate::new(200).set_body_string("ok")),
                200,
            ),
            None => (ResponseTemplate::new(200).set_body_string("ok"), 200),
        };
        self.0.record(req, at, status);
        resp.set_delay(delay)
    }
}

async fn fake() -> (MockServer, std::sync::Arc<Frame>) {
    let frame = std::sync::Arc::new(Frame::new(&["Authorization"]));
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(Echo(frame.clone()))
        .mount(&server)
        .await;
    (server, frame)
}

#[tokio::test]
async fn faults_match_their_filters_and_count_down() {
    let (server, frame) = fake().await;
    frame.inject(
        Fault::status(429)
            .header("Retry-After", 3)
            .body("slow down")
            .times(2)
            .on_method("post")
            .on_path("/records"),
    );
    let http = reqwest::Client::new();
    let get = http
        .get(format!("{}/records", server.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200, "a GET does not match a POST fault");
    for _ in 0..2 {
        let r = http
            .post(format!("{}/x/records", server.uri()))
            .header("Authorization", "Bearer secret")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "3");
        assert_eq!(r.text().await.unwrap(), "slow down");
    }
    let third = http
        .post(format!("{}/x/records", server.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(third.status(), 200, "the fault was used up");
    let log = frame.requests();
    assert_eq!(
        log.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![200, 429, 429, 200]
    );
    assert_eq!(log[1].header("authorization"), Some("[redacted]"));
    assert_eq!(log[1].body, b"{}");
    frame.clear_requests();
    assert!(frame.requests().is_empty());
}

#[tokio::test]
async fn a_stall_outlasts_the_client_timeout_and_is_described_by_its_length() {
    let (server, frame) = fake().await;
    frame.inject(Fault::stall());
    let t = crate::Timeouts {
        connect: Duration::from_secs(1),
        total: Duration::from_millis(100),
    };
    let http = t.http_client("test").unwrap().build().unwrap();
    let err = http.get(server.uri()).send().await.unwrap_err();
    assert!(err.is_timeout());
    let text = crate::describe_transport(&err, &t);
    assert!(text.starts_with("timed out after 100ms"), "{text}");
    assert!(!crate::surely_not_sent(&err));
}

#[tokio::test]
async fn dropped_and_refused_connections_fail_below_http() {
    let dropping = DroppingServer::start().await;
    let err = reqwest::get(dropping.uri()).await.unwrap_err();
    assert!(
        !err.is_connect(),
        "the connection opened, then broke: {err:?}"
    );
    let err = reqwest::get(refused_uri()).await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");
}

#[test]
fn a_poisoned_lock_still_opens() {
    let m = std::sync::Arc::new(Mutex::new(1));
    let m2 = m.clone();
    let _ = std::thread::spawn(move || {
        let _g = m2.lock().unwrap();
        panic!("poison it");
    })
    .join();
    assert!(m.is_poisoned());
    assert_eq!(*lock(&m), 1);
}

#[test]
fn max_in_window_counts_the_busiest_window() {
    let t0 = Instant::now();
    let at = |ms| t0 + Duration::from_millis(ms);
    let times = [at(0), at(500), at(999), at(1000), at(1001)];
    assert_eq!(max_in_window(&times, Duration::from_secs(1)), 4);
    assert_eq!(max_in_window(&[], Duration::from_secs(1)), 0);
}

/// The statuses (0 for a broken connection) of `n` POSTs through `uri`.
async fn outcomes(uri: &str, n: usize) -> Vec<u16> {
    let http = reqwest::Client::new();
    let mut seen = Vec::new();
    for i in 0..n {
        let r = http
            .post(format!("{uri}/x/records"))
            .body(format!("{{\"n\":{i}}}"))
            .send()
            .await;
        seen.push(match r {
            Ok(r) => {
                let status = r.status().as_u16();
                match r.text().await {
                    Ok(_) => status,
                    Err(_) => 0,
                }
            }
            Err(_) => 0,
        });
    }
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn chaos_is_seeded_and_plays_all_six_kinds_through_its_proxy() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let (server, frame) = fake().await;
        frame.set_chaos(Chaos { seed: 7, rate: 0.3 }, &server.uri());
        let uri = frame.proxy_uri().expect("chaos starts a proxy");
        let seen = outcomes(&uri, 200).await;
        let injected = frame.chaos_injected();
        // Every request reached the fake but those dropped before being read, which the fake
        // logged with the status it never sent.
        assert_eq!(frame.requests().len(), 200);
        runs.push((seen, injected, frame.requests()));
    }
    let (seen, injected, log) = &runs[0];
    assert_eq!(seen, &runs[1].0, "the same seed fails the same requests");
    assert!(injected.iter().all(|(_, n)| *n > 0), "{injected:?}");
    let count = |kind| injected.iter().find(|(k, _)| *k == kind).map_or(0, |e| e.1);
    let total: usize = injected.iter().map(|e| e.1).sum();
    assert!((30..=90).contains(&total), "about 30% of 200: {total}");
    // A lost answer and a dropped connection both read as a broken connection: 0 here.
    let broken = seen.iter().filter(|s| **s == 0).count();
    assert_eq!(
        broken,
        count(ChaosKind::DroppedBeforeRead) + count(ChaosKind::LostAfterApplied)
    );
    for status in [500, 502, 503, 429] {
        assert!(seen.contains(&status), "{status} in {seen:?}");
    }
    // The lost answers were applied: the fake answered 200 to them, and nobody heard it.
    let applied_unheard = log
        .iter()
        .zip(seen)
        .filter(|(r, s)| r.status == 200 && **s == 0)
        .count();
    assert_eq!(applied_unheard, count(ChaosKind::LostAfterApplied));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_fault_drops_the_connection_after_the_fake_answered() {
    let (server, frame) = fake().await;
    frame.set_chaos(Chaos { seed: 1, rate: 0.0 }, &server.uri());
    frame.inject(Fault::slow(Duration::ZERO).lose_answer());
    let uri = frame.proxy_uri().unwrap();
    assert_eq!(outcomes(&uri, 2).await, vec![0, 200]);
    assert_eq!(
        frame
            .requests()
            .iter()
            .map(|r| r.status)
            .collect::<Vec<_>>(),
        vec![200, 200],
        "the first was applied, its answer lost"
    );
}
