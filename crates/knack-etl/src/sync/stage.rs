//! One stage of a container run between its watermark's open and close.

use std::future::Future;
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::{since_rule, StageOutcome, StageResult, SyncOptions};
use crate::run::RunFailure;
use crate::watermark::{Destination, Tracked, Watermarks};
use crate::{Error, RunReport};

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
