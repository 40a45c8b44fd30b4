//! The `aks` binary: parse, set up logging, run, map the outcome to an exit code.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use aks_cli::cli::{Cli, LogFormat};
use aks_cli::{execute, logging, summary, EnvVars, EXIT_RUNTIME, EXIT_USAGE};
use clap::error::ErrorKind;
use clap::Parser;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    logging::init(cli.log_format);
    let vars = EnvVars::from_process();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            let message = format!("cannot start the async runtime: {e}");
            return fail(cli.log_format, &message, EXIT_RUNTIME);
        }
    };
    // SIGTERM (Airflow's stop; SIGKILL 60 s later) or SIGINT: the runs stop; exit within 20 s.
    let (started, stop) = (Instant::now(), knack_etl::Stop::process());
    runtime.block_on(async { stop.on_signals(Duration::from_secs(20)) });
    match runtime.block_on(execute(&cli, &vars)) {
        Ok(()) => stop.exit_code().map_or(ExitCode::SUCCESS, ExitCode::from),
        Err(e) => {
            // Here, where every command's failure ends, so none can forget it: a summary, before
            // the ERROR event in JSON, after the error line in text (its last line, where a
            // reader looks).
            let code = stop.exit_code().unwrap_or(e.exit_code());
            let command = cli.command.name();
            if cli.log_format == LogFormat::Json {
                summary::emit_failed(command, started);
            }
            let exit = fail(cli.log_format, &e.to_string(), code);
            if cli.log_format == LogFormat::Text {
                eprintln!("{}", summary::failed_line(command, started, code));
            }
            exit
        }
    }
}

/// `--help` and `--version` print as clap prints them (stdout, exit 0). A bad argument exits 2;
/// with `--log-format json` it is one ERROR event carrying the exit code, like any other failure,
/// so that every line on stderr is JSON (the flag is looked for in the raw arguments, since they
/// did not parse).
fn usage_error(e: clap::Error) -> ExitCode {
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
        || logging::format_in_args(std::env::args_os()) != LogFormat::Json
    {
        e.exit();
    }
    logging::init(LogFormat::Json);
    let message = e.render().to_string();
    fail(LogFormat::Json, message.trim_end(), EXIT_USAGE)
}

/// Reports a failure: one JSON ERROR event with `exit_code`, or `error: ...` as text.
fn fail(format: LogFormat, message: &str, code: u8) -> ExitCode {
    match format {
        // One JSON line, so Airflow's log parsing sees the failure like any other event.
        LogFormat::Json => tracing::error!(exit_code = code, "{message}"),
        LogFormat::Text => eprintln!("error: {message}"),
    }
    ExitCode::from(code)
}
