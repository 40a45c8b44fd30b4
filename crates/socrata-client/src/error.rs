//! The one error type of this crate.

use std::time::Duration;

use knack_services_core::{Classify, RetryClass};
use serde::Deserialize;

use crate::summary::WriteSummary;

/// Everything that can go wrong talking to Socrata.
///
/// No variant ever holds a credential: the request URL never carries one (app tokens travel in a
/// header), and the bodies kept here are Socrata's own error bodies.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The builder was given an unusable setting; the message names the setting and the fix.
    #[error("invalid socrata-client configuration: {0}")]
    Config(String),

    /// The dataset id is not a Socrata "4x4" id such as `abcd-1234`.
    #[error("invalid dataset id {0:?}: expected a Socrata 4x4 id such as \"abcd-1234\"")]
    InvalidDatasetId(String),

    /// Socrata answered 400 `"Illegal field name sent: <field>"`: a row holds a key that is not a
    /// column of the dataset (Socrata stopped ignoring unknown keys in 2019).
    #[error(
        "Socrata rejected field {field:?} of dataset {dataset}: it is not a column of the dataset \
         (\"{message}\"); drop the key or add the column to the dataset"
    )]
    IllegalFieldName {
        /// The dataset written to.
        dataset: String,
        /// The offending field name, as Socrata reported it.
        field: String,
        /// Socrata's message.
        message: String,
    },

    /// Socrata answered with an error status. `hint` says what usually fixes it.
    #[error("Socrata answered {status} for {operation}: {}{}", body.message.as_deref().unwrap_or("(no message)"), hint(*status))]
    Api {
        /// What was being done, e.g. `upsert to abcd-1234`.
        operation: String,
        /// The HTTP status.
        status: u16,
        /// Socrata's parsed error body (every field optional; older errors carry only `message`).
        body: Box<ApiErrorBody>,
        /// The wait the server asked for in `Retry-After`, if any (Socrata does not document one).
        retry_after: Option<Duration>,
    },

    /// A write was accepted (200) but Socrata reported `Errors > 0`: some rows were not applied.
    /// Deleting a row that does not exist also counts as an error on Socrata's side.
    #[error(
        "Socrata reported {} row error(s) writing to {dataset} (created {}, updated {}, deleted {}); \
         check the rows' values against the dataset's column types",
        summary.errors, summary.rows_created, summary.rows_updated, summary.rows_deleted
    )]
    RowErrors {
        /// The dataset written to.
        dataset: String,
        /// The summed counts of every batch sent so far, including the failing one.
        summary: WriteSummary,
        /// Which rows of the caller's input the failing request carried (`start..end`, 0-based):
        /// Socrata's answer counts the errors (`"Errors": n`) but never says which rows they
        /// were, so these are the candidates to check or send again one by one.
        rows: std::ops::Range<usize>,
    },

    /// Socrata kept answering 202 "Request Processing" for longer than the retry policy allows.
    /// Socrata asks for the same request again until it answers 200, so a 202 is retried even
    /// for a replace.
    #[error("Socrata was still processing {operation} after {attempts} attempts (HTTP 202); try again later")]
    StillProcessing {
        /// What was being done.
        operation: String,
        /// How many times the request was sent.
        attempts: u32,
    },

    /// The request did not finish within the client's read or write timeout (the answer
    /// stalled). A write may or may not have been applied.
    #[error("Socrata did not answer {operation} in time: the portal may be slow or down; raise the read or write timeout if big batches need longer")]
    Timeout {
        /// What was being done.
        operation: String,
    },

    /// The connection failed or the answer broke off (DNS, TCP, TLS, reset).
    // No setting named here: the caller knows where the URL came from and names it.
    #[error("could not reach Socrata at {host} for {operation}: {cause}")]
    Transport {
        /// What was being done.
        operation: String,
        /// The portal tried (scheme, host and port; no path, no credentials).
        host: String,
        /// Whether the request surely never reached Socrata (the connection was never made), so
        /// even a replace or an append can be retried.
        not_sent: bool,
        /// The root cause, such as `connection refused (...)` or `dns error (...)`.
        cause: String,
    },

    /// Socrata answered 200 with a body this crate could not understand.
    #[error("unexpected response from Socrata for {operation}: {message}")]
    Decode {
        /// What was being done.
        operation: String,
        /// What did not parse.
        message: String,
    },

    /// A value helper got an input it cannot represent (e.g. a latitude of 123).
    #[error("invalid value: {0}")]
    InvalidValue(String),
}

fn hint(status: u16) -> &'static str {
    match status {
        401 => " (check the API key id and secret, or username and password)",
        403 => " (the credentials lack permission on this dataset, or none were given for a write)",
        404 => " (check the dataset id and the domain)",
        429 => " (rate limited; send an app token (ClientBuilder::app_token) to raise the limit)",
        413 => " (request too large; lower the batch size or the batch byte cap)",
        _ => "",
    }
}

/// Socrata's JSON error body: `{"code", "error", "message", "data"}`, every key optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ApiErrorBody {
    /// Machine-readable code, e.g. `query.compiler.malformed` or `invalid_request`.
    #[serde(default)]
    pub code: Option<String>,
    /// Always `true` in error bodies.
    #[serde(default)]
    pub error: Option<bool>,
    /// Human-readable message.
    #[serde(default)]
    pub message: Option<String>,
    /// Extra detail (query position, etc.).
    #[serde(default)]
    pub data: Option<serde_json::Value>,
}

impl ApiErrorBody {
    /// Parses an error body; a non-JSON body becomes the message (trimmed to 500 chars).
    pub(crate) fn parse(text: &str) -> Self {
        match serde_json::from_str::<ApiErrorBody>(text) {
            Ok(body) => body,
            Err(_) => ApiErrorBody {
                message: (!text.trim().is_empty()).then(|| text.trim().chars().take(500).collect()),
                ..Default::default()
            },
        }
    }
}

impl Classify for Error {
    /// 429 is a rate limit (with the wait `Retry-After` asked for, if any); 5xx, timeouts and
    /// broken answers are transient; a 202 "still processing" surely was not applied; a
    /// connection never made is unreachable (its own, smaller budget); the rest (4xx, bad data,
    /// configuration) are permanent.
    fn retry_class(&self) -> RetryClass {
        match self {
            Error::Api {
                status: 429,
                retry_after,
                ..
            } => RetryClass::RateLimited { wait: *retry_after },
            Error::Api { status, .. } if (500..=599).contains(status) => RetryClass::Transient,
            Error::StillProcessing { .. } => RetryClass::NotApplied,
            Error::Transport { not_sent: true, .. } => RetryClass::Unreachable,
            Error::Timeout { .. } | Error::Transport { .. } => RetryClass::Transient,
            _ => RetryClass::Permanent,
        }
    }

    fn status(&self) -> Option<u16> {
        Error::status(self)
    }
}

impl Error {
    /// True for failures worth retrying later: 429, 5xx, 202 still processing, timeouts and
    /// connection errors. Whether a given write may be retried also depends on whether it is
    /// idempotent (a replace is never repeated after a 5xx or a timeout).
    pub fn is_retryable(&self) -> bool {
        self.retry_class() != RetryClass::Permanent
    }

    /// The HTTP status, when Socrata answered with an error status.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            Error::IllegalFieldName { .. } => Some(400),
            _ => None,
        }
    }
}

/// Pulls the field out of "Illegal field name sent: switch_comm".
pub(crate) fn illegal_field(message: &str) -> Option<String> {
    let idx = message.find("Illegal field name")?;
    let rest = &message[idx..];
    let field = rest.split_once(':').map(|(_, f)| f).unwrap_or("");
    let field = field
        .trim()
        .trim_matches(|c| c == '"' || c == '\'' || c == '`');
    Some(field.to_string())
}
