//! Helpers that write values the way Socrata columns expect them.
//!
//! | column type (`dataTypeName`) | what is sent | helper |
//! |---|---|---|
//! | `point` | GeoJSON `{"type":"Point","coordinates":[lon, lat]}`, **longitude first** | [`Point`] |
//! | `multipoint` | GeoJSON `{"type":"MultiPoint","coordinates":[[lon, lat], …]}` | [`multipoint`] |
//! | `location` (legacy) | the string `"(lat, lon)"`, **latitude first**, as the original sends | [`location`] |
//! | `calendar_date` | floating timestamp `YYYY-MM-DDTHH:MM:SS`, no offset | [`floating_timestamp`] |
//! | `checkbox` | a JSON boolean | [`checkbox`] |

use chrono::{DateTime, NaiveDateTime};
use serde::{Serialize, Serializer};
use serde_json::{json, Value};

use crate::{Error, Result};

/// The floating-timestamp format the original publisher sends (`arrow` `YYYY-MM-DDTHH:mm:ss`).
/// Socrata returns the same instant with `.000` milliseconds; both forms are accepted on write.
pub const FLOATING_TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// A WGS84 point. Built from latitude and longitude (named, so the order cannot be mixed up);
/// serialised as GeoJSON with longitude first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Latitude, −90..=90.
    pub lat: f64,
    /// Longitude, −180..=180.
    pub lon: f64,
}

impl Point {
    /// Checks the ranges: a swapped pair (e.g. lat −97) is caught here rather than landing in
    /// the wrong hemisphere.
    pub fn new(lat: f64, lon: f64) -> Result<Self> {
        if !lat.is_finite()
            || !lon.is_finite()
            || !(-90.0..=90.0).contains(&lat)
            || !(-180.0..=180.0).contains(&lon)
        {
            return Err(Error::InvalidValue(format!(
                "point latitude {lat} / longitude {lon} out of range (lat −90..90, lon −180..180); are they swapped?"
            )));
        }
        Ok(Point { lat, lon })
    }

    /// Parses coordinates given as text (Knack sends them as strings), as the original's
    /// `float(...)` did.
    pub fn parse(lat: &str, lon: &str) -> Result<Self> {
        let p = |s: &str, what: &str| {
            s.trim()
                .parse::<f64>()
                .map_err(|_| Error::InvalidValue(format!("{what} {s:?} is not a number")))
        };
        Point::new(p(lat, "latitude")?, p(lon, "longitude")?)
    }

    /// The GeoJSON value for a `point` column.
    pub fn to_value(&self) -> Value {
        json!({"type": "Point", "coordinates": [self.lon, self.lat]})
    }
}

impl Serialize for Point {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

/// The GeoJSON value for a `multipoint` column: `[lon, lat]` pairs.
pub fn multipoint(points: &[Point]) -> Value {
    let coords: Vec<Value> = points.iter().map(|p| json!([p.lon, p.lat])).collect();
    json!({"type": "MultiPoint", "coordinates": coords})
}

/// The value the original sends to a legacy `location` column: the string `"(lat, lon)"`,
/// latitude first (the order the original fixed in commit 4ae9e61).
pub fn location(point: &Point) -> Value {
    Value::String(format!("({}, {})", point.lat, point.lon))
}

/// Formats a wall-clock time for a `calendar_date` (floating timestamp) column:
/// `2019-09-11T16:14:00`, no offset, no fraction.
pub fn floating_timestamp(t: &NaiveDateTime) -> String {
    t.format(FLOATING_TIMESTAMP_FORMAT).to_string()
}

/// Converts an ISO 8601 timestamp with offset (what the Knack formatter produces, e.g.
/// `2019-09-11T16:14:00-05:00`) into a floating timestamp that keeps the **local wall-clock
/// time** and drops the offset, as the original's `arrow.get(v).format(...)` did. Input without
/// an offset is taken as already local.
pub fn floating_timestamp_from_iso(iso: &str) -> Result<String> {
    let s = iso.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Ok(floating_timestamp(&dt.naive_local()));
    }
    parse_floating_timestamp(s).map(|t| floating_timestamp(&t))
}

/// Parses a floating timestamp as Socrata returns it (`2014-10-13T00:00:00.000`) or as written
/// (with seconds only, or a bare date).
pub fn parse_floating_timestamp(s: &str) -> Result<NaiveDateTime> {
    let s = s.trim();
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(|d| d.and_time(chrono::NaiveTime::MIN))
        })
        .map_err(|_| {
            Error::InvalidValue(format!(
                "{s:?} is not a floating timestamp (expected e.g. 2019-09-11T16:14:00)"
            ))
        })
}

/// The value for a `checkbox` column: a JSON boolean (never the `"True"`/`"False"` strings the
/// original sends to text columns).
pub fn checkbox(checked: bool) -> Value {
    Value::Bool(checked)
}

/// Reads a checkbox value: booleans, and the strings `true`/`false` in any case.
pub fn parse_checkbox(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_is_lon_first() {
        let p = Point::new(30.326333, -97.627703).unwrap();
        assert_eq!(
            p.to_value(),
            json!({"type":"Point","coordinates":[-97.627703, 30.326333]})
        );
        assert_eq!(serde_json::to_value(p).unwrap(), p.to_value());
        assert!(Point::new(-97.6, 30.3).is_err(), "swapped pair is rejected");
        assert_eq!(
            Point::parse(" 30.5", "-97.25").unwrap(),
            Point {
                lat: 30.5,
                lon: -97.25
            }
        );
        assert!(Point::parse("abc", "1").is_err());
    }

    #[test]
    fn location_is_lat_first_string() {
        let p = Point::new(30.25, -97.75).unwrap();
        assert_eq!(location(&p), json!("(30.25, -97.75)"));
    }

    #[test]
    fn multipoint_pairs_are_lon_lat() {
        let v = multipoint(&[Point::new(1.0, 2.0).unwrap(), Point::new(3.0, 4.0).unwrap()]);
        assert_eq!(
            v,
            json!({"type":"MultiPoint","coordinates":[[2.0, 1.0],[4.0, 3.0]]})
        );
    }

    #[test]
    fn floating_timestamps_keep_wall_time() {
        assert_eq!(
            floating_timestamp_from_iso("2019-09-11T16:14:00-05:00").unwrap(),
            "2019-09-11T16:14:00"
        );
        assert_eq!(
            floating_timestamp_from_iso("2024-03-10T03:30:00-05:00").unwrap(),
            "2024-03-10T03:30:00"
        );
        assert_eq!(
            floating_timestamp_from_iso("2014-03-08T00:00:00").unwrap(),
            "2014-03-08T00:00:00"
        );
        let t = parse_floating_timestamp("2014-10-13T00:00:00.000").unwrap();
        assert_eq!(floating_timestamp(&t), "2014-10-13T00:00:00");
        assert!(floating_timestamp_from_iso("yesterday").is_err());
    }

    #[test]
    fn checkbox_values() {
        assert_eq!(checkbox(true), json!(true));
        assert_eq!(parse_checkbox(&json!("False")), Some(false));
        assert_eq!(parse_checkbox(&json!(1)), None);
    }
}
