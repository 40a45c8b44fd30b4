//! The one error type of this crate.

use std::fmt;
use std::time::Duration;

use knack_services_core::{Classify, RetryClass};

use crate::types::EditResults;

/// Which list of an edit response a result came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditKind {
    /// `addResults`.
    Add,
    /// `updateResults`.
    Update,
    /// `deleteResults`.
    Delete,
}

impl fmt::Display for EditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EditKind::Add => "add",
            EditKind::Update => "update",
            EditKind::Delete => "delete",
        })
    }
}

/// One feature the service refused, as reported in an edit result list.
#[derive(Debug, Clone, PartialEq)]
pub struct EditFailure {
    /// Which result list it came from.
    pub kind: EditKind,
    /// Position of the feature in the caller's input (0-based), across batches: the input's
    /// third feature is index 2 whatever batch carried it. For `applyEdits`, the position in
    /// that kind's list (`adds`, `updates` or `deletes`).
    pub index: usize,
    /// The object id, when the service gave one (failed adds often carry none, or -1).
    pub object_id: Option<i64>,
    /// The global id, when the service gave one.
    pub global_id: Option<String>,
    /// The service's error code (often a database code such as 1000).
    pub code: Option<i64>,
    /// The service's `description` of the failure.
    pub description: String,
}

impl EditFailure {
    /// ArcGIS's code for "Operation rolled back.": the feature failed only because another
    /// feature of the same request did (`rollbackOnFailure=true`).
    pub const ROLLED_BACK: i64 = 1003;

    /// Whether this feature failed only because another one of its request did (code
    /// [`EditFailure::ROLLED_BACK`]), not for a reason of its own.
    pub fn only_rolled_back(&self) -> bool {
        self.code == Some(Self::ROLLED_BACK)
    }
}

impl fmt::Display for EditFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} #{}", self.kind, self.index)?;
        if let Some(id) = self.object_id {
            write!(f, " (objectId {id})")?;
        }
        if let Some(code) = self.code {
            write!(f, ": code {code}")?;
        }
        write!(f, ": {}", self.description)
    }
}

fn list_failures(failures: &[EditFailure]) -> String {
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn details_suffix(details: &[String]) -> String {
    if details.is_empty() {
        String::new()
    } else {
        format!(" ({})", details.join("; "))
    }
}

/// Everything that can go wrong talking to ArcGIS Online or a feature service.
///
/// No variant ever holds a token, password or API key, and no URL carried here holds one
/// either (tokens travel in form bodies, never in query strings).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client was configured wrongly (caught by `ClientBuilder::build`) or a call got an
    /// argument the service cannot address.
    #[error("invalid ArcGIS client configuration: {0}")]
    Config(String),
    /// Token generation was refused (bad username or password, account locked…).
    #[error("ArcGIS sign-in failed for user `{username}`: {message}{}; check the username and password (ClientBuilder::credentials)", details_suffix(.details))]
    Auth {
        /// The user that tried to sign in (not a secret).
        username: String,
        /// The portal's message.
        message: String,
        /// The portal's details.
        details: Vec<String>,
    },
    /// The service rejected the token (498 invalid/expired, 499 required) and a fresh one could
    /// not be obtained or was rejected too.
    #[error("{operation}: ArcGIS rejected the token (code {code}: {message}); a preset token or API key cannot be renewed by the client, supply a valid one or use username + password")]
    TokenRejected {
        /// The call that failed.
        operation: String,
        /// 498 or 499.
        code: i64,
        /// The service's message.
        message: String,
    },
    /// The service answered with an error, either as an HTTP error status or as an `error` object
    /// inside an HTTP 200 body (ArcGIS's usual way).
    #[error("{operation}: ArcGIS error {}{message}{}", .code.map(|c| format!("{c}: ")).unwrap_or_default(), details_suffix(.details))]
    Api {
        /// The call that failed.
        operation: String,
        /// The HTTP status (200 when the error came inside a successful response).
        status: u16,
        /// `error.code` from the body, when there was one.
        code: Option<i64>,
        /// `error.message` (or the HTTP status text when the body had none).
        message: String,
        /// `error.details`.
        details: Vec<String>,
        /// The wait the service asked for (`Retry-After`, in seconds or an HTTP-date), if it did.
        retry_after: Option<Duration>,
    },
    /// One or more features in an edit batch failed. Lists every failure, not only the first.
    #[error("{operation}: {} of {sent} feature edit(s) failed in batch {batch}{}: {}", .failures.len(), if *.rolled_back { " (rollbackOnFailure: nothing in this batch was applied)" } else { "" }, list_failures(.failures))]
    EditsFailed {
        /// The call that failed.
        operation: String,
        /// 1-based batch number; earlier batches were applied.
        batch: usize,
        /// How many edits this batch carried.
        sent: usize,
        /// Whether the batch was sent with `rollbackOnFailure=true`.
        rolled_back: bool,
        /// Every failed feature.
        failures: Vec<EditFailure>,
        /// What was applied all the same: every earlier batch's results, plus this batch's
        /// successes when it was not rolled back (their object ids, such as new features').
        applied: Box<EditResults>,
    },
    /// A non-idempotent call (adds) failed in a way that does not prove the service did not apply
    /// it (a timeout, a 5xx after sending). It is not re-sent, since that could duplicate features.
    #[error("{operation}: the outcome is unknown, the features may or may not have been added ({source}); not re-sent to avoid duplicates: query the layer by a natural key (e.g. `id`) before retrying")]
    OutcomeUnknown {
        /// The call that failed.
        operation: String,
        /// What happened.
        source: Box<Error>,
    },
    /// The connection failed, was dropped, or timed out.
    // No setting named here: the caller knows where the URL came from and names it.
    #[error("{operation}: {cause}")]
    Transport {
        /// The call that failed.
        operation: String,
        /// The root cause in words: `connection refused`, `timed out after 2s`, `dns error (...)`,
        /// `certificate error (...)` (it carries no secret: tokens are never in URLs).
        cause: String,
        /// Whether the request surely never reached the service (the connection never opened),
        /// so even an add may be sent again.
        not_sent: bool,
    },
    /// The response was not the JSON this client expected.
    #[error("{operation}: unexpected response: {message}")]
    Decode {
        /// The call that failed.
        operation: String,
        /// What was wrong.
        message: String,
    },
    /// A layer, table or item asked for does not exist.
    #[error("{0}")]
    NotFound(String),
}

impl Classify for Error {
    /// 429 (as HTTP status or as `error.code` inside a 200) is a rate limit, with the wait
    /// `Retry-After` asked for; 5xx statuses and `error.code` 500/502/503/504, timeouts and
    /// dropped connections are transient; a connection that never opened is unreachable
    /// (surely not applied, retried on a smaller budget); everything else (4xx, 498/499 after
    /// renewal, bad data) is permanent.
    fn retry_class(&self) -> RetryClass {
        match self {
            Error::Api {
                status,
                code,
                retry_after,
                ..
            } if *status == 429 || *code == Some(429) => {
                RetryClass::RateLimited { wait: *retry_after }
            }
            Error::Api { status, code, .. }
                if (500..600).contains(status) || code.is_some_and(is_transient_code) =>
            {
                RetryClass::Transient
            }
            Error::Transport { not_sent: true, .. } => RetryClass::Unreachable,
            Error::Transport { .. } => RetryClass::Transient,
            _ => RetryClass::Permanent,
        }
    }

    fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl Error {
    /// Whether trying the same call again may succeed (transient: 429, 5xx, timeouts, connection
    /// errors, and `error.code` 429/500/502/503/504 inside a 200 body).
    pub fn is_retryable(&self) -> bool {
        self.retry_class() != RetryClass::Permanent
    }

    /// The HTTP status, when the service answered with an error (200 for an error inside a
    /// successful response).
    pub fn status(&self) -> Option<u16> {
        Classify::status(self)
    }

    /// A transport error of `operation`, described by its root cause.
    pub(crate) fn transport(
        operation: &str,
        e: &reqwest::Error,
        timeouts: &knack_services_core::Timeouts,
    ) -> Self {
        Error::Transport {
            operation: operation.into(),
            cause: knack_services_core::describe_transport(e, timeouts),
            not_sent: knack_services_core::surely_not_sent(e),
        }
    }

    /// The 498/499 code when this is a token rejection, before any refresh was attempted.
    pub(crate) fn token_code(&self) -> Option<i64> {
        match self {
            Error::Api { status, code, .. } => match code {
                Some(c @ (498 | 499)) => Some(*c),
                _ if *status == 498 || *status == 499 => Some(i64::from(*status)),
                _ => None,
            },
            _ => None,
        }
    }
}

fn is_transient_code(code: i64) -> bool {
    matches!(code, 500 | 502 | 503 | 504)
}
