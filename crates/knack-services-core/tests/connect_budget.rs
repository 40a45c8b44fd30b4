//! A service that cannot be reached at all (refused, DNS, connect timeout) gets a small retry
//! budget of its own: a restart passes in seconds, a wrong URL never does.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use knack_services_core::testkit::{refused_uri, CapturedLogs};
use knack_services_core::{
    describe_transport, retry, surely_not_sent, Classify, Idempotency, RetryClass, RetryPolicy,
    Timeouts,
};

/// A transport failure classified as the clients classify theirs.
#[derive(Debug)]
struct Transport {
    not_sent: bool,
    cause: String,
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.cause)
    }
}

impl Classify for Transport {
    fn retry_class(&self) -> RetryClass {
        if self.not_sent {
            RetryClass::Unreachable
        } else {
            RetryClass::Transient
        }
    }
}

/// GETs `url` under `policy`; the number of attempts made, and the error.
async fn get(policy: &RetryPolicy, url: &str) -> (u32, Transport) {
    let timeouts = Timeouts::default();
    let http = timeouts.http_client("test").unwrap().build().unwrap();
    let attempts = AtomicU32::new(0);
    let result = retry(policy, Idempotency::Idempotent, "Test GET /", |_| {
        attempts.fetch_add(1, Ordering::Relaxed);
        let request = http.get(url);
        async move {
            request.send().await.map_err(|e| Transport {
                not_sent: surely_not_sent(&e),
                cause: describe_transport(&e, &timeouts),
            })
        }
    })
    .await;
    (attempts.load(Ordering::Relaxed), result.unwrap_err())
}

/// The default policy against a port nobody listens on: 3 attempts, not 11, and the error
/// within ~10 s (the waits are 1–2 s and 2–4 s), where 10 retries took 20–40 s.
#[tokio::test]
async fn a_refused_connection_gives_up_after_three_attempts_within_seconds() {
    let logs = CapturedLogs::default();
    let _guard = logs.install();
    let policy = RetryPolicy::default();
    assert_eq!(policy.max_connect_attempts, 3);
    let started = std::time::Instant::now();
    let (attempts, err) = get(&policy, &refused_uri()).await;
    let elapsed = started.elapsed();
    assert_eq!(attempts, 3, "{err}");
    assert!(err.cause.starts_with("connection refused"), "{err}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    let text = logs.text();
    let waits: Vec<&str> = text.lines().filter(|l| l.contains("retrying in")).collect();
    assert_eq!(waits.len(), 2, "each wait logged once: {text}");
    assert!(
        waits[0].contains("could not connect; retrying in") && waits[0].contains("(retry 1 of 2)"),
        "{text}"
    );
    assert!(
        text.contains("giving up: could not connect in 3 attempts"),
        "{text}"
    );
}

/// The budget is a policy option; 1 means no retry after a failure to connect.
#[tokio::test]
async fn the_connect_budget_is_a_policy_option() {
    let policy = RetryPolicy::fast_for_tests().with_max_connect_attempts(5);
    let (attempts, _) = get(&policy, &refused_uri()).await;
    assert_eq!(attempts, 5);
    let policy = RetryPolicy::fast_for_tests().with_max_connect_attempts(1);
    let (attempts, _) = get(&policy, &refused_uri()).await;
    assert_eq!(attempts, 1);
    let zero = RetryPolicy::default().with_max_connect_attempts(0);
    assert!(zero
        .validate()
        .unwrap_err()
        .contains("max_connect_attempts"));
}

/// Runs the loop over a script of failure classes, then success; the outcome and attempts.
async fn scripted(policy: &RetryPolicy, idem: Idempotency, script: &[RetryClass]) -> (bool, u32) {
    #[derive(Debug)]
    struct Fail(RetryClass);
    impl std::fmt::Display for Fail {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{:?}", self.0)
        }
    }
    impl Classify for Fail {
        fn retry_class(&self) -> RetryClass {
            self.0
        }
    }
    let attempts = AtomicU32::new(0);
    let result = retry(policy, idem, "Test GET /x", |n| {
        attempts.fetch_add(1, Ordering::Relaxed);
        let step = script.get(n as usize - 1).copied();
        async move { step.map_or(Ok(()), |class| Err(Fail(class))) }
    })
    .await;
    (result.is_ok(), attempts.load(Ordering::Relaxed))
}

#[tokio::test(start_paused = true)]
async fn connect_failures_have_their_own_budget_beside_transient_failures() {
    let p = RetryPolicy {
        max_retries: 5,
        ..RetryPolicy::default()
    };
    let unreachable = RetryClass::Unreachable;
    let (ok, n) = scripted(&p, Idempotency::Idempotent, &[unreachable; 5]).await;
    assert!(!ok);
    assert_eq!(n, 3, "3 attempts in all, whatever max_retries says");
    // A restart: refused twice, then 503s while it warms up, then an answer.
    let mut script = vec![unreachable; 2];
    script.extend([RetryClass::Transient; 5]);
    let (ok, n) = scripted(&p, Idempotency::Idempotent, &script).await;
    assert!(
        ok,
        "two budgets: 2 of 3 connect attempts failed, 5 of 5 retries used"
    );
    assert_eq!(n, 8);
    // Nothing was sent, so a create is retried too.
    let (ok, n) = scripted(&p, Idempotency::NotIdempotent, &[unreachable; 2]).await;
    assert!(ok);
    assert_eq!(n, 3);
    // A 503 "before processing" keeps the patient budget.
    let (ok, n) = scripted(&p, Idempotency::Idempotent, &[RetryClass::NotApplied; 5]).await;
    assert!(ok);
    assert_eq!(n, 6);
}

#[test]
fn connect_waits_double_with_jitter_and_stay_bounded() {
    let p = RetryPolicy::default();
    let secs = |d: Duration| d.as_secs_f64();
    let first: Vec<Duration> = (0..20).map(|_| p.connect_wait(1)).collect();
    for d in &first {
        assert!((1.0..=2.0).contains(&secs(*d)), "{d:?}");
    }
    assert!(first.iter().any(|d| *d != first[0]), "jittered: {first:?}");
    for _ in 0..20 {
        assert!((2.0..=4.0).contains(&secs(p.connect_wait(2))));
        assert!(p.connect_wait(40) <= p.max_backoff);
    }
    // Both waits of the default budget fit well inside ~10 s.
    assert!(p.connect_backoff * 3 <= Duration::from_secs(6));
}
