//! Docker's 8-byte multiplexed stream frames, and raw (TTY) mode.
//!
//! The mode is chosen by the caller from the exec's `Tty` flag: it is never sniffed from the bytes.
//! Payloads are handed out as they arrive, so memory stays bounded whatever length a header
//! declares; a stream that ends inside a frame is a typed error.

use bytes::{Buf, Bytes};

use crate::error::ProtocolError;

/// Which stream a piece of output belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamKind {
    /// Type 0: stdin (echoed back by some engines).
    Stdin,
    /// Type 1: stdout.
    Stdout,
    /// Type 2: stderr.
    Stderr,
    /// Type 3: an error written by the engine itself into the stream.
    SystemErr,
}

impl StreamKind {
    /// Lower-case name (`stdout`, `stderr`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stdin => "stdin",
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
            Self::SystemErr => "systemerr",
        }
    }
}

/// How the stream is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemuxMode {
    /// 8-byte frame headers (exec without TTY).
    Multiplexed,
    /// Raw bytes, all stdout (exec with TTY).
    Raw,
}

/// Incremental demultiplexer.
#[derive(Debug, Clone)]
pub struct Demuxer {
    mode: DemuxMode,
    header: [u8; 8],
    header_len: usize,
    kind: StreamKind,
    remaining: u32,
}

impl Demuxer {
    /// A demultiplexer for `mode`.
    pub fn new(mode: DemuxMode) -> Self {
        Self {
            mode,
            header: [0; 8],
            header_len: 0,
            kind: StreamKind::Stdout,
            remaining: 0,
        }
    }

    /// Take the next piece of payload out of `input` (consuming header bytes on the way).
    /// Returns `Ok(None)` once `input` is used up.
    pub fn next_chunk(
        &mut self,
        input: &mut Bytes,
    ) -> Result<Option<(StreamKind, Bytes)>, ProtocolError> {
        if self.mode == DemuxMode::Raw {
            if input.is_empty() {
                return Ok(None);
            }
            return Ok(Some((StreamKind::Stdout, input.split_to(input.len()))));
        }
        loop {
            if self.remaining > 0 {
                if input.is_empty() {
                    return Ok(None);
                }
                let n = (self.remaining as usize).min(input.len());
                self.remaining -= n as u32;
                return Ok(Some((self.kind, input.split_to(n))));
            }
            if self.header_len < 8 {
                let n = (8 - self.header_len).min(input.len());
                self.header[self.header_len..self.header_len + n].copy_from_slice(&input[..n]);
                self.header_len += n;
                input.advance(n);
                if self.header_len < 8 {
                    return Ok(None);
                }
            }
            self.header_len = 0;
            self.kind = match self.header[0] {
                0 => StreamKind::Stdin,
                1 => StreamKind::Stdout,
                2 => StreamKind::Stderr,
                3 => StreamKind::SystemErr,
                other => return Err(ProtocolError::UnknownStreamType(other)),
            };
            self.remaining = u32::from_be_bytes([
                self.header[4],
                self.header[5],
                self.header[6],
                self.header[7],
            ]);
        }
    }

    /// The stream ended: an error if it ended inside a frame.
    pub fn finish(&self) -> Result<(), ProtocolError> {
        if self.mode == DemuxMode::Raw {
            return Ok(());
        }
        if self.header_len > 0 {
            return Err(ProtocolError::TruncatedFrameHeader {
                got: self.header_len,
            });
        }
        if self.remaining > 0 {
            return Err(ProtocolError::TruncatedFramePayload {
                missing: self.remaining,
            });
        }
        Ok(())
    }
}

/// Encode one multiplexed frame (used by tests and fuzz seeds).
pub fn encode_frame(kind: StreamKind, payload: &[u8]) -> Vec<u8> {
    let t = match kind {
        StreamKind::Stdin => 0,
        StreamKind::Stdout => 1,
        StreamKind::Stderr => 2,
        StreamKind::SystemErr => 3,
    };
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(8 + payload.len());
    out.extend_from_slice(&[t, 0, 0, 0]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&payload[..len as usize]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(
        mode: DemuxMode,
        wire: &[u8],
        step: usize,
    ) -> Result<Vec<(StreamKind, Vec<u8>)>, ProtocolError> {
        let mut d = Demuxer::new(mode);
        let mut out: Vec<(StreamKind, Vec<u8>)> = Vec::new();
        for piece in wire.chunks(step.max(1)) {
            let mut b = Bytes::copy_from_slice(piece);
            while let Some((k, data)) = d.next_chunk(&mut b)? {
                match out.last_mut() {
                    Some((lk, ld)) if *lk == k => ld.extend_from_slice(&data),
                    _ => out.push((k, data.to_vec())),
                }
            }
        }
        d.finish()?;
        Ok(out)
    }

    #[test]
    fn frames_at_every_split() {
        let mut wire = encode_frame(StreamKind::Stdout, b"hello\n");
        wire.extend(encode_frame(StreamKind::Stderr, b"oops"));
        wire.extend(encode_frame(StreamKind::Stdout, b""));
        wire.extend(encode_frame(StreamKind::SystemErr, b"sys"));
        for step in 1..=wire.len() {
            let got = collect(DemuxMode::Multiplexed, &wire, step).unwrap_or_default();
            assert_eq!(
                got,
                vec![
                    (StreamKind::Stdout, b"hello\n".to_vec()),
                    (StreamKind::Stderr, b"oops".to_vec()),
                    (StreamKind::SystemErr, b"sys".to_vec()),
                ]
            );
        }
    }

    #[test]
    fn huge_declared_length_is_bounded_and_truncation_is_an_error() {
        let wire = [1u8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, b'a', b'b'];
        let err = collect(DemuxMode::Multiplexed, &wire, 3).err();
        assert_eq!(
            err,
            Some(ProtocolError::TruncatedFramePayload {
                missing: 0xffff_fffd
            })
        );
        let err = collect(DemuxMode::Multiplexed, &[1, 0, 0], 3).err();
        assert_eq!(err, Some(ProtocolError::TruncatedFrameHeader { got: 3 }));
        let err = collect(DemuxMode::Multiplexed, &[9, 0, 0, 0, 0, 0, 0, 0], 3).err();
        assert_eq!(err, Some(ProtocolError::UnknownStreamType(9)));
    }

    #[test]
    fn raw_mode_never_parses_headers() {
        let wire = [1u8, 0, 0, 0, 0, 0, 0, 5, 2];
        let got = collect(DemuxMode::Raw, &wire, 2).unwrap_or_default();
        assert_eq!(got, vec![(StreamKind::Stdout, wire.to_vec())]);
    }
}
