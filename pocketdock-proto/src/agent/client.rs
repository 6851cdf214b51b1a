//! The host side of an agent connection: many commands at once over one connection, each with
//! the deadline, output cap and result rules of the engine path.
//!
//! [`AgentClient`] has one owner, `&mut self`, and no clock. The adapter feeds it what the
//! agent's exec printed ([`handle_output`](AgentClient::handle_output)) and tells it when the
//! connection ended ([`handle_end`](AgentClient::handle_end)); it writes whatever
//! [`take_write`](AgentClient::take_write) hands out, in order, on the exec's stdin. A caller
//! starts a command with [`spawn`](AgentClient::spawn) and polls it with
//! [`poll_command`](AgentClient::poll_command) until it is done, waiting in between for more
//! output or the deadline the poll names.
//!
//! The same rules as [`ExecOp`](crate::op::ExecOp): output goes into a bounded [`Capture`];
//! at the command's deadline or at the cap (with [`LimitPolicy::Stop`](crate::LimitPolicy))
//! its process group is killed, the output read so far is kept and the exit code is `-1`, with
//! `timed_out` or `truncated` set. A killed command that does not report its end within
//! [`KILL_GRACE`] (its pipes held open by a process that left the group) ends with what it
//! has.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::frame::{encode_frame, Frame, FrameDecoder, Kind, MAX_DATA, MAX_PAYLOAD};
use super::messages::{ExitReport, Hello, SpawnRequest, StatReply, AGENT_PROTOCOL};
use super::outflow::{Outflow, STREAM_WINDOW};
use crate::api::exec::ExecSpec;
use crate::capture::{Capture, Captured, LimitPolicy, OutputLimit};
use crate::demux::StreamKind;
use crate::error::{Error, ProtocolError, Result};
use crate::op::{ExecConfig, NONCE_VAR};
use crate::result::{ExecResult, Usage};

/// How long a killed command may take to report its end before it ends with what it has.
pub const KILL_GRACE: Duration = Duration::from_secs(2);

/// `SIGKILL`: what a deadline or a cap sends to a command's process group.
const SIGKILL: u32 = 9;

/// A command started through an [`AgentClient`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommandId(u32);

impl std::fmt::Display for CommandId {
    /// `agent:<id>`: how a command through the agent is named where an engine command shows
    /// its exec id.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "agent:{}", self.0)
    }
}

/// A path stat asked of the agent through an [`AgentClient`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatId(u32);

/// Whether a container handle's commands go through the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentStatus {
    /// Not started on this handle: commands take the engine path.
    Off,
    /// Being started in the background; commands take the engine path until it says hello.
    Starting,
    /// Up: commands it can run go through it.
    Up {
        /// The agent's version.
        version: String,
        /// Its pid in the sandbox.
        pid: u32,
    },
    /// It could not be started here; commands take the engine path. The reason says why.
    Unavailable(String),
}

/// The engine exec that starts the agent at `path`: stdin attached for the host's frames, no
/// TTY (its stdout carries binary frames, which a terminal would mangle), the container's
/// default user.
pub fn agent_exec(path: &str) -> ExecSpec {
    ExecSpec {
        cmd: vec![path.to_string()],
        env: Vec::new(),
        workdir: None,
        user: None,
        tty: false,
        stdin: true,
    }
}

/// What [`AgentClient::poll_command`] found.
#[derive(Debug)]
pub enum AgentPoll {
    /// Not finished: feed more output (or the end of the connection), or wait until
    /// `deadline`, then poll again.
    Pending {
        /// When the command must be polled again even if nothing arrives.
        deadline: Option<Instant>,
    },
    /// Finished; the command is forgotten.
    Done(Result<ExecResult>),
}

/// What [`AgentClient::poll_stream`] found for a streamed command.
#[derive(Debug)]
pub enum AgentStreamPoll {
    /// The next piece of output for the consumer.
    Output {
        /// Which stream it came on.
        stream: StreamKind,
        /// The bytes.
        data: Bytes,
    },
    /// Nothing to hand out yet: feed more output (or the end of the connection), or wait until
    /// `deadline`, then poll again.
    Pending {
        /// When the command must be polled again even if nothing arrives.
        deadline: Option<Instant>,
    },
    /// Finished, every piece handed out; the command is forgotten.
    Done(Result<ExecResult>),
}

/// Where a command stands, before its result is made.
enum Standing {
    Pending(Option<Instant>),
    /// It ended (or its kill's grace passed): its result can be made.
    Over,
    /// The connection ended first, for this reason.
    Lost(String),
}

/// Why pocketdock stopped a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stopped {
    TimedOut,
    Capped,
}

/// One command in flight.
#[derive(Debug)]
struct Running {
    capture: Capture,
    started: Instant,
    deadline: Option<Instant>,
    stopped: Option<(Stopped, Instant)>,
    exit: Option<ExitReport>,
    spawn_failed: Option<String>,
    /// Its pid in the sandbox, once the agent said it started.
    pid: Option<u32>,
    /// A streamed command's queue and credit ([`ExecConfig::emit`]); `None` for a run, whose
    /// output goes into the capture as it comes.
    outflow: Option<Outflow>,
}

/// The host side of one agent connection. See the module docs.
#[derive(Debug, Default)]
pub struct AgentClient {
    decoder: FrameDecoder,
    hello: Option<Hello>,
    next_id: u32,
    running: HashMap<u32, Running>,
    outbox: BytesMut,
    pongs: u64,
    /// Stats asked and not yet taken: `None` until the agent answers. Only ids asked here
    /// get an entry, so a reply for anything else is dropped.
    stats: HashMap<u32, Option<StatReply>>,
    ended: Option<String>,
    /// The start of what the agent's exec wrote on stderr: the runtime's or the agent's own
    /// complaint when it could not start, kept to say why.
    complaint: Vec<u8>,
}

/// How much of the agent exec's stderr is kept to say why it ended.
const COMPLAINT_LIMIT: usize = 512;

impl AgentClient {
    /// A client for a connection whose agent has not said hello yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A client whose first command gets the id `first` (then `first + 1`, ...): for a
    /// connection shared with clients before it (through a relay), whose commands may still
    /// report, so that their frames are not taken for this client's.
    pub fn with_first_id(first: u32) -> Self {
        Self {
            next_id: first.wrapping_sub(1),
            ..Self::default()
        }
    }

    /// The agent's hello, once it arrived.
    pub fn hello(&self) -> Option<&Hello> {
        self.hello.as_ref()
    }

    /// Where the connection stands: up once the agent said hello, unavailable once it ended.
    pub fn status(&self) -> AgentStatus {
        match (&self.ended, &self.hello) {
            (None, Some(h)) => AgentStatus::Up {
                version: h.version.clone(),
                pid: h.pid,
            },
            (Some(why), _) => AgentStatus::Unavailable(why.clone()),
            (None, None) => AgentStatus::Off,
        }
    }

    /// Why the connection can carry no more commands, once it cannot.
    pub fn ended(&self) -> Option<&str> {
        self.ended.as_deref()
    }

    /// Whether `config` can run through this agent: without a TTY (the agent gives commands
    /// pipes), as the agent's own user, or as a numeric `uid[:gid]` that it may switch to
    /// (any, when it runs as root; otherwise only its own uid and gid, as the kernel allows).
    /// It never looks names up, so a user given by name keeps to the engine path, as does a
    /// user it could not become (the engine's exec can).
    pub fn can_run(&self, config: &ExecConfig) -> bool {
        if config.spec.tty {
            return false;
        }
        let Some(user) = config.spec.user.as_deref() else {
            return true;
        };
        let Some(hello) = &self.hello else {
            return false;
        };
        let number = |s: &str| {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u32>().ok())
                .flatten()
        };
        let parsed = match user.split_once(':') {
            None => number(user).map(|uid| (uid, None)),
            Some((uid, gid)) => number(uid).zip(number(gid)).map(|(u, g)| (u, Some(g))),
        };
        parsed.is_some_and(|(uid, gid)| {
            hello.uid == 0 || (uid == hello.uid && gid.is_none_or(|g| g == hello.gid))
        })
    }

    /// Start the command `config` describes (its spec, deadline, output cap and policy; the
    /// nonce goes into its environment as on the engine path) at `now`.
    pub fn spawn(&mut self, now: Instant, config: &ExecConfig) -> Result<CommandId> {
        if let Some(why) = &self.ended {
            return Err(Error::Agent(why.clone()));
        }
        if config.spec.tty {
            return Err(Error::invalid(
                "tty",
                "the agent gives commands pipes, not a TTY",
            ));
        }
        if !self.can_run(config) {
            return Err(Error::invalid(
                "user",
                "the agent runs commands only as itself, or (when it is root) as a numeric \
                 uid[:gid]",
            ));
        }
        let mut env = config.spec.env.clone();
        env.push(format!("{NONCE_VAR}={}", config.nonce));
        let request = SpawnRequest {
            argv: config.spec.cmd.clone(),
            env,
            cwd: config.spec.workdir.clone(),
            user: config.spec.user.clone(),
            stdin: config.spec.stdin,
            window: config.emit.then_some(STREAM_WINDOW),
        };
        let payload = serde_json::to_vec(&request).map_err(|e| Error::Agent(e.to_string()))?;
        if payload.len() > MAX_PAYLOAD {
            return Err(Error::invalid(
                "command",
                format!("is larger than the agent's {MAX_PAYLOAD}-byte frame"),
            ));
        }
        let id = self.new_id();
        encode_frame(&mut self.outbox, Kind::Spawn, id, &payload);
        let capture = match config.limit {
            // No cap (a detached command): every piece is handed out, nothing kept or stopped.
            None => Capture::passing(OutputLimit {
                max_bytes: usize::MAX,
                policy: LimitPolicy::KeepRunning,
            }),
            Some(limit) if config.keep => Capture::new(limit),
            Some(limit) => Capture::passing(limit),
        };
        self.running.insert(
            id,
            Running {
                capture,
                started: now,
                // A timeout too large for the clock is no deadline.
                deadline: config.timeout.and_then(|t| now.checked_add(t)),
                stopped: None,
                exit: None,
                spawn_failed: None,
                pid: None,
                outflow: config.emit.then(Outflow::default),
            },
        );
        Ok(CommandId(id))
    }

    /// Ask the agent whether it is alive; its answer is a [`Kind::Pong`] frame, which
    /// [`pongs`](Self::pongs) counts.
    pub fn ping(&mut self) {
        encode_frame(&mut self.outbox, Kind::Ping, 0, &[]);
    }

    /// Ask the agent what is at `path` (its `lstat`, as the agent's user); the answer is
    /// taken with [`take_stat`](Self::take_stat).
    pub fn stat(&mut self, path: &str) -> Result<StatId> {
        if let Some(why) = &self.ended {
            return Err(Error::Agent(why.clone()));
        }
        if path.len() > MAX_PAYLOAD {
            return Err(Error::invalid(
                "path",
                format!("is larger than the agent's {MAX_PAYLOAD}-byte frame"),
            ));
        }
        let id = self.new_id();
        encode_frame(&mut self.outbox, Kind::Stat, id, path.as_bytes());
        self.stats.insert(id, None);
        Ok(StatId(id))
    }

    /// The agent's answer to stat `id`, once it came (it is then forgotten); `None` while it
    /// has not.
    pub fn take_stat(&mut self, id: StatId) -> Option<StatReply> {
        if !self.stat_answered(id) {
            return None;
        }
        self.stats.remove(&id.0).flatten()
    }

    /// Whether the agent answered stat `id` (and it was not taken yet).
    pub fn stat_answered(&self, id: StatId) -> bool {
        self.stats.get(&id.0).is_some_and(Option::is_some)
    }

    /// Stop waiting for stat `id`: its answer, if it comes, is dropped.
    pub fn forget_stat(&mut self, id: StatId) {
        self.stats.remove(&id.0);
    }

    fn new_id(&mut self) -> u32 {
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.next_id
    }

    /// How many pings the agent answered.
    pub fn pongs(&self) -> u64 {
        self.pongs
    }

    /// Send `signal` to command `id`'s process group, if it has not ended. A `SIGKILL` counts
    /// as pocketdock's own stop only through the deadline and the cap, not here: the command
    /// ends as the signal makes it end (`128 + signal`).
    pub fn signal(&mut self, id: CommandId, signal: u32) {
        if self.live(id).is_ok() {
            encode_frame(&mut self.outbox, Kind::Signal, id.0, &signal.to_be_bytes());
        }
    }

    /// The caller of `id` went away: kill its process group and forget it.
    pub fn cancel(&mut self, id: CommandId) {
        if self.running.remove(&id.0).is_some() && self.ended.is_none() {
            encode_frame(&mut self.outbox, Kind::Signal, id.0, &SIGKILL.to_be_bytes());
        }
    }

    /// Queue `data` for command `id`'s stdin (spawned with [`ExecSpec::stdin`] set), in frames
    /// the agent takes. The agent keeps up to its own bound per command and then stops reading
    /// until the command takes some: a command that never reads stalls the connection, as an
    /// engine exec's stdin stalls its writer.
    ///
    /// Errors: [`Error::Agent`] once the connection ended; invalid use for a command that
    /// already ended or is not this client's.
    pub fn write_stdin(&mut self, id: CommandId, data: &[u8]) -> Result<()> {
        self.live(id)?;
        for piece in data.chunks(MAX_DATA) {
            encode_frame(&mut self.outbox, Kind::Stdin, id.0, piece);
        }
        Ok(())
    }

    /// Close command `id`'s stdin once what was queued is written (the command reads its end).
    /// Errors as [`write_stdin`](Self::write_stdin).
    pub fn close_stdin(&mut self, id: CommandId) -> Result<()> {
        self.live(id)?;
        encode_frame(&mut self.outbox, Kind::StdinClose, id.0, &[]);
        Ok(())
    }

    /// Command `id`'s pid in the sandbox, once the agent reported that it started.
    pub fn pid(&self, id: CommandId) -> Option<u32> {
        self.running.get(&id.0)?.pid
    }

    /// `Ok` while command `id` runs and the connection can carry frames for it.
    fn live(&self, id: CommandId) -> Result<()> {
        if let Some(why) = &self.ended {
            return Err(Error::Agent(why.clone()));
        }
        match self.running.get(&id.0) {
            Some(r) if r.exit.is_none() && r.spawn_failed.is_none() => Ok(()),
            _ => Err(Error::InvalidUse("the agent command has ended")),
        }
    }

    /// Whether there are bytes to write (see [`take_write`](Self::take_write)).
    pub fn wants_write(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// The bytes to write to the agent's stdin next, in order.
    pub fn take_write(&mut self) -> Option<Bytes> {
        (!self.outbox.is_empty()).then(|| self.outbox.split().freeze())
    }

    /// Output of the agent's exec arrived: its stdout carries frames; of its stderr (the
    /// agent's or the runtime's complaints) only the start is kept, to say why the connection
    /// ended.
    ///
    /// Returns whether a waiting caller has something new to see (a command ended or was
    /// stopped, a frame to write, the hello, a pong, the connection's end): output that only
    /// went into a capture wakes nobody, so a long output costs no thread switch per piece.
    pub fn handle_output(&mut self, now: Instant, stream: StreamKind, data: Bytes) -> bool {
        if self.ended.is_some() {
            return false;
        }
        // Before the hello, stdout is kept too: an engine that cannot start the agent may say
        // why there (Docker's "OCI runtime exec failed" does).
        if stream != StreamKind::Stdout || self.hello.is_none() {
            let room = COMPLAINT_LIMIT.saturating_sub(self.complaint.len());
            self.complaint
                .extend_from_slice(&data[..data.len().min(room)]);
        }
        if stream != StreamKind::Stdout {
            return false;
        }
        self.decoder.feed_bytes(data);
        let mut wake = false;
        loop {
            match self.decoder.next_frame() {
                Ok(Some(frame)) => match self.dispatch(now, frame) {
                    Ok(news) => wake |= news,
                    Err(e) => {
                        self.end(&e.to_string());
                        return true;
                    }
                },
                Ok(None) => return wake,
                Err(_) if self.hello.is_none() => {
                    self.end("the agent's exec printed no agent frames");
                    return true;
                }
                Err(e) => {
                    self.end(&Error::Protocol(ProtocolError::from(e)).to_string());
                    return true;
                }
            }
        }
    }

    /// The connection ended (`why`): no command can finish any more, unless it already has.
    pub fn handle_end(&mut self, why: &str) {
        self.end(why);
    }

    fn end(&mut self, why: &str) {
        if self.ended.is_none() {
            let said = String::from_utf8_lossy(&self.complaint);
            let said = said.trim();
            self.ended = Some(if said.is_empty() {
                why.to_string()
            } else {
                format!("{why}: {said}")
            });
        }
        self.outbox.clear();
    }

    /// Act on one frame; returns whether a waiting caller has something new to see.
    fn dispatch(&mut self, now: Instant, frame: Frame) -> Result<bool> {
        let json = |context: &'static str, e: serde_json::Error| {
            Error::Protocol(ProtocolError::Json {
                context,
                detail: e.to_string(),
            })
        };
        match frame.kind {
            Kind::Hello => {
                let hello: Hello =
                    serde_json::from_slice(&frame.payload).map_err(|e| json("agent hello", e))?;
                if hello.protocol != AGENT_PROTOCOL {
                    return Err(Error::Agent(format!(
                        "the agent speaks protocol {}, not {AGENT_PROTOCOL}",
                        hello.protocol
                    )));
                }
                self.hello = Some(hello);
                // What came before it was the hello itself, not a complaint.
                self.complaint.clear();
            }
            Kind::Started => {
                let pid = frame.payload_u32().map_err(|e| Error::Protocol(e.into()))?;
                if let Some(r) = self.running.get_mut(&frame.id) {
                    r.pid = Some(pid);
                }
                return Ok(false);
            }
            Kind::Pong => self.pongs += 1,
            Kind::StatReply => {
                let Some(slot) = self.stats.get_mut(&frame.id) else {
                    return Ok(false);
                };
                let reply: StatReply =
                    serde_json::from_slice(&frame.payload).map_err(|e| json("agent stat", e))?;
                *slot = Some(reply);
            }
            Kind::Stdout | Kind::Stderr => {
                return Ok(self.output(now, frame.kind, frame.id, frame.payload));
            }
            Kind::Exit => {
                let report: ExitReport =
                    serde_json::from_slice(&frame.payload).map_err(|e| json("agent exit", e))?;
                if let Some(r) = self.running.get_mut(&frame.id) {
                    r.exit = Some(report);
                }
            }
            Kind::SpawnFailed => {
                if let Some(r) = self.running.get_mut(&frame.id) {
                    r.spawn_failed = Some(String::from_utf8_lossy(&frame.payload).into_owned());
                }
            }
            Kind::Spawn
            | Kind::Stdin
            | Kind::StdinClose
            | Kind::Signal
            | Kind::Ping
            | Kind::Credit
            | Kind::Stat => {
                return Err(Error::Agent(format!(
                    "the agent sent a host frame ({:?})",
                    frame.kind
                )));
            }
        }
        Ok(true)
    }

    /// Capture a command's output (and queue a streamed command's); returns whether a waiting
    /// caller has something new: the cap stopped it, or a piece is queued for a consumer that
    /// had found the queue empty.
    fn output(&mut self, now: Instant, kind: Kind, id: u32, payload: Bytes) -> bool {
        let Some(r) = self.running.get_mut(&id) else {
            return false;
        };
        if r.exit.is_some() || r.stopped.is_some() {
            return false;
        }
        let stream = if kind == Kind::Stdout {
            StreamKind::Stdout
        } else {
            StreamKind::Stderr
        };
        // A capture that keeps copies what it keeps; one that keeps nothing only counts.
        let arrived = payload.len();
        let (handed, verdict) = r.capture.take(stream, payload);
        let mut queued = false;
        if let Some(out) = r.outflow.as_mut() {
            queued = out.arrived(stream, handed, arrived);
            if let Some(n) = out.credit_due() {
                encode_frame(&mut self.outbox, Kind::Credit, id, &n.to_be_bytes());
            }
        }
        if verdict != Captured::Stop {
            return queued;
        }
        r.stopped = Some((Stopped::Capped, now));
        encode_frame(&mut self.outbox, Kind::Signal, id, &SIGKILL.to_be_bytes());
        true
    }

    /// Where command `id` stands at `now`: done (and forgotten), or pending until more output
    /// or the deadline named. A command whose deadline passed is killed here (a frame to
    /// write appears in [`take_write`](Self::take_write)).
    pub fn poll_command(&mut self, id: CommandId, now: Instant) -> AgentPoll {
        match self.standing(id, now) {
            Ok(Standing::Pending(deadline)) => AgentPoll::Pending { deadline },
            Ok(Standing::Over) => AgentPoll::Done(self.finish(id, now)),
            Ok(Standing::Lost(why)) => {
                self.running.remove(&id.0);
                AgentPoll::Done(Err(Error::Agent(why)))
            }
            Err(e) => AgentPoll::Done(Err(e)),
        }
    }

    /// The next thing of streamed command `id` (spawned from a config with
    /// [`emit`](ExecConfig::emit)) at `now`: a piece of output for its consumer (taking it
    /// credits the agent, see [`STREAM_WINDOW`]), pending, or done once every piece was handed
    /// out. The deadline and the cap apply as in [`poll_command`](Self::poll_command); the
    /// tails a head-and-tail cap held back come out when the command has ended.
    pub fn poll_stream(&mut self, id: CommandId, now: Instant) -> AgentStreamPoll {
        if let Some(piece) = self.next_piece(id) {
            return piece;
        }
        match self.standing(id, now) {
            Ok(Standing::Pending(deadline)) => AgentStreamPoll::Pending { deadline },
            Ok(Standing::Over) => {
                if let Some(r) = self.running.get_mut(&id.0) {
                    let tails = r.capture.take_tails();
                    if r.outflow.as_mut().is_some_and(|o| o.take_tails(tails)) {
                        if let Some(piece) = self.next_piece(id) {
                            return piece;
                        }
                    }
                }
                AgentStreamPoll::Done(self.finish(id, now))
            }
            Ok(Standing::Lost(why)) => {
                self.running.remove(&id.0);
                AgentStreamPoll::Done(Err(Error::Agent(why)))
            }
            Err(e) => AgentStreamPoll::Done(Err(e)),
        }
    }

    /// A streamed command's next queued piece, with the credit it makes due.
    fn next_piece(&mut self, id: CommandId) -> Option<AgentStreamPoll> {
        let out = self.running.get_mut(&id.0)?.outflow.as_mut()?;
        let (stream, data) = out.pop()?;
        if let Some(n) = out.credit_due() {
            if self.ended.is_none() {
                encode_frame(&mut self.outbox, Kind::Credit, id.0, &n.to_be_bytes());
            }
        }
        Some(AgentStreamPoll::Output { stream, data })
    }

    /// Where command `id` stands at `now`, killing it when its deadline passed.
    fn standing(&mut self, id: CommandId, now: Instant) -> Result<Standing> {
        let Some(r) = self.running.get_mut(&id.0) else {
            return Err(Error::InvalidUse(
                "an agent command was polled after it completed",
            ));
        };
        if r.exit.is_some() || r.spawn_failed.is_some() {
            return Ok(Standing::Over);
        }
        if let Some(why) = &self.ended {
            return Ok(Standing::Lost(why.clone()));
        }
        Ok(match r.stopped {
            Some((_, at)) if now >= at + KILL_GRACE => Standing::Over,
            Some((_, at)) => Standing::Pending(Some(at + KILL_GRACE)),
            None => match r.deadline {
                Some(d) if now >= d => {
                    r.stopped = Some((Stopped::TimedOut, now));
                    encode_frame(&mut self.outbox, Kind::Signal, id.0, &SIGKILL.to_be_bytes());
                    Standing::Pending(Some(now + KILL_GRACE))
                }
                deadline => Standing::Pending(deadline),
            },
        })
    }

    fn finish(&mut self, id: CommandId, now: Instant) -> Result<ExecResult> {
        let Some(r) = self.running.remove(&id.0) else {
            return Err(Error::polled_after_completion());
        };
        let (stdout, mut stderr, truncated, elided_bytes) = r.capture.finish();
        let stopped = r.stopped.map(|(why, _)| why);
        let (exit_code, usage) = match (&r.exit, &r.spawn_failed) {
            (Some(e), _) => (
                e.code,
                Some(Usage {
                    user_cpu: Duration::from_micros(e.user_usec),
                    system_cpu: Duration::from_micros(e.sys_usec),
                    peak_rss_bytes: e.max_rss_kib.saturating_mul(1024),
                    oom_killed: e.oom_killed,
                }),
            ),
            (None, Some(reason)) => {
                // As a shell reports a command it cannot run.
                stderr.extend_from_slice(reason.as_bytes());
                stderr.push(b'\n');
                (127, None)
            }
            (None, None) => (-1, None),
        };
        Ok(ExecResult {
            exit_code: if stopped.is_some() { -1 } else { exit_code },
            stdout,
            stderr,
            duration: now.saturating_duration_since(r.started),
            timed_out: stopped == Some(Stopped::TimedOut),
            truncated: truncated || stopped == Some(Stopped::Capped),
            elided_bytes,
            oom_killed: usage.is_some_and(|u| u.oom_killed),
            usage,
        })
    }
}

#[cfg(test)]
mod tests;
