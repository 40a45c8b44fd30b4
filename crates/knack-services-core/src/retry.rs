//! The retry policy, the classification each client gives its errors, and the
//! one retry loop every request of every client runs in.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use rand::Rng;
use tokio::time::Instant;

/// How the wait between two attempts is randomised, so that many processes
/// failing at once (parallel Airflow tasks) do not retry in lockstep.
///
/// See <https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/>.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Jitter {
    /// Each wait is uniform between `min_backoff` and the exponential delay
    /// (`min_backoff · 2ⁿ`, at most `max_backoff`).
    #[default]
    Full,
    /// Each wait is uniform between `min_backoff` and three times the
    /// previous wait, at most `max_backoff`.
    Decorrelated,
}

/// When and how often a failed request is tried again. One vocabulary for
/// every client; see the crate README for the defaults table.
///
/// A request ends at the first of: success, a permanent error, an exhausted
/// budget (`max_retries` for transient failures, `max_rate_limited_retries`
/// for rate limits, `max_connect_attempts` for failures to connect), or a
/// wait that would end past `deadline`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after transient failures (5xx, timeouts, dropped connections).
    pub max_retries: u32,
    /// Retries after rate limits (429). A separate, larger budget: a 429 says
    /// "later", not "broken", and the deadline still bounds the total.
    pub max_rate_limited_retries: u32,
    /// The first backoff.
    pub min_backoff: Duration,
    /// The longest computed backoff.
    pub max_backoff: Duration,
    /// How waits are randomised.
    pub jitter: Jitter,
    /// The longest a request may spend in all its attempts and waits: no
    /// wait is started that would end after it.
    pub deadline: Duration,
    /// The cap on a server-directed wait (`Retry-After`, `X-RateLimit-Reset`):
    /// a server (or a skewed clock) asking for minutes is not obeyed blindly.
    pub max_server_wait: Duration,
    /// Attempts in all, the first included, while the service cannot be
    /// reached at all ([`RetryClass::Unreachable`]: connection refused, DNS
    /// lookup failed, connect timeout). A budget of its own, beside
    /// `max_retries`.
    ///
    /// Default **3**: a service restarting comes back within seconds, a wrong
    /// URL or a host that does not exist never does, and ten patient retries
    /// (20–40 s) only delay the error the user has to act on.
    pub max_connect_attempts: u32,
    /// The first wait after a failure to connect; each further one doubles
    /// (at most `max_backoff`), and each is uniform between half and all of
    /// that, so processes refused together do not retry in lockstep.
    ///
    /// Default **2 s**: with 3 attempts the waits are 1–2 s then 2–4 s, long
    /// enough for a restart, and a refused or unresolvable service is reported
    /// within ~6 s (plus the attempts themselves: instant for a refusal, up to
    /// [`crate::Timeouts::connect`] each for a host that never answers).
    pub connect_backoff: Duration,
}

impl Default for RetryPolicy {
    /// As patient as object_store: 10 retries within 3 minutes, 100 ms to
    /// 15 s backoff; 20 rate-limit retries; server waits capped at 30 s. A
    /// service that cannot be reached at all: 3 attempts, 2 s then 4 s waits
    /// at most.
    fn default() -> Self {
        Self {
            max_retries: 10,
            max_rate_limited_retries: 20,
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(15),
            jitter: Jitter::Full,
            deadline: Duration::from_secs(180),
            max_server_wait: Duration::from_secs(30),
            max_connect_attempts: 3,
            connect_backoff: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            max_rate_limited_retries: 0,
            max_connect_attempts: 1,
            ..Self::default()
        }
    }

    /// A fast policy for tests: 1–20 ms backoff (10 ms after a failure to
    /// connect), server waits capped at 50 ms, a 10 s deadline, the default
    /// budgets.
    pub fn fast_for_tests() -> Self {
        Self {
            min_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(20),
            max_server_wait: Duration::from_millis(50),
            deadline: Duration::from_secs(10),
            connect_backoff: Duration::from_millis(10),
            ..Self::default()
        }
    }

    /// This policy with [`RetryPolicy::max_connect_attempts`] set to
    /// `attempts` (the first attempt included; 1 never retries a failure to
    /// connect).
    #[must_use]
    pub fn with_max_connect_attempts(mut self, attempts: u32) -> Self {
        self.max_connect_attempts = attempts;
        self
    }

    /// The wait after the `failures`-th failure to connect (from 1):
    /// `connect_backoff · 2^(failures-1)`, at most `max_backoff`, uniform
    /// between half and all of it.
    pub fn connect_wait(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(16);
        let full = self
            .connect_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff);
        uniform(full / 2, full)
    }

    /// Checks the policy makes sense.
    ///
    /// # Errors
    /// A message naming the field that is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.min_backoff > self.max_backoff {
            return Err(format!(
                "retry min_backoff ({:?}) is longer than max_backoff ({:?})",
                self.min_backoff, self.max_backoff
            ));
        }
        if self.deadline.is_zero() {
            return Err("retry deadline must be longer than zero".into());
        }
        if self.max_connect_attempts == 0 {
            return Err("retry max_connect_attempts must be at least 1 (the first attempt)".into());
        }
        Ok(())
    }

    /// The computed waits, one per retry, randomised per process.
    pub fn backoff(&self) -> Backoff {
        Backoff {
            exponential: ExponentialBuilder::default()
                .with_min_delay(self.min_backoff)
                .with_max_delay(self.max_backoff)
                .without_max_times()
                .build(),
            jitter: self.jitter,
            min: self.min_backoff,
            max: self.max_backoff,
            previous: self.min_backoff,
        }
    }
}

/// An endless sequence of computed waits (see [`RetryPolicy::backoff`]).
#[derive(Debug)]
pub struct Backoff {
    exponential: backon::ExponentialBackoff,
    jitter: Jitter,
    min: Duration,
    max: Duration,
    previous: Duration,
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let upper = match self.jitter {
            Jitter::Full => self.exponential.next().unwrap_or(self.max),
            Jitter::Decorrelated => (self.previous * 3).min(self.max),
        };
        let wait = uniform(self.min, upper.max(self.min));
        self.previous = wait;
        Some(wait)
    }
}

/// A duration uniform in `[lo, hi]`, from the thread's OS-seeded generator.
fn uniform(lo: Duration, hi: Duration) -> Duration {
    if hi <= lo {
        return lo;
    }
    Duration::from_secs_f64(rand::rng().random_range(lo.as_secs_f64()..=hi.as_secs_f64()))
}

/// Whether repeating a request can apply it twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Repeating it leaves the same end state (reads, upserts, PUT, DELETE).
    Idempotent,
    /// Repeating it may apply it twice (a create): it is retried only after
    /// failures that surely were not applied ([`RetryClass::NotApplied`],
    /// [`RetryClass::Unreachable`], [`RetryClass::RateLimited`]).
    NotIdempotent,
}

/// A client's judgement of one failure (like vector's `RetryLogic` or
/// opendal's `is_temporary`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryClass {
    /// Repeats identically (4xx other than 429, bad data, bad configuration).
    Permanent,
    /// May pass later, and the server may have applied it (5xx, timeout, a
    /// connection dropped after sending).
    Transient,
    /// May pass later, and surely was not applied (a 503 the server sends
    /// before processing, a transaction the database rolled back).
    NotApplied,
    /// The service could not be reached at all, so surely nothing was applied:
    /// connection refused, DNS lookup failed, connect timeout, TLS handshake
    /// (a transport error with [`crate::surely_not_sent`]). Retried on its own,
    /// smaller budget ([`RetryPolicy::max_connect_attempts`]): a restart
    /// passes in seconds, a wrong URL never does.
    Unreachable,
    /// The server refused for rate (429, surely not applied), optionally
    /// saying how long to wait.
    RateLimited {
        /// The server-directed wait, if the answer named one.
        wait: Option<Duration>,
    },
}

/// Implemented by each client's error type: its own judgement of what is
/// worth retrying. The loop itself is shared ([`retry`]).
pub trait Classify {
    /// How this failure is retried.
    fn retry_class(&self) -> RetryClass;

    /// The HTTP status, for the retry log line, when there was one.
    fn status(&self) -> Option<u16> {
        None
    }
}

/// Runs `op` (given the attempt number, from 1) until it succeeds, fails
/// permanently, or `policy` says stop; returns the last error then.
///
/// Every wait is logged once at INFO with `label` (such as
/// `Knack GET objects/object_1/records`, never a secret), the reason, the
/// status, the wait and "attempt n of max". A server-directed wait is used
/// when it is longer than the computed backoff, capped at
/// [`RetryPolicy::max_server_wait`].
///
/// # Errors
/// The last error of `op`.
pub async fn retry<T, E, F, Fut>(
    policy: &RetryPolicy,
    idempotency: Idempotency,
    label: &str,
    op: F,
) -> Result<T, E>
where
    E: Classify + fmt::Display,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    retry_counting(policy, idempotency, label, None, op).await
}

/// [`retry`], counting each wait after a rate-limited answer (a 429) as a wait of `limit` in the
/// [`ledger`](crate::ledger) (such as `"Knack rate limit"`), so a run's time accounting shows
/// the service's rate limit, not work, as what it waited on.
///
/// # Errors
/// The last error of `op`.
pub async fn retry_counting_limit<T, E, F, Fut>(
    policy: &RetryPolicy,
    idempotency: Idempotency,
    label: &str,
    limit: &'static str,
    op: F,
) -> Result<T, E>
where
    E: Classify + fmt::Display,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    retry_counting(policy, idempotency, label, Some(limit), op).await
}

async fn retry_counting<T, E, F, Fut>(
    policy: &RetryPolicy,
    idempotency: Idempotency,
    label: &str,
    limit: Option<&'static str>,
    mut op: F,
) -> Result<T, E>
where
    E: Classify + fmt::Display,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let started = Instant::now();
    let mut backoff = policy.backoff();
    let (mut failures, mut limited, mut unreached) = (0u32, 0u32, 0u32);
    let mut attempt = 0u32;
    loop {
        attempt = attempt.saturating_add(1);
        let err = match op(attempt).await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let class = err.retry_class();
        let (used, budget, server_wait, reason) = match class {
            RetryClass::Permanent => return Err(err),
            RetryClass::Transient if idempotency == Idempotency::NotIdempotent => {
                tracing::warn!(%label, error = %err, "not retried: the request may have been applied and repeating it could apply it twice");
                return Err(err);
            }
            RetryClass::Transient | RetryClass::NotApplied => {
                failures += 1;
                (failures, policy.max_retries, None, "transient failure")
            }
            RetryClass::Unreachable => {
                unreached += 1;
                let budget = policy.max_connect_attempts.saturating_sub(1);
                (unreached, budget, None, "could not connect")
            }
            RetryClass::RateLimited { wait } => {
                limited += 1;
                (
                    limited,
                    policy.max_rate_limited_retries,
                    wait,
                    "rate limited",
                )
            }
        };
        if used > budget {
            if class == RetryClass::Unreachable && budget > 0 {
                let attempts = used;
                tracing::warn!(%label, error = %err, attempts, "giving up: could not connect in {attempts} attempts");
            } else if budget > 0 {
                tracing::warn!(%label, error = %err, retries = budget, "giving up: retries used up");
            }
            return Err(err);
        }
        let computed = match class {
            RetryClass::Unreachable => policy.connect_wait(unreached),
            _ => backoff.next().unwrap_or(policy.max_backoff),
        };
        let wait = server_wait.map_or(computed, |w| w.min(policy.max_server_wait).max(computed));
        if started.elapsed() + wait > policy.deadline {
            tracing::warn!(%label, error = %err, deadline = ?policy.deadline, "giving up: the next wait would pass the request's deadline");
            return Err(err);
        }
        tracing::info!(
            %label,
            reason,
            status = err.status(),
            error = %err,
            wait = ?wait,
            // A number (ms), and absent when the server named no wait: `?Option` would log
            // `"None"` as a string in the JSON logs.
            server_asked_ms = server_wait.map(|w| u64::try_from(w.as_millis()).unwrap_or(u64::MAX)),
            "{reason}; retrying in {wait:.1?} (retry {used} of {budget})"
        );
        let _limited = limit
            .filter(|_| matches!(class, RetryClass::RateLimited { .. }))
            .map(crate::ledger::waiting);
        tokio::time::sleep(wait).await;
    }
}
