//! Detached mode: a command running in the background, read by a thread into a ring buffer.

use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pocketdock_proto::detached::{exit_code, Callbacks, DetachedState, KillTarget};
use pocketdock_proto::op::{ExecConfig, ExecEvent};
use pocketdock_proto::ring::BufferSnapshot;
use pocketdock_proto::{Error, ExecResult, Result};

use crate::agent::{when_the_agent_failed, AgentSignal, AgentStream, Piece};
use crate::engine::Engine;

/// How a process's tree is signalled.
#[derive(Debug)]
enum Killer {
    /// An engine exec finds it by its nonce.
    Engine(KillTarget),
    /// The agent signals its process group.
    Agent(AgentSignal),
}

#[derive(Debug)]
struct Shared {
    state: Mutex<DetachedState>,
    done: Condvar,
}

impl Shared {
    /// The state of a process whose ring buffer holds `buffer_capacity` bytes.
    fn new(buffer_capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(DetachedState::new(buffer_capacity)),
            done: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, DetachedState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A detached command. Its output is kept in a ring buffer (1 MiB by default); callbacks
/// registered on the container fire for each chunk and at exit. Dropping the handle leaves the
/// command running; [`kill`](Self::kill) signals its whole process tree.
#[derive(Debug)]
pub struct Process {
    id: String,
    engine: Engine,
    killer: Killer,
    started: Instant,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Process {
    pub(crate) fn start(
        engine: &Engine,
        config: ExecConfig,
        buffer_capacity: usize,
        callbacks: Callbacks,
    ) -> Result<Self> {
        let shared = Shared::new(buffer_capacity);
        let (tx, rx) = mpsc::channel::<Result<String>>();
        let target = KillTarget::of(&config);
        let thread_engine = engine.clone();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("pocketdock-process".into())
            .spawn(move || {
                let mut tx = Some(tx);
                let result = thread_engine.exec(config, |ev| match ev {
                    ExecEvent::Created { exec_id } => {
                        if let Some(tx) = tx.take() {
                            let _ = tx.send(Ok(exec_id));
                        }
                    }
                    ExecEvent::Output { stream, data } => {
                        thread_shared.lock().output(stream, &data);
                        callbacks.output(stream, &data);
                    }
                });
                match (tx.take(), result) {
                    (Some(tx), Err(e)) => {
                        let _ = tx.send(Err(e));
                    }
                    (_, result) => publish(&thread_shared, &callbacks, result),
                }
            })
            .map_err(Error::Io)?;
        let id = rx
            .recv()
            .map_err(|_| Error::SocketCommunication("process thread ended early".into()))??;
        Ok(Self {
            id,
            engine: engine.clone(),
            killer: Killer::Engine(target),
            started: Instant::now(),
            shared,
            thread: Some(thread),
        })
    }

    /// A process whose command was started through the agent in `container`: a thread takes
    /// its pieces into the ring buffer (crediting the agent as it goes).
    pub(crate) fn through_agent(
        engine: &Engine,
        container: &str,
        mut stream: AgentStream,
        buffer_capacity: usize,
        callbacks: Callbacks,
    ) -> Result<Self> {
        let shared = Shared::new(buffer_capacity);
        let signaller = stream.signaller();
        let (thread_engine, thread_shared) = (engine.clone(), Arc::clone(&shared));
        let container = container.to_string();
        let thread = std::thread::Builder::new()
            .name("pocketdock-process".into())
            .spawn(move || loop {
                match stream.next() {
                    Piece::Output(chunk) => {
                        thread_shared.lock().output(chunk.stream, &chunk.data);
                        callbacks.output(chunk.stream, &chunk.data);
                    }
                    Piece::Done(result) => {
                        let result = result
                            .map_err(|e| when_the_agent_failed(&thread_engine, &container, e));
                        publish(&thread_shared, &callbacks, result);
                        return;
                    }
                }
            })
            .map_err(Error::Io)?;
        Ok(Self {
            id: signaller.name(),
            engine: engine.clone(),
            killer: Killer::Agent(signaller),
            started: Instant::now(),
            shared,
            thread: Some(thread),
        })
    }

    /// The exec id, or `agent:<n>` for a command started through the in-sandbox agent.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// True until the command has exited and its exit code is known.
    pub fn is_running(&self) -> bool {
        self.shared.lock().is_running()
    }

    /// Send `signal` (a number such as 15 or 9) to the command and all its descendants inside the
    /// container. Does nothing if it has already exited.
    ///
    /// Through the agent, the signal goes to the command's process group (what the agent
    /// started it in), without an engine exec.
    pub fn kill(&self, signal: i32) -> Result<()> {
        if !self.is_running() {
            return Ok(());
        }
        match &self.killer {
            Killer::Engine(target) => self.engine.drive(target.kill_op(signal)?, |()| {}),
            Killer::Agent(agent) => agent.send(signal),
        }
    }

    /// Wait for the command to exit, at most `timeout` (forever when `None`). On timeout the
    /// result has `timed_out = true` and the command keeps running. Output is what the ring buffer
    /// still holds (not what [`read`](Self::read) already took).
    pub fn wait(&self, timeout: Option<Duration>) -> Result<ExecResult> {
        // A timeout too large for the clock is no deadline.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut state = self.shared.lock();
        loop {
            if let Some(outcome) = state.outcome() {
                return outcome;
            }
            let wait_for = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(state.timed_out(self.started.elapsed()));
                    }
                    left
                }
                None => Duration::from_secs(3600),
            };
            state = self
                .shared
                .done
                .wait_timeout(state, wait_for)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Take and clear what the buffer holds.
    pub fn read(&self) -> BufferSnapshot {
        self.shared.lock().read()
    }

    /// Look at what the buffer holds without clearing it.
    pub fn peek(&self) -> BufferSnapshot {
        self.shared.lock().peek()
    }

    /// Bytes currently buffered (stdout and stderr).
    pub fn buffer_size(&self) -> usize {
        self.shared.lock().buffer_size()
    }

    /// True once the buffer had to drop old output (sticky).
    pub fn buffer_overflow(&self) -> bool {
        self.shared.lock().buffer_overflow()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // The reader thread finishes on its own when the command exits; never block here.
        drop(self.thread.take());
    }
}

/// The command ended with `result`: run the exit callbacks, then publish it, so that `wait`
/// returns only once they ran.
fn publish(shared: &Shared, callbacks: &Callbacks, result: Result<ExecResult>) {
    callbacks.exit(exit_code(&result));
    shared.lock().finish(result);
    shared.done.notify_all();
}
