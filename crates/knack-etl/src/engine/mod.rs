//! The engine every pipeline runs on: the [`Source`] and [`Sink`] traits, the batch driver
//! ([`run`], [`run_until`]) with its read-ahead bound ([`Weigh`]) and its [`Stop`], the
//! [`RunReport`] of a run, the records a destination rejected, the [`DryRun`] sink, and the
//! compact id sets a replace keeps.
//!
//! Nothing here knows a system: the rooms `knack`, `staging`, `socrata`, `agol` and `knack_copy`
//! implement the traits and compose the driver.

pub(crate) mod bisect;
mod driver;
mod dry_run;
pub(crate) mod keyset;
mod options;
pub(crate) mod reject;
mod report;
mod stop;
mod traits;
mod weigh;

pub use driver::{run, run_until, RunFailure};
pub(crate) use driver::{setup, timed, unless_stopped};
pub use dry_run::DryRun;
pub use options::{parse_since, RunOptions, SINCE_EXAMPLE};
pub use reject::Rejection;
pub use report::RunReport;
pub use stop::Stop;
pub use traits::{BatchOutcome, BatchStream, Finished, Sink, Source, WriteMode};
pub use weigh::Weigh;
