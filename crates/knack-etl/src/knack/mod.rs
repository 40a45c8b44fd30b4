//! Knack's side: a container's records as a [`Source`](crate::engine::Source), parsed
//! ([`KnackSource`]) or as the JSON text Knack sent ([`RawKnackSource`]), and the check of a
//! container's configured fields against the app's metadata ([`unknown_fields`]), and whether
//! the app's daily quota runs low ([`quota_is_low`]) and how it reads ([`quota_left`]).

mod check;
pub(crate) mod seen;
mod source;

pub use check::{quota_is_low, quota_left, unknown_fields, LOW_QUOTA_CALLS, LOW_QUOTA_SHARE};
pub use source::{KnackSource, RawKnackSource};
