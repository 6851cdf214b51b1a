//! Human and JSON output.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};

use pocketdock_proto::Error;

/// Colors only on a terminal and never with `NO_COLOR`.
pub fn color_enabled(stream_is_tty: bool) -> bool {
    stream_is_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Print a success line (`✓ message`) to stdout.
pub fn success(msg: &str) {
    let tty = std::io::stdout().is_terminal();
    if color_enabled(tty) {
        println!("\x1b[32m✓\x1b[0m {msg}");
    } else {
        println!("✓ {msg}");
    }
}

/// Print an error and a one-line hint to stderr.
pub fn error(e: &Error) {
    let tty = std::io::stderr().is_terminal();
    let mut err = std::io::stderr().lock();
    if color_enabled(tty) {
        let _ = writeln!(err, "\x1b[31merror:\x1b[0m {e}");
    } else {
        let _ = writeln!(err, "error: {e}");
    }
    if let Some(h) = hint(e) {
        let _ = writeln!(err, "hint: {h}");
    }
}

fn hint(e: &Error) -> Option<&'static str> {
    Some(match e {
        Error::EngineNotFound | Error::SocketConnection { .. } => {
            "start Podman or Docker (scripts/engines.sh up), or pass --socket / set POCKETDOCK_SOCKET"
        }
        Error::ContainerNotFound(_) => "run 'pocketdock list' to see available containers",
        Error::ContainerNotRunning(_) => "run 'pocketdock resume NAME' to start it again",
        Error::ImageNotFound(_) => "build it with 'pocketdock build PROFILE' or import it with 'pocketdock import FILE'",
        Error::ProjectNotInitialized => "run 'pocketdock init' to create a project",
        Error::NameInUse(_) => "choose another --name, or remove the old container with 'pocketdock shutdown NAME -y'",
        Error::InvalidInput { .. } => "see 'pocketdock COMMAND --help'",
        _ => return None,
    })
}

/// Print a value as pretty JSON on stdout.
pub fn json<T: serde::Serialize>(value: &T) -> Result<(), Error> {
    let s = serde_json::to_string_pretty(value)
        .map_err(|e| Error::SocketCommunication(format!("JSON output: {e}")))?;
    println!("{s}");
    Ok(())
}

/// Print rows as an aligned table with a header.
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                let _ = write!(s, "{cell:<w$}  ");
            }
        }
        s.trim_end().to_string()
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", line(headers.to_vec()));
    for row in rows {
        let _ = writeln!(out, "{}", line(row.iter().map(String::as_str).collect()));
    }
}
