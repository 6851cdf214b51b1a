//! The commands run in a container: to completion, streamed, detached (read by this process)
//! or spawned (left to the engine), and the callbacks of the detached ones.

use std::sync::Arc;

use pocketdock_host::logging::{DetachHooks, RunRecord};
use pocketdock_proto::op::{calls, ExecOp};
use pocketdock_proto::{Command, ExecResult, Result, RunOptions};

use crate::container::Container;
use crate::process::Process;
use crate::stream::ExecStream;
use pocketdock_host::owner::{owned_nonce as nonce, record_commands, CommandRecord};

impl Container {
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
        let _running = self.record_commands(config.spec.user.as_deref());
        let record = RunRecord::start(self.log.as_ref(), &command.display());
        let result = if let Some(through_agent) = self.run_through_agent(&config) {
            through_agent?
        } else {
            let result = self.engine.exec(config, |_| {})?;
            self.agent_after_engine_command();
            result
        };
        record.finish(&result);
        Ok(result)
    }

    /// Run an argv without any shell.
    pub fn exec(&self, argv: &[&str], opts: &RunOptions) -> Result<ExecResult> {
        self.run_with(Command::from(argv), opts)
    }

    /// Run a command and iterate over its output as it arrives. The timeout and the cap apply.
    /// The stream keeps a copy of the output for its result unless
    /// [`opts.keep_output(false)`](RunOptions::keep_output) says not to: then its memory stays
    /// the same at any output size, and the cap bounds the bytes handed out.
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
        let running = self.record_commands(config.spec.user.as_deref());
        let user = config.spec.user.clone();
        let record = RunRecord::start(self.log.as_ref(), &command.display());
        let stream = match self.stream_through_agent(&config) {
            Some(through_agent) => {
                ExecStream::through_agent(self.engine.clone(), self.id.clone(), through_agent?)
            }
            None => ExecStream::new(
                self.engine.clone(),
                self.id.clone(),
                user,
                ExecOp::new(config),
            ),
        };
        Ok(stream.on_finish(move |r| {
            record.finish(r);
            drop(running);
        }))
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
        // This process reads the command but does not follow its end here: the line stays.
        self.record_commands(config.spec.user.as_deref()).keep();
        let hooks = DetachHooks::new(&self.callbacks, self.log.as_ref(), &command.display());
        let process = match self.stream_through_agent(&config) {
            Some(through_agent) => through_agent.and_then(|stream| {
                Process::through_agent(
                    &self.engine,
                    &self.id,
                    stream,
                    self.buffer_capacity,
                    hooks.callbacks(),
                )
            }),
            None => Process::start(
                &self.engine,
                config,
                self.buffer_capacity,
                hooks.callbacks(),
            ),
        };
        hooks.started(process.as_ref().ok().map(Process::id));
        process
    }

    /// Note where this process runs commands, so that a later start can kill them should
    /// this process die without ending them.
    fn record_commands(&self, user: Option<&str>) -> CommandRecord {
        record_commands(self.engine.socket(), &self.id, user.unwrap_or(""))
    }

    /// Register a callback for stdout of detached processes.
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
}
