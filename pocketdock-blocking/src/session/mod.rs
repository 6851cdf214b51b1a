//! Sessions: a persistent shell in the container whose state (working directory, environment,
//! shell variables and functions) carries over from one command to the next.
//!
//! The shell (`bash` when the image has it, else `sh`) runs with stdin attached and no TTY:
//! through the in-sandbox agent when it is up on the container's handle and can run it (a
//! command of the agent, its stdin in frames: opening the session and interrupting its
//! commands then take no engine exec), else as one engine exec on its own hijacked connection.
//! Every rule (turns, the sentinel protocol, deadlines, interrupting a command, ending a stuck
//! shell) is the proto [`SessionMachine`]; this module is the public facade and `io` does what
//! the machine asks: a reader thread feeds it the shell's output, and each caller writes its
//! own command through a second handle on the same link (`link`) and runs the calls the
//! machine hands it.

mod io;
mod link;

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use pocketdock_proto::session::attach::AttachConfig;
use pocketdock_proto::session::{
    check_started, ended_shell, Closing, SessionMachine, SessionOptions, START_TIMEOUT,
};
use pocketdock_proto::{Error, ExecResult, Result};

use crate::container::Container;
use crate::engine::{random_u64, Engine};
pub(crate) use io::attach;
use io::{agent_reader_main, reader_main, Shared};
use link::ShellLink;
use pocketdock_host::owner::{owned_nonce, record_commands, CommandRecord};

/// A persistent shell in a container. See [`Container::session`].
///
/// All methods take `&self`: a session may be shared between threads. `send_and_wait` calls
/// from several threads run one after another (a waiting call's timeout covers its wait for
/// its turn). Dropping the session closes it.
pub struct Session {
    id: String,
    engine: Engine,
    shared: Arc<Shared>,
    writer: Mutex<Option<ShellLink>>,
    /// The same link, to end it without waiting for a writer.
    link: ShellLink,
    reader: Mutex<Option<JoinHandle<()>>>,
    reader_id: ThreadId,
    /// [`SessionOptions::echo_command_output`].
    echo: bool,
    /// `logs/session-<ts>.log` and `history.jsonl` of a project's persistent container.
    log: Option<crate::logging::SessionLog>,
    /// This process's record of running commands in the container, for as long as the shell
    /// may run them.
    _running: CommandRecord,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = self.shared.lock();
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("closed", &m.is_closed())
            .field("ended", &m.has_ended())
            .field("exit_code", &m.exit_code())
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
        // The owner's token in the nonce, and a record of where it runs: should this process
        // die with the shell's command running, a later start finds and kills it.
        let session_nonce = owned_nonce();
        let config = opts.shell_config(&self.id, &session_nonce)?;
        let running = record_commands(
            self.engine.socket(),
            &self.id,
            opts.user.as_deref().unwrap_or(""),
        );
        let shared = Arc::new(Shared {
            machine: Mutex::new(SessionMachine::new(opts, &self.id, &session_nonce)),
            changed: Condvar::new(),
            callbacks: Mutex::new(Vec::new()),
        });
        let reader = std::thread::Builder::new().name("pocketdock-session".into());
        // Through the agent when it is up and can run this shell; else (no agent, one that
        // cannot run it or has just gone) the engine path.
        let (exec_id, link, thread) =
            if let Some(Ok((stream, input))) = self.shell_through_agent(&config) {
                let shared = Arc::clone(&shared);
                let thread = reader
                    .spawn(move || agent_reader_main(stream, &shared))
                    .map_err(Error::Io)?;
                (input.name(), ShellLink::Agent(input), thread)
            } else {
                let (driver, exec_id, conn) = attach(
                    &self.engine,
                    AttachConfig::new(&self.id, config.spec, &session_nonce),
                )?;
                let shared = Arc::clone(&shared);
                let engine = self.engine.clone();
                let container = self.id.clone();
                let id = exec_id.clone();
                let thread = reader
                    .spawn(move || reader_main(driver, shared, engine, container, id))
                    .map_err(Error::Io)?;
                (exec_id, ShellLink::Engine(conn), thread)
            };
        let writer = link.try_clone().map_err(Error::Io)?;
        let log = self.instance_log().map(|l| l.session(&exec_id));
        let session = Session {
            id: exec_id,
            engine: self.engine.clone(),
            shared,
            writer: Mutex::new(Some(writer)),
            link,
            reader_id: thread.thread().id(),
            reader: Mutex::new(Some(thread)),
            echo: opts.echo_command_output,
            log,
            _running: running,
        };
        if let Some(l) = session.log.clone() {
            session.on_output(move |text| l.output(text.as_bytes()));
        }
        check_started(&session.run_command("", Some(START_TIMEOUT))?)?;
        if let ShellLink::Agent(input) = &session.link {
            if let Some(pid) = input.pid() {
                session.shared.lock().set_shell_pid(pid);
            }
        }
        Ok(session)
    }
}

impl Session {
    /// The exec id of the shell (`agent:<n>` for a shell the agent runs).
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
        let ticket = {
            let mut m = self.shared.lock();
            if self.on_reader() && !m.gone() && m.is_busy() {
                return Err(Error::invalid(
                    "session",
                    "send cannot wait for a running send_and_wait from an on_output callback",
                ));
            }
            m.send(command, Instant::now(), random_u64())?
        };
        self.drive(ticket)?;
        if let Some(l) = &self.log {
            l.send(command);
        }
        Ok(())
    }

    /// Write `text` and a newline to the shell's stdin, unchanged (the Python pocketdock's
    /// `send`): input for an interactive program started with `send_input` (a command run by
    /// [`send`](Self::send) or [`send_and_wait`](Self::send_and_wait) reads `/dev/null`), or
    /// a raw shell line. Output it causes is attributed like any output: to a `send_and_wait`
    /// that is running when it arrives, else to [`read`](Self::read).
    pub fn send_input(&self, text: &str) -> Result<()> {
        let mut writer = self.writer_lock();
        let bytes = self.shared.lock().send_input(text)?;
        let link = writer.as_mut().ok_or(Error::SessionClosed)?;
        link.write_all(&bytes).map_err(|e| self.write_error(&e))?;
        if let Some(l) = &self.log {
            l.send(text);
        }
        Ok(())
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
    /// within [`INTERRUPT_GRACE`](crate::INTERRUPT_GRACE), it is killed and the session ends.
    ///
    /// If the command ends the shell (`exit 3`, `exec`, `set -e` and a failure), the result has
    /// the shell's exit code and later calls return [`Error::SessionClosed`].
    ///
    /// Errors: [`Error::SessionClosed`] after [`close`](Self::close) or once the shell has
    /// ended; [`Error::Timeout`] when the timeout passed while waiting for another thread's
    /// command to finish (this one never ran); invalid input for a NUL byte in `command`, a
    /// zero timeout, or a call from an [`on_output`](Self::on_output) callback.
    pub fn send_and_wait(&self, command: &str, timeout: Option<Duration>) -> Result<ExecResult> {
        if self.on_reader() {
            return Err(Error::invalid(
                "session",
                "send_and_wait cannot be called from an on_output callback",
            ));
        }
        let Some(log) = &self.log else {
            return self.run_command(command, timeout);
        };
        let started = std::time::SystemTime::now();
        log.send(command);
        let result = self.run_command(command, timeout)?;
        log.command(command, started, &result, self.echo);
        Ok(result)
    }

    /// Take the output accumulated so far (stdout and stderr in arrival order, never a
    /// sentinel) as text. A character split at the end stays for the next call. Also works
    /// after the session ended, to collect its last output.
    pub fn read(&self) -> String {
        self.shared.lock().read_text()
    }

    /// Take the output accumulated so far as bytes.
    pub fn read_bytes(&self) -> Vec<u8> {
        self.shared.lock().read_bytes()
    }

    /// Bytes dropped from the [`read`](Self::read) buffer because it was full.
    pub fn dropped_output_bytes(&self) -> u64 {
        self.shared.lock().dropped_output_bytes()
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
        self.shared.lock().exit_code()
    }

    /// Why the shell's stream ended, when it was an error (the connection broke).
    pub fn end_error(&self) -> Option<String> {
        self.shared.lock().end_error().map(str::to_string)
    }

    /// End the session: the shell and everything it started are killed, the connection is
    /// closed and the reader thread is joined. The container is untouched. Idempotent; every
    /// later `send`/`send_and_wait` returns [`Error::SessionClosed`], and a `send_and_wait`
    /// waiting in another thread returns it too.
    ///
    /// Errors: only when the engine could not run the command that kills the shell (the
    /// session is closed anyway); a container that is gone or stopped is not an error.
    pub fn close(&self) -> Result<()> {
        let Closing::Closed { end_shell } = self.shared.lock().close() else {
            return Ok(());
        };
        self.shared.changed.notify_all();
        let killed = end_shell.map_or(Ok(()), |call| ended_shell(self.run_call(&call)));
        self.link.shut();
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
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.close();
    }
}
