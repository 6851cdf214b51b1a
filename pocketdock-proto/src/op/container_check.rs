//! Why a command's connection ended under it: the container's own state, looked at until it
//! settles.
//!
//! A command's connection that ends without its result (the in-sandbox agent's exec, say)
//! may mean the container was killed or removed, or only that the connection broke. The
//! engine may still report a killed container as running for a moment after its processes
//! died, so the container is inspected again every [`SETTLE_STEP`] for up to [`SETTLE`]
//! while it says so. The same rule the engine path applies to a command that ended by a
//! signal.

use std::time::{Duration, Instant};

use super::{CallOp, Io, Operation, Step, DEFAULT_CALL_TIMEOUT};
use crate::api::containers::ContainerInspect;
use crate::error::Error;

/// How long a container whose processes died may still be reported as running.
const SETTLE: Duration = Duration::from_millis(500);
/// The pause between two looks at it meanwhile.
const SETTLE_STEP: Duration = Duration::from_millis(50);

enum State {
    Inspect(Box<CallOp<ContainerInspect>>),
    Pause(Instant),
    Done,
}

/// Look at container `id` after a connection of one of its commands ended: `Ok(())` when it
/// still runs (the connection's own error stands), [`Error::ContainerNotRunning`] when it
/// stopped, [`Error::ContainerGone`] when it was removed, and the inspect's error otherwise.
pub struct ContainerCheckOp {
    id: String,
    call_timeout: Duration,
    state: State,
    settle_until: Option<Instant>,
}

impl std::fmt::Debug for ContainerCheckOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerCheckOp")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl ContainerCheckOp {
    /// Check container `id` (an id or a name).
    pub fn new(id: &str) -> Self {
        Self::with_call_timeout(id, DEFAULT_CALL_TIMEOUT)
    }

    /// Check container `id`, each inspect call given `call_timeout`.
    pub fn with_call_timeout(id: &str, call_timeout: Duration) -> Self {
        Self {
            id: id.to_string(),
            call_timeout,
            state: State::Inspect(Self::inspect(id, call_timeout)),
            settle_until: None,
        }
    }

    fn inspect(id: &str, call_timeout: Duration) -> Box<CallOp<ContainerInspect>> {
        Box::new(super::calls::inspect(id).with_timeout(Some(call_timeout)))
    }

    fn finish(&mut self, outcome: Result<(), Error>) -> Step<(), ()> {
        self.state = State::Done;
        Step::Done(outcome)
    }
}

impl Operation for ContainerCheckOp {
    type Event = ();
    type Output = ();

    fn poll(&mut self, now: Instant) -> Step<(), ()> {
        let settle_until = *self.settle_until.get_or_insert(now + SETTLE);
        loop {
            match &mut self.state {
                State::Inspect(call) => match call.poll(now) {
                    Step::Io(io) => return Step::Io(io),
                    Step::Event(()) => {}
                    Step::Done(Ok(c)) if c.state.running && now < settle_until => {
                        self.state = State::Pause(now + SETTLE_STEP);
                    }
                    Step::Done(Ok(c)) if c.state.running => return self.finish(Ok(())),
                    Step::Done(Ok(_)) => {
                        let id = self.id.clone();
                        return self.finish(Err(Error::ContainerNotRunning(id)));
                    }
                    Step::Done(Err(Error::ContainerNotFound(id))) => {
                        return self.finish(Err(Error::ContainerGone(id)));
                    }
                    Step::Done(Err(e)) => return self.finish(Err(e)),
                },
                State::Pause(until) if now < *until => return Step::Io(Io::Wait(*until)),
                State::Pause(_) => {
                    self.state = State::Inspect(Self::inspect(&self.id, self.call_timeout));
                }
                State::Done => return Step::Done(Ok(())),
            }
        }
    }

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if let State::Inspect(c) = &mut self.state {
            c.handle_input(now, data);
        }
    }

    fn handle_eof(&mut self, now: Instant) {
        if let State::Inspect(c) = &mut self.state {
            c.handle_eof(now);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let State::Inspect(c) = &mut self.state {
            c.handle_timeout(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drive `op` with one canned answer per request; the outcome and how many requests it made.
    fn drive(op: &mut ContainerCheckOp, answers: &[&str]) -> (Result<(), Error>, usize) {
        let mut now = Instant::now();
        let mut asked = 0;
        loop {
            match op.poll(now) {
                Step::Done(r) => return (r, asked),
                Step::Event(())
                | Step::Io(Io::Connect | Io::Write(_) | Io::ShutdownWrite | Io::Close) => {}
                Step::Io(Io::Read { .. }) => {
                    let answer = answers[asked.min(answers.len() - 1)];
                    asked += 1;
                    op.handle_input(now, answer.as_bytes());
                    op.handle_eof(now);
                }
                Step::Io(Io::Wait(until)) => {
                    now = until;
                    op.handle_timeout(now);
                }
            }
        }
    }

    fn answer(status: u16, body: &str) -> String {
        format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    fn state(running: bool) -> String {
        answer(
            200,
            &format!(r#"{{"Id":"abc","Name":"/n","State":{{"Running":{running},"Status":"x"}}}}"#),
        )
    }

    #[test]
    fn a_stopped_container_is_not_running() {
        let (r, asked) = drive(&mut ContainerCheckOp::new("abc"), &[&state(false)]);
        assert!(
            matches!(r, Err(Error::ContainerNotRunning(ref id)) if id == "abc"),
            "{r:?}"
        );
        assert_eq!(asked, 1);
    }

    #[test]
    fn a_removed_container_is_gone() {
        let gone = answer(404, r#"{"message":"No such container: abc"}"#);
        let (r, _) = drive(&mut ContainerCheckOp::new("abc"), &[&gone]);
        assert!(matches!(r, Err(Error::ContainerGone(_))), "{r:?}");
    }

    #[test]
    fn a_container_seen_running_is_looked_at_again_until_it_settles() {
        let (r, asked) = drive(
            &mut ContainerCheckOp::new("abc"),
            &[&state(true), &state(true), &state(false)],
        );
        assert!(matches!(r, Err(Error::ContainerNotRunning(_))), "{r:?}");
        assert_eq!(asked, 3);
    }

    #[test]
    fn a_container_that_keeps_running_is_fine_after_the_settle_time() {
        let (r, asked) = drive(&mut ContainerCheckOp::new("abc"), &[&state(true)]);
        assert!(r.is_ok(), "{r:?}");
        let most = (SETTLE.as_millis() / SETTLE_STEP.as_millis()) as usize + 1;
        assert!((2..=most).contains(&asked), "{asked} looks");
    }
}
