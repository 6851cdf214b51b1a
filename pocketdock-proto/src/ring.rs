//! The output buffer of a detached process: the newest bytes of stdout and stderr, bounded.
//!
//! Like the Python pocketdock, the capacity is split evenly: each stream keeps at most
//! `max(capacity / 2, 1)` bytes and the oldest bytes are evicted first; [`RingBuffer::overflow`]
//! becomes true at the first eviction and stays true (it is not reset by [`RingBuffer::read`]).
//! An even split means a chatty stderr can never push the last lines of stdout out, which is the
//! property the Python pocketdock's tests rely on.
//!
//! Two things are better than the Python pocketdock:
//!
//! * Bytes are stored, not text. Eviction never leaves half a UTF-8 character at the front of a
//!   stream: up to three continuation bytes after the cut are evicted with it.
//! * [`RingBuffer::read`] keeps an incomplete UTF-8 sequence at the very end of a stream (at most
//!   three bytes) for the next read, so a character split between two writes is never turned into
//!   U+FFFD by draining between them. [`RingBuffer::read_all`] drains everything (use it once the
//!   process has ended).
//!
//! Every operation is O(1) amortised per byte ([`VecDeque`]). The buffer does no locking: an
//! adapter that shares it between threads wraps it in a mutex.

use std::borrow::Cow;
use std::collections::VecDeque;

use crate::demux::StreamKind;

/// Default capacity of a detached process's buffer: 1 MiB, half for each stream.
pub const DEFAULT_RING_CAPACITY: usize = 1024 * 1024;

/// What a [`RingBuffer`] held at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BufferSnapshot {
    /// Stdout bytes, oldest first.
    pub stdout: Vec<u8>,
    /// Stderr bytes, oldest first (stdin echoes and engine errors are counted as stderr).
    pub stderr: Vec<u8>,
}

impl BufferSnapshot {
    /// Stdout as text; invalid UTF-8 becomes U+FFFD.
    pub fn stdout_str(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stdout)
    }

    /// Stderr as text; invalid UTF-8 becomes U+FFFD.
    pub fn stderr_str(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stderr)
    }

    /// True when both streams are empty.
    pub fn is_empty(&self) -> bool {
        self.stdout.is_empty() && self.stderr.is_empty()
    }
}

/// Bounded buffer of the newest stdout and stderr bytes of a detached process.
#[derive(Debug, Clone)]
pub struct RingBuffer {
    capacity: usize,
    half: usize,
    stdout: VecDeque<u8>,
    stderr: VecDeque<u8>,
    overflow: bool,
    dropped: u64,
}

impl Default for RingBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl RingBuffer {
    /// A buffer of [`DEFAULT_RING_CAPACITY`] bytes.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_RING_CAPACITY)
    }

    /// A buffer of `capacity` bytes in total; each stream keeps `max(capacity / 2, 1)` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity,
            half: (capacity / 2).max(1),
            stdout: VecDeque::new(),
            stderr: VecDeque::new(),
            overflow: false,
            dropped: 0,
        }
    }

    /// The total capacity this buffer was created with.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes each stream keeps at most.
    pub fn per_stream_capacity(&self) -> usize {
        self.half
    }

    /// Append output. Stdout goes to stdout; every other kind (stderr, stdin echo, engine
    /// error) goes to stderr, as in the Python pocketdock. The oldest bytes are evicted when full.
    pub fn write(&mut self, kind: StreamKind, data: &[u8]) {
        let half = self.half;
        let buf = if kind == StreamKind::Stdout {
            &mut self.stdout
        } else {
            &mut self.stderr
        };
        let mut dropped = 0u64;
        let data = if data.len() > half {
            dropped += (data.len() - half) as u64;
            dropped += buf.len() as u64;
            buf.clear();
            data.get(data.len() - half..).unwrap_or_default()
        } else {
            data
        };
        let excess = (buf.len() + data.len()).saturating_sub(half);
        if excess > 0 {
            dropped += excess as u64;
            buf.drain(..excess);
        }
        buf.extend(data);
        if dropped > 0 {
            // Never leave half a character at the front: evict up to 3 continuation bytes more.
            let mut extra = 0;
            while extra < 3 && buf.front().is_some_and(|b| b & 0b1100_0000 == 0b1000_0000) {
                buf.pop_front();
                extra += 1;
            }
            self.dropped += dropped + extra;
            self.overflow = true;
        }
    }

    /// Drain both streams, except an incomplete UTF-8 sequence at the end of a stream (at most
    /// three bytes), which stays for the next read. Use [`RingBuffer::read_all`] at the end.
    pub fn read(&mut self) -> BufferSnapshot {
        let out_keep = incomplete_utf8_tail(&self.stdout);
        let err_keep = incomplete_utf8_tail(&self.stderr);
        let stdout = self.stdout.drain(..self.stdout.len() - out_keep).collect();
        let stderr = self.stderr.drain(..self.stderr.len() - err_keep).collect();
        BufferSnapshot { stdout, stderr }
    }

    /// Drain both streams completely.
    pub fn read_all(&mut self) -> BufferSnapshot {
        BufferSnapshot {
            stdout: self.stdout.drain(..).collect(),
            stderr: self.stderr.drain(..).collect(),
        }
    }

    /// Copy both streams without draining.
    pub fn peek(&self) -> BufferSnapshot {
        BufferSnapshot {
            stdout: self.stdout.iter().copied().collect(),
            stderr: self.stderr.iter().copied().collect(),
        }
    }

    /// Bytes held, both streams together.
    pub fn size(&self) -> usize {
        self.stdout.len() + self.stderr.len()
    }

    /// True once any byte was evicted (sticky).
    pub fn overflow(&self) -> bool {
        self.overflow
    }

    /// How many bytes were evicted in total.
    pub fn dropped_bytes(&self) -> u64 {
        self.dropped
    }
}

/// Length (0 to 3) of an incomplete UTF-8 sequence at the end of `buf`.
fn incomplete_utf8_tail(buf: &VecDeque<u8>) -> usize {
    let n = buf.len();
    for back in 1..=3.min(n) {
        let Some(&b) = buf.get(n - back) else {
            return 0;
        };
        if b & 0b1100_0000 == 0b1000_0000 {
            continue;
        }
        let need = if b & 0b1110_0000 == 0b1100_0000 {
            2
        } else if b & 0b1111_0000 == 0b1110_0000 {
            3
        } else if b & 0b1111_1000 == 0b1111_0000 {
            4
        } else {
            return 0;
        };
        return if need > back { back } else { 0 };
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUT: StreamKind = StreamKind::Stdout;
    const ERR: StreamKind = StreamKind::Stderr;

    #[test]
    fn empty_and_basic_writes() {
        let mut r = RingBuffer::new();
        assert_eq!(r.peek(), BufferSnapshot::default());
        assert_eq!((r.size(), r.overflow()), (0, false));
        r.write(OUT, b"hello");
        assert_eq!(r.size(), 5);
        assert_eq!(r.peek().stdout_str(), "hello");
        let mut r = RingBuffer::new();
        r.write(ERR, b"oops");
        assert_eq!(r.peek().stderr_str(), "oops");
        let mut r = RingBuffer::new();
        r.write(OUT, b"out");
        r.write(ERR, b"err");
        assert_eq!(r.size(), 6);
        let s = r.peek();
        assert_eq!(
            (s.stdout_str(), s.stderr_str()),
            ("out".into(), "err".into())
        );
    }

    #[test]
    fn read_drains_and_peek_does_not() {
        let mut r = RingBuffer::new();
        r.write(OUT, b"data");
        assert_eq!(r.peek().stdout, b"data");
        assert_eq!(r.peek().stdout, b"data");
        assert_eq!(r.size(), 4);
        assert_eq!(r.read().stdout, b"data");
        assert!(r.read().is_empty());
        assert_eq!(r.size(), 0);
    }

    #[test]
    fn overflow_keeps_newest_per_stream() {
        for kind in [OUT, ERR] {
            let mut r = RingBuffer::with_capacity(20);
            r.write(kind, &[b'x'; 15]);
            assert!(r.overflow());
            let s = r.peek();
            let got = if kind == OUT { s.stdout } else { s.stderr };
            assert_eq!(got, vec![b'x'; 10]);
            assert_eq!(r.dropped_bytes(), 5);
        }
        let mut r = RingBuffer::with_capacity(20);
        r.write(OUT, &[b'x'; 10]);
        assert!(!r.overflow());
        assert_eq!(r.size(), 10);
    }

    #[test]
    fn oldest_bytes_are_evicted() {
        let mut r = RingBuffer::with_capacity(20);
        r.write(OUT, b"ABCDE");
        r.write(OUT, b"12345678");
        assert_eq!(r.peek().stdout, b"DE12345678");
        let mut r = RingBuffer::with_capacity(10);
        r.write(OUT, b"abc");
        r.write(OUT, b"defgh");
        assert!(r.overflow());
        assert_eq!(r.peek().stdout, b"defgh");
    }

    #[test]
    fn capacity_one_keeps_one_byte_and_overflow_is_sticky() {
        let mut r = RingBuffer::with_capacity(1);
        r.write(OUT, b"AB");
        assert!(r.overflow());
        assert_eq!(r.peek().stdout, b"B");
        let _ = r.read_all();
        assert!(r.overflow());
        let mut r = RingBuffer::with_capacity(0);
        r.write(ERR, b"xyz");
        assert_eq!(r.peek().stderr, b"z");
    }

    #[test]
    fn text_is_decoded_lossily() {
        let mut r = RingBuffer::new();
        r.write(OUT, "héllo".as_bytes());
        assert_eq!(r.peek().stdout_str(), "héllo");
        r.write(ERR, b"\xff\xfe");
        assert!(r.read().stderr_str().contains('\u{fffd}'));
    }

    #[test]
    fn eviction_never_splits_a_character() {
        let mut r = RingBuffer::with_capacity(8);
        r.write(OUT, "a€b".as_bytes()); // 5 bytes
        r.write(OUT, b"cd"); // 7 > 4: evict 3 -> starts inside the euro sign
        let s = r.peek();
        assert_eq!(s.stdout_str(), "bcd");
        assert!(r.dropped_bytes() >= 3);
    }

    #[test]
    fn read_keeps_an_incomplete_character_for_the_next_read() {
        let euro = "€".as_bytes();
        let mut r = RingBuffer::new();
        r.write(OUT, b"x");
        r.write(OUT, &euro[..2]);
        assert_eq!(r.read().stdout, b"x");
        assert_eq!(r.size(), 2);
        r.write(OUT, &euro[2..]);
        assert_eq!(r.read().stdout_str(), "€");
        r.write(OUT, &euro[..1]);
        assert_eq!(r.read_all().stdout, &euro[..1]);
        assert_eq!(r.size(), 0);
    }

    #[test]
    fn many_single_byte_writes() {
        let mut r = RingBuffer::new();
        for _ in 0..1000 {
            r.write(OUT, b"a");
            r.write(ERR, b"b");
        }
        let s = r.read();
        assert_eq!((s.stdout.len(), s.stderr.len()), (1000, 1000));
        assert_eq!(r.capacity(), DEFAULT_RING_CAPACITY);
        assert_eq!(r.per_stream_capacity(), DEFAULT_RING_CAPACITY / 2);
    }

    #[test]
    fn other_kinds_count_as_stderr() {
        let mut r = RingBuffer::new();
        r.write(StreamKind::SystemErr, b"sys");
        r.write(StreamKind::Stdin, b"in");
        assert_eq!(r.peek().stderr, b"sysin");
    }
}
