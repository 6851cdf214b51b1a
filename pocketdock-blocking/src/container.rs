//! A sandbox container and the commands run in it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pocketdock_host::logging::{DetachHooks, RunRecord};
use pocketdock_host::sandbox::{created_at_now, record_new_id, Attached};
use pocketdock_proto::op::{calls, RecreateOp};
use pocketdock_proto::persistence::{shutdown_call, STOP_GRACE_SECS};
use pocketdock_proto::{Command, ExecResult, Result, RunOptions};

use crate::callbacks::Callbacks;
use crate::engine::{nonce, Engine};
use crate::lifecycle::DEFAULT_TIMEOUT;
use crate::logging::InstanceLog;
use crate::process::Process;
use crate::stream::ExecStream;

/// Default ring buffer capacity of detached processes (1 MiB).
pub const DEFAULT_BUFFER_CAPACITY: usize = 1024 * 1024;

/// A running sandbox. Every call goes to the engine live (nothing is cached).
///
/// An ephemeral container created by this handle is removed when the handle is dropped (or by
/// [`shutdown`](Self::shutdown)); a persistent one is only stopped by `shutdown` and left alone on
/// drop. Handles obtained by name ([`Engine::attach`], resume) never remove anything on drop.
#[derive(Debug)]
pub struct Container {
    pub(crate) engine: Engine,
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) persist: bool,
    pub(crate) project: String,
    pub(crate) data_path: String,
    /// The instance directory, once checked to be a real one of this container.
    pub(crate) instance_dir: Option<PathBuf>,
    /// The instance's logs (`None`: no instance directory, or `auto_log: false`).
    pub(crate) log: Option<InstanceLog>,
    pub(crate) default_timeout: Option<Duration>,
    pub(crate) buffer_capacity: usize,
    pub(crate) callbacks: Callbacks,
    pub(crate) closed: bool,
    /// Created by this handle: an ephemeral one is removed on drop.
    pub(crate) owned: bool,
}

impl Container {
    pub(crate) fn from_attached(engine: &Engine, attached: Attached, owned: bool) -> Self {
        let Attached {
            identity,
            instance_dir,
            log,
        } = attached;
        Self {
            engine: engine.clone(),
            id: identity.id,
            name: identity.name,
            persist: identity.persist,
            project: identity.project,
            data_path: identity.data_path,
            instance_dir,
            log,
            default_timeout: Some(DEFAULT_TIMEOUT),
            buffer_capacity: DEFAULT_BUFFER_CAPACITY,
            callbacks: Callbacks::default(),
            closed: false,
            owned,
        }
    }

    /// Full container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The pocketdock name (also the engine's container name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Does `shutdown` keep the container (stopped)?
    pub fn persist(&self) -> bool {
        self.persist
    }

    /// Project name, empty if none.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// The `pocketdock.data-path` label: the instance directory, empty if none (as labelled, not
    /// checked; see [`instance_dir`](Self::instance_dir)).
    pub fn data_path(&self) -> &str {
        &self.data_path
    }

    /// The instance directory (`<root>/.pocketdock/instances/<name>`) of a persistent container
    /// of a project, once checked to be a real instance directory of this container; its
    /// `logs/` receive the history of the commands run through this handle.
    pub fn instance_dir(&self) -> Option<&Path> {
        self.instance_dir.as_deref()
    }

    /// The instance's logs, for the session code (`None` when nothing is logged).
    #[allow(dead_code)] // used by the session code
    pub(crate) fn instance_log(&self) -> Option<&InstanceLog> {
        self.log.as_ref()
    }

    /// The engine socket.
    pub fn socket_path(&self) -> &std::path::Path {
        self.engine.socket()
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Default timeout of `run` (the reference's `timeout`, 30 s unless set).
    pub fn default_timeout(&self) -> Option<Duration> {
        self.default_timeout
    }

    /// Run a shell command (`sh -c`) to completion with the default options.
    ///
    /// ```no_run
    /// # fn main() -> pocketdock_blocking::Result<()> {
    /// let c = pocketdock_blocking::create_new_container(Default::default())?;
    /// let r = c.run("echo hello")?;
    /// assert_eq!(r.stdout_str(), "hello\n");
    /// # Ok(()) }
    /// ```
    pub fn run(&self, command: &str) -> Result<ExecResult> {
        self.run_with(command, &RunOptions::default())
    }

    /// Run a command (a string for the interpreter in `opts.lang`, or an argv) to completion.
    /// On timeout the command's whole process tree is killed and the output so far is kept
    /// (`timed_out`); past the output cap it is stopped (`truncated`) unless the policy says
    /// otherwise.
    ///
    /// In a project's persistent container, the run is logged (`logs/run-<ts>.log` and a
    /// `history.jsonl` line).
    pub fn run_with(&self, command: impl Into<Command>, opts: &RunOptions) -> Result<ExecResult> {
        let command = command.into();
        let config = opts.run_config(&self.id, &command, self.default_timeout, &nonce())?;
        let record = RunRecord::start(self.log.as_ref(), &command.display());
        let result = self.engine.exec(config, |_| {})?;
        record.finish(&result);
        Ok(result)
    }

    /// Run an argv without any shell.
    pub fn exec(&self, argv: &[&str], opts: &RunOptions) -> Result<ExecResult> {
        self.run_with(Command::from(argv), opts)
    }

    /// Run a command and iterate over its output as it arrives. The timeout and the cap apply.
    ///
    /// ```no_run
    /// # fn main() -> pocketdock_blocking::Result<()> {
    /// # let c = pocketdock_blocking::create_new_container(Default::default())?;
    /// let mut s = c.stream("for i in 1 2 3; do echo $i; sleep 1; done", &Default::default())?;
    /// for chunk in s.by_ref() {
    ///     print!("{}", chunk?.text());
    /// }
    /// assert_eq!(s.result().map(|r| r.exit_code), Some(0));
    /// # Ok(()) }
    /// ```
    ///
    /// In a project's persistent container, the run is logged when the stream ends.
    pub fn stream(&self, command: impl Into<Command>, opts: &RunOptions) -> Result<ExecStream> {
        let command = command.into();
        let config = opts.stream_config(&self.id, &command, self.default_timeout, &nonce())?;
        let user = config.spec.user.clone();
        let record = RunRecord::start(self.log.as_ref(), &command.display());
        let stream = ExecStream::new(
            self.engine.clone(),
            self.id.clone(),
            user,
            pocketdock_proto::op::ExecOp::new(config),
        );
        Ok(stream.on_finish(move |r| record.finish(r)))
    }

    /// Start a command that nobody watches: the engine runs it detached, nothing stays
    /// attached, and it keeps running after this process exits (a [`detach`](Self::detach)ed
    /// command is read by this process and ends its reading with it). Returns the engine's exec
    /// id. Its output is discarded (redirect it to a file in the command). Only `lang`, `env`,
    /// `workdir` and `user` of `opts` apply; a timeout or an output cap is
    /// [`Error::InvalidInput`](pocketdock_proto::Error::InvalidInput).
    ///
    /// ```no_run
    /// # fn main() -> pocketdock_blocking::Result<()> {
    /// # let c = pocketdock_blocking::create_new_container(Default::default())?;
    /// let id = c.spawn("python3 -m http.server 8000 >/tmp/http.log 2>&1", &Default::default())?;
    /// println!("started exec {id}");
    /// # Ok(()) }
    /// ```
    pub fn spawn(&self, command: impl Into<Command>, opts: &RunOptions) -> Result<String> {
        let spec = opts.spawn_spec(&command.into())?;
        let id = self
            .engine
            .call(calls::exec_create_detached(&self.id, &spec))?;
        self.engine
            .call(calls::exec_start_detached(&self.id, &id))?;
        Ok(id)
    }

    /// Start a command in the background. No timeout applies unless `opts.timeout` is set.
    ///
    /// ```no_run
    /// # fn main() -> pocketdock_blocking::Result<()> {
    /// # let c = pocketdock_blocking::create_new_container(Default::default())?;
    /// let p = c.detach("sleep 60", &Default::default())?;
    /// assert!(p.is_running());
    /// p.kill(9)?;
    /// let r = p.wait(None)?;
    /// assert!(!p.is_running());
    /// # Ok(()) }
    /// ```
    ///
    /// In a project's persistent container, the output goes to `logs/detach-<ts>.log` and the
    /// exit to a `history.jsonl` line.
    pub fn detach(&self, command: impl Into<Command>, opts: &RunOptions) -> Result<Process> {
        let command = command.into();
        let config = opts.detach_config(&self.id, &command, &nonce())?;
        let hooks = DetachHooks::new(&self.callbacks, self.log.as_ref(), &command.display());
        let process = Process::start(
            &self.engine,
            config,
            self.buffer_capacity,
            hooks.callbacks(),
        );
        hooks.started(process.as_ref().ok().map(Process::id));
        process
    }

    /// Register a callback for stdout of detached processes.
    pub fn on_stdout(&self, f: impl Fn(&[u8]) + Send + Sync + 'static) {
        self.callbacks.on_stdout(std::sync::Arc::new(f));
    }

    /// Register a callback for stderr of detached processes.
    pub fn on_stderr(&self, f: impl Fn(&[u8]) + Send + Sync + 'static) {
        self.callbacks.on_stderr(std::sync::Arc::new(f));
    }

    /// Register a callback for the exit of detached processes. It gets the exit code (`-1` when
    /// reading the process failed) and runs on the process's reader before the result is
    /// published: a `wait` returns, and `is_running` turns false, only once every exit callback
    /// ran (so a callback must not wait for its own process).
    pub fn on_exit(&self, f: impl Fn(i64) + Send + Sync + 'static) {
        self.callbacks.on_exit(std::sync::Arc::new(f));
    }

    /// Stop and remove the container; a persistent one is only stopped. `force` kills at once
    /// instead of sending SIGTERM first. Idempotent.
    pub fn shutdown(&mut self, force: bool) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        self.engine
            .call(shutdown_call(&self.id, self.persist, force))
    }

    /// Keep the container when the handle is dropped (it stays running).
    pub fn keep(mut self) -> String {
        self.closed = true;
        std::mem::take(&mut self.id)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if self.owned && !self.closed && !self.persist {
            let _ = self.engine.call(calls::remove(&self.id, true));
        }
    }
}

impl Container {
    /// A live snapshot: status, resources (CPU from two samples, memory without page cache),
    /// network, ports and processes.
    pub fn info(&self) -> Result<pocketdock_proto::info::ContainerInfo> {
        self.engine.container_info(&self.id)
    }

    /// Restart in place (filesystem kept), or with `fresh` recreate it from its own image and
    /// settings (limits, mounts, devices, ports, network and hardening kept; filesystem new).
    /// Running processes, streams and sessions end.
    pub fn reboot(&mut self, fresh: bool) -> Result<()> {
        if !fresh {
            return self.engine.call(calls::restart(&self.id, STOP_GRACE_SECS));
        }
        let op = RecreateOp::new(&self.id, &self.name, &created_at_now());
        self.id = self.engine.drive(op, |_| {})?;
        // Keep instance.toml's id in step (the reference left the old one).
        record_new_id(self.instance_dir.as_deref(), &self.id);
        Ok(())
    }

    /// Commit the container's filesystem as image `name` (`repo[:tag]`, registry ports
    /// understood); returns the image id.
    pub fn snapshot(&self, name: &str) -> Result<String> {
        self.engine.call(calls::commit(&self.id, name)?)
    }

    /// Set the ring buffer capacity of detached processes started from now on.
    pub fn set_buffer_capacity(&mut self, bytes: usize) {
        self.buffer_capacity = bytes.max(2);
    }

    /// Set the default timeout of `run` (`None`: no deadline).
    pub fn set_default_timeout(&mut self, timeout: Option<Duration>) {
        self.default_timeout = timeout;
    }
}
