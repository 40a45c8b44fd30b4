//! A whole app in one run: the metadata once, then per container Knack → staging and, only when
//! that succeeded, each publisher, every stage from its own watermark ([`Watermarks`]).
//!
//! Containers run concurrently (bounded), all through clones of **one** knack-client `Client`:
//! its limiter is shared by its clones, and Knack's 10 requests per second are per app, so the
//! whole run stays within them however many containers run at once.
//!
//! A container with Knack destinations is then copied into each destination app
//! (`sync/knack.rs`): the destination's staged rows are refreshed first, so a record the previous run
//! created is seen there and never created twice.
//!
//! The room: the plans and options (`plan.rs`), the run (`run.rs`), one stage between its
//! watermark's open and close (`stage.rs`, also for a single-stage command: [`run_stage`] over
//! [`run_tracked`]), the Knack copy stage (`knack.rs`), the watermarks themselves
//! (`watermark.rs`) and any run between their open and close (`tracked.rs`), the report
//! (`report.rs`), `status --verify`'s comparison (`verify.rs`), the app's status document
//! (`status.rs`), which containers share a destination (`shared.rs`), the schema fingerprints
//! ([`schema`]), and the config of an app's containers that becomes the plans ([`config`]).

pub mod config;
mod knack;
mod plan;
mod report;
mod run;
pub mod schema;
mod shared;
mod stage;
mod status;
mod time;
mod tracked;
mod verify;
mod watermark;

pub use plan::{KnackPlan, SyncClients, SyncOptions, SyncPlan};
pub use report::{StageOutcome, StageResult, SyncReport, SyncTotals};
pub use run::{preflight, sync};
pub use shared::{share_destinations, shared_destinations, SharedDestination};
pub use stage::{run_stage, run_tracked, StageClients};
pub use status::{StageStatus, Status, MISSING_IDS_CAP};
pub use time::StageTime;
pub use tracked::{SchemaPlan, Since, Tracked};
pub use verify::{verify, Verification};
pub use watermark::{Destination, SyncState, Watermarks};
