//! Agent frames: `len: u32` (big-endian, the bytes after it), `kind: u8`, `id: u32`
//! (big-endian), then the payload. Decoding is bounded: a frame announcing more than
//! [`MAX_PAYLOAD`] is an error before anything is allocated for it.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The largest payload either side may send: room for a spawn request with a large
/// environment, far above any output frame.
pub const MAX_PAYLOAD: usize = 1024 * 1024;

/// The largest output payload the agent sends in one [`Kind::Stdout`] / [`Kind::Stderr`] frame
/// (and the host in one [`Kind::Stdin`] frame).
pub const MAX_DATA: usize = 256 * 1024;

/// Bytes of a frame before its payload: length (4), kind (1), id (4).
pub const HEADER: usize = 9;

/// What a frame is; see the table in [the module docs](super).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Start a command.
    Spawn,
    /// Bytes for a command's stdin.
    Stdin,
    /// Close a command's stdin.
    StdinClose,
    /// Send a signal to a command's process group.
    Signal,
    /// Is the agent alive?
    Ping,
    /// The host took this many more bytes of a command's output: the agent may send as many
    /// again (flow control of a command spawned with a window).
    Credit,
    /// What is at a path (an `lstat`)?
    Stat,
    /// The agent is up (its first frame).
    Hello,
    /// A command started, with its pid.
    Started,
    /// Output on a command's stdout.
    Stdout,
    /// Output on a command's stderr.
    Stderr,
    /// A command ended.
    Exit,
    /// A command could not be started.
    SpawnFailed,
    /// The answer to a ping.
    Pong,
    /// The answer to a stat.
    StatReply,
}

impl Kind {
    /// The byte on the wire.
    pub fn code(self) -> u8 {
        match self {
            Self::Spawn => 0x01,
            Self::Stdin => 0x02,
            Self::StdinClose => 0x03,
            Self::Signal => 0x04,
            Self::Ping => 0x05,
            Self::Credit => 0x06,
            Self::Stat => 0x07,
            Self::Hello => 0x81,
            Self::Started => 0x82,
            Self::Stdout => 0x83,
            Self::Stderr => 0x84,
            Self::Exit => 0x85,
            Self::SpawnFailed => 0x86,
            Self::Pong => 0x87,
            Self::StatReply => 0x88,
        }
    }

    /// The kind a wire byte names, if any.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x01 => Self::Spawn,
            0x02 => Self::Stdin,
            0x03 => Self::StdinClose,
            0x04 => Self::Signal,
            0x05 => Self::Ping,
            0x06 => Self::Credit,
            0x07 => Self::Stat,
            0x81 => Self::Hello,
            0x82 => Self::Started,
            0x83 => Self::Stdout,
            0x84 => Self::Stderr,
            0x85 => Self::Exit,
            0x86 => Self::SpawnFailed,
            0x87 => Self::Pong,
            0x88 => Self::StatReply,
            _ => return None,
        })
    }
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// What it is.
    pub kind: Kind,
    /// The command it concerns (0 for the agent's hello).
    pub id: u32,
    /// Its payload.
    pub payload: Bytes,
}

impl Frame {
    /// The payload as a big-endian `u32` (a [`Kind::Signal`]'s signal, a [`Kind::Started`]'s
    /// pid, a [`Kind::Credit`]'s bytes).
    pub fn payload_u32(&self) -> Result<u32, FrameError> {
        let bytes: [u8; 4] = self
            .payload
            .as_ref()
            .try_into()
            .map_err(|_| FrameError::BadPayload(self.kind))?;
        Ok(u32::from_be_bytes(bytes))
    }
}

/// A frame that cannot be decoded: the stream it came on cannot be trusted any further.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The length field announces more than [`MAX_PAYLOAD`] (or less than a header).
    #[error("agent frame of {0} bytes is out of bounds")]
    Length(u32),
    /// The kind byte names no frame.
    #[error("unknown agent frame kind {0:#04x}")]
    UnknownKind(u8),
    /// The payload does not fit its kind.
    #[error("malformed payload in an agent {0:?} frame")]
    BadPayload(Kind),
    /// The stream ended inside a frame.
    #[error("agent stream ended inside a frame ({0} bytes of it received)")]
    Truncated(usize),
}

/// Append one frame to `out`.
///
/// # Panics
///
/// When `payload` is longer than [`MAX_PAYLOAD`]: callers split output into frames of at most
/// [`MAX_DATA`] and bound what they encode.
pub fn encode_frame(out: &mut BytesMut, kind: Kind, id: u32, payload: &[u8]) {
    assert!(
        payload.len() <= MAX_PAYLOAD,
        "agent frame payload too large"
    );
    out.reserve(HEADER + payload.len());
    // The bound above makes the length fit in a u32.
    out.put_u32((5 + payload.len()) as u32);
    out.put_u8(kind.code());
    out.put_u32(id);
    out.put_slice(payload);
}

/// Write the header of a frame of `kind` for command `id` whose payload is `payload_len` bytes
/// into `header`: for a sender that reads the payload into its buffer first, right behind the
/// room it left for the header, and so copies no byte of it.
///
/// # Panics
///
/// When `payload_len` is larger than [`MAX_PAYLOAD`], as [`encode_frame`].
pub fn encode_header(header: &mut [u8; HEADER], kind: Kind, id: u32, payload_len: usize) {
    assert!(payload_len <= MAX_PAYLOAD, "agent frame payload too large");
    // The bound above makes the length fit in a u32.
    header[..4].copy_from_slice(&((5 + payload_len) as u32).to_be_bytes());
    header[4] = kind.code();
    header[5..].copy_from_slice(&id.to_be_bytes());
}

/// Decodes frames from bytes as they arrive, in any split.
///
/// Bytes fed as [`Bytes`] ([`feed_bytes`](Self::feed_bytes)) are parsed where they are: a whole
/// frame's payload is a slice of them, never a copy; only a frame cut at the end of a piece is
/// copied, to be completed by the next one.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    /// A frame begun in an earlier piece, being completed.
    buf: BytesMut,
    /// A piece not yet parsed, when nothing was pending before it.
    fresh: Bytes,
}

impl FrameDecoder {
    /// An empty decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add received bytes.
    pub fn feed(&mut self, data: &[u8]) {
        self.settle();
        self.buf.extend_from_slice(data);
    }

    /// Add received bytes the decoder may keep: whole frames in them are handed out as slices.
    pub fn feed_bytes(&mut self, data: Bytes) {
        if self.buf.is_empty() && self.fresh.is_empty() {
            self.fresh = data;
        } else {
            self.settle();
            self.buf.extend_from_slice(&data);
        }
    }

    /// Move an unparsed piece behind a pending frame, so bytes stay in order.
    fn settle(&mut self) {
        if !self.fresh.is_empty() {
            let fresh = std::mem::take(&mut self.fresh);
            self.buf.extend_from_slice(&fresh);
        }
    }

    /// Bytes held that do not yet make a whole frame.
    pub fn buffered(&self) -> usize {
        self.buf.len() + self.fresh.len()
    }

    /// The next whole frame, if one has arrived. An error leaves the decoder unusable: the
    /// peer's stream is out of step.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if self.buf.is_empty() && !self.fresh.is_empty() {
            if let Some((kind, id, payload_len)) = header_of(&self.fresh)? {
                if self.fresh.len() >= HEADER + payload_len {
                    self.fresh.advance(HEADER);
                    let payload = self.fresh.split_to(payload_len);
                    return Ok(Some(Frame { kind, id, payload }));
                }
            }
            // A frame cut at the end of the piece: complete it in the buffer.
            self.settle();
        }
        let Some((kind, id, payload_len)) = header_of(&self.buf)? else {
            return Ok(None);
        };
        if self.buf.len() < HEADER + payload_len {
            // Room for the rest once, never more than the bound.
            self.buf.reserve(HEADER + payload_len - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(HEADER);
        let payload = self.buf.split_to(payload_len).freeze();
        Ok(Some(Frame { kind, id, payload }))
    }

    /// The stream ended: an error if it ended inside a frame.
    pub fn finish(&self) -> Result<(), FrameError> {
        match self.buffered() {
            0 => Ok(()),
            n => Err(FrameError::Truncated(n)),
        }
    }
}

/// The kind, id and payload length of the frame at the start of `data`, once its header is
/// there; checked against the bounds before anything is allocated for it.
fn header_of(data: &[u8]) -> Result<Option<(Kind, u32, usize)>, FrameError> {
    let Some(header) = data.get(..HEADER) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    let Some(payload_len) = (len as usize).checked_sub(5).filter(|n| *n <= MAX_PAYLOAD) else {
        return Err(FrameError::Length(len));
    };
    let kind = Kind::from_code(header[4]).ok_or(FrameError::UnknownKind(header[4]))?;
    let id = u32::from_be_bytes([header[5], header[6], header[7], header[8]]);
    Ok(Some((kind, id, payload_len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(kinds: &[(Kind, u32, &[u8])]) -> Vec<u8> {
        let mut out = BytesMut::new();
        for (k, id, p) in kinds {
            encode_frame(&mut out, *k, *id, p);
        }
        out.to_vec()
    }

    #[test]
    fn every_kind_round_trips_through_its_code() {
        for code in 0..=u8::MAX {
            if let Some(k) = Kind::from_code(code) {
                assert_eq!(k.code(), code);
            }
        }
    }

    #[test]
    fn frames_decode_at_every_split_point() {
        let wire = frames(&[
            (Kind::Hello, 0, b"{}"),
            (Kind::Stdout, 7, b"hello"),
            (Kind::StdinClose, 7, b""),
            (Kind::Started, 9, &42u32.to_be_bytes()),
        ]);
        for split in 0..=wire.len() {
            let mut d = FrameDecoder::new();
            let mut got = Vec::new();
            for part in [&wire[..split], &wire[split..]] {
                d.feed(part);
                while let Some(f) = d.next_frame().unwrap_or_else(|e| panic!("{e}")) {
                    got.push(f);
                }
            }
            assert!(d.finish().is_ok());
            assert_eq!(got.len(), 4, "split at {split}");
            assert_eq!(got[1].payload.as_ref(), b"hello");
            assert_eq!(got[3].payload_u32(), Ok(42));
        }
    }

    #[test]
    fn shared_pieces_decode_at_every_pair_of_split_points_as_copied_ones_do() {
        let wire = frames(&[
            (Kind::Stdout, 1, b"first"),
            (Kind::Stderr, 2, b""),
            (Kind::Stdout, 3, b"third frame"),
        ]);
        for a in 0..=wire.len() {
            for b in a..=wire.len() {
                let mut d = FrameDecoder::new();
                let mut got = Vec::new();
                for (i, part) in [&wire[..a], &wire[a..b], &wire[b..]]
                    .into_iter()
                    .enumerate()
                {
                    // Mix the two ways of feeding.
                    if (a + b + i) % 3 == 0 {
                        d.feed(part);
                    } else {
                        d.feed_bytes(Bytes::copy_from_slice(part));
                    }
                    while let Some(f) = d.next_frame().unwrap_or_else(|e| panic!("{e}")) {
                        got.push((f.kind, f.id, f.payload));
                    }
                }
                assert!(d.finish().is_ok(), "{a} {b}");
                assert_eq!(got.len(), 3, "{a} {b}");
                assert_eq!(got[0].2.as_ref(), b"first");
                assert_eq!(
                    got[2],
                    (Kind::Stdout, 3, Bytes::from_static(b"third frame"))
                );
            }
        }
    }

    #[test]
    fn a_whole_frame_in_a_shared_piece_is_a_slice_of_it() {
        let wire = Bytes::from(frames(&[(Kind::Stdout, 1, b"payload")]));
        let mut d = FrameDecoder::new();
        d.feed_bytes(wire.clone());
        let f = d
            .next_frame()
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("no frame"));
        assert_eq!(f.payload.as_ptr(), wire[HEADER..].as_ptr());
    }

    #[test]
    fn out_of_bounds_lengths_and_unknown_kinds_are_refused_before_allocating() {
        let mut d = FrameDecoder::new();
        d.feed(&[0xff, 0xff, 0xff, 0xff, 0x83, 0, 0, 0, 1]);
        assert_eq!(d.next_frame(), Err(FrameError::Length(u32::MAX)));
        assert!(d.buf.capacity() < 1024);
        let mut d = FrameDecoder::new();
        d.feed(&[0, 0, 0, 4, 0x83, 0, 0, 0, 1]);
        assert_eq!(d.next_frame(), Err(FrameError::Length(4)));
        let mut d = FrameDecoder::new();
        d.feed(&[0, 0, 0, 5, 0x42, 0, 0, 0, 1]);
        assert_eq!(d.next_frame(), Err(FrameError::UnknownKind(0x42)));
    }

    #[test]
    fn a_stream_that_ends_inside_a_frame_is_truncated() {
        let wire = frames(&[(Kind::Stdout, 1, b"abc")]);
        let mut d = FrameDecoder::new();
        d.feed(&wire[..wire.len() - 1]);
        assert_eq!(d.next_frame(), Ok(None));
        assert_eq!(d.finish(), Err(FrameError::Truncated(wire.len() - 1)));
    }

    #[test]
    fn a_signal_payload_of_the_wrong_size_is_malformed() {
        let f = Frame {
            kind: Kind::Signal,
            id: 1,
            payload: Bytes::from_static(b"\x00\x09"),
        };
        assert_eq!(f.payload_u32(), Err(FrameError::BadPayload(Kind::Signal)));
    }
}
