//! `pocketdock-agent`: the small program pocketdock copies into a sandbox and starts with one
//! engine exec, so that each later command is a frame on that exec's open connection instead of
//! an engine exec of its own (tens of milliseconds on every engine).
//!
//! It speaks the protocol of `pocketdock_proto::agent` on its stdin and stdout: it says hello,
//! then starts commands in process groups of their own, streams their output, feeds their
//! stdin, signals their groups, and reports each one's exit with its CPU time, peak memory and
//! OOM kill. It reaps every child, orphans included (it is a child subreaper). When the host
//! goes away it kills every group it started and exits 0; when the host breaks the protocol it
//! writes nothing more, kills them and exits 2.
//!
//! It is built statically (`scripts/build-agent.sh`) so it runs in any image, one without a C
//! library included; it never looks up a user name, which would need NSS.
//!
//! Threads: the main thread waits for the ending and shuts down; one reads frames; one reaps;
//! each command has a thread per output pipe and, with stdin, one writing its stdin.

mod accounting;
mod agent;
mod commands;
mod output;
mod output_pump;
mod reaper;
mod serve;
mod spawn;
mod stdin_feed;
mod sys;
mod window;

use std::fs::File;
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use pocketdock_proto::agent::{Hello, Kind, AGENT_PROTOCOL};

use crate::agent::{Agent, Ending};
use crate::output::Output;

/// The agent's version, said in its hello and by `--version`.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Stack of the agent's helper threads: they hold their buffers on the heap, and a sandbox
/// running many commands should not pay the 2 MiB default per pipe.
const THREAD_STACK: usize = 128 * 1024;

/// How long the agent waits, when shutting down, for the groups it killed to be reaped and
/// reported (a process that left its group and keeps a pipe open is not waited for longer).
const REAP_GRACE: Duration = Duration::from_secs(5);

/// Exit status after a protocol error.
const EXIT_MALFORMED: u8 = 2;
/// Exit status when the agent cannot go on (no thread, no wait).
const EXIT_FAILED: u8 = 1;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    match (args.next(), args.next()) {
        (None, _) => {}
        (Some(arg), None) if arg == "--version" => {
            println!("pocketdock-agent {VERSION} (protocol {AGENT_PROTOCOL})");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("usage: pocketdock-agent [--version]\n(the host speaks frames on stdin)");
            return ExitCode::from(EXIT_MALFORMED);
        }
    }
    let ending = run();
    let code = match &ending {
        Ending::HostGone => ExitCode::SUCCESS,
        Ending::Malformed(why) => {
            eprintln!("pocketdock-agent: protocol error: {why}");
            ExitCode::from(EXIT_MALFORMED)
        }
        Ending::Failed(why) => {
            eprintln!("pocketdock-agent: {why}");
            ExitCode::from(EXIT_FAILED)
        }
    };
    // Returning ends the process, and with it the threads still pumping or waiting.
    code
}

/// Serve until the host goes away or breaks the protocol; every command's group is killed and
/// reaped on the way out.
fn run() -> Ending {
    if let Err(e) = sys::set_child_subreaper() {
        // Commands still run; their orphans go to the sandbox's PID 1 instead.
        eprintln!("pocketdock-agent: cannot reap orphans ({e})");
    }
    // Our own descriptors for the two streams: written and read raw, without std's buffers.
    let streams = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .and_then(|i| Ok((i, std::io::stdout().as_fd().try_clone_to_owned()?)));
    let (input, output) = match streams {
        Ok((i, o)) => (File::from(i), File::from(o)),
        Err(e) => return Ending::Failed(format!("stdin/stdout: {e}")),
    };
    sys::widen_pipe(&output);
    let (stop, stopped) = mpsc::channel();
    let agent = Arc::new(Agent::new(Output::new(output), stop));
    let (uid, gid) = sys::ids();
    let hello = Hello {
        protocol: AGENT_PROTOCOL,
        version: VERSION.to_owned(),
        pid: std::process::id(),
        uid,
        gid,
    };
    let ending = match serde_json::to_vec(&hello) {
        Err(e) => Ending::Failed(format!("hello: {e}")),
        Ok(json) => match agent.output.send(Kind::Hello, 0, &json) {
            Err(gone) => gone.into(),
            Ok(()) => serve_until_stopped(&agent, input, &stopped),
        },
    };
    if matches!(ending, Ending::Malformed(_)) {
        agent.output.close();
    }
    agent.commands.close_and_kill();
    if !agent.commands.wait_until_settled(REAP_GRACE) {
        eprintln!("pocketdock-agent: exiting with commands not yet reaped or reported");
    }
    ending
}

fn serve_until_stopped(
    agent: &Arc<Agent>,
    input: File,
    stopped: &mpsc::Receiver<Ending>,
) -> Ending {
    if let Err(e) = reaper::start(agent) {
        return Ending::Failed(format!("reaper thread: {e}"));
    }
    let reader = Arc::clone(agent);
    let started = std::thread::Builder::new()
        .name("frames".to_owned())
        .spawn(move || {
            let ending = serve::serve(&reader, input);
            reader.stop(ending);
        });
    if let Err(e) = started {
        return Ending::Failed(format!("frame reader thread: {e}"));
    }
    // The agent holds a sender itself, so this waits for the first ending.
    stopped
        .recv()
        .unwrap_or_else(|_| Ending::Failed("no thread left to stop the agent".to_owned()))
}
