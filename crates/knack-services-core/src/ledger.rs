//! Where a process's time goes: how long it waited on each service (and on a service's rate
//! limit), counted by the clients' request paths, so a pipeline can tell an operator which
//! service its run waited on.
//!
//! A client marks each request in flight with [`waiting`] (`"Knack"`, `"PostgREST"`, ...), and a
//! rate limiter its own waits (`"Knack rate limit"`). The ledger splits every moment of the
//! process between the kinds of wait going on then: a moment when requests to one service are in
//! flight (one or several at once) counts once for that service; a moment when requests to two
//! services are in flight (a read overlapping a write) counts half for each. So the waits never
//! add up to more than the time that passed, and what is left of a stage's wall time is time
//! spent working (or waiting on nothing the ledger knows).
//!
//! The ledger is process-wide: a caller takes [`totals`] before and after a run and subtracts.
//! Runs that overlap in time share the moments they overlap.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::lock;

#[derive(Debug)]
struct Ledger {
    /// Requests in flight, per kind of wait.
    active: BTreeMap<&'static str, usize>,
    /// Time attributed so far, and waits started, per kind of wait.
    spent: BTreeMap<&'static str, Tally>,
    /// When `spent` was last brought up to date.
    settled: Instant,
}

impl Ledger {
    /// Shares the time since the last settlement between the kinds of wait in flight.
    fn settle(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.settled);
        self.settled = now;
        let kinds = self.active.len();
        if kinds == 0 || elapsed.is_zero() {
            return;
        }
        let share = elapsed / u32::try_from(kinds).unwrap_or(u32::MAX);
        for kind in self.active.keys() {
            self.spent.entry(kind).or_default().time += share;
        }
    }
}

fn ledger() -> &'static Mutex<Ledger> {
    static LEDGER: OnceLock<Mutex<Ledger>> = OnceLock::new();
    LEDGER.get_or_init(|| {
        Mutex::new(Ledger {
            active: BTreeMap::new(),
            spent: BTreeMap::new(),
            settled: Instant::now(),
        })
    })
}

/// What the ledger counted of one kind of wait.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// The time attributed to it.
    pub time: Duration,
    /// How many waits of it started (requests sent, rate-limit slots asked for).
    pub waits: u64,
}

/// A wait in progress, counted until dropped.
#[derive(Debug)]
#[must_use = "the wait is counted until the guard is dropped"]
pub struct Waiting {
    kind: &'static str,
}

/// Starts counting a wait of `kind` (a service's name, or a rate limit's), until the returned
/// guard is dropped.
pub fn waiting(kind: &'static str) -> Waiting {
    let mut l = lock(ledger());
    l.settle(Instant::now());
    *l.active.entry(kind).or_default() += 1;
    l.spent.entry(kind).or_default().waits += 1;
    Waiting { kind }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let mut l = lock(ledger());
        l.settle(Instant::now());
        if let Some(n) = l.active.get_mut(self.kind) {
            *n -= 1;
            if *n == 0 {
                l.active.remove(self.kind);
            }
        }
    }
}

/// The time attributed to each kind of wait since the process started (see the module docs),
/// up to now. Subtract two readings to get a run's.
pub fn totals() -> BTreeMap<&'static str, Tally> {
    let mut l = lock(ledger());
    l.settle(Instant::now());
    l.spent.clone()
}

/// The time of each kind of wait between two readings of [`totals`], for every kind with a wait
/// started in between (even one that took no measurable time, so that what a run waited on does
/// not depend on how fast it went).
pub fn since(
    before: &BTreeMap<&'static str, Tally>,
    after: &BTreeMap<&'static str, Tally>,
) -> BTreeMap<&'static str, Duration> {
    after
        .iter()
        .filter_map(|(k, a)| {
            let b = before.get(k).copied().unwrap_or_default();
            (a.waits > b.waits || a.time > b.time).then(|| (*k, a.time.saturating_sub(b.time)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_waits_share_their_moments_and_never_exceed_the_time_passed() {
        let before = totals();
        let started = Instant::now();
        {
            let _a = waiting("ledger-test-a");
            std::thread::sleep(Duration::from_millis(40));
            let _b = waiting("ledger-test-b");
            let _b2 = waiting("ledger-test-b");
            std::thread::sleep(Duration::from_millis(40));
        }
        std::thread::sleep(Duration::from_millis(20));
        let wall = started.elapsed();
        let spent = since(&before, &totals());
        let (a, b) = (spent["ledger-test-a"], spent["ledger-test-b"]);
        // a alone for 40 ms, then a and b (twice) for 40 ms: 60 ms and 20 ms.
        assert!(
            a >= Duration::from_millis(58) && a < Duration::from_millis(75),
            "{a:?}"
        );
        assert!(
            b >= Duration::from_millis(19) && b < Duration::from_millis(30),
            "{b:?}"
        );
        assert!(a + b <= wall);
    }
}
