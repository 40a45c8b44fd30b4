//! [`RunOptions`]: what every run shares (incremental or full, and whether to write at all), and
//! the write mode it implies.

use chrono::{DateTime, Utc};

use super::traits::WriteMode;

/// What every run shares: incremental or full, and whether to write at all.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Only records modified (Knack) or staged (publishers) on or after this
    /// instant, upserted; `None` is a full replace.
    pub since: Option<DateTime<Utc>>,
    /// Let a full replace whose source is empty empty the destination too.
    pub allow_empty_replace: bool,
    /// Read and transform, write nothing.
    pub dry_run: bool,
}

impl RunOptions {
    /// Options for a run from `since` (`None`: a full replace that refuses to empty the
    /// destination).
    pub fn from_since(since: Option<DateTime<Utc>>, dry_run: bool) -> Self {
        Self {
            since,
            allow_empty_replace: false,
            dry_run,
        }
    }

    /// The write mode these options ask for: an upsert with `since`, a replace without.
    pub fn mode(&self) -> WriteMode {
        match self.since {
            Some(_) => WriteMode::Upsert,
            None => WriteMode::Replace {
                allow_empty: self.allow_empty_replace,
            },
        }
    }
}
