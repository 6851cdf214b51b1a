//! The agent's shared state and the actions every thread takes on it: starting a command,
//! reporting one ended, and asking the main thread to shut down.

use std::sync::mpsc::Sender;
use std::sync::Arc;

use pocketdock_proto::agent::{ExitReport, Kind, SpawnRequest};

use crate::commands::{Commands, Spawned};
use crate::output::{HostGone, Output};
use crate::{output_pump, spawn};

/// Why the agent stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The host closed the connection (end of stdin, or stdout refused a write): exit 0.
    HostGone,
    /// The host sent bytes that are not the protocol: the stream cannot be trusted, exit
    /// non-zero so the host sees a broken connection.
    Malformed(String),
    /// The agent itself cannot go on.
    Failed(String),
}

impl From<HostGone> for Ending {
    fn from(_: HostGone) -> Self {
        Self::HostGone
    }
}

/// What every thread of the agent shares.
#[derive(Debug)]
pub struct Agent {
    /// The frames to the host.
    pub output: Output,
    /// The commands not yet reported ended.
    pub commands: Commands,
    stop: Sender<Ending>,
}

impl Agent {
    /// An agent writing to `output`; `stop` reaches the main thread, which shuts down.
    pub fn new(output: Output, stop: Sender<Ending>) -> Self {
        Self {
            output,
            commands: Commands::default(),
            stop,
        }
    }

    /// Ask the main thread to shut down (the first ending it receives wins).
    pub fn stop(&self, ending: Ending) {
        // The main thread holds the receiver until the process exits.
        let _ = self.stop.send(ending);
    }

    /// Start command `id`: `Started` and its output pumps, or `SpawnFailed` with the reason.
    pub fn spawn(self: &Arc<Self>, id: u32, req: &SpawnRequest) -> Result<(), HostGone> {
        let cmd = match spawn::command(req) {
            Ok(cmd) => cmd,
            Err(reason) => return self.output.send(Kind::SpawnFailed, id, reason.as_bytes()),
        };
        match self.commands.spawn(id, cmd, req.stdin, req.window) {
            Spawned::Closing => Ok(()),
            Spawned::Failed(reason) => self.output.send(Kind::SpawnFailed, id, reason.as_bytes()),
            Spawned::Started(running, stdout, stderr) => {
                // Before the pumps start: no output frame of a command precedes its Started.
                self.output
                    .send(Kind::Started, id, &running.pid().to_be_bytes())?;
                output_pump::start(self, &running, Kind::Stdout, stdout);
                output_pump::start(self, &running, Kind::Stderr, stderr);
                Ok(())
            }
        }
    }

    /// Send command `id`'s `Exit` frame (once per command: the shutdown counts them).
    pub fn send_exit(&self, id: u32, report: &ExitReport) {
        let sent = serde_json::to_vec(report)
            .map_err(|e| Ending::Failed(format!("exit report of {id}: {e}")))
            .and_then(|json| Ok(self.output.send(Kind::Exit, id, &json)?));
        self.commands.exit_sent();
        if let Err(ending) = sent {
            self.stop(ending);
        }
    }
}
