//! Logging: text or JSON lines, filtered by `RUST_LOG` (default `info`).
//! Log lines carry ids (request, practice, client), never names or clinical text.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
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
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    // A second init (tests) is harmless: the first subscriber stays.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
