//! Records a destination refused: how a refused batch is narrowed down to them, and how they are
//! named in the log.
//!
//! Destinations refuse a whole request because of one of its records (ArcGIS rolls the batch back,
//! Socrata counts it in `Errors`, PostgreSQL aborts the statement). A sink then sends the halves of
//! the request again, and again, until every good record is written and every bad one stands alone
//! and is named by the destination's own answer. See the crate README, "When a record is rejected".

use std::fmt;

/// How many rejected records a run names one per line in its log; the rest are counted.
pub(crate) const LOGGED_REJECTIONS: usize = 20;

/// A record the destination refused, named as the destination named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The Knack record id.
    pub record_id: String,
    /// The destination's field the refusal is about, when the destination says which.
    pub field: Option<String>,
    /// The destination's own error code (ArcGIS `error.code`, a SQLSTATE), when it gives one.
    pub code: Option<String>,
    /// The destination's own text.
    pub reason: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record {}", self.record_id)?;
        if let Some(field) = &self.field {
            write!(f, ", field `{field}`")?;
        }
        f.write_str(": ")?;
        if let Some(code) = &self.code {
            write!(f, "[{code}] ")?;
        }
        f.write_str(&self.reason)
    }
}

/// Logs rejections one line each, at most [`LOGGED_REJECTIONS`] of them, then how many more there
/// were: a run over a broken layer must not bury its log under 100,000 identical lines.
pub(crate) fn log_rejections(destination: &str, rejected: &[Rejection]) {
    for r in rejected.iter().take(LOGGED_REJECTIONS) {
        tracing::warn!(
            record_id = %r.record_id,
            field = r.field.as_deref(),
            code = r.code.as_deref(),
            "{destination} rejected {r}"
        );
    }
    if rejected.len() > LOGGED_REJECTIONS {
        tracing::warn!(
            "{destination} rejected {} more record(s), not listed; the run report holds them all",
            rejected.len() - LOGGED_REJECTIONS
        );
    }
}

/// The parts of a refused request still to send, smallest first in input order: a sink sends
/// [`Isolation::next`], and on a refusal caused by its records either names the single record or
/// [`Isolation::split`]s the part. k bad records among n cost about 2·k·log2(n) extra requests.
#[derive(Debug)]
pub(crate) struct Isolation<T> {
    stack: Vec<Vec<T>>,
}

impl<T> Isolation<T> {
    /// Starts with the whole request.
    pub(crate) fn new(items: Vec<T>) -> Self {
        let stack = if items.is_empty() {
            Vec::new()
        } else {
            vec![items]
        };
        Self { stack }
    }

    /// The next part to send.
    pub(crate) fn next(&mut self) -> Option<Vec<T>> {
        self.stack.pop()
    }

    /// Puts the two halves of a refused part back, the first half to be sent first. A part of
    /// one record cannot be split: the caller names it instead.
    pub(crate) fn split(&mut self, mut part: Vec<T>) {
        debug_assert!(part.len() > 1, "a single record is named, not split");
        let second = part.split_off(part.len() / 2);
        self.stack.push(second);
        self.stack.push(part);
    }
}

/// The field a destination's message is about: the longest of `fields` that appears in
/// `message` as a whole word (ArcGIS says "Setting of value for name failed.", PostgreSQL
/// `column "x"`).
pub(crate) fn field_named_in<'a>(
    message: &str,
    fields: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let mentions = |field: &str| {
        !field.is_empty()
            && message.match_indices(field).any(|(at, _)| {
                let before = message[..at].chars().next_back();
                let after = message[at + field.len()..].chars().next();
                !before.is_some_and(is_word) && !after.is_some_and(is_word)
            })
    };
    fields
        .into_iter()
        .filter(|f| mentions(f))
        .max_by_key(|f| f.len())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolation_narrows_a_refused_part_down_in_input_order() {
        let mut iso = Isolation::new((1..=5).collect());
        let whole = iso.next().unwrap();
        iso.split(whole);
        assert_eq!(iso.next(), Some(vec![1, 2]));
        let rest = iso.next().unwrap();
        assert_eq!(rest, vec![3, 4, 5]);
        iso.split(rest);
        assert_eq!(iso.next(), Some(vec![3]));
        assert_eq!(iso.next(), Some(vec![4, 5]));
        assert_eq!(iso.next(), None);
        assert!(Isolation::<u8>::new(vec![]).next().is_none());
    }

    #[test]
    fn the_field_is_found_as_a_whole_word_and_the_longest_wins() {
        let fields = ["name", "location_name", "id"];
        assert_eq!(
            field_named_in("Setting of value for location_name failed.", fields),
            Some("location_name".into())
        );
        assert_eq!(
            field_named_in(
                "Invalid untrusted HTML content detected in field: name.",
                fields
            ),
            Some("name".into())
        );
        assert_eq!(field_named_in("Operation rolled back.", fields), None);
        assert_eq!(field_named_in("identifier too long", ["id"]), None);
    }

    #[test]
    fn a_rejection_reads_as_one_sentence() {
        let r = Rejection {
            record_id: "5f1".into(),
            field: Some("name".into()),
            code: Some("1000".into()),
            reason: "Setting of value for name failed.".into(),
        };
        assert_eq!(
            r.to_string(),
            "record 5f1, field `name`: [1000] Setting of value for name failed."
        );
    }
}
