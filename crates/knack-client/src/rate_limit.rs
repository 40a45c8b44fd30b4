//! One request limiter per Knack app, shared by every client of that app in
//! the process.
//!
//! Knack allows 10 requests per second and reads it as a rolling window: the
//! 11th request within any one second is answered 429. A token bucket with a
//! burst of 10 breaks that (10 at t=0, then one every 100 ms: 19 in the first
//! second). So the limiter is governor's GCRA with a burst of **one** and a
//! period slightly longer than `1 s / limit`: any 11 consecutive requests then
//! span more than one second. The margin absorbs jitter between the moment we
//! send and the moment Knack counts the request.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota};

/// The slack added to the period between two requests.
const MARGIN: Duration = Duration::from_millis(5);

/// A shared limiter: wait on it before every request.
#[derive(Debug)]
pub(crate) struct Limiter {
    inner: DefaultDirectRateLimiter,
    period: Duration,
}

impl Limiter {
    fn new(per_second: NonZeroU32) -> Self {
        let period = Duration::from_secs(1) / per_second.get() + MARGIN;
        let quota = Quota::with_period(period)
            .expect("period is never zero")
            .allow_burst(NonZeroU32::MIN);
        Self {
            inner: DefaultDirectRateLimiter::direct(quota),
            period,
        }
    }

    /// Resolves when one more request may be sent.
    pub(crate) async fn acquire(&self) {
        self.inner.until_ready().await;
    }

    /// The least time between two requests.
    pub(crate) fn period(&self) -> Duration {
        self.period
    }
}

/// The limiter for `app_id` on the Knack API at `origin` (scheme, host and port of the base
/// URL) at `per_second`, created on first use. Clients of the same app on the same API (and
/// limit) share it, so two clients cannot add up to 20 req/s; the same app id served by two
/// servers (two fakes in one test binary) is two apps, each with its own 10 req/s.
pub(crate) fn limiter_for(origin: &str, app_id: &str, per_second: NonZeroU32) -> Arc<Limiter> {
    type Registry = Mutex<HashMap<(String, String, u32), Arc<Limiter>>>;
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    let mut map = REGISTRY
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    map.entry((origin.to_string(), app_id.to_string(), per_second.get()))
        .or_insert_with(|| Arc::new(Limiter::new(per_second)))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eleven_requests_always_span_more_than_a_second() {
        let l = Limiter::new(NonZeroU32::new(10).unwrap());
        assert!(l.period() * 10 > Duration::from_secs(1));
    }

    #[test]
    fn clients_of_one_app_share_a_limiter() {
        let ten = NonZeroU32::new(10).unwrap();
        let knack = "https://api.knack.com";
        let a = limiter_for(knack, "app-shared-test", ten);
        let b = limiter_for(knack, "app-shared-test", ten);
        let c = limiter_for(knack, "app-other-test", ten);
        // The same app id on another server (a second fake) is another app.
        let d = limiter_for("http://127.0.0.1:4001", "app-shared-test", ten);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert!(!Arc::ptr_eq(&a, &d));
    }
}
