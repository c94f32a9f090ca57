//! Logging: text or JSON lines, filtered by `RUST_LOG` (default `info`).
//! Log lines carry ids (request, practice, client), never names or clinical text.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Keeps the log writer's thread alive: hold it until the process ends, so
/// the last lines are flushed.
pub type LogGuard = Option<tracing_appender::non_blocking::WorkerGuard>;

/// Installs the subscriber. Lines are written by a thread of their own (a
/// request formats its line and hands it over; it never waits on stderr's
/// pipe), and none is dropped: a full buffer makes the writer wait instead.
pub fn init(format: LogFormat) -> LogGuard {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // The metrics middleware warns on every request to a known path with an
    // unsupported method (found by fuzzing): anyone could flood the log.
    // Its metrics are unaffected, so only its errors are worth a line.
    if let Ok(quiet_metrics) = "actix_web_prom=error".parse() {
        filter = filter.add_directive(quiet_metrics);
    }
    // Colour only for a person at a terminal: escapes in a file or a log
    // collector are noise.
    let ansi = std::io::stderr().is_terminal();
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("attune-log")
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_ansi(ansi);
    // A second init (tests) is harmless: the first subscriber stays.
    let installed = match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    installed.ok().map(|()| guard)
}
