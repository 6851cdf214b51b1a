//! Where a session's shell runs and how it is reached: an engine exec's hijacked connection,
//! or a command of the in-sandbox agent.

use std::io::Write;
use std::net::Shutdown;
use std::os::unix::net::UnixStream;

use pocketdock_proto::op::{ExecConfig, ExecOp};
use pocketdock_proto::session::SessionCall;
use pocketdock_proto::Result;

use crate::agent::ShellInput;
use crate::engine::Engine;

/// The shell's stdin and what ends it.
#[derive(Debug)]
pub(super) enum ShellLink {
    /// An attached engine exec: its connection carries stdin; shutting it down ends the shell.
    Engine(UnixStream),
    /// A command of the agent: stdin frames; cancelling it kills its process group.
    Agent(ShellInput),
}

impl ShellLink {
    /// A second handle on the same link.
    pub(super) fn try_clone(&self) -> std::io::Result<Self> {
        Ok(match self {
            Self::Engine(conn) => Self::Engine(conn.try_clone()?),
            Self::Agent(input) => Self::Agent(input.clone()),
        })
    }

    /// Write `bytes` to the shell's stdin.
    pub(super) fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Self::Engine(conn) => conn.write_all(bytes),
            Self::Agent(input) => input.write_all(bytes),
        }
    }

    /// Run `config`, the exec of `call`: through the agent when the shell runs under it and
    /// the agent can run it, else as an engine exec. A shell under the agent that `call` is to
    /// end is killed through the agent too, in case the call could not find it.
    pub(super) fn run_call(
        &self,
        engine: &Engine,
        call: &SessionCall,
        config: ExecConfig,
    ) -> Result<()> {
        let Self::Agent(input) = self else {
            return engine.drive(ExecOp::new(config), |_| {}).map(|_| ());
        };
        let outcome = match input.run(&config) {
            Some(r) => r.map(|_| ()),
            None => engine.drive(ExecOp::new(config), |_| {}).map(|_| ()),
        };
        if *call == SessionCall::EndShell {
            input.kill();
        }
        outcome
    }

    /// The session is closed: end the link (the shell with it) and wake its reader.
    pub(super) fn shut(&self) {
        match self {
            Self::Engine(conn) => {
                let _ = conn.shutdown(Shutdown::Both);
            }
            Self::Agent(input) => input.end(),
        }
    }
}
