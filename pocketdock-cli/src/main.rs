//! `pocketdock`: disposable, offline container sandboxes from the shell.
//!
//! Built on `pocketdock-blocking` only: plain blocking I/O over the engine's Unix socket, no async
//! runtime. Exit codes: `run` exits with the command's own code (124 when it timed out);
//! pocketdock's own failures exit 125 (like `docker run`); usage errors 2 (see `--help`).
#![forbid(unsafe_code)]
// The doc comments of the clap structs are the --help text, shown verbatim: usage notation such
// as `[IP:]HOST` or `<profile>` is meant literally, not as rustdoc links or HTML.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]

mod cli;
mod commands;
mod output;
mod progress;
mod relay;
mod usage;

use clap::{CommandFactory, FromArgMatches};

use crate::cli::Cli;

/// Exit code of pocketdock's own failures (engine unreachable, container not found, ...).
pub const EXIT_FAILURE: i32 = 125;
/// Exit code of `run` when the command timed out.
pub const EXIT_TIMEOUT: i32 = 124;
/// Exit code of usage errors (as clap's).
pub const EXIT_USAGE: i32 = 2;

fn main() {
    // The agent relay (started by `run`, detached): not a user command, so not in the syntax.
    let args: Vec<String> = std::env::args().collect();
    if let [_, command, engine_socket, id] = args.as_slice() {
        if command == relay::RELAY_COMMAND {
            std::process::exit(relay::serve(engine_socket, id));
        }
    }
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    output::set_verbose(cli.verbose);
    let socket_from_env =
        matches.value_source("socket") == Some(clap::parser::ValueSource::EnvVariable);
    let ctx = commands::Ctx::new(cli.socket.clone(), socket_from_env);
    let code = match commands::dispatch(&ctx, &cli.command) {
        Ok(code) => code,
        Err(f) => f.report(),
    };
    // A look for orphans this run started in the background gets a moment to finish.
    if !pocketdock_blocking::finish_background_reaps(std::time::Duration::from_secs(5)) {
        vlog!("the look for orphans did not finish");
    }
    vlog!("exit {code}");
    let _ = std::io::Write::flush(&mut std::io::stdout());
    std::process::exit(code);
}
