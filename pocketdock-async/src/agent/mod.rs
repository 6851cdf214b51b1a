//! Commands through the in-sandbox agent: one engine exec, started once per container handle
//! (on its own in the background after the first command, by default), then each command is
//! a frame out and a few back on its open connection.
//!
//! The protocol and every rule of a command (deadline, cap, result) are
//! [`pocketdock_proto::agent::AgentClient`]'s. This file holds that machine behind a lock with
//! the wakers of the tasks waiting on it, has the runtime's background reader feed it the
//! exec's output, and writes what it hands out, in order, on the exec's stdin (one writer at a
//! time). A dropped `run` future kills its command's process group.

use std::net::Shutdown;
use std::ops::ControlFlow;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use pocketdock_host::agent_binary::{
    agent_binary, check_arch, known_engine_arch, remember_engine_arch, AgentBinary,
};
use pocketdock_host::tree::{feed_put, unix_now, PushFeed};
use pocketdock_proto::agent::{
    agent_exec, AgentClient, AgentMode, AgentPoll, AgentStatus, AgentStreamPoll, CommandId,
    CommandPath, TURNED_OFF,
};
use pocketdock_proto::files::{PutOp, TransferOptions};
use pocketdock_proto::op::{ContainerCheckOp, ExecConfig};
use pocketdock_proto::session::attach::{AttachConfig, AttachEvent, AttachOp};
use pocketdock_proto::{Error, ExecResult, Result, StreamChunk};

use crate::container::Container;
use crate::driver::{Driver, Progress};
use crate::engine::{nonce, Engine};
use crate::runtime::Runtime;
use crate::session::attach;
use crate::transport::comm;
use crate::watch::Watch;

mod shell;
mod stat;
pub(crate) use shell::ShellInput;

/// How long a started agent has to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// The agent of one container handle: the caller's mode and where the agent stands, shared
/// with a start running in the background (and watched by a `start_agent` waiting for it).
pub(crate) struct AgentSlot<R: Runtime>(Arc<Watch<SlotState<R>, R>>);

impl<R: Runtime> Default for AgentSlot<R> {
    fn default() -> Self {
        Self(Arc::new(Watch::new(SlotState {
            mode: AgentMode::default(),
            slot: Slot::Off,
            generation: 0,
        })))
    }
}

impl<R: Runtime> Clone for AgentSlot<R> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<R: Runtime> std::fmt::Debug for AgentSlot<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AgentSlot").field(&self.status()).finish()
    }
}

struct SlotState<R: Runtime> {
    mode: AgentMode,
    slot: Slot<R>,
    /// Bumped when the sandbox is recreated: a start begun before it is not kept.
    generation: u64,
}

enum Slot<R: Runtime> {
    Off,
    Starting,
    Up(Arc<AgentConn<R>>),
    Unavailable(String),
}

impl<R: Runtime> AgentSlot<R> {
    /// The open connection, while the agent is up.
    fn conn(&self) -> Option<Arc<AgentConn<R>>> {
        match &self.0.lock().slot {
            Slot::Up(conn) if conn.shared.lock().client.ended().is_none() => Some(Arc::clone(conn)),
            _ => None,
        }
    }

    fn status(&self) -> AgentStatus {
        let st = self.0.lock();
        match &st.slot {
            Slot::Off if st.mode == AgentMode::Off => AgentStatus::Unavailable(TURNED_OFF.into()),
            Slot::Off => AgentStatus::Off,
            Slot::Starting => AgentStatus::Starting,
            Slot::Up(conn) => conn.shared.lock().client.status(),
            Slot::Unavailable(why) => AgentStatus::Unavailable(why.clone()),
        }
    }

    /// The sandbox was recreated or restarted: its agent is gone, and a start under way is for
    /// the old one.
    pub(crate) fn reset(&self) {
        self.0.update(|st| {
            st.generation += 1;
            st.slot = Slot::Off;
        });
    }

    /// Keep what the start of `generation` gave, unless the sandbox was recreated since.
    fn finish(&self, generation: u64, outcome: Result<AgentConn<R>>) -> Result<AgentStatus> {
        self.0.update(|st| {
            let kept = st.generation == generation;
            match outcome {
                Ok(conn) => {
                    let status = conn.shared.lock().client.status();
                    if kept {
                        st.slot = Slot::Up(Arc::new(conn));
                    }
                    Ok(status)
                }
                Err(e) => {
                    if kept {
                        st.slot = Slot::Unavailable(e.to_string());
                    }
                    Err(e)
                }
            }
        })
    }
}

/// The machine and whether a task is writing to the agent's stdin (writes are not atomic),
/// watched by the tasks waiting on them.
struct Guarded {
    client: AgentClient,
    writing: bool,
}

type Shared<R> = Watch<Guarded, R>;

/// One open agent connection.
struct AgentConn<R: Runtime> {
    shared: Arc<Shared<R>>,
    writer: R::TtyWriter,
    conn: StdUnixStream,
}

impl<R: Runtime> AgentConn<R> {
    /// Start the agent at `path` in `container` and wait for its hello.
    async fn start(engine: &Engine<R>, container: &str, path: &str) -> Result<Self> {
        let (driver, _exec_id, conn) = attach(
            engine,
            AttachConfig::new(container, agent_exec(path), nonce()),
        )
        .await?;
        let writer = R::writer(conn.try_clone().map_err(Error::Io)?).map_err(comm)?;
        let shared = Arc::new(Shared::new(Guarded {
            client: AgentClient::new(),
            writing: false,
        }));
        R::spawn_reader("pocketdock-agent", read(driver, Arc::clone(&shared)))
            .map_err(Error::Io)?;
        let this = Self {
            shared,
            writer,
            conn,
        };
        this.wait_until(
            Some(R::now() + HELLO_TIMEOUT),
            || "the agent did not say hello in time".into(),
            |client| client.hello().is_some(),
        )
        .await?;
        Ok(this)
    }

    /// Wait until `ready`, the connection's end (an error with its reason), or `give_up`
    /// (`None`: no deadline; passing it is an error saying what was `late`).
    async fn wait_until(
        &self,
        give_up: Option<Instant>,
        late: impl FnOnce() -> String,
        ready: impl Fn(&AgentClient) -> bool,
    ) -> Result<()> {
        let answer = self
            .shared
            .wait_for(give_up, |st| {
                if ready(&st.client) {
                    Some(Ok(()))
                } else {
                    st.client
                        .ended()
                        .map(|why| Err(Error::Agent(why.to_string())))
                }
            })
            .await;
        answer.unwrap_or_else(|| Err(Error::Agent(late())))
    }

    /// Write what the machine handed out, in order, one writer at a time. A failed write ends
    /// the connection.
    async fn flush(&self) {
        let turn = self
            .shared
            .wait_for(None, |st| {
                if st.writing {
                    None
                } else {
                    st.writing = true;
                    Some(st.client.take_write())
                }
            })
            .await;
        let outcome = match turn.flatten() {
            Some(bytes) => R::write_shared(&self.writer, &bytes).await,
            None => Ok(()),
        };
        self.shared.update(|st| {
            st.writing = false;
            if let Err(e) = outcome {
                st.client
                    .handle_end(&format!("writing to the agent failed: {e}"));
            }
        });
    }

    /// Ping the agent and wait at most `timeout` for its answer.
    async fn ping(&self, timeout: Duration) -> Result<()> {
        let before = self.shared.update(|st| {
            st.client.ping();
            st.client.pongs()
        });
        self.flush().await;
        self.wait_until(
            R::now().checked_add(timeout),
            || format!("the agent did not answer a ping within {timeout:?}"),
            |client| client.pongs() > before,
        )
        .await
    }

    /// Run one command to completion; dropping the future kills it.
    async fn run(self: &Arc<Self>, config: &ExecConfig) -> Result<ExecResult> {
        let id = self.shared.update(|st| st.client.spawn(R::now(), config))?;
        let mut guard = Cancel {
            conn: Arc::clone(self),
            id,
            armed: true,
        };
        let result = self
            .step(|client, now| match client.poll_command(id, now) {
                AgentPoll::Done(r) => ControlFlow::Break(r),
                AgentPoll::Pending { deadline } => ControlFlow::Continue(deadline),
            })
            .await;
        guard.armed = false;
        result
    }

    /// Start a command whose output is handed out as it comes ([`ExecConfig::emit`]); its
    /// spawn frame goes out with the stream's first poll.
    fn stream(self: &Arc<Self>, config: &ExecConfig) -> Result<AgentStream<R>> {
        let id = self.shared.update(|st| st.client.spawn(R::now(), config))?;
        Ok(AgentStream {
            cancel: Cancel {
                conn: Arc::clone(self),
                id,
                armed: true,
            },
        })
    }

    /// Poll the machine with `poll` until it gives an answer (`Break`) rather than a deadline
    /// to wait for (`Continue`); writes what it hands out and waits for the reader's news in
    /// between.
    async fn step<T>(
        &self,
        mut poll: impl FnMut(&mut AgentClient, Instant) -> ControlFlow<T, Option<Instant>>,
    ) -> T {
        loop {
            let (polled, wants_write, seen) = {
                let mut st = self.shared.lock();
                let polled = poll(&mut st.client, R::now());
                (polled, st.client.wants_write(), st.changes())
            };
            if wants_write {
                self.flush().await;
            }
            let deadline = match polled {
                ControlFlow::Break(answer) => return answer,
                ControlFlow::Continue(_) if wants_write => continue,
                ControlFlow::Continue(deadline) => deadline,
            };
            // Wait for any change (more output, the end) or the deadline.
            let _ = self
                .shared
                .wait_for(deadline, |st| (st.changes() != seen).then_some(()))
                .await;
        }
    }
}

/// What an [`AgentStream`] has next.
pub(crate) enum Piece {
    /// A piece of output.
    Output(StreamChunk),
    /// The command's result, once every piece was handed out.
    Done(Result<ExecResult>),
}

/// Sends signals to one command through the agent.
pub(crate) struct AgentSignal<R: Runtime> {
    conn: Arc<AgentConn<R>>,
    id: CommandId,
}

impl<R: Runtime> std::fmt::Debug for AgentSignal<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentSignal")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl<R: Runtime> AgentSignal<R> {
    /// The command's name where an exec id would be (`agent:<id>`).
    pub(crate) fn name(&self) -> String {
        self.id.to_string()
    }

    /// Send `signal` to the command's process group (nothing once it ended).
    pub(crate) async fn send(&self, signal: i32) -> Result<()> {
        // The engine path's check, so that both refuse the same numbers.
        pocketdock_proto::op::signal_name(&signal.to_string())?;
        let signal = u32::try_from(signal)
            .map_err(|_| Error::invalid("signal", format!("{signal} is not a signal")))?;
        self.conn
            .shared
            .update(|st| st.client.signal(self.id, signal));
        self.conn.flush().await;
        match self.conn.shared.lock().client.ended() {
            Some(why) => Err(Error::Agent(why.to_string())),
            None => Ok(()),
        }
    }
}

/// A command streamed through the agent: its pieces of output as the caller takes them (each
/// taken piece credits the agent), then its result. Dropping it before the end kills the
/// command's process group (in the background).
pub(crate) struct AgentStream<R: Runtime> {
    cancel: Cancel<R>,
}

impl<R: Runtime> AgentStream<R> {
    /// What sends signals to this command, for a handle that outlives the reading of it.
    pub(crate) fn signaller(&self) -> AgentSignal<R> {
        AgentSignal {
            conn: Arc::clone(&self.cancel.conn),
            id: self.cancel.id,
        }
    }

    /// The next piece of output, or the result once every piece was handed out (after which
    /// the stream is not asked again). Owned in and out, so that a stream can keep the future.
    pub(crate) async fn next(mut self) -> (Self, Piece) {
        let (conn, id) = (Arc::clone(&self.cancel.conn), self.cancel.id);
        let piece = conn
            .step(|client, now| match client.poll_stream(id, now) {
                AgentStreamPoll::Pending { deadline } => ControlFlow::Continue(deadline),
                AgentStreamPoll::Output { stream, data } => {
                    ControlFlow::Break(Piece::Output(StreamChunk { stream, data }))
                }
                AgentStreamPoll::Done(r) => ControlFlow::Break(Piece::Done(r)),
            })
            .await;
        if matches!(piece, Piece::Done(_)) {
            self.cancel.armed = false;
        }
        (self, piece)
    }
}

impl<R: Runtime> Drop for AgentConn<R> {
    /// Closing the connection is the agent's signal to kill every command it started and exit.
    fn drop(&mut self) {
        let _ = self.conn.shutdown(Shutdown::Both);
    }
}

/// Kills a command whose `run` future was dropped (in the background: a `Drop` cannot await).
struct Cancel<R: Runtime> {
    conn: Arc<AgentConn<R>>,
    id: CommandId,
    armed: bool,
}

impl<R: Runtime> Drop for Cancel<R> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        self.conn.shared.update(|st| st.client.cancel(self.id));
        let conn = Arc::clone(&self.conn);
        R::spawn_cleanup(async move { conn.flush().await });
    }
}

/// The reader: feed the machine everything the agent's exec prints, then its end.
async fn read<R: Runtime>(mut driver: Driver<AttachOp, R>, shared: Arc<Shared<R>>) {
    let why = loop {
        match driver.advance().await {
            Progress::Event(AttachEvent::Output { stream, data }) => {
                let mut st = shared.lock();
                if st.client.handle_output(R::now(), stream, data) {
                    st.notify();
                }
            }
            Progress::Event(AttachEvent::Attached { .. }) => {}
            Progress::Done(Ok(())) => break "the agent's exec ended".to_string(),
            Progress::Done(Err(e)) => break format!("the agent's connection failed: {e}"),
        }
    };
    shared.update(|st| st.client.handle_end(&why));
}

/// Start the agent of sandbox `id`: check it can run here, then start it; copy it in first
/// when this build is not in the sandbox yet.
async fn open<R: Runtime>(engine: &Engine<R>, id: &str) -> Result<AgentConn<R>> {
    let binary: &AgentBinary = agent_binary().map_err(|why| Error::Agent(why.to_string()))?;
    check_arch(&engine_arch(engine).await?).map_err(Error::Agent)?;
    if let Ok(conn) = AgentConn::start(engine, id, &binary.sandbox_path).await {
        return Ok(conn);
    }
    copy_in(engine, id, binary)
        .await
        .map_err(|e| Error::Agent(format!("copying the agent into the sandbox failed: {e}")))?;
    AgentConn::start(engine, id, &binary.sandbox_path)
        .await
        .map_err(|e| Error::Agent(format!("the agent did not start: {e}")))
}

/// The engine's architecture: asked once per engine address and process.
async fn engine_arch<R: Runtime>(engine: &Engine<R>) -> Result<String> {
    let address = engine.endpoint().address();
    if let Some(arch) = known_engine_arch(address) {
        return Ok(arch);
    }
    let version = engine
        .version()
        .await
        .map_err(|e| Error::Agent(format!("the engine's version could not be read: {e}")))?;
    remember_engine_arch(address, &version.arch);
    Ok(version.arch)
}

/// Upload the agent binary to its path in sandbox `id`.
async fn copy_in<R: Runtime>(engine: &Engine<R>, id: &str, binary: &AgentBinary) -> Result<()> {
    let opts = TransferOptions::default();
    let mut feed = PushFeed::open(&binary.host_path)?;
    let op = PutOp::push(
        id,
        &binary.sandbox_path,
        feed.kind(),
        &opts,
        unix_now(),
        &nonce(),
    )?;
    let owner = OnceLock::new();
    engine
        .drive_fed(op, |e, op| {
            feed_put(Some(&mut feed), e, op, &opts, &owner);
        })
        .await
}

impl<R: Runtime> Container<R> {
    /// Start the in-sandbox agent for this handle now, whatever its [`AgentMode`]: afterwards
    /// `run`, `run_with`, `exec`, `stream` and `detach` go through it (a command in about a
    /// millisecond instead of an engine exec's tens), with the same results, deadlines and
    /// caps, plus [`usage`](ExecResult::usage) figures. With the default mode this happens on
    /// its own in the background after the first command; this waits for a start under way.
    ///
    /// The agent binary comes from this host (see
    /// [`agent_binary`](pocketdock_host::agent_binary)); it is copied into the sandbox once per
    /// build. When it cannot run here (none on this host, an engine of another architecture,
    /// a sandbox where it cannot be copied or executed), the error says why,
    /// [`agent_status`](Self::agent_status) keeps the reason, and commands keep to the engine
    /// path.
    pub async fn start_agent(&self) -> Result<AgentStatus> {
        let turn = self
            .agent
            .0
            .wait_for(None, |st| match &st.slot {
                Slot::Starting => None,
                Slot::Up(conn) if conn.shared.lock().client.ended().is_none() => {
                    Some(Err(conn.shared.lock().client.status()))
                }
                _ => {
                    st.slot = Slot::Starting;
                    Some(Ok(st.generation))
                }
            })
            .await;
        match turn {
            Some(Ok(generation)) => {
                let outcome = open(&self.engine, &self.id).await;
                self.agent.finish(generation, outcome)
            }
            Some(Err(up)) => Ok(up),
            None => Err(Error::Agent("the agent's start was not waited for".into())),
        }
    }

    /// Wait until no agent start is under way on this handle; at once when none is.
    pub(crate) async fn agent_settled(&self) {
        let _ = self
            .agent
            .0
            .wait_for(None, |st| {
                (!matches!(st.slot, Slot::Starting)).then_some(())
            })
            .await;
    }

    /// Whether this handle's commands go through the agent, and if not, why.
    pub fn agent_status(&self) -> AgentStatus {
        self.agent.status()
    }

    /// Which path this handle's commands take and why, as [`info`](Self::info) reports it.
    pub fn command_path(&self) -> CommandPath {
        self.agent.status().command_path()
    }

    /// This handle's agent mode: [`AgentMode::Auto`] unless its spec or
    /// [`set_agent_mode`](Self::set_agent_mode) said otherwise.
    pub fn agent_mode(&self) -> AgentMode {
        self.agent.0.lock().mode
    }

    /// Change this handle's agent mode. [`AgentMode::Off`] keeps later commands on the engine
    /// path and stops an agent already up (its commands in flight fail);
    /// [`AgentMode::On`] starts it now, as [`start_agent`](Self::start_agent).
    pub async fn set_agent_mode(&self, mode: AgentMode) -> Result<()> {
        self.agent.0.update(|st| {
            st.mode = mode;
            if mode == AgentMode::Off && !matches!(st.slot, Slot::Starting) {
                st.slot = Slot::Off;
            }
        });
        if mode == AgentMode::On {
            self.start_agent().await?;
        }
        Ok(())
    }

    /// Apply a new sandbox's agent mode: [`AgentMode::On`] starts the agent before the create
    /// returns.
    pub(crate) async fn with_agent_mode(self, mode: AgentMode) -> Result<Self> {
        self.set_agent_mode(mode).await?;
        Ok(self)
    }

    /// Check that this handle's agent is alive: it must answer a ping within `timeout`. An
    /// error says why not (not started, its connection ended, no answer in time); commands
    /// then take the engine path, or (for a dead connection) fail as the agent path does.
    /// A warm pool checks each sandbox this way before handing it out.
    pub async fn agent_ping(&self, timeout: Duration) -> Result<()> {
        match self.agent.conn() {
            Some(conn) => conn.ping(timeout).await,
            None => Err(Error::Agent(match self.agent_status() {
                AgentStatus::Unavailable(why) => why,
                _ => "the agent is not started on this handle".into(),
            })),
        }
    }

    /// Run `config` through the agent when it is up and can run it; `None` means the engine
    /// path.
    pub(crate) async fn run_through_agent(
        &self,
        config: &ExecConfig,
    ) -> Option<Result<ExecResult>> {
        let conn = self.agent.conn()?;
        if !conn.shared.lock().client.can_run(config) {
            return None;
        }
        Some(match conn.run(config).await {
            Err(e) => Err(when_the_agent_failed(&self.engine, &self.id, e).await),
            ok => ok,
        })
    }

    /// Stream `config` through the agent when it is up and can run it; `None` means the
    /// engine path.
    pub(crate) fn stream_through_agent(
        &self,
        config: &ExecConfig,
    ) -> Option<Result<AgentStream<R>>> {
        let conn = self.agent.conn()?;
        if !conn.shared.lock().client.can_run(config) {
            return None;
        }
        Some(conn.stream(config))
    }

    /// A command just finished on the engine path (the sandbox runs): in [`AgentMode::Auto`],
    /// start the agent in the background if nothing has tried yet, so that later commands go
    /// through it. After the command, not before, so that the start never delays it.
    pub(crate) fn agent_after_engine_command(&self) {
        let generation = {
            let mut st = self.agent.0.lock();
            if st.mode != AgentMode::Auto || !matches!(st.slot, Slot::Off) {
                return;
            }
            st.slot = Slot::Starting;
            st.generation
        };
        let (slot, engine, id) = (self.agent.clone(), self.engine.clone(), self.id.clone());
        let started = R::spawn_reader("pocketdock-agent-start", async move {
            let outcome = open(&engine, &id).await;
            let _ = slot.finish(generation, outcome);
        });
        if let Err(e) = started {
            let _ = self.agent.finish(
                generation,
                Err(Error::Agent(format!("no task to start it: {e}"))),
            );
        }
    }
}

/// A command through the agent in `container` failed with `e`: when the agent's exec ended
/// because the container was killed or removed, say that, as the engine path does
/// ([`ContainerCheckOp`]); otherwise `e` stands.
pub(crate) async fn when_the_agent_failed<R: Runtime>(
    engine: &Engine<R>,
    container: &str,
    e: Error,
) -> Error {
    if !matches!(e, Error::Agent(_)) {
        return e;
    }
    match engine
        .drive(ContainerCheckOp::new(container), |()| {})
        .await
    {
        Ok(()) => e,
        Err(found) => found,
    }
}
