//! The per-container agent relay: how a CLI call reaches an in-sandbox agent started by an
//! earlier call, without an engine exec of its own.
//!
//! Each CLI call is a new process, and an engine exec's stdin cannot be attached again once
//! its client is gone, so an agent needs a host-side owner that outlives the call. The relay is
//! that owner: `pocketdock` itself in a hidden subcommand, detached in a session of its own,
//! listening on a Unix socket in a directory only this user can enter
//! (`$XDG_RUNTIME_DIR/pocketdock/`, else `/tmp/pocketdock-<uid>/`, mode 0700, checked), named
//! after the container and the agent build. It keeps agent exec connections open (one per
//! concurrent client, plus a spare) and hands each client one, greeting it with the agent's
//! hello; from then on the client speaks the agent protocol itself, through the same
//! `AgentClient` machine as a library handle. The relay decodes the frames it passes on (with
//! the same bounded decoder) only to hand a connection to the next client at a frame boundary
//! and to kill what a client that went away left running.
//!
//! A call that finds no relay takes the engine path and starts one for the next call. The relay
//! exits when idle for ten minutes (`POCKETDOCK_RELAY_IDLE` seconds), when its container is gone
//! or stopped, and when `stop`, `shutdown` or `reboot` asks it to.

mod serve;

use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use pocketdock_blocking::{CommandPath, Container, Engine};
use pocketdock_proto::api::containers::ContainerInspect;

pub use serve::serve;

/// The hidden subcommand that runs a relay.
pub const RELAY_COMMAND: &str = "__agent-relay";

/// What a client sends first: give me an agent connection.
const WANT_AGENT: u8 = b'A';
/// What a client sends first: exit now (the container is being stopped or removed).
const QUIT: u8 = b'Q';

/// This user's id, as the kernel sees this process.
fn my_uid() -> u32 {
    rustix::process::getuid().as_raw()
}

/// The socket of the relay of container `id` for this build of the agent; `Err` says why
/// there is none to have (no agent binary, no private directory).
pub fn socket_path(id: &str) -> Result<PathBuf, String> {
    let binary = pocketdock_host::agent_binary::agent_binary().map_err(str::to_string)?;
    let build = binary
        .sandbox_path
        .rsplit('-')
        .next()
        .unwrap_or("agent")
        .to_string();
    let short: String = id.chars().take(24).collect();
    let dir = pocketdock_host::owner::private_runtime_dir()
        .map_err(|e| format!("no private socket directory: {e}"))?;
    Ok(dir.join(format!("relay-{short}-{build}.sock")))
}

/// Whether a relay of this user answers at `path` (connected and left at once).
fn probe(path: &PathBuf) -> bool {
    UnixStream::connect(path).is_ok_and(|s| {
        rustix::net::sockopt::socket_peercred(&s).is_ok_and(|p| p.uid.as_raw() == my_uid())
    })
}

/// Connect to the relay at `path` and check it runs as this user.
fn connect(path: &PathBuf, first: u8) -> io::Result<UnixStream> {
    let mut stream = UnixStream::connect(path)?;
    let peer = rustix::net::sockopt::socket_peercred(&stream)?;
    if peer.uid.as_raw() != my_uid() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("the relay socket is served by uid {}", peer.uid.as_raw()),
        ));
    }
    stream.write_all(&[first])?;
    Ok(stream)
}

/// Route `container`'s commands through its relay when one is up; otherwise keep them on the
/// engine path and, for a running container, start a relay for the next call. Returns the
/// path taken and why. The handle never starts an agent of its own: it would end with this
/// process, after costing the exec it saves.
pub fn use_relay(engine: &Engine, container: &Container, found: &ContainerInspect) -> CommandPath {
    let _ = container.set_agent_mode(pocketdock_blocking::AgentMode::Off);
    let path = match socket_path(container.id()) {
        Ok(p) => p,
        Err(why) => return CommandPath::engine(format!("no agent relay: {why}")),
    };
    if let Some(reason) = recent_failure(&path) {
        return CommandPath::engine(format!("the agent cannot run in this container: {reason}"));
    }
    let why = match connect(&path, WANT_AGENT) {
        Ok(stream) => {
            let _ = stream.set_write_timeout(Some(Duration::from_secs(30)));
            match container.connect_agent(stream) {
                Ok(status) => {
                    return CommandPath::agent(format!(
                        "through the relay {}: {}",
                        path.display(),
                        status.command_path().reason
                    ))
                }
                Err(e) => format!("the relay did not hand out an agent: {e}"),
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => "no relay for this container yet".into(),
        Err(e) => format!("the relay could not be reached: {e}"),
    };
    if !found.state.running {
        return CommandPath::engine(format!("{why} (the container is not running)"));
    }
    match spawn(engine, container.id()) {
        Ok(()) => CommandPath::engine(format!("{why}; one is starting for the next call")),
        Err(e) => CommandPath::engine(format!("{why}; starting one failed: {e}")),
    }
}

/// What `info` says about the path of the CLI's commands in `container`: the relay's, when it
/// answers, else the engine's.
pub fn describe(container_id: &str) -> CommandPath {
    match socket_path(container_id) {
        Ok(path) if probe(&path) => CommandPath::agent(format!(
            "commands of the CLI go through the agent relay {}",
            path.display()
        )),
        Ok(_) => CommandPath::engine(
            "no agent relay for this container (the next `pocketdock run` starts one)",
        ),
        Err(why) => CommandPath::engine(format!("no agent relay: {why}")),
    }
}

/// How long a relay's failure to start any agent keeps later calls from starting another.
const FAILURE_MEMORY: Duration = Duration::from_secs(600);

/// Where a relay that gave up says why, beside its socket.
pub(crate) fn failure_note(socket: &Path) -> PathBuf {
    socket.with_extension("failed")
}

/// Why the relay of `socket` gave up, if it did within [`FAILURE_MEMORY`].
fn recent_failure(socket: &Path) -> Option<String> {
    let note = failure_note(socket);
    let age = std::fs::metadata(&note)
        .ok()?
        .modified()
        .ok()?
        .elapsed()
        .ok()?;
    if age > FAILURE_MEMORY {
        return None;
    }
    std::fs::read_to_string(note).ok()
}

/// Start the relay of container `id`, detached: it outlives this process.
fn spawn(engine: &Engine, id: &str) -> io::Result<()> {
    let exe = std::env::current_exe()?;
    Command::new(exe)
        .arg(RELAY_COMMAND)
        .arg(engine.socket())
        .arg(id)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(drop)
}

/// Ask the relay of container `id` to exit (before it is stopped, removed or restarted); a
/// container without one is fine.
pub fn stop(id: &str) {
    if let Ok(path) = socket_path(id) {
        if let Ok(mut stream) = connect(&path, QUIT) {
            // Wait for the relay to close: it is gone when the container goes.
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = io::Read::read(&mut stream, &mut [0u8; 1]);
        }
    }
}
