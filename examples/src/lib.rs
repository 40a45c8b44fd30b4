//! Runnable examples of the knack-services crates that need no account and no
//! network: each starts the clients' fake servers (their `testkit` feature) on
//! loopback and drives the real clients against them.
//!
//! The quickstart's logic lives here ([`quickstart::run`]) with the demo app it
//! generates ([`demo`]), so that `cargo run --example quickstart` and the smoke
//! test run the same code. The per-client examples are self-contained files in
//! `examples/`, each with a `run` function the smoke test calls too.
//!
//! ```no_run
//! # async fn demo() -> knack_services_examples::Result<()> {
//! let summary = knack_services_examples::quickstart::run(&mut std::io::stdout()).await?;
//! assert_eq!(summary.socrata_rows, knack_services_examples::quickstart::RECORDS);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod demo;
pub mod quickstart;

/// Any error of the examples: they report it and stop.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Shorthand for results of the examples.
pub type Result<T, E = Error> = std::result::Result<T, E>;
