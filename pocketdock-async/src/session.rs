//! Sessions: a persistent shell in the container whose state (working directory, environment,
//! shell variables and functions) carries over from one command to the next.
//!
//! The shell is one exec with stdin attached and no TTY (`bash` when the image has it, else
//! `sh`), on its own hijacked connection. A reader ([`Runtime::spawn_reader`]: a task on tokio,
//! a thread of its own on smol) feeds its demultiplexed output to the
//! proto [`SessionScanner`](pocketdock_proto::session::SessionScanner), which finds where each
//! command ends and its exit code; commands are written through a second handle on the same
//! connection. The shared state is [`pocketdock_proto::shell::SessionState`], the same as in
//! every adapter.

use std::marker::PhantomData;
use std::net::Shutdown;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use pocketdock_proto::api::exec::ExecSpec;
use pocketdock_proto::op::session::AttachEvent;
use pocketdock_proto::op::session::{
    command_prefix, interrupt_config, session_shell, AttachConfig, AttachOp, ExecWaitOp,
    InterruptMode,
};
use pocketdock_proto::op::ExecOp;
use pocketdock_proto::session::{sentinel_token, CommandOutput, MAX_ABANDONED};
use pocketdock_proto::shell::{Finish, OutputDecoders, SessionState};
pub use pocketdock_proto::shell::{SessionOptions, DEFAULT_SESSION_BUFFER};
use pocketdock_proto::{Error, ExecResult, Result, StreamKind};

use crate::container::Container;
use crate::driver::{Driver, Progress};
use crate::engine::{nonce, random_u64, Engine};
use crate::runtime::{timeout_at, Runtime};
use crate::transport::comm;

/// How long a timed-out command may take to stop after its processes were killed before the
/// shell itself is considered stuck (a loop of shell builtins) and the session is ended.
pub const INTERRUPT_GRACE: Duration = Duration::from_secs(2);

/// Deadline of the start-up handshake (the first command, which checks that the shell runs).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the reader waits for the engine to report the shell's exit code after it ended.
const EXIT_WAIT: Duration = Duration::from_secs(10);

type OutputFn = Arc<dyn Fn(&str) + Send + Sync>;

struct Shared<R> {
    runtime: PhantomData<fn() -> R>,
    state: Mutex<SessionState>,
    callbacks: Mutex<Vec<OutputFn>>,
}

impl<R: Runtime> Shared<R> {
    fn lock(&self) -> MutexGuard<'_, SessionState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wait until `f` answers, at most until `deadline` (`None` then).
    async fn wait_for<T>(
        &self,
        deadline: Option<Instant>,
        mut f: impl FnMut(&mut SessionState) -> Option<T>,
    ) -> Option<T> {
        let ready = std::future::poll_fn(|cx| self.lock().poll_until(cx, |st| f(st)));
        match deadline {
            Some(d) => timeout_at::<R, _>(d, ready).await,
            None => Some(ready.await),
        }
    }

    fn deliver(
        &self,
        decoders: &mut OutputDecoders,
        chunks: &[(StreamKind, bytes::Bytes)],
        flush: bool,
    ) {
        let callbacks = self
            .callbacks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
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

/// Create and start an attached exec; returns the driver (to keep reading), the exec id and a
/// second handle on the connection (for writing stdin and shutting it down).
pub(crate) async fn attach<R: Runtime>(
    engine: &Engine<R>,
    config: AttachConfig,
) -> Result<(Driver<AttachOp, R>, String, StdUnixStream)> {
    let mut driver = Driver::<_, R>::new(AttachOp::new(config), engine.socket());
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

/// The reader: feed output to the scanner until the stream ends, then learn the shell's exit
/// code.
async fn reader_main<R: Runtime>(
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
                let general = {
                    let mut st = shared.lock();
                    st.scanner.feed(stream, &data);
                    let general = st.drain();
                    st.notify();
                    general
                };
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
        st.notify();
        (general, st.closed)
    };
    shared.deliver(&mut decoders, &general, true);
    let code = if closed {
        None
    } else {
        engine
            .drive(
                ExecWaitOp::new(&container, &exec_id, Some(EXIT_WAIT)),
                |()| {},
            )
            .await
            .ok()
    };
    let mut st = shared.lock();
    st.exit_code = code;
    st.exit_known = true;
    st.notify();
}

/// Releases the `send_and_wait` turn, even when the future is dropped.
struct Turn<'a, R: Runtime>(&'a Shared<R>);

impl<R: Runtime> Drop for Turn<'_, R> {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.busy = false;
        st.notify();
    }
}

/// Releases the stdin writer, even when the future is dropped.
struct Writing<'a, R: Runtime>(&'a Shared<R>);

impl<R: Runtime> Drop for Writing<'_, R> {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.writing = false;
        st.notify();
    }
}

/// A command whose caller went away: forget it and interrupt it (handed to
/// [`Runtime::spawn_cleanup`]: a `Drop` cannot await), so it neither keeps running nor leaks
/// into a later result.
struct Pending<'a, R: Runtime> {
    session: &'a Session<R>,
    token: String,
    written_at: Instant,
    armed: bool,
}

impl<R: Runtime> Drop for Pending<'_, R> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        self.session.shared.lock().scanner.abandon(&self.token);
        let config = interrupt_config(
            &self.session.container,
            &self.session.nonce,
            &self.token,
            self.written_at.elapsed(),
            InterruptMode::Command,
            self.session.user.clone(),
            &nonce(),
        );
        let engine = self.session.engine.clone();
        R::spawn_cleanup(async move {
            let _ = engine.drive(ExecOp::new(config), |_| {}).await;
        });
    }
}

/// A persistent shell in a container. See [`Container::session`].
///
/// All methods take `&self`: a session may be shared between tasks. `send_and_wait` calls
/// from several tasks run one after another (a waiting call's timeout covers its wait for its
/// turn). Dropping a `send_and_wait` future interrupts its command. Dropping the session closes
/// it (in the background; [`close`](Self::close) waits for it).
pub struct Session<R: Runtime> {
    id: String,
    engine: Engine<R>,
    container: String,
    user: Option<String>,
    nonce: String,
    shared: Arc<Shared<R>>,
    writer: R::TtyWriter,
    conn: StdUnixStream,
    /// [`SessionOptions::echo_command_output`].
    echo: bool,
    /// `logs/session-<ts>.log` and `history.jsonl` of a project's persistent container.
    log: Option<crate::logging::SessionLog>,
}

impl<R: Runtime> std::fmt::Debug for Session<R> {
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

impl<R: Runtime> Container<R> {
    /// Open a persistent shell (`bash` if the image has it, else `sh`) with default options.
    ///
    /// ```no_run
    /// # async fn demo(c: pocketdock_async::Container<impl pocketdock_async::Runtime>) -> pocketdock_async::Result<()> {
    /// let s = c.session().await?;
    /// s.send_and_wait("cd /tmp", None).await?;
    /// let r = s.send_and_wait("pwd", None).await?;
    /// assert_eq!(r.stdout_str(), "/tmp\n");
    /// # Ok(()) }
    /// ```
    pub async fn session(&self) -> Result<Session<R>> {
        self.session_with(&SessionOptions::default()).await
    }

    /// Open a persistent shell with `opts`. Returns once the shell has run a first (empty)
    /// command, so a shell that cannot start is an error here. The reader is the runtime's
    /// background reader ([`Runtime::spawn_reader`]).
    pub async fn session_with(&self, opts: &SessionOptions) -> Result<Session<R>> {
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
        )
        .await?;
        let writer = R::writer(conn.try_clone().map_err(Error::Io)?).map_err(comm)?;
        let shared = Arc::new(Shared {
            runtime: PhantomData,
            state: Mutex::new(SessionState::new(opts)),
            callbacks: Mutex::new(Vec::new()),
        });
        R::spawn_reader(
            "pocketdock-session",
            reader_main(
                driver,
                Arc::clone(&shared),
                self.engine.clone(),
                self.id.clone(),
                exec_id.clone(),
            ),
        )
        .map_err(Error::Io)?;
        let log = self.log.as_ref().map(|l| l.session(&exec_id));
        let session = Session {
            id: exec_id,
            engine: self.engine.clone(),
            container: self.id.clone(),
            user: opts.user.clone(),
            nonce: session_nonce,
            shared,
            writer,
            conn,
            echo: opts.echo_command_output,
            log,
        };
        if let Some(l) = session.log.clone() {
            session.on_output(move |text| l.output(text.as_bytes()));
        }
        let r = session.run_command("", Some(START_TIMEOUT)).await?;
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

impl<R: Runtime> Session<R> {
    /// The exec id of the shell.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Write to the shell's stdin, one writer at a time.
    async fn write(&self, bytes: &[u8]) -> Result<()> {
        let got = self
            .shared
            .wait_for(None, |st| {
                if st.gone() {
                    Some(false)
                } else if st.writing {
                    None
                } else {
                    st.writing = true;
                    Some(true)
                }
            })
            .await;
        if got != Some(true) {
            return Err(Error::SessionClosed);
        }
        let _writing = Writing(&self.shared);
        R::write_shared(&self.writer, bytes)
            .await
            .map_err(|e| self.write_error(&e))
    }

    /// Run `command` in the shell without waiting for it. Its output (all of it, whatever
    /// [`SessionOptions::echo_command_output`] says) goes to [`read`](Self::read) and
    /// [`on_output`](Self::on_output), never into the result of a later
    /// [`send_and_wait`](Self::send_and_wait): the command is framed like those (its stdin is
    /// `/dev/null`, `cd` and `export` persist) and its end is recognised and swallowed. Commands
    /// run in the order they were sent; while a `send_and_wait` of another task runs, this
    /// waits for it to finish first. To type into an interactive program, use
    /// [`send_input`](Self::send_input).
    pub async fn send(&self, command: &str) -> Result<()> {
        let _turn = self.take_turn(None, None).await?;
        let token = sentinel_token(random_u64());
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
        self.write(&bytes).await?;
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
    pub async fn send_input(&self, text: &str) -> Result<()> {
        let bytes = {
            let st = self.shared.lock();
            if st.gone() {
                return Err(Error::SessionClosed);
            }
            st.scanner.send_line(text)?
        };
        self.write(&bytes).await?;
        if let Some(l) = &self.log {
            l.send(text);
        }
        Ok(())
    }

    /// Wait for the turn to run a command (another task's `send_and_wait` may hold it).
    async fn take_turn(
        &self,
        deadline: Option<Instant>,
        timeout: Option<Duration>,
    ) -> Result<Turn<'_, R>> {
        let got = self
            .shared
            .wait_for(deadline, |st| {
                if st.gone() {
                    Some(false)
                } else if st.busy {
                    None
                } else {
                    st.busy = true;
                    Some(true)
                }
            })
            .await;
        match got {
            Some(true) => Ok(Turn(&self.shared)),
            Some(false) => Err(Error::SessionClosed),
            None => Err(Error::Timeout {
                op: "session send_and_wait (waiting for the previous command)",
                after_ms: timeout.map_or(0, |t| t.as_millis() as u64),
            }),
        }
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
    /// within [`INTERRUPT_GRACE`], it is killed and the session ends. Dropping the future
    /// interrupts the command the same way (in the background).
    ///
    /// If the command ends the shell (`exit 3`, `exec`, `set -e` and a failure), the result has
    /// the shell's exit code and later calls return [`Error::SessionClosed`].
    ///
    /// Errors: [`Error::SessionClosed`] after [`close`](Self::close) or once the shell has
    /// ended; [`Error::Timeout`] when the timeout passed while waiting for another task's
    /// command to finish (this one never ran); invalid input for a NUL byte in `command` or a
    /// zero timeout.
    pub async fn send_and_wait(
        &self,
        command: &str,
        timeout: Option<Duration>,
    ) -> Result<ExecResult> {
        if timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::invalid("timeout", "must be greater than zero"));
        }
        let Some(log) = &self.log else {
            return self.run_command(command, timeout).await;
        };
        let started = std::time::SystemTime::now();
        log.send(command);
        let result = self.run_command(command, timeout).await?;
        if !self.echo {
            // Otherwise the output reached the log through the session's on_output callback.
            log.output(&result.stdout);
            log.output(&result.stderr);
        }
        log.command(command, started, &result);
        Ok(result)
    }

    async fn run_command(&self, command: &str, timeout: Option<Duration>) -> Result<ExecResult> {
        let started = Instant::now();
        let deadline = timeout.map(|t| started + t);
        let _turn = self.take_turn(deadline, timeout).await?;
        let token = sentinel_token(random_u64());
        let bytes = {
            let mut st = self.shared.lock();
            if st.gone() {
                return Err(Error::SessionClosed);
            }
            let text = format!("{}{command}", command_prefix(&self.nonce, &token));
            st.scanner.command(&text, &token)?
        };
        let mut pending = Pending {
            session: self,
            token: token.clone(),
            written_at: Instant::now(),
            armed: true,
        };
        if let Err(e) = self.write(&bytes).await {
            pending.armed = false;
            self.shared.lock().scanner.abandon(&token);
            return Err(e);
        }
        let got = self
            .shared
            .wait_for(deadline, |st| {
                if let Some(f) = st.take_finished(&token) {
                    return Some(Ok(f));
                }
                if st.closed {
                    st.scanner.abandon(&token);
                    return Some(Err(Error::SessionClosed));
                }
                None
            })
            .await;
        pending.armed = false;
        match got {
            None => {
                self.interrupt(&token, started, pending.written_at.elapsed())
                    .await
            }
            Some(Err(e)) => Err(e),
            Some(Ok(Finish::Completed(out))) => Ok(out.into_exec_result(started.elapsed(), false)),
            Some(Ok(Finish::Unfinished(out))) => {
                // The shell ended during the command: report its exit code.
                let known = self
                    .shared
                    .wait_for(None, |st| {
                        (st.exit_known || st.closed).then_some((st.closed, st.exit_code))
                    })
                    .await;
                match known {
                    Some((false, code)) => {
                        let mut r = out.into_exec_result(started.elapsed(), false);
                        r.exit_code = code.unwrap_or(-1);
                        Ok(r)
                    }
                    _ => Err(Error::SessionClosed),
                }
            }
        }
    }

    /// The deadline of command `token` passed: kill its processes and wait (at most
    /// [`INTERRUPT_GRACE`]) for the shell to finish it, so the result holds exactly what it
    /// printed. A shell that does not come back is killed: the session ends.
    async fn interrupt(
        &self,
        token: &str,
        started: Instant,
        elapsed: Duration,
    ) -> Result<ExecResult> {
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
        let _ = self.engine.drive(ExecOp::new(config), |_| {}).await;
        let timed_out = |out: CommandOutput| {
            let mut r = out.into_exec_result(started.elapsed(), true);
            r.exit_code = -1;
            r
        };
        let grace_end = Instant::now() + INTERRUPT_GRACE;
        let got = self
            .shared
            .wait_for(Some(grace_end), |st| match st.take_finished(token) {
                Some(Finish::Completed(out) | Finish::Unfinished(out)) => Some(Ok(out)),
                None if st.closed => {
                    st.scanner.abandon(token);
                    Some(Err(Error::SessionClosed))
                }
                None => None,
            })
            .await;
        match got {
            Some(Ok(out)) => Ok(timed_out(out)),
            Some(Err(e)) => Err(e),
            None => {
                let partial = self.shared.lock().scanner.abandon(token);
                let _ = self.end_shell().await;
                partial.map(timed_out).ok_or(Error::SessionClosed)
            }
        }
    }

    fn end_shell_config(&self) -> pocketdock_proto::op::ExecConfig {
        interrupt_config(
            &self.container,
            &self.nonce,
            "",
            Duration::ZERO,
            InterruptMode::Session,
            self.user.clone(),
            &nonce(),
        )
    }

    /// Kill the shell and everything it started (best effort).
    async fn end_shell(&self) -> Result<()> {
        self.engine
            .drive(ExecOp::new(self.end_shell_config()), |_| {})
            .await
            .map(|_| ())
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

    /// Call `f` with every piece of output as text, on the session's reader, as it arrives. A
    /// panicking callback is contained.
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

    /// Mark the session closed; true if the shell was still running.
    fn mark_closed(&self) -> Option<bool> {
        let mut st = self.shared.lock();
        if st.closed {
            return None;
        }
        st.closed = true;
        st.notify();
        Some(!st.ended)
    }

    /// End the session: the shell and everything it started are killed, the connection is
    /// closed and the reader is waited for. The container is untouched. Idempotent; every
    /// later `send`/`send_and_wait` returns [`Error::SessionClosed`], and a `send_and_wait`
    /// waiting in another task returns it too.
    ///
    /// Errors: only when the engine could not run the command that kills the shell (the
    /// session is closed anyway); a container that is gone or stopped is not an error.
    pub async fn close(&self) -> Result<()> {
        let Some(running) = self.mark_closed() else {
            return Ok(());
        };
        let killed = if running {
            match self.end_shell().await {
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
        let _ = self
            .shared
            .wait_for(Some(Instant::now() + EXIT_WAIT), |st| {
                st.exit_known.then_some(())
            })
            .await;
        if let Some(l) = &self.log {
            l.close();
        }
        killed
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

impl<R: Runtime> Drop for Session<R> {
    /// Closes the session: a `Drop` cannot await, so the shell is killed in the background
    /// ([`Runtime::spawn_cleanup`]); the connection is closed at once.
    fn drop(&mut self) {
        let Some(running) = self.mark_closed() else {
            return;
        };
        if running {
            let engine = self.engine.clone();
            let config = self.end_shell_config();
            R::spawn_cleanup(async move {
                let _ = engine.drive(ExecOp::new(config), |_| {}).await;
            });
        }
        let _ = self.conn.shutdown(Shutdown::Both);
        if let Some(l) = &self.log {
            l.close();
        }
    }
}
