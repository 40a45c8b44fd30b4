//! The shared retry loop, on paused time (no network: the waits are exact).

use std::sync::{Arc, Mutex};

use std::time::Duration;

use knack_services_core::testkit::CapturedLogs;
use knack_services_core::{retry, Classify, Idempotency, Jitter, RetryClass, RetryPolicy};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
struct Fail(RetryClass);

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "failed as {:?}", self.0)
    }
}

impl Classify for Fail {
    fn retry_class(&self) -> RetryClass {
        self.0
    }
    fn status(&self) -> Option<u16> {
        Some(503)
    }
}

/// Runs the loop over a script of failures, then success; returns the
/// outcome and how many attempts were made.
async fn run(
    policy: &RetryPolicy,
    idem: Idempotency,
    script: Vec<RetryClass>,
) -> (Result<(), Fail>, u32) {
    let calls = Arc::new(Mutex::new(0u32));
    let c = calls.clone();
    let result = retry(policy, idem, "Test GET /x", move |attempt| {
        let c = c.clone();
        let step = script.get(attempt as usize - 1).copied();
        async move {
            *c.lock().unwrap() += 1;
            match step {
                Some(class) => Err(Fail(class)),
                None => Ok(()),
            }
        }
    })
    .await;
    let n = *calls.lock().unwrap();
    (result, n)
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_retries: 5,
        max_rate_limited_retries: 10,
        min_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(2),
        jitter: Jitter::Full,
        deadline: Duration::from_secs(60),
        max_server_wait: Duration::from_secs(10),
        max_connect_attempts: 3,
        connect_backoff: Duration::from_millis(500),
    }
}

#[test]
fn two_policies_wait_differently_and_within_bounds() {
    for jitter in [Jitter::Full, Jitter::Decorrelated] {
        let p = RetryPolicy { jitter, ..policy() };
        let a: Vec<Duration> = p.backoff().take(8).collect();
        let b: Vec<Duration> = p.backoff().take(8).collect();
        assert_ne!(a, b, "{jitter:?}: two runs retried in lockstep");
        for d in a.iter().chain(&b) {
            assert!(*d >= p.min_backoff && *d <= p.max_backoff, "{d:?}");
        }
    }
    // backon's own jitter, now seeded per process (its `std` feature).
    use backon::BackoffBuilder;
    let b = || {
        backon::ExponentialBuilder::default()
            .with_jitter()
            .build()
            .take(4)
            .collect::<Vec<_>>()
    };
    assert_ne!(b(), b());
}

#[tokio::test(start_paused = true)]
async fn a_5xx_burst_past_the_budget_gives_up_after_max_retries() {
    let (r, n) = run(
        &policy(),
        Idempotency::Idempotent,
        vec![RetryClass::Transient; 6],
    )
    .await;
    assert!(r.is_err());
    assert_eq!(n, 6, "one attempt and 5 retries");
    let (r, n) = run(
        &policy(),
        Idempotency::Idempotent,
        vec![RetryClass::Transient; 5],
    )
    .await;
    assert!(r.is_ok());
    assert_eq!(n, 6);
}

#[tokio::test(start_paused = true)]
async fn rate_limits_have_their_own_larger_budget() {
    let mut script = vec![RetryClass::RateLimited { wait: None }; 8];
    script.extend([RetryClass::Transient; 5]);
    let (r, n) = run(&policy(), Idempotency::Idempotent, script).await;
    assert!(r.is_ok(), "8 429s and 5 5xx fit two budgets of 10 and 5");
    assert_eq!(n, 14);
}

#[tokio::test(start_paused = true)]
async fn a_server_wait_is_honoured_capped_and_never_below_the_backoff() {
    let started = Instant::now();
    let wait = |s| RetryClass::RateLimited {
        wait: Some(Duration::from_secs(s)),
    };
    // 3 s asked: waited 3 s (the backoff is at most 200 ms at this point).
    let (r, _) = run(&policy(), Idempotency::Idempotent, vec![wait(3)]).await;
    assert!(r.is_ok());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_millis(3300),
        "{waited:?}"
    );
    // 6 hours asked: capped at max_server_wait (10 s).
    let started = Instant::now();
    let (r, _) = run(&policy(), Idempotency::Idempotent, vec![wait(6 * 3600)]).await;
    assert!(r.is_ok());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(10) && waited < Duration::from_millis(10_300),
        "{waited:?}"
    );
    // 0 s asked: the backoff still applies.
    let started = Instant::now();
    let (r, _) = run(&policy(), Idempotency::Idempotent, vec![wait(0)]).await;
    assert!(r.is_ok());
    assert!(started.elapsed() >= policy().min_backoff);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_bounds_the_whole_request() {
    let p = RetryPolicy {
        deadline: Duration::from_secs(25),
        ..policy()
    };
    let started = Instant::now();
    let script = vec![
        RetryClass::RateLimited {
            wait: Some(Duration::from_secs(3600))
        };
        10
    ];
    let (r, n) = run(&p, Idempotency::Idempotent, script).await;
    assert!(r.is_err());
    assert_eq!(n, 3, "two capped 10 s waits fit in 25 s, a third does not");
    assert!(started.elapsed() <= p.deadline);
}

#[tokio::test(start_paused = true)]
async fn a_non_idempotent_request_is_retried_only_when_surely_not_applied() {
    let p = policy();
    let (r, n) = run(&p, Idempotency::NotIdempotent, vec![RetryClass::Transient]).await;
    assert!(r.is_err());
    assert_eq!(n, 1, "a 5xx or timeout may have applied it");
    let script = vec![
        RetryClass::NotApplied,
        RetryClass::RateLimited { wait: None },
    ];
    let (r, n) = run(&p, Idempotency::NotIdempotent, script).await;
    assert!(r.is_ok());
    assert_eq!(n, 3);
    let (r, n) = run(&p, Idempotency::Idempotent, vec![RetryClass::Permanent]).await;
    assert!(r.is_err());
    assert_eq!(n, 1);
    let (r, n) = run(
        &RetryPolicy::none(),
        Idempotency::Idempotent,
        vec![RetryClass::Transient],
    )
    .await;
    assert!(r.is_err());
    assert_eq!(n, 1);
}

#[tokio::test(start_paused = true)]
async fn every_wait_is_logged_once_with_reason_status_wait_and_attempt() {
    let logs = CapturedLogs::default();
    let _guard = logs.install();
    let script = vec![
        RetryClass::RateLimited {
            wait: Some(Duration::from_secs(300)),
        },
        RetryClass::Transient,
    ];
    let (r, _) = run(&policy(), Idempotency::Idempotent, script).await;
    assert!(r.is_ok());
    let text = logs.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains("INFO")
            && lines[0].contains("rate limited; retrying in 10.0s (retry 1 of 10)"),
        "{text}"
    );
    assert!(
        lines[0].contains("server_asked_ms=300000") && lines[0].contains("status=503"),
        "{text}"
    );
    assert!(lines[0].contains("label=Test GET /x"), "{text}");
    assert!(
        lines[1].contains("transient failure; retrying in") && lines[1].contains("(retry 1 of 5)"),
        "{text}"
    );
    assert!(
        !lines[1].contains("server_asked"),
        "no server wait, no field (not `None`): {text}"
    );
}
