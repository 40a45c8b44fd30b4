//! [`StageTime`]: where a stage's wall time went: waiting on each service, on Knack's rate
//! limit, or working.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use knack_services_core::ledger;

/// Where a stage's wall time went, as the clients counted their waits
/// (`knack_services_core::ledger`: a moment of requests to two services at once counts half for
/// each, so the waits never add up to more than the wall time). Stages that overlap in time (a
/// sync's containers at once) share the moments they overlap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageTime {
    /// The stage's wall time, its setup (preflight, metadata) included.
    pub wall: Duration,
    /// Time waited per service (`"Knack"`, `"PostgREST"`, `"Socrata"`, `"ArcGIS"`) and on
    /// Knack's rate limit (`"Knack rate limit"`); a service the stage sent a request to is
    /// listed even when its share rounds to nothing.
    pub waiting: BTreeMap<&'static str, Duration>,
}

impl StageTime {
    /// Runs `stage` and measures it.
    pub(crate) async fn measure<T>(stage: impl Future<Output = T>) -> (T, StageTime) {
        let (started, before) = (Instant::now(), ledger::totals());
        let out = stage.await;
        let waiting = ledger::since(&before, &ledger::totals());
        let wall = started.elapsed();
        (out, StageTime { wall, waiting })
    }

    /// The part of the wall time not spent waiting on a service or a rate limit: transforming,
    /// encoding, and waiting on nothing the clients count.
    pub fn working(&self) -> Duration {
        self.wall
            .saturating_sub(self.waiting.values().sum::<Duration>())
    }

    /// Milliseconds waited on `kind` (a key of [`StageTime::waiting`]), 0 when none.
    pub fn waited_ms(&self, kind: &str) -> u64 {
        self.waiting
            .get(kind)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// `Knack 4.1s, Knack rate limit 0.3s, PostgREST 0.9s, working 0.2s`: the waits in name order,
/// then the rest.
impl std::fmt::Display for StageTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (kind, time) in &self.waiting {
            write!(f, "{kind} {:.1}s, ", time.as_secs_f64())?;
        }
        write!(f, "working {:.1}s", self.working().as_secs_f64())
    }
}
