//! Path stats through the agent: an upload asks the agent's `lstat` of its target (a frame out
//! and one back) instead of the engine's path stat (a `HEAD` of the archive endpoint, a few
//! milliseconds on Podman), and the engine's when the agent cannot say.

use std::time::Duration;

use pocketdock_proto::agent::{StatId, StatReply};
use pocketdock_proto::api::archive::PathStat;
use pocketdock_proto::Result;

use super::AgentConn;
use crate::container::Container;
use crate::runtime::Runtime;

/// How long an upload waits for the agent's answer before it asks the engine.
const STAT_TIMEOUT: Duration = Duration::from_secs(5);

/// Forgets a stat whose wait ended or was dropped, so that its late answer is not kept.
struct Forget<'a, R: Runtime> {
    conn: &'a AgentConn<R>,
    id: StatId,
}

impl<R: Runtime> Drop for Forget<'_, R> {
    fn drop(&mut self) {
        self.conn.shared.update(|st| st.client.forget_stat(self.id));
    }
}

impl<R: Runtime> AgentConn<R> {
    /// The agent's `lstat` of `path`, waited for at most `timeout`.
    async fn stat(&self, path: &str, timeout: Duration) -> Result<StatReply> {
        let id = self.shared.update(|st| st.client.stat(path))?;
        let _forget = Forget { conn: self, id };
        self.flush().await;
        self.wait_until(
            R::now().checked_add(timeout),
            || format!("the agent did not answer a stat within {timeout:?}"),
            |client| client.stat_answered(id),
        )
        .await?;
        Ok(self
            .shared
            .update(|st| st.client.take_stat(id))
            .unwrap_or_default())
    }
}

impl<R: Runtime> Container<R> {
    /// Whether an upload may ask the agent what is at its paths: the agent is up.
    pub(crate) fn stats_through_agent(&self) -> bool {
        self.agent.conn().is_some()
    }

    /// What the agent says is at `path`, as the engine's path stat would say it; `None` when
    /// it cannot say (not up, no answer in time, a stat it may not make as its user), and the
    /// engine is asked.
    pub(crate) async fn agent_stat(&self, path: &str) -> Option<Result<PathStat>> {
        let conn = self.agent.conn()?;
        conn.stat(path, STAT_TIMEOUT).await.ok()?.path_stat(path)
    }
}
