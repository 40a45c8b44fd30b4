//! Knack's rate-limit and daily-quota headers.
//!
//! Every answer may carry `X-PlanLimit-Limit`, `X-PlanLimit-Remaining`,
//! `X-PlanLimit-Reset` (the app's daily API quota) and `X-RateLimit-*` (the
//! 10 requests per second). Resets are epoch seconds. See
//! <https://docs.knack.com/docs/api-limits>.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;

/// The least wait after a 429: Knack says requests stay rejected for the
/// rest of the one-second window and sends no `Retry-After`.
const MIN_RATE_LIMIT_WAIT: Duration = Duration::from_secs(1);

/// The app's daily API quota as last reported by Knack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Calls left today (`X-PlanLimit-Remaining`).
    pub remaining: u64,
    /// The daily allowance (`X-PlanLimit-Limit`), if sent.
    pub limit: Option<u64>,
    /// When the quota comes back (`X-PlanLimit-Reset`), if sent.
    pub resets_at: Option<DateTime<Utc>>,
}

fn number(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// A reset instant. Knack's docs show epoch seconds for `X-RateLimit-Reset` but no example value
/// for `X-PlanLimit-Reset`, so milliseconds, an HTTP-date and RFC 3339 are read too rather than
/// losing the reset time from the daily-limit message.
fn epoch(headers: &HeaderMap, name: &str) -> Option<DateTime<Utc>> {
    let text = headers.get(name)?.to_str().ok()?.trim();
    let Ok(secs) = text.parse::<u64>() else {
        return DateTime::parse_from_rfc2822(text)
            .or_else(|_| DateTime::parse_from_rfc3339(text))
            .ok()
            .map(|t| t.with_timezone(&Utc));
    };
    // Seconds, or milliseconds from a server that sends those.
    let secs = if secs > 100_000_000_000 {
        secs / 1000
    } else {
        secs
    };
    DateTime::from_timestamp(i64::try_from(secs).ok()?, 0)
}

/// The longest wait a reset header read as a duration may name: a daily quota comes back within
/// a day (one hour of slack).
const MAX_RESET_DURATION: Duration = Duration::from_secs(25 * 3600);

/// When the quota comes back, from header `name`, as seen at `now`: the instant it names when that
/// is in the future; else, when it is a number that can be a wait in milliseconds (at most a
/// day), `now` plus that wait (`21600000` is six hours, not a day in 1970); else `None`. Never an
/// instant in the past.
fn reset_at(headers: &HeaderMap, name: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Some(at) = epoch(headers, name).filter(|at| *at > now) {
        return Some(at);
    }
    let ms: u64 = headers.get(name)?.to_str().ok()?.trim().parse().ok()?;
    let wait = Duration::from_millis(ms);
    if wait.is_zero() || wait > MAX_RESET_DURATION {
        return None;
    }
    Some(now + chrono::Duration::from_std(wait).ok()?)
}

/// The quota headers of an answer, when it has them.
pub(crate) fn quota(headers: &HeaderMap) -> Option<Quota> {
    quota_at(headers, Utc::now())
}

fn quota_at(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Quota> {
    Some(Quota {
        remaining: number(headers, "x-planlimit-remaining")?,
        limit: number(headers, "x-planlimit-limit"),
        resets_at: reset_at(headers, "x-planlimit-reset", now),
    })
}

/// For a 429: `Some(resets_at)` when it is the daily quota that is spent
/// (`X-PlanLimit-Remaining: 0`), with the reset from `X-PlanLimit-Reset`,
/// else `X-RateLimit-Reset` (see [`reset_at`]: never an instant in the past).
pub(crate) fn daily_limit_spent(headers: &HeaderMap) -> Option<Option<DateTime<Utc>>> {
    daily_limit_spent_at(headers, Utc::now())
}

fn daily_limit_spent_at(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Option<DateTime<Utc>>> {
    (number(headers, "x-planlimit-remaining")? == 0).then(|| {
        reset_at(headers, "x-planlimit-reset", now)
            .or_else(|| reset_at(headers, "x-ratelimit-reset", now))
    })
}

/// How long a 429 asks us to wait: until `X-RateLimit-Reset`, never less
/// than one second. The retry policy caps it (`max_server_wait`).
pub(crate) fn rate_limit_wait(headers: &HeaderMap, now: SystemTime) -> Duration {
    let until_reset = number(headers, "x-ratelimit-reset")
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
        .and_then(|r| r.duration_since(now).ok())
        .unwrap_or_default();
    until_reset.max(MIN_RATE_LIMIT_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn waits_until_the_reset_epoch_and_at_least_a_second() {
        let now = UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        let h = |v| headers(&[("X-RateLimit-Reset", v)]);
        assert_eq!(
            rate_limit_wait(&h("1700000003"), now),
            Duration::from_millis(2750)
        );
        assert_eq!(rate_limit_wait(&h("1699999999"), now), MIN_RATE_LIMIT_WAIT);
        assert_eq!(rate_limit_wait(&h("soon"), now), MIN_RATE_LIMIT_WAIT);
        assert_eq!(rate_limit_wait(&HeaderMap::new(), now), MIN_RATE_LIMIT_WAIT);
    }

    #[test]
    fn a_reset_reads_as_seconds_milliseconds_an_http_date_or_rfc_3339() {
        let at = DateTime::from_timestamp(1_700_000_000, 0);
        for v in [
            "1700000000",
            "1700000000000",
            "Tue, 14 Nov 2023 22:13:20 GMT",
            "2023-11-14T22:13:20Z",
            "2023-11-14T16:13:20-06:00",
        ] {
            let h = headers(&[("X-PlanLimit-Reset", v)]);
            assert_eq!(epoch(&h, "x-planlimit-reset"), at, "{v}");
        }
        let h = headers(&[("X-PlanLimit-Reset", "tomorrow")]);
        assert_eq!(epoch(&h, "x-planlimit-reset"), None);
    }

    #[test]
    fn reads_the_daily_quota() {
        let now = DateTime::from_timestamp(1_699_990_000, 0).unwrap();
        let h = headers(&[
            ("X-PlanLimit-Limit", "5000"),
            ("X-PlanLimit-Remaining", "42"),
            ("X-PlanLimit-Reset", "1700000000"),
        ]);
        assert_eq!(
            quota_at(&h, now),
            Some(Quota {
                remaining: 42,
                limit: Some(5000),
                resets_at: DateTime::from_timestamp(1_700_000_000, 0),
            })
        );
        assert_eq!(daily_limit_spent_at(&h, now), None, "42 left is not spent");
        assert_eq!(quota(&HeaderMap::new()), None);
        let spent = headers(&[
            ("X-PlanLimit-Remaining", "0"),
            ("X-RateLimit-Reset", "1700000000000"),
        ]);
        assert_eq!(
            daily_limit_spent_at(&spent, now),
            Some(DateTime::from_timestamp(1_700_000_000, 0))
        );
    }

    #[test]
    fn a_reset_that_is_not_a_future_instant_is_a_wait_or_nothing() {
        let now = DateTime::from_timestamp(1_765_000_000, 0).unwrap();
        let spent = |reset: &str| {
            let h = headers(&[("X-PlanLimit-Remaining", "0"), ("X-PlanLimit-Reset", reset)]);
            daily_limit_spent_at(&h, now).expect("the quota is spent")
        };
        // 21600000 as epoch seconds is 1970-09-08: read as 6 hours in milliseconds.
        assert_eq!(spent("21600000"), Some(now + chrono::Duration::hours(6)));
        // A past instant that cannot be a wait of at most a day, and a past date: left out.
        assert_eq!(spent("1700000000"), None);
        assert_eq!(spent("Tue, 14 Nov 2023 22:13:20 GMT"), None);
        assert_eq!(spent("0"), None);
        // A future instant stays what it is.
        assert_eq!(
            spent("1765003600"),
            DateTime::from_timestamp(1_765_003_600, 0)
        );
    }
}
