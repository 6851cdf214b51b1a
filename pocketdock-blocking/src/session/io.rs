//! The I/O a session's machine asks for, on threads: the attached exec, the reader thread that
//! feeds the shell's output to the machine, and the loop that writes a caller's command, runs
//! the engine calls that interrupt it and waits for its result.

use std::os::unix::net::UnixStream;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use pocketdock_proto::session::attach::{AttachConfig, AttachEvent, AttachOp, ExecWaitOp};
use pocketdock_proto::session::{
    write_error, OutputDecoders, OutputFn, SessionCall, SessionMachine, Ticket, TicketStep,
    EXIT_WAIT,
};
use pocketdock_proto::{Error, ExecResult, Result};

use super::link::ShellLink;
use super::Session;
use crate::agent::{AgentStream, Piece};
use crate::driver::{Driver, Progress};
use crate::engine::{nonce, random_u64, Engine};

/// Create and start an attached exec; returns the driver (to keep reading), the exec id and a
/// second handle on the connection (for writing stdin and shutting it down).
pub(crate) fn attach(
    engine: &Engine,
    config: AttachConfig,
) -> Result<(Driver<AttachOp>, String, UnixStream)> {
    let mut driver = Driver::new(AttachOp::new(config), engine.endpoint());
    loop {
        match driver.advance() {
            Progress::Event(AttachEvent::Attached { exec_id }) => {
                let conn = driver.transport().try_clone()?;
                return Ok((driver, exec_id, conn));
            }
            Progress::Event(AttachEvent::Output { .. }) => {}
            Progress::Done(Ok(())) => {
                return Err(Error::SocketCommunication(
                    "the exec stream ended before it was attached".into(),
                ))
            }
            Progress::Done(Err(e)) => return Err(e),
        }
    }
}

/// What the reader thread and the callers share: the proto machine behind a lock, a condition
/// variable that wakes every waiting caller at each change, and the output callbacks.
pub(super) struct Shared {
    pub(super) machine: Mutex<SessionMachine>,
    pub(super) changed: Condvar,
    pub(super) callbacks: Mutex<Vec<OutputFn>>,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, SessionMachine> {
        self.machine.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wait for a change, at most until `deadline`.
    fn wait<'a>(
        &self,
        guard: MutexGuard<'a, SessionMachine>,
        deadline: Option<Instant>,
    ) -> MutexGuard<'a, SessionMachine> {
        match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                self.changed
                    .wait_timeout(guard, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => self
                .changed
                .wait(guard)
                .unwrap_or_else(PoisonError::into_inner),
        }
    }

    fn callbacks(&self) -> Vec<OutputFn> {
        self.callbacks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The reader thread: feed output to the machine until the stream ends, then learn the shell's
/// exit code.
#[expect(
    clippy::needless_pass_by_value,
    reason = "the reader thread owns what it is given for its whole life"
)]
pub(super) fn reader_main(
    mut driver: Driver<AttachOp>,
    shared: Arc<Shared>,
    engine: Engine,
    container: String,
    exec_id: String,
) {
    let mut decoders = OutputDecoders::default();
    let outcome = loop {
        match driver.advance() {
            Progress::Event(AttachEvent::Output { stream, data }) => {
                let general = shared.lock().handle_output(Instant::now(), stream, &data);
                shared.changed.notify_all();
                decoders.deliver(&shared.callbacks(), &general, false);
            }
            Progress::Event(AttachEvent::Attached { .. }) => {}
            Progress::Done(r) => break r,
        }
    };
    drop(driver);
    let wants_exit = ended(&shared, &mut decoders, outcome.err().map(|e| e.to_string()));
    if wants_exit {
        let code = engine
            .drive(
                ExecWaitOp::new(&container, &exec_id, Some(EXIT_WAIT)),
                |()| {},
            )
            .ok();
        shared.lock().handle_exit_code(code);
        shared.changed.notify_all();
    }
}

/// The reader thread of a shell the agent runs: feed its output to the machine until it ends;
/// the agent reports its exit code with its end.
pub(super) fn agent_reader_main(mut stream: AgentStream, shared: &Shared) {
    let mut decoders = OutputDecoders::default();
    let outcome = loop {
        match stream.next() {
            Piece::Output(chunk) => {
                let general =
                    shared
                        .lock()
                        .handle_output(Instant::now(), chunk.stream, &chunk.data);
                shared.changed.notify_all();
                decoders.deliver(&shared.callbacks(), &general, false);
            }
            Piece::Done(r) => break r,
        }
    };
    drop(stream);
    // After `close` the stream ends because it was cancelled: that is no error of the shell.
    let closed = shared.lock().is_closed();
    let (error, code) = match outcome {
        Ok(r) => (None, Some(r.exit_code)),
        Err(_) if closed => (None, None),
        Err(e) => (Some(e.to_string()), None),
    };
    if ended(shared, &mut decoders, error) {
        shared.lock().handle_exit_code(code);
        shared.changed.notify_all();
    }
}

/// The shell's output ended (`error`: why, when it broke): tell the machine and the callbacks.
/// Returns whether its exit code is wanted.
fn ended(shared: &Shared, decoders: &mut OutputDecoders, error: Option<String>) -> bool {
    let (general, wants_exit) = shared.lock().handle_end(Instant::now(), error);
    shared.changed.notify_all();
    decoders.deliver(&shared.callbacks(), &general, true);
    wants_exit
}

impl Session {
    pub(super) fn run_command(
        &self,
        command: &str,
        timeout: Option<Duration>,
    ) -> Result<ExecResult> {
        let ticket =
            self.shared
                .lock()
                .send_and_wait(command, timeout, Instant::now(), random_u64())?;
        self.drive(ticket)?.ok_or(Error::SessionClosed)
    }

    /// Do what the machine asks for `ticket` until it is done: write its command (holding the
    /// writer), run the engine calls that interrupt it or end a stuck shell, wait for changes.
    pub(super) fn drive(&self, ticket: Ticket) -> Result<Option<ExecResult>> {
        let mut m = self.shared.lock();
        loop {
            match m.poll_ticket(ticket, Instant::now()) {
                None => {
                    let deadline = m.deadline(ticket);
                    m = self.shared.wait(m, deadline);
                    continue;
                }
                Some(TicketStep::Done(result)) => {
                    drop(m);
                    self.shared.changed.notify_all();
                    return result;
                }
                Some(TicketStep::Write) => {
                    drop(m);
                    self.write_turn(ticket);
                }
                Some(TicketStep::Call(call)) => {
                    drop(m);
                    // Best effort: if it fails, the machine's grace period decides.
                    let _ = self.run_call(&call);
                    self.shared.lock().call_finished(ticket, Instant::now());
                }
            }
            self.shared.changed.notify_all();
            m = self.shared.lock();
        }
    }

    /// Write `ticket`'s command, holding the writer so that commands are written in turn order.
    fn write_turn(&self, ticket: Ticket) {
        let mut writer = self.writer_lock();
        let Some(bytes) = self.shared.lock().take_write(ticket, Instant::now()) else {
            return;
        };
        let outcome = match writer.as_mut() {
            Some(link) => link.write_all(&bytes).map_err(|e| self.write_error(&e)),
            None => Err(Error::SessionClosed),
        };
        self.shared.lock().written(ticket, outcome);
    }

    /// Run `call` (best effort), through the shell's agent when it has one.
    pub(super) fn run_call(&self, call: &SessionCall) -> Result<()> {
        let config = self.shared.lock().exec_config(call, &nonce());
        self.link.run_call(&self.engine, call, config)
    }

    pub(super) fn on_reader(&self) -> bool {
        std::thread::current().id() == self.reader_id
    }

    pub(super) fn writer_lock(&self) -> MutexGuard<'_, Option<ShellLink>> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn write_error(&self, e: &std::io::Error) -> Error {
        write_error(e, self.shared.lock().gone())
    }
}
