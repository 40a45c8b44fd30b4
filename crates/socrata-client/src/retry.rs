//! The retry policy and which failures each kind of request may retry.

use std::time::Duration;

use crate::Error;

/// How transient failures are retried: exponential backoff with jitter, bounded attempts.
///
/// Socrata documents no `Retry-After`, but when one arrives it is honoured (capped at
/// [`RetryPolicy::max_delay`] × 10 so a bad header cannot stall a run for hours).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Total attempts, the first one included (1 disables retries). 202 "still processing"
    /// answers count against the same budget.
    pub max_attempts: u32,
    /// First backoff wait.
    pub min_delay: Duration,
    /// Longest backoff wait.
    pub max_delay: Duration,
    /// Randomise waits so that parallel runs do not retry in lockstep.
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            min_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The wait before the next attempt: `Retry-After` when the server sent one, else backoff's.
    pub(crate) fn wait_for(&self, err: &Error, proposed: Duration) -> Duration {
        match err {
            Error::Api {
                retry_after: Some(ra),
                ..
            } => (*ra).min(self.max_delay * 10),
            _ => proposed,
        }
    }
}

/// Whether a request may be sent again after a failure whose outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// Reads, upserts keyed by a row identifier, deletes: retry every transient failure.
    Idempotent,
    /// Replace (PUT) and appends: retry only when Socrata said the request was not applied (429)
    /// or asked for it to be repeated (202); never after a 5xx, timeout or broken connection.
    NotIdempotent,
}

pub(crate) fn retry_allowed(err: &Error, idempotency: Idempotency) -> bool {
    match idempotency {
        Idempotency::Idempotent => err.is_retryable(),
        Idempotency::NotIdempotent => {
            matches!(err, Error::StillProcessing { .. }) || err.status() == Some(429)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, retry_after: Option<u64>) -> Error {
        Error::Api {
            operation: "upsert to abcd-1234".into(),
            status,
            body: Box::default(),
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    #[test]
    fn retry_after_overrides_backoff_within_a_cap() {
        let p = RetryPolicy {
            max_delay: Duration::from_secs(2),
            ..RetryPolicy::default()
        };
        let backoff = Duration::from_millis(700);
        assert_eq!(
            p.wait_for(&api(429, Some(7)), backoff),
            Duration::from_secs(7)
        );
        assert_eq!(
            p.wait_for(&api(429, Some(3600)), backoff),
            Duration::from_secs(20)
        );
        assert_eq!(p.wait_for(&api(503, None), backoff), backoff);
    }

    #[test]
    fn what_each_kind_of_request_retries() {
        let processing = Error::StillProcessing {
            operation: "x".into(),
            attempts: 1,
        };
        let timeout = Error::Timeout {
            operation: "x".into(),
        };
        for (e, idem, not_idem) in [
            (api(429, None), true, true),
            (api(503, None), true, false),
            (api(500, None), true, false),
            (api(400, None), false, false),
            (api(404, None), false, false),
            (processing, true, true),
            (timeout, true, false),
        ] {
            assert_eq!(retry_allowed(&e, Idempotency::Idempotent), idem, "{e}");
            assert_eq!(
                retry_allowed(&e, Idempotency::NotIdempotent),
                not_idem,
                "{e}"
            );
        }
    }

    #[test]
    fn dataset_ids() {
        assert!(crate::client::check_dataset_id("abcd-1234").is_ok());
        for bad in ["abcd1234", "abcd-123", "ab/d-1234", "abcd-12345", ""] {
            assert!(crate::client::check_dataset_id(bad).is_err(), "{bad}");
        }
    }
}
