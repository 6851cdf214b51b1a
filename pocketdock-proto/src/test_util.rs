//! A scripted engine connection on a virtual clock, for testing an adapter's driver with no
//! socket and no sleeping. Only built with the `test-util` feature: adapters enable it for their
//! own tests, never for their library.
//!
//! The adapter's test transport (or test runtime) forwards its calls to a [`ScriptedEngine`]:
//! each connect takes the next [`Conn`] of the script (a refusal, or the reads the connection
//! will give), writes are kept for the test to check, and the clock moves only when a read
//! waits out its deadline or the driver sleeps.

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

/// What one read on a scripted connection gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// These bytes; a buffer smaller than them gets a short read and the rest comes next.
    Bytes(Vec<u8>),
    /// A socket error of this kind.
    Fails(io::ErrorKind),
    /// Nothing, ever: the read waits for its deadline (a read with no deadline panics, since
    /// a real driver would hang there).
    Silence,
}

/// One scripted connection: `Err` refuses the connect; `Ok` lists its reads, after which the
/// engine closes its side (end of stream).
pub type Conn = Result<Vec<Read>, io::ErrorKind>;

/// Scripted connections to the engine, one at a time, and a virtual clock.
#[derive(Debug)]
pub struct ScriptedEngine {
    script: VecDeque<Conn>,
    reads: Option<VecDeque<Read>>,
    written: Vec<Vec<u8>>,
    half_closed: usize,
    start: Instant,
    now: Instant,
}

fn not_connected() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "not connected")
}

impl ScriptedEngine {
    /// An engine that answers successive connects with `script`.
    pub fn new(script: Vec<Conn>) -> Self {
        let start = Instant::now();
        Self {
            script: script.into(),
            reads: None,
            written: Vec::new(),
            half_closed: 0,
            start,
            now: start,
        }
    }

    /// Open the next scripted connection (dropping the current one). Panics when the script
    /// has no more: the driver connected more often than the test expects.
    pub fn connect(&mut self) -> io::Result<()> {
        self.reads = None;
        match self.script.pop_front() {
            Some(Ok(reads)) => {
                self.reads = Some(reads.into());
                self.written.push(Vec::new());
                Ok(())
            }
            Some(Err(kind)) => Err(io::Error::new(kind, "refused by the script")),
            None => panic!("connection {} was not scripted", self.written.len() + 1),
        }
    }

    /// Keep `data` as written on the current connection.
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.reads.as_ref().ok_or_else(not_connected)?;
        if let Some(w) = self.written.last_mut() {
            w.extend_from_slice(data);
        }
        Ok(())
    }

    /// Count a half-close of the current connection.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        self.reads.as_ref().ok_or_else(not_connected)?;
        self.half_closed += 1;
        Ok(())
    }

    /// The next read into `buf`: `Some(Ok(0))` at the end of the stream, `None` when
    /// `deadline` passed first (already passed, or during a [`Read::Silence`], which moves the
    /// clock to it).
    pub fn read(&mut self, buf: &mut [u8], deadline: Option<Instant>) -> Option<io::Result<usize>> {
        if deadline.is_some_and(|d| d <= self.now) {
            return None;
        }
        let Some(reads) = self.reads.as_mut() else {
            return Some(Err(not_connected()));
        };
        match reads.pop_front() {
            None => Some(Ok(0)),
            Some(Read::Bytes(bytes)) => {
                let n = bytes.len().min(buf.len());
                buf[..n].copy_from_slice(&bytes[..n]);
                if n < bytes.len() {
                    reads.push_front(Read::Bytes(bytes[n..].to_vec()));
                }
                Some(Ok(n))
            }
            Some(Read::Fails(kind)) => Some(Err(io::Error::new(kind, "failed by the script"))),
            Some(Read::Silence) => {
                reads.push_front(Read::Silence);
                let d = deadline.unwrap_or_else(|| panic!("a silent read with no deadline"));
                self.now = d;
                None
            }
        }
    }

    /// Drop the current connection.
    pub fn close(&mut self) {
        self.reads = None;
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Move the virtual clock to `deadline` (never backwards).
    pub fn sleep_until(&mut self, deadline: Instant) {
        self.now = self.now.max(deadline);
    }

    /// Virtual time since the engine was made.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// What was written on each connection made, in order.
    pub fn written(&self) -> &[Vec<u8>] {
        &self.written
    }

    /// How many half-closes the driver made.
    pub fn half_closed(&self) -> usize {
        self.half_closed
    }

    /// True when every scripted connection was used.
    pub fn used_up(&self) -> bool {
        self.script.is_empty()
    }
}
