//! Detached mode: a command running in the background, read by a thread into a ring buffer.

use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pocketdock_proto::detached::{exit_code, Callbacks, DetachedState, KillTarget};
use pocketdock_proto::op::{ExecConfig, ExecEvent};
use pocketdock_proto::ring::BufferSnapshot;
use pocketdock_proto::{Error, ExecResult, Result};

use crate::engine::Engine;

#[derive(Debug)]
struct Shared {
    state: Mutex<DetachedState>,
    done: Condvar,
}

impl Shared {
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
    target: KillTarget,
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
        let shared = Arc::new(Shared {
            state: Mutex::new(DetachedState::new(buffer_capacity)),
            done: Condvar::new(),
        });
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
                    (_, result) => {
                        // The exit callbacks run before the result is published, so `wait`
                        // returns only once they ran.
                        callbacks.exit(exit_code(&result));
                        thread_shared.lock().finish(result);
                        thread_shared.done.notify_all();
                    }
                }
            })
            .map_err(Error::Io)?;
        let id = rx
            .recv()
            .map_err(|_| Error::SocketCommunication("process thread ended early".into()))??;
        Ok(Self {
            id,
            engine: engine.clone(),
            target,
            started: Instant::now(),
            shared,
            thread: Some(thread),
        })
    }

    /// The exec id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// True until the command has exited and its exit code is known.
    pub fn is_running(&self) -> bool {
        self.shared.lock().is_running()
    }

    /// Send `signal` (a number such as 15 or 9) to the command and all its descendants inside the
    /// container. Does nothing if it has already exited.
    pub fn kill(&self, signal: i32) -> Result<()> {
        if !self.is_running() {
            return Ok(());
        }
        self.engine.drive(self.target.kill_op(signal)?, |()| {})
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
