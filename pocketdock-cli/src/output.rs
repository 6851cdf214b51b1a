//! Human and JSON output: success lines, tables, errors with a hint, `--verbose` notes.
//!
//! Results go to stdout; errors, warnings, notes, prompts and progress go to stderr. Colors are
//! used only when the stream is a terminal, and never when `NO_COLOR` is set (non-empty).

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use pocketdock_proto::Error;

static VERBOSE: AtomicBool = AtomicBool::new(false);
static START: OnceLock<Instant> = OnceLock::new();

/// Turn `--verbose` notes on.
pub fn set_verbose(on: bool) {
    START.get_or_init(Instant::now);
    VERBOSE.store(on, Ordering::Relaxed);
}

/// Whether `--verbose` was given.
pub fn is_verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// Print a `--verbose` note to stderr, prefixed with the time since start.
pub fn verbose(args: std::fmt::Arguments<'_>) {
    if !is_verbose() {
        return;
    }
    let ms = START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1000.0;
    let line = format!("[{ms:7.1} ms] {args}");
    let tty = std::io::stderr().is_terminal();
    let mut err = std::io::stderr().lock();
    let _ = if color_enabled(tty) {
        writeln!(err, "\x1b[2m{line}\x1b[0m")
    } else {
        writeln!(err, "{line}")
    };
}

/// `--verbose` note: `vlog!("found {name}")`.
#[macro_export]
macro_rules! vlog {
    ($($t:tt)*) => {
        if $crate::output::is_verbose() {
            $crate::output::verbose(format_args!($($t)*));
        }
    };
}

/// Colors only on a terminal and never with `NO_COLOR` (or `TERM=dumb`).
pub fn color_enabled(stream_is_tty: bool) -> bool {
    stream_is_tty
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

/// Colors for stdout.
pub fn stdout_color() -> bool {
    color_enabled(std::io::stdout().is_terminal())
}

/// Colors for stderr.
pub fn stderr_color() -> bool {
    color_enabled(std::io::stderr().is_terminal())
}

/// An ANSI color of a table cell or a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    /// Green (success, running, exit 0).
    Green,
    /// Yellow (stopped, warnings).
    Yellow,
    /// Red (errors, failed commands).
    Red,
    /// Dim (secondary information).
    Dim,
}

impl Color {
    fn code(self) -> &'static str {
        match self {
            Self::Green => "32",
            Self::Yellow => "33",
            Self::Red => "31",
            Self::Dim => "2",
        }
    }

    /// `text` in this color when `on`.
    pub fn paint(self, text: &str, on: bool) -> String {
        if on {
            format!("\x1b[{}m{text}\x1b[0m", self.code())
        } else {
            text.to_string()
        }
    }
}

/// Print a success line (`✓ message`) to stdout.
pub fn success(msg: &str) {
    println!("{} {msg}", Color::Green.paint("✓", stdout_color()));
}

/// Print a warning line to stderr.
pub fn warn(msg: &str) {
    eprintln!("{} {msg}", Color::Yellow.paint("warning:", stderr_color()));
}

/// Print a plain note to stderr (things that happened besides the result).
pub fn note(msg: &str) {
    eprintln!("pocketdock: {msg}");
}

/// Print an error and a one-line hint to stderr.
pub fn error(e: &Error) {
    error_msg(&e.to_string(), hint(e));
}

/// Print an error message and an optional one-line hint to stderr.
pub fn error_msg(msg: &str, hint: Option<&str>) {
    let color = stderr_color();
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{} {msg}", Color::Red.paint("error:", color));
    if let Some(h) = hint {
        let _ = writeln!(err, "{} {h}", Color::Dim.paint("hint:", color));
    }
}

/// The one-line hint shown under an error.
pub fn hint(e: &Error) -> Option<&'static str> {
    Some(match e {
        Error::EngineNotFound | Error::SocketConnection { .. } => {
            "start Podman or Docker (scripts/engines.sh up), or pass --socket / set POCKETDOCK_SOCKET"
        }
        Error::ContainerNotFound(_) => "run 'pocketdock list' to see available containers",
        Error::ContainerNotRunning(_) => "run 'pocketdock resume NAME' to start it again",
        Error::ContainerGone(_) => "it was removed meanwhile; create a new one with 'pocketdock create'",
        Error::ImageNotFound(_) => {
            "build it with 'pocketdock build PROFILE' or import it with 'pocketdock import FILE'"
        }
        Error::ProjectNotInitialized => "run 'pocketdock init' to create a project",
        Error::NameInUse(_) => {
            "choose another --name, or remove the old container with 'pocketdock shutdown NAME -y'"
        }
        Error::InvalidInput { .. } => "see 'pocketdock COMMAND --help'",
        Error::Config { .. } => "fix the file, or check it against the template 'pocketdock init' writes",
        Error::PathNotFound(_) => "check the path with 'pocketdock run NAME -- ls -la DIR'",
        Error::HostPath { .. } => "check that the host path exists and is readable",
        Error::Timeout { .. } => "the engine did not answer in time; is it overloaded or stuck?",
        Error::StreamFailed { .. } => "the engine's message above says what went wrong",
        _ => return None,
    })
}

/// Print a value as pretty JSON on stdout (2-space indent, trailing newline).
pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<(), Error> {
    let s = serde_json::to_string_pretty(value)
        .map_err(|e| Error::SocketCommunication(format!("JSON output: {e}")))?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{s}");
    Ok(())
}

/// One table cell: text and an optional color.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// The text.
    pub text: String,
    /// Its color on a terminal.
    pub color: Option<Color>,
}

impl Cell {
    /// A colored cell.
    pub fn colored(text: impl Into<String>, color: Color) -> Self {
        Self {
            text: text.into(),
            color: Some(color),
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Self { text, color: None }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Self::from(text.to_string())
    }
}

/// Render rows as an aligned table with a header (two spaces between columns, no trailing
/// spaces); colors only when `color`.
pub fn render_table(headers: &[&str], rows: &[Vec<Cell>], color: bool) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.text.chars().count());
        }
    }
    let mut s = String::new();
    let mut line = |cells: Vec<(&str, Option<Color>)>| {
        let mut l = String::new();
        let last = cells.len().saturating_sub(1);
        for (i, ((text, c), w)) in cells.iter().zip(&widths).enumerate() {
            let painted = match c {
                Some(c) => c.paint(text, color),
                None => (*text).to_string(),
            };
            l.push_str(&painted);
            if i < last {
                let pad = w.saturating_sub(text.chars().count()) + 2;
                l.extend(std::iter::repeat_n(' ', pad));
            }
        }
        let _ = writeln!(s, "{}", l.trim_end());
    };
    line(headers.iter().map(|h| (*h, None)).collect());
    for row in rows {
        line(row.iter().map(|c| (c.text.as_str(), c.color)).collect());
    }
    s
}

/// Print rows as an aligned table on stdout.
pub fn table(headers: &[&str], rows: &[Vec<Cell>]) {
    let s = render_table(headers, rows, stdout_color());
    let _ = std::io::stdout().lock().write_all(s.as_bytes());
}

/// Print `label: value` lines with the values aligned (e.g. `info`, `status`).
pub fn fields(title: &str, rows: &[(&str, String)]) {
    let w = rows.iter().map(|(k, _)| k.len() + 1).max().unwrap_or(0);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{title}");
    for (k, v) in rows {
        let key = format!("{k}:");
        let _ = writeln!(out, "  {key:<w$}  {v}");
    }
}

/// The first `n` characters of `s` (the Python pocketdock prints 12-character ids).
pub fn short(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_aligned_without_trailing_spaces() {
        let rows = vec![
            vec![
                Cell::from("a"),
                Cell::colored("running", Color::Green),
                Cell::from(""),
            ],
            vec![Cell::from("longer"), Cell::from("x"), Cell::from("z")],
        ];
        let plain = render_table(&["NAME", "STATUS", "P"], &rows, false);
        assert_eq!(
            plain,
            "NAME    STATUS   P\na       running\nlonger  x        z\n"
        );
        let colored = render_table(&["NAME", "STATUS", "P"], &rows, true);
        assert!(colored.contains("\x1b[32mrunning\x1b[0m"));
        assert_eq!(
            colored.replace("\x1b[32m", "").replace("\x1b[0m", ""),
            plain
        );
    }

    #[test]
    fn short_ids() {
        assert_eq!(short("0123456789abcdef", 12), "0123456789ab");
        assert_eq!(short("abc", 12), "abc");
    }

    #[test]
    fn every_error_kind_that_users_meet_has_a_hint() {
        for e in [
            Error::EngineNotFound,
            Error::ContainerNotFound("x".into()),
            Error::ContainerNotRunning("x".into()),
            Error::ImageNotFound("x".into()),
            Error::ProjectNotInitialized,
            Error::NameInUse("x".into()),
        ] {
            assert!(hint(&e).is_some(), "{e}");
        }
    }
}
