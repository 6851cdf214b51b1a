//! Signal a command's whole process tree inside the container.
//!
//! The engine's exec `Pid` is a host PID and useless inside the container. Instead every command
//! pocketdock starts carries a nonce in its environment (`POCKETDOCK_EXEC=<nonce>`); this operation
//! runs a second exec that finds every process whose environment holds the nonce and signals its
//! process group and itself. The first process of an exec leads its own process group, so
//! descendants that changed their environment are reached through the group.

use std::time::{Duration, Instant};

use super::exchange::{ExStep, Exchange};
use super::{CallOp, Io, Operation, Step};
use crate::api::exec::{self, ExecSpec, IdResponse};
use crate::api::{check, Subject};
use crate::error::{Error, Result};
use crate::http::Expect;
use crate::http::Response;

/// Name of the environment variable that marks a command's processes.
pub const NONCE_VAR: &str = "POCKETDOCK_EXEC";

const KILL_SCRIPT: &str = r#"sig="$1"; n="$2"; self=$$
for d in /proc/[0-9]*; do
  p="${d#/proc/}"
  [ "$p" = "$self" ] && continue
  if tr '\0' '\n' < "$d/environ" 2>/dev/null | grep -qx "POCKETDOCK_EXEC=$n"; then
    kill -s "$sig" -- "-$p" 2>/dev/null || kill -s "$sig" "$p" 2>/dev/null
  fi
done
exit 0"#;

/// The argv that signals every process marked with `nonce`. `signal` is a name (`KILL`, `TERM`)
/// or number.
pub fn kill_command(nonce: &str, signal: &str) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        KILL_SCRIPT.into(),
        "pocketdock-kill".into(),
        signal.into(),
        nonce.into(),
    ]
}

/// Convert a signal number to the name `kill -s` takes; names pass through (upper-cased, no `SIG`).
pub fn signal_name(signal: &str) -> Result<String> {
    let s = signal
        .trim()
        .trim_start_matches("SIG")
        .trim_start_matches("sig");
    let name = match s.parse::<u8>() {
        Ok(n) => match n {
            1 => "HUP",
            2 => "INT",
            3 => "QUIT",
            6 => "ABRT",
            9 => "KILL",
            10 => "USR1",
            12 => "USR2",
            13 => "PIPE",
            14 => "ALRM",
            15 => "TERM",
            18 => "CONT",
            19 => "STOP",
            20 => "TSTP",
            _ => {
                return Err(Error::invalid(
                    "signal",
                    format!("unsupported signal number {n}"),
                ))
            }
        }
        .to_string(),
        // A number too large for a signal is no name either.
        Err(_) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(Error::invalid(
                "signal",
                format!("unsupported signal number {s}"),
            ))
        }
        Err(_) => {
            let up = s.to_ascii_uppercase();
            if up.is_empty()
                || !up
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            {
                return Err(Error::invalid(
                    "signal",
                    format!("{signal:?} is not a signal"),
                ));
            }
            up
        }
    };
    Ok(name)
}

enum State {
    Create(CallOp<String>),
    Start(Exchange),
    Done,
}

/// Run the kill script in the container and wait for it to finish.
pub struct KillOp {
    container: String,
    state: State,
    timeout: Duration,
    user: Option<String>,
}

impl std::fmt::Debug for KillOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KillOp")
            .field("container", &self.container)
            .finish_non_exhaustive()
    }
}

impl KillOp {
    /// Signal the processes marked with `nonce` in `container`, running the script as `user`
    /// (the same user as the command, so it may signal it with no capabilities).
    pub fn new(container: &str, nonce: &str, signal: &str, user: Option<String>) -> Self {
        let spec = ExecSpec {
            cmd: kill_command(nonce, signal),
            user: user.clone(),
            ..ExecSpec::default()
        };
        let timeout = Duration::from_secs(15);
        let id = container.to_string();
        let create = CallOp::new(
            "exec create",
            &exec::create(container, &spec),
            move |r: Response| {
                check(&r, "exec create", Subject::Container(&id))?;
                Ok(r.json::<IdResponse>("exec create")?.id)
            },
        )
        .with_timeout(Some(timeout));
        Self {
            container: container.to_string(),
            state: State::Create(create),
            timeout,
            user,
        }
    }

    /// The user the script runs as.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }
}

impl Operation for KillOp {
    type Event = ();
    type Output = ();

    fn poll(&mut self, now: Instant) -> Step<(), ()> {
        loop {
            match &mut self.state {
                State::Create(call) => match call.poll(now) {
                    Step::Io(io) => return Step::Io(io),
                    Step::Event(()) => {}
                    Step::Done(Ok(id)) => {
                        self.state = State::Start(Exchange::new(
                            "kill",
                            &exec::start(&id, false),
                            Expect::Hijack,
                            Some(self.timeout),
                        ));
                    }
                    Step::Done(Err(e)) => {
                        self.state = State::Done;
                        return Step::Done(Err(e));
                    }
                },
                State::Start(ex) => match ex.poll(now) {
                    ExStep::Io(io) => return Step::Io(io),
                    ExStep::Head(h) if h.status >= 400 => {
                        self.state = State::Done;
                        return Step::Done(Err(Error::Engine {
                            op: "kill",
                            status: h.status,
                            message: h.reason,
                        }));
                    }
                    ExStep::Head(_) | ExStep::Data(_) => {}
                    ExStep::End => {
                        self.state = State::Done;
                        return Step::Io(Io::Close);
                    }
                    ExStep::Failed(e) => {
                        self.state = State::Done;
                        return Step::Done(Err(e));
                    }
                },
                State::Done => return Step::Done(Ok(())),
            }
        }
    }

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        match &mut self.state {
            State::Create(c) => c.handle_input(now, data),
            State::Start(ex) => ex.handle_input(data),
            State::Done => {}
        }
    }

    fn handle_eof(&mut self, now: Instant) {
        match &mut self.state {
            State::Create(c) => c.handle_eof(now),
            State::Start(ex) => ex.handle_eof(),
            State::Done => {}
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match &mut self.state {
            State::Create(c) => c.handle_timeout(now),
            State::Start(ex) => {
                ex.handle_timeout(now);
            }
            State::Done => {}
        }
    }
}
