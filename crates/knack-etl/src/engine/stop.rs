//! [`Stop`]: a cooperative stop every run watches between pages and batches, and the signal
//! handling that asks it for a program ([`Stop::on_signals`]).

use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::Notify;

use super::report::RunReport;
use crate::Error;

/// What a [`Stop`] points at: the reason it was asked (once) and who waits for it.
#[derive(Debug)]
struct Inner {
    reason: OnceLock<String>,
    asked: Notify,
}

impl Inner {
    const fn new() -> Self {
        Self {
            reason: OnceLock::new(),
            asked: Notify::const_new(),
        }
    }
}

/// The process's stop, what [`Stop::default`] and [`Stop::process`] give.
static PROCESS: Inner = Inner::new();

/// A cooperative stop: once [asked](Stop::request), a run reads no new page and starts no new
/// write; a write already sent ends and its answer decides what landed, as always. A replace never
/// starts its deletions after a stop. The run then fails (a *failed* run, not a rejected one) with
/// [`Error::Stopped`], and a sync starts no further stage.
///
/// Copy and cheap: it is a reference to a flag that lives as long as the process. Every run
/// watches [`Stop::process`] unless its options name another ([`RunOptions::stop`],
/// [`SyncOptions::stop`]), so a program that asks it (or lets [`Stop::on_signals`] ask it) stops
/// all its runs at once; [`Stop::new`] makes one of its own (for a test, or one run among
/// several).
///
/// [`RunOptions::stop`]: crate::RunOptions::stop
/// [`SyncOptions::stop`]: crate::sync::SyncOptions::stop
#[derive(Clone, Copy)]
pub struct Stop(&'static Inner);

impl Default for Stop {
    /// [`Stop::process`].
    fn default() -> Self {
        Self::process()
    }
}

impl std::fmt::Debug for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Stop").field(&self.reason()).finish()
    }
}

impl Stop {
    /// The process's stop, shared by every run that names no other.
    pub fn process() -> Self {
        Self(&PROCESS)
    }

    /// A stop of its own, not asked by anything else. Its flag (a few dozen bytes) lives until
    /// the process ends, which is what makes `Stop` `Copy`: make one per run or test, not one per
    /// record.
    pub fn new() -> Self {
        Self(Box::leak(Box::new(Inner::new())))
    }

    /// Asks the stop, saying why (`"SIGTERM"`: the error reads "stopped by SIGTERM"). Only the
    /// first reason is kept; asking again does nothing.
    pub fn request(self, why: &str) {
        if self.0.reason.set(why.to_string()).is_ok() {
            self.0.asked.notify_waiters();
        }
    }

    /// Why the stop was asked, once it was.
    pub fn reason(self) -> Option<&'static str> {
        self.0.reason.get().map(String::as_str)
    }

    /// Resolves once the stop is asked (at once if it already was).
    pub async fn asked(self) {
        loop {
            let notified = self.0.asked.notified();
            if self.reason().is_some() {
                return;
            }
            notified.await;
        }
    }

    /// [`Error::Stopped`] for a run stopped with `report` so far, or `None` while not asked.
    pub(crate) fn error(self, report: &RunReport) -> Option<Error> {
        let why = self.reason()?;
        Some(Error::Stopped(format!(
            "stopped by {why} before it finished: {} written, nothing deleted; the next run \
             repeats it",
            report.written
        )))
    }

    /// A bare [`Error::Stopped`] for a sink that started no new request after a stop; the driver
    /// replaces it with [`Stop::error`], which has the run's counts.
    pub(crate) fn check(self) -> Result<(), Error> {
        match self.reason() {
            Some(why) => Err(Error::Stopped(format!("stopped by {why}"))),
            None => Ok(()),
        }
    }

    /// For a program (the `aks` CLI): asks this stop on SIGTERM or SIGINT and logs one line
    /// saying so; exits the process with 128 + the signal's number (143 for SIGTERM, 130 for
    /// SIGINT) if the program has not ended `bound` after it, or at once on a second signal. The
    /// program itself should exit with [`Stop::exit_code`] when its runs end. Airflow stops a
    /// task with SIGTERM and kills it `killed_task_cleanup_time` (60 s by default) later
    /// (<https://airflow.apache.org/docs/apache-airflow/stable/configurations-ref.html#killed-task-cleanup-time>),
    /// so `bound` should stay well inside that.
    ///
    /// Spawns a task: call it inside a tokio runtime. Outside Unix, only Ctrl-C (as SIGINT).
    /// Handlers that cannot be installed (the OS refused) are logged as a warning: the signals
    /// then end the process at once, as they would without this.
    pub fn on_signals(self, bound: Duration) {
        #[cfg(unix)]
        let (mut term, mut int) = {
            use tokio::signal::unix::{signal, SignalKind};
            match (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) {
                (Ok(term), Ok(int)) => (term, int),
                (Err(e), _) | (_, Err(e)) => {
                    tracing::warn!("SIGTERM and SIGINT will end the process at once: {e}");
                    return;
                }
            }
        };
        tokio::spawn(async move {
            let mut first = true;
            loop {
                #[cfg(unix)]
                let name = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                };
                // Elsewhere, Ctrl-C only.
                #[cfg(not(unix))]
                let name = match tokio::signal::ctrl_c().await {
                    Ok(()) => "SIGINT",
                    Err(_) => return,
                };
                let code = self.exit_code().unwrap_or_else(|| exit_code(name));
                if !first {
                    tracing::error!("{name} again: exiting now with {code}");
                    std::process::exit(code.into());
                }
                first = false;
                self.request(name);
                tracing::warn!(
                    "{name}: stopping after the requests in flight; no new page is read and no \
                     deletion starts; exiting with {code} within {}s (a second signal exits at \
                     once)",
                    bound.as_secs()
                );
                tokio::spawn(async move {
                    tokio::time::sleep(bound).await;
                    tracing::error!(
                        "{name}: the run had not ended {}s after it; exiting now with {code}",
                        bound.as_secs()
                    );
                    std::process::exit(code.into());
                });
            }
        });
    }

    /// The exit code a program stopped by a signal should end with: 128 + its number (143 for
    /// SIGTERM, 130 for SIGINT, as a shell reports them); `None` when the stop was not asked by
    /// a signal.
    pub fn exit_code(self) -> Option<u8> {
        self.reason().and_then(|why| match why {
            "SIGTERM" | "SIGINT" => Some(exit_code(why)),
            _ => None,
        })
    }
}

/// 128 + the number of signal `name` (SIGTERM or SIGINT).
fn exit_code(name: &str) -> u8 {
    if name == "SIGINT" {
        130
    } else {
        143
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn asked_once_with_the_first_reason() {
        let stop = Stop::new();
        assert_eq!(stop.reason(), None);
        assert!(stop.check().is_ok());
        let waiter = tokio::spawn(stop.asked());
        stop.request("SIGINT");
        stop.request("SIGTERM");
        waiter.await.unwrap();
        assert_eq!(stop.reason(), Some("SIGINT"));
        assert_eq!(stop.exit_code(), Some(130));
        assert!(Stop::new().reason().is_none(), "each stop is its own");
        let report = RunReport {
            written: 7,
            ..RunReport::default()
        };
        let message = stop.error(&report).unwrap().to_string();
        assert_eq!(
            message,
            "stopped by SIGINT before it finished: 7 written, nothing deleted; the next run \
             repeats it"
        );
        let other = Stop::new();
        other.request("shutdown");
        assert_eq!(other.exit_code(), None);
    }
}
