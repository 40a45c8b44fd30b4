//! The one error type of this crate.

use std::time::Duration;

use knack_services_core::{Classify, RetryClass};
use serde::Deserialize;

/// PostgREST's error body: `{"code", "message", "details", "hint"}`.
///
/// `code` is a `PGRSTxxx` code or a Postgres SQLSTATE (`23505`, `42501`…). Servers older than v10 may
/// send only `message`, so every other field is optional.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct ApiErrorBody {
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

impl ApiErrorBody {
    /// Parses an error body; a body that is not PostgREST's JSON (a proxy's HTML page…) becomes the message.
    pub(crate) fn from_body(body: &[u8]) -> Self {
        match serde_json::from_slice::<ApiErrorBody>(body) {
            Ok(e) if e.code.is_some() || !e.message.is_empty() => e,
            _ => {
                let text = String::from_utf8_lossy(body);
                let text: String = text.trim().chars().take(300).collect();
                ApiErrorBody {
                    message: text,
                    ..Default::default()
                }
            }
        }
    }
}

impl std::fmt::Display for ApiErrorBody {
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
        "PostgREST rejected the JWT (HTTP {status}): {body}. Fix: set a valid, unexpired JWT signed with the \
         server's jwt-secret whose `role` claim names the API role"
    )]
    Unauthorized {
        /// HTTP status (401).
        status: u16,
        /// The parsed body.
        body: Box<ApiErrorBody>,
    },

    /// 401/403 with SQLSTATE `42501`: the role has no privilege on the table.
    #[error(
        "permission denied (HTTP {status}): {body}. Fix: grant the table to the JWT's role, or send a JWT \
         (without one PostgREST uses the anonymous role)"
    )]
    PermissionDenied {
        /// HTTP status (401 anonymous, 403 with a JWT).
        status: u16,
        /// The parsed body.
        body: Box<ApiErrorBody>,
    },

    /// 409: a unique or foreign-key constraint was violated (`23505`, `23503`).
    #[error("conflict (HTTP 409): {body}. Fix: use upsert, or remove the duplicate rows")]
    Conflict {
        /// The parsed body.
        body: Box<ApiErrorBody>,
    },

    /// Any other non-2xx answer.
    #[error("PostgREST answered HTTP {status} to {method} /{path}: {body}")]
    Api {
        /// HTTP status.
        status: u16,
        /// HTTP method of the request.
        method: String,
        /// Table, view or `rpc/<function>` that was called.
        path: String,
        /// The parsed body.
        body: Box<ApiErrorBody>,
        /// `Retry-After` when the server sent it, as on 503 during connection recovery.
        retry_after: Option<Duration>,
    },

    /// One attempt did not get a whole answer within the client's total timeout (a stalled
    /// server); retried within the policy for idempotent calls.
    #[error(
        "PostgREST did not answer {method} /{path} within {after:?}. Fix: check the server's load, \
         or raise ClientBuilder::timeout"
    )]
    Timeout {
        /// HTTP method of the request.
        method: String,
        /// Table, view or `rpc/<function>` that was called.
        path: String,
        /// The total timeout that ran out.
        after: Duration,
    },

    /// Connecting or talking to the server failed below HTTP.
    // No "check the base URL" here: the caller knows where the URL came from (an environment
    // variable, a config file) and names that setting (aks: `check: <setting> (<url>)`).
    #[error("could not reach PostgREST at {base_url} for {method} /{path}: {cause}")]
    Transport {
        /// HTTP method of the request.
        method: String,
        /// Table, view or `rpc/<function>` that was called.
        path: String,
        /// The base URL (it holds no secret).
        base_url: String,
        /// The root cause: "connection refused", "dns error", "certificate error", ...
        cause: String,
        /// True when the request surely never left this machine (refused, DNS, TLS), so
        /// even a non-idempotent call may be sent again.
        not_sent: bool,
    },

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
    /// Whether repeating the same request may succeed (any class but
    /// [`RetryClass::Permanent`], see the [`Classify`] impl). The client still repeats a
    /// non-idempotent call only when it surely was not applied.
    pub fn is_retryable(&self) -> bool {
        self.retry_class() != RetryClass::Permanent
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
    pub fn error_body(&self) -> Option<&ApiErrorBody> {
        match self {
            Error::Unauthorized { body, .. }
            | Error::PermissionDenied { body, .. }
            | Error::Conflict { body }
            | Error::Api { body, .. } => Some(body.as_ref()),
            _ => None,
        }
    }

    /// `Retry-After` sent with the answer (delay-seconds or an HTTP-date, as a wait from when
    /// it arrived).
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
        let body = Box::new(ApiErrorBody::from_body(body));
        let code = body.code.as_deref().unwrap_or("");
        if status == 401 && code.starts_with("PGRST3") {
            return Error::Unauthorized { status, body };
        }
        if matches!(status, 401 | 403) && code == "42501" {
            return Error::PermissionDenied { status, body };
        }
        if status == 409 {
            return Error::Conflict { body };
        }
        // Servers before v10 send no code: a bare {"message": "JWT expired"}, or the JWT
        // library's own words for a malformed token ("JWSError (CompactDecodeError ...)",
        // PostgREST v9.0.1's test/spec/Feature/AuthSpec.hs). A 401 without a code is the JWT's.
        if status == 401 && (body.code.is_none() || body.message.contains("JWT")) {
            return Error::Unauthorized { status, body };
        }
        Error::Api {
            status,
            method: method.to_string(),
            path: path.to_string(),
            body,
            retry_after,
        }
    }
}

impl Classify for Error {
    /// PostgREST's judgement of a failure (see the README's retry table):
    /// - 429 (a proxy's rate limit), and 503 with `Retry-After` (PostgREST in connection recovery
    ///   refuses requests up front and says when to come back): rate limited, surely not applied;
    /// - 503 `PGRST000`/`PGRST002` (no database, no schema cache), 504 `PGRST003` (no pooled
    ///   connection), 500 `40001`/`40P01` (the transaction was rolled back): surely not applied;
    /// - a 5xx whose SQLSTATE is a data error (class 22, 23, 42 or P0): permanent;
    /// - any other 5xx (500 without a SQLSTATE included), timeouts, connections dropped after
    ///   sending: transient (may be applied);
    /// - a connection that never opened: unreachable (surely not applied; a smaller budget);
    /// - everything else (4xx, bad bodies, configuration): permanent.
    ///
    /// Codes: <https://postgrest.org/en/stable/references/errors.html>.
    fn retry_class(&self) -> RetryClass {
        match self {
            Error::Api {
                status,
                body,
                retry_after,
                ..
            } => {
                let code = body.code.as_deref().unwrap_or("");
                match (*status, code) {
                    (429, _) => RetryClass::RateLimited { wait: *retry_after },
                    (503, _) if retry_after.is_some() => {
                        RetryClass::RateLimited { wait: *retry_after }
                    }
                    (503, "PGRST000" | "PGRST002")
                    | (504, "PGRST003")
                    | (500, "40001" | "40P01") => RetryClass::NotApplied,
                    (500..=599, code) if is_data_error(code) => RetryClass::Permanent,
                    // A 500 without a data error (no code, an internal error, a restart) is
                    // like any other 5xx: it may pass when sent again.
                    (500..=599, _) => RetryClass::Transient,
                    _ => RetryClass::Permanent,
                }
            }
            Error::Transport { not_sent: true, .. } => RetryClass::Unreachable,
            Error::Timeout { .. } | Error::Transport { .. } => RetryClass::Transient,
            _ => RetryClass::Permanent,
        }
    }

    fn status(&self) -> Option<u16> {
        Error::status(self)
    }
}

/// Whether a SQLSTATE says the request itself is wrong, so repeating it fails the same way:
/// class 22 (data exception), 23 (integrity constraint violation, such as 23505 unique
/// violation), 42 (syntax error or access rule violation), and P0 (an exception a function
/// raised on purpose).
///
/// See <https://www.postgresql.org/docs/current/errcodes-appendix.html>.
fn is_data_error(code: &str) -> bool {
    ["22", "23", "42", "P0"]
        .iter()
        .any(|class| code.len() == 5 && code.starts_with(class))
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: &str, retry_after: Option<u64>) -> Error {
        let body = format!(r#"{{"code":"{code}","message":"m"}}"#);
        Error::from_response(
            status,
            "POST",
            "knack",
            body.as_bytes(),
            retry_after.map(Duration::from_secs),
        )
    }

    #[test]
    fn postgrest_failures_are_classified_for_the_retry_loop() {
        let class = |e: Error| e.retry_class();
        assert_eq!(
            class(api(503, "PGRST001", Some(2))),
            RetryClass::RateLimited {
                wait: Some(Duration::from_secs(2))
            }
        );
        assert_eq!(
            class(api(429, "", None)),
            RetryClass::RateLimited { wait: None }
        );
        for (status, code) in [
            (503, "PGRST000"),
            (503, "PGRST002"),
            (504, "PGRST003"),
            (500, "40001"),
            (500, "40P01"),
        ] {
            assert_eq!(
                class(api(status, code, None)),
                RetryClass::NotApplied,
                "{code}"
            );
        }
        assert_eq!(class(api(503, "PGRST001", None)), RetryClass::Transient);
        assert_eq!(class(api(502, "", None)), RetryClass::Transient);
        // A 500 with no code, or with one that is not about the data, may pass again.
        for (status, code) in [(500, ""), (500, "XX000"), (500, "53300"), (503, "")] {
            assert_eq!(
                class(api(status, code, None)),
                RetryClass::Transient,
                "{status} {code}"
            );
        }
        for (status, code) in [
            (500, "P0001"),
            (500, "23505"),
            (500, "22P02"),
            (500, "42501"),
            (400, "23502"),
            (409, "23505"),
            (401, "PGRST301"),
        ] {
            assert_eq!(
                class(api(status, code, None)),
                RetryClass::Permanent,
                "{code}"
            );
        }
        let timeout = Error::Timeout {
            method: "POST".into(),
            path: "knack".into(),
            after: Duration::from_secs(1),
        };
        assert_eq!(class(timeout), RetryClass::Transient);
        let connection = |not_sent| Error::Transport {
            method: "GET".into(),
            path: "knack".into(),
            base_url: "http://127.0.0.1:9".into(),
            not_sent,
            cause: "connection refused".into(),
        };
        // Never opened: the small connect budget; dropped after sending: the patient one.
        assert_eq!(class(connection(true)), RetryClass::Unreachable);
        assert_eq!(class(connection(false)), RetryClass::Transient);
    }
}
