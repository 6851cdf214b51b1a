//! Path stats through the agent: an upload asks the agent's `lstat` of its target (a frame out
//! and one back) instead of the engine's path stat (a `HEAD` of the archive endpoint, a few
//! milliseconds on Podman), and the engine's when the agent cannot say.

use std::time::{Duration, Instant};

use pocketdock_proto::agent::StatReply;
use pocketdock_proto::api::archive::PathStat;
use pocketdock_proto::Result;

use super::AgentConn;
use crate::container::Container;

/// How long an upload waits for the agent's answer before it asks the engine.
const STAT_TIMEOUT: Duration = Duration::from_secs(5);

impl AgentConn {
    /// The agent's `lstat` of `path`, waited for at most `timeout`.
    fn stat(&self, path: &str, timeout: Duration) -> Result<StatReply> {
        let id = self.shared.lock().stat(path)?;
        self.flush();
        let waited = self.wait_until(
            Instant::now().checked_add(timeout),
            || format!("the agent did not answer a stat within {timeout:?}"),
            |client| client.stat_answered(id),
        );
        let mut client = self.shared.lock();
        let reply = client.take_stat(id);
        client.forget_stat(id);
        waited.map(|()| reply.unwrap_or_default())
    }
}

impl Container {
    /// Whether an upload may ask the agent what is at its paths: the agent is up.
    pub(crate) fn stats_through_agent(&self) -> bool {
        self.agent.conn().is_some()
    }

    /// What the agent says is at `path`, as the engine's path stat would say it; `None` when
    /// it cannot say (not up, no answer in time, a stat it may not make as its user), and the
    /// engine is asked.
    pub(crate) fn agent_stat(&self, path: &str) -> Option<Result<PathStat>> {
        let conn = self.agent.conn()?;
        conn.stat(path, STAT_TIMEOUT).ok()?.path_stat(path)
    }
}
