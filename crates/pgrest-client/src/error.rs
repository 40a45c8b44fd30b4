//! The one error type of this crate.

use std::time::Duration;

use serde::Deserialize;

/// PostgREST's error body: `{"code", "message", "details", "hint"}`.
///
/// `code` is a `PGRSTxxx` code or a Postgres SQLSTATE (`23505`, `42501`…). Servers older than v10 may
/// send only `message`, so every other field is optional.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct ApiError {
    /// `PGRST301`, `23505`, … (absent on very old servers).
    #[serde(default)]
    pub code: Option<String>,
    /// Human-readable message.
    #[serde(default)]
    pub message: String,
    /// Extra detail from Postgres, e.g. the key that conflicted.
    #[serde(default, deserialize_with = "lenient_string")]
    pub details: Option<String>,
    /// Postgres' hint, if any.
    #[serde(default, deserialize_with = "lenient_string")]
    pub hint: Option<String>,
}

// `details` is a string in practice, but a proxy or an old server may send anything: keep it as text.
fn lenient_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s),
        other => Some(other.to_string()),
    })
}

impl ApiError {
    /// Parses an error body; a body that is not PostgREST's JSON (a proxy's HTML page…) becomes the message.
    pub(crate) fn from_body(body: &[u8]) -> Self {
        match serde_json::from_slice::<ApiError>(body) {
            Ok(e) if e.code.is_some() || !e.message.is_empty() => e,
            _ => {
                let text = String::from_utf8_lossy(body);
                let text: String = text.trim().chars().take(300).collect();
                ApiError {
                    message: text,
                    ..Default::default()
                }
            }
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(code) = &self.code {
            write!(f, "[{code}] ")?;
        }
        f.write_str(if self.message.is_empty() {
            "(no message)"
        } else {
            &self.message
        })?;
        if let Some(d) = &self.details {
            write!(f, " (details: {d})")?;
        }
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong talking to PostgREST.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The builder was given something unusable; nothing was sent.
    #[error("invalid PostgREST client configuration: {0}")]
    Config(String),

    /// The client refused to send a request that would do harm or cannot work (e.g. a DELETE without a filter).
    #[error("refused: {0}")]
    Refused(String),

    /// 401 with `PGRST301`/`PGRST302`/`PGRST303`: the JWT is missing, invalid or expired.
    #[error(
        "PostgREST rejected the JWT (HTTP {status}): {api}. Fix: set a valid, unexpired JWT signed with the \
         server's jwt-secret whose `role` claim names the API role"
    )]
    Unauthorized {
        /// HTTP status (401).
        status: u16,
        /// The parsed body.
        api: Box<ApiError>,
    },

    /// 401/403 with SQLSTATE `42501`: the role has no privilege on the table.
    #[error(
        "permission denied (HTTP {status}): {api}. Fix: grant the table to the JWT's role, or send a JWT \
         (without one PostgREST uses the anonymous role)"
    )]
    PermissionDenied {
        /// HTTP status (401 anonymous, 403 with a JWT).
        status: u16,
        /// The parsed body.
        api: Box<ApiError>,
    },

    /// 409: a unique or foreign-key constraint was violated (`23505`, `23503`).
    #[error("conflict (HTTP 409): {api}. Fix: use upsert, or remove the duplicate rows")]
    Conflict {
        /// The parsed body.
        api: Box<ApiError>,
    },

    /// Any other non-2xx answer.
    #[error("PostgREST answered HTTP {status} to {method} /{path}: {api}")]
    Api {
        /// HTTP status.
        status: u16,
        /// HTTP method of the request.
        method: String,
        /// Table, view or `rpc/<function>` that was called.
        path: String,
        /// The parsed body.
        api: Box<ApiError>,
        /// `Retry-After` (seconds) when the server sent it, as on 503 during connection recovery.
        retry_after: Option<Duration>,
    },

    /// The request did not get an answer in time.
    #[error(
        "request to PostgREST timed out: {0}. Fix: raise the client timeout or check the server"
    )]
    Timeout(#[source] reqwest::Error),

    /// Connecting or talking to the server failed.
    #[error(
        "could not reach PostgREST: {0}. Fix: check the endpoint URL and that the server is up"
    )]
    Connection(#[source] reqwest::Error),

    /// A request body could not be serialized.
    #[error("could not encode the request body as JSON: {0}")]
    Encode(#[source] serde_json::Error),

    /// A response body did not match the expected type.
    #[error("could not decode PostgREST's response from /{path}: {source}")]
    Decode {
        /// Table, view or `rpc/<function>` that was called.
        path: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    /// Whether repeating the same request may succeed: 503, 504, serialization failures and deadlocks,
    /// timeouts and connection errors. The client still retries only idempotent calls.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api { status, api, .. } => {
                matches!(status, 502..=504)
                    || (*status == 500 && matches!(api.code.as_deref(), Some("40001" | "40P01")))
            }
            Error::Timeout(_) | Error::Connection(_) => true,
            _ => false,
        }
    }

    /// HTTP status of the answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Unauthorized { status, .. }
            | Error::PermissionDenied { status, .. }
            | Error::Api { status, .. } => Some(*status),
            Error::Conflict { .. } => Some(409),
            _ => None,
        }
    }

    /// PostgREST's parsed error body, when there was one.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Unauthorized { api, .. }
            | Error::PermissionDenied { api, .. }
            | Error::Conflict { api }
            | Error::Api { api, .. } => Some(api.as_ref()),
            _ => None,
        }
    }

    /// `Retry-After` sent with the answer.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// True for a JWT problem (401 `PGRST30x`): refresh the token, do not retry as is.
    pub fn is_jwt_error(&self) -> bool {
        matches!(self, Error::Unauthorized { .. })
    }

    /// True for a 409 constraint conflict.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Conflict { .. })
    }

    /// Builds the error for a non-2xx answer.
    pub(crate) fn from_response(
        status: u16,
        method: &str,
        path: &str,
        body: &[u8],
        retry_after: Option<Duration>,
    ) -> Self {
        let api = Box::new(ApiError::from_body(body));
        let code = api.code.as_deref().unwrap_or("");
        if status == 401 && code.starts_with("PGRST3") {
            return Error::Unauthorized { status, api };
        }
        if matches!(status, 401 | 403) && code == "42501" {
            return Error::PermissionDenied { status, api };
        }
        if status == 409 {
            return Error::Conflict { api };
        }
        // Servers before v10 send a bare {"message": "JWT expired"} on 401.
        if status == 401 && api.message.contains("JWT") {
            return Error::Unauthorized { status, api };
        }
        Error::Api {
            status,
            method: method.to_string(),
            path: path.to_string(),
            api,
            retry_after,
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
