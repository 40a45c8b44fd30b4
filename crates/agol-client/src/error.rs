//! The one error type of this crate.

use std::fmt;

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
    /// Position of the feature in the batch that was sent (0-based).
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
    #[error("ArcGIS sign-in failed for user `{username}`: {message}{}; check the username and password (AGOL_USERNAME / AGOL_PASSWORD)", details_suffix(.details))]
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
        /// Seconds the service asked to wait (`Retry-After`), if it did.
        retry_after_secs: Option<u64>,
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
    /// The connection failed or timed out.
    #[error("{operation}: {}: {source}", if .source.is_timeout() { "request timed out" } else if .source.is_connect() { "could not connect" } else { "HTTP transport error" })]
    Transport {
        /// The call that failed.
        operation: String,
        /// The underlying error (it carries no secret: tokens are never in URLs).
        source: reqwest::Error,
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

impl Error {
    /// Whether trying the same call again may succeed (transient: 429, 5xx, timeouts, connection
    /// errors, and `error.code` 429/500/502/503/504 inside a 200 body).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api { status, code, .. } => {
                is_transient_status(*status) || code.is_some_and(is_transient_code)
            }
            Error::Transport { source, .. } => {
                source.is_timeout() || source.is_connect() || source.is_request()
            }
            _ => false,
        }
    }

    /// Whether the request provably never reached the service, so even a non-idempotent call may
    /// be sent again: only a failure to connect qualifies (the body was never written).
    pub(crate) fn proves_not_applied(&self) -> bool {
        matches!(self, Error::Transport { source, .. } if source.is_connect())
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

fn is_transient_status(status: u16) -> bool {
    status == 429 || (500..600).contains(&status)
}

fn is_transient_code(code: i64) -> bool {
    matches!(code, 429 | 500 | 502 | 503 | 504)
}
