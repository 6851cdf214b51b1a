//! Sessions: a persistent shell in the container whose state (working directory, environment,
//! shell variables and functions) carries over from one command to the next.
//!
//! The shell (`bash` when the image has it, else `sh`) runs with stdin attached and no TTY:
//! through the in-sandbox agent when it is up on the container's handle and can run it (a
//! command of the agent, its stdin in frames: opening the session and interrupting its
//! commands then take no engine exec), else as one engine exec on its own hijacked connection.
//! Every rule (turns, the sentinel protocol, deadlines, interrupting a command, ending a stuck
//! shell) is the proto [`SessionMachine`], the same as in every adapter; this module is the
//! public facade and `io` does what the machine asks: a reader ([`Runtime::spawn_reader`]: a
//! task on tokio, a thread of its own on smol) feeds it the shell's output, and each caller
//! writes its own command through the session's link (`link`) and runs the calls the machine
//! hands it.

mod io;
mod link;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use pocketdock_proto::session::attach::AttachConfig;
use pocketdock_proto::session::{
    check_started, ended_shell, Closing, SessionMachine, SessionOptions, EXIT_WAIT, START_TIMEOUT,
};
use pocketdock_proto::{Error, ExecResult, Result};

use crate::container::Container;
use crate::engine::{nonce, random_u64, Engine};
use crate::runtime::Runtime;
use crate::transport::comm;
use crate::watch::Watch;
pub(crate) use io::attach;
use io::{agent_reader_main, reader_main, Guarded, Shared};
use link::{run_call, ShellLink};
use pocketdock_host::owner::{owned_nonce, record_commands, CommandRecord};

/// A persistent shell in a container. See [`Container::session`].
///
/// All methods take `&self`: a session may be shared between tasks. `send_and_wait` calls
/// from several tasks run one after another (a waiting call's timeout covers its wait for its
/// turn). Dropping a `send_and_wait` future interrupts its command. Dropping the session closes
/// it (in the background; [`close`](Self::close) waits for it).
pub struct Session<R: Runtime> {
    id: String,
    engine: Engine<R>,
    shared: Arc<Shared<R>>,
    /// The shell's stdin and what ends it.
    link: ShellLink<R>,
    /// [`SessionOptions::echo_command_output`].
    echo: bool,
    /// `logs/session-<ts>.log` and `history.jsonl` of a project's persistent container.
    log: Option<crate::logging::SessionLog>,
    /// This process's record of running commands in the container, for as long as the shell
    /// may run them.
    _running: CommandRecord,
}

impl<R: Runtime> std::fmt::Debug for Session<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.shared.lock();
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("closed", &st.machine.is_closed())
            .field("ended", &st.machine.has_ended())
            .field("exit_code", &st.machine.exit_code())
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
            state: Watch::new(Guarded {
                machine: SessionMachine::new(opts, &self.id, &session_nonce),
                writing: false,
            }),
            callbacks: Mutex::new(Vec::new()),
        });
        // Through the agent when it is up and can run this shell; else (no agent, one that
        // cannot run it or has just gone) the engine path.
        let (exec_id, link) = if let Some(Ok((stream, input))) = self.shell_through_agent(&config) {
            R::spawn_reader(
                "pocketdock-session",
                agent_reader_main(stream, Arc::clone(&shared)),
            )
            .map_err(Error::Io)?;
            (input.name(), ShellLink::Agent(input))
        } else {
            let (driver, exec_id, conn) = attach(
                &self.engine,
                AttachConfig::new(&self.id, config.spec, &session_nonce),
            )
            .await?;
            let writer = R::writer(conn.try_clone().map_err(Error::Io)?).map_err(comm)?;
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
            (exec_id, ShellLink::Engine { writer, conn })
        };
        let log = self.log.as_ref().map(|l| l.session(&exec_id));
        let session = Session {
            id: exec_id,
            engine: self.engine.clone(),
            shared,
            link,
            echo: opts.echo_command_output,
            log,
            _running: running,
        };
        if let Some(l) = session.log.clone() {
            session.on_output(move |text| l.output(text.as_bytes()));
        }
        check_started(&session.run_command("", Some(START_TIMEOUT)).await?)?;
        if let ShellLink::Agent(input) = &session.link {
            if let Some(pid) = input.pid() {
                session.shared.update(|st| st.machine.set_shell_pid(pid));
            }
        }
        Ok(session)
    }
}

impl<R: Runtime> Session<R> {
    /// The exec id of the shell (`agent:<n>` for a shell the agent runs).
    pub fn id(&self) -> &str {
        &self.id
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
        let ticket = self
            .shared
            .update(|st| st.machine.send(command, R::now(), random_u64()))?;
        self.drive(ticket).await?;
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
    pub async fn send_input(&self, text: &str) -> Result<()> {
        let _writing = self.take_writer().await.ok_or(Error::SessionClosed)?;
        let bytes = self.shared.lock().machine.send_input(text)?;
        self.write(&bytes).await?;
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
    /// within [`INTERRUPT_GRACE`](crate::INTERRUPT_GRACE), it is killed and the session ends. Dropping the future
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
        let Some(log) = &self.log else {
            return self.run_command(command, timeout).await;
        };
        let started = std::time::SystemTime::now();
        log.send(command);
        let result = self.run_command(command, timeout).await?;
        log.command(command, started, &result, self.echo);
        Ok(result)
    }

    /// Take the output accumulated so far (stdout and stderr in arrival order, never a
    /// sentinel) as text. A character split at the end stays for the next call. Also works
    /// after the session ended, to collect its last output.
    pub fn read(&self) -> String {
        self.shared.lock().machine.read_text()
    }

    /// Take the output accumulated so far as bytes.
    pub fn read_bytes(&self) -> Vec<u8> {
        self.shared.lock().machine.read_bytes()
    }

    /// Bytes dropped from the [`read`](Self::read) buffer because it was full.
    pub fn dropped_output_bytes(&self) -> u64 {
        self.shared.lock().machine.dropped_output_bytes()
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
        self.shared.lock().machine.gone()
    }

    /// The shell's exit code, once it ended by itself (`exit 3` gives `Some(3)`); `None` while
    /// it runs, after [`close`](Self::close), or when the engine did not report it.
    pub fn exit_code(&self) -> Option<i64> {
        self.shared.lock().machine.exit_code()
    }

    /// Why the shell's stream ended, when it was an error (the connection broke).
    pub fn end_error(&self) -> Option<String> {
        self.shared.lock().machine.end_error().map(str::to_string)
    }

    /// End the session: the shell and everything it started are killed, the connection is
    /// closed and the reader is waited for. The container is untouched. Idempotent; every
    /// later `send`/`send_and_wait` returns [`Error::SessionClosed`], and a `send_and_wait`
    /// waiting in another task returns it too.
    ///
    /// Errors: only when the engine could not run the command that kills the shell (the
    /// session is closed anyway); a container that is gone or stopped is not an error.
    pub async fn close(&self) -> Result<()> {
        let Closing::Closed { end_shell } = self.shared.update(|st| st.machine.close()) else {
            return Ok(());
        };
        let killed = match end_shell {
            Some(call) => ended_shell(self.run_call(&call).await),
            None => Ok(()),
        };
        self.link.shut();
        let _ = self
            .shared
            .wait_for(Some(R::now() + EXIT_WAIT), |st| {
                st.machine.exit_known().then_some(())
            })
            .await;
        if let Some(l) = &self.log {
            l.close();
        }
        killed
    }
}

impl<R: Runtime> Drop for Session<R> {
    /// Closes the session: a `Drop` cannot await, so the shell is killed in the background
    /// ([`Runtime::spawn_cleanup`]); the connection is closed at once.
    fn drop(&mut self) {
        let end_shell = self.shared.update(|st| match st.machine.close() {
            Closing::AlreadyClosed => None,
            Closing::Closed { end_shell } => {
                Some(end_shell.map(|call| (st.machine.exec_config(&call, &nonce()), call)))
            }
        });
        let Some(end_shell) = end_shell else {
            return;
        };
        if let Some((config, call)) = end_shell {
            let (engine, agent) = (self.engine.clone(), self.link.agent());
            R::spawn_cleanup(async move {
                let _ = run_call(&engine, agent.as_ref(), &call, config).await;
            });
        }
        self.link.shut();
        if let Some(l) = &self.log {
            l.close();
        }
    }
}
