//! One request limiter per Knack app, shared by every client of that app in
//! the process.
//!
//! Knack allows 10 requests per second and reads it as a rolling window: the
//! 11th request within any one second is answered 429. Knack counts requests
//! as they **arrive**, and arrival times jitter (a request sent 100 ms after
//! another may arrive 30 ms after it), so a limiter that allows exactly 10 in
//! any second *as sent* still provokes 429s. This one allows at most `limit`
//! requests in any window of [`WINDOW`] (1.1 s) as sent: any 11 consecutive
//! requests span at least 1.1 s, so arrival jitter of up to 100 ms keeps them
//! within Knack's limit. A long read still runs at `limit` per 1.1 s, within
//! 1.1 × the ceiling.
//!
//! A sliding window (the send times of the last `limit` requests) rather than
//! governor's GCRA: GCRA with a burst of `limit` lets `limit + 1` through in
//! one window, and with a burst of one it spaces every request by
//! `WINDOW / limit`, which costs a long read its first burst.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

/// The window in which at most `limit` requests are sent: Knack's one second
/// plus 10 % for arrival jitter.
pub(crate) const WINDOW: Duration = Duration::from_millis(1100);

/// A shared limiter: wait on it before every request.
#[derive(Debug)]
pub(crate) struct Limiter {
    limit: usize,
    /// When the last `limit` requests were let through, oldest first.
    sent: Mutex<VecDeque<Instant>>,
}

impl Limiter {
    fn new(per_second: NonZeroU32) -> Self {
        let limit = usize::try_from(per_second.get()).unwrap_or(usize::MAX);
        Self {
            limit,
            sent: Mutex::new(VecDeque::with_capacity(limit)),
        }
    }

    /// Resolves when one more request may be sent, and counts it as sent.
    pub(crate) async fn acquire(&self) {
        loop {
            let wait = {
                let mut sent = knack_services_core::lock(&self.sent);
                let now = Instant::now();
                while sent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= WINDOW)
                {
                    sent.pop_front();
                }
                match sent.front() {
                    Some(oldest) if sent.len() >= self.limit => *oldest + WINDOW - now,
                    _ => {
                        sent.push_back(now);
                        return;
                    }
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// The average time between two requests over a long run (`WINDOW / limit`).
    pub(crate) fn period(&self) -> Duration {
        WINDOW / u32::try_from(self.limit).unwrap_or(u32::MAX)
    }
}

/// The limiter for `app_id` on the Knack API at `origin` (scheme, host and port of the base
/// URL) at `per_second`, created on first use. Clients of the same app on the same API (and
/// limit) share it, so two clients cannot add up to 20 req/s; the same app id served by two
/// servers (two fakes in one test binary) is two apps, each with its own 10 req/s.
pub(crate) fn limiter_for(origin: &str, app_id: &str, per_second: NonZeroU32) -> Arc<Limiter> {
    type Registry = Mutex<HashMap<(String, String, u32), Arc<Limiter>>>;
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    let mut map = knack_services_core::lock(REGISTRY.get_or_init(Default::default));
    map.entry((origin.to_string(), app_id.to_string(), per_second.get()))
        .or_insert_with(|| Arc::new(Limiter::new(per_second)))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn at_most_ten_in_any_window_and_ten_per_window_over_a_long_run() {
        let l = Limiter::new(NonZeroU32::new(10).unwrap());
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..100 {
            l.acquire().await;
            at.push(Instant::now());
        }
        for (i, t) in at.iter().enumerate().skip(10) {
            assert!(
                t.duration_since(at[i - 10]) >= WINDOW,
                "requests {} and {i} within {WINDOW:?}",
                i - 10
            );
        }
        // 100 requests: 10 at once, then 10 per 1.1 s, the last at 9.9 s.
        assert_eq!(at[99].duration_since(start), WINDOW * 9);
        assert_eq!(l.period(), Duration::from_millis(110));
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
