//! The client side of a session as one state machine: whose turn it is to run a command, what
//! to write to the shell, when a command's deadline passed and what then (interrupt it, wait a
//! grace period, end the shell), and what each caller gets back.
//!
//! [`SessionMachine`] has one owner and no clock (`&mut self`, every time is an argument), in
//! the style of a sans-IO connection. An adapter keeps it behind its lock, feeds it from two
//! sides and does what it asks:
//!
//! * The reader of the shell's stream calls [`handle_output`](SessionMachine::handle_output)
//!   with every demultiplexed chunk (it returns the output for `on_output` callbacks) and
//!   [`handle_end`](SessionMachine::handle_end) when the stream ends, then reports the shell's
//!   exit code with [`handle_exit_code`](SessionMachine::handle_exit_code).
//! * A caller submits a command with [`send_and_wait`](SessionMachine::send_and_wait) or
//!   [`send`](SessionMachine::send) and gets a [`Ticket`]. It then calls
//!   [`poll_ticket`](SessionMachine::poll_ticket) until that says it is done, doing each
//!   [`TicketStep`] it is given: write the command's bytes to the shell's stdin (holding the
//!   adapter's writer, so bytes of two callers never interleave), run an engine call (the exec
//!   that interrupts a timed-out command, or the one that ends a stuck shell) and report its end
//!   with [`call_finished`](SessionMachine::call_finished). When `poll_ticket` has nothing to
//!   do, the caller waits until [`deadline`](SessionMachine::deadline) or until the adapter
//!   notifies it of a change (any call on the machine may change any ticket).
//! * A caller that goes away (an async future dropped) calls
//!   [`cancel`](SessionMachine::cancel), which may hand back a call to run in the background.
//!
//! Commands run one after another, in the order they were submitted (the turn). A
//! `send_and_wait` keeps the turn until its result is taken; a `send` until its bytes are
//! written.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::options::SessionOptions;
use super::scanner::{
    sentinel_token, CommandOutput, SessionConfig, SessionEvent, SessionScanner, MAX_ABANDONED,
};
use super::shell::{command_prefix, interrupt_config, InterruptMode, ShellId};
use super::text::incomplete_utf8_tail;
use crate::demux::StreamKind;
use crate::error::{Error, Result};
use crate::op::ExecConfig;
use crate::result::ExecResult;

/// How long a timed-out command may take to stop after its processes were killed before the
/// shell itself is considered stuck (a loop of shell builtins) and the session is ended.
pub const INTERRUPT_GRACE: Duration = Duration::from_secs(2);

/// Deadline of the start-up handshake: the first (empty) command, which checks that the shell
/// runs.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the reader waits for the engine to report the shell's exit code after it ended,
/// and how long `close` waits for the reader to finish.
pub const EXIT_WAIT: Duration = Duration::from_secs(10);

/// A caller's handle on one submitted command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ticket(u64);

/// An engine call a session needs: an exec that kills processes in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionCall {
    /// Kill the processes of the command `token`, written to the shell `elapsed` ago; the shell
    /// survives.
    Interrupt {
        /// The command's token.
        token: String,
        /// How long ago the command was written.
        elapsed: Duration,
    },
    /// Kill the shell and everything it started: the session ends.
    EndShell,
}

/// What a caller does next for its [`Ticket`].
#[derive(Debug)]
pub enum TicketStep {
    /// It is this command's turn: take the adapter's writer, then
    /// [`take_write`](SessionMachine::take_write) and write what it gives.
    Write,
    /// Run this engine call (best effort), then [`call_finished`](SessionMachine::call_finished).
    Call(SessionCall),
    /// The end: the result of a `send_and_wait` (`Some`), or `Ok(None)` for a `send` whose
    /// bytes were written. The ticket is gone and the turn has passed on.
    Done(Result<Option<ExecResult>>),
}

/// What [`SessionMachine::close`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closing {
    /// `close` was called before: nothing to do.
    AlreadyClosed,
    /// Closed now; run `end_shell` (when the shell still ran) to kill it.
    Closed {
        /// [`SessionCall::EndShell`] when the shell was still running.
        end_shell: Option<SessionCall>,
    },
}

#[derive(Debug)]
enum Kind {
    /// `send_and_wait`: the result is wanted.
    Wait,
    /// `send`: fire and forget once written.
    Send,
}

#[derive(Debug)]
enum State {
    /// Waiting for the turn.
    Queued,
    /// Its turn; the caller has not taken the bytes yet.
    Turn,
    /// The caller is writing the bytes.
    Writing { token: String, written_at: Instant },
    /// Written; waiting for its end markers.
    Running { token: String, written_at: Instant },
    /// Its deadline passed; the interrupt call is handed out (`taken`) or about to be.
    Interrupting {
        token: String,
        written_at: Instant,
        taken: bool,
    },
    /// Interrupted; waiting (until `until`) for the shell to finish it.
    Grace { token: String, until: Instant },
    /// The shell is stuck: the end-shell call is handed out (`taken`) or about to be; then
    /// `result`.
    EndingShell {
        result: Result<ExecResult>,
        taken: bool,
    },
    /// The shell ended during the command: waiting for its exit code.
    AwaitExit { output: CommandOutput, at: Instant },
    /// Finished; the caller has not taken the result yet.
    Done(Result<Option<ExecResult>>),
}

#[derive(Debug)]
struct Entry {
    ticket: Ticket,
    kind: Kind,
    command: String,
    random: u64,
    started: Instant,
    deadline: Option<Instant>,
    timeout: Option<Duration>,
    state: State,
}

impl Entry {
    fn token(&self) -> Option<&str> {
        match &self.state {
            State::Writing { token, .. }
            | State::Running { token, .. }
            | State::Interrupting { token, .. }
            | State::Grace { token, .. } => Some(token),
            _ => None,
        }
    }
}

/// The session's client side; see the module docs.
#[derive(Debug)]
pub struct SessionMachine {
    container: String,
    user: Option<String>,
    nonce: String,
    /// The shell's pid, when its starter reported it (the in-sandbox agent does).
    shell_pid: Option<u32>,
    scanner: SessionScanner,
    buffer: VecDeque<u8>,
    max_buffered: usize,
    dropped: u64,
    /// Every live ticket, in submission order; the first one that is not done or timed out in
    /// the queue holds the turn.
    entries: VecDeque<Entry>,
    next_ticket: u64,
    closed: bool,
    ended: bool,
    exit_known: bool,
    exit_code: Option<i64>,
    end_error: Option<String>,
}

impl SessionMachine {
    /// The client side of a new session in `container` whose shell was started with `opts` and
    /// `POCKETDOCK_EXEC=nonce` (the nonce its attach used).
    pub fn new(
        opts: &SessionOptions,
        container: impl Into<String>,
        nonce: impl Into<String>,
    ) -> Self {
        Self {
            container: container.into(),
            user: opts.user.clone(),
            nonce: nonce.into(),
            shell_pid: None,
            scanner: SessionScanner::new(SessionConfig {
                capture: opts.limit,
                max_queued_output: opts.max_buffered.max(1),
                echo_command_output: opts.echo_command_output,
            }),
            buffer: VecDeque::new(),
            max_buffered: opts.max_buffered,
            dropped: 0,
            entries: VecDeque::new(),
            next_ticket: 0,
            closed: false,
            ended: false,
            exit_known: false,
            exit_code: None,
            end_error: None,
        }
    }

    /// The shell's starter reported its pid (the in-sandbox agent does; an engine exec does
    /// not): interrupts name it instead of looking for the process whose parent is outside
    /// the sandbox.
    pub fn set_shell_pid(&mut self, pid: u32) {
        self.shell_pid = Some(pid);
    }

    // ----- callers ---------------------------------------------------------------------------

    /// Submit `command` to run and be waited for; its token comes from `random`. With a
    /// `timeout`, the command is interrupted once it passed (counted from `now`, the wait for
    /// the turn included).
    ///
    /// Errors: [`Error::SessionClosed`] once the session is closed or ended; invalid input for
    /// a zero timeout.
    pub fn send_and_wait(
        &mut self,
        command: &str,
        timeout: Option<Duration>,
        now: Instant,
        random: u64,
    ) -> Result<Ticket> {
        if timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::invalid("timeout", "must be greater than zero"));
        }
        self.submit(Kind::Wait, command, timeout, now, random)
    }

    /// Submit `command` to run without waiting for it: its output goes to general output, its
    /// end markers are swallowed. The ticket is done once its bytes are written.
    pub fn send(&mut self, command: &str, now: Instant, random: u64) -> Result<Ticket> {
        self.submit(Kind::Send, command, None, now, random)
    }

    fn submit(
        &mut self,
        kind: Kind,
        command: &str,
        timeout: Option<Duration>,
        now: Instant,
        random: u64,
    ) -> Result<Ticket> {
        if self.gone() {
            return Err(Error::SessionClosed);
        }
        let ticket = Ticket(self.next_ticket);
        self.next_ticket += 1;
        self.entries.push_back(Entry {
            ticket,
            kind,
            command: command.to_string(),
            random,
            started: now,
            // A timeout too large for the clock is no deadline.
            deadline: timeout.and_then(|t| now.checked_add(t)),
            timeout,
            state: State::Queued,
        });
        Ok(ticket)
    }

    /// The bytes that write `text` and a newline to the shell's stdin, unchanged (input for an
    /// interactive program); no turn is involved.
    pub fn send_input(&self, text: &str) -> Result<Bytes> {
        if self.gone() {
            return Err(Error::SessionClosed);
        }
        self.scanner.send_line(text)
    }

    /// True while some command holds or waits for the turn.
    pub fn is_busy(&self) -> bool {
        self.entries
            .iter()
            .any(|e| !matches!(e.state, State::Done(_)))
    }

    /// What the caller of `ticket` does next at `now`; `None`: wait until
    /// [`deadline`](Self::deadline) or a change. Once it returned [`TicketStep::Done`], the
    /// ticket is unknown (a later call gives `Done` with an invalid-input error).
    pub fn poll_ticket(&mut self, ticket: Ticket, now: Instant) -> Option<TicketStep> {
        let Some(index) = self.index(ticket) else {
            return Some(TicketStep::Done(Err(unknown_ticket())));
        };
        let has_turn = self.holds_turn(index);
        let gone = self.gone();
        let entry = &mut self.entries[index];
        let past = |d: Option<Instant>| d.is_some_and(|d| now >= d);
        match &mut entry.state {
            State::Queued | State::Turn if gone => {
                entry.state = State::Done(Err(Error::SessionClosed));
            }
            State::Queued if has_turn => {
                entry.state = State::Turn;
                return Some(TicketStep::Write);
            }
            State::Queued if past(entry.deadline) => {
                entry.state = State::Done(Err(Error::Timeout {
                    op: "session send_and_wait (waiting for the previous command)",
                    after_ms: entry.timeout.map_or(0, |t| t.as_millis() as u64),
                }));
            }
            State::Turn => return Some(TicketStep::Write),
            State::Running { token, written_at } if past(entry.deadline) => {
                entry.state = State::Interrupting {
                    token: std::mem::take(token),
                    written_at: *written_at,
                    taken: false,
                };
            }
            State::Grace { token, until } if now >= *until => {
                let partial = self.scanner.abandon(token);
                let started = entry.started;
                entry.state = State::EndingShell {
                    result: partial
                        .map(|out| timed_out(out, now - started))
                        .ok_or(Error::SessionClosed),
                    taken: false,
                };
            }
            _ => {}
        }
        let entry = &mut self.entries[index];
        match &mut entry.state {
            State::Interrupting {
                token,
                written_at,
                taken,
            } if !*taken => {
                *taken = true;
                Some(TicketStep::Call(SessionCall::Interrupt {
                    token: token.clone(),
                    elapsed: now.saturating_duration_since(*written_at),
                }))
            }
            State::EndingShell { taken, .. } if !*taken => {
                *taken = true;
                Some(TicketStep::Call(SessionCall::EndShell))
            }
            State::Done(_) => {
                let entry = self.entries.remove(index)?;
                match entry.state {
                    State::Done(result) => Some(TicketStep::Done(result)),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The next time at which [`poll_ticket`](Self::poll_ticket) for `ticket` may have news
    /// without any other change: its deadline, or the end of its grace period.
    pub fn deadline(&self, ticket: Ticket) -> Option<Instant> {
        let entry = self.entries.iter().find(|e| e.ticket == ticket)?;
        match &entry.state {
            State::Queued | State::Running { .. } => entry.deadline,
            State::Grace { until, .. } => Some(*until),
            _ => None,
        }
    }

    /// The bytes of `ticket`'s command, once, after [`TicketStep::Write`]: the caller writes
    /// them to the shell's stdin while it holds the writer, then reports with
    /// [`written`](Self::written). `None` when there is nothing to write (any more): poll again.
    pub fn take_write(&mut self, ticket: Ticket, now: Instant) -> Option<Bytes> {
        let index = self.index(ticket)?;
        let entry = &mut self.entries[index];
        if !matches!(entry.state, State::Turn) {
            return None;
        }
        if self.closed || self.ended {
            entry.state = State::Done(Err(Error::SessionClosed));
            return None;
        }
        let token = sentinel_token(entry.random);
        if matches!(entry.kind, Kind::Send) && self.scanner.abandoned_count() >= MAX_ABANDONED {
            entry.state = State::Done(Err(Error::invalid(
                "session",
                format!("{MAX_ABANDONED} commands sent earlier have not finished yet"),
            )));
            return None;
        }
        let text = format!("{}{}", command_prefix(&self.nonce, &token), entry.command);
        match self.scanner.command(&text, &token) {
            Ok(bytes) => {
                if matches!(entry.kind, Kind::Send) {
                    // Its end markers are swallowed and its output is general output from the
                    // start.
                    self.scanner.abandon(&token);
                }
                entry.state = State::Writing {
                    token,
                    written_at: now,
                };
                Some(bytes)
            }
            Err(e) => {
                entry.state = State::Done(Err(e));
                None
            }
        }
    }

    /// The write of `ticket`'s bytes ended with `outcome`. A `send` is done (its end markers
    /// will be swallowed); a `send_and_wait` now waits for its command to end. A failed write
    /// ends the ticket with that error.
    pub fn written(&mut self, ticket: Ticket, outcome: Result<()>) {
        let Some(index) = self.index(ticket) else {
            return;
        };
        let entry = &mut self.entries[index];
        let State::Writing { token, written_at } = &mut entry.state else {
            return;
        };
        let (token, written_at) = (std::mem::take(token), *written_at);
        entry.state = match (outcome, &entry.kind) {
            (Err(e), _) => {
                self.scanner.forget(&token);
                State::Done(Err(e))
            }
            (Ok(()), Kind::Send) => {
                self.scanner.abandon(&token);
                State::Done(Ok(None))
            }
            (Ok(()), Kind::Wait) => State::Running { token, written_at },
        };
    }

    /// The call handed out for `ticket` ended (whatever its outcome: the grace period decides
    /// whether the interrupt worked).
    pub fn call_finished(&mut self, ticket: Ticket, now: Instant) {
        let Some(index) = self.index(ticket) else {
            return;
        };
        let entry = &mut self.entries[index];
        match &mut entry.state {
            State::Interrupting {
                token, taken: true, ..
            } => {
                entry.state = State::Grace {
                    token: std::mem::take(token),
                    until: now + INTERRUPT_GRACE,
                };
            }
            State::EndingShell {
                result,
                taken: true,
            } => {
                let result = std::mem::replace(result, Err(Error::SessionClosed));
                entry.state = State::Done(result.map(Some));
            }
            _ => {}
        }
    }

    /// The caller of `ticket` went away. Its command is forgotten (whatever it still prints is
    /// general output); the call returned, if any, stops what it left running and is for the
    /// adapter to run in the background.
    pub fn cancel(&mut self, ticket: Ticket, now: Instant) -> Option<SessionCall> {
        let index = self.index(ticket)?;
        let entry = self.entries.remove(index)?;
        match entry.state {
            State::Writing { token, written_at }
            | State::Running { token, written_at }
            | State::Interrupting {
                token, written_at, ..
            } => {
                self.scanner.abandon(&token);
                (!self.gone()).then(|| SessionCall::Interrupt {
                    token,
                    elapsed: now.saturating_duration_since(written_at),
                })
            }
            State::Grace { token, .. } => {
                self.scanner.abandon(&token);
                None
            }
            State::EndingShell { .. } => Some(SessionCall::EndShell),
            _ => None,
        }
    }

    /// The engine call for `call`, an exec whose own marker is `nonce` (not one of the
    /// session's).
    pub fn exec_config(&self, call: &SessionCall, nonce: &str) -> ExecConfig {
        let (token, elapsed, mode) = match call {
            SessionCall::Interrupt { token, elapsed } => {
                (token.as_str(), *elapsed, InterruptMode::Command)
            }
            SessionCall::EndShell => ("", Duration::ZERO, InterruptMode::Session),
        };
        interrupt_config(
            &self.container,
            ShellId {
                nonce: &self.nonce,
                pid: self.shell_pid,
            },
            token,
            elapsed,
            mode,
            self.user.clone(),
            nonce,
        )
    }

    /// Close the session: every waiting ticket ends with [`Error::SessionClosed`] and later
    /// submissions are refused.
    pub fn close(&mut self) -> Closing {
        if self.closed {
            return Closing::AlreadyClosed;
        }
        self.closed = true;
        for entry in &mut self.entries {
            if let Some(token) = entry.token() {
                self.scanner.abandon(token);
            }
            // A stuck shell's caller still gets its partial result after the end-shell call.
            if !matches!(entry.state, State::Done(_) | State::EndingShell { .. }) {
                entry.state = State::Done(Err(Error::SessionClosed));
            }
        }
        Closing::Closed {
            end_shell: (!self.ended).then_some(SessionCall::EndShell),
        }
    }

    // ----- the reader ------------------------------------------------------------------------

    /// Output of the shell arrived at `now`. Returns the general output (never a sentinel), for
    /// `on_output` callbacks; it is also kept for [`read_text`](Self::read_text).
    pub fn handle_output(
        &mut self,
        now: Instant,
        stream: StreamKind,
        data: &[u8],
    ) -> Vec<(StreamKind, Bytes)> {
        self.scanner.feed(stream, data);
        self.drain(now)
    }

    /// The shell's stream ended at `now` (`error`: why, when it broke). Returns the last general
    /// output, and whether the reader should ask the engine for the shell's exit code (then
    /// report it with [`handle_exit_code`](Self::handle_exit_code); not after `close`).
    pub fn handle_end(
        &mut self,
        now: Instant,
        error: Option<String>,
    ) -> (Vec<(StreamKind, Bytes)>, bool) {
        self.scanner.finish();
        let general = self.drain(now);
        self.ended = true;
        self.end_error = error;
        if self.closed {
            self.handle_exit_code(None);
        }
        (general, !self.closed)
    }

    /// The engine reported the shell's exit code (`None`: it did not). A command that ended the
    /// shell gets it as its exit code.
    pub fn handle_exit_code(&mut self, code: Option<i64>) {
        self.exit_known = true;
        self.exit_code = code;
        let closed = self.closed;
        for entry in &mut self.entries {
            if let State::AwaitExit { output, at } = &mut entry.state {
                let duration = at.saturating_duration_since(entry.started);
                let output = std::mem::replace(output, empty_output());
                entry.state = State::Done(if closed {
                    Err(Error::SessionClosed)
                } else {
                    let mut r = output.into_exec_result(duration, false);
                    r.exit_code = code.unwrap_or(-1);
                    Ok(Some(r))
                });
            }
        }
    }

    fn drain(&mut self, now: Instant) -> Vec<(StreamKind, Bytes)> {
        let mut general = Vec::new();
        while let Some(ev) = self.scanner.next_event() {
            match ev {
                SessionEvent::Output { stream, data, .. } => {
                    self.buffer.extend(data.iter());
                    let over = self.buffer.len().saturating_sub(self.max_buffered);
                    if over > 0 {
                        self.buffer.drain(..over);
                        self.dropped += over as u64;
                    }
                    general.push((stream, data));
                }
                SessionEvent::Completed(out) => self.finished(out, true, now),
                SessionEvent::Unfinished(out) => self.finished(out, false, now),
            }
        }
        general
    }

    /// The command of `out.token` ended: by its end markers (`completed`) or with the shell.
    fn finished(&mut self, out: CommandOutput, completed: bool, now: Instant) {
        let Some(entry) = self
            .entries
            .iter_mut()
            .find(|e| e.token() == Some(out.token.as_str()))
        else {
            return;
        };
        let duration = now.saturating_duration_since(entry.started);
        entry.state = match &entry.state {
            State::Interrupting { .. } | State::Grace { .. } => {
                State::Done(Ok(Some(timed_out(out, duration))))
            }
            _ if completed => State::Done(Ok(Some(out.into_exec_result(duration, false)))),
            _ if self.exit_known => {
                let mut r = out.into_exec_result(duration, false);
                r.exit_code = self.exit_code.unwrap_or(-1);
                State::Done(Ok(Some(r)))
            }
            _ => State::AwaitExit {
                output: out,
                at: now,
            },
        };
    }

    // ----- what the session shows ----------------------------------------------------------

    /// Take the output kept so far as text; a character split at the end stays for the next
    /// call (unless the shell has ended).
    pub fn read_text(&mut self) -> String {
        let keep = if self.ended {
            0
        } else {
            incomplete_utf8_tail(self.buffer.make_contiguous())
        };
        let take = self.buffer.len() - keep;
        let bytes: Vec<u8> = self.buffer.drain(..take).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Take the output kept so far as bytes.
    pub fn read_bytes(&mut self) -> Vec<u8> {
        self.buffer.drain(..).collect()
    }

    /// Output bytes dropped because a bound was reached.
    pub fn dropped_output_bytes(&self) -> u64 {
        self.dropped + self.scanner.dropped_output_bytes()
    }

    /// Closed or ended: no more commands.
    pub fn gone(&self) -> bool {
        self.closed || self.ended
    }

    /// [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The shell's stream ended.
    pub fn has_ended(&self) -> bool {
        self.ended
    }

    /// The reader is done with the exit code (known or not).
    pub fn exit_known(&self) -> bool {
        self.exit_known
    }

    /// The shell's exit code, once the reader learned it.
    pub fn exit_code(&self) -> Option<i64> {
        if self.exit_known {
            self.exit_code
        } else {
            None
        }
    }

    /// Why the stream ended, when it was an error.
    pub fn end_error(&self) -> Option<&str> {
        self.end_error.as_deref()
    }

    fn index(&self, ticket: Ticket) -> Option<usize> {
        self.entries.iter().position(|e| e.ticket == ticket)
    }

    /// True when the entry at `index` is the first one still in line for the turn.
    fn holds_turn(&self, index: usize) -> bool {
        self.entries.iter().position(|e| !is_out_of_line(&e.state)) == Some(index)
    }
}

/// A queued ticket that timed out or a finished one no longer holds or waits for the turn,
/// except a finished `send_and_wait` whose result was not taken yet (it keeps the turn so that
/// the next command cannot start before its caller saw the result).
fn is_out_of_line(state: &State) -> bool {
    matches!(state, State::Done(Err(_)))
}

fn timed_out(out: CommandOutput, duration: Duration) -> ExecResult {
    let mut r = out.into_exec_result(duration, true);
    r.exit_code = -1;
    r
}

fn empty_output() -> CommandOutput {
    CommandOutput {
        token: String::new(),
        exit_code: None,
        stdout: Vec::new(),
        stderr: Vec::new(),
        truncated: false,
        elided_bytes: 0,
    }
}

fn unknown_ticket() -> Error {
    Error::invalid("ticket", "unknown or already finished")
}

/// Why a session could not start, from the result of its first (empty) command: `Ok` when the
/// shell answered with exit code 0.
pub fn check_started(r: &ExecResult) -> Result<()> {
    if r.exit_code == 0 && !r.timed_out {
        return Ok(());
    }
    let message = if r.timed_out {
        "the shell did not answer".to_string()
    } else {
        format!(
            "the shell exited at start with code {}: {}",
            r.exit_code,
            r.stderr_str().trim()
        )
    };
    Err(Error::StreamFailed {
        op: "session start",
        message,
    })
}

/// The outcome of the call that ends the shell, as `close` reports it: a container that is gone
/// or stopped took the shell with it, so that is no error.
pub fn ended_shell(outcome: Result<()>) -> Result<()> {
    match outcome {
        Err(
            Error::ContainerNotFound(_) | Error::ContainerNotRunning(_) | Error::ContainerGone(_),
        ) => Ok(()),
        other => other,
    }
}

/// The error of a failed write to the shell's stdin: the session is closed when it was closed
/// or ended already (`gone`) or the connection is; anything else is a socket error.
pub fn write_error(e: &std::io::Error, gone: bool) -> Error {
    if gone
        || matches!(
            e.kind(),
            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::NotConnected
        )
    {
        Error::SessionClosed
    } else {
        Error::SocketCommunication(e.to_string())
    }
}
