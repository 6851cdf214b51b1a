//! A single request whose whole (bounded) response is handed to a parser.

use std::fmt;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::exchange::{ExStep, Exchange};
use super::{Operation, Step};
use crate::error::{Error, ProtocolError, Result};
use crate::http::{Expect, Request, Response, ResponseHead};

type Parser<T> = Box<dyn FnOnce(Response) -> Result<T> + Send>;

/// Send one request, collect the response (at most `max_body` bytes) and parse it.
pub struct CallOp<T> {
    exchange: Exchange,
    head: Option<ResponseHead>,
    body: BytesMut,
    max_body: usize,
    parse: Option<Parser<T>>,
    finished: bool,
}

impl<T> fmt::Debug for CallOp<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallOp")
            .field("exchange", &self.exchange)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

/// Default deadline of one engine call.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Default bound on a collected response body.
pub const DEFAULT_MAX_BODY: usize = 32 * 1024 * 1024;

impl<T> CallOp<T> {
    /// A call named `op` (used in errors) with `parse` applied to the response.
    pub fn new(
        op: &'static str,
        request: &Request,
        parse: impl FnOnce(Response) -> Result<T> + Send + 'static,
    ) -> Self {
        Self {
            exchange: Exchange::new(op, request, Expect::Normal, Some(DEFAULT_CALL_TIMEOUT)),
            head: None,
            body: BytesMut::new(),
            max_body: DEFAULT_MAX_BODY,
            parse: Some(Box::new(parse)),
            finished: false,
        }
    }

    /// Override the deadline of the whole call (`None`: no deadline).
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.exchange.set_timeout(timeout);
        self
    }

    /// Override the body bound.
    pub fn with_max_body(mut self, max_body: usize) -> Self {
        self.max_body = max_body;
        self
    }

    /// Transform the parsed value (to give calls of different types one output type).
    pub fn map<U>(mut self, f: impl FnOnce(T) -> U + Send + 'static) -> CallOp<U>
    where
        T: 'static,
    {
        let parse = self.parse.take();
        CallOp {
            exchange: self.exchange,
            head: self.head,
            body: self.body,
            max_body: self.max_body,
            parse: Some(Box::new(move |r: Response| match parse {
                Some(p) => p(r).map(f),
                None => Err(Error::polled_after_completion()),
            })),
            finished: self.finished,
        }
    }

    fn finish(&mut self, result: Result<T>) -> Step<(), T> {
        self.finished = true;
        Step::Done(result)
    }
}

impl<T> Operation for CallOp<T> {
    type Event = ();
    type Output = T;

    fn poll(&mut self, now: Instant) -> Step<(), T> {
        if self.finished {
            return Step::Done(Err(Error::polled_after_completion()));
        }
        loop {
            match self.exchange.poll(now) {
                ExStep::Io(io) => return Step::Io(io),
                ExStep::Head(h) => self.head = Some(h),
                ExStep::Data(d) => {
                    if self.body.len() + d.len() > self.max_body {
                        return self.finish(Err(ProtocolError::BodyTooLarge(self.max_body).into()));
                    }
                    self.body.extend_from_slice(&d);
                }
                ExStep::Failed(e) => return self.finish(Err(e)),
                ExStep::End => {
                    let Some(head) = self.head.take() else {
                        return self.finish(Err(ProtocolError::EmptyResponse.into()));
                    };
                    let body = std::mem::take(&mut self.body).freeze();
                    let Some(parse) = self.parse.take() else {
                        return self.finish(Err(Error::polled_after_completion()));
                    };
                    let result = parse(Response { head, body });
                    return self.finish(result);
                }
            }
        }
    }

    fn handle_input(&mut self, _now: Instant, data: &[u8]) {
        self.exchange.handle_input(data);
    }

    fn handle_bytes(&mut self, _now: Instant, data: Bytes) {
        self.exchange.handle_bytes(data);
    }

    fn handle_eof(&mut self, _now: Instant) {
        self.exchange.handle_eof();
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.exchange.handle_timeout(now);
    }
}
