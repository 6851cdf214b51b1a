//! Sessions: a persistent shell in the container whose state (working directory, environment,
//! shell variables and functions) carries over from one command to the next.
//!
//! The shell is one exec with stdin attached and no TTY (`bash` when the image has it, else
//! `sh`), on its own hijacked connection. A reader thread feeds its demultiplexed output to the
//! proto [`SessionScanner`], which finds where each command ends and its exit code (see
//! [`pocketdock_proto::session`] for the exact protocol and its limits); commands are written
//! through a second handle on the same connection, never from the reader thread.

use std::io::Write;
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use bytes::Bytes;
use pocketdock_proto::api::exec::ExecSpec;
use pocketdock_proto::op::session::{
    command_prefix, interrupt_config, session_shell, AttachConfig, AttachEvent, AttachOp,
    ExecWaitOp, InterruptMode,
};
use pocketdock_proto::op::ExecOp;
use pocketdock_proto::session::{sentinel_token, CommandOutput, MAX_ABANDONED};
use pocketdock_proto::shell::{Finish, OutputDecoders, SessionState};
use pocketdock_proto::{Error, ExecResult, Result, StreamKind};

use crate::container::Container;
use crate::driver::{Driver, Progress};
use crate::engine::{nonce, random_u64, Engine};

/// How long a timed-out command may take to stop after its processes were killed before the
/// shell itself is considered stuck (a loop of shell builtins) and the session is ended.
pub const INTERRUPT_GRACE: Duration = Duration::from_secs(2);

/// Deadline of the start-up handshake (the first command, which checks that the shell runs).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the reader waits for the engine to report the shell's exit code after it ended.
const EXIT_WAIT: Duration = Duration::from_secs(10);

pub use pocketdock_proto::shell::{SessionOptions, DEFAULT_SESSION_BUFFER};

pub(crate) use pocketdock_proto::run::validate_exec_options;

/// Create and start an attached exec; returns the driver (to keep reading), the exec id and a
/// second handle on the connection (for writing stdin and shutting it down).
pub(crate) fn attach(
    engine: &Engine,
    config: AttachConfig,
) -> Result<(Driver<AttachOp>, String, UnixStream)> {
    let mut driver = Driver::new(AttachOp::new(config), engine.socket());
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

type OutputFn = Arc<dyn Fn(&str) + Send + Sync>;

struct Shared {
    state: Mutex<SessionState>,
    cond: Condvar,
    callbacks: Mutex<Vec<OutputFn>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, SessionState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wait for a notification, at most until `deadline`.
    fn wait<'a>(
        &self,
        guard: MutexGuard<'a, SessionState>,
        deadline: Option<Instant>,
    ) -> MutexGuard<'a, SessionState> {
        match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                self.cond
                    .wait_timeout(guard, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => self
                .cond
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

    /// Hand `chunks` (and, with `flush`, what the decoders still hold) to the callbacks as text;
    /// a panicking callback is contained.
    fn deliver(&self, decoders: &mut OutputDecoders, chunks: &[(StreamKind, Bytes)], flush: bool) {
        let callbacks = self.callbacks();
        if callbacks.is_empty() {
            return;
        }
        for text in decoders.texts(chunks, flush) {
            for f in &callbacks {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&text)));
            }
        }
    }
}

/// The reader thread: feed output to the scanner until the stream ends, then learn the shell's
/// exit code.
#[expect(
    clippy::needless_pass_by_value,
    reason = "the reader thread owns what it is given for its whole life"
)]
fn reader_main(
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
                let general = {
                    let mut st = shared.lock();
                    st.scanner.feed(stream, &data);
                    st.drain()
                };
                shared.cond.notify_all();
                shared.deliver(&mut decoders, &general, false);
            }
            Progress::Event(AttachEvent::Attached { .. }) => {}
            Progress::Done(r) => break r,
        }
    };
    drop(driver);
    let (general, closed) = {
        let mut st = shared.lock();
        st.scanner.finish();
        let general = st.drain();
        st.ended = true;
        st.end_error = outcome.err().map(|e| e.to_string());
        (general, st.closed)
    };
    shared.cond.notify_all();
    shared.deliver(&mut decoders, &general, true);
    let code = if closed {
        None
    } else {
        engine
            .drive(
                ExecWaitOp::new(&container, &exec_id, Some(EXIT_WAIT)),
                |()| {},
            )
            .ok()
    };
    {
        let mut st = shared.lock();
        st.exit_code = code;
        st.exit_known = true;
    }
    shared.cond.notify_all();
}

/// Releases the `send_and_wait` turn, even on an early return.
struct Turn<'a>(&'a Shared);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.0.lock().busy = false;
        self.0.cond.notify_all();
    }
}

/// A persistent shell in a container. See [`Container::session`].
///
/// All methods take `&self`: a session may be shared between threads. `send_and_wait` calls
/// from several threads run one after another (a waiting call's timeout covers its wait for
/// its turn). Dropping the session closes it.
pub struct Session {
    id: String,
    engine: Engine,
    container: String,
    user: Option<String>,
    nonce: String,
    shared: Arc<Shared>,
    writer: Mutex<Option<UnixStream>>,
    conn: UnixStream,
    reader: Mutex<Option<JoinHandle<()>>>,
    reader_id: ThreadId,
    /// [`SessionOptions::echo_command_output`].
    echo: bool,
    /// `logs/session-<ts>.log` and `history.jsonl` of a project's persistent container.
    log: Option<crate::logging::SessionLog>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.shared.lock();
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("container", &self.container)
            .field("closed", &st.closed)
            .field("ended", &st.ended)
            .field("exit_code", &st.exit_code)
            .finish_non_exhaustive()
    }
}

impl Container {
    /// Open a persistent shell (`bash` if the image has it, else `sh`) with default options.
    ///
    /// ```no_run
    /// # fn main() -> pocketdock_blocking::Result<()> {
    /// # let c = pocketdock_blocking::create_new_container(Default::default())?;
    /// let s = c.session()?;
    /// s.send_and_wait("cd /tmp", None)?;
    /// let r = s.send_and_wait("pwd", None)?;
    /// assert_eq!(r.stdout_str(), "/tmp\n");
    /// # Ok(()) }
    /// ```
    pub fn session(&self) -> Result<Session> {
        self.session_with(&SessionOptions::default())
    }

    /// Open a persistent shell with `opts`. Returns once the shell has run a first (empty)
    /// command, so a shell that cannot start is an error here.
    pub fn session_with(&self, opts: &SessionOptions) -> Result<Session> {
        opts.validate()?;
        let spec = ExecSpec {
            cmd: session_shell(),
            env: opts.env.clone(),
            workdir: opts.workdir.clone(),
            user: opts.user.clone(),
            tty: false,
            stdin: true,
        };
        let session_nonce = nonce();
        let (driver, exec_id, conn) = attach(
            &self.engine,
            AttachConfig::new(&self.id, spec, &session_nonce),
        )?;
        let writer = conn.try_clone().map_err(Error::Io)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(SessionState::new(opts)),
            cond: Condvar::new(),
            callbacks: Mutex::new(Vec::new()),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            let engine = self.engine.clone();
            let container = self.id.clone();
            let exec_id = exec_id.clone();
            std::thread::Builder::new()
                .name("pocketdock-session".into())
                .spawn(move || reader_main(driver, shared, engine, container, exec_id))
                .map_err(Error::Io)?
        };
        let log = self.instance_log().map(|l| l.session(&exec_id));
        let session = Session {
            id: exec_id,
            engine: self.engine.clone(),
            container: self.id.clone(),
            user: opts.user.clone(),
            nonce: session_nonce,
            shared,
            writer: Mutex::new(Some(writer)),
            conn,
            reader_id: thread.thread().id(),
            reader: Mutex::new(Some(thread)),
            echo: opts.echo_command_output,
            log,
        };
        if let Some(l) = session.log.clone() {
            session.on_output(move |text| l.output(text.as_bytes()));
        }
        let r = session.run_command("", Some(START_TIMEOUT))?;
        if r.exit_code != 0 || r.timed_out {
            let detail = if r.timed_out {
                "the shell did not answer".to_string()
            } else {
                format!(
                    "the shell exited at start with code {}: {}",
                    r.exit_code,
                    r.stderr_str().trim()
                )
            };
            return Err(Error::StreamFailed {
                op: "session start",
                message: detail,
            });
        }
        Ok(session)
    }
}

impl Session {
    /// The exec id of the shell.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Run `command` in the shell without waiting for it. Its output (all of it, whatever
    /// [`SessionOptions::echo_command_output`] says) goes to [`read`](Self::read) and
    /// [`on_output`](Self::on_output), never into the result of a later
    /// [`send_and_wait`](Self::send_and_wait): the command is framed like those (its stdin is
    /// `/dev/null`, `cd` and `export` persist) and its end is recognised and swallowed. Commands
    /// run in the order they were sent. While a `send_and_wait` of another thread runs, this
    /// waits for it to finish first (from an `on_output` callback that is refused instead).
    /// To type into an interactive program, use [`send_input`](Self::send_input).
    pub fn send(&self, command: &str) -> Result<()> {
        let _turn = if std::thread::current().id() == self.reader_id {
            let mut st = self.shared.lock();
            if st.gone() {
                return Err(Error::SessionClosed);
            }
            if st.busy {
                return Err(Error::invalid(
                    "session",
                    "send cannot wait for a running send_and_wait from an on_output callback",
                ));
            }
            st.busy = true;
            Turn(&self.shared)
        } else {
            self.take_turn(None, None)?
        };
        let token = sentinel_token(random_u64());
        let mut writer = self.writer_lock();
        let bytes = {
            let mut st = self.shared.lock();
            if st.gone() {
                return Err(Error::SessionClosed);
            }
            if st.scanner.abandoned_count() >= MAX_ABANDONED {
                return Err(Error::invalid(
                    "session",
                    format!("{MAX_ABANDONED} commands sent earlier have not finished yet"),
                ));
            }
            let text = format!("{}{command}", command_prefix(&self.nonce, &token));
            let bytes = st.scanner.command(&text, &token)?;
            st.scanner.abandon(&token);
            bytes
        };
        let stream = writer.as_mut().ok_or(Error::SessionClosed)?;
        stream.write_all(&bytes).map_err(|e| self.write_error(&e))?;
        if let Some(l) = &self.log {
            l.send(command);
        }
        Ok(())
    }

    /// Write `text` and a newline to the shell's stdin, unchanged (the reference's `send`): input
    /// for an interactive program started with `send_input` (a command run by
    /// [`send`](Self::send) or [`send_and_wait`](Self::send_and_wait) reads `/dev/null`), or a
    /// raw shell line. Output it causes is attributed like any output: to a `send_and_wait`
    /// that is running when it arrives, else to [`read`](Self::read).
    pub fn send_input(&self, text: &str) -> Result<()> {
        let mut writer = self.writer_lock();
        let bytes = {
            let st = self.shared.lock();
            if st.gone() {
                return Err(Error::SessionClosed);
            }
            st.scanner.send_line(text)?
        };
        let stream = writer.as_mut().ok_or(Error::SessionClosed)?;
        stream.write_all(&bytes).map_err(|e| self.write_error(&e))?;
        if let Some(l) = &self.log {
            l.send(text);
        }
        Ok(())
    }

    /// Wait for the turn to run a command (another thread's `send_and_wait` may hold it).
    fn take_turn(&self, deadline: Option<Instant>, timeout: Option<Duration>) -> Result<Turn<'_>> {
        let mut st = self.shared.lock();
        loop {
            if st.gone() {
                return Err(Error::SessionClosed);
            }
            if !st.busy {
                break;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::Timeout {
                    op: "session send_and_wait (waiting for the previous command)",
                    after_ms: timeout.map_or(0, |t| t.as_millis() as u64),
                });
            }
            st = self.shared.wait(st, deadline);
        }
        st.busy = true;
        Ok(Turn(&self.shared))
    }

    /// Run `command` in the shell and wait for it: exact stdout and stderr (nothing added or
    /// removed, no trailing newline needed) and its exit code. The command's stdin is
    /// `/dev/null`. Multi-line commands, heredocs and unbalanced quotes work (the latter is a
    /// syntax error with exit code 2).
    ///
    /// With a `timeout` that passes, the command's processes are killed (the shell survives: its
    /// state stays), the result has `timed_out = true`, `exit_code = -1` and the output so far,
    /// and the session remains usable; whatever the killed command still prints never reaches a
    /// later result. If the shell itself is busy (a loop of builtins) and does not come back
    /// within [`INTERRUPT_GRACE`], it is killed and the session ends.
    ///
    /// If the command ends the shell (`exit 3`, `exec`, `set -e` and a failure), the result has
    /// the shell's exit code and later calls return [`Error::SessionClosed`].
    ///
    /// Errors: [`Error::SessionClosed`] after [`close`](Self::close) or once the shell has
    /// ended; [`Error::Timeout`] when the timeout passed while waiting for another thread's
    /// command to finish (this one never ran); invalid input for a NUL byte in `command`, a
    /// zero timeout, or a call from an [`on_output`](Self::on_output) callback.
    pub fn send_and_wait(&self, command: &str, timeout: Option<Duration>) -> Result<ExecResult> {
        if std::thread::current().id() == self.reader_id {
            return Err(Error::invalid(
                "session",
                "send_and_wait cannot be called from an on_output callback",
            ));
        }
        if timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::invalid("timeout", "must be greater than zero"));
        }
        let Some(log) = &self.log else {
            return self.run_command(command, timeout);
        };
        let started = std::time::SystemTime::now();
        log.send(command);
        let result = self.run_command(command, timeout)?;
        if !self.echo {
            // Otherwise the output reached the log through the session's on_output callback.
            log.output(&result.stdout);
            log.output(&result.stderr);
        }
        log.command(command, started, &result);
        Ok(result)
    }

    fn run_command(&self, command: &str, timeout: Option<Duration>) -> Result<ExecResult> {
        let started = Instant::now();
        let deadline = timeout.map(|t| started + t);
        let _turn = self.take_turn(deadline, timeout)?;
        let token = sentinel_token(random_u64());
        let written_at = {
            let mut writer = self.writer_lock();
            let bytes = {
                let mut st = self.shared.lock();
                if st.gone() {
                    return Err(Error::SessionClosed);
                }
                let text = format!("{}{command}", command_prefix(&self.nonce, &token));
                st.scanner.command(&text, &token)?
            };
            let written_at = Instant::now();
            let wrote = match writer.as_mut() {
                Some(stream) => stream.write_all(&bytes).map_err(|e| self.write_error(&e)),
                None => Err(Error::SessionClosed),
            };
            if let Err(e) = wrote {
                self.shared.lock().scanner.abandon(&token);
                return Err(e);
            }
            written_at
        };
        let mut st = self.shared.lock();
        loop {
            match st.take_finished(&token) {
                Some(Finish::Completed(out)) => {
                    return Ok(out.into_exec_result(started.elapsed(), false));
                }
                Some(Finish::Unfinished(out)) => {
                    // The shell ended during the command: report its exit code.
                    while !st.exit_known && !st.closed {
                        st = self.shared.wait(st, None);
                    }
                    if st.closed {
                        return Err(Error::SessionClosed);
                    }
                    let mut r = out.into_exec_result(started.elapsed(), false);
                    r.exit_code = st.exit_code.unwrap_or(-1);
                    return Ok(r);
                }
                None => {}
            }
            if st.closed {
                st.scanner.abandon(&token);
                return Err(Error::SessionClosed);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                drop(st);
                return self.interrupt(&token, started, written_at.elapsed());
            }
            st = self.shared.wait(st, deadline);
        }
    }

    /// The deadline of command `token` passed: kill its processes and wait (at most
    /// [`INTERRUPT_GRACE`]) for the shell to finish it, so the result holds exactly what it
    /// printed. A shell that does not come back is killed: the session ends.
    fn interrupt(&self, token: &str, started: Instant, elapsed: Duration) -> Result<ExecResult> {
        let config = interrupt_config(
            &self.container,
            &self.nonce,
            token,
            elapsed,
            InterruptMode::Command,
            self.user.clone(),
            &nonce(),
        );
        // Best effort: if it fails, the grace period below decides.
        let _ = self.engine.drive(ExecOp::new(config), |_| {});
        let timed_out = |out: CommandOutput| {
            let mut r = out.into_exec_result(started.elapsed(), true);
            r.exit_code = -1;
            r
        };
        let grace_end = Instant::now() + INTERRUPT_GRACE;
        let mut st = self.shared.lock();
        loop {
            match st.take_finished(token) {
                Some(Finish::Completed(out) | Finish::Unfinished(out)) => {
                    return Ok(timed_out(out))
                }
                None => {}
            }
            if st.closed {
                st.scanner.abandon(token);
                return Err(Error::SessionClosed);
            }
            if Instant::now() >= grace_end {
                let partial = st.scanner.abandon(token);
                drop(st);
                let _ = self.end_shell();
                return partial.map(timed_out).ok_or(Error::SessionClosed);
            }
            st = self.shared.wait(st, Some(grace_end));
        }
    }

    /// Kill the shell and everything it started (best effort).
    fn end_shell(&self) -> Result<()> {
        let config = interrupt_config(
            &self.container,
            &self.nonce,
            "",
            Duration::ZERO,
            InterruptMode::Session,
            self.user.clone(),
            &nonce(),
        );
        self.engine.drive(ExecOp::new(config), |_| {}).map(|_| ())
    }

    /// Take the output accumulated so far (stdout and stderr in arrival order, never a
    /// sentinel) as text. A character split at the end stays for the next call. Also works
    /// after the session ended, to collect its last output.
    pub fn read(&self) -> String {
        self.shared.lock().read_text()
    }

    /// Take the output accumulated so far as bytes.
    pub fn read_bytes(&self) -> Vec<u8> {
        self.shared.lock().buffer.drain(..).collect()
    }

    /// Bytes dropped from the [`read`](Self::read) buffer because it was full.
    pub fn dropped_output_bytes(&self) -> u64 {
        let st = self.shared.lock();
        st.dropped + st.scanner.dropped_output_bytes()
    }

    /// Call `f` with every piece of output as text, on the session's reader thread, as it
    /// arrives. A panicking callback is contained. `f` must not call
    /// [`send_and_wait`](Self::send_and_wait) (that is refused); [`send`](Self::send) is fine.
    pub fn on_output(&self, f: impl Fn(&str) + Send + Sync + 'static) {
        self.shared
            .callbacks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::new(f));
    }

    /// True after [`close`](Self::close) or once the shell has ended.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().gone()
    }

    /// The shell's exit code, once it ended by itself (`exit 3` gives `Some(3)`); `None` while
    /// it runs, after [`close`](Self::close), or when the engine did not report it.
    pub fn exit_code(&self) -> Option<i64> {
        let st = self.shared.lock();
        if st.exit_known {
            st.exit_code
        } else {
            None
        }
    }

    /// Why the shell's stream ended, when it was an error (the connection broke).
    pub fn end_error(&self) -> Option<String> {
        self.shared.lock().end_error.clone()
    }

    /// End the session: the shell and everything it started are killed, the connection is
    /// closed and the reader thread is joined. The container is untouched. Idempotent; every
    /// later `send`/`send_and_wait` returns [`Error::SessionClosed`], and a `send_and_wait`
    /// waiting in another thread returns it too.
    ///
    /// Errors: only when the engine could not run the command that kills the shell (the
    /// session is closed anyway); a container that is gone or stopped is not an error.
    pub fn close(&self) -> Result<()> {
        let running = {
            let mut st = self.shared.lock();
            if st.closed {
                return Ok(());
            }
            st.closed = true;
            !st.ended
        };
        self.shared.cond.notify_all();
        let killed = if running {
            match self.end_shell() {
                Err(
                    Error::ContainerNotFound(_)
                    | Error::ContainerNotRunning(_)
                    | Error::ContainerGone(_),
                ) => Ok(()),
                other => other,
            }
        } else {
            Ok(())
        };
        let _ = self.conn.shutdown(Shutdown::Both);
        if std::thread::current().id() != self.reader_id {
            let handle = self
                .reader
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(h) = handle {
                let _ = h.join();
            }
        }
        *self.writer_lock() = None;
        if let Some(l) = &self.log {
            l.close();
        }
        killed
    }

    fn writer_lock(&self) -> MutexGuard<'_, Option<UnixStream>> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_error(&self, e: &std::io::Error) -> Error {
        if self.shared.lock().gone()
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
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.close();
    }
}
