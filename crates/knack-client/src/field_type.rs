//! Knack field types.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The type of a Knack field, as `fields[].type` names it in the metadata.
///
/// Knack adds types from time to time; a name this crate does not know is kept
/// in [`FieldType::Unknown`] rather than failing, and formats like a plain
/// value (knackpy's `default` formatter).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FieldType {
    /// A postal address, or a latitude/longitude pair (`format.input = "lat_long"`).
    Address,
    /// A number Knack increments for each new record.
    AutoIncrement,
    /// Average of a number field over connected records.
    Average,
    /// Yes/No (a checkbox); the raw value is `true`/`false`.
    Boolean,
    /// A text formula.
    Concatenation,
    /// Links to records of another object; raw value `[{"id","identifier"}]`.
    Connection,
    /// Count of connected records.
    Count,
    /// A money amount; the raw value is a string such as `"100.43"`.
    Currency,
    /// A date, a date and time, a time, or a range of them.
    DateTime,
    /// An e-mail address; raw value `{"email", "label"?}`.
    Email,
    /// A numeric or date formula.
    Equation,
    /// An uploaded file.
    File,
    /// An uploaded image, or an image URL.
    Image,
    /// A URL; raw value `{"url"}`.
    Link,
    /// The greatest value of a number field over connected records.
    Max,
    /// The least value of a number field over connected records.
    Min,
    /// One or several choices from a list.
    MultipleChoice,
    /// A person's name; raw value `{"first","middle","last","title"?}`.
    Name,
    /// A number.
    Number,
    /// Multi-line plain text.
    ParagraphText,
    /// A user account's password (never readable).
    Password,
    /// A phone number; raw value `{"area","number","full","formatted"}`.
    Phone,
    /// A star rating.
    Rating,
    /// HTML text.
    RichText,
    /// One line of plain text.
    ShortText,
    /// A drawn signature; raw value `{"base30","svg"}`.
    Signature,
    /// Sum of a number field over connected records.
    Sum,
    /// Time spent between start and end times.
    Timer,
    /// A user account's roles (profile keys).
    UserRoles,
    /// The record id. Not a Knack field type: knackpy gives every container a
    /// synthetic `id` field of this type, and so does the formatter.
    Id,
    /// A type this crate does not know, by its Knack name.
    Unknown(String),
}

impl FieldType {
    /// The name Knack uses for the type, such as `"date_time"`.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Address => "address",
            Self::AutoIncrement => "auto_increment",
            Self::Average => "average",
            Self::Boolean => "boolean",
            Self::Concatenation => "concatenation",
            Self::Connection => "connection",
            Self::Count => "count",
            Self::Currency => "currency",
            Self::DateTime => "date_time",
            Self::Email => "email",
            Self::Equation => "equation",
            Self::File => "file",
            Self::Image => "image",
            Self::Link => "link",
            Self::Max => "max",
            Self::Min => "min",
            Self::MultipleChoice => "multiple_choice",
            Self::Name => "name",
            Self::Number => "number",
            Self::ParagraphText => "paragraph_text",
            Self::Password => "password",
            Self::Phone => "phone",
            Self::Rating => "rating",
            Self::RichText => "rich_text",
            Self::ShortText => "short_text",
            Self::Signature => "signature",
            Self::Sum => "sum",
            Self::Timer => "timer",
            Self::UserRoles => "user_roles",
            Self::Id => "id",
            Self::Unknown(name) => name,
        }
    }

    /// Whether knackpy formats this type from Knack's display value (`field_N`)
    /// instead of the raw one (`field_N_raw`): Knack's own rendering of a name
    /// or a timer is what people expect to read.
    pub fn uses_knack_format(&self) -> bool {
        matches!(self, Self::Name | Self::Timer | Self::Id)
    }
}

impl From<&str> for FieldType {
    fn from(name: &str) -> Self {
        match name {
            "address" => Self::Address,
            "auto_increment" => Self::AutoIncrement,
            "average" => Self::Average,
            "boolean" => Self::Boolean,
            "concatenation" => Self::Concatenation,
            "connection" => Self::Connection,
            "count" => Self::Count,
            "currency" => Self::Currency,
            "date_time" => Self::DateTime,
            "email" => Self::Email,
            "equation" => Self::Equation,
            "file" => Self::File,
            "image" => Self::Image,
            "link" => Self::Link,
            "max" => Self::Max,
            "min" => Self::Min,
            "multiple_choice" => Self::MultipleChoice,
            "name" => Self::Name,
            "number" => Self::Number,
            "paragraph_text" => Self::ParagraphText,
            "password" => Self::Password,
            "phone" => Self::Phone,
            "rating" => Self::Rating,
            "rich_text" => Self::RichText,
            "short_text" => Self::ShortText,
            "signature" => Self::Signature,
            "sum" => Self::Sum,
            "timer" => Self::Timer,
            "user_roles" => Self::UserRoles,
            "id" => Self::Id,
            other => Self::Unknown(other.to_string()),
        }
    }
}

impl FromStr for FieldType {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::from(s))
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FieldType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FieldType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = crate::lenient::lenient_string(deserializer)?;
        Ok(Self::from(name.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_types_are_kept() {
        for name in [
            "address",
            "auto_increment",
            "date_time",
            "multiple_choice",
            "user_roles",
            "min",
            "max",
        ] {
            let t = FieldType::from(name);
            assert!(!matches!(t, FieldType::Unknown(_)), "{name}");
            assert_eq!(t.as_str(), name);
        }
        let t: FieldType = serde_json::from_value(serde_json::json!("hologram")).unwrap();
        assert_eq!(t, FieldType::Unknown("hologram".into()));
        assert_eq!(t.to_string(), "hologram");
        assert_eq!(
            serde_json::to_value(FieldType::DateTime).unwrap(),
            serde_json::json!("date_time")
        );
    }
}
