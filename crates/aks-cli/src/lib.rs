//! The `aks` ops CLI: arguments, settings (config file, environment), logging, progress and exit
//! codes around knack-etl, which does the work.
//!
//! The rooms: `cli.rs` (clap arguments and their help texts), `settings/` (the config file, which
//! embeds knack-etl's model of an app's containers, environment variables and endpoints → one
//! `Settings` value), `clients.rs` (the one place settings become clients), `commands/` (one file
//! per subcommand, each a few calls into knack-etl), `output/` (summary lines, tables, `sync`'s
//! summary, diagnoses, logging) and `error.rs` (errors and exit codes). Everything is validated
//! before the first request; the library exposes only what the `aks` binary runs.
//!
//! ```no_run
//! use aks_cli::{cli::Cli, execute, EnvVars};
//! use clap::Parser;
//!
//! # async fn demo() {
//! let cli = Cli::parse_from(["aks", "--config", "knack.toml", "config", "check", "--offline"]);
//! if let Err(e) = execute(&cli, &EnvVars::from_process()).await {
//!     eprintln!("error: {e}");
//!     std::process::exit(e.exit_code().into());
//! }
//! # }
//! ```
#![warn(missing_docs)]

pub mod cli;
mod clients;
mod commands;
mod error;
mod output;
mod settings;

pub use commands::execute;
pub use error::{CliError, EXIT_RUNTIME, EXIT_USAGE};
pub use output::{logging, summary};
pub use settings::EnvVars;
