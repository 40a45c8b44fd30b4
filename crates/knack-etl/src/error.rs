//! The error of a pipeline: which system failed, with the client's own error inside.

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
        }
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

/// `Ok` when nothing is wrong; else every problem in one [`Error::Preflight`]: a destination
/// that cannot take the run is refused before its first write.
pub(crate) fn refuse(problems: Vec<String>) -> Result<(), Error> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Preflight(problems.join("; ")))
    }
}
