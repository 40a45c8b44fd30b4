//! Knack record → Socrata row, step for step as `records_to_socrata.py` does it.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value};

use crate::transform::coords::{raw_field_value, truthy, Coordinate};
use crate::transform::keys::{normalize_keys, RECORD_ID_KEY};
use crate::transform::pyfmt::py_str;
use crate::transform::{location_spec, warn_collisions, FieldSpec, TransformError};

/// The original's hard-coded zone for `append_timestamps_socrata` (`US/Central`).
pub const DEFAULT_TIMEZONE: Tz = chrono_tz::US::Central;

/// Socrata's floating-timestamp layout: local wall-clock time, no offset, no fraction.
const FLOATING_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// A Socrata dataset's columns: `fieldName` → `dataTypeName`, in the dataset's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocrataColumns {
    order: Vec<String>,
    types: HashMap<String, String>,
}

impl SocrataColumns {
    /// Reads `columns[].fieldName` and `columns[].dataTypeName` from a dataset's metadata
    /// (`GET /api/views/{id}.json`).
    pub fn from_metadata(metadata: &Value) -> Result<Self, TransformError> {
        let invalid = |reason: &str| TransformError::InvalidDatasetMetadata {
            reason: reason.to_owned(),
        };
        let columns = metadata
            .get("columns")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("no `columns` array"))?;
        columns
            .iter()
            .map(|c| {
                let name = c.get("fieldName").and_then(Value::as_str);
                let data_type = c.get("dataTypeName").and_then(Value::as_str);
                match (name, data_type) {
                    (Some(n), Some(t)) => Ok((n.to_owned(), t.to_owned())),
                    _ => Err(invalid("a column lacks `fieldName` or `dataTypeName`")),
                }
            })
            .collect()
    }

    /// The `dataTypeName` of a column, e.g. `text`, `checkbox`, `calendar_date`, `point`.
    pub fn data_type(&self, field_name: &str) -> Option<&str> {
        self.types.get(field_name).map(String::as_str)
    }

    /// Whether the dataset has this column.
    pub fn contains(&self, field_name: &str) -> bool {
        self.types.contains_key(field_name)
    }

    /// `(fieldName, dataTypeName)` pairs in the dataset's order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.order
            .iter()
            .map(|n| (n.as_str(), self.types[n].as_str()))
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether there are no columns.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for SocrataColumns {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut columns = SocrataColumns::default();
        for (name, data_type) in iter {
            let name = name.into();
            if columns
                .types
                .insert(name.clone(), data_type.into())
                .is_none()
            {
                columns.order.push(name);
            }
        }
        columns
    }
}

/// The container config keys that shape Socrata rows.
#[derive(Debug, Clone, PartialEq)]
pub struct SocrataOptions {
    /// Location field keys (`location_field_id`; the oldest config took a list). Each becomes a
    /// point, legacy location or multipoint, by the type of its column.
    pub location_fields: Vec<String>,
    /// `append_timestamps_socrata.key`: a column that gets the run's start time in every row.
    pub append_timestamp_key: Option<String>,
    /// Zone of the appended run timestamp; the original hard-coded [`DEFAULT_TIMEZONE`].
    pub timezone: Tz,
}

impl Default for SocrataOptions {
    fn default() -> Self {
        Self {
            location_fields: Vec::new(),
            append_timestamp_key: None,
            timezone: DEFAULT_TIMEZONE,
        }
    }
}

impl SocrataOptions {
    /// Adds a location field (its key, e.g. `field_9`).
    pub fn location_field(mut self, field_key: impl Into<String>) -> Self {
        self.location_fields.push(field_key.into());
        self
    }

    /// Sets the `append_timestamps_socrata` column.
    pub fn append_timestamp(mut self, column: impl Into<String>) -> Self {
        self.append_timestamp_key = Some(column.into());
        self
    }

    /// Sets the zone of the appended run timestamp.
    pub fn timezone(mut self, timezone: Tz) -> Self {
        self.timezone = timezone;
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LocationKind {
    Point,
    Location,
    MultiPoint,
}

impl LocationKind {
    fn name(self) -> &'static str {
        match self {
            LocationKind::Point => "point",
            LocationKind::Location => "location",
            LocationKind::MultiPoint => "multipoint",
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct LocationTarget {
    pub(super) field_key: String,
    pub(super) column: String,
    kind: LocationKind,
}

/// Turns formatted Knack records into rows for one Socrata dataset. Build one per run.
#[derive(Debug, Clone)]
pub struct SocrataTransform {
    pub(super) columns: SocrataColumns,
    pub(super) locations: Vec<LocationTarget>,
    pub(super) floating: Vec<String>,
    pub(super) run_timestamp: Option<(String, String)>,
    dropped: Vec<String>,
}

impl SocrataTransform {
    /// Checks the options against the dataset and the container's fields, with the run starting now.
    pub fn new(
        columns: SocrataColumns,
        fields: &[FieldSpec],
        options: SocrataOptions,
    ) -> Result<Self, TransformError> {
        Self::new_at(columns, fields, options, Utc::now())
    }

    /// As [`new`](Self::new), with the run's start time given (the appended timestamp is one value
    /// for the whole run, as in the original).
    pub fn new_at(
        columns: SocrataColumns,
        fields: &[FieldSpec],
        options: SocrataOptions,
        run_started: DateTime<Utc>,
    ) -> Result<Self, TransformError> {
        warn_collisions(fields);
        let mut locations = Vec::new();
        for field_key in &options.location_fields {
            let spec = location_spec(fields, field_key)?;
            // The original matched the label only lowercased, so labels with spaces never matched;
            // the normalised key is what the row carries, so it is what must match.
            let column = spec.output_key();
            let data_type = columns.data_type(&column).ok_or_else(|| {
                TransformError::LocationColumnMissing {
                    field_key: field_key.clone(),
                    column: column.clone(),
                }
            })?;
            let kind = match data_type {
                "point" => LocationKind::Point,
                "location" => LocationKind::Location,
                "multipoint" => LocationKind::MultiPoint,
                other => {
                    return Err(TransformError::LocationColumnType {
                        field_key: field_key.clone(),
                        column,
                        data_type: other.to_owned(),
                    })
                }
            };
            locations.push(LocationTarget {
                field_key: field_key.clone(),
                column,
                kind,
            });
        }
        let floating = columns
            .iter()
            .filter(|(_, t)| *t == "calendar_date")
            .map(|(n, _)| n.to_owned())
            .collect();
        if let Some(column) = options
            .append_timestamp_key
            .as_ref()
            .filter(|c| !columns.contains(c))
        {
            return Err(TransformError::TimestampColumnMissing {
                column: column.clone(),
            });
        }
        let run_timestamp = options.append_timestamp_key.map(|key| {
            let local = run_started.with_timezone(&options.timezone);
            (key, local.format(FLOATING_FORMAT).to_string())
        });
        let mut dropped: Vec<String> = Vec::new();
        let keys = std::iter::once(RECORD_ID_KEY.to_owned())
            .chain(fields.iter().map(FieldSpec::output_key));
        for key in keys {
            if !columns.contains(&key) && !dropped.contains(&key) {
                dropped.push(key);
            }
        }
        if !dropped.is_empty() {
            tracing::info!(?dropped, "Record field names not in Socrata");
        }
        Ok(Self {
            columns,
            locations,
            floating,
            run_timestamp,
            dropped,
        })
    }

    /// The output keys of the container's fields that the dataset lacks; rows never carry them.
    pub fn dropped_fields(&self) -> &[String] {
        &self.dropped
    }

    /// The value appended under `append_timestamps_socrata.key`, if configured.
    pub fn run_timestamp(&self) -> Option<&str> {
        self.run_timestamp.as_ref().map(|(_, ts)| ts.as_str())
    }

    /// One Socrata row from a formatted record (label → value) and the raw staging record (for
    /// location fields), in the original's order: key normalisation with the location value in
    /// place, unknown fields dropped, booleans to `"True"`/`"False"` outside checkbox columns,
    /// lists joined with `", "`, floating timestamps to local time without offset, run timestamp.
    pub fn row(
        &self,
        formatted: Map<String, Value>,
        raw: &Map<String, Value>,
    ) -> Result<Map<String, Value>, TransformError> {
        let mut row = normalize_keys(formatted);
        for loc in &self.locations {
            if let Some(slot) = row.get_mut(&loc.column) {
                *slot = socrata_location(loc, raw_field_value(raw, &loc.field_key))?;
            }
        }
        row.retain(|key, _| {
            let known = self.columns.contains(key);
            if !known && !self.dropped.contains(key) {
                tracing::debug!(key = %key, "field not in Socrata dataset dropped");
            }
            known
        });
        for (key, value) in row.iter_mut() {
            if let Value::Bool(b) = value {
                if self.columns.data_type(key) != Some("checkbox") {
                    *value = Value::String(py_str(&Value::Bool(*b)));
                }
            }
        }
        for value in row.values_mut() {
            if let Value::Array(items) = value {
                let joined = items.iter().map(py_str).collect::<Vec<_>>().join(", ");
                *value = Value::String(joined);
            }
        }
        for column in &self.floating {
            if let Some(value) = row.get_mut(column) {
                if truthy(value) {
                    *value = Value::String(floating_timestamp(column, value)?);
                }
            }
        }
        if let Some((key, ts)) = &self.run_timestamp {
            row.insert(key.clone(), Value::String(ts.clone()));
        }
        Ok(row)
    }
}

/// The original's `socrata_formatter_point` / `_location` / `_multipoint` on a raw address value.
pub(super) fn socrata_location(
    loc: &LocationTarget,
    raw: Option<&Value>,
) -> Result<Value, TransformError> {
    let Some(raw) = raw.filter(|v| truthy(v)) else {
        return Ok(Value::Null);
    };
    let wrong_shape = |reason: &str| TransformError::InvalidLocation {
        field_key: loc.field_key.clone(),
        data_type: loc.kind.name().to_owned(),
        reason: reason.to_owned(),
    };
    match (loc.kind, raw) {
        (LocationKind::Point, Value::Object(address)) => point(&loc.field_key, address),
        (LocationKind::Location, Value::Object(address)) => {
            let (lat, lon) = (address.get("latitude"), address.get("longitude"));
            let empty = |c: &str| Coordinate::of(address, c).is_empty();
            if empty("latitude") || empty("longitude") {
                return Ok(Value::Null);
            }
            let text = |v: Option<&Value>| v.map(py_str).unwrap_or_default();
            Ok(Value::String(format!("({}, {})", text(lat), text(lon))))
        }
        (LocationKind::MultiPoint, Value::Array(addresses)) => Ok(multipoint(addresses.iter())),
        (LocationKind::MultiPoint, address @ Value::Object(_)) => {
            Ok(multipoint(std::iter::once(address)))
        }
        (_, Value::Array(_)) => Err(wrong_shape(
            "it holds several addresses; use a multipoint column",
        )),
        (_, _) => Err(wrong_shape("it is not a Knack address")),
    }
}

fn point(field_key: &str, address: &Map<String, Value>) -> Result<Value, TransformError> {
    let lon = Coordinate::of(address, "longitude");
    let lat = Coordinate::of(address, "latitude");
    match (lon, lat) {
        (Coordinate::Number { value: x, .. }, Coordinate::Number { value: y, .. }) => {
            Ok(serde_json::json!({"type": "Point", "coordinates": [x, y]}))
        }
        (Coordinate::Invalid(v), _) | (_, Coordinate::Invalid(v)) => {
            Err(TransformError::InvalidCoordinate {
                field_key: field_key.to_owned(),
                value: v.to_string(),
            })
        }
        (lon, lat) => {
            if !(lon.is_empty() && lat.is_empty()) {
                tracing::warn!(
                    field_key,
                    "address with only one coordinate sent as a null point"
                );
            }
            Ok(Value::Null)
        }
    }
}

/// Every address must have both coordinates, else the whole value is null (the original's
/// `except ValueError: return None`).
fn multipoint<'a>(addresses: impl Iterator<Item = &'a Value>) -> Value {
    let mut coordinates = Vec::new();
    for address in addresses {
        let Some(address) = address.as_object() else {
            return Value::Null;
        };
        match (
            Coordinate::of(address, "longitude"),
            Coordinate::of(address, "latitude"),
        ) {
            (Coordinate::Number { value: x, .. }, Coordinate::Number { value: y, .. }) => {
                coordinates.push(serde_json::json!([x, y]));
            }
            _ => return Value::Null,
        }
    }
    serde_json::json!({"type": "MultiPoint", "coordinates": coordinates})
}

/// arrow's `get(v).format("YYYY-MM-DDTHH:mm:ss")`: the wall-clock time the value carries, offset
/// dropped (never converted); a value without offset is taken as it is.
pub(super) fn floating_timestamp(column: &str, value: &Value) -> Result<String, TransformError> {
    let wall_clock = match value {
        Value::String(s) => parse_wall_clock(s.trim()),
        // arrow reads a number as UTC epoch seconds.
        Value::Number(n) => n.as_f64().and_then(|secs| {
            let whole = secs.floor();
            let nanos = ((secs - whole) * 1e9) as u32;
            DateTime::from_timestamp(whole as i64, nanos).map(|dt| dt.naive_utc())
        }),
        _ => None,
    };
    wall_clock
        .map(|dt| floating_text(&dt))
        .ok_or_else(|| TransformError::InvalidTimestamp {
            column: column.to_owned(),
            value: value.to_string(),
        })
}

/// `dt` in [`FLOATING_FORMAT`], written field by field: chrono parses a format string on every
/// call and builds the text in a buffer of its own, a tenth of a publisher's allocations. Years
/// outside 0..=9999 and leap seconds take chrono's own spelling.
fn floating_text(dt: &NaiveDateTime) -> String {
    use chrono::{Datelike, Timelike};
    use std::fmt::Write as _;
    if !(0..=9999).contains(&dt.year()) || dt.nanosecond() >= 1_000_000_000 {
        return dt.format(FLOATING_FORMAT).to_string();
    }
    let mut text = String::with_capacity(19);
    let _ = write!(
        text,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    text
}

fn parse_wall_clock(s: &str) -> Option<NaiveDateTime> {
    if let Ok(dt) = DateTime::<FixedOffset>::parse_from_rfc3339(s) {
        return Some(dt.naive_local());
    }
    const WITH_OFFSET: [&str; 4] = [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%z",
        "%Y-%m-%d %H:%M%z",
    ];
    for format in WITH_OFFSET {
        if let Ok(dt) = DateTime::<FixedOffset>::parse_from_str(s, format) {
            return Some(dt.naive_local());
        }
    }
    const NAIVE: [&str; 4] = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ];
    for format in NAIVE {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, format) {
            return Some(dt);
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

#[cfg(test)]
mod tests;
