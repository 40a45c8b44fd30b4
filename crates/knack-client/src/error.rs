//! The one error type of this crate.

use std::time::Duration;

use chrono::{DateTime, Local, Utc};
use knack_services_core::{Classify, RetryClass};

/// Everything that can go wrong talking to Knack or reading its data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client was configured wrongly (caught by `ClientBuilder::build`).
    #[error("invalid Knack client configuration: {0}")]
    Config(String),
    /// A container key that Knack cannot address.
    #[error("invalid container `{id}`: {reason}")]
    InvalidContainer {
        /// The key as given.
        id: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The metadata is not what Knack sends, or lacks what was asked for.
    #[error("Knack metadata: {0}")]
    Metadata(String),
    /// The app's timezone name has no known IANA equivalent.
    #[error(
        "unknown Knack timezone {0:?}: add it to knack-client's timezone table (or report it)"
    )]
    UnknownTimezone(String),
    /// A record lacks a field its container's metadata lists (knackpy fails
    /// the same way): the record and the metadata come from different schemas.
    #[error("record {record_id} has no {field} ({label:?}) although the metadata lists it: the metadata and the records come from different versions of the app; re-fetch both")]
    MissingField {
        /// The record id.
        record_id: String,
        /// The field key.
        field: String,
        /// The field's label.
        label: String,
    },
    /// A records query Knack would reject (for example `rows_per_page` over 1000).
    #[error("invalid Knack records query: {0}")]
    InvalidQuery(String),
    /// Knack answered with an error status. `message` is Knack's own message
    /// (from `{"errors":[{"message":..}]}`) or the body text, kept as sent.
    #[error("Knack answered {status} for app {app_id} ({method} {path}): {message}. {hint}", hint = status_hint(*status))]
    Api {
        /// The HTTP status.
        status: u16,
        /// The application id the call was made for.
        app_id: String,
        /// The HTTP method.
        method: String,
        /// The request path (never holds a secret: credentials travel in headers).
        path: String,
        /// Knack's message, or the raw body when it is not Knack's JSON error shape.
        message: String,
        /// What `X-RateLimit-Reset` asked us to wait, on a 429.
        retry_after: Option<Duration>,
    },
    /// Knack answered 429 with the app's daily API quota spent
    /// (`X-PlanLimit-Remaining: 0`). Not retried: the quota comes back only
    /// at `resets_at`, hours away. See <https://docs.knack.com/docs/api-limits>.
    #[error("the daily Knack API limit of app {app_id} is used up ({method} {path} was refused); it resets {}. Wait until then, or buy more API calls for the app", reset_text(.resets_at))]
    DailyLimitExceeded {
        /// The application id.
        app_id: String,
        /// The HTTP method.
        method: String,
        /// The request path.
        path: String,
        /// When the quota comes back (`X-PlanLimit-Reset`, else
        /// `X-RateLimit-Reset`), if Knack said.
        resets_at: Option<DateTime<Utc>>,
    },
    /// The call did not finish within the client's timeout (the answer stalled).
    #[error("Knack did not answer {method} {path} for app {app_id} within {after:?}: Knack may be slow or down; raise the timeout if large pages need longer")]
    Timeout {
        /// The application id.
        app_id: String,
        /// The HTTP method.
        method: String,
        /// The request path.
        path: String,
        /// The timeout that passed.
        after: Duration,
    },
    /// The connection to Knack failed (DNS, TCP, TLS, reset).
    #[error("could not reach Knack at {host} for {method} {path} (app {app_id}): {cause}")]
    Transport {
        /// The application id.
        app_id: String,
        /// The HTTP method.
        method: String,
        /// The request path.
        path: String,
        /// The host tried (scheme, host and port; no path or query). Boxed
        /// to keep `Error` small.
        host: Box<str>,
        /// Whether the request surely never reached Knack (connect failed), so
        /// even a create can be retried without risking a duplicate.
        not_sent: bool,
        /// The root cause, such as `connection refused (...)` or `dns error (...)`.
        cause: String,
    },
    /// Knack answered 2xx with a body that is not what its API sends.
    #[error("unexpected response from Knack for {path}: {message}")]
    Decode {
        /// The request path.
        path: String,
        /// What was wrong.
        message: String,
    },
}

fn status_hint(status: u16) -> &'static str {
    match status {
        401 | 403 => "Check ClientBuilder::api_key and ClientBuilder::app_id (for view requests with a user token: tokens expire after 48 hours, log in again)",
        404 => "Check the app id, the container key (object_N, or scene_N with view_N) and the record id",
        400 => "Knack refused the request: check the filter operators, field keys and field values",
        429 => "Knack's limit of 10 requests per second (or the plan's daily limit) was exceeded even after retries; lower the request rate or buy more API calls",
        500..=599 => "Knack had a server error that persisted through retries; try again later",
        _ => "See Knack's message above",
    }
}

fn reset_text(at: &Option<DateTime<Utc>>) -> String {
    match at {
        Some(t) => format!(
            "at {} (local time)",
            t.with_timezone(&Local).format("%Y-%m-%d %H:%M %:z")
        ),
        None => "within a day (Knack did not say when)".into(),
    }
}

impl Classify for Error {
    /// 429 is a rate limit (with the wait `X-RateLimit-Reset` asked for);
    /// 5xx, timeouts and dropped connections are transient; a connection that
    /// never opened is unreachable (surely not applied, retried on a smaller
    /// budget); the rest, the daily limit included, is permanent.
    fn retry_class(&self) -> RetryClass {
        match self {
            Self::Api {
                status: 429,
                retry_after,
                ..
            } => RetryClass::RateLimited { wait: *retry_after },
            Self::Api { status, .. } if (500..=599).contains(status) => RetryClass::Transient,
            Self::Transport { not_sent: true, .. } => RetryClass::Unreachable,
            Self::Timeout { .. } | Self::Transport { .. } => RetryClass::Transient,
            _ => RetryClass::Permanent,
        }
    }

    fn status(&self) -> Option<u16> {
        Error::status(self)
    }
}

impl Error {
    /// Whether trying the same call again may succeed.
    ///
    /// True for 429 (unless the daily limit is spent), 5xx, timeouts and
    /// connection errors; false for other 4xx and for errors of configuration
    /// or data, which repeat identically.
    pub fn is_retryable(&self) -> bool {
        self.retry_class() != RetryClass::Permanent
    }

    /// The HTTP status Knack answered, when the error is an API answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            Self::DailyLimitExceeded { .. } => Some(429),
            _ => None,
        }
    }
}
