//! [`RunOptions`]: what every run shares (incremental or full, whether to write at all, its stop), the
//! write mode it implies, and its `since` parsed as the original took it ([`parse_since`]).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::stop::Stop;
use super::traits::WriteMode;

/// What every run shares: incremental or full, whether to write at all, and the stop it watches.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Only records modified (Knack) or staged (publishers) on or after this
    /// instant, upserted; `None` is a full replace.
    pub since: Option<DateTime<Utc>>,
    /// Let a full replace whose source is empty empty the destination too.
    pub allow_empty_replace: bool,
    /// Read and transform, write nothing.
    pub dry_run: bool,
    /// The stop the run watches between pages and batches ([`Stop::process`] by default): once
    /// asked, the run fails with [`Error::Stopped`](crate::Error::Stopped) and deletes nothing.
    pub stop: Stop,
}

impl RunOptions {
    /// Options for a run from `since` (`None`: a full replace that refuses to empty the
    /// destination).
    pub fn from_since(since: Option<DateTime<Utc>>, dry_run: bool) -> Self {
        Self {
            since,
            allow_empty_replace: false,
            dry_run,
            stop: Stop::process(),
        }
    }

    /// The write mode these options ask for: an upsert with `since`, a replace without.
    pub fn mode(&self) -> WriteMode {
        match self.since {
            Some(_) => WriteMode::Upsert,
            None => WriteMode::Replace {
                allow_empty: self.allow_empty_replace,
            },
        }
    }
}

/// An accepted `since` value, shown in every error of [`parse_since`] so the fix is one
/// copy-paste away.
pub const SINCE_EXAMPLE: &str = "2020-09-08T09:21:08-05:00";

/// Forms with an explicit offset (`%#z` also takes `Z`, `+05`, `+0500` and `+05:00`).
const OFFSET_FORMATS: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M%#z",
    "%Y-%m-%d %H:%M%#z",
];

/// Forms without an offset, read as UTC.
const NAIVE_FORMATS: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
];

/// Parses a run's `since` ([`RunOptions::since`]) as the original's scripts took their `--date`:
/// an ISO-8601 date or date-time (the original passed it to `arrow.get`), a date alone or a time
/// without an offset read as UTC. Airflow renders its template dates both as
/// `2024-03-27T10:00:00+00:00` (`.isoformat()`) and as `2024-03-27 10:00:00+00:00` (`str()`), so
/// both separators are accepted.
///
/// # Errors
/// A sentence naming the value and showing [`SINCE_EXAMPLE`].
pub fn parse_since(input: &str) -> Result<DateTime<Utc>, String> {
    let s = input.trim();
    // RFC 3339 first: it is the common case and chrono's parser is the strictest about it.
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Ok(dt.with_timezone(&Utc));
    }
    // `%#z` does not take a bare `Z`; swap it for an explicit zero offset.
    let zulu;
    let s_off = match s.strip_suffix(['Z', 'z']) {
        Some(rest) => {
            zulu = format!("{rest}+00:00");
            zulu.as_str()
        }
        None => s,
    };
    for f in OFFSET_FORMATS {
        if let Ok(dt) = DateTime::parse_from_str(s_off, f) {
            return Ok(dt.with_timezone(&Utc));
        }
    }
    for f in NAIVE_FORMATS {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(dt.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(dt) = d.and_hms_opt(0, 0, 0) {
            return Ok(dt.and_utc());
        }
    }
    Err(format!(
        "`{input}` is not an ISO-8601 date; use e.g. {SINCE_EXAMPLE} or 2020-09-08 \
         (a value without an offset is read as UTC)"
    ))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    /// Each input must parse to the UTC instant next to it.
    fn assert_parses(cases: &[(&str, DateTime<Utc>)]) {
        for (input, expected) in cases {
            assert_eq!(parse_since(input).as_ref(), Ok(expected), "{input}");
        }
    }

    #[test]
    fn offset_is_applied() {
        assert_parses(&[
            ("2020-09-08T09:21:08-05:00", utc(2020, 9, 8, 14, 21, 8)),
            ("2020-09-08T09:21:08+0530", utc(2020, 9, 8, 3, 51, 8)),
            ("2020-09-08T09:21-05:00", utc(2020, 9, 8, 14, 21, 0)),
        ]);
    }

    #[test]
    fn zulu_forms() {
        assert_parses(&[
            ("2020-09-08T09:21:08Z", utc(2020, 9, 8, 9, 21, 8)),
            ("2020-09-08T09:21Z", utc(2020, 9, 8, 9, 21, 0)),
        ]);
    }

    #[test]
    fn fractional_seconds_are_kept() {
        let d = parse_since("2020-09-08T09:21:08.123456+00:00").unwrap();
        assert_eq!(d.timestamp_subsec_micros(), 123_456);
        assert_eq!(d.timestamp(), utc(2020, 9, 8, 9, 21, 8).timestamp());
    }

    #[test]
    fn airflow_str_form_with_space() {
        // `str(datetime)` in Python, what a bare `{{ prev_start_date_success }}` renders.
        assert_eq!(
            parse_since("2024-03-27 10:00:00.5+00:00")
                .unwrap()
                .timestamp(),
            utc(2024, 3, 27, 10, 0, 0).timestamp()
        );
        assert_eq!(
            parse_since("2024-03-27 10:00:00").unwrap(),
            utc(2024, 3, 27, 10, 0, 0)
        );
    }

    #[test]
    fn date_only_and_naive_time_are_utc() {
        assert_parses(&[
            ("2021-01-01", utc(2021, 1, 1, 0, 0, 0)),
            ("2021-01-01T06:30:00", utc(2021, 1, 1, 6, 30, 0)),
            ("2021-01-01T06:30", utc(2021, 1, 1, 6, 30, 0)),
            (" 1970-01-01 ", utc(1970, 1, 1, 0, 0, 0)),
        ]);
    }

    #[test]
    fn garbage_is_refused_with_an_example() {
        for bad in [
            "",
            "yesterday",
            "2020-13-01",
            "2020-02-30",
            "09/08/2020",
            "2020-09-08T25:00:00",
            "2020-09-08T09:21:08+25:00",
            "None",
        ] {
            let err = parse_since(bad).unwrap_err();
            assert!(err.contains(SINCE_EXAMPLE), "{bad}: {err}");
            assert!(err.contains(&format!("`{bad}`")), "{bad}: {err}");
        }
    }
}
