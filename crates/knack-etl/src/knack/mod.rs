//! Knack's side: a container's records as a [`Source`](crate::engine::Source), parsed
//! ([`KnackSource`]) or as the JSON text Knack sent ([`RawKnackSource`]), and the check of a
//! container's configured fields against the app's metadata ([`unknown_fields`]).

mod check;
pub(crate) mod seen;
mod source;

pub use check::unknown_fields;
pub use source::{KnackSource, RawKnackSource};
