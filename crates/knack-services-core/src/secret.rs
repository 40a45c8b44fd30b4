//! Secret header values that never show in logs or `Debug` output.

use std::fmt;

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

/// A secret (API key, token, `Bearer ...`) as an HTTP header value marked
/// sensitive, so reqwest and `http` redact it; its own `Debug` prints
/// `[redacted]`. Built once per client, cloned per request.
#[derive(Clone)]
pub struct SensitiveHeader(HeaderValue);

impl SensitiveHeader {
    /// The secret as a header value, optionally prefixed (`"Bearer "`).
    ///
    /// # Errors
    /// A message naming `what` (such as `the API key (ClientBuilder::api_key)`) when
    /// the secret is empty or holds characters a header cannot carry; the
    /// message never contains the secret.
    pub fn new(what: &str, prefix: &str, secret: &SecretString) -> Result<Self, String> {
        let raw = secret.expose_secret();
        if raw.trim().is_empty() {
            return Err(format!("{what} is empty"));
        }
        let mut v = HeaderValue::from_str(&format!("{prefix}{raw}")).map_err(|_| {
            format!("{what} holds characters HTTP headers cannot carry (a stray newline or quote?)")
        })?;
        v.set_sensitive(true);
        Ok(Self(v))
    }

    /// The header value (marked sensitive) to put on a request.
    pub fn value(&self) -> HeaderValue {
        self.0.clone()
    }
}

impl fmt::Debug for SensitiveHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shows_the_secret() {
        let h = SensitiveHeader::new("the key", "Bearer ", &"s3cret-value".into()).unwrap();
        assert!(h.value().is_sensitive());
        assert_eq!(h.value(), "Bearer s3cret-value");
        assert_eq!(format!("{h:?}"), "[redacted]");
        assert!(!format!("{:?}", h.value()).contains("s3cret"));
        let err = SensitiveHeader::new("the key (K)", "", &"a\nb-s3cret".into()).unwrap_err();
        assert!(
            err.contains("the key (K)") && !err.contains("s3cret"),
            "{err}"
        );
        assert!(SensitiveHeader::new("the key", "", &"  ".into())
            .unwrap_err()
            .contains("empty"));
    }
}
