//! A session's shell through the agent: a streamed command whose stdin stays open, written in
//! stdin frames; the calls that interrupt its commands go through the same agent.

use std::io;
use std::sync::Arc;

use pocketdock_proto::op::ExecConfig;
use pocketdock_proto::{ExecResult, Result};

use super::{AgentConn, AgentStream};
use crate::container::Container;

/// `SIGKILL`, for a shell whose interrupt found nothing to kill.
const SIGKILL: u32 = 9;

/// The writing side of a shell started through the agent: its stdin, its pid, its kill, and
/// the agent it runs under (for the calls that interrupt its commands).
#[derive(Debug, Clone)]
pub(crate) struct ShellInput {
    conn: Arc<AgentConn>,
    id: pocketdock_proto::agent::CommandId,
}

impl Container {
    /// Start a session's shell (`config`: [`SessionOptions::shell_config`]) through the agent
    /// when it is up and can run it; `None` means the engine path. Its output comes from the
    /// stream; what it reads is written through the input.
    ///
    /// [`SessionOptions::shell_config`]: pocketdock_proto::session::SessionOptions::shell_config
    pub(crate) fn shell_through_agent(
        &self,
        config: &ExecConfig,
    ) -> Option<Result<(AgentStream, ShellInput)>> {
        let stream = self.stream_through_agent(config)?;
        Some(stream.map(|stream| {
            let input = ShellInput {
                conn: Arc::clone(&stream.conn),
                id: stream.id,
            };
            (stream, input)
        }))
    }
}

impl ShellInput {
    /// The shell's name where an engine shell shows its exec id (`agent:<id>`).
    pub(crate) fn name(&self) -> String {
        self.id.to_string()
    }

    /// The shell's pid in the sandbox, once the agent reported it.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.conn.shared.lock().pid(self.id)
    }

    /// Write `bytes` to the shell's stdin. A shell or agent that is gone is a broken pipe, as
    /// on the engine path.
    pub(crate) fn write_all(&self, bytes: &[u8]) -> io::Result<()> {
        self.conn
            .shared
            .lock()
            .write_stdin(self.id, bytes)
            .map_err(|e| io::Error::new(io::ErrorKind::BrokenPipe, e.to_string()))?;
        self.conn.flush();
        match self.conn.shared.lock().ended() {
            Some(why) => Err(io::Error::new(io::ErrorKind::BrokenPipe, why.to_string())),
            None => Ok(()),
        }
    }

    /// Run `config` (a call that interrupts a command or ends the shell) through the agent
    /// when it can run it; `None` means the engine path.
    pub(crate) fn run(&self, config: &ExecConfig) -> Option<Result<ExecResult>> {
        let can = self.conn.shared.lock().can_run(config);
        can.then(|| self.conn.run(config))
    }

    /// Kill the shell's process group; its end is reported as any command's.
    pub(crate) fn kill(&self) {
        self.conn.shared.lock().signal(self.id, SIGKILL);
        self.conn.flush();
    }

    /// The session is closed: kill the shell's process group and forget it, which ends the
    /// reader's stream at once.
    pub(crate) fn end(&self) {
        self.conn.shared.lock().cancel(self.id);
        self.conn.shared.changed.notify_all();
        self.conn.flush();
    }
}
