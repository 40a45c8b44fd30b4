//! The `aks` binary: parse, set up logging, run, map the outcome to an exit code.

use std::process::ExitCode;

use aks_cli::cli::{Cli, LogFormat};
use aks_cli::env::EnvVars;
use aks_cli::error::EXIT_RUNTIME;
use aks_cli::{logging, run};
use clap::Parser;

fn main() -> ExitCode {
    // Bad arguments (including --env and --date) exit 2 here, with clap's usage message.
    let cli = Cli::parse();
    logging::init(cli.log_format);
    let vars = EnvVars::from_process();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    match runtime.block_on(run::execute(&cli, &vars)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match cli.log_format {
                // One JSON line, so Airflow's log parsing sees the failure like any other event.
                LogFormat::Json => tracing::error!(exit_code = e.exit_code(), "{e}"),
                LogFormat::Text => eprintln!("error: {e}"),
            }
            ExitCode::from(e.exit_code())
        }
    }
}
