//! A scripted engine connection on a virtual clock, for testing an adapter's driver with no
//! socket and no sleeping. Only built with the `test-util` feature: adapters enable it for their
//! own tests, never for their library.
//!
//! The adapter's test transport (or test runtime) forwards its calls to a [`ScriptedEngine`]:
//! each connect takes the next [`Conn`] of the script (a refusal, or the reads the connection
//! will give), writes are kept for the test to check, and the clock moves only when a read
//! waits out its deadline or the driver sleeps. A [`ScriptedOp`] asks a driver for a fixed list
//! of I/O steps and logs what it was fed.

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use crate::op::{Io, Operation, Step};

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
    reads_at_most: Option<usize>,
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
            reads_at_most: None,
            start,
            now: start,
        }
    }

    /// Open the next scripted connection (dropping the current one).
    ///
    /// # Panics
    ///
    /// When the script has no more: the driver connected more often than the test expects.
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

    /// An engine that takes at most `bytes` of what is written on each connection and then
    /// closes its reading side, as one that refuses a request from its head does: a write past
    /// that fails with a broken pipe (its answer stays readable).
    pub fn reading_at_most(mut self, bytes: usize) -> Self {
        self.reads_at_most = Some(bytes);
        self
    }

    /// Keep `data` as written on the current connection.
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.reads.as_ref().ok_or_else(not_connected)?;
        if let Some(w) = self.written.last_mut() {
            let room = self
                .reads_at_most
                .map_or(data.len(), |most| most.saturating_sub(w.len()));
            if data.len() > room {
                w.extend_from_slice(&data[..room]);
                return Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the scripted engine stopped reading",
                ));
            }
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
    ///
    /// # Panics
    ///
    /// On a [`Read::Silence`] with no deadline: a real driver would hang there.
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

/// What a driver fed a [`ScriptedOp`], and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fed {
    /// `handle_input` with these bytes.
    Input(Instant, Vec<u8>),
    /// `handle_eof`.
    Eof(Instant),
    /// `handle_timeout`.
    Timeout(Instant),
}

/// An operation that asks for a fixed list of I/O steps, then finishes with the log of what it
/// was fed: to check that a driver performs each step as asked, on its clock.
#[derive(Debug)]
pub struct ScriptedOp {
    steps: VecDeque<Io>,
    fed: Vec<Fed>,
    polls: usize,
    finished: bool,
}

impl ScriptedOp {
    /// An operation asking for `steps` in order.
    pub fn new(steps: Vec<Io>) -> Self {
        Self {
            steps: steps.into(),
            fed: Vec::new(),
            polls: 0,
            finished: false,
        }
    }

    /// How often it was polled (a driver must not poll it again once it finished).
    pub fn polls(&self) -> usize {
        self.polls
    }
}

impl Operation for ScriptedOp {
    type Event = ();
    type Output = Vec<Fed>;

    fn poll(&mut self, _now: Instant) -> Step<(), Vec<Fed>> {
        self.polls += 1;
        assert!(!self.finished, "polled after it finished");
        if let Some(io) = self.steps.pop_front() {
            return Step::Io(io);
        }
        self.finished = true;
        Step::Done(Ok(std::mem::take(&mut self.fed)))
    }

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        self.fed.push(Fed::Input(now, data.to_vec()));
    }

    fn handle_eof(&mut self, now: Instant) {
        self.fed.push(Fed::Eof(now));
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.fed.push(Fed::Timeout(now));
    }
}
