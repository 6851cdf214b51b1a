//! The I/O a session's machine asks for, on the runtime: the attached exec, the reader task
//! that feeds the shell's output to the machine, and the loop that writes a caller's command,
//! runs the engine calls that interrupt it and waits for its result (a dropped caller cancels
//! its ticket).

use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use pocketdock_proto::session::attach::{AttachConfig, AttachEvent, AttachOp, ExecWaitOp};
use pocketdock_proto::session::{
    write_error, OutputDecoders, OutputFn, SessionCall, SessionMachine, Ticket, TicketStep,
    EXIT_WAIT,
};
use pocketdock_proto::{Error, ExecResult, Result};

use super::link::run_call;
use super::Session;
use crate::agent::{AgentStream, Piece};
use crate::driver::{Driver, Progress};
use crate::engine::{nonce, random_u64, Engine};
use crate::runtime::Runtime;
use crate::watch::Watch;

/// The proto machine and whether a task is writing to the shell's stdin (writes are not
/// atomic), watched by the tasks waiting on them.
pub(super) struct Guarded {
    pub(super) machine: SessionMachine,
    pub(super) writing: bool,
}

pub(super) struct Shared<R> {
    pub(super) state: Watch<Guarded, R>,
    pub(super) callbacks: Mutex<Vec<OutputFn>>,
}

/// The session's calls reach the watched state directly (`shared.lock()`, `update`,
/// `wait_for`).
impl<R> std::ops::Deref for Shared<R> {
    type Target = Watch<Guarded, R>;

    fn deref(&self) -> &Watch<Guarded, R> {
        &self.state
    }
}

impl<R: Runtime> Shared<R> {
    fn callbacks(&self) -> Vec<OutputFn> {
        self.callbacks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Create and start an attached exec; returns the driver (to keep reading), the exec id and a
/// second handle on the connection (for writing stdin and shutting it down).
pub(crate) async fn attach<R: Runtime>(
    engine: &Engine<R>,
    config: AttachConfig,
) -> Result<(Driver<AttachOp, R>, String, StdUnixStream)> {
    let mut driver = Driver::<_, R>::new(AttachOp::new(config), engine.endpoint());
    loop {
        match driver.advance().await {
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

/// The reader: feed output to the machine until the stream ends, then learn the shell's exit
/// code.
pub(super) async fn reader_main<R: Runtime>(
    mut driver: Driver<AttachOp, R>,
    shared: Arc<Shared<R>>,
    engine: Engine<R>,
    container: String,
    exec_id: String,
) {
    let mut decoders = OutputDecoders::default();
    let outcome = loop {
        match driver.advance().await {
            Progress::Event(AttachEvent::Output { stream, data }) => {
                let general = shared.update(|st| st.machine.handle_output(R::now(), stream, &data));
                decoders.deliver(&shared.callbacks(), &general, false);
            }
            Progress::Event(AttachEvent::Attached { .. }) => {}
            Progress::Done(r) => break r,
        }
    };
    drop(driver);
    let error = outcome.err().map(|e| e.to_string());
    if ended(&shared, &mut decoders, error) {
        let code = engine
            .drive(
                ExecWaitOp::new(&container, &exec_id, Some(EXIT_WAIT)),
                |()| {},
            )
            .await
            .ok();
        shared.update(|st| st.machine.handle_exit_code(code));
    }
}

/// The reader of a shell the agent runs: feed its output to the machine until it ends; the
/// agent reports its exit code with its end.
pub(super) async fn agent_reader_main<R: Runtime>(
    mut stream: AgentStream<R>,
    shared: Arc<Shared<R>>,
) {
    let mut decoders = OutputDecoders::default();
    let outcome = loop {
        let (next, piece) = stream.next().await;
        stream = next;
        match piece {
            Piece::Output(chunk) => {
                let general = shared.update(|st| {
                    st.machine
                        .handle_output(R::now(), chunk.stream, &chunk.data)
                });
                decoders.deliver(&shared.callbacks(), &general, false);
            }
            Piece::Done(r) => break r,
        }
    };
    drop(stream);
    // After `close` the stream ends because it was cancelled: that is no error of the shell.
    let closed = shared.lock().machine.is_closed();
    let (error, code) = match outcome {
        Ok(r) => (None, Some(r.exit_code)),
        Err(_) if closed => (None, None),
        Err(e) => (Some(e.to_string()), None),
    };
    if ended(&shared, &mut decoders, error) {
        shared.update(|st| st.machine.handle_exit_code(code));
    }
}

/// The shell's output ended (`error`: why, when it broke): tell the machine and the callbacks.
/// Returns whether its exit code is wanted.
fn ended<R: Runtime>(
    shared: &Shared<R>,
    decoders: &mut OutputDecoders,
    error: Option<String>,
) -> bool {
    let (general, wants_exit) = shared.update(|st| st.machine.handle_end(R::now(), error));
    decoders.deliver(&shared.callbacks(), &general, true);
    wants_exit
}

/// Releases the stdin writer, even when the future is dropped.
pub(super) struct Writing<'a, R: Runtime>(&'a Shared<R>);

impl<R: Runtime> Drop for Writing<'_, R> {
    fn drop(&mut self) {
        self.0.update(|st| st.writing = false);
    }
}

/// A submitted command whose caller may go away: dropping the future cancels the ticket, and
/// the call that stops what it left running is handed to [`Runtime::spawn_cleanup`] (a `Drop`
/// cannot await), so it neither keeps running nor leaks into a later result.
struct Pending<'a, R: Runtime> {
    session: &'a Session<R>,
    ticket: Ticket,
    armed: bool,
}

impl<R: Runtime> Drop for Pending<'_, R> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let call = self.session.shared.update(|st| {
            let call = st.machine.cancel(self.ticket, R::now())?;
            Some((st.machine.exec_config(&call, &nonce()), call))
        });
        if let Some((config, call)) = call {
            let (engine, agent) = (self.session.engine.clone(), self.session.link.agent());
            R::spawn_cleanup(async move {
                let _ = run_call(&engine, agent.as_ref(), &call, config).await;
            });
        }
    }
}

impl<R: Runtime> Session<R> {
    /// Take the stdin writer (one task writes at a time); `None` once the session is gone.
    pub(super) async fn take_writer(&self) -> Option<Writing<'_, R>> {
        let got = self
            .shared
            .wait_for(None, |st| {
                if st.machine.gone() {
                    Some(false)
                } else if st.writing {
                    None
                } else {
                    st.writing = true;
                    Some(true)
                }
            })
            .await;
        (got == Some(true)).then_some(Writing(&self.shared))
    }

    /// Write `bytes` to the shell's stdin while holding the writer.
    pub(super) async fn write(&self, bytes: &[u8]) -> Result<()> {
        self.link
            .write_all(bytes)
            .await
            .map_err(|e| write_error(&e, self.shared.lock().machine.gone()))
    }

    pub(super) async fn run_command(
        &self,
        command: &str,
        timeout: Option<Duration>,
    ) -> Result<ExecResult> {
        let ticket = self.shared.update(|st| {
            st.machine
                .send_and_wait(command, timeout, R::now(), random_u64())
        })?;
        self.drive(ticket).await?.ok_or(Error::SessionClosed)
    }

    /// Do what the machine asks for `ticket` until it is done: write its command (holding the
    /// writer), run the engine calls that interrupt it or end a stuck shell, wait for changes.
    /// Dropping the future cancels the ticket.
    pub(super) async fn drive(&self, ticket: Ticket) -> Result<Option<ExecResult>> {
        let mut pending = Pending {
            session: self,
            ticket,
            armed: true,
        };
        loop {
            let deadline = self.shared.lock().machine.deadline(ticket);
            let step = self
                .shared
                .wait_for(deadline, |st| st.machine.poll_ticket(ticket, R::now()))
                .await;
            match step {
                // The deadline passed: the next poll acts on it.
                None => {}
                Some(TicketStep::Done(result)) => {
                    pending.armed = false;
                    self.shared.update(|_| ());
                    return result;
                }
                Some(TicketStep::Write) => self.write_turn(ticket).await,
                Some(TicketStep::Call(call)) => {
                    // Best effort: if it fails, the machine's grace period decides.
                    let _ = self.run_call(&call).await;
                    self.shared
                        .update(|st| st.machine.call_finished(ticket, R::now()));
                }
            }
        }
    }

    /// Write `ticket`'s command, holding the writer so that commands are written in turn order.
    async fn write_turn(&self, ticket: Ticket) {
        let writing = self.take_writer().await;
        let bytes = self
            .shared
            .update(|st| st.machine.take_write(ticket, R::now()));
        let Some(bytes) = bytes else {
            return;
        };
        let outcome = match writing {
            Some(_) => self.write(&bytes).await,
            None => Err(Error::SessionClosed),
        };
        self.shared.update(|st| st.machine.written(ticket, outcome));
    }

    /// Run `call` (best effort), through the shell's agent when it has one.
    pub(super) async fn run_call(&self, call: &SessionCall) -> Result<()> {
        let config = self.shared.lock().machine.exec_config(call, &nonce());
        let agent = self.link.agent();
        run_call(&self.engine, agent.as_ref(), call, config).await
    }
}
