//! The error of a pipeline: which system failed, with the client's own error inside.

use std::error::Error as StdError;

use crate::transform::TransformError;

/// What stopped a pipeline. Each client's error is kept whole (status, API
/// message, the fix it suggests); this type adds which system it came from.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The Knack API failed or answered something unusable.
    #[error("Knack: {0}")]
    Knack(#[from] knack_client::Error),
    /// The PostgREST staging store failed.
    #[error("PostgREST staging store: {0}")]
    Postgrest(#[from] pgrest_client::Error),
    /// Socrata failed.
    #[error("Socrata: {0}")]
    Socrata(#[from] socrata_client::Error),
    /// ArcGIS Online failed.
    #[error("ArcGIS Online: {0}")]
    Agol(#[from] agol_client::Error),
    /// A record could not be turned into the destination's shape.
    #[error("transform: {0}")]
    Transform(#[from] TransformError),
    /// The staging store lacks what the pipeline needs (no metadata for the
    /// app, a row that is not a Knack record).
    #[error("{0}")]
    Staging(String),
    /// The destination cannot take this run as it is set up (a Socrata dataset without the row
    /// identifier `id`, an ArcGIS layer without its matching field, a staging table that does not
    /// answer): found before the first write, and the message names the fix. Nothing was written.
    #[error("{0}")]
    Preflight(String),
    /// The pipeline was asked for something it refuses to do.
    #[error("{0}")]
    Refused(String),
    /// The run was stopped ([`Stop`](crate::Stop), e.g. by SIGTERM) before it finished: it read
    /// no new page and started no new write after that, and deleted nothing. The message says
    /// how many items were written; running it again completes it.
    #[error("{0}")]
    Stopped(String),
    /// A [`Sink::write`](crate::Sink::write) wrote part of its batch before `error` stopped it:
    /// destinations take a batch in several requests, and those that succeeded stay written.
    /// The driver counts `written` as written, the rest of the batch as failed, and reports the
    /// inner error, so a run's error is always the destination's own.
    #[error("{error} (after {written} item(s) of the batch were written)")]
    PartlyWritten {
        /// Items of the batch that were written.
        written: u64,
        /// Why the rest were not.
        error: Box<Error>,
    },
}

impl Error {
    /// Whether running the same pipeline again may succeed without a fix.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Knack(e) => e.is_retryable(),
            Self::Postgrest(e) => e.is_retryable(),
            Self::Socrata(e) => e.is_retryable(),
            Self::Agol(e) => e.is_retryable(),
            Self::Transform(_) | Self::Staging(_) | Self::Refused(_) | Self::Preflight(_) => false,
            Self::PartlyWritten { error, .. } => error.is_retryable(),
            Self::Stopped(_) => true,
        }
    }

    /// Whether the request got no answer at all: refused, reset, timed out, DNS or TLS failure.
    /// Such a service may be down or mis-addressed; it has not judged the request, so the error
    /// says nothing about the records or the settings it was sent with.
    pub fn is_unanswered(&self) -> bool {
        // The clients keep a transport failure's cause as text (no `source()`), so their
        // transport variants are named here; an I/O error below any other is one too.
        match self.innermost() {
            Self::Knack(
                knack_client::Error::Timeout { .. } | knack_client::Error::Transport { .. },
            )
            | Self::Postgrest(
                pgrest_client::Error::Timeout { .. } | pgrest_client::Error::Transport { .. },
            )
            | Self::Agol(agol_client::Error::Transport { .. }) => return true,
            Self::Socrata(e) if socrata_unanswered(e) => return true,
            _ => {}
        }
        let mut chain =
            std::iter::successors(Some(self as &(dyn StdError + 'static)), |&s| s.source());
        chain.any(|e| e.is::<std::io::Error>())
    }

    /// The error a [`Error::PartlyWritten`] wraps (however deep), or this one.
    pub fn innermost(&self) -> &Error {
        match self {
            Self::PartlyWritten { error, .. } => error.innermost(),
            other => other,
        }
    }

    /// The messages of this error's `source()` chain that `said` (a message already showing the
    /// error) does not contain, each once, in order: the root cause a one-line message leaves out.
    pub fn causes(&self, said: &str) -> Vec<String> {
        let mut seen = said.to_owned();
        let mut out = Vec::new();
        for source in std::iter::successors(self.source(), |&s| s.source()) {
            let s = source.to_string();
            if !s.is_empty() && !seen.contains(&s) {
                seen.push_str(&s);
                out.push(s);
            }
        }
        out
    }

    /// `error`, wrapped in [`Error::PartlyWritten`] when `written` items of the batch were
    /// written first; a sink's way to report a batch that failed part-way.
    pub fn after_writing(written: u64, error: impl Into<Error>) -> Self {
        let error = error.into();
        if written == 0 {
            error
        } else {
            Self::PartlyWritten {
                written,
                error: Box::new(error),
            }
        }
    }
}

/// Whether a Socrata request got no answer (connection, DNS, TLS, timeout).
pub(crate) fn socrata_unanswered(e: &socrata_client::Error) -> bool {
    matches!(
        e,
        socrata_client::Error::Timeout { .. } | socrata_client::Error::Transport { .. }
    )
}

/// `Ok` when nothing is wrong; else every problem in one [`Error::Preflight`]: a destination
/// that cannot take the run is refused before its first write.
pub(crate) fn refuse(problems: Vec<String>) -> Result<(), Error> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Preflight(problems.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unreachable_socrata() -> Error {
        Error::Socrata(socrata_client::Error::Transport {
            operation: "metadata".into(),
            host: "https://data.example".into(),
            not_sent: true,
            cause: "connection refused".into(),
        })
    }

    #[test]
    fn a_transport_failure_is_unanswered_also_after_part_of_a_batch() {
        assert!(unreachable_socrata().is_unanswered());
        let partly = Error::after_writing(3, unreachable_socrata());
        assert!(partly.is_unanswered());
        assert!(matches!(partly.innermost(), Error::Socrata(_)));
        assert!(!Error::Refused("no".into()).is_unanswered());
    }

    #[test]
    fn causes_are_what_the_message_does_not_already_say() {
        let json = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        let e = Error::Postgrest(pgrest_client::Error::Decode {
            path: "knack".into(),
            source: json,
        });
        let said = e.to_string();
        assert!(
            e.causes(&said).is_empty(),
            "the decode message already names its cause"
        );
        // Below a shorter message: the client's error, whose text already holds serde's.
        let causes = e.causes("PostgREST failed");
        assert_eq!(causes.len(), 1, "{causes:?}");
        assert!(causes[0].starts_with("could not decode PostgREST's response from /knack: EOF"));
    }
}
