//! `Transfer-Encoding: chunked`, both directions.

use bytes::{BufMut, Bytes, BytesMut};

use super::input::Input;

use crate::error::ProtocolError;

/// The bytes that end a chunked body (last chunk, no trailers).
pub const CHUNKED_END: &[u8] = b"0\r\n\r\n";

/// Frame `data` as one chunk. Empty data gives an empty buffer (an empty chunk would end the body).
pub fn encode_chunk(data: &[u8]) -> Bytes {
    if data.is_empty() {
        return Bytes::new();
    }
    let mut out = BytesMut::with_capacity(data.len() + 20);
    out.put_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.put_slice(data);
    out.put_slice(b"\r\n");
    out.freeze()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size,
    Data(u64),
    DataEnd,
    Trailer,
    Done,
}

/// Incremental decoder of a chunked body. Memory is bounded: data is handed out as it arrives,
/// and only one size or trailer line (at most `max_line` bytes) is ever held.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    max_line: usize,
}

/// What the decoder produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// Body bytes.
    Data(Bytes),
    /// The body is complete.
    End,
}

impl ChunkedDecoder {
    /// A decoder that refuses size and trailer lines longer than `max_line`.
    pub fn new(max_line: usize) -> Self {
        Self {
            state: State::Size,
            max_line,
        }
    }

    /// True once the terminating chunk and trailers were read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// True if the decoder is between chunks (no partial chunk pending).
    pub fn at_boundary(&self) -> bool {
        matches!(self.state, State::Size | State::Done)
    }

    /// Consume what it can from `buf`. `Ok(None)` means more input is needed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Chunk>, ProtocolError> {
        self.decode_from(buf)
    }

    /// [`decode`](Self::decode) from any input: data is split off it, never copied.
    pub(crate) fn decode_from(
        &mut self,
        buf: &mut impl Input,
    ) -> Result<Option<Chunk>, ProtocolError> {
        loop {
            match self.state {
                State::Done => return Ok(Some(Chunk::End)),
                State::Size => {
                    let Some(line) = self.take_line(buf)? else {
                        return Ok(None);
                    };
                    let size = parse_size(&line)?;
                    self.state = if size == 0 {
                        State::Trailer
                    } else {
                        State::Data(size)
                    };
                }
                State::Data(remaining) => {
                    let len = buf.bytes().len();
                    if len == 0 {
                        return Ok(None);
                    }
                    let n = usize::try_from(remaining).unwrap_or(usize::MAX).min(len);
                    let data = buf.take(n);
                    let left = remaining - n as u64;
                    self.state = if left == 0 {
                        State::DataEnd
                    } else {
                        State::Data(left)
                    };
                    return Ok(Some(Chunk::Data(data)));
                }
                State::DataEnd => {
                    let b = buf.bytes();
                    if b.len() < 2 {
                        if b.first().is_some_and(|&b| b != b'\r') {
                            return Err(ProtocolError::Chunked("missing CRLF after chunk".into()));
                        }
                        return Ok(None);
                    }
                    if &b[..2] != b"\r\n" {
                        return Err(ProtocolError::Chunked("missing CRLF after chunk".into()));
                    }
                    buf.skip(2);
                    self.state = State::Size;
                }
                State::Trailer => {
                    let Some(line) = self.take_line(buf)? else {
                        return Ok(None);
                    };
                    if line.is_empty() {
                        self.state = State::Done;
                    }
                }
            }
        }
    }

    /// Take one CRLF- (or bare LF-) terminated line, without the terminator.
    fn take_line(&self, buf: &mut impl Input) -> Result<Option<Bytes>, ProtocolError> {
        match buf.bytes().iter().position(|&b| b == b'\n') {
            Some(pos) => {
                if pos > self.max_line {
                    return Err(ProtocolError::Chunked("line too long".into()));
                }
                let line = buf.take(pos + 1);
                let end = if pos > 0 && line.get(pos - 1) == Some(&b'\r') {
                    pos - 1
                } else {
                    pos
                };
                Ok(Some(line.slice(..end)))
            }
            None if buf.bytes().len() > self.max_line => {
                Err(ProtocolError::Chunked("line too long".into()))
            }
            None => Ok(None),
        }
    }
}

fn parse_size(line: &[u8]) -> Result<u64, ProtocolError> {
    let hex_part = line.split(|&b| b == b';').next().unwrap_or_default();
    let hex_part = trim(hex_part);
    if hex_part.is_empty() || hex_part.len() > 15 {
        return Err(ProtocolError::Chunked(format!(
            "invalid chunk size line {:?}",
            String::from_utf8_lossy(line)
        )));
    }
    let mut size: u64 = 0;
    for &b in hex_part {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => {
                return Err(ProtocolError::Chunked(format!(
                    "invalid chunk size line {:?}",
                    String::from_utf8_lossy(line)
                )))
            }
        };
        size = size * 16 + u64::from(digit);
    }
    Ok(size)
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], step: usize) -> Result<(Vec<u8>, bool), ProtocolError> {
        let mut dec = ChunkedDecoder::new(4096);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in input.chunks(step.max(1)) {
            buf.extend_from_slice(piece);
            while let Some(c) = dec.decode(&mut buf)? {
                match c {
                    Chunk::Data(d) => out.extend_from_slice(&d),
                    Chunk::End => return Ok((out, true)),
                }
            }
        }
        Ok((out, false))
    }

    #[test]
    fn decodes_with_extensions_and_trailers() {
        let body = b"5;name=val\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n";
        for step in 1..body.len() {
            let (out, done) = decode_all(body, step).unwrap_or_default();
            assert_eq!(out, b"hello world");
            assert!(done);
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!(decode_all(b"zz\r\n", 100).is_err());
        assert!(decode_all(b"5\r\nhelloXX", 100).is_err());
        assert!(decode_all(b"ffffffffffffffffff\r\n", 100).is_err());
        let long = vec![b'1'; 5000];
        assert!(decode_all(&long, 100).is_err());
    }

    #[test]
    fn round_trip_encode() {
        let mut wire = Vec::new();
        wire.extend_from_slice(&encode_chunk(b"abc"));
        wire.extend_from_slice(&encode_chunk(b""));
        wire.extend_from_slice(&encode_chunk(&[7u8; 300]));
        wire.extend_from_slice(CHUNKED_END);
        let (out, done) = decode_all(&wire, 7).unwrap_or_default();
        assert!(done);
        assert_eq!(out.len(), 303);
    }
}
