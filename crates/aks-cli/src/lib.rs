//! The `aks` ops CLI: arguments, config file, environment, logging, progress and exit codes.
//!
//! The pipelines themselves live in knack-etl; this crate validates everything a run needs before
//! the first request and hands the pipeline only present, well-formed values.
//!
//! ```no_run
//! use aks_cli::{cli::Cli, env::EnvVars, run};
//! use clap::Parser;
//!
//! # async fn demo() {
//! let cli = Cli::parse_from(["aks", "--config", "knack.toml", "config", "check", "--offline"]);
//! let vars = EnvVars::from_process();
//! if let Err(e) = run::execute(&cli, &vars).await {
//!     eprintln!("error: {e}");
//!     std::process::exit(e.exit_code().into());
//! }
//! # }
//! ```
#![warn(missing_docs)]

pub mod backup;
pub mod check;
pub mod cli;
pub mod config;
pub mod date;
pub mod db;
pub mod diagnose;
pub mod endpoint;
pub mod env;
pub mod error;
pub mod knack_dest;
pub mod logging;
pub mod pipelines;
pub mod report;
pub mod run;
pub mod shared;
pub mod status;
pub mod sync;
pub mod table;

pub use error::{CliError, RunError};
