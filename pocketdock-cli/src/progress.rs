//! Progress bars and spinners on stderr (indicatif), drawn only when stderr is a terminal:
//! piped or redirected, pocketdock stays quiet and prints only its result lines.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether progress is drawn at all.
pub fn enabled() -> bool {
    std::io::stderr().is_terminal()
}

fn target() -> ProgressDrawTarget {
    if enabled() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// A spinner with a message and the elapsed time, ticking on its own.
pub fn spinner(msg: impl Into<String>) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(None, target());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {wide_msg} {elapsed}") {
        pb.set_style(style);
    }
    pb.set_message(msg.into());
    if enabled() {
        pb.enable_steady_tick(Duration::from_millis(100));
    }
    pb
}

/// A byte counter: a bar to `total` when the size is known, else a spinner with the bytes
/// moved and the rate. Feed it with [`ProgressBar::set_position`].
pub fn bytes(msg: impl Into<String>, total: Option<u64>) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(total, target());
    let template = if total.is_some() {
        "{wide_msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} {eta}"
    } else {
        "{spinner} {wide_msg} {bytes} {binary_bytes_per_sec} {elapsed}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(msg.into());
    if enabled() {
        pb.enable_steady_tick(Duration::from_millis(100));
    }
    pb
}

/// `n` bytes as `12.3 MiB`.
pub fn human_bytes(n: u64) -> String {
    indicatif::BinaryBytes(n).to_string()
}
