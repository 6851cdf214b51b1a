//! Long-lived attached execs: the shell of a session and an interactive TTY program.
//!
//! [`AttachOp`] creates an exec with stdin attached, starts it on a hijacked connection and then
//! keeps that connection: it reports [`AttachEvent::Attached`] as soon as the engine accepted the
//! upgrade (the driver may now write stdin through a second handle on the same connection) and
//! then one [`AttachEvent::Output`] per demultiplexed chunk until the engine closes the stream.
//! It never reads the exit code itself: [`ExecWaitOp`] polls exec inspect until the engine says
//! the exec has stopped (Podman reports `ExitCode: 0` while running, Docker `null`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::api::exec::{self, ExecInspect, ExecSpec};
use crate::api::{check, Subject};
use crate::demux::{DemuxMode, Demuxer, StreamKind};
use crate::error::{Error, ProtocolError, Result};
use crate::http::Response;
use crate::http::ResponseHead;
use crate::op::exchange::{ExStep, Exchange};
use crate::op::exec_start::{keep_refusal, start_accepted, start_error, start_exchange};
use crate::op::{CallOp, Io, Operation, Step, NONCE_VAR};
use crate::run::{validate_exec_options, TtyOptions};

/// `POST /exec/{id}/resize`: the TTY of exec `exec_id` becomes `rows` x `cols`.
pub fn resize_op(exec_id: &str, rows: u16, cols: u16) -> CallOp<()> {
    CallOp::new(
        "exec resize",
        &exec::resize(exec_id, rows, cols),
        |r: Response| check(&r, "exec resize", Subject::None),
    )
    .with_timeout(Some(Duration::from_secs(30)))
}

/// The exec of an interactive program `argv` on a TTY with `opts` (stdin attached, output
/// raw), checked: an empty argv, a bad environment entry or working directory, or a window of
/// zero rows or columns is invalid input naming the field.
pub fn tty_exec_spec(argv: &[&str], opts: &TtyOptions) -> Result<ExecSpec> {
    if argv.is_empty() {
        return Err(Error::invalid("argv", "is empty"));
    }
    validate_exec_options(&opts.env, opts.workdir.as_deref())?;
    let (rows, cols) = opts.size;
    if rows == 0 || cols == 0 {
        return Err(Error::invalid(
            "size",
            "rows and columns must be at least 1",
        ));
    }
    Ok(ExecSpec {
        cmd: argv.iter().map(|s| (*s).to_string()).collect(),
        env: opts.env.clone(),
        workdir: opts.workdir.clone(),
        user: opts.user.clone(),
        tty: true,
        stdin: true,
    })
}

/// How to start a long-lived attached exec.
#[derive(Debug, Clone)]
pub struct AttachConfig {
    /// Container id or name.
    pub container: String,
    /// What to run; `stdin` is forced on. With `tty` the stream is raw (stderr merged).
    pub spec: ExecSpec,
    /// A unique token put in the exec's environment (`POCKETDOCK_EXEC`), marking its processes.
    pub nonce: String,
    /// Deadline of exec create, and of the start response head.
    pub call_timeout: Duration,
}

impl AttachConfig {
    /// A config with a 60 s deadline for the engine calls.
    pub fn new(container: impl Into<String>, spec: ExecSpec, nonce: impl Into<String>) -> Self {
        Self {
            container: container.into(),
            spec,
            nonce: nonce.into(),
            call_timeout: Duration::from_secs(60),
        }
    }
}

/// Events of an attached exec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachEvent {
    /// The engine accepted the upgrade: stdin may be written from now on (through a second
    /// handle on the same connection; the driver keeps reading).
    Attached {
        /// Exec id.
        exec_id: String,
    },
    /// Output, as it arrived (stdout only, with a TTY).
    Output {
        /// Which stream.
        stream: StreamKind,
        /// The bytes.
        data: Bytes,
    },
}

enum AttachState {
    Create(CallOp<String>),
    Start {
        ex: Exchange,
        head: Option<ResponseHead>,
        error_body: BytesMut,
    },
    Finished,
}

/// Create and start an exec with stdin attached, then stream its output until the engine closes
/// the connection. Finishes with `Ok(())` at a clean end of stream; the exit code is read with
/// [`ExecWaitOp`]. See the module docs.
pub struct AttachOp {
    config: AttachConfig,
    state: AttachState,
    demux: Demuxer,
    events: VecDeque<AttachEvent>,
    exec_id: String,
}

impl std::fmt::Debug for AttachOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachOp")
            .field("container", &self.config.container)
            .field("exec_id", &self.exec_id)
            .finish_non_exhaustive()
    }
}

impl AttachOp {
    /// Prepare the exec; nothing happens until it is polled.
    pub fn new(mut config: AttachConfig) -> Self {
        config.spec.stdin = true;
        config
            .spec
            .env
            .push(format!("{NONCE_VAR}={}", config.nonce));
        let create = crate::op::calls::exec_create(&config.container, &config.spec)
            .with_timeout(Some(config.call_timeout));
        let mode = if config.spec.tty {
            DemuxMode::Raw
        } else {
            DemuxMode::Multiplexed
        };
        Self {
            state: AttachState::Create(create),
            demux: Demuxer::new(mode),
            events: VecDeque::new(),
            exec_id: String::new(),
            config,
        }
    }

    /// The exec id, once created.
    pub fn exec_id(&self) -> &str {
        &self.exec_id
    }

    /// The nonce marking the exec's processes.
    pub fn nonce(&self) -> &str {
        &self.config.nonce
    }

    /// The container.
    pub fn container(&self) -> &str {
        &self.config.container
    }

    fn fail(&mut self, e: Error) -> Step<AttachEvent, ()> {
        self.state = AttachState::Finished;
        Step::Done(Err(e))
    }
}

impl Operation for AttachOp {
    type Event = AttachEvent;
    type Output = ();

    fn poll(&mut self, now: Instant) -> Step<AttachEvent, ()> {
        loop {
            if let Some(ev) = self.events.pop_front() {
                return Step::Event(ev);
            }
            match &mut self.state {
                AttachState::Create(call) => match call.poll(now) {
                    Step::Io(io) => return Step::Io(io),
                    Step::Event(()) => {}
                    Step::Done(Ok(id)) => {
                        self.exec_id.clone_from(&id);
                        let ex = start_exchange(
                            &id,
                            self.config.spec.tty,
                            Some(now + self.config.call_timeout),
                        );
                        self.state = AttachState::Start {
                            ex,
                            head: None,
                            error_body: BytesMut::new(),
                        };
                    }
                    Step::Done(Err(e)) => return self.fail(e),
                },
                AttachState::Start {
                    ex,
                    head,
                    error_body,
                } => match ex.poll(now) {
                    ExStep::Io(io) => return Step::Io(io),
                    ExStep::Head(h) => {
                        if start_accepted(&h) {
                            // Attached: from now on the stream has no deadline.
                            ex.set_deadline(None);
                            self.events.push_back(AttachEvent::Attached {
                                exec_id: self.exec_id.clone(),
                            });
                        }
                        *head = Some(h);
                    }
                    ExStep::Data(mut d) => {
                        if !head.as_ref().is_some_and(start_accepted) {
                            keep_refusal(error_body, &d);
                            continue;
                        }
                        loop {
                            match self.demux.next_chunk(&mut d) {
                                Ok(Some((stream, data))) => {
                                    if !data.is_empty() {
                                        self.events.push_back(AttachEvent::Output { stream, data });
                                    }
                                }
                                Ok(None) => break,
                                Err(e) => return self.fail(e.into()),
                            }
                        }
                    }
                    ExStep::End => {
                        let Some(h) = head.take() else {
                            return self.fail(ProtocolError::EmptyResponse.into());
                        };
                        if !start_accepted(&h) {
                            let e = start_error(&self.config.container, &h, error_body);
                            return self.fail(e);
                        }
                        if let Err(e) = self.demux.finish() {
                            return self.fail(e.into());
                        }
                        self.state = AttachState::Finished;
                        return Step::Done(Ok(()));
                    }
                    ExStep::Failed(e) => return self.fail(e),
                },
                AttachState::Finished => return Step::Done(Err(Error::polled_after_completion())),
            }
        }
    }

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        match &mut self.state {
            AttachState::Create(c) => c.handle_input(now, data),
            AttachState::Start { ex, .. } => ex.handle_input(data),
            AttachState::Finished => {}
        }
    }

    fn handle_eof(&mut self, now: Instant) {
        match &mut self.state {
            AttachState::Create(c) => c.handle_eof(now),
            AttachState::Start { ex, .. } => ex.handle_eof(),
            AttachState::Finished => {}
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match &mut self.state {
            AttachState::Create(c) => c.handle_timeout(now),
            AttachState::Start { ex, .. } => {
                ex.handle_timeout(now);
            }
            AttachState::Finished => {}
        }
    }
}

enum WaitState {
    Inspect { call: Box<CallOp<ExecInspect>> },
    Backoff { until: Instant },
    Finished,
}

/// Poll exec inspect until the engine says exec `exec_id` has stopped, and return its exit
/// code. Backs off from 5 ms to 200 ms between polls.
pub struct ExecWaitOp {
    container: String,
    exec_id: String,
    call_timeout: Duration,
    give_up: Option<Duration>,
    deadline: Option<Instant>,
    attempt: u32,
    state: WaitState,
}

impl std::fmt::Debug for ExecWaitOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecWaitOp")
            .field("exec_id", &self.exec_id)
            .field("give_up", &self.give_up)
            .finish_non_exhaustive()
    }
}

const BACKOFF_START: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_millis(200);

impl ExecWaitOp {
    /// Wait for exec `exec_id` of `container` (the container only names errors). With
    /// `give_up`, fail with [`Error::Timeout`] when the exec is still running that long after the
    /// first poll; with `None`, wait as long as it runs.
    pub fn new(container: &str, exec_id: &str, give_up: Option<Duration>) -> Self {
        let mut op = Self {
            container: container.to_string(),
            exec_id: exec_id.to_string(),
            call_timeout: Duration::from_secs(60),
            give_up,
            deadline: None,
            attempt: 0,
            state: WaitState::Finished,
        };
        op.state = WaitState::Inspect {
            call: Box::new(op.inspect_call()),
        };
        op
    }

    fn inspect_call(&self) -> CallOp<ExecInspect> {
        crate::op::calls::exec_inspect(&self.container, &self.exec_id)
            .with_timeout(Some(self.call_timeout))
    }
}

impl Operation for ExecWaitOp {
    type Event = ();
    type Output = i64;

    fn poll(&mut self, now: Instant) -> Step<(), i64> {
        let deadline = *self
            .deadline
            .get_or_insert_with(|| self.give_up.map_or(now, |g| now + g));
        loop {
            match &mut self.state {
                WaitState::Inspect { call } => match call.poll(now) {
                    Step::Io(io) => return Step::Io(io),
                    Step::Event(()) => {}
                    Step::Done(Ok(info)) => match info.exit_code {
                        Some(code) if !info.running => {
                            self.state = WaitState::Finished;
                            return Step::Done(Ok(code));
                        }
                        _ if self.give_up.is_some() && now >= deadline => {
                            self.state = WaitState::Finished;
                            return Step::Done(Err(Error::Timeout {
                                op: "exec exit code",
                                after_ms: self.give_up.map_or(0, |g| g.as_millis() as u64),
                            }));
                        }
                        _ => {
                            let wait = BACKOFF_START
                                .saturating_mul(1u32 << self.attempt.min(8))
                                .min(BACKOFF_MAX);
                            self.attempt += 1;
                            self.state = WaitState::Backoff { until: now + wait };
                        }
                    },
                    Step::Done(Err(e)) => {
                        self.state = WaitState::Finished;
                        return Step::Done(Err(e));
                    }
                },
                WaitState::Backoff { until } if now < *until => return Step::Io(Io::Wait(*until)),
                WaitState::Backoff { .. } => {
                    self.state = WaitState::Inspect {
                        call: Box::new(self.inspect_call()),
                    };
                }
                WaitState::Finished => return Step::Done(Err(Error::polled_after_completion())),
            }
        }
    }

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if let WaitState::Inspect { call } = &mut self.state {
            call.handle_input(now, data);
        }
    }

    fn handle_eof(&mut self, now: Instant) {
        if let WaitState::Inspect { call } = &mut self.state {
            call.handle_eof(now);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let WaitState::Inspect { call } = &mut self.state {
            call.handle_timeout(now);
        }
    }
}
