//! A scripted engine for the tests of the composite operations: each request is checked against
//! the request line expected next and answered with recorded bytes, delivered in two reads split
//! at a given point, on virtual time (no sleeps, no sockets).

use std::time::{Duration, Instant};

use crate::error::Result;
use crate::op::{Io, Operation, Step};

/// One exchange: the request line the engine expects (a part of it) and its answer.
pub(crate) struct Answer {
    pub(crate) request: String,
    pub(crate) response: Vec<u8>,
}

impl Answer {
    /// An answer with status line `status` (e.g. `200 OK`) and a JSON `body`.
    pub(crate) fn new(request: &str, status: &str, body: &str) -> Self {
        Self {
            request: request.to_string(),
            response: format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
        }
    }
}

/// The longest answer: the split points to try are `0..=longest(answers)`.
pub(crate) fn longest(answers: &[Answer]) -> usize {
    answers.iter().map(|a| a.response.len()).max().unwrap_or(0)
}

/// Drive `op` against `answers`, each delivered in two reads split at `split`. Returns the
/// events and the outcome; panics on a request that was not expected, or on one too many.
pub(crate) fn run<O: Operation>(
    mut op: O,
    answers: &[Answer],
    split: usize,
) -> (Vec<O::Event>, Result<O::Output>) {
    let mut now = Instant::now();
    let mut next = 0;
    let mut pending: Vec<Vec<u8>> = Vec::new();
    let mut request = Vec::new();
    let mut events = Vec::new();
    loop {
        now += Duration::from_millis(1);
        match op.poll(now) {
            Step::Event(e) => events.push(e),
            Step::Done(r) => {
                assert_eq!(next, answers.len(), "answers left unused");
                return (events, r);
            }
            Step::Io(Io::Connect) => {
                request.clear();
                pending.clear();
            }
            Step::Io(Io::Write(bytes)) => {
                request.extend_from_slice(&bytes);
                if pending.is_empty() && request.windows(4).any(|w| w == b"\r\n\r\n") {
                    let answer = answers
                        .get(next)
                        .unwrap_or_else(|| panic!("unexpected request {next}"));
                    let text = String::from_utf8_lossy(&request);
                    assert!(
                        text.lines()
                            .next()
                            .unwrap_or_default()
                            .contains(&answer.request),
                        "request {next}: {text}"
                    );
                    let (a, b) = answer.response.split_at(split.min(answer.response.len()));
                    pending = [a.to_vec(), b.to_vec()]
                        .into_iter()
                        .filter(|p| !p.is_empty())
                        .collect();
                    next += 1;
                }
            }
            Step::Io(Io::Read { .. }) => {
                if pending.is_empty() {
                    op.handle_eof(now);
                } else {
                    let chunk = pending.remove(0);
                    op.handle_input(now, &chunk);
                }
            }
            Step::Io(Io::Wait(until)) => {
                now = until;
                op.handle_timeout(now);
            }
            Step::Io(Io::ShutdownWrite | Io::Close) => {}
        }
    }
}
