//! The one error type of this crate.

use std::time::Duration;

use serde::Deserialize;

use crate::write::WriteSummary;

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

    /// Socrata answered 400 "Illegal field name sent: <field>": a row holds a key that is not a
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
    },

    /// Socrata kept answering 202 "Request Processing" for longer than the retry policy allows.
    #[error("Socrata was still processing {operation} after {attempts} attempts (HTTP 202); try again later")]
    StillProcessing {
        /// What was being done.
        operation: String,
        /// How many times the request was sent.
        attempts: u32,
    },

    /// The request timed out. Writes may or may not have been applied.
    #[error("{operation} timed out; raise the timeout with ClientBuilder::read_timeout/write_timeout if Socrata is slow")]
    Timeout {
        /// What was being done.
        operation: String,
    },

    /// The connection failed or the response could not be read.
    #[error(
        "could not reach Socrata for {operation}: {source}; check the domain URL and the network"
    )]
    Transport {
        /// What was being done.
        operation: String,
        /// The underlying error (its URL holds no secret: credentials travel in headers).
        #[source]
        source: reqwest::Error,
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
        429 => " (rate limited; set an app token with ClientBuilder::app_token)",
        413 => " (request too large; lower ClientBuilder::batch_size or batch_bytes)",
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

impl Error {
    /// True for failures worth retrying later: 429, 5xx, 202 still processing, timeouts and
    /// connection errors. Whether a given write may be retried is decided separately (a replace
    /// never is on 5xx or timeouts).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api { status, .. } => *status == 429 || (500..600).contains(status),
            Error::StillProcessing { .. } | Error::Timeout { .. } => true,
            Error::Transport { source, .. } => {
                source.is_connect()
                    || source.is_timeout()
                    || source.is_request()
                    || source.is_body()
            }
            _ => false,
        }
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
