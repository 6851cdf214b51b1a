//! Stop a command whose caller went away (a dropped `run` future or stream): kill its process
//! tree, then make sure it stayed dead.
//!
//! A single [`KillOp`] can come too early: the caller may have gone while the engine was still
//! starting the exec, and a kill that scans `/proc` before the process exists finds nothing.
//! So this operation kills, inspects the exec, and repeats (every [`CANCEL_RETRY`]) until the
//! engine says the exec ran and stopped, or [`CANCEL_WINDOW`] has passed. A container that is
//! gone or stopped has nothing left to kill.

use std::time::{Duration, Instant};

use super::{CallOp, KillOp, Operation, Step};
use crate::api::exec::ExecInspect;
use crate::error::Error;

/// How long a cancelled command is watched for.
pub const CANCEL_WINDOW: Duration = Duration::from_secs(3);
/// Time between two kills of a cancelled command that has not stopped yet.
pub const CANCEL_RETRY: Duration = Duration::from_millis(200);

enum State {
    Kill(KillOp),
    Inspect(CallOp<ExecInspect>),
    Pause(Instant),
    Done,
}

/// Kill the processes of exec `exec_id` (marked with `nonce`) until the engine reports the exec
/// stopped. See the module docs.
pub struct CancelOp {
    container: String,
    exec_id: String,
    nonce: String,
    user: Option<String>,
    state: State,
    give_up: Option<Instant>,
}

impl std::fmt::Debug for CancelOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelOp")
            .field("container", &self.container)
            .field("exec_id", &self.exec_id)
            .finish_non_exhaustive()
    }
}

impl CancelOp {
    /// Cancel exec `exec_id` of `container`, whose processes carry `nonce`, killing as `user`.
    pub fn new(container: &str, exec_id: &str, nonce: &str, user: Option<String>) -> Self {
        Self {
            state: State::Kill(KillOp::new(container, nonce, "KILL", user.clone())),
            container: container.to_string(),
            exec_id: exec_id.to_string(),
            nonce: nonce.to_string(),
            user,
            give_up: None,
        }
    }

    fn inspect(&self) -> CallOp<ExecInspect> {
        super::calls::exec_inspect(&self.container, &self.exec_id)
            .with_timeout(Some(Duration::from_secs(15)))
    }
}

/// Nothing left to kill: the container (or the exec) is gone or stopped.
fn nothing_left(e: &Error) -> bool {
    matches!(
        e,
        Error::ContainerNotFound(_) | Error::ContainerNotRunning(_) | Error::ContainerGone(_)
    )
}

impl Operation for CancelOp {
    type Event = ();
    type Output = ();

    fn poll(&mut self, now: Instant) -> Step<(), ()> {
        let give_up = *self.give_up.get_or_insert(now + CANCEL_WINDOW);
        loop {
            match &mut self.state {
                State::Kill(kill) => match kill.poll(now) {
                    Step::Io(io) => return Step::Io(io),
                    Step::Event(()) => {}
                    Step::Done(Ok(())) => self.state = State::Inspect(self.inspect()),
                    Step::Done(Err(e)) => {
                        self.state = State::Done;
                        return Step::Done(if nothing_left(&e) { Ok(()) } else { Err(e) });
                    }
                },
                State::Inspect(call) => match call.poll(now) {
                    Step::Io(io) => return Step::Io(io),
                    Step::Event(()) => {}
                    // Started (a host pid) and no longer running: done.
                    Step::Done(Ok(info)) if !info.running && info.pid != 0 => {
                        self.state = State::Done;
                        return Step::Done(Ok(()));
                    }
                    Step::Done(Ok(_)) if now >= give_up => {
                        self.state = State::Done;
                        return Step::Done(Ok(()));
                    }
                    Step::Done(Ok(_)) => self.state = State::Pause(now + CANCEL_RETRY),
                    Step::Done(Err(e)) => {
                        self.state = State::Done;
                        return Step::Done(if nothing_left(&e) { Ok(()) } else { Err(e) });
                    }
                },
                State::Pause(until) if now < *until => return Step::Io(super::Io::Wait(*until)),
                State::Pause(_) => {
                    self.state = State::Kill(KillOp::new(
                        &self.container,
                        &self.nonce,
                        "KILL",
                        self.user.clone(),
                    ));
                }
                State::Done => return Step::Done(Ok(())),
            }
        }
    }

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        match &mut self.state {
            State::Kill(k) => k.handle_input(now, data),
            State::Inspect(c) => c.handle_input(now, data),
            _ => {}
        }
    }

    fn handle_eof(&mut self, now: Instant) {
        match &mut self.state {
            State::Kill(k) => k.handle_eof(now),
            State::Inspect(c) => c.handle_eof(now),
            _ => {}
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match &mut self.state {
            State::Kill(k) => k.handle_timeout(now),
            State::Inspect(c) => c.handle_timeout(now),
            _ => {}
        }
    }
}
