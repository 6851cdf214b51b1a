//! How a session's shell is started and how much output it keeps.

use super::shell::session_shell;
use crate::api::exec::ExecSpec;
use crate::capture::{LimitPolicy, OutputLimit, DEFAULT_MAX_OUTPUT};
use crate::error::{Error, Result};
use crate::op::ExecConfig;
use crate::run::validate_exec_options;

/// Default bound on the output kept for a session's `read`: 1 MiB (the oldest bytes are
/// dropped).
pub const DEFAULT_SESSION_BUFFER: usize = 1024 * 1024;

/// How a session's shell is started and how much output it keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOptions {
    /// Extra environment of the shell, `KEY=value`.
    pub env: Vec<String>,
    /// User to run the shell as (the image's default when `None`).
    pub user: Option<String>,
    /// Initial working directory, absolute (the image's default when `None`).
    pub workdir: Option<String>,
    /// Cap on each command's captured stdout + stderr (10 MiB by default). The command is never
    /// interrupted for it (`Stop` behaves as `KeepRunning`): the rest is dropped and reported
    /// with `truncated` and `elided_bytes`.
    pub limit: OutputLimit,
    /// Bound on the output kept for `Session::read` ([`DEFAULT_SESSION_BUFFER`]).
    pub max_buffered: usize,
    /// Also show the output of `send_and_wait` commands in `Session::read` and
    /// `Session::on_output`, as the Python pocketdock does (default `true`). With `false` they
    /// only see output that belongs to no command (after `Session::send`, background jobs, the
    /// rest of a timed-out command).
    pub echo_command_output: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            env: Vec::new(),
            user: None,
            workdir: None,
            limit: OutputLimit {
                max_bytes: DEFAULT_MAX_OUTPUT,
                policy: LimitPolicy::KeepRunning,
            },
            max_buffered: DEFAULT_SESSION_BUFFER,
            echo_command_output: true,
        }
    }
}

impl SessionOptions {
    /// Check the options; the error names the field.
    pub fn validate(&self) -> Result<()> {
        validate_exec_options(&self.env, self.workdir.as_deref())?;
        if self.limit.max_bytes == 0 {
            return Err(Error::invalid("limit", "must be at least 1 byte"));
        }
        Ok(())
    }

    /// The exec of the session's shell with these options, checked (see
    /// [`validate`](Self::validate)): stdin attached, no TTY.
    pub fn shell_spec(&self) -> Result<ExecSpec> {
        self.validate()?;
        Ok(ExecSpec {
            cmd: session_shell(),
            env: self.env.clone(),
            workdir: self.workdir.clone(),
            user: self.user.clone(),
            tty: false,
            stdin: true,
        })
    }

    /// The session's shell in `container` as a command of its own ([`shell_spec`](Self::shell_spec),
    /// `POCKETDOCK_EXEC=nonce`): its output streamed as it comes, uncapped and kept nowhere,
    /// with no deadline, since the session's machine applies its own rules to each command.
    /// What the in-sandbox agent is asked to run; the engine path attaches the same spec.
    pub fn shell_config(&self, container: &str, nonce: &str) -> Result<ExecConfig> {
        let mut config = ExecConfig::new(container, self.shell_spec()?, nonce);
        config.emit = true;
        config.keep = false;
        config.limit = None;
        config.timeout = None;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked() {
        let bad = SessionOptions {
            env: vec!["NOEQUALS".into()],
            ..SessionOptions::default()
        };
        assert!(bad.validate().is_err());
        let bad = SessionOptions {
            workdir: Some("rel".into()),
            ..SessionOptions::default()
        };
        assert!(bad.validate().is_err());
        assert!(SessionOptions::default().validate().is_ok());
    }

    #[test]
    fn the_shell_runs_streamed_uncapped_with_stdin_and_the_session_nonce() {
        let c = SessionOptions::default()
            .shell_config("box", "n-1")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(c.spec.stdin && !c.spec.tty && c.emit && !c.keep);
        assert!(c.limit.is_none() && c.timeout.is_none());
        assert_eq!((c.container.as_str(), c.nonce.as_str()), ("box", "n-1"));
        let bad = SessionOptions {
            workdir: Some("rel".into()),
            ..SessionOptions::default()
        };
        assert!(bad.shell_config("box", "n").is_err());
    }
}
