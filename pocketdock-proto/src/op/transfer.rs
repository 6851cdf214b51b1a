//! Streamed transfers: an upload whose body the caller feeds chunk by chunk (archive put, image
//! build and load), and a download whose body is handed out as it arrives (archive get, image
//! save). Neither ever holds a whole body: memory stays bounded by one chunk.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::exchange::{ExStep, Exchange};
use super::{Io, Operation, Step, WriteOutcome};
use crate::error::{Error, ProtocolError, Result};
use crate::http::Response;
use crate::http::{encode_chunk, Expect, Request, RequestBody, ResponseHead, CHUNKED_END};

/// Bound on an error body kept for the error message.
const MAX_ERROR_BODY: usize = 64 * 1024;

type Check = Box<dyn Fn(&Response) -> Result<()> + Send>;

/// Events of a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferEvent {
    /// The upload wants more body: call [`UploadOp::push_body`] or [`UploadOp::finish_body`].
    NeedBody,
    /// A piece of a successful response body.
    Data(Bytes),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connect,
    Head,
    Body,
    BodyEnd,
    Response,
    Done,
}

/// Whether an upload's whole body reached the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// Every byte so far was written.
    Whole,
    /// The engine closed the connection before the whole body was written.
    CutShort,
}

/// Shared response handling: stream a success body, keep (bounded) an error body, then check.
struct ResponseSide {
    head: Option<ResponseHead>,
    error_body: BytesMut,
    check: Check,
}

impl ResponseSide {
    fn data(&mut self, d: Bytes) -> Option<TransferEvent> {
        match &self.head {
            Some(h) if h.status < 400 => Some(TransferEvent::Data(d)),
            _ => {
                let room = MAX_ERROR_BODY.saturating_sub(self.error_body.len());
                self.error_body
                    .extend_from_slice(d.get(..room.min(d.len())).unwrap_or_default());
                None
            }
        }
    }

    fn end(&mut self) -> Result<ResponseHead> {
        let head = self.head.take().ok_or(ProtocolError::EmptyResponse)?;
        let resp = Response {
            head,
            body: std::mem::take(&mut self.error_body).freeze(),
        };
        (self.check)(&resp)?;
        Ok(resp.head)
    }
}

/// `PUT`/`POST` with a body the caller streams. Poll it; on [`TransferEvent::NeedBody`] push the
/// next chunk or finish the body. The output is the response head (already checked); a successful
/// response body arrives as [`TransferEvent::Data`].
pub struct UploadOp {
    exchange: Exchange,
    head_bytes: Bytes,
    chunked: bool,
    phase: Phase,
    pending: VecDeque<Bytes>,
    finished_body: bool,
    asked: bool,
    delivery: Delivery,
    response: ResponseSide,
}

impl fmt::Debug for UploadOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadOp")
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

impl UploadOp {
    /// An upload of `request` (its body must be [`RequestBody::Chunked`] or
    /// [`RequestBody::Sized`]), failing with `Error::Timeout` when the response has not completed
    /// `timeout` after the connection opened. `check` maps the response status to an error.
    pub fn new(
        op: &'static str,
        request: &Request,
        timeout: Option<Duration>,
        check: impl Fn(&Response) -> Result<()> + Send + 'static,
    ) -> Self {
        let chunked = matches!(request.body, RequestBody::Chunked { .. });
        Self {
            exchange: Exchange::new(op, request, Expect::Normal, timeout),
            head_bytes: request.encode(),
            chunked,
            phase: Phase::Connect,
            pending: VecDeque::new(),
            finished_body: false,
            asked: false,
            delivery: Delivery::Whole,
            response: ResponseSide {
                head: None,
                error_body: BytesMut::new(),
                check: Box::new(check),
            },
        }
    }

    /// Queue the next piece of body. Pieces queued before the first poll are sent with the
    /// request head in a single write (and the body's end with them when
    /// [`finish_body`](Self::finish_body) was called too).
    pub fn push_body(&mut self, chunk: Bytes) {
        self.asked = false;
        if !chunk.is_empty() {
            self.pending.push_back(chunk);
        }
    }

    /// No more body.
    pub fn finish_body(&mut self) {
        self.asked = false;
        self.finished_body = true;
    }
}

impl Operation for UploadOp {
    type Event = TransferEvent;
    type Output = ResponseHead;

    #[expect(
        clippy::single_match_else,
        reason = "the connect phase accepts one step of the exchange and refuses every other"
    )]
    fn poll(&mut self, now: Instant) -> Step<TransferEvent, ResponseHead> {
        loop {
            match self.phase {
                Phase::Connect => {
                    // The exchange opens the connection (and starts its deadline); its request
                    // write is replaced by ours: head first, then the streamed body.
                    match self.exchange.poll(now) {
                        ExStep::Io(Io::Connect) => {
                            self.phase = Phase::Head;
                            return Step::Io(Io::Connect);
                        }
                        _ => {
                            self.phase = Phase::Done;
                            return Step::Done(Err(Error::SocketCommunication(
                                "upload could not start".into(),
                            )));
                        }
                    }
                }
                Phase::Head => {
                    // Skip the exchange's own write: it would send the head again.
                    let _ = self.exchange.poll(now);
                    self.phase = Phase::Body;
                    if self.pending.is_empty() {
                        return Step::Io(Io::Write(self.head_bytes.clone()));
                    }
                    // Body queued before the first poll goes out with the head, in one write:
                    // an engine that answers an error from the head alone and closes cannot
                    // turn a small upload's answer into a broken pipe.
                    let mut first = BytesMut::from(&self.head_bytes[..]);
                    while let Some(chunk) = self.pending.pop_front() {
                        if self.chunked {
                            first.extend_from_slice(&encode_chunk(&chunk));
                        } else {
                            first.extend_from_slice(&chunk);
                        }
                    }
                    if self.finished_body {
                        self.phase = Phase::Response;
                        if self.chunked {
                            first.extend_from_slice(CHUNKED_END);
                        }
                    }
                    return Step::Io(Io::Write(first.freeze()));
                }
                Phase::Body => {
                    if let Some(chunk) = self.pending.pop_front() {
                        let data = if self.chunked {
                            encode_chunk(&chunk)
                        } else {
                            chunk
                        };
                        return Step::Io(Io::Write(data));
                    }
                    if self.finished_body {
                        self.phase = Phase::BodyEnd;
                        continue;
                    }
                    if self.asked {
                        return Step::Done(Err(Error::SocketCommunication(
                            "upload polled without body after NeedBody".into(),
                        )));
                    }
                    self.asked = true;
                    return Step::Event(TransferEvent::NeedBody);
                }
                Phase::BodyEnd => {
                    self.phase = Phase::Response;
                    if self.chunked {
                        return Step::Io(Io::Write(Bytes::from_static(CHUNKED_END)));
                    }
                }
                Phase::Response => match self.exchange.poll(now) {
                    ExStep::Io(io) => return Step::Io(io),
                    ExStep::Head(h) => self.response.head = Some(h),
                    ExStep::Data(d) => {
                        if let Some(ev) = self.response.data(d) {
                            return Step::Event(ev);
                        }
                    }
                    ExStep::End => {
                        self.phase = Phase::Done;
                        let head = self.response.end();
                        // An answer of success to a body cut short would claim a write that
                        // did not happen.
                        if self.delivery == Delivery::CutShort && head.is_ok() {
                            return Step::Done(Err(WriteOutcome::closed_error()));
                        }
                        return Step::Done(head);
                    }
                    ExStep::Failed(e) => {
                        self.phase = Phase::Done;
                        return Step::Done(Err(e));
                    }
                },
                Phase::Done => return Step::Done(Err(Error::polled_after_completion())),
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

    /// The engine answered from the head and closed: drop the rest of the body and read the
    /// answer, which says why (the response check turns it into the error).
    fn handle_write_refused(&mut self, _now: Instant) -> bool {
        if !matches!(self.phase, Phase::Body | Phase::BodyEnd | Phase::Response) {
            return false;
        }
        self.pending.clear();
        self.finished_body = true;
        self.delivery = Delivery::CutShort;
        self.phase = Phase::Response;
        true
    }
}

/// A request whose response body is handed out as it arrives. The output is the (checked)
/// response head.
pub struct DownloadOp {
    exchange: Exchange,
    response: ResponseSide,
    done: bool,
}

impl fmt::Debug for DownloadOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DownloadOp").finish_non_exhaustive()
    }
}

impl DownloadOp {
    /// A download of `request`, with a deadline for the whole response and a status check.
    pub fn new(
        op: &'static str,
        request: &Request,
        timeout: Option<Duration>,
        check: impl Fn(&Response) -> Result<()> + Send + 'static,
    ) -> Self {
        Self {
            exchange: Exchange::new(op, request, Expect::Normal, timeout),
            response: ResponseSide {
                head: None,
                error_body: BytesMut::new(),
                check: Box::new(check),
            },
            done: false,
        }
    }

    /// Give the response head at most `timeout` from the connection, however long the whole
    /// response may take: for an engine that answers at once and then streams (an archive
    /// download), so that one that never answers is given up on as a call would be.
    #[must_use]
    pub fn with_head_timeout(mut self, timeout: Duration) -> Self {
        self.exchange.set_head_timeout(Some(timeout));
        self
    }

    /// A `HEAD` request: the same as [`new`](Self::new), except that the response never has a
    /// body whatever its `Content-Length` says, so the output (the head) is all there is.
    pub fn head_only(
        op: &'static str,
        request: &Request,
        timeout: Option<Duration>,
        check: impl Fn(&Response) -> Result<()> + Send + 'static,
    ) -> Self {
        Self {
            exchange: Exchange::new(op, request, Expect::HeadOnly, timeout),
            ..Self::new(op, request, timeout, check)
        }
    }
}

impl Operation for DownloadOp {
    type Event = TransferEvent;
    type Output = ResponseHead;

    fn poll(&mut self, now: Instant) -> Step<TransferEvent, ResponseHead> {
        if self.done {
            return Step::Done(Err(Error::polled_after_completion()));
        }
        loop {
            match self.exchange.poll(now) {
                ExStep::Io(io) => return Step::Io(io),
                ExStep::Head(h) => self.response.head = Some(h),
                ExStep::Data(d) => {
                    if let Some(ev) = self.response.data(d) {
                        return Step::Event(ev);
                    }
                }
                ExStep::End => {
                    self.done = true;
                    return Step::Done(self.response.end());
                }
                ExStep::Failed(e) => {
                    self.done = true;
                    return Step::Done(Err(e));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;

    #[test]
    fn upload_streams_chunks_then_reads_the_response() {
        let req = Request::new(Method::Put, "/x").with_body(RequestBody::Chunked {
            content_type: "application/x-tar",
        });
        let mut op = UploadOp::new("put", &req, None, |r: &Response| {
            if r.status() == 200 {
                Ok(())
            } else {
                Err(Error::SocketCommunication(r.message()))
            }
        });
        let now = Instant::now();
        let mut written = Vec::new();
        let mut fed = 0;
        let head = loop {
            match op.poll(now) {
                Step::Io(Io::Connect) => {}
                Step::Io(Io::Write(b)) => written.extend_from_slice(&b),
                Step::Event(TransferEvent::NeedBody) => {
                    fed += 1;
                    if fed <= 3 {
                        op.push_body(Bytes::from(vec![b'a'; fed * 10]));
                    } else {
                        op.finish_body();
                    }
                }
                Step::Io(Io::Read { .. }) => {
                    op.handle_input(now, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
                }
                Step::Done(r) => break r,
                other => panic!("unexpected {other:?}"),
            }
        };
        let text = String::from_utf8_lossy(&written).to_string();
        assert!(text.starts_with("PUT /x HTTP/1.1\r\n"));
        assert!(text.contains("Transfer-Encoding: chunked"));
        assert!(text.ends_with("a\r\naaaaaaaaaa\r\n14\r\naaaaaaaaaaaaaaaaaaaa\r\n1e\r\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n0\r\n\r\n"));
        assert_eq!(head.map(|h| h.status).ok(), Some(200));
    }

    /// A body queued before the first poll goes out with the head in one write, the chunked
    /// end included when the body is complete; nothing more is asked.
    #[test]
    fn upload_body_queued_first_is_written_with_the_head() {
        let req = Request::new(Method::Put, "/x").with_body(RequestBody::Chunked {
            content_type: "application/x-tar",
        });
        let mut op = UploadOp::new("put", &req, None, |_: &Response| Ok(()));
        op.push_body(Bytes::from_static(b"abc"));
        op.finish_body();
        let now = Instant::now();
        let mut writes = Vec::new();
        let head = loop {
            match op.poll(now) {
                Step::Io(Io::Connect) => {}
                Step::Io(Io::Write(b)) => writes.push(b),
                Step::Io(Io::Read { .. }) => {
                    op.handle_input(now, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
                }
                Step::Done(r) => break r,
                other => panic!("unexpected {other:?}"),
            }
        };
        assert_eq!(writes.len(), 1, "{writes:?}");
        let text = String::from_utf8_lossy(&writes[0]).to_string();
        assert!(text.starts_with("PUT /x HTTP/1.1\r\n"));
        assert!(text.ends_with("\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), "{text}");
        assert_eq!(head.map(|h| h.status).ok(), Some(200));
    }

    #[test]
    fn download_hands_out_data_and_maps_errors() {
        let req = Request::new(Method::Get, "/a");
        for (wire, want_ok) in [
            (
                &b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"[..],
                true,
            ),
            (
                &b"HTTP/1.1 404 Not Found\r\nContent-Length: 17\r\n\r\n{\"message\":\"no\"}\n"[..],
                false,
            ),
        ] {
            let mut op = DownloadOp::new("get", &req, None, |r: &Response| {
                crate::api::check(r, "get", crate::api::Subject::Path("/a"))
            });
            let now = Instant::now();
            let mut data = Vec::new();
            let mut fed = false;
            let result = loop {
                match op.poll(now) {
                    Step::Io(Io::Connect | Io::Write(_)) => {}
                    Step::Io(Io::Read { .. }) if !fed => {
                        fed = true;
                        op.handle_input(now, wire);
                    }
                    Step::Io(Io::Read { .. }) => op.handle_eof(now),
                    Step::Event(TransferEvent::Data(d)) => data.extend_from_slice(&d),
                    Step::Done(r) => break r,
                    other => panic!("unexpected {other:?}"),
                }
            };
            if want_ok {
                assert_eq!(data, b"hello");
                assert!(result.is_ok());
            } else {
                assert!(data.is_empty());
                assert!(matches!(result, Err(Error::PathNotFound(_))));
            }
        }
    }
}
