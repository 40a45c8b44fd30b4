//! One stage of a container run between its watermark's open and close.

use std::future::Future;
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::plan::SyncOptions;
use super::report::{StageOutcome, StageResult};
use super::watermark::{Destination, Since, Tracked, Watermarks, KNACK_CLOCK_MARGIN};
use crate::engine::{RunFailure, RunOptions, RunReport};
use crate::Error;

/// One container's stages: each runs between its watermark's open and close.
pub(crate) struct Stage<'a> {
    pub(super) watermarks: &'a Watermarks,
    pub(super) container_id: &'a str,
    pub(super) options: SyncOptions,
}

impl Stage<'_> {
    /// Runs `stage` with `client` from the destination's watermark (or `-d`); without a client,
    /// a failed stage.
    pub(crate) async fn run<'c, C, F, Fut>(
        &self,
        destination: Destination,
        client: Option<&'c C>,
        stage: F,
    ) -> StageResult
    where
        F: FnOnce(&'c C, Option<DateTime<Utc>>) -> Fut,
        Fut: Future<Output = Result<RunReport, RunFailure>>,
    {
        let started = Instant::now();
        let outcome = match client {
            Some(client) => StageOutcome::Ran(
                self.watermarks
                    .tracked(
                        self.container_id,
                        destination.clone(),
                        since_rule(self.options, &destination),
                        self.options.dry_run,
                        |since| stage(client, since),
                    )
                    .await,
            ),
            None => missing_client(self.container_id, &destination),
        };
        tracing::info!(
            container = self.container_id,
            %destination,
            seconds = started.elapsed().as_secs_f64(),
            ok = outcome.is_success(),
            "stage done"
        );
        StageResult {
            container_id: self.container_id.to_string(),
            destination,
            outcome,
        }
    }
}

/// A plan naming a destination whose client the caller did not give: a failed stage, so the run
/// does not look successful.
fn missing_client(container_id: &str, destination: &Destination) -> StageOutcome {
    StageOutcome::Ran(Tracked {
        since: None,
        watermark: None,
        result: Err(RunFailure {
            report: RunReport::default(),
            error: Box::new(Error::Refused(format!(
                "{container_id} is published to {destination}, but the sync was given no \
                 {destination} client"
            ))),
        }),
    })
}

/// Where a stage starts: `-d` when given, else its watermark.
fn since_rule(options: SyncOptions, destination: &Destination) -> Since {
    match options.since {
        Some(since) => Since::Given(Some(since)),
        None if *destination == Destination::Postgrest => Since::Watermark {
            margin: KNACK_CLOCK_MARGIN,
        },
        None => Since::Watermark {
            margin: chrono::Duration::zero(),
        },
    }
}

/// Runs one stage of one container outside a sync (a per-stage command such as
/// `records-to-socrata`) from `options.since` as given, and records where it got to in the
/// stage's watermark, so per-stage commands and [`sync`](super::sync) can be mixed. `stage` runs
/// the pipeline itself.
///
/// # Errors
/// The pipeline's [`RunFailure`]; or, when the watermark cannot be opened or stored, a failure
/// saying so (a success whose watermark was not stored is reported as a failure: the data is
/// written, the next run repeats it).
pub async fn run_tracked<F, Fut>(
    pgrest: &pgrest_client::Client,
    app_id: &str,
    container_id: &str,
    destination: Destination,
    options: &RunOptions,
    stage: F,
) -> Result<RunReport, RunFailure>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<RunReport, RunFailure>>,
{
    Watermarks::new(pgrest.clone(), app_id)
        .tracked(
            container_id,
            destination,
            Since::Given(options.since),
            options.dry_run,
            |_| stage(),
        )
        .await
        .result
}
