//! Log capture for tests that assert what a client logged.

use std::sync::{Arc, Mutex};

use crate::lock;

/// Collects the text log lines of the current thread while installed, for
/// asserting that a wait or a warning was logged (and said what it must).
#[derive(Debug, Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        lock(&self.0).extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    /// Captures every event (all levels, no colours) on this thread until
    /// the guard is dropped. Use a `current_thread` runtime so the client's
    /// tasks log on this thread too.
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let sink = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        // A callsite first hit on another test's thread, while no subscriber was set there,
        // caches "never interested" and would drop this thread's events: recompute every
        // callsite's interest now that this subscriber exists.
        tracing::callsite::rebuild_interest_cache();
        guard
    }

    /// The text captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&lock(&self.0)).into_owned()
    }
}
