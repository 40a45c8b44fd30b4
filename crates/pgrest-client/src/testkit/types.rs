//! Column types the fake checks written values against, as Postgres casts PostgREST's JSON
//! payload into a typed column: a value it cannot read is `400` with SQLSTATE `22P02`
//! (`invalid input syntax for type integer: "not a number"`), the status PostgREST gives every
//! SQLSTATE it does not map (<https://docs.postgrest.org/en/v12/references/errors.html>).

use serde_json::Value;

/// A column's Postgres type, for [`TableSpec::column_type`](super::TableSpec::column_type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ColumnType {
    /// `integer` (32 bits).
    Integer,
    /// `bigint`.
    BigInt,
    /// `numeric` / `double precision`.
    Numeric,
    /// `boolean`.
    Boolean,
    /// `text` (takes any scalar, as its text).
    Text,
    /// `timestamptz` (an ISO 8601 text).
    Timestamptz,
    /// `jsonb` (takes anything).
    Jsonb,
}

impl ColumnType {
    /// The type's name in Postgres messages.
    pub(crate) fn pg_name(self) -> &'static str {
        match self {
            ColumnType::Integer => "integer",
            ColumnType::BigInt => "bigint",
            ColumnType::Numeric => "numeric",
            ColumnType::Boolean => "boolean",
            ColumnType::Text => "text",
            ColumnType::Timestamptz => "timestamp with time zone",
            ColumnType::Jsonb => "jsonb",
        }
    }

    /// Whether Postgres reads `value` (not null) as this type: a JSON value of the type, or
    /// text that parses as one, as `json_populate_recordset` does.
    pub(crate) fn accepts(self, value: &Value) -> bool {
        let text = match value {
            Value::String(s) => s.trim().to_string(),
            other => other.to_string(),
        };
        match self {
            ColumnType::Integer => text.parse::<i32>().is_ok(),
            ColumnType::BigInt => text.parse::<i64>().is_ok(),
            ColumnType::Numeric => text.parse::<f64>().is_ok_and(f64::is_finite),
            ColumnType::Boolean => matches!(
                text.to_ascii_lowercase().as_str(),
                "true" | "false" | "t" | "f" | "yes" | "no" | "on" | "off" | "1" | "0"
            ),
            ColumnType::Text => !value.is_object() && !value.is_array(),
            ColumnType::Timestamptz => {
                value.is_string() && chrono::DateTime::parse_from_rfc3339(&text).is_ok()
                    || chrono::NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
            }
            ColumnType::Jsonb => true,
        }
    }
}
