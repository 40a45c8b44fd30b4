//! Serde helpers for SODA's numbers, which a read returns as JSON **strings** (`"4"`,
//! `"30.27"`; SODA 2 JSON: <https://dev.socrata.com/docs/datatypes/number.html>), so a row
//! type with a `u64` or `f64` field fails to deserialize without them. Each accepts a string or
//! a number (a write sends plain numbers, which Socrata takes), and writes the number as it is.
//!
//! ```
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Signal {
//!     id: String,
//!     #[serde(with = "socrata_client::number")]
//!     lane_count: u64,
//!     // SODA leaves a null field out of the row: `default` makes it `None`.
//!     #[serde(default, with = "socrata_client::number::option")]
//!     speed_limit: Option<f64>,
//! }
//!
//! let row: Signal =
//!     serde_json::from_str(r#"{"id": "SIG-1", "lane_count": "4"}"#).unwrap();
//! assert_eq!((row.lane_count, row.speed_limit), (4, None));
//! ```

use std::fmt::Display;
use std::str::FromStr;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A number as SODA reads it (text) or as it is written (a JSON number).
#[derive(Deserialize)]
#[serde(untagged)]
enum TextOrNumber<T> {
    Number(T),
    Text(String),
}

/// Reads a number given as a JSON string or number (`"4"` or `4`).
///
/// # Errors
/// The deserializer's error naming the text when it is not a `T`.
pub fn deserialize<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr + Deserialize<'de>,
    T::Err: Display,
{
    match TextOrNumber::<T>::deserialize(deserializer)? {
        TextOrNumber::Number(n) => Ok(n),
        TextOrNumber::Text(text) => text
            .trim()
            .parse()
            .map_err(|e| D::Error::custom(format!("{text:?} is not a number here: {e}"))),
    }
}

/// Writes the number as a JSON number.
///
/// # Errors
/// The serializer's.
pub fn serialize<S, T>(value: &T, serializer: S) -> Result<S::Ok, S::Error>
where
    S: Serializer,
    T: Serialize,
{
    value.serialize(serializer)
}

/// The same for an `Option`: a JSON null is `None` (an absent field needs `#[serde(default)]`).
pub mod option {
    use super::*;

    /// Reads `null`, a number, or a number as text.
    ///
    /// # Errors
    /// As [`super::deserialize`].
    pub fn deserialize<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: FromStr + Deserialize<'de>,
        T::Err: Display,
    {
        match Option::<TextOrNumber<T>>::deserialize(deserializer)? {
            None => Ok(None),
            Some(TextOrNumber::Number(n)) => Ok(Some(n)),
            Some(TextOrNumber::Text(text)) => text
                .trim()
                .parse()
                .map(Some)
                .map_err(|e| D::Error::custom(format!("{text:?} is not a number here: {e}"))),
        }
    }

    /// Writes `None` as null and a number as a JSON number.
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize<S, T>(value: &Option<T>, serializer: S) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
        T: Serialize,
    {
        value.serialize(serializer)
    }
}
