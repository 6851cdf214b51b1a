//! How a command is run: options shared by every adapter, turned into an [`ExecConfig`].

use std::time::Duration;

use crate::api::exec::ExecSpec;
use crate::capture::{LimitPolicy, OutputLimit, DEFAULT_MAX_OUTPUT};
use crate::error::{Error, Result};
use crate::op::ExecConfig;

/// Default timeout of a container's commands (`run`, `stream`): 30 s. Detached processes have
/// none unless one is set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Interpreter for a command string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// `sh -c COMMAND` (the default).
    #[default]
    Shell,
    /// `python3 -c COMMAND`.
    Python,
}

impl std::str::FromStr for Lang {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "sh" | "shell" | "bash" => Ok(Self::Shell),
            "python" | "python3" | "py" => Ok(Self::Python),
            other => Err(Error::invalid(
                "lang",
                format!("{other:?} is not supported (use \"python\" or \"shell\")"),
            )),
        }
    }
}

/// What to run: a string for an interpreter, or an argv run without any shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A command string for [`Lang`].
    Script(String),
    /// An argv, passed to the engine as is.
    Argv(Vec<String>),
}

impl From<&str> for Command {
    fn from(s: &str) -> Self {
        Self::Script(s.to_string())
    }
}

impl From<String> for Command {
    fn from(s: String) -> Self {
        Self::Script(s)
    }
}

impl From<Vec<String>> for Command {
    fn from(v: Vec<String>) -> Self {
        Self::Argv(v)
    }
}

impl From<&[&str]> for Command {
    fn from(v: &[&str]) -> Self {
        Self::Argv(v.iter().map(|s| (*s).to_string()).collect())
    }
}

impl<const N: usize> From<[&str; N]> for Command {
    fn from(v: [&str; N]) -> Self {
        Self::Argv(v.iter().map(|s| (*s).to_string()).collect())
    }
}

impl Command {
    /// The argv given to the engine.
    pub fn argv(&self, lang: Lang) -> Result<Vec<String>> {
        match self {
            Self::Argv(v) if v.is_empty() => Err(Error::invalid("command", "empty argv")),
            Self::Argv(v) => Ok(v.clone()),
            Self::Script(s) => Ok(match lang {
                Lang::Shell => vec!["sh".into(), "-c".into(), s.clone()],
                Lang::Python => vec!["python3".into(), "-c".into(), s.clone()],
            }),
        }
    }

    /// A one-line description for logs.
    pub fn display(&self) -> String {
        match self {
            Self::Script(s) => s.clone(),
            Self::Argv(v) => v.join(" "),
        }
    }
}

/// Check the environment (`KEY=value` entries) and working directory (absolute) of an exec
/// that is not a `run` (sessions, TTY programs); the error names the field.
pub fn validate_exec_options(env: &[String], workdir: Option<&str>) -> Result<()> {
    for e in env {
        let key = e.split('=').next().unwrap_or_default();
        if key.is_empty() || !e.contains('=') || e.contains('\0') {
            return Err(Error::invalid("env", format!("{e:?} is not KEY=value")));
        }
    }
    if let Some(w) = workdir {
        if !w.starts_with('/') {
            return Err(Error::invalid("workdir", format!("{w:?} is not absolute")));
        }
    }
    Ok(())
}

/// How to start a TTY program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TtyOptions {
    /// Extra environment, `KEY=value` (pass the host's `TERM` here; the engines set none).
    pub env: Vec<String>,
    /// User (the image's default when `None`).
    pub user: Option<String>,
    /// Working directory, absolute (the image's default when `None`).
    pub workdir: Option<String>,
    /// Initial window size, `(rows, cols)`; 24 x 80 by default.
    pub size: (u16, u16),
}

impl Default for TtyOptions {
    fn default() -> Self {
        Self {
            env: Vec::new(),
            user: None,
            workdir: None,
            size: (24, 80),
        }
    }
}

/// Options of one `run`, with the Python pocketdock's defaults (container timeout, 10 MiB cap,
/// output kept in the result).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOptions {
    /// Deadline; `None` uses the container's default timeout.
    pub timeout: Option<Duration>,
    /// Run without any deadline (overrides `timeout`).
    pub no_timeout: bool,
    /// Output cap in bytes; `None` uses 10 MiB. It bounds the output kept in the result, or,
    /// when `keep_output` is false, the output handed out.
    pub max_output: Option<usize>,
    /// What happens at the cap.
    pub policy: LimitPolicy,
    /// Keep a copy of the output in the final [`ExecResult`](crate::ExecResult) (`true`, the
    /// default, so a stream's `result()` and `finish()` hold the output as a `run`'s would).
    ///
    /// A stream that keeps nothing (`false`) hands every chunk out and forgets it: its memory
    /// stays the same at any output size. The cap then counts the bytes handed out, stdout and
    /// stderr together, and the policy decides what happens at it: [`LimitPolicy::Stop`] hands
    /// out exactly the first `max_output` bytes and kills the command,
    /// [`LimitPolicy::KeepRunning`] hands out the first `max_output` bytes and drops the rest
    /// while the command runs on, [`LimitPolicy::HeadAndTail`] hands out the head as it comes
    /// and the last `max_output / 4` bytes of each stream when the output ends (it holds those
    /// back meanwhile). Its final result has the exit code, `timed_out` and `duration` as
    /// usual, empty `stdout` and `stderr`, and `truncated` and `elided_bytes` say whether and
    /// how many bytes the cap kept from being handed out.
    ///
    /// A `run` that keeps nothing reads the output, under the same cap, and returns only the
    /// exit code and those counts. Detached processes keep their output in their ring buffer
    /// whatever this says.
    pub keep_output: bool,
    /// Interpreter of a command string.
    pub lang: Lang,
    /// Extra environment (`KEY=value`).
    pub env: Vec<String>,
    /// Working directory.
    pub workdir: Option<String>,
    /// User to run as.
    pub user: Option<String>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            timeout: None,
            no_timeout: false,
            max_output: None,
            policy: LimitPolicy::default(),
            keep_output: true,
            lang: Lang::default(),
            env: Vec::new(),
            workdir: None,
            user: None,
        }
    }
}

impl RunOptions {
    /// Default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the deadline.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    /// Run without a deadline.
    pub fn no_timeout(mut self) -> Self {
        self.no_timeout = true;
        self
    }

    /// Set the output cap.
    pub fn max_output(mut self, bytes: usize) -> Self {
        self.max_output = Some(bytes);
        self
    }

    /// Set the cap policy.
    pub fn policy(mut self, p: LimitPolicy) -> Self {
        self.policy = p;
        self
    }

    /// Keep a copy of the output in the final result (`true`, the default) or nothing (see
    /// [`keep_output`](Self::keep_output) the field).
    ///
    /// ```
    /// # use pocketdock_proto::{LimitPolicy, RunOptions};
    /// // Stream any amount of output in constant memory; the result keeps only the counts.
    /// let opts = RunOptions::new()
    ///     .keep_output(false)
    ///     .max_output(1 << 30)
    ///     .policy(LimitPolicy::KeepRunning);
    /// assert!(!opts.keep_output);
    /// ```
    pub fn keep_output(mut self, keep: bool) -> Self {
        self.keep_output = keep;
        self
    }

    /// Set the interpreter.
    pub fn lang(mut self, l: Lang) -> Self {
        self.lang = l;
        self
    }

    /// Add an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push(format!("{key}={value}"));
        self
    }

    /// Set the working directory.
    pub fn workdir(mut self, dir: impl Into<String>) -> Self {
        self.workdir = Some(dir.into());
        self
    }

    /// Set the user.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// The exec configuration of a blocking run in `container`: output kept in the result
    /// (unless `keep_output` is false), `default_timeout` (the container's) unless the options
    /// set one.
    pub fn run_config(
        &self,
        container: &str,
        command: &Command,
        default_timeout: Option<Duration>,
        nonce: &str,
    ) -> Result<ExecConfig> {
        self.exec_config(container, command, default_timeout, nonce, true, false)
    }

    /// The exec configuration of a streamed run: as [`run_config`](Self::run_config), with every
    /// chunk also handed on as it arrives (only the chunks within the cap when `keep_output` is
    /// false).
    pub fn stream_config(
        &self,
        container: &str,
        command: &Command,
        default_timeout: Option<Duration>,
        nonce: &str,
    ) -> Result<ExecConfig> {
        self.exec_config(container, command, default_timeout, nonce, true, true)
    }

    /// The exec configuration of a detached command: chunks handed on (to the ring buffer),
    /// nothing kept in the result (whatever `keep_output` says), and no deadline unless the
    /// options set one (a background command runs as long as it likes).
    pub fn detach_config(
        &self,
        container: &str,
        command: &Command,
        nonce: &str,
    ) -> Result<ExecConfig> {
        let mut opts = self.clone();
        if opts.timeout.is_none() {
            opts.no_timeout = true;
        }
        opts.exec_config(container, command, None, nonce, false, true)
    }

    /// Check the options and build the exec configuration.
    ///
    /// `capped` applies the cap and its policy to the output, which is kept in the result unless
    /// `keep_output` is false (blocking and stream modes); `emit` yields every chunk as an event
    /// (stream and detached modes).
    pub fn exec_config(
        &self,
        container: &str,
        command: &Command,
        default_timeout: Option<Duration>,
        nonce: &str,
        capped: bool,
        emit: bool,
    ) -> Result<ExecConfig> {
        if self.max_output == Some(0) {
            return Err(Error::invalid("max_output", "must be at least 1 byte"));
        }
        if self.timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::invalid("timeout", "must be greater than zero"));
        }
        for e in &self.env {
            let key = e.split('=').next().unwrap_or_default();
            if key.is_empty() || !e.contains('=') || key.contains('\0') {
                return Err(Error::invalid("env", format!("{e:?} is not KEY=value")));
            }
        }
        if let Some(w) = &self.workdir {
            if !w.starts_with('/') {
                return Err(Error::invalid("workdir", format!("{w:?} is not absolute")));
            }
        }
        let spec = ExecSpec {
            cmd: command.argv(self.lang)?,
            env: self.env.clone(),
            workdir: self.workdir.clone(),
            user: self.user.clone(),
            tty: false,
            stdin: false,
        };
        let mut config = ExecConfig::new(container, spec, nonce);
        config.timeout = if self.no_timeout {
            None
        } else {
            self.timeout.or(default_timeout)
        };
        config.limit = capped.then(|| OutputLimit {
            max_bytes: self.max_output.unwrap_or(DEFAULT_MAX_OUTPUT),
            policy: self.policy,
        });
        config.keep = self.keep_output;
        config.emit = emit;
        Ok(config)
    }

    /// Check the options for a spawned command (started detached by the engine, with nothing
    /// attached: see the adapters' `Container::spawn`) and build its exec spec. Only `lang`,
    /// `env`, `workdir` and `user` apply; a `timeout` or `max_output` is refused, since nothing
    /// watches the command once it started.
    pub fn spawn_spec(&self, command: &Command) -> Result<ExecSpec> {
        if self.timeout.is_some() {
            return Err(Error::invalid(
                "timeout",
                "a spawned command has no timeout (use detach for one that is watched)",
            ));
        }
        if self.max_output.is_some() {
            return Err(Error::invalid(
                "max_output",
                "a spawned command's output is not captured",
            ));
        }
        Ok(self.exec_config("", command, None, "", false, false)?.spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_for_each_lang() {
        let c = Command::from("echo hi");
        assert_eq!(
            c.argv(Lang::Shell).unwrap_or_default(),
            vec!["sh", "-c", "echo hi"]
        );
        assert_eq!(
            c.argv(Lang::Python).unwrap_or_default(),
            vec!["python3", "-c", "echo hi"]
        );
        assert!(Command::Argv(vec![]).argv(Lang::Shell).is_err());
        assert_eq!("python".parse::<Lang>().ok(), Some(Lang::Python));
        assert!("ruby".parse::<Lang>().is_err());
    }

    #[test]
    fn spawn_spec_takes_only_what_applies() {
        let spec = RunOptions::new()
            .env("A", "1")
            .workdir("/tmp")
            .spawn_spec(&Command::from("sleep 9"));
        let spec = spec.unwrap_or_default();
        assert_eq!(spec.cmd, vec!["sh", "-c", "sleep 9"]);
        assert_eq!(spec.env, vec!["A=1"]);
        assert!(!spec.stdin && !spec.tty);
        let field = |o: RunOptions| match o.spawn_spec(&Command::from("true")) {
            Err(Error::InvalidInput { field, .. }) => field.to_string(),
            other => format!("{other:?}"),
        };
        assert_eq!(
            field(RunOptions::new().timeout(Duration::from_secs(1))),
            "timeout"
        );
        assert_eq!(field(RunOptions::new().max_output(10)), "max_output");
        assert_eq!(field(RunOptions::new().workdir("rel")), "workdir");
    }

    #[test]
    fn invalid_options_name_the_field() {
        let bad = [
            (RunOptions::new().max_output(0), "max_output"),
            (RunOptions::new().timeout(Duration::ZERO), "timeout"),
            (RunOptions::new().workdir("rel"), "workdir"),
            (
                RunOptions {
                    env: vec!["NOEQ".into()],
                    ..RunOptions::default()
                },
                "env",
            ),
        ];
        for (opts, field) in bad {
            match opts.exec_config("c", &Command::from("x"), None, "n", true, false) {
                Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
                other => panic!("expected invalid {field}, got {other:?}"),
            }
        }
    }

    #[test]
    fn defaults_apply() {
        let cfg = RunOptions::new()
            .exec_config(
                "c",
                &Command::from("x"),
                Some(Duration::from_secs(30)),
                "n",
                true,
                false,
            )
            .unwrap();
        assert_eq!(cfg.timeout, Some(Duration::from_secs(30)));
        assert_eq!(cfg.limit.map(|l| l.max_bytes), Some(DEFAULT_MAX_OUTPUT));
        let cfg = RunOptions::new()
            .no_timeout()
            .exec_config(
                "c",
                &Command::from("x"),
                Some(Duration::from_secs(30)),
                "n",
                false,
                true,
            )
            .unwrap();
        assert_eq!(cfg.timeout, None);
        assert!(cfg.limit.is_none() && cfg.emit);
    }

    #[test]
    fn output_is_kept_unless_the_options_say_not() {
        let cmd = Command::from("x");
        let stream = |o: &RunOptions| o.stream_config("c", &cmd, None, "n").unwrap();
        let kept = stream(&RunOptions::new());
        assert!(kept.keep && kept.emit);
        assert_eq!(kept.limit.map(|l| l.max_bytes), Some(DEFAULT_MAX_OUTPUT));
        let opts = RunOptions::new()
            .keep_output(false)
            .max_output(5)
            .policy(LimitPolicy::HeadAndTail);
        let passing = stream(&opts);
        assert!(!passing.keep && passing.emit);
        assert_eq!(
            passing.limit,
            Some(OutputLimit {
                max_bytes: 5,
                policy: LimitPolicy::HeadAndTail
            }),
            "the cap still applies, to what is handed out"
        );
        let run = opts.run_config("c", &cmd, None, "n").unwrap();
        assert!(!run.keep && !run.emit && run.limit.is_some());
        assert!(RunOptions::default().keep_output);
    }
}
