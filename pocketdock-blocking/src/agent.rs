//! Commands through the in-sandbox agent: one engine exec, started once per container handle,
//! then each command is a frame out and a few back on its open connection.
//!
//! The protocol and every rule of a command (deadline, cap, result) are
//! [`pocketdock_proto::agent::AgentClient`]'s. This file holds that machine behind a lock, has a
//! reader thread feed it the exec's output and wake the callers waiting on it, and writes what
//! it hands out, in order, on the exec's stdin.

use std::io::Write;
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use pocketdock_host::agent_binary::{agent_binary, AgentBinary};
use pocketdock_proto::agent::{agent_exec, AgentClient, AgentPoll, AgentStatus};
use pocketdock_proto::files::TransferOptions;
use pocketdock_proto::op::ExecConfig;
use pocketdock_proto::session::attach::{AttachConfig, AttachEvent, AttachOp};
use pocketdock_proto::{Error, ExecResult, Result};

use crate::container::Container;
use crate::driver::{Driver, Progress};
use crate::engine::{nonce, Engine};
use crate::session::attach;

/// How long a started agent has to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// The agent of one container handle, if started.
#[derive(Debug, Default)]
pub(crate) struct AgentSlot(Mutex<Slot>);

#[derive(Debug, Default)]
enum Slot {
    #[default]
    Off,
    Up(Arc<AgentConn>),
    Unavailable(String),
}

impl AgentSlot {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The open connection, while the agent is up.
    fn conn(&self) -> Option<Arc<AgentConn>> {
        match &*self.lock() {
            Slot::Up(conn) if conn.is_up() => Some(Arc::clone(conn)),
            _ => None,
        }
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
            .name("pocketdock-agent".into())
            .spawn(move || read(driver, &reader))
            .map_err(Error::Io)?;
        let writer = conn.try_clone().map_err(Error::Io)?;
        let this = Self {
            shared,
            writer: Mutex::new(writer),
        };
        this.wait_until(
            Instant::now() + HELLO_TIMEOUT,
            || "the agent did not say hello in time".into(),
            |client| client.hello().is_some(),
        )?;
        Ok(this)
    }

    /// Wait until `ready` says so; the connection's end is an error with its reason, and so is
    /// `give_up` passing first (`late` says what was late).
    fn wait_until(
        &self,
        give_up: Instant,
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
            let now = Instant::now();
            if now >= give_up {
                return Err(Error::Agent(late()));
            }
            client = self
                .shared
                .changed
                .wait_timeout(client, give_up - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
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
            Instant::now() + timeout,
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
        loop {
            let mut client = self.shared.lock();
            let deadline = match client.poll_command(id, Instant::now()) {
                AgentPoll::Done(r) => return r,
                AgentPoll::Pending { deadline } => deadline,
            };
            if client.wants_write() {
                drop(client);
                self.flush();
                continue;
            }
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

impl Container {
    /// Start the in-sandbox agent for this handle: afterwards `run`, `run_with` and `exec` go
    /// through it (a command in about a millisecond instead of an engine exec's tens), with
    /// the same results, deadlines and caps, plus [`usage`](ExecResult::usage) figures.
    ///
    /// The agent binary comes from this host (see
    /// [`agent_binary`](pocketdock_host::agent_binary)); it is copied into the sandbox once per
    /// build. When it cannot run here (none on this host, a read-only sandbox, an image of
    /// another architecture), the error says why, [`agent_status`](Self::agent_status) keeps
    /// the reason, and commands keep to the engine path.
    pub fn start_agent(&self) -> Result<AgentStatus> {
        let mut slot = self.agent.lock();
        if let Slot::Up(conn) = &*slot {
            if conn.is_up() {
                return Ok(conn.status());
            }
        }
        match self.open_agent() {
            Ok(conn) => {
                let status = conn.status();
                *slot = Slot::Up(Arc::new(conn));
                Ok(status)
            }
            Err(e) => {
                *slot = Slot::Unavailable(e.to_string());
                Err(e)
            }
        }
    }

    /// Whether this handle's commands go through the agent, and if not, why.
    pub fn agent_status(&self) -> AgentStatus {
        match &*self.agent.lock() {
            Slot::Off => AgentStatus::Off,
            Slot::Up(conn) => conn.status(),
            Slot::Unavailable(why) => AgentStatus::Unavailable(why.clone()),
        }
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

    /// Start the agent; copy it in first when this build is not in the sandbox yet.
    fn open_agent(&self) -> Result<AgentConn> {
        let binary: &AgentBinary = agent_binary().map_err(|why| Error::Agent(why.to_string()))?;
        if let Ok(conn) = AgentConn::start(&self.engine, &self.id, &binary.sandbox_path) {
            return Ok(conn);
        }
        self.push_with(
            &binary.host_path,
            &binary.sandbox_path,
            &TransferOptions::default(),
        )
        .map_err(|e| Error::Agent(format!("copying the agent into the sandbox failed: {e}")))?;
        AgentConn::start(&self.engine, &self.id, &binary.sandbox_path)
    }

    /// Run `config` through the agent when it is up and can run it; `None` means the engine
    /// path.
    pub(crate) fn run_through_agent(&self, config: &ExecConfig) -> Option<Result<ExecResult>> {
        let conn = self.agent.conn()?;
        AgentClient::can_run(config).then(|| conn.run(config))
    }
}
