//! Logging setup: tracing to stderr, as text or one JSON object per line,
//! plus the layer that moves the progress bar.

use std::io::{IsTerminal, Write};

use chrono::{SecondsFormat, Utc};
use clap::ValueEnum;
use serde_json::{Map, Value as JsonValue};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::filter::{filter_fn, Targets};
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use super::progress::Progress;
use crate::cli::LogFormat;

/// Installs the global subscriber. `RUST_LOG` overrides the default level (`info`).
///
/// Logs go to stderr so stdout stays for command output (`config check`, `db init --print`).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(|| LineWriter(Vec::new()))
        // Colour codes only on a terminal: Airflow and `docker logs` capture a pipe.
        .with_ansi(std::io::stderr().is_terminal());
    let fmt: Box<dyn Layer<Registry> + Send + Sync> = match format {
        // A stopped run's summary (ERROR, `aks::summary`) ends a text log after the error
        // instead (`summary::failed_line`), so it is not printed twice.
        LogFormat::Text => fmt
            .with_target(false)
            .with_filter(filter_fn(|m| {
                !(m.target() == "aks::summary" && *m.level() == Level::ERROR)
            }))
            .boxed(),
        LogFormat::Json => fmt.event_format(JsonLine).boxed(),
    };
    // knack-etl reports progress as a debug event per batch; the bar listens
    // to it whatever the log level, so `RUST_LOG` never hides the bar.
    let progress = ProgressLayer.with_filter(Targets::new().with_target("knack_etl", Level::DEBUG));
    // A second init (only possible in tests) keeps the first subscriber; that is fine.
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(progress)
        .try_init();
    if format == LogFormat::Json {
        // A panic would otherwise print plain text; as JSON it stays one object per line.
        std::panic::set_hook(Box::new(|info| {
            tracing::error!(
                exit_code = 101,
                "aks crashed (a bug; please report it): {info}"
            );
        }));
    }
}

/// The `--log-format` given in raw arguments (`--log-format json` or `--log-format=json`), for
/// reporting arguments that did not parse in the format asked for; text when absent or unclear.
pub fn format_in_args<I: IntoIterator<Item = std::ffi::OsString>>(args: I) -> LogFormat {
    let args = Vec::from_iter(args.into_iter().map(|a| a.to_string_lossy().into_owned()));
    let mut format = LogFormat::Text;
    for (i, arg) in args.iter().enumerate() {
        let value = match arg.strip_prefix("--log-format") {
            Some("") => args.get(i + 1).map(String::as_str),
            Some(rest) => rest.strip_prefix('='),
            None => None,
        };
        if let Some(f) = value.and_then(|v| LogFormat::from_str(v, false).ok()) {
            format = f;
        }
    }
    format
}

/// One JSON object per event: `timestamp`, `level`, the event's fields (`message` included),
/// `target`. Unlike tracing-subscriber's flattened JSON, events bridged from the `log` crate
/// (tokio-postgres, rustls) carry no `log.file`/`log.line`: paths into the build machine's cargo
/// registry say nothing to an operator, and their target is the crate's.
struct JsonLine;

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let now = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
        let mut fields = Fields(Map::from_iter([
            ("timestamp".to_owned(), now.into()),
            ("level".to_owned(), meta.level().as_str().into()),
        ]));
        event.record(&mut fields);
        fields.0.insert("target".into(), meta.target().into());
        writeln!(writer, "{}", JsonValue::Object(fields.0))
    }
}

/// An event's fields as JSON values; `log.*` (the `log` bridge's metadata) left out.
struct Fields(Map<String, JsonValue>);

impl Fields {
    fn put(&mut self, field: &Field, value: JsonValue) {
        if !field.name().starts_with("log.") {
            self.0.insert(field.name().to_owned(), value);
        }
    }
}

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
}

/// Sets the active progress bar's count from knack-etl's per-batch events
/// (`read = n`): the library reports, the CLI draws.
struct ProgressLayer;

impl<S: Subscriber> Layer<S> for ProgressLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        struct Read(Option<u64>);
        impl Visit for Read {
            fn record_u64(&mut self, field: &Field, value: u64) {
                if field.name() == "read" {
                    self.0 = Some(value);
                }
            }
            fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
        }
        let mut read = Read(None);
        event.record(&mut read);
        if let Some(n) = read.0 {
            Progress::set_active_position(n);
        }
    }
}

/// One log event, collected and written to stderr in one go with the progress
/// bar wiped first (and redrawn after): written straight to stderr, a line
/// started wherever the bar's text ended.
struct LineWriter(Vec<u8>);

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let line = std::mem::take(&mut self.0);
        Progress::suspend_active(|| {
            let _ = std::io::stderr().lock().write_all(&line);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(args: &[&str]) -> LogFormat {
        format_in_args(args.iter().map(std::ffi::OsString::from))
    }

    #[test]
    fn the_log_format_is_found_in_arguments_that_did_not_parse() {
        assert_eq!(
            format(&["aks", "--log-format", "json", "x", "-d", "soon"]),
            LogFormat::Json
        );
        assert_eq!(format(&["aks", "x", "--log-format=json"]), LogFormat::Json);
        assert_eq!(format(&["aks", "x", "-d", "soon"]), LogFormat::Text);
        assert_eq!(format(&["aks", "--log-format", "yaml"]), LogFormat::Text);
        assert_eq!(format(&["aks", "--log-format"]), LogFormat::Text);
        assert_eq!(
            format(&["aks", "--log-format", "json", "--log-format", "text"]),
            LogFormat::Text,
            "the last one wins, as in clap"
        );
    }
}
