//! [`EnvVars`]: a snapshot of the environment. The logic takes one rather than reading
//! `std::env`, so tests pass their own environment and never mutate the process's.

use std::collections::BTreeMap;
use std::fmt;

/// A snapshot of environment variables; empty values count as unset.
#[derive(Clone, Default)]
pub struct EnvVars(pub(super) BTreeMap<String, String>);

impl EnvVars {
    /// The current process environment (non-UTF-8 values are skipped).
    pub fn from_process() -> Self {
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect()
    }

    /// The value of `name`, or `None` when unset or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// The set variables whose names start with `prefix` (e.g. `AWS_`), in name order.
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.0
            .iter()
            .filter(move |(k, v)| k.starts_with(prefix) && !v.trim().is_empty())
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for EnvVars {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl fmt::Debug for EnvVars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: values may be credentials.
        f.debug_struct("EnvVars")
            .field("names", &self.0.keys().collect::<Vec<_>>())
            .finish()
    }
}
