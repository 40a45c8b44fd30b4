//! The terminal progress bar: drawn only on an interactive stderr with text logs, moved by the
//! logging layer from knack-etl's per-batch events.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::LogFormat;

/// The bar being drawn, for the logging layer to move.
static ACTIVE: std::sync::Mutex<Option<ProgressBar>> = std::sync::Mutex::new(None);

/// A progress bar that draws only on an interactive stderr with text logs; otherwise inert.
///
/// Cheap to clone. The logging layer moves it from knack-etl's per-batch events
/// ([`Progress::set_active_position`]); when hidden nothing is drawn, so Airflow logs never fill
/// with bar redraws.
#[derive(Debug, Clone)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar labelled `label`, visible only if stderr is a terminal and logs are text.
    pub fn for_terminal(label: &str, format: LogFormat) -> Self {
        Self::new(
            label,
            format == LogFormat::Text && std::io::stderr().is_terminal(),
        )
    }

    /// A bar that is drawn when `visible` is true.
    pub fn new(label: &str, visible: bool) -> Self {
        if !visible {
            return Self::hidden();
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} {msg} {human_pos} records [{elapsed}]")
        {
            bar.set_style(style);
        }
        bar.set_message(label.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        *ACTIVE.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar.clone());
        Self { bar }
    }

    /// Moves the bar being drawn, if any, to `records` (called by the
    /// logging layer on knack-etl's per-batch events).
    pub fn set_active_position(records: u64) {
        if let Some(bar) = ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            bar.set_position(records);
        }
    }

    /// Runs `write` with the bar being drawn, if any, wiped from the terminal
    /// and redrawn after, so a log line never lands in the middle of it.
    pub fn suspend_active(write: impl FnOnce()) {
        match ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            Some(bar) if !bar.is_finished() => bar.suspend(write),
            _ => write(),
        }
    }

    /// An inert bar.
    pub fn hidden() -> Self {
        Self {
            bar: ProgressBar::hidden(),
        }
    }

    /// Whether anything is drawn.
    #[cfg(test)]
    fn is_visible(&self) -> bool {
        !self.bar.is_hidden()
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_progress_is_inert() {
        let p = Progress::new("x", false);
        assert!(!p.is_visible());
        p.finish();
        assert!(Progress::for_terminal("x", LogFormat::Json).bar.is_hidden());
    }
}
