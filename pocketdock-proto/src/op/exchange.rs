//! One request and its response on a fresh connection: the building block of every operation.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::Io;
use crate::error::Error;
use crate::http::{Expect, Request, ResponseDecoder, ResponseEvent, ResponseHead};

/// What the exchange wants or produced.
#[derive(Debug)]
pub(crate) enum ExStep {
    Io(Io),
    Head(ResponseHead),
    Data(Bytes),
    End,
    Failed(Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connect,
    Write,
    Read,
    Finished,
}

/// A request/response on its own connection, with a deadline for the whole response.
#[derive(Debug)]
pub(crate) struct Exchange {
    op: &'static str,
    phase: Phase,
    request: Bytes,
    decoder: ResponseDecoder,
    timeout: Option<Duration>,
    deadline: Option<Instant>,
    /// When the connection was asked for: a deadline given without a timeout is reported
    /// as the time waited since then.
    started: Option<Instant>,
    /// A shorter limit for the response head, counted from the connection (a download whose
    /// body may take long, but whose head the engine sends at once).
    head_timeout: Option<Duration>,
    head_seen: bool,
    /// The head's limit, not the whole response's, is what passed.
    head_late: bool,
    timed_out: bool,
}

impl Exchange {
    pub(crate) fn new(
        op: &'static str,
        request: &Request,
        expect: Expect,
        timeout: Option<Duration>,
    ) -> Self {
        Self {
            op,
            phase: Phase::Connect,
            request: request.encode(),
            decoder: ResponseDecoder::new(expect),
            timeout,
            deadline: None,
            started: None,
            head_timeout: None,
            head_seen: false,
            head_late: false,
            timed_out: false,
        }
    }

    /// Replace the per-call timeout (applied when the connection is opened).
    pub(crate) fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// Replace the deadline (e.g. a streaming body gets the command's own deadline).
    pub(crate) fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
        self.timed_out = false;
    }

    /// Give the response head at most `timeout` from the connection (the whole response keeps
    /// its own deadline).
    pub(crate) fn set_head_timeout(&mut self, timeout: Option<Duration>) {
        self.head_timeout = timeout;
    }

    /// When reading must stop: the response's deadline, or the head's while it has not come.
    fn read_deadline(&self) -> Option<Instant> {
        let head = match (self.head_seen, self.head_timeout, self.started) {
            (false, Some(t), Some(s)) => s.checked_add(t),
            _ => None,
        };
        match (self.deadline, head) {
            (Some(d), Some(h)) => Some(d.min(h)),
            (d, h) => d.or(h),
        }
    }

    /// The deadline that passed, as a length: the head's limit, the timeout, or the wait since
    /// the connection.
    fn waited(&self, now: Instant) -> Duration {
        if self.head_late {
            if let Some(t) = self.head_timeout {
                return t;
            }
        }
        self.timeout.unwrap_or_else(|| {
            self.started
                .map_or(Duration::ZERO, |s| now.saturating_duration_since(s))
        })
    }

    pub(crate) fn poll(&mut self, now: Instant) -> ExStep {
        match self.phase {
            Phase::Connect => {
                self.started = Some(now);
                if let Some(t) = self.timeout {
                    // A timeout too large for the clock is no deadline.
                    self.deadline = now.checked_add(t);
                }
                self.phase = Phase::Write;
                ExStep::Io(Io::Connect)
            }
            Phase::Write => {
                self.phase = Phase::Read;
                ExStep::Io(Io::Write(self.request.clone()))
            }
            Phase::Read => match self.decoder.next_event() {
                Ok(Some(ResponseEvent::Head(h))) => {
                    self.head_seen = true;
                    ExStep::Head(h)
                }
                Ok(Some(ResponseEvent::Data(d))) => ExStep::Data(d),
                Ok(Some(ResponseEvent::End)) => {
                    self.phase = Phase::Finished;
                    ExStep::End
                }
                Ok(None) if self.timed_out => {
                    self.phase = Phase::Finished;
                    ExStep::Failed(Error::Timeout {
                        op: self.op,
                        after_ms: self.waited(now).as_millis() as u64,
                    })
                }
                Ok(None) => ExStep::Io(Io::Read {
                    deadline: self.read_deadline(),
                }),
                Err(e) => {
                    self.phase = Phase::Finished;
                    ExStep::Failed(Error::Protocol(e))
                }
            },
            Phase::Finished => ExStep::End,
        }
    }

    pub(crate) fn handle_input(&mut self, data: &[u8]) {
        self.decoder.feed(data);
    }

    pub(crate) fn handle_bytes(&mut self, data: Bytes) {
        self.decoder.feed_bytes(data);
    }

    pub(crate) fn handle_eof(&mut self) {
        self.decoder.feed_eof();
    }

    /// Returns true if the exchange's own deadline passed.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> bool {
        if self.read_deadline().is_some_and(|d| now >= d) {
            self.head_late = self.deadline.is_none_or(|d| now < d);
            self.timed_out = true;
        }
        self.timed_out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;

    #[test]
    fn a_deadline_without_a_timeout_reports_the_time_waited() {
        let t0 = Instant::now();
        let request = Request::new(Method::Post, "/exec/x/start");
        let mut ex = Exchange::new("exec start", &request, Expect::Hijack, None);
        ex.set_deadline(Some(t0 + Duration::from_secs(3)));
        assert!(matches!(ex.poll(t0), ExStep::Io(Io::Connect)));
        assert!(matches!(ex.poll(t0), ExStep::Io(Io::Write(_))));
        assert!(matches!(ex.poll(t0), ExStep::Io(Io::Read { .. })));
        let late = t0 + Duration::from_secs(3);
        assert!(ex.handle_timeout(late));
        match ex.poll(late) {
            ExStep::Failed(Error::Timeout { op, after_ms }) => {
                assert_eq!((op, after_ms), ("exec start", 3000));
            }
            other => panic!("{other:?}"),
        }
    }
}
