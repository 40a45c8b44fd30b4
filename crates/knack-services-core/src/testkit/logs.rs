//! Log capture for tests that assert what a client logged.

use std::cell::RefCell;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::fmt::MakeWriter;

use crate::lock;

/// Collects the text log lines of the current thread while installed, for
/// asserting that a wait or a warning was logged (and said what it must).
#[derive(Debug, Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedLogs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        lock(&self.0).extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

thread_local! {
    /// The capture this thread's events go to, if any.
    static CURRENT: RefCell<Option<CapturedLogs>> = const { RefCell::new(None) };
}

/// Writes each event to the capture installed on the thread that emits it, or nowhere.
struct ThreadCapture;

impl<'a> MakeWriter<'a> for ThreadCapture {
    type Writer = Box<dyn Write>;

    fn make_writer(&'a self) -> Self::Writer {
        CURRENT.with(|c| match &*c.borrow() {
            Some(logs) => Box::new(logs.clone()) as Box<dyn Write>,
            None => Box::new(std::io::sink()),
        })
    }
}

/// Ends a capture when dropped (the thread's previous capture, if any, resumes).
#[must_use = "the capture ends when the guard is dropped"]
pub struct CaptureGuard {
    previous: Option<CapturedLogs>,
    _scoped: Option<tracing::subscriber::DefaultGuard>,
}

impl std::fmt::Debug for CaptureGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureGuard").finish_non_exhaustive()
    }
}

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

impl CapturedLogs {
    /// Captures every event (all levels, no colours) emitted on this thread until the guard is
    /// dropped. Use a `current_thread` runtime so the client's tasks log on this thread too.
    ///
    /// Why a process-wide subscriber rather than `set_default`: tracing caches, per callsite,
    /// whether any subscriber wants it, and a callsite first reached on another test's thread
    /// (with no subscriber) was cached as "never", silently dropping this thread's events
    /// when tests ran in parallel. One global subscriber that routes each event to its thread's
    /// capture makes every callsite wanted. Where the test binary already set a global
    /// subscriber of its own, the capture falls back to a thread-scoped one.
    pub fn install(&self) -> CaptureGuard {
        static GLOBAL: OnceLock<bool> = OnceLock::new();
        let global = *GLOBAL.get_or_init(|| {
            let subscriber = tracing_subscriber::fmt()
                .with_writer(ThreadCapture)
                .with_ansi(false)
                .with_max_level(tracing::Level::TRACE)
                .finish();
            tracing::subscriber::set_global_default(subscriber).is_ok()
        });
        let previous = CURRENT.with(|c| c.borrow_mut().replace(self.clone()));
        let scoped = (!global).then(|| {
            let subscriber = tracing_subscriber::fmt()
                .with_writer(ThreadCapture)
                .with_ansi(false)
                .with_max_level(tracing::Level::TRACE)
                .finish();
            tracing::subscriber::set_default(subscriber)
        });
        CaptureGuard {
            previous,
            _scoped: scoped,
        }
    }

    /// The text captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&lock(&self.0)).into_owned()
    }
}
