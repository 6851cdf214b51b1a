//! Crash-safe cleanup: the first use of an engine in a process looks for orphans on it in a
//! background task (at most once a minute across this user's processes), and
//! [`Engine::reap_orphans`] looks now. See [`pocketdock_proto::reap`] for the rules.

use pocketdock_host::owner::{claim_reap_turn_now, first_use_in_process};
use pocketdock_host::reaper::ReapFlow;
use pocketdock_proto::reap::ReapReport;
use pocketdock_proto::Result;

use crate::engine::Engine;
use crate::runtime::Runtime;

impl<R: Runtime> Engine<R> {
    /// Look for orphans on this engine now: remove the ephemeral containers whose owner
    /// process is provably gone or whose time to live passed, and kill the commands gone
    /// owners left running. A live owner's containers and commands are never touched.
    ///
    /// A process that looks this way starts no background look of its own on this engine.
    pub async fn reap_orphans(&self) -> Result<ReapReport> {
        first_use_in_process(self.socket());
        self.drive(ReapFlow::new(self.socket()), |()| {}).await
    }
}

/// On the first use of `engine`'s socket in this process: if this user's processes did not
/// look in the last minute, look for orphans in a background task (never in the caller's
/// way; a failure is ignored, the next start looks again).
pub(crate) fn start_once<R: Runtime>(engine: &Engine<R>) {
    if !first_use_in_process(engine.socket()) {
        return;
    }
    let engine = engine.clone();
    R::spawn_cleanup(async move {
        if claim_reap_turn_now(engine.socket()) {
            let _ = engine.reap_orphans().await;
        }
    });
}
