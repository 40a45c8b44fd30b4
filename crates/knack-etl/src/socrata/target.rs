//! [`SocrataTarget`]: a Socrata destination and the original's per-container options, and the
//! `no_replace_socrata` rule, decided here for every caller: a dataset that forbids a replace
//! never loses a row a run did not write.

use chrono::{DateTime, Utc};

use crate::engine::WriteMode;
use crate::transform::TransformError;

/// A Socrata destination and the original's per-container options.
#[derive(Debug, Clone, Default)]
pub struct SocrataTarget {
    /// The dataset id (4x4).
    pub resource_id: String,
    /// `append_timestamps_socrata.key`: a column set to the run's time on every row.
    pub append_timestamp_key: Option<String>,
    /// `no_replace_socrata`: refuse a full replace.
    pub no_replace: bool,
    /// The other containers that publish to this dataset: `view_N`/`object_N` for one of the
    /// same app, `<app id>/<container id>` for one of another app (its rows are staged under that
    /// app's id). A full replace deletes only rows none of them has staged, so one container's
    /// replace never empties another's rows, whichever app it belongs to.
    pub shared_with: Vec<String>,
}

impl SocrataTarget {
    /// Whether a run may delete rows it did not write (a full replace's clean-up, a drift
    /// repair's delete of rows no container staged): not under `no_replace_socrata`.
    pub fn may_delete(&self) -> bool {
        !self.no_replace
    }

    /// `Err(ReplaceForbidden)` when `mode` is a full replace of a dataset that forbids one.
    /// Checked before a run reads anything (the original only checked after transforming every
    /// record).
    ///
    /// # Errors
    /// [`TransformError::ReplaceForbidden`].
    pub fn check_mode(&self, mode: WriteMode) -> Result<(), TransformError> {
        if mode.is_replace() && !self.may_delete() {
            Err(TransformError::ReplaceForbidden)
        } else {
            Ok(())
        }
    }

    /// Where a `sync` stage with the watermark-derived `since` starts: as given, except that a
    /// dataset that forbids a replace gets an upsert of every staged row (from the epoch) when
    /// the stage has no watermark yet, instead of a refusal.
    pub fn sync_since(&self, since: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        match since {
            None if !self.may_delete() => Some(DateTime::<Utc>::UNIX_EPOCH),
            since => since,
        }
    }
}

/// Whether `s` is a Socrata dataset id, a four-by-four such as `abcd-1234`.
pub fn is_dataset_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 9
        && b[4] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || c.is_ascii_lowercase() || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_replace_forbids_replace_only() {
        let t = SocrataTarget::default();
        assert_eq!(t.check_mode(WriteMode::REPLACE), Ok(()));
        let t = SocrataTarget {
            no_replace: true,
            ..SocrataTarget::default()
        };
        assert_eq!(
            t.check_mode(WriteMode::REPLACE),
            Err(TransformError::ReplaceForbidden)
        );
        assert_eq!(t.check_mode(WriteMode::Upsert), Ok(()));
        assert_eq!(t.sync_since(None), Some(DateTime::<Utc>::UNIX_EPOCH));
        assert!(!t.may_delete());
    }
}
