//! Response heads and body framing.

use bytes::{Bytes, BytesMut};

use super::chunked::{Chunk, ChunkedDecoder};
use super::input::Input;
use super::Limits;
use crate::error::ProtocolError;

/// A parsed status line and headers.
///
/// The headers are kept in one string, names lower-cased and values trimmed, back to back: a
/// head costs three allocations however many headers it has (every engine call decodes at least
/// one head).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// Status code.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// Every header's name, then its value.
    text: String,
    /// Per header, in order: where its name ends and where its value ends in `text` (its name
    /// starts where the previous value ends).
    ends: Vec<(usize, usize)>,
}

impl ResponseHead {
    /// A head with these headers (names are lower-cased, values trimmed, as a parsed head's).
    pub fn new(status: u16, reason: &str, headers: &[(&str, &str)]) -> Self {
        let bytes = headers.iter().map(|(n, v)| n.len() + v.len()).sum();
        let mut head = Self::empty(status, reason, headers.len(), bytes);
        for (name, value) in headers {
            head.push(name, value.as_bytes());
        }
        head
    }

    /// A head with room for `count` headers of `bytes` bytes in all.
    fn empty(status: u16, reason: &str, count: usize, bytes: usize) -> Self {
        Self {
            status,
            reason: reason.to_string(),
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(count),
        }
    }

    /// Add a header; invalid UTF-8 in a value is replaced, as the engines send none.
    fn push(&mut self, name: &str, value: &[u8]) {
        let start = self.text.len();
        self.text.push_str(name);
        if let Some(added) = self.text.get_mut(start..) {
            added.make_ascii_lowercase();
        }
        let name_end = self.text.len();
        match std::str::from_utf8(value) {
            Ok(v) => self.text.push_str(v.trim()),
            Err(_) => self.text.push_str(String::from_utf8_lossy(value).trim()),
        }
        self.ends.push((name_end, self.text.len()));
    }

    /// The headers, in order: names lower-cased, values trimmed.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut start = 0;
        self.ends.iter().map(move |&(name_end, value_end)| {
            let pair = (
                self.text.get(start..name_end).unwrap_or(""),
                self.text.get(name_end..value_end).unwrap_or(""),
            );
            start = value_end;
            pair
        })
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// True for 2xx statuses.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    fn is_chunked(&self) -> bool {
        self.headers().any(|(n, v)| {
            n == "transfer-encoding"
                && v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("chunked"))
        })
    }

    fn content_length(&self) -> Result<Option<u64>, ProtocolError> {
        let mut found: Option<u64> = None;
        for (n, v) in self.headers() {
            if n != "content-length" {
                continue;
            }
            let parsed: u64 = v.trim().parse().map_err(|_| ProtocolError::InvalidHeader {
                name: "content-length".into(),
                detail: format!("not a number: {v:?}"),
            })?;
            if found.is_some_and(|f| f != parsed) {
                return Err(ProtocolError::InvalidHeader {
                    name: "content-length".into(),
                    detail: "conflicting values".into(),
                });
            }
            found = Some(parsed);
        }
        Ok(found)
    }
}

/// Header slots kept on the stack while a head is parsed (the default limit's worth).
const MAX_HEADERS_ON_STACK: usize = 64;

/// What kind of response the caller expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// An ordinary response.
    Normal,
    /// A response to a request that asked to hijack the connection (exec/attach start):
    /// `101` and `200` bodies run until the connection closes unless chunked or sized.
    Hijack,
    /// A response to `HEAD`: never a body.
    HeadOnly,
}

/// How the body of a response is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body.
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked.
    Chunked,
    /// Until the connection closes (including upgraded connections).
    UntilClose,
}

/// What the decoder produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseEvent {
    /// The head (emitted once, first). Interim `1xx` heads other than `101` are skipped.
    Head(ResponseHead),
    /// Body bytes, in order, as they arrive.
    Data(Bytes),
    /// The body is complete.
    End,
}

#[derive(Debug)]
enum State {
    Head,
    Length(u64),
    Chunked(ChunkedDecoder),
    UntilClose,
    Done,
}

/// Push-based decoder of one HTTP/1.1 response.
///
/// Feed bytes with [`feed`](Self::feed) or [`feed_bytes`](Self::feed_bytes) (and
/// [`feed_eof`](Self::feed_eof) when the peer closed), then drain [`next_event`](Self::next_event)
/// until it returns `Ok(None)`. Body bytes are handed out as soon as they arrive: memory stays
/// bounded by what was fed plus one head or chunk line. Bytes that arrived together with the head
/// belong to the body.
///
/// Bytes fed as a [`Bytes`] are not copied: body data is split off them. Only a head or chunk
/// line that spans two reads is copied into the decoder's own buffer (its part left at the end
/// of one, so that the buffer that was read into is not held, and its rest from the next).
#[derive(Debug)]
pub struct ResponseDecoder {
    framing: Framing,
    /// Bytes fed as slices, and a partial head or chunk line kept between reads. Its bytes come
    /// before those of `input`.
    buf: BytesMut,
    /// Bytes fed whole, consumed in place.
    input: Bytes,
}

/// The decoder's state and settings, apart from its input.
#[derive(Debug)]
struct Framing {
    state: State,
    limits: Limits,
    expect: Expect,
    eof: bool,
}

impl ResponseDecoder {
    /// A decoder for one response.
    pub fn new(expect: Expect) -> Self {
        Self::with_limits(expect, Limits::default())
    }

    /// A decoder with explicit limits.
    pub fn with_limits(expect: Expect, limits: Limits) -> Self {
        Self {
            framing: Framing {
                state: State::Head,
                limits,
                expect,
                eof: false,
            },
            buf: BytesMut::new(),
            input: Bytes::new(),
        }
    }

    /// Append received bytes (copied).
    pub fn feed(&mut self, data: &[u8]) {
        self.keep_input();
        self.buf.extend_from_slice(data);
    }

    /// Append received bytes, taken over without copying them.
    pub fn feed_bytes(&mut self, data: Bytes) {
        if self.input.is_empty() {
            self.input = data;
        } else {
            self.feed(&data);
        }
    }

    /// The peer closed its side of the connection.
    pub fn feed_eof(&mut self) {
        self.framing.eof = true;
    }

    /// True once [`ResponseEvent::End`] has been produced.
    pub fn is_done(&self) -> bool {
        matches!(self.framing.state, State::Done)
    }

    /// Bytes buffered but not yet handed out.
    pub fn buffered(&self) -> usize {
        self.buf.len() + self.input.len()
    }

    /// The next event, `Ok(None)` when more input is needed.
    pub fn next_event(&mut self) -> Result<Option<ResponseEvent>, ProtocolError> {
        loop {
            if self.buf.is_empty() {
                let event = self.framing.next_event(&mut self.input);
                if matches!(event, Ok(None)) {
                    self.keep_input();
                }
                return event;
            }
            let event = self.framing.next_event(&mut self.buf);
            if !matches!(event, Ok(None)) || self.input.is_empty() {
                return event;
            }
            if !self.buf.is_empty() {
                // A partial head or line waits for the bytes taken over after it: copy them
                // up to the next line end only, and take the rest from where they are.
                let n = self
                    .input
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(self.input.len(), |p| p + 1);
                self.buf.extend_from_slice(&self.input.split_to(n));
            }
        }
    }

    /// Move what is left of `input` into the decoder's own buffer, and let go of the buffer it
    /// was read into (an emptied `Bytes` still refers to it).
    fn keep_input(&mut self) {
        if !self.input.is_empty() {
            self.buf.extend_from_slice(&self.input);
        }
        self.input = Bytes::new();
    }
}

impl Framing {
    #[expect(
        clippy::single_match_else,
        reason = "a head or not yet: both arms are long and read as the two cases"
    )]
    fn next_event(&mut self, buf: &mut impl Input) -> Result<Option<ResponseEvent>, ProtocolError> {
        loop {
            match &mut self.state {
                State::Done => return Ok(None),
                State::Head => match self.parse_head(buf)? {
                    Some(head) => {
                        if (100..200).contains(&head.status) && head.status != 101 {
                            continue;
                        }
                        self.state = match self.body_kind(&head)? {
                            BodyKind::None => State::Length(0),
                            BodyKind::Length(n) => State::Length(n),
                            BodyKind::Chunked => {
                                State::Chunked(ChunkedDecoder::new(self.limits.max_chunk_line))
                            }
                            BodyKind::UntilClose => State::UntilClose,
                        };
                        return Ok(Some(ResponseEvent::Head(head)));
                    }
                    None => {
                        if self.eof {
                            return Err(if buf.bytes().is_empty() {
                                ProtocolError::EmptyResponse
                            } else {
                                ProtocolError::MalformedHead("connection closed inside head".into())
                            });
                        }
                        return Ok(None);
                    }
                },
                State::Length(0) => {
                    self.state = State::Done;
                    return Ok(Some(ResponseEvent::End));
                }
                State::Length(remaining) => {
                    let len = buf.bytes().len();
                    if len == 0 {
                        if self.eof {
                            return Err(ProtocolError::TruncatedBody(format!(
                                "{remaining} bytes missing"
                            )));
                        }
                        return Ok(None);
                    }
                    let n = usize::try_from(*remaining).unwrap_or(usize::MAX).min(len);
                    *remaining -= n as u64;
                    return Ok(Some(ResponseEvent::Data(buf.take(n))));
                }
                State::Chunked(dec) => match dec.decode_from(buf)? {
                    Some(Chunk::Data(d)) => return Ok(Some(ResponseEvent::Data(d))),
                    Some(Chunk::End) => {
                        self.state = State::Done;
                        return Ok(Some(ResponseEvent::End));
                    }
                    None => {
                        if self.eof {
                            return Err(ProtocolError::TruncatedBody(
                                "chunked body not terminated".into(),
                            ));
                        }
                        return Ok(None);
                    }
                },
                State::UntilClose => {
                    let len = buf.bytes().len();
                    if len > 0 {
                        return Ok(Some(ResponseEvent::Data(buf.take(len))));
                    }
                    if self.eof {
                        self.state = State::Done;
                        return Ok(Some(ResponseEvent::End));
                    }
                    return Ok(None);
                }
            }
        }
    }

    fn body_kind(&self, head: &ResponseHead) -> Result<BodyKind, ProtocolError> {
        if self.expect == Expect::HeadOnly
            || head.status == 204
            || head.status == 304
            || (100..200).contains(&head.status) && head.status != 101
        {
            return Ok(BodyKind::None);
        }
        if head.status == 101 {
            return Ok(BodyKind::UntilClose);
        }
        if head.is_chunked() {
            return Ok(BodyKind::Chunked);
        }
        if let Some(n) = head.content_length()? {
            return Ok(BodyKind::Length(n));
        }
        Ok(BodyKind::UntilClose)
    }

    fn parse_head(&self, buf: &mut impl Input) -> Result<Option<ResponseHead>, ProtocolError> {
        let bytes = buf.bytes();
        if bytes.is_empty() {
            return Ok(None);
        }
        // Room for the most headers a head may have, on the stack (httparse fills what it
        // finds): no allocation for a parse that finds the head incomplete.
        let mut storage = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() };
            MAX_HEADERS_ON_STACK];
        let mut on_heap;
        let slots = if self.limits.max_headers <= MAX_HEADERS_ON_STACK {
            &mut storage[..self.limits.max_headers]
        } else {
            on_heap = vec![std::mem::MaybeUninit::uninit(); self.limits.max_headers];
            &mut on_heap[..]
        };
        let mut resp = httparse::Response::new(&mut []);
        let status = httparse::ParserConfig::default()
            .parse_response_with_uninit_headers(&mut resp, bytes, slots)
            .map_err(|e| ProtocolError::MalformedHead(e.to_string()))?;
        match status {
            httparse::Status::Partial => {
                if bytes.len() > self.limits.max_head_bytes {
                    return Err(ProtocolError::HeadTooLarge(self.limits.max_head_bytes));
                }
                Ok(None)
            }
            httparse::Status::Complete(len) => {
                if len > self.limits.max_head_bytes {
                    return Err(ProtocolError::HeadTooLarge(self.limits.max_head_bytes));
                }
                let bytes = resp
                    .headers
                    .iter()
                    .map(|h| h.name.len() + h.value.len())
                    .sum();
                let mut head = ResponseHead::empty(
                    resp.code.unwrap_or(0),
                    resp.reason.unwrap_or(""),
                    resp.headers.len(),
                    bytes,
                );
                for h in resp.headers.iter() {
                    head.push(h.name, h.value);
                }
                buf.skip(len);
                Ok(Some(head))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decode one head with `limits` from `raw` (a status line and headers, no body).
    fn head_of(raw: &[u8], limits: Limits) -> Result<ResponseHead, ProtocolError> {
        let mut dec = ResponseDecoder::with_limits(Expect::Normal, limits);
        dec.feed(raw);
        match dec.next_event()? {
            Some(ResponseEvent::Head(h)) => Ok(h),
            other => panic!("no head: {other:?}"),
        }
    }

    fn many_headers(n: usize) -> Vec<u8> {
        let mut raw = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n".to_vec();
        for i in 1..n {
            raw.extend_from_slice(format!("X-H{i}: {i}\r\n").as_bytes());
        }
        raw.extend_from_slice(b"\r\n");
        raw
    }

    #[test]
    fn headers_keep_their_order_lower_cased_names_and_trimmed_values() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Dup: a\r\n\
            X-DUP:  b \r\nX-Bin: \xff\xfe\r\nContent-Length: 0\r\n\r\n";
        let head = head_of(raw, Limits::default()).unwrap_or_else(|e| panic!("{e}"));
        let all: Vec<(&str, &str)> = head.headers().collect();
        assert_eq!(
            all,
            [
                ("content-type", "application/json"),
                ("x-dup", "a"),
                ("x-dup", "b"),
                ("x-bin", "\u{fffd}\u{fffd}"),
                ("content-length", "0"),
            ]
        );
        assert_eq!(
            head.header("X-Dup"),
            Some("a"),
            "the first of repeated headers"
        );
        assert_eq!(head.header("missing"), None);
        assert_eq!(head, ResponseHead::new(200, "OK", &all));
    }

    #[test]
    fn the_header_limit_holds_below_and_above_the_slots_kept_on_the_stack() {
        let at = Limits::default().max_headers;
        assert_eq!(
            head_of(&many_headers(at), Limits::default()).map(|h| h.headers().count()),
            Ok(at)
        );
        assert!(matches!(
            head_of(&many_headers(at + 1), Limits::default()),
            Err(ProtocolError::MalformedHead(_))
        ));
        let wide = Limits {
            max_headers: MAX_HEADERS_ON_STACK * 2,
            ..Limits::default()
        };
        let n = MAX_HEADERS_ON_STACK + 10;
        assert_eq!(
            head_of(&many_headers(n), wide).map(|h| h.headers().count()),
            Ok(n)
        );
    }

    fn run(
        input: &[u8],
        expect: Expect,
        step: usize,
    ) -> Result<(ResponseHead, Vec<u8>), ProtocolError> {
        let mut dec = ResponseDecoder::new(expect);
        let mut head = None;
        let mut body = Vec::new();
        let mut pieces = input.chunks(step.max(1)).peekable();
        loop {
            let last = pieces.peek().is_none();
            if let Some(p) = pieces.next() {
                dec.feed(p);
            } else {
                dec.feed_eof();
            }
            while let Some(ev) = dec.next_event()? {
                match ev {
                    ResponseEvent::Head(h) => head = Some(h),
                    ResponseEvent::Data(d) => body.extend_from_slice(&d),
                    ResponseEvent::End => {
                        return head.map(|h| (h, body)).ok_or(ProtocolError::EmptyResponse)
                    }
                }
            }
            if last {
                return Err(ProtocolError::TruncatedBody("test".into()));
            }
        }
    }

    #[test]
    fn content_length_body() {
        let wire = b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{\"Id\":1}\n";
        for step in 1..=wire.len() {
            let (h, b) = run(wire, Expect::Normal, step).unwrap();
            assert_eq!(h.status, 201);
            assert_eq!(b, b"{\"Id\":1}\n");
        }
    }

    #[test]
    fn no_body_statuses() {
        let (h, b) = run(b"HTTP/1.1 204 No Content\r\n\r\n", Expect::Normal, 3).unwrap();
        assert_eq!((h.status, b.len()), (204, 0));
        let (h, _) = run(
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
            Expect::Normal,
            100,
        )
        .unwrap();
        assert_eq!(h.status, 304);
    }

    #[test]
    fn upgrade_body_runs_until_close_and_keeps_head_bytes() {
        let wire = b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n\x01\x00\x00\x00\x00\x00\x00\x02hi";
        for step in 1..=wire.len() {
            let (h, b) = run(wire, Expect::Hijack, step).unwrap();
            assert_eq!(h.status, 101);
            assert_eq!(b, b"\x01\x00\x00\x00\x00\x00\x00\x02hi");
        }
    }

    #[test]
    fn raw_200_and_chunked_hijack() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\nabc";
        let (_, b) = run(wire, Expect::Hijack, 5).unwrap();
        assert_eq!(b, b"abc");
        let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        let (_, b) = run(wire, Expect::Hijack, 2).unwrap();
        assert_eq!(b, b"abc");
    }

    #[test]
    fn errors_are_typed() {
        assert_eq!(
            run(b"", Expect::Normal, 1).err(),
            Some(ProtocolError::EmptyResponse)
        );
        assert!(matches!(
            run(
                b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
                Expect::Normal,
                4
            ),
            Err(ProtocolError::TruncatedBody(_))
        ));
        assert!(matches!(
            run(
                b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
                Expect::Normal,
                4
            ),
            Err(ProtocolError::InvalidHeader { .. })
        ));
        assert!(matches!(
            run(b"NOT HTTP\r\n\r\n", Expect::Normal, 4),
            Err(ProtocolError::MalformedHead(_))
        ));
        let mut big = b"HTTP/1.1 200 OK\r\n".to_vec();
        big.extend(std::iter::repeat_n(b'a', 70_000));
        assert!(matches!(
            run(&big, Expect::Normal, 1000),
            Err(ProtocolError::HeadTooLarge(_))
        ));
    }

    #[test]
    fn bytes_fed_whole_are_split_not_copied_at_every_split() {
        let wire: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        for split in 1..wire.len() {
            let mut dec = ResponseDecoder::new(Expect::Normal);
            let mut body = Vec::new();
            for piece in [&wire[..split], &wire[split..]] {
                let fed = Bytes::copy_from_slice(piece);
                let range = fed.as_ptr_range();
                dec.feed_bytes(fed);
                while let Some(ev) = dec.next_event().unwrap_or(None) {
                    if let ResponseEvent::Data(d) = ev {
                        // Data that arrived whole in this piece points into it.
                        if d.len() > 1 {
                            assert!(range.contains(&d.as_ptr()), "split {split}: copied");
                        }
                        body.extend_from_slice(&d);
                    }
                }
            }
            assert_eq!(body, b"hello world", "split {split}");
            assert!(dec.is_done());
        }
    }

    #[test]
    fn the_decoder_lets_go_of_bytes_fed_whole_once_drained() {
        let wire: &[u8] = b"HTTP/1.1 101 UPGRADED\r\nUpgrade: tcp\r\n\r\nHTTP/1.1 2";
        for split in [wire.len() - 10, wire.len()] {
            let mut dec = ResponseDecoder::new(Expect::Hijack);
            let fed = Bytes::copy_from_slice(&wire[..split]);
            dec.feed_bytes(fed.clone());
            let mut events = 0;
            while let Ok(Some(ev)) = dec.next_event() {
                drop(ev);
                events += 1;
            }
            assert!(events >= 1);
            // Drained, the decoder holds no reference to what it was fed.
            assert!(fed.try_into_mut().is_ok(), "split {split}: still held");
        }
    }

    #[test]
    fn skips_100_continue() {
        let wire = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        let (h, b) = run(wire, Expect::Normal, 7).unwrap();
        assert_eq!((h.status, b.as_slice()), (200, &b"ok"[..]));
    }
}
