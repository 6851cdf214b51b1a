//! Where a session's shell runs and how it is reached: an engine exec's hijacked connection,
//! or a command of the in-sandbox agent.

use std::net::Shutdown;
use std::os::unix::net::UnixStream as StdUnixStream;

use pocketdock_proto::op::{ExecConfig, ExecOp};
use pocketdock_proto::session::SessionCall;
use pocketdock_proto::Result;

use crate::agent::ShellInput;
use crate::engine::Engine;
use crate::runtime::Runtime;

/// The shell's stdin and what ends it.
pub(super) enum ShellLink<R: Runtime> {
    /// An attached engine exec: its connection carries stdin; shutting it down ends the shell.
    Engine {
        /// The runtime's writer on the connection.
        writer: R::TtyWriter,
        /// The connection, to shut it down.
        conn: StdUnixStream,
    },
    /// A command of the agent: stdin frames; cancelling it kills its process group.
    Agent(ShellInput<R>),
}

impl<R: Runtime> ShellLink<R> {
    /// Write `bytes` to the shell's stdin (one task at a time: the session's writer turn).
    pub(super) async fn write_all(&self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Self::Engine { writer, .. } => R::write_shared(writer, bytes).await,
            Self::Agent(input) => input.write_all(bytes).await,
        }
    }

    /// The agent the shell runs under, for calls that outlive the session's borrow.
    pub(super) fn agent(&self) -> Option<ShellInput<R>> {
        match self {
            Self::Engine { .. } => None,
            Self::Agent(input) => Some(input.clone()),
        }
    }

    /// The session is closed: end the link (the shell with it) and wake its reader.
    pub(super) fn shut(&self) {
        match self {
            Self::Engine { conn, .. } => {
                let _ = conn.shutdown(Shutdown::Both);
            }
            Self::Agent(input) => input.end(),
        }
    }
}

/// Run `config`, the exec of `call`: through `agent` when the shell runs under it and it can
/// run it, else as an engine exec. A shell under the agent that `call` is to end is killed
/// through the agent too, in case the call could not find it.
pub(super) async fn run_call<R: Runtime>(
    engine: &Engine<R>,
    agent: Option<&ShellInput<R>>,
    call: &SessionCall,
    config: ExecConfig,
) -> Result<()> {
    let Some(input) = agent else {
        return engine.drive(ExecOp::new(config), |_| {}).await.map(|_| ());
    };
    let outcome = match input.run(&config).await {
        Some(r) => r.map(|_| ()),
        None => engine.drive(ExecOp::new(config), |_| {}).await.map(|_| ()),
    };
    if *call == SessionCall::EndShell {
        input.kill().await;
    }
    outcome
}
