//! `pocketdock`: disposable, offline container sandboxes from the shell.
//!
//! Exit codes: `run` exits with the command's own code (124 when it timed out); pocketdock's own
//! failures exit 125 (like `docker run`), usage errors 2.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod output;

use clap::Parser;

use crate::cli::Cli;

/// Exit code of pocketdock's own failures (engine unreachable, container not found, ...).
pub const EXIT_FAILURE: i32 = 125;
/// Exit code of `run` when the command timed out.
pub const EXIT_TIMEOUT: i32 = 124;

fn main() {
    let cli = Cli::parse();
    let code = match commands::dispatch(&cli) {
        Ok(code) => code,
        Err(e) => {
            output::error(&e);
            EXIT_FAILURE
        }
    };
    std::process::exit(code);
}
