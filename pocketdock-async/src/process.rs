//! Detached mode: a command running in the background, read into a ring buffer by the
//! runtime's background reader ([`Runtime::spawn_reader`]: a task on tokio; a thread of its own
//! on smol, which keeps that adapter executor-agnostic).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use pocketdock_proto::detached::{exit_code, Callbacks, DetachedState, KillTarget};
use pocketdock_proto::op::{ExecConfig, ExecEvent, ExecOp};
use pocketdock_proto::ring::BufferSnapshot;
use pocketdock_proto::{Error, ExecResult, Result};

use crate::agent::{when_the_agent_failed, AgentSignal, AgentStream, Piece};
use crate::driver::{Driver, Progress};
use crate::engine::Engine;
use crate::runtime::{timeout_at, Runtime};

type Shared = Arc<Mutex<DetachedState>>;

/// The state of a process whose ring buffer holds `buffer_capacity` bytes.
fn new_shared(buffer_capacity: usize) -> Shared {
    Arc::new(Mutex::new(DetachedState::new(buffer_capacity)))
}

fn lock(shared: &Shared) -> MutexGuard<'_, DetachedState> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How a process's tree is signalled.
#[derive(Debug)]
enum Killer<R: Runtime> {
    /// An engine exec finds it by its nonce.
    Engine(KillTarget),
    /// The agent signals its process group.
    Agent(AgentSignal<R>),
}

/// A detached command. Its output is kept in a ring buffer (1 MiB by default); callbacks
/// registered on the container fire for each chunk and at exit, on the reader. Dropping the
/// handle leaves the command running (and its reader reading); [`kill`](Self::kill)
/// signals its whole process tree.
#[derive(Debug)]
pub struct Process<R: Runtime> {
    id: String,
    engine: Engine<R>,
    killer: Killer<R>,
    started: Instant,
    shared: Shared,
}

impl<R: Runtime> Process<R> {
    pub(crate) async fn start(
        engine: &Engine<R>,
        config: ExecConfig,
        buffer_capacity: usize,
        callbacks: Callbacks,
    ) -> Result<Self> {
        let shared = new_shared(buffer_capacity);
        let target = KillTarget::of(&config);
        let mut driver = Driver::<_, R>::new(ExecOp::new(config), engine.endpoint());
        // Create the exec here (so errors reach the caller), then hand the rest to the reader.
        let id = loop {
            match driver.advance().await {
                Progress::Event(ExecEvent::Created { exec_id }) => break exec_id,
                Progress::Event(ExecEvent::Output { .. }) => {}
                Progress::Done(Err(e)) => return Err(e),
                Progress::Done(Ok(_)) => {
                    return Err(Error::SocketCommunication(
                        "exec ended before it was created".into(),
                    ))
                }
            }
        };
        let reader_shared = Arc::clone(&shared);
        let reader = async move {
            loop {
                match driver.advance().await {
                    Progress::Event(ExecEvent::Output { stream, data }) => {
                        lock(&reader_shared).output(stream, &data);
                        callbacks.output(stream, &data);
                    }
                    Progress::Event(ExecEvent::Created { .. }) => {}
                    Progress::Done(result) => return publish(&reader_shared, &callbacks, result),
                }
            }
        };
        R::spawn_reader("pocketdock-process", reader).map_err(Error::Io)?;
        Ok(Self {
            id,
            engine: engine.clone(),
            killer: Killer::Engine(target),
            started: R::now(),
            shared,
        })
    }

    /// A process whose command was started through the agent in `container`: the reader takes
    /// its pieces into the ring buffer (crediting the agent as it goes).
    pub(crate) fn through_agent(
        engine: &Engine<R>,
        container: &str,
        stream: AgentStream<R>,
        buffer_capacity: usize,
        callbacks: Callbacks,
    ) -> Result<Self> {
        let shared = new_shared(buffer_capacity);
        let signaller = stream.signaller();
        let (reader_engine, reader_shared) = (engine.clone(), Arc::clone(&shared));
        let container = container.to_string();
        let reader = async move {
            let mut stream = stream;
            loop {
                let (next, piece) = stream.next().await;
                stream = next;
                match piece {
                    Piece::Output(chunk) => {
                        lock(&reader_shared).output(chunk.stream, &chunk.data);
                        callbacks.output(chunk.stream, &chunk.data);
                    }
                    Piece::Done(Ok(r)) => return publish(&reader_shared, &callbacks, Ok(r)),
                    Piece::Done(Err(e)) => {
                        let e = when_the_agent_failed(&reader_engine, &container, e).await;
                        return publish(&reader_shared, &callbacks, Err(e));
                    }
                }
            }
        };
        R::spawn_reader("pocketdock-process", reader).map_err(Error::Io)?;
        Ok(Self {
            id: signaller.name(),
            engine: engine.clone(),
            killer: Killer::Agent(signaller),
            started: R::now(),
            shared,
        })
    }

    /// The exec id, or `agent:<n>` for a command started through the in-sandbox agent.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// True until the command has exited and its exit code is known.
    pub fn is_running(&self) -> bool {
        lock(&self.shared).is_running()
    }

    /// Send `signal` (a number such as 15 or 9) to the command and all its descendants inside the
    /// container. Does nothing if it has already exited.
    ///
    /// Through the agent, the signal goes to the command's process group (what the agent
    /// started it in), without an engine exec.
    pub async fn kill(&self, signal: i32) -> Result<()> {
        if !self.is_running() {
            return Ok(());
        }
        match &self.killer {
            Killer::Engine(target) => self.engine.drive(target.kill_op(signal)?, |()| {}).await,
            Killer::Agent(agent) => agent.send(signal).await,
        }
    }

    /// Wait for the command to exit, at most `timeout` (forever when `None`). On timeout the
    /// result has `timed_out = true` and the command keeps running. Output is what the ring buffer
    /// still holds (not what [`read`](Self::read) already took).
    pub async fn wait(&self, timeout: Option<Duration>) -> Result<ExecResult> {
        let finished = std::future::poll_fn(|cx| lock(&self.shared).poll_finished(cx));
        // A timeout too large for the clock is no deadline.
        match timeout.filter(|t| R::now().checked_add(*t).is_some()) {
            Some(t) => {
                if timeout_at::<R, _>(R::now() + t, finished).await.is_none() {
                    return Ok(lock(&self.shared).timed_out(self.started.elapsed()));
                }
            }
            None => finished.await,
        }
        lock(&self.shared)
            .outcome()
            .unwrap_or_else(|| Err(Error::SocketCommunication("process not finished".into())))
    }

    /// Take and clear what the buffer holds.
    pub fn read(&self) -> BufferSnapshot {
        lock(&self.shared).read()
    }

    /// Look at what the buffer holds without clearing it.
    pub fn peek(&self) -> BufferSnapshot {
        lock(&self.shared).peek()
    }

    /// Bytes currently buffered (stdout and stderr).
    pub fn buffer_size(&self) -> usize {
        lock(&self.shared).buffer_size()
    }

    /// True once the buffer had to drop old output (sticky).
    pub fn buffer_overflow(&self) -> bool {
        lock(&self.shared).buffer_overflow()
    }
}

/// The command ended with `result`: run the exit callbacks, then publish it, so that `wait`
/// returns only once they ran.
fn publish(shared: &Shared, callbacks: &Callbacks, result: Result<ExecResult>) {
    callbacks.exit(exit_code(&result));
    lock(shared).finish(result);
}
