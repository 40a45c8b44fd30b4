//! Dataset metadata: `GET /api/views/{id}.json` into typed columns and the row identifier.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::{check_dataset_id, Client};
use crate::{Error, Result};
use knack_services_core::Idempotency;

/// A column's Socrata type (`dataTypeName`). Unknown names are kept in [`DataType::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DataType {
    /// `text`
    Text,
    /// `number` (returned as a JSON string on reads)
    Number,
    /// `checkbox`: a JSON boolean
    Checkbox,
    /// `calendar_date`: a floating timestamp, ISO 8601 without offset
    FloatingTimestamp,
    /// `date`: a fixed timestamp, ISO 8601 with offset
    FixedTimestamp,
    /// `point`: GeoJSON Point
    Point,
    /// `multipoint`: GeoJSON MultiPoint
    MultiPoint,
    /// `location`: the legacy location type
    Location,
    /// `url`: `{"url", "description"}`
    Url,
    /// Any other type name (`money`, `polygon`, …), verbatim.
    Other(String),
}

impl DataType {
    /// Maps a `dataTypeName` to its variant.
    pub fn from_name(name: &str) -> Self {
        match name {
            "text" => DataType::Text,
            "number" => DataType::Number,
            "checkbox" => DataType::Checkbox,
            "calendar_date" => DataType::FloatingTimestamp,
            "date" => DataType::FixedTimestamp,
            "point" => DataType::Point,
            "multipoint" => DataType::MultiPoint,
            "location" => DataType::Location,
            "url" => DataType::Url,
            other => DataType::Other(other.to_string()),
        }
    }

    /// The `dataTypeName` as Socrata spells it.
    pub fn name(&self) -> &str {
        match self {
            DataType::Text => "text",
            DataType::Number => "number",
            DataType::Checkbox => "checkbox",
            DataType::FloatingTimestamp => "calendar_date",
            DataType::FixedTimestamp => "date",
            DataType::Point => "point",
            DataType::MultiPoint => "multipoint",
            DataType::Location => "location",
            DataType::Url => "url",
            DataType::Other(s) => s,
        }
    }
}

impl Serialize for DataType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for DataType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Ok(DataType::from_name(&String::deserialize(d)?))
    }
}

/// One column of a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    /// Socrata's numeric column id (absent in simplified metadata such as the fixtures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The API field name used as JSON key, e.g. `location_name`.
    #[serde(rename = "fieldName")]
    pub field_name: String,
    /// The column type.
    #[serde(rename = "dataTypeName")]
    pub data_type: DataType,
    /// The display name, e.g. `Location Name`.
    #[serde(default)]
    pub name: String,
}

/// What this crate reads from `/api/views/{id}.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetMetadata {
    /// The 4x4 id.
    pub id: String,
    /// The dataset's title.
    pub name: String,
    /// Every column, in Socrata's order.
    pub columns: Vec<Column>,
    /// The row identifier's field name, when the publisher set one. Without it, upserts
    /// append (they match only on `:id`) and are not idempotent.
    pub row_identifier: Option<String>,
    /// What the caller may do with the dataset (`rights`: `read`, `write`, `add`, `delete`, ...),
    /// when Socrata says; it lists them for the authenticated user and omits them for anonymous
    /// reads, so `None` means "not known", not "none".
    pub rights: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct RawView {
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    columns: Vec<Column>,
    /// The real API: the numeric id of the row identifier column.
    #[serde(rename = "rowIdentifierColumnId", default)]
    row_identifier_column_id: Option<serde_json::Value>,
    /// Simplified metadata (this project's fixtures): the row identifier's field name.
    #[serde(default)]
    row_identifier: Option<String>,
    #[serde(default)]
    rights: Option<Vec<String>>,
}

impl DatasetMetadata {
    /// Parses a `/api/views/{id}.json` body. Accepts Socrata's real shape (`rowIdentifierColumnId`
    /// naming a column `id`) and the simplified one (`row_identifier` holding a field name).
    pub fn from_json(body: &[u8]) -> Result<Self> {
        let raw: RawView = serde_json::from_slice(body).map_err(|e| Error::Decode {
            operation: "dataset metadata".into(),
            message: e.to_string(),
        })?;
        let by_column_id = raw.row_identifier_column_id.as_ref().and_then(|v| {
            let id = v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))?;
            raw.columns
                .iter()
                .find(|c| c.id == Some(id))
                .map(|c| c.field_name.clone())
        });
        let row_identifier = by_column_id
            .or(raw.row_identifier)
            .filter(|s| !s.is_empty());
        Ok(DatasetMetadata {
            id: raw.id,
            name: raw.name,
            columns: raw.columns,
            row_identifier,
            rights: raw.rights,
        })
    }

    /// Whether the caller may write rows: `false` only when Socrata listed the caller's rights
    /// and `write` is not among them.
    pub fn writable(&self) -> bool {
        self.rights
            .as_ref()
            .is_none_or(|r| r.iter().any(|x| x == "write"))
    }

    /// The column with this field name.
    pub fn column(&self, field_name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.field_name == field_name)
    }

    /// Every field name, in column order.
    pub fn field_names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|c| c.field_name.as_str())
    }

    /// True when `field_name` is a column (system fields such as `:id` and `:deleted` count too,
    /// since Socrata accepts them in writes).
    pub fn has_field(&self, field_name: &str) -> bool {
        field_name.starts_with(':') || self.column(field_name).is_some()
    }
}

impl Client {
    /// Fetches a dataset's columns and row identifier from `/api/views/{id}.json`.
    pub async fn metadata(&self, dataset: &str) -> Result<DatasetMetadata> {
        check_dataset_id(dataset)?;
        let url = self.url(&format!("api/views/{dataset}.json"));
        let op = format!("metadata of {dataset}");
        let body = self
            .send(&op, Method::GET, url, None, Idempotency::Idempotent)
            .await?;
        DatasetMetadata::from_json(&body).map_err(|e| match e {
            Error::Decode { message, .. } => Error::Decode {
                operation: op,
                message,
            },
            other => other,
        })
    }
}
