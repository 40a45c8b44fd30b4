//! Application metadata (placeholder: the typed model is being written).

use serde_json::Value;

use crate::Error;

/// An application's metadata, as `GET /applications/{app_id}` returns it.
#[derive(Debug, Clone)]
pub struct Metadata {
    raw: Value,
}

impl Metadata {
    /// Parses the metadata response (`{"application": {...}}`).
    ///
    /// # Errors
    /// [`Error::Metadata`] when the JSON is not an application's metadata.
    pub fn from_json(raw: Value) -> crate::Result<Self> {
        if raw.get("application").is_none() {
            return Err(Error::Metadata(
                "no `application` key in the metadata".into(),
            ));
        }
        Ok(Self { raw })
    }

    /// The metadata exactly as Knack returned it.
    pub fn raw(&self) -> &Value {
        &self.raw
    }

    /// The app's timezone as an IANA zone.
    ///
    /// # Errors
    /// [`Error::UnknownTimezone`] for a Knack timezone name with no known IANA zone.
    pub fn timezone(&self) -> crate::Result<chrono_tz::Tz> {
        Err(Error::UnknownTimezone(String::new()))
    }
}
