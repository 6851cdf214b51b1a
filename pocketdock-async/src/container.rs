//! A sandbox container and the commands run in it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pocketdock_host::logging::{DetachHooks, RunRecord};
use pocketdock_host::sandbox::{created_at_now, record_new_id, Attached};
use pocketdock_proto::detached::Callbacks;
use pocketdock_proto::info::ContainerInfo;
use pocketdock_proto::op::{calls, ExecEvent, ExecOp, RecreateOp};
use pocketdock_proto::persistence::{shutdown_call, STOP_GRACE_SECS};
use pocketdock_proto::{Command, ExecResult, Result, RunOptions};

use crate::engine::{nonce, Engine, KillGuard};
use crate::lifecycle::DEFAULT_TIMEOUT;
use crate::logging::InstanceLog;
use crate::process::Process;
use crate::runtime::Runtime;
use crate::stream::ExecStream;

/// Default ring buffer capacity of detached processes (1 MiB).
pub const DEFAULT_BUFFER_CAPACITY: usize = 1024 * 1024;

/// A running sandbox. Every call goes to the engine live (nothing is cached), each on its own
/// connection: a handle can be shared (`&Container` or `Arc<Container>`) by many tasks at once.
///
/// An ephemeral container created by this handle is removed by
/// [`shutdown`](Self::shutdown), or in the background when the handle is dropped (a `Drop`
/// cannot await: the removal is handed to [`Runtime::spawn_cleanup`], best effort; call
/// `shutdown` to be sure). A
/// persistent one is only stopped by `shutdown` and left alone on drop. Handles obtained by name
/// ([`Engine::attach`]) never remove anything on drop.
#[derive(Debug)]
pub struct Container<R: Runtime> {
    pub(crate) engine: Engine<R>,
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

impl<R: Runtime> Container<R> {
    pub(crate) fn from_attached(engine: &Engine<R>, attached: Attached, owned: bool) -> Self {
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

    /// The engine socket.
    pub fn socket_path(&self) -> &std::path::Path {
        self.engine.socket()
    }

    /// The engine.
    pub fn engine(&self) -> &Engine<R> {
        &self.engine
    }

    /// Default timeout of `run` (the reference's `timeout`, 30 s unless set).
    pub fn default_timeout(&self) -> Option<Duration> {
        self.default_timeout
    }

    /// Run a shell command (`sh -c`) to completion with the default options.
    ///
    /// Dropping the future before it completes kills the command's process tree inside the
    /// container (the kill is handed to [`Runtime::spawn_cleanup`], since a `Drop` cannot
    /// await).
    ///
    /// ```no_run
    /// # async fn demo(c: pocketdock_async::Container<impl pocketdock_async::Runtime>) -> pocketdock_async::Result<()> {
    /// let r = c.run("echo hello").await?;
    /// assert_eq!(r.stdout_str(), "hello\n");
    /// # Ok(()) }
    /// ```
    pub async fn run(&self, command: &str) -> Result<ExecResult> {
        self.run_with(command, &RunOptions::default()).await
    }

    /// Run a command (a string for the interpreter in `opts.lang`, or an argv) to completion.
    /// On timeout the command's whole process tree is killed and the output so far is kept
    /// (`timed_out`); past the output cap it is stopped (`truncated`) unless the policy says
    /// otherwise. Dropping the future mid-run kills the command too.
    ///
    /// In a project's persistent container, the run is logged (`logs/run-<ts>.log` and a
    /// `history.jsonl` line).
    pub async fn run_with(
        &self,
        command: impl Into<Command>,
        opts: &RunOptions,
    ) -> Result<ExecResult> {
        let command = command.into();
        let config = opts.run_config(&self.id, &command, self.default_timeout, &nonce())?;
        let mut guard = KillGuard::new(&self.engine, &config);
        let record = RunRecord::start(self.log.as_ref(), &command.display());
        let result = self
            .engine
            .exec(config, |ev| {
                if let ExecEvent::Created { exec_id } = ev {
                    guard.arm(&exec_id);
                }
            })
            .await;
        guard.disarm();
        let result = result?;
        record.finish(&result);
        Ok(result)
    }

    /// Run an argv without any shell.
    pub async fn exec(&self, argv: &[&str], opts: &RunOptions) -> Result<ExecResult> {
        self.run_with(Command::from(argv), opts).await
    }

    /// Run a command and get its output as a [`Stream`](futures_core::Stream) of chunks as they
    /// arrive. Nothing happens until the stream is polled. The timeout and the cap apply.
    ///
    /// ```no_run
    /// # async fn demo(c: pocketdock_async::Container<impl pocketdock_async::Runtime>) -> pocketdock_async::Result<()> {
    /// let mut s = c.stream("for i in 1 2 3; do echo $i; sleep 1; done", &Default::default())?;
    /// while let Some(chunk) = s.next().await {
    ///     print!("{}", chunk?.text());
    /// }
    /// assert_eq!(s.result().map(|r| r.exit_code), Some(0));
    /// # Ok(()) }
    /// ```
    ///
    /// In a project's persistent container, the run is logged when the stream ends.
    pub fn stream(&self, command: impl Into<Command>, opts: &RunOptions) -> Result<ExecStream<R>> {
        let command = command.into();
        let config = opts.stream_config(&self.id, &command, self.default_timeout, &nonce())?;
        let guard = KillGuard::new(&self.engine, &config);
        let record = RunRecord::start(self.log.as_ref(), &command.display());
        let stream = ExecStream::new(&self.engine, ExecOp::new(config), guard);
        Ok(stream.on_finish(move |r| record.finish(r)))
    }

    /// Start a command that nobody watches: the engine runs it detached, nothing stays
    /// attached, and it keeps running after this process exits (a [`detach`](Self::detach)ed
    /// command is read by this process). Returns the engine's exec id. Its output is discarded
    /// (redirect it to a file in the command). Only `lang`, `env`, `workdir` and `user` of
    /// `opts` apply; a timeout or an output cap is
    /// [`Error::InvalidInput`](pocketdock_proto::Error::InvalidInput).
    ///
    /// ```no_run
    /// # async fn demo(c: pocketdock_async::Container<impl pocketdock_async::Runtime>) -> pocketdock_async::Result<()> {
    /// let id = c.spawn("python3 -m http.server 8000 >/tmp/http.log 2>&1", &Default::default()).await?;
    /// println!("started exec {id}");
    /// # Ok(()) }
    /// ```
    pub async fn spawn(&self, command: impl Into<Command>, opts: &RunOptions) -> Result<String> {
        let spec = opts.spawn_spec(&command.into())?;
        let id = self
            .engine
            .call(calls::exec_create_detached(&self.id, &spec))
            .await?;
        self.engine
            .call(calls::exec_start_detached(&self.id, &id))
            .await?;
        Ok(id)
    }

    /// Start a command in the background, read by the runtime's background reader (see
    /// [`Runtime::spawn_reader`]: a task on tokio, which must be running; a thread of its own on
    /// smol). No timeout applies unless `opts.timeout` is set.
    ///
    /// ```no_run
    /// # async fn demo(c: pocketdock_async::Container<impl pocketdock_async::Runtime>) -> pocketdock_async::Result<()> {
    /// let p = c.detach("sleep 60", &Default::default()).await?;
    /// assert!(p.is_running());
    /// p.kill(9).await?;
    /// let r = p.wait(None).await?;
    /// assert!(!p.is_running());
    /// # Ok(()) }
    /// ```
    ///
    /// In a project's persistent container, the output goes to `logs/detach-<ts>.log` and the
    /// exit to a `history.jsonl` line.
    pub async fn detach(
        &self,
        command: impl Into<Command>,
        opts: &RunOptions,
    ) -> Result<Process<R>> {
        let command = command.into();
        let config = opts.detach_config(&self.id, &command, &nonce())?;
        let hooks = DetachHooks::new(&self.callbacks, self.log.as_ref(), &command.display());
        let process = Process::start(
            &self.engine,
            config,
            self.buffer_capacity,
            hooks.callbacks(),
        )
        .await;
        hooks.started(process.as_ref().ok().map(Process::id));
        process
    }

    /// Register a callback for stdout of detached processes (called on their reader).
    pub fn on_stdout(&self, f: impl Fn(&[u8]) + Send + Sync + 'static) {
        self.callbacks.on_stdout(Arc::new(f));
    }

    /// Register a callback for stderr of detached processes.
    pub fn on_stderr(&self, f: impl Fn(&[u8]) + Send + Sync + 'static) {
        self.callbacks.on_stderr(Arc::new(f));
    }

    /// Register a callback for the exit of detached processes. It gets the exit code (`-1` when
    /// reading the process failed) and runs on the process's reader before the result is
    /// published: a `wait` returns, and `is_running` turns false, only once every exit callback
    /// ran (so a callback must not wait for its own process).
    pub fn on_exit(&self, f: impl Fn(i64) + Send + Sync + 'static) {
        self.callbacks.on_exit(Arc::new(f));
    }

    /// Stop and remove the container; a persistent one is only stopped. `force` kills at once
    /// instead of sending SIGTERM first. Idempotent.
    pub async fn shutdown(&mut self, force: bool) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        self.engine
            .call(shutdown_call(&self.id, self.persist, force))
            .await
    }

    /// Keep the container when the handle is dropped (it stays running); returns its id.
    pub fn keep(mut self) -> String {
        self.closed = true;
        std::mem::take(&mut self.id)
    }

    /// A live snapshot: status, resources (CPU from two samples, memory without page cache),
    /// network, ports and processes.
    pub async fn info(&self) -> Result<ContainerInfo> {
        self.engine.container_info(&self.id).await
    }

    /// Restart in place (filesystem kept), or with `fresh` recreate it from its own image and
    /// settings (limits, mounts, devices, ports, network and hardening kept; filesystem new).
    /// Running processes, streams and sessions end.
    pub async fn reboot(&mut self, fresh: bool) -> Result<()> {
        if !fresh {
            return self
                .engine
                .call(calls::restart(&self.id, STOP_GRACE_SECS))
                .await;
        }
        let op = RecreateOp::new(&self.id, &self.name, &created_at_now());
        self.id = self.engine.drive(op, |_| {}).await?;
        // Keep instance.toml's id in step (the reference left the old one).
        record_new_id(self.instance_dir.as_deref(), &self.id);
        Ok(())
    }

    /// Commit the container's filesystem as image `name` (`repo[:tag]`, registry ports
    /// understood); returns the image id.
    pub async fn snapshot(&self, name: &str) -> Result<String> {
        self.engine.call(calls::commit(&self.id, name)?).await
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

impl<R: Runtime> Drop for Container<R> {
    fn drop(&mut self) {
        if self.owned && !self.closed && !self.persist {
            let engine = self.engine.clone();
            let id = std::mem::take(&mut self.id);
            R::spawn_cleanup(async move {
                let _ = engine.call(calls::remove(&id, true)).await;
            });
        }
    }
}
