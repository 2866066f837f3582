//! Terminal styles. Output goes through `anstream`, which drops the styles when
//! standard output is not a terminal, when `NO_COLOR` is set, or when the terminal
//! cannot show them, so piped output is plain text.

use anstyle::{AnsiColor, Color, Style};

/// Output stream that writes styles only to a terminal.
pub type Out = anstream::AutoStream<std::io::Stdout>;

pub const PASS: Style = Style::new()
    .fg_color(Some(Color::Ansi(AnsiColor::Green)))
    .bold();
pub const FAIL: Style = Style::new()
    .fg_color(Some(Color::Ansi(AnsiColor::Red)))
    .bold();
pub const SKIP: Style = Style::new().fg_color(Some(Color::Ansi(AnsiColor::Yellow)));
pub const LABEL: Style = Style::new().dimmed();
pub const BOLD: Style = Style::new().bold();

/// Formats a duration in milliseconds with one decimal, as every output shows latency.
pub fn millis(duration: std::time::Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

/// Returns the first `limit` characters of `text`, with `...` when it was longer.
pub fn start_of(text: &str, limit: usize) -> String {
    let start: String = text.chars().take(limit).collect();
    if text.chars().count() > limit {
        format!("{start}...")
    } else {
        start
    }
}
