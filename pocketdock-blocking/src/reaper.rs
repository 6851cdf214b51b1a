//! Crash-safe cleanup: the first use of an engine in a process looks for orphans on it in a
//! background thread (at most once a minute across this user's processes), and
//! [`Engine::reap_orphans`] looks now. See [`pocketdock_proto::reap`] for the rules.

use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pocketdock_host::owner::{claim_reap_turn_now, first_use_in_process};
use pocketdock_host::reaper::ReapFlow;
use pocketdock_proto::reap::ReapReport;
use pocketdock_proto::Result;

use crate::engine::Engine;

impl Engine {
    /// Look for orphans on this engine now: remove the ephemeral containers whose owner
    /// process is provably gone or whose time to live passed, and kill the commands gone
    /// owners left running. A live owner's containers and commands are never touched.
    ///
    /// A process that looks this way starts no background look of its own on this engine.
    pub fn reap_orphans(&self) -> Result<ReapReport> {
        first_use_in_process(self.socket());
        self.drive(ReapFlow::new(self.socket()), |()| {})
    }
}

/// On the first use of `engine`'s socket in this process: if this user's processes did not
/// look in the last minute, look for orphans in a background thread (never in the caller's
/// way; a failure is ignored, the next start looks again).
pub(crate) fn start_once(engine: &Engine) {
    if !first_use_in_process(engine.socket()) {
        return;
    }
    let engine = engine.clone();
    let spawned = std::thread::Builder::new()
        .name("pocketdock-reaper".into())
        .spawn(move || {
            if claim_reap_turn_now(engine.socket()) {
                let _ = engine.reap_orphans();
            }
        });
    if let Ok(handle) = spawned {
        background()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(handle);
    }
}

fn background() -> &'static Mutex<Vec<JoinHandle<()>>> {
    static HANDLES: OnceLock<Mutex<Vec<JoinHandle<()>>>> = OnceLock::new();
    HANDLES.get_or_init(Mutex::default)
}

/// Give this process's background looks for orphans up to `max` to finish: a short-lived
/// program (the CLI) calls it before it exits, so that its look is not cut short. Returns
/// whether all finished.
pub fn finish_background_reaps(max: Duration) -> bool {
    // A wait too long for the clock is a wait until they finish.
    let deadline = Instant::now().checked_add(max);
    loop {
        let mut handles = background().lock().unwrap_or_else(PoisonError::into_inner);
        handles.retain(|h| !h.is_finished());
        if handles.is_empty() {
            return true;
        }
        drop(handles);
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
