//! Run a command: create the exec, stream its output through the demultiplexer into a bounded
//! capture and/or events, enforce the deadline and the output cap by killing the process tree,
//! and read the exit code only once the engine says the exec has stopped.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::exchange::{ExStep, Exchange};
use super::exec_start::{keep_refusal, start_accepted, start_error, start_exchange};
use super::kill::{KillOp, NONCE_VAR};
use super::{CallOp, ContainerCheckOp, Io, Operation, Step};
use crate::api::exec::{ExecInspect, ExecSpec};
use crate::capture::{Capture, Captured, LimitPolicy, OutputLimit};
use crate::demux::{DemuxMode, Demuxer, StreamKind};
use crate::error::{Error, Result};
use crate::http::ResponseHead;
use crate::result::ExecResult;

/// How to run one command.
#[derive(Debug, Clone)]
pub struct ExecConfig {
    /// Container id or name.
    pub container: String,
    /// What to run.
    pub spec: ExecSpec,
    /// A unique token marking the command's processes, so they can be killed (see [`KillOp`]).
    pub nonce: String,
    /// Deadline for the command; `None` waits forever.
    pub timeout: Option<Duration>,
    /// Output cap; `None` captures nothing (events only).
    pub limit: Option<OutputLimit>,
    /// Keep a copy of the output under `limit` for the result (the default). When false the
    /// result keeps no output and `limit` caps the bytes handed out as events instead (see
    /// [`Capture::passing`]).
    pub keep: bool,
    /// Emit [`ExecEvent::Output`] for every chunk as it arrives.
    pub emit: bool,
    /// Deadline of each engine call other than the command's stream.
    pub call_timeout: Duration,
    /// How long to wait for the engine to report the exit code after the stream ended.
    pub exit_wait: Duration,
}

impl ExecConfig {
    /// A config with default limits: 10 MiB capture, no events, no deadline.
    pub fn new(container: impl Into<String>, spec: ExecSpec, nonce: impl Into<String>) -> Self {
        Self {
            container: container.into(),
            spec,
            nonce: nonce.into(),
            timeout: None,
            limit: Some(OutputLimit::default()),
            keep: true,
            emit: false,
            call_timeout: Duration::from_secs(60),
            exit_wait: Duration::from_secs(30),
        }
    }
}

/// Events of a running command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecEvent {
    /// The exec was created (its id identifies it to the engine).
    Created {
        /// Exec id.
        exec_id: String,
    },
    /// Output, as it arrived.
    Output {
        /// Which stream.
        stream: StreamKind,
        /// The bytes.
        data: Bytes,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stopped {
    TimedOut,
    Capped,
}

enum State {
    Create(CallOp<String>),
    Stream {
        ex: Exchange,
        head: Option<ResponseHead>,
        error_body: BytesMut,
    },
    CloseStream(Stopped),
    Kill(KillOp, Stopped),
    Inspect {
        call: CallOp<ExecInspect>,
        give_up: Instant,
        attempt: u32,
        killed: Option<Stopped>,
    },
    Backoff {
        until: Instant,
        give_up: Instant,
        attempt: u32,
        killed: Option<Stopped>,
    },
    /// The command died by a signal nobody in pocketdock sent: was it its container that
    /// stopped or went away under it? (Looked at until the engine's report settles.)
    CheckContainer {
        check: Box<ContainerCheckOp>,
        exit_code: i64,
    },
    /// The command was killed (137) in a container that still runs: did the kernel's
    /// out-of-memory killer do it? A helper reads the container's memory cgroup.
    OomCheck {
        op: Box<ExecOp>,
        exit_code: i64,
    },
    Finished,
}

/// A command run from start to exit code. See the module docs.
pub struct ExecOp {
    config: ExecConfig,
    state: State,
    demux: Demuxer,
    capture: Option<Capture>,
    events: VecDeque<ExecEvent>,
    exec_id: String,
    started: Option<Instant>,
    oom_killed: bool,
}

impl std::fmt::Debug for ExecOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecOp")
            .field("container", &self.config.container)
            .field("exec_id", &self.exec_id)
            .finish_non_exhaustive()
    }
}

impl ExecOp {
    /// Prepare the command; nothing happens until it is polled.
    pub fn new(mut config: ExecConfig) -> Self {
        config
            .spec
            .env
            .push(format!("{NONCE_VAR}={}", config.nonce));
        let create = super::calls::exec_create(&config.container, &config.spec)
            .with_timeout(Some(config.call_timeout));
        let mode = if config.spec.tty {
            DemuxMode::Raw
        } else {
            DemuxMode::Multiplexed
        };
        Self {
            capture: config.limit.map(if config.keep {
                Capture::new
            } else {
                Capture::passing
            }),
            state: State::Create(create),
            demux: Demuxer::new(mode),
            events: VecDeque::new(),
            exec_id: String::new(),
            started: None,
            oom_killed: false,
            config,
        }
    }

    /// The exec id, once created.
    pub fn exec_id(&self) -> &str {
        &self.exec_id
    }

    /// The nonce marking this command's processes.
    pub fn nonce(&self) -> &str {
        &self.config.nonce
    }

    fn inspect_call(&self) -> CallOp<ExecInspect> {
        super::calls::exec_inspect(&self.config.container, &self.exec_id)
            .with_timeout(Some(self.config.call_timeout))
    }

    fn finish(
        &mut self,
        now: Instant,
        exit_code: i64,
        killed: Option<Stopped>,
    ) -> Step<ExecEvent, ExecResult> {
        self.state = State::Finished;
        let (stdout, stderr, truncated, elided_bytes) = self
            .capture
            .take()
            .map_or((Vec::new(), Vec::new(), false, 0), Capture::finish);
        let duration = self
            .started
            .map_or(Duration::ZERO, |s| now.saturating_duration_since(s));
        Step::Done(Ok(ExecResult {
            exit_code: if killed.is_some() { -1 } else { exit_code },
            stdout,
            stderr,
            duration,
            timed_out: killed == Some(Stopped::TimedOut),
            truncated: truncated || killed == Some(Stopped::Capped),
            elided_bytes,
            usage: None,
            oom_killed: killed.is_none() && self.oom_killed,
        }))
    }

    /// The helper that reads the container's OOM-kill count (see [`OOM_SCRIPT`]).
    fn oom_check(&self) -> ExecOp {
        let spec = ExecSpec {
            cmd: vec!["sh".into(), "-c".into(), OOM_SCRIPT.into()],
            user: self.config.spec.user.clone(),
            ..ExecSpec::default()
        };
        let mut config = ExecConfig::new(
            &self.config.container,
            spec,
            format!("{}-oom", self.config.nonce),
        );
        config.timeout = Some(OOM_CHECK_TIMEOUT);
        config.limit = Some(OutputLimit {
            max_bytes: 256,
            policy: LimitPolicy::Stop,
        });
        config.call_timeout = self.config.call_timeout;
        ExecOp::new(config)
    }

    fn fail(&mut self, e: Error) -> Step<ExecEvent, ExecResult> {
        self.state = State::Finished;
        Step::Done(Err(e))
    }

    /// Feed stream bytes through the demuxer; returns `Some(Stopped::Capped)` when the cap says stop.
    fn take_output(&mut self, mut data: Bytes) -> Result<Option<Stopped>> {
        while let Some((kind, chunk)) = self.demux.next_chunk(&mut data)? {
            if chunk.is_empty() {
                continue;
            }
            let (chunk, verdict) = match self.capture.as_mut() {
                Some(c) => c.take(kind, chunk),
                None => (chunk, Captured::Continue),
            };
            if self.config.emit && !chunk.is_empty() {
                self.events.push_back(ExecEvent::Output {
                    stream: kind,
                    data: chunk,
                });
            }
            if verdict == Captured::Stop {
                return Ok(Some(Stopped::Capped));
            }
        }
        Ok(None)
    }

    /// The output has ended: hand out the tails a passing capture held back.
    fn hand_out_tails(&mut self) {
        let tails = self.capture.as_mut().map(Capture::take_tails);
        if self.config.emit {
            for (stream, data) in tails.into_iter().flatten() {
                self.events.push_back(ExecEvent::Output { stream, data });
            }
        }
    }
}

const BACKOFF_START: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_millis(200);

/// An exit code that says a signal ended the command (128 + the signal, as shells and both
/// engines report it): the one case where the container's own state may be the cause.
fn by_signal(code: i64) -> bool {
    code > 128 && code < 128 + 65
}

/// Prints the container's OOM-kill count (cgroup v2 `memory.events` or v1
/// `memory.oom_control`) and the count the previous look saw, which it records in a file of the
/// container: a kill counted since then was the out-of-memory killer's.
const OOM_SCRIPT: &str = r#"f=/sys/fs/cgroup/memory.events
[ -r "$f" ] || f=/sys/fs/cgroup/memory/memory.oom_control
n=$(sed -n 's/^oom_kill //p' "$f" 2>/dev/null | head -n 1)
s=/tmp/.pocketdock-oom-kills
o=$(cat "$s" 2>/dev/null)
echo "${n:-0}" > "$s" 2>/dev/null
echo "${n:-0} ${o:-0}""#;

/// The OOM helper's deadline: it reads two small files.
const OOM_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// The OOM helper's output says the count grew.
fn oom_counted(out: &[u8]) -> bool {
    let text = String::from_utf8_lossy(out);
    let mut it = text.split_whitespace().map(str::parse::<u64>);
    matches!((it.next(), it.next()), (Some(Ok(now)), Some(Ok(before))) if now > before)
}

fn backoff(attempt: u32) -> Duration {
    BACKOFF_START
        .saturating_mul(1u32 << attempt.min(8))
        .min(BACKOFF_MAX)
}

impl Operation for ExecOp {
    type Event = ExecEvent;
    type Output = ExecResult;

    #[expect(clippy::too_many_lines, reason = "one match arm per state of the exec")]
    fn poll(&mut self, now: Instant) -> Step<ExecEvent, ExecResult> {
        let started = *self.started.get_or_insert(now);
        loop {
            if let Some(ev) = self.events.pop_front() {
                return Step::Event(ev);
            }
            match &mut self.state {
                State::Create(call) => match call.poll(now) {
                    Step::Io(io) => return Step::Io(io),
                    Step::Event(()) => {}
                    Step::Done(Ok(id)) => {
                        self.exec_id.clone_from(&id);
                        let ex = start_exchange(
                            &id,
                            self.config.spec.tty,
                            // A timeout too large for the clock is no deadline.
                            self.config.timeout.and_then(|t| started.checked_add(t)),
                        );
                        self.state = State::Stream {
                            ex,
                            head: None,
                            error_body: BytesMut::new(),
                        };
                        self.events.push_back(ExecEvent::Created { exec_id: id });
                    }
                    Step::Done(Err(e)) => return self.fail(e),
                },
                State::Stream {
                    ex,
                    head,
                    error_body,
                } => match ex.poll(now) {
                    ExStep::Io(io) => return Step::Io(io),
                    ExStep::Head(h) => *head = Some(h),
                    ExStep::Data(d) => {
                        if !head.as_ref().is_some_and(start_accepted) {
                            keep_refusal(error_body, &d);
                            continue;
                        }
                        match self.take_output(d) {
                            Ok(None) => {}
                            Ok(Some(stop)) => self.state = State::CloseStream(stop),
                            Err(e) => return self.fail(e),
                        }
                    }
                    ExStep::End => {
                        let Some(h) = head.take() else {
                            return self.fail(crate::error::ProtocolError::EmptyResponse.into());
                        };
                        if !start_accepted(&h) {
                            let e = start_error(&self.config.container, &h, error_body);
                            return self.fail(e);
                        }
                        if let Err(e) = self.demux.finish() {
                            return self.fail(e.into());
                        }
                        self.hand_out_tails();
                        let call = self.inspect_call();
                        self.state = State::Inspect {
                            call,
                            give_up: now + self.config.exit_wait,
                            attempt: 0,
                            killed: None,
                        };
                        return Step::Io(Io::Close);
                    }
                    ExStep::Failed(Error::Timeout { .. }) => {
                        self.state = State::CloseStream(Stopped::TimedOut);
                    }
                    ExStep::Failed(e) => return self.fail(e),
                },
                State::CloseStream(stop) => {
                    let stop = *stop;
                    self.hand_out_tails();
                    let kill = KillOp::new(
                        &self.config.container,
                        &self.config.nonce,
                        "KILL",
                        self.config.spec.user.clone(),
                    );
                    self.state = State::Kill(kill, stop);
                    return Step::Io(Io::Close);
                }
                State::Kill(kill, stop) => match kill.poll(now) {
                    Step::Io(io) => return Step::Io(io),
                    Step::Event(()) => {}
                    Step::Done(result) => {
                        let stop = *stop;
                        if let Err(e) = result {
                            // The container may have gone: report that rather than the partial result.
                            if matches!(
                                e,
                                Error::ContainerNotFound(_) | Error::ContainerNotRunning(_)
                            ) {
                                return self.fail(e);
                            }
                        }
                        let call = self.inspect_call();
                        self.state = State::Inspect {
                            call,
                            give_up: now + Duration::from_secs(5),
                            attempt: 0,
                            killed: Some(stop),
                        };
                    }
                },
                State::Inspect {
                    call,
                    give_up,
                    attempt,
                    killed,
                } => match call.poll(now) {
                    Step::Io(io) => return Step::Io(io),
                    Step::Event(()) => {}
                    Step::Done(Ok(info)) => {
                        let (give_up, attempt, killed) = (*give_up, *attempt, *killed);
                        match info.exit_code {
                            Some(code) if !info.running && killed.is_none() && by_signal(code) => {
                                self.state = State::CheckContainer {
                                    check: Box::new(ContainerCheckOp::with_call_timeout(
                                        &self.config.container,
                                        self.config.call_timeout,
                                    )),
                                    exit_code: code,
                                };
                            }
                            Some(code) if !info.running => return self.finish(now, code, killed),
                            _ if now >= give_up => {
                                if killed.is_some() {
                                    return self.finish(now, -1, killed);
                                }
                                return self.fail(Error::Timeout {
                                    op: "exec exit code",
                                    after_ms: self.config.exit_wait.as_millis() as u64,
                                });
                            }
                            _ => {
                                self.state = State::Backoff {
                                    until: now + backoff(attempt),
                                    give_up,
                                    attempt: attempt + 1,
                                    killed,
                                };
                            }
                        }
                    }
                    Step::Done(Err(Error::ContainerNotFound(id))) => {
                        // The exec existed, so the container did too: it vanished meanwhile.
                        return self.fail(Error::ContainerGone(id));
                    }
                    Step::Done(Err(e)) => return self.fail(e),
                },
                State::Backoff { until, .. } if now < *until => return Step::Io(Io::Wait(*until)),
                State::Backoff {
                    give_up,
                    attempt,
                    killed,
                    ..
                } => {
                    let (give_up, attempt, killed) = (*give_up, *attempt, *killed);
                    let call = self.inspect_call();
                    self.state = State::Inspect {
                        call,
                        give_up,
                        attempt,
                        killed,
                    };
                }
                State::CheckContainer { check, exit_code } => match check.poll(now) {
                    Step::Io(io) => return Step::Io(io),
                    Step::Event(()) => {}
                    Step::Done(Ok(())) => {
                        let code = *exit_code;
                        if code != 128 + 9 {
                            return self.finish(now, code, None);
                        }
                        let op = Box::new(self.oom_check());
                        self.state = State::OomCheck {
                            op,
                            exit_code: code,
                        };
                    }
                    Step::Done(Err(e)) => return self.fail(e),
                },
                State::OomCheck { op, exit_code } => match op.poll(now) {
                    Step::Io(io) => return Step::Io(io),
                    Step::Event(_) => {}
                    Step::Done(r) => {
                        let code = *exit_code;
                        self.oom_killed = r.is_ok_and(|r| oom_counted(&r.stdout));
                        return self.finish(now, code, None);
                    }
                },
                State::Finished => return Step::Done(Err(Error::polled_after_completion())),
            }
        }
    }

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        match &mut self.state {
            State::Create(c) => c.handle_input(now, data),
            State::Stream { ex, .. } => ex.handle_input(data),
            State::Kill(k, _) => k.handle_input(now, data),
            State::Inspect { call, .. } => call.handle_input(now, data),
            State::CheckContainer { check, .. } => check.handle_input(now, data),
            State::OomCheck { op, .. } => op.handle_input(now, data),
            _ => {}
        }
    }

    fn handle_bytes(&mut self, now: Instant, data: Bytes) {
        match &mut self.state {
            State::Create(c) => c.handle_bytes(now, data),
            State::Stream { ex, .. } => ex.handle_bytes(data),
            State::Kill(k, _) => k.handle_bytes(now, data),
            State::Inspect { call, .. } => call.handle_bytes(now, data),
            State::CheckContainer { check, .. } => check.handle_bytes(now, data),
            State::OomCheck { op, .. } => op.handle_bytes(now, data),
            _ => {}
        }
    }

    fn handle_eof(&mut self, now: Instant) {
        match &mut self.state {
            State::Create(c) => c.handle_eof(now),
            State::Stream { ex, .. } => ex.handle_eof(),
            State::Kill(k, _) => k.handle_eof(now),
            State::Inspect { call, .. } => call.handle_eof(now),
            State::CheckContainer { check, .. } => check.handle_eof(now),
            State::OomCheck { op, .. } => op.handle_eof(now),
            _ => {}
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match &mut self.state {
            State::Create(c) => c.handle_timeout(now),
            State::Stream { ex, .. } => {
                ex.handle_timeout(now);
            }
            State::Kill(k, _) => k.handle_timeout(now),
            State::Inspect { call, .. } => call.handle_timeout(now),
            State::CheckContainer { check, .. } => check.handle_timeout(now),
            State::OomCheck { op, .. } => op.handle_timeout(now),
            _ => {}
        }
    }
}
