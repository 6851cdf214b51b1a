//! [`LimitsOp`]: run the probe in a sandbox, inspect it, and give the [`LimitsReport`].

use std::time::{Duration, Instant};

use super::{unenforced, LimitRequest, LimitsReport, MAX_PROBE_OUTPUT};
use crate::api::containers::ContainerInspect;
use crate::api::exec::ExecSpec;
use crate::capture::{LimitPolicy, OutputLimit};
use crate::error::{Error, Result};
use crate::op::{calls, CallOp, ExecConfig, ExecEvent, ExecOp, Operation, Step};
use crate::result::ExecResult;

/// How long the probe may take: it reads a dozen small files.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

enum State {
    Exec(Box<ExecOp>),
    Inspect(Box<CallOp<ContainerInspect>>),
    Done,
}

/// Read what a running sandbox enforces: the probe (one exec, as the container's default user
/// unless told otherwise), then an inspect for the bound ports and the engine's record of what
/// was asked for. The report's [`unenforced`](LimitsReport::unenforced) compares the two, plus
/// the create warnings handed in. A probe that cannot run (no shell in the image, the
/// container stopped) gives an unverified report, not an error; only a failed inspect is one.
pub struct LimitsOp {
    container: String,
    state: State,
    probe: Option<Result<ExecResult>>,
    warnings: Vec<String>,
}

impl std::fmt::Debug for LimitsOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LimitsOp")
            .field("container", &self.container)
            .finish_non_exhaustive()
    }
}

impl LimitsOp {
    /// Probe `container` as `user` (`None`: its default user); `nonce` marks the probe's
    /// processes like any command's.
    pub fn new(container: &str, user: Option<String>, nonce: &str) -> Self {
        let spec = ExecSpec {
            cmd: super::probe_command(),
            user,
            ..ExecSpec::default()
        };
        let mut config = ExecConfig::new(container, spec, nonce);
        config.timeout = Some(PROBE_TIMEOUT);
        config.call_timeout = PROBE_TIMEOUT;
        config.limit = Some(OutputLimit {
            max_bytes: MAX_PROBE_OUTPUT,
            policy: LimitPolicy::Stop,
        });
        Self {
            container: container.to_string(),
            state: State::Exec(Box::new(ExecOp::new(config))),
            probe: None,
            warnings: Vec::new(),
        }
    }

    /// The `Warnings` of the container's create answer, to be checked too.
    #[must_use]
    pub fn with_warnings(mut self, warnings: Vec<String>) -> Self {
        self.warnings = warnings;
        self
    }

    fn report(&mut self, inspect: &ContainerInspect) -> LimitsReport {
        let settings = &inspect.network_settings;
        let mut report = match self.probe.take() {
            Some(Ok(r)) if r.exit_code == 0 && !r.timed_out => {
                LimitsReport::from_probe(&r.stdout, settings)
            }
            Some(Ok(r)) => LimitsReport::unverified(
                format!(
                    "the probe exited with {}{}: {}",
                    r.exit_code,
                    if r.timed_out { " (timed out)" } else { "" },
                    String::from_utf8_lossy(&r.stderr).trim()
                ),
                settings,
            ),
            Some(Err(e)) => LimitsReport::unverified(e.to_string(), settings),
            None => LimitsReport::unverified("the probe did not run", settings),
        };
        report.warnings = std::mem::take(&mut self.warnings);
        report.unenforced = unenforced(
            &LimitRequest::from_host_config(&inspect.host_config),
            &report,
        );
        report
    }
}

impl Operation for LimitsOp {
    type Event = ();
    type Output = LimitsReport;

    fn poll(&mut self, now: Instant) -> Step<(), LimitsReport> {
        loop {
            match &mut self.state {
                State::Exec(op) => match op.poll(now) {
                    Step::Io(io) => return Step::Io(io),
                    Step::Event(ExecEvent::Created { .. } | ExecEvent::Output { .. }) => {}
                    Step::Done(r) => {
                        self.probe = Some(r);
                        self.state = State::Inspect(Box::new(calls::inspect(&self.container)));
                    }
                },
                State::Inspect(call) => match call.poll(now) {
                    Step::Io(io) => return Step::Io(io),
                    Step::Event(()) => {}
                    Step::Done(r) => {
                        self.state = State::Done;
                        return Step::Done(r.map(|i| self.report(&i)));
                    }
                },
                State::Done => return Step::Done(Err(Error::polled_after_completion())),
            }
        }
    }

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        match &mut self.state {
            State::Exec(op) => op.handle_input(now, data),
            State::Inspect(call) => call.handle_input(now, data),
            State::Done => {}
        }
    }

    fn handle_bytes(&mut self, now: Instant, data: bytes::Bytes) {
        match &mut self.state {
            State::Exec(op) => op.handle_bytes(now, data),
            State::Inspect(call) => call.handle_bytes(now, data),
            State::Done => {}
        }
    }

    fn handle_eof(&mut self, now: Instant) {
        match &mut self.state {
            State::Exec(op) => op.handle_eof(now),
            State::Inspect(call) => call.handle_eof(now),
            State::Done => {}
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match &mut self.state {
            State::Exec(op) => op.handle_timeout(now),
            State::Inspect(call) => call.handle_timeout(now),
            State::Done => {}
        }
    }

    fn handle_write_refused(&mut self, now: Instant) -> bool {
        match &mut self.state {
            State::Exec(op) => op.handle_write_refused(now),
            State::Inspect(call) => call.handle_write_refused(now),
            State::Done => false,
        }
    }
}
