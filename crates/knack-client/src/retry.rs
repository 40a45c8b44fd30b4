//! Which failures are retried, and how long to wait between attempts.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use backon::ExponentialBuilder;
use reqwest::header::HeaderMap;

/// How the client retries transient failures (429, 5xx, timeouts, connection
/// errors): exponential backoff with jitter, a bounded number of attempts.
///
/// knackpy retried 5 times with a random 0.3–0.9 s pause; the defaults keep
/// that budget but back off exponentially, because Knack's 5xx come in bursts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included (1 = no retries).
    pub max_attempts: u32,
    /// The first backoff.
    pub min_backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
    /// The least wait after a 429. Knack documents no `Retry-After`, only
    /// `X-RateLimit-Reset`, and says requests stay rejected for the rest of the
    /// one-second window, so one second is the safe floor. Tests lower it.
    pub min_rate_limit_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            min_backoff: Duration::from_millis(300),
            max_backoff: Duration::from_secs(10),
            min_rate_limit_wait: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    pub(crate) fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.min_backoff)
            .with_max_delay(self.max_backoff)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
            .with_jitter()
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.max_attempts == 0 {
            return Err("retry max_attempts must be at least 1 (1 means no retries)".into());
        }
        if self.min_backoff > self.max_backoff {
            return Err(format!(
                "retry min_backoff ({:?}) is longer than max_backoff ({:?})",
                self.min_backoff, self.max_backoff
            ));
        }
        Ok(())
    }
}

/// How long a 429 asks us to wait: until `X-RateLimit-Reset` (epoch seconds),
/// and never less than `floor`.
pub(crate) fn rate_limit_wait(headers: &HeaderMap, now: SystemTime, floor: Duration) -> Duration {
    let reset = headers
        .get("x-ratelimit-reset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|epoch| UNIX_EPOCH + Duration::from_secs(epoch));
    let until_reset = reset
        .and_then(|r| r.duration_since(now).ok())
        .unwrap_or_default();
    until_reset.max(floor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(reset: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("X-RateLimit-Reset", reset.parse().unwrap());
        h
    }

    #[test]
    fn waits_until_the_reset_epoch_and_at_least_the_floor() {
        let now = UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        let floor = Duration::from_secs(1);
        // Reset 3 s ahead (in whole epoch seconds): wait the 2.75 s left.
        assert_eq!(
            rate_limit_wait(&headers("1700000003"), now, floor),
            Duration::from_millis(2750)
        );
        // Reset already passed, missing or garbage: the floor.
        assert_eq!(rate_limit_wait(&headers("1699999999"), now, floor), floor);
        assert_eq!(rate_limit_wait(&HeaderMap::new(), now, floor), floor);
        assert_eq!(rate_limit_wait(&headers("soon"), now, floor), floor);
    }

    #[test]
    fn rejects_nonsense() {
        assert!(RetryPolicy {
            max_attempts: 0,
            ..RetryPolicy::default()
        }
        .validate()
        .is_err());
        let p = RetryPolicy {
            min_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        assert!(p.validate().unwrap_err().contains("min_backoff"));
        assert!(RetryPolicy::default().validate().is_ok());
    }
}
