//! The one thread that reaps every child of the agent: its commands (whose status and usage
//! go to their records) and the orphans reparented to it as a subreaper (just reaped).

use std::sync::Arc;

use crate::agent::{Agent, Ending};
use crate::sys;

/// Start the reaper thread.
pub fn start(agent: &Arc<Agent>) -> std::io::Result<()> {
    let agent = Arc::clone(agent);
    std::thread::Builder::new()
        .name("reaper".to_owned())
        .stack_size(crate::THREAD_STACK)
        .spawn(move || run(&agent))
        .map(drop)
}

fn run(agent: &Agent) {
    loop {
        // Read before waiting: a command started after this count wakes a childless wait.
        let seen = agent.commands.spawns();
        match sys::wait_any_ended() {
            Ok(Some(pid)) => {
                if let Some((id, report)) = agent.commands.reap(pid) {
                    agent.send_exit(id, &report);
                }
            }
            Ok(None) => agent.commands.wait_for_spawn_after(seen),
            Err(e) => {
                agent.stop(Ending::Failed(format!("waiting for children: {e}")));
                return;
            }
        }
    }
}
