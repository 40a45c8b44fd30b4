//! The one error type of this crate.

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
}

impl Error {
    /// Whether trying the same call again may succeed.
    pub fn is_retryable(&self) -> bool {
        false
    }
}
