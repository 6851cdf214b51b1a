//! Commands through the in-sandbox agent: one engine exec, started once per container handle
//! (on its own in the background after the first command, by default), then each command is
//! a frame out and a few back on its open connection.
//!
//! The protocol and every rule of a command (deadline, cap, result) are
//! [`pocketdock_proto::agent::AgentClient`]'s. This file holds that machine behind a lock, has a
//! reader thread feed it the exec's output and wake the callers waiting on it, and writes what
//! it hands out, in order, on the exec's stdin.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::ops::ControlFlow;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use pocketdock_host::agent_binary::{
    agent_binary, check_arch, known_engine_arch, remember_engine_arch, AgentBinary,
};
use pocketdock_host::random::random_u64;
use pocketdock_host::tree::{feed_put, unix_now, PushFeed};
use pocketdock_proto::agent::{
    agent_exec, AgentClient, AgentMode, AgentPoll, AgentStatus, AgentStreamPoll, CommandId,
    CommandPath, TURNED_OFF,
};
use pocketdock_proto::demux::StreamKind;
use pocketdock_proto::files::{PutOp, TransferOptions};
use pocketdock_proto::op::{ContainerCheckOp, ExecConfig};
use pocketdock_proto::session::attach::{AttachConfig, AttachEvent, AttachOp};
use pocketdock_proto::{Error, ExecResult, Result, StreamChunk};

use crate::container::Container;
use crate::driver::{Driver, Progress};
use crate::engine::{nonce, Engine};
use crate::session::attach;

mod shell;
mod stat;
pub(crate) use shell::ShellInput;

/// How long a started agent has to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// The agent of one container handle: the caller's mode and where the agent stands, shared
/// with a start running in the background.
#[derive(Debug, Default, Clone)]
pub(crate) struct AgentSlot(Arc<SlotShared>);

#[derive(Debug, Default)]
struct SlotShared {
    state: Mutex<SlotState>,
    /// Wakes a `start_agent` waiting for a background start to finish.
    changed: Condvar,
}

#[derive(Debug, Default)]
struct SlotState {
    mode: AgentMode,
    slot: Slot,
    /// Bumped when the sandbox is recreated: a start begun before it is not kept.
    generation: u64,
}

#[derive(Debug, Default)]
enum Slot {
    #[default]
    Off,
    Starting,
    Up(Arc<AgentConn>),
    Unavailable(String),
}

impl AgentSlot {
    fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.0.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The open connection, while the agent is up.
    fn conn(&self) -> Option<Arc<AgentConn>> {
        match &self.lock().slot {
            Slot::Up(conn) if conn.is_up() => Some(Arc::clone(conn)),
            _ => None,
        }
    }

    fn status(&self) -> AgentStatus {
        let st = self.lock();
        match &st.slot {
            Slot::Off if st.mode == AgentMode::Off => AgentStatus::Unavailable(TURNED_OFF.into()),
            Slot::Off => AgentStatus::Off,
            Slot::Starting => AgentStatus::Starting,
            Slot::Up(conn) => conn.status(),
            Slot::Unavailable(why) => AgentStatus::Unavailable(why.clone()),
        }
    }

    /// The sandbox was recreated or restarted: its agent is gone, and a start under way is for
    /// the old one.
    pub(crate) fn reset(&self) {
        let mut st = self.lock();
        st.generation += 1;
        st.slot = Slot::Off;
        self.0.changed.notify_all();
    }

    /// Keep what the start of `generation` gave, unless the sandbox was recreated since.
    fn finish(&self, generation: u64, outcome: Result<AgentConn>) -> Result<AgentStatus> {
        let mut st = self.lock();
        let kept = st.generation == generation;
        let status = match outcome {
            Ok(conn) => {
                let status = conn.status();
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
        };
        self.0.changed.notify_all();
        status
    }
}

/// The machine and the condition variable that wakes its waiting callers at each change.
#[derive(Debug)]
struct Shared {
    client: Mutex<AgentClient>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, AgentClient> {
        self.client.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One open agent connection.
#[derive(Debug)]
struct AgentConn {
    shared: Arc<Shared>,
    /// The exec's stdin; taken before the machine's lock whenever both are held, so frames go
    /// out in the order the machine handed them out.
    writer: Mutex<UnixStream>,
}

impl AgentConn {
    /// Start the agent at `path` in `container` and wait for its hello.
    fn start(engine: &Engine, container: &str, path: &str) -> Result<Self> {
        let (driver, _exec_id, conn) = attach(
            engine,
            AttachConfig::new(container, agent_exec(path), nonce()),
        )?;
        let shared = Arc::new(Shared {
            client: Mutex::new(AgentClient::new()),
            changed: Condvar::new(),
        });
        let reader = Arc::clone(&shared);
        thread::Builder::new()
            .name("pd-agent-reader".into())
            .spawn(move || read(driver, &reader))
            .map_err(Error::Io)?;
        Self::greeted(shared, conn.try_clone().map_err(Error::Io)?)
    }

    /// An agent reached through `stream`, which carries its frames both ways (a relay's
    /// socket); wait for its hello. The connection may have served other clients before, so
    /// this one's command ids start at a random place.
    fn over(stream: UnixStream) -> Result<Self> {
        let first = u32::try_from(random_u64() >> 33).unwrap_or(1).max(1);
        let shared = Arc::new(Shared {
            client: Mutex::new(AgentClient::with_first_id(first)),
            changed: Condvar::new(),
        });
        let reader = Arc::clone(&shared);
        let input = stream.try_clone().map_err(Error::Io)?;
        thread::Builder::new()
            .name("pd-agent-reader".into())
            .spawn(move || read_stream(input, &reader))
            .map_err(Error::Io)?;
        Self::greeted(shared, stream)
    }

    /// The connection writing to `writer`, once the agent said hello.
    fn greeted(shared: Arc<Shared>, writer: UnixStream) -> Result<Self> {
        let this = Self {
            shared,
            writer: Mutex::new(writer),
        };
        this.wait_until(
            Some(Instant::now() + HELLO_TIMEOUT),
            || "the agent did not say hello in time".into(),
            |client| client.hello().is_some(),
        )?;
        Ok(this)
    }

    /// Wait until `ready` says so; the connection's end is an error with its reason, and so is
    /// `give_up` passing first (`late` says what was late).
    /// Wait until `ready`, the connection's end, or `give_up` (`None`: a timeout too large for
    /// the clock, no deadline).
    fn wait_until(
        &self,
        give_up: Option<Instant>,
        late: impl FnOnce() -> String,
        ready: impl Fn(&AgentClient) -> bool,
    ) -> Result<()> {
        let mut client = self.shared.lock();
        loop {
            if ready(&client) {
                return Ok(());
            }
            if let Some(why) = client.ended() {
                return Err(Error::Agent(why.to_string()));
            }
            client = match give_up {
                None => self
                    .shared
                    .changed
                    .wait(client)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(give_up) => {
                    let now = Instant::now();
                    if now >= give_up {
                        return Err(Error::Agent(late()));
                    }
                    self.shared
                        .changed
                        .wait_timeout(client, give_up - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
    }

    fn is_up(&self) -> bool {
        self.shared.lock().ended().is_none()
    }

    fn status(&self) -> AgentStatus {
        self.shared.lock().status()
    }

    /// Ping the agent and wait at most `timeout` for its answer.
    fn ping(&self, timeout: Duration) -> Result<()> {
        let before = {
            let mut client = self.shared.lock();
            client.ping();
            client.pongs()
        };
        self.flush();
        self.wait_until(
            Instant::now().checked_add(timeout),
            || format!("the agent did not answer a ping within {timeout:?}"),
            |client| client.pongs() > before,
        )
    }

    /// Write what the machine handed out, in order. A failed write ends the connection.
    fn flush(&self) {
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(bytes) = self.shared.lock().take_write() else {
            return;
        };
        if let Err(e) = writer.write_all(&bytes) {
            self.shared
                .lock()
                .handle_end(&format!("writing to the agent failed: {e}"));
            self.shared.changed.notify_all();
        }
    }

    /// Run one command to completion.
    fn run(&self, config: &ExecConfig) -> Result<ExecResult> {
        let id = self.shared.lock().spawn(Instant::now(), config)?;
        self.flush();
        self.step(|client, now| match client.poll_command(id, now) {
            AgentPoll::Done(r) => ControlFlow::Break(r),
            AgentPoll::Pending { deadline } => ControlFlow::Continue(deadline),
        })
    }

    /// Start a command whose output is handed out as it comes ([`ExecConfig::emit`]).
    fn stream(self: &Arc<Self>, config: &ExecConfig) -> Result<AgentStream> {
        let id = self.shared.lock().spawn(Instant::now(), config)?;
        self.flush();
        Ok(AgentStream {
            conn: Arc::clone(self),
            id,
            done: false,
        })
    }

    /// Poll the machine with `poll` until it gives an answer (`Break`) rather than a deadline
    /// to wait for (`Continue`); writes what it hands out and waits for the reader's news in
    /// between.
    fn step<T>(
        &self,
        mut poll: impl FnMut(&mut AgentClient, Instant) -> ControlFlow<T, Option<Instant>>,
    ) -> T {
        loop {
            let mut client = self.shared.lock();
            let polled = poll(&mut client, Instant::now());
            if client.wants_write() {
                drop(client);
                self.flush();
                match polled {
                    ControlFlow::Break(answer) => return answer,
                    ControlFlow::Continue(_) => continue,
                }
            }
            let deadline = match polled {
                ControlFlow::Break(answer) => return answer,
                ControlFlow::Continue(deadline) => deadline,
            };
            let _woken = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    self.shared
                        .changed
                        .wait_timeout(client, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => self
                    .shared
                    .changed
                    .wait(client)
                    .unwrap_or_else(PoisonError::into_inner),
            };
        }
    }
}

/// A command streamed through the agent: its pieces of output as the caller takes them (each
/// taken piece credits the agent), then its result. Dropping it before the end kills the
/// command's process group.
#[derive(Debug)]
pub(crate) struct AgentStream {
    conn: Arc<AgentConn>,
    id: CommandId,
    done: bool,
}

/// What an [`AgentStream`] has next.
pub(crate) enum Piece {
    /// A piece of output.
    Output(StreamChunk),
    /// The command's result, once every piece was handed out.
    Done(Result<ExecResult>),
}

impl AgentStream {
    /// The next piece of output, or the result once every piece was handed out (after which
    /// this is not called again).
    pub(crate) fn next(&mut self) -> Piece {
        let id = self.id;
        let next = self
            .conn
            .step(|client, now| match client.poll_stream(id, now) {
                AgentStreamPoll::Pending { deadline } => ControlFlow::Continue(deadline),
                AgentStreamPoll::Output { stream, data } => {
                    ControlFlow::Break(Piece::Output(StreamChunk { stream, data }))
                }
                AgentStreamPoll::Done(r) => ControlFlow::Break(Piece::Done(r)),
            });
        self.done = matches!(next, Piece::Done(_));
        next
    }
}

impl AgentStream {
    /// What sends signals to this command, for a handle that outlives the reading of it.
    pub(crate) fn signaller(&self) -> AgentSignal {
        AgentSignal {
            conn: Arc::clone(&self.conn),
            id: self.id,
        }
    }
}

/// Sends signals to one command through the agent.
#[derive(Debug)]
pub(crate) struct AgentSignal {
    conn: Arc<AgentConn>,
    id: CommandId,
}

impl AgentSignal {
    /// The command's name where an exec id would be (`agent:<id>`).
    pub(crate) fn name(&self) -> String {
        self.id.to_string()
    }

    /// Send `signal` to the command's process group (nothing once it ended).
    pub(crate) fn send(&self, signal: i32) -> Result<()> {
        // The engine path's check, so that both refuse the same numbers.
        pocketdock_proto::op::signal_name(&signal.to_string())?;
        let signal = u32::try_from(signal)
            .map_err(|_| Error::invalid("signal", format!("{signal} is not a signal")))?;
        self.conn.shared.lock().signal(self.id, signal);
        self.conn.flush();
        match self.conn.shared.lock().ended() {
            Some(why) => Err(Error::Agent(why.to_string())),
            None => Ok(()),
        }
    }
}

impl Drop for AgentStream {
    fn drop(&mut self) {
        if !self.done {
            self.conn.shared.lock().cancel(self.id);
            self.conn.flush();
        }
    }
}

impl Drop for AgentConn {
    /// Closing the connection is the agent's signal to kill every command it started and exit.
    fn drop(&mut self) {
        let writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = writer.shutdown(Shutdown::Both);
    }
}

/// The reader thread: feed the machine everything the agent's exec prints, then its end.
fn read(mut driver: Driver<AttachOp>, shared: &Shared) {
    let why = loop {
        match driver.advance() {
            Progress::Event(AttachEvent::Output { stream, data }) => {
                if shared.lock().handle_output(Instant::now(), stream, data) {
                    shared.changed.notify_all();
                }
            }
            Progress::Event(AttachEvent::Attached { .. }) => {}
            Progress::Done(Ok(())) => break "the agent's exec ended".to_string(),
            Progress::Done(Err(e)) => break format!("the agent's connection failed: {e}"),
        }
    };
    shared.lock().handle_end(&why);
    shared.changed.notify_all();
}

/// Start the agent of sandbox `id`: check it can run here, then start it; copy it in first
/// when this build is not in the sandbox yet.
fn open(engine: &Engine, id: &str) -> Result<AgentConn> {
    let binary: &AgentBinary = agent_binary().map_err(|why| Error::Agent(why.to_string()))?;
    check_arch(&engine_arch(engine)?).map_err(Error::Agent)?;
    if let Ok(conn) = AgentConn::start(engine, id, &binary.sandbox_path) {
        return Ok(conn);
    }
    copy_in(engine, id, binary)
        .map_err(|e| Error::Agent(format!("copying the agent into the sandbox failed: {e}")))?;
    AgentConn::start(engine, id, &binary.sandbox_path)
        .map_err(|e| Error::Agent(format!("the agent did not start: {e}")))
}

/// The engine's architecture: asked once per engine address and process.
fn engine_arch(engine: &Engine) -> Result<String> {
    let address = engine.endpoint().address();
    if let Some(arch) = known_engine_arch(address) {
        return Ok(arch);
    }
    let version = engine
        .version()
        .map_err(|e| Error::Agent(format!("the engine's version could not be read: {e}")))?;
    remember_engine_arch(address, &version.arch);
    Ok(version.arch)
}

/// Upload the agent binary to its path in sandbox `id`.
pub(crate) fn copy_in(engine: &Engine, id: &str, binary: &AgentBinary) -> Result<()> {
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
    engine.drive_fed(op, |e, op| {
        feed_put(Some(&mut feed), e, op, &opts, &owner);
    })
}

/// The reader of an agent reached through a plain stream: everything is its frames.
fn read_stream(mut stream: UnixStream, shared: &Shared) {
    let mut buf = vec![0u8; 64 * 1024];
    let why = loop {
        match stream.read(&mut buf) {
            Ok(0) => break "the agent's relay closed the connection".to_string(),
            Ok(n) => {
                let data = Bytes::copy_from_slice(&buf[..n]);
                if shared
                    .lock()
                    .handle_output(Instant::now(), StreamKind::Stdout, data)
                {
                    shared.changed.notify_all();
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break format!("reading from the agent's relay failed: {e}"),
        }
    };
    shared.lock().handle_end(&why);
    shared.changed.notify_all();
}

impl Container {
    /// Use the agent reached through `stream` for this handle's commands: a socket that
    /// carries agent frames both ways (the CLI's per-container relay, whose agent outlives
    /// each CLI call), beginning with the agent's hello. Commands then go through it as
    /// through an agent this handle started.
    pub fn connect_agent(&self, stream: UnixStream) -> Result<AgentStatus> {
        let conn = AgentConn::over(stream)?;
        let status = conn.status();
        let mut st = self.agent.lock();
        st.slot = Slot::Up(Arc::new(conn));
        Ok(status)
    }
}

impl Container {
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
    pub fn start_agent(&self) -> Result<AgentStatus> {
        let generation = {
            let mut st = self.settled_agent();
            if let Slot::Up(conn) = &st.slot {
                if conn.is_up() {
                    return Ok(conn.status());
                }
            }
            st.slot = Slot::Starting;
            st.generation
        };
        self.agent.finish(generation, open(&self.engine, &self.id))
    }

    /// Wait until no agent start is under way on this handle; at once when none is.
    pub(crate) fn agent_settled(&self) {
        drop(self.settled_agent());
    }

    /// The agent slot, locked once no start is under way on it.
    fn settled_agent(&self) -> MutexGuard<'_, SlotState> {
        let mut st = self.agent.lock();
        while matches!(st.slot, Slot::Starting) {
            st = self
                .agent
                .0
                .changed
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
        st
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
        self.agent.lock().mode
    }

    /// Change this handle's agent mode. [`AgentMode::Off`] keeps later commands on the engine
    /// path and stops an agent already up (its commands in flight fail);
    /// [`AgentMode::On`] starts it now, as [`start_agent`](Self::start_agent).
    pub fn set_agent_mode(&self, mode: AgentMode) -> Result<()> {
        {
            let mut st = self.agent.lock();
            st.mode = mode;
            if mode == AgentMode::Off && !matches!(st.slot, Slot::Starting) {
                st.slot = Slot::Off;
            }
        }
        if mode == AgentMode::On {
            self.start_agent()?;
        }
        Ok(())
    }

    /// Apply a new sandbox's agent mode: [`AgentMode::On`] starts the agent before the create
    /// returns.
    pub(crate) fn with_agent_mode(self, mode: AgentMode) -> Result<Self> {
        self.set_agent_mode(mode)?;
        Ok(self)
    }

    /// Check that this handle's agent is alive: it must answer a ping within `timeout`. An
    /// error says why not (not started, its connection ended, no answer in time); commands
    /// then take the engine path, or (for a dead connection) fail as the agent path does.
    /// A warm pool checks each sandbox this way before handing it out.
    pub fn agent_ping(&self, timeout: Duration) -> Result<()> {
        match self.agent.conn() {
            Some(conn) => conn.ping(timeout),
            None => Err(Error::Agent(match self.agent_status() {
                AgentStatus::Unavailable(why) => why,
                _ => "the agent is not started on this handle".into(),
            })),
        }
    }

    /// Run `config` through the agent when it is up and can run it; `None` means the engine
    /// path.
    pub(crate) fn run_through_agent(&self, config: &ExecConfig) -> Option<Result<ExecResult>> {
        let conn = self.agent.conn()?;
        let can = conn.shared.lock().can_run(config);
        can.then(|| conn.run(config).map_err(|e| self.when_the_agent_failed(e)))
    }

    /// Stream `config` through the agent when it is up and can run it; `None` means the
    /// engine path.
    pub(crate) fn stream_through_agent(&self, config: &ExecConfig) -> Option<Result<AgentStream>> {
        let conn = self.agent.conn()?;
        let can = conn.shared.lock().can_run(config);
        can.then(|| {
            conn.stream(config)
                .map_err(|e| when_the_agent_failed(&self.engine, &self.id, e))
        })
    }

    fn when_the_agent_failed(&self, e: Error) -> Error {
        when_the_agent_failed(&self.engine, &self.id, e)
    }

    /// A command just finished on the engine path (the sandbox runs): in [`AgentMode::Auto`],
    /// start the agent in the background if nothing has tried yet, so that later commands go
    /// through it. After the command, not before, so that the start never delays it.
    pub(crate) fn agent_after_engine_command(&self) {
        let generation = {
            let mut st = self.agent.lock();
            if st.mode != AgentMode::Auto || !matches!(st.slot, Slot::Off) {
                return;
            }
            st.slot = Slot::Starting;
            st.generation
        };
        let (slot, engine, id) = (self.agent.clone(), self.engine.clone(), self.id.clone());
        let started = thread::Builder::new()
            .name("pd-agent-start".into())
            .spawn(move || {
                let _ = slot.finish(generation, open(&engine, &id));
            });
        if let Err(e) = started {
            let _ = self.agent.finish(
                generation,
                Err(Error::Agent(format!("no thread to start it: {e}"))),
            );
        }
    }
}

/// A command through the agent in `container` failed with `e`: when the agent's exec ended
/// because the container was killed or removed, say that, as the engine path does
/// ([`ContainerCheckOp`]); otherwise `e` stands.
pub(crate) fn when_the_agent_failed(engine: &Engine, container: &str, e: Error) -> Error {
    if !matches!(e, Error::Agent(_)) {
        return e;
    }
    match engine.drive(ContainerCheckOp::new(container), |()| {}) {
        Ok(()) => e,
        Err(found) => found,
    }
}
