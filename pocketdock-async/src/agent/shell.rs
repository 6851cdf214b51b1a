//! A session's shell through the agent: a streamed command whose stdin stays open, written in
//! stdin frames; the calls that interrupt its commands go through the same agent.

use std::io;
use std::sync::Arc;

use pocketdock_proto::agent::CommandId;
use pocketdock_proto::op::ExecConfig;
use pocketdock_proto::{ExecResult, Result};

use super::{AgentConn, AgentStream};
use crate::container::Container;
use crate::runtime::Runtime;

/// `SIGKILL`, for a shell whose interrupt found nothing to kill.
const SIGKILL: u32 = 9;

/// The writing side of a shell started through the agent: its stdin, its pid, its kill, and
/// the agent it runs under (for the calls that interrupt its commands).
pub(crate) struct ShellInput<R: Runtime> {
    conn: Arc<AgentConn<R>>,
    id: CommandId,
}

impl<R: Runtime> Clone for ShellInput<R> {
    fn clone(&self) -> Self {
        Self {
            conn: Arc::clone(&self.conn),
            id: self.id,
        }
    }
}

impl<R: Runtime> Container<R> {
    /// Start a session's shell (`config`: [`SessionOptions::shell_config`]) through the agent
    /// when it is up and can run it; `None` means the engine path. Its output comes from the
    /// stream; what it reads is written through the input.
    ///
    /// [`SessionOptions::shell_config`]: pocketdock_proto::session::SessionOptions::shell_config
    pub(crate) fn shell_through_agent(
        &self,
        config: &ExecConfig,
    ) -> Option<Result<(AgentStream<R>, ShellInput<R>)>> {
        let stream = self.stream_through_agent(config)?;
        Some(stream.map(|stream| {
            let input = ShellInput {
                conn: Arc::clone(&stream.cancel.conn),
                id: stream.cancel.id,
            };
            (stream, input)
        }))
    }
}

impl<R: Runtime> ShellInput<R> {
    /// The shell's name where an engine shell shows its exec id (`agent:<id>`).
    pub(crate) fn name(&self) -> String {
        self.id.to_string()
    }

    /// The shell's pid in the sandbox, once the agent reported it.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.conn.shared.lock().client.pid(self.id)
    }

    /// Write `bytes` to the shell's stdin. A shell or agent that is gone is a broken pipe, as
    /// on the engine path.
    pub(crate) async fn write_all(&self, bytes: &[u8]) -> io::Result<()> {
        let broken = |why: String| io::Error::new(io::ErrorKind::BrokenPipe, why);
        self.conn
            .shared
            .update(|st| st.client.write_stdin(self.id, bytes))
            .map_err(|e| broken(e.to_string()))?;
        self.conn.flush().await;
        let ended = self.conn.shared.lock().client.ended().map(str::to_string);
        ended.map_or(Ok(()), |why| Err(broken(why)))
    }

    /// Run `config` (a call that interrupts a command or ends the shell) through the agent
    /// when it can run it; `None` means the engine path.
    pub(crate) async fn run(&self, config: &ExecConfig) -> Option<Result<ExecResult>> {
        if !self.conn.shared.lock().client.can_run(config) {
            return None;
        }
        Some(self.conn.run(config).await)
    }

    /// Kill the shell's process group; its end is reported as any command's.
    pub(crate) async fn kill(&self) {
        self.conn
            .shared
            .update(|st| st.client.signal(self.id, SIGKILL));
        self.conn.flush().await;
    }

    /// The session is closed: kill the shell's process group and forget it, which ends the
    /// reader's stream at once (the kill goes out in the background: a `Drop` cannot await).
    pub(crate) fn end(&self) {
        self.conn.shared.update(|st| st.client.cancel(self.id));
        let conn = Arc::clone(&self.conn);
        R::spawn_cleanup(async move { conn.flush().await });
    }
}
