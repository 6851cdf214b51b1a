//! A scripted engine for operation tests: no sockets, no sleeps, a virtual clock.
//!
//! Every test of an [`Operation`] drives it through this one harness (`mod support;` at the
//! top of a test file):
//!
//! ```text
//! let script = [recorded("podman", "inspect")];       // answers the recorded request line
//! check_every_delivery(&script, || FindOp::new("pd-transcript-podman"), |delivery, out| {
//!     // out.result, out.events, out.requests, out.sent, out.elapsed
//! });
//! let out = drive(op, vec![reply("GET /x", json("200 OK", "{}"))], Delivery::Chunks(7));
//! assert_times_out(op, vec![silent("GET /x")], "inspect", Duration::from_secs(60));
//! ```
//!
//! The engine answers each request (the first write on a fresh connection) with the next
//! [`Reply`] of the script, after checking that the request line starts with the reply's
//! `request_prefix`; a request nobody scripted, a read with no request and a reply left unused
//! fail the test. Later writes on the same connection (a streamed body, stdin) are collected
//! in [`Outcome::sent`]. The answer is delivered in the pieces a [`Delivery`] says, so a test can
//! cover every split point of every answer ([`every_delivery`]). Time is virtual: it starts at a
//! fixed `Instant`, moves by [`Script::tick`] per piece read (1 ms unless set), jumps to the
//! deadline of an [`Io::Wait`], and to the read deadline when the engine has nothing more to
//! say ([`Reply::hang`], [`silent`]). [`Script::run_with`] hands each event to a hook first (to
//! feed an upload its body); [`Script::try_run`] reports an operation that would wait forever.

#![allow(
    dead_code,
    reason = "each test file compiles this module on its own and uses a part of it"
)]

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pocketdock_proto::op::{Io, Operation, Step};
use pocketdock_proto::Error;

/// One scripted answer: the request it answers and the bytes the engine sends back.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The request line (`METHOD /path?query HTTP/1.1`) must start with this; `""` matches any.
    pub request_prefix: String,
    /// The whole answer, as the engine writes it.
    pub bytes: Vec<u8>,
    /// After the bytes, the engine stays silent with the connection open (instead of closing it),
    /// so the next read waits for its deadline.
    pub hang: bool,
    /// This reply answers every further request (it is never used up).
    pub repeat: bool,
}

/// A reply to the request whose line starts with `prefix`: `bytes`, then end of stream.
pub fn reply(prefix: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Reply {
    Reply {
        request_prefix: prefix.into(),
        bytes: bytes.into(),
        hang: false,
        repeat: false,
    }
}

impl Reply {
    /// Keep the connection open and silent after the bytes (see [`Reply::hang`]).
    pub fn hang(mut self) -> Self {
        self.hang = true;
        self
    }

    /// Answer every further request with this reply.
    pub fn repeat(mut self) -> Self {
        self.repeat = true;
        self
    }
}

/// An HTTP response with a JSON (or any) body and its `Content-Length`.
pub fn json(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The response bytes of a recorded transcript, e.g. `transcript("podman", "inspect")` for
/// `tests/transcripts/podman/12-inspect.resp`.
pub fn transcript(engine: &str, name: &str) -> Vec<u8> {
    std::fs::read(transcript_path(engine, name, "resp")).unwrap_or_else(|e| panic!("{e}"))
}

/// The request recorded with a transcript, as it was sent (head and body).
pub fn transcript_request(engine: &str, name: &str) -> Vec<u8> {
    std::fs::read(transcript_path(engine, name, "req")).unwrap_or_else(|e| panic!("{e}"))
}

/// The request line recorded with a transcript (`GET /containers/x/json HTTP/1.1`).
pub fn transcript_request_line(engine: &str, name: &str) -> String {
    String::from_utf8_lossy(&transcript_request(engine, name))
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// A recorded answer that must answer exactly the recorded request line: an operation run
/// with the recorded names (`pd-transcript-podman`, ...) sends byte for byte the same line.
pub fn recorded(engine: &str, name: &str) -> Reply {
    reply(
        transcript_request_line(engine, name),
        transcript(engine, name),
    )
}

/// An engine that accepts the request answering `prefix` and then says nothing.
pub fn silent(prefix: impl Into<String>) -> Reply {
    reply(prefix, Vec::new()).hang()
}

/// Both engines whose transcripts are recorded.
pub const ENGINES: [&str; 2] = ["podman", "docker"];

fn transcript_path(engine: &str, name: &str, ext: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/transcripts")
        .join(engine);
    let want = format!("{name}.{ext}");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .find(|e| {
            let f = e.file_name().to_string_lossy().to_string();
            f.split_once('-').map(|(_, rest)| rest) == Some(want.as_str())
        })
        .map_or_else(|| panic!("no transcript {engine}/{want}"), |e| e.path())
}

/// How the engine cuts its answers into reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Every answer in one read.
    Whole,
    /// Every answer in reads of at most this many bytes (1: byte by byte).
    Chunks(usize),
    /// Answer number `reply` (0-based, in the order used) in two reads split after `at` bytes;
    /// every other answer whole.
    SplitAt {
        /// Which answer is split.
        reply: usize,
        /// Bytes in the first read.
        at: usize,
    },
}

impl From<usize> for Delivery {
    /// A number is a chunk size.
    fn from(step: usize) -> Self {
        Delivery::Chunks(step)
    }
}

impl Delivery {
    /// Cut answer number `index` into the reads this delivery makes.
    fn pieces(self, index: usize, len: usize) -> Vec<(usize, usize)> {
        let cuts: Vec<usize> = match self {
            Delivery::Chunks(step) => (1..len).filter(|c| c % step.max(1) == 0).collect(),
            Delivery::SplitAt { reply, at } if reply == index && at > 0 && at < len => vec![at],
            Delivery::Whole | Delivery::SplitAt { .. } => vec![],
        };
        let mut start = 0;
        let mut out = Vec::new();
        for c in cuts.into_iter().chain([len]) {
            out.push((start, c));
            start = c;
        }
        out
    }
}

/// Every way to deliver `script` worth testing: whole, byte by byte, and each answer split in
/// two at each of its inner points (the other answers whole).
pub fn every_delivery(script: &[Reply]) -> Vec<Delivery> {
    let mut all = vec![Delivery::Whole, Delivery::Chunks(1)];
    for (reply, r) in script.iter().enumerate() {
        all.extend((1..r.bytes.len()).map(|at| Delivery::SplitAt { reply, at }));
    }
    all
}

/// Run a fresh operation from `make` against `script` in each of [`every_delivery`], handing
/// each outcome to `check` with the delivery used (for the failure message).
pub fn check_every_delivery<O: Operation>(
    script: &[Reply],
    make: impl Fn() -> O,
    check: impl Fn(Delivery, Outcome<O::Event, O::Output>),
) {
    for delivery in every_delivery(script) {
        check(delivery, drive(make(), script.to_vec(), delivery));
    }
}

/// Run `op` against `replies` (the last one [`silent`]) with reads taking no virtual time, and
/// check that it fails with `Error::Timeout` of operation `name` exactly `after` after it began.
pub fn assert_times_out<O: Operation>(op: O, replies: Vec<Reply>, name: &str, after: Duration)
where
    O::Output: std::fmt::Debug,
{
    let out = Script::new(replies).tick(Duration::ZERO).run(op);
    assert!(
        matches!(out.result, Err(Error::Timeout { op, .. }) if op == name),
        "{name}: {:?}",
        out.result
    );
    assert_eq!(out.elapsed, after, "{name}");
}

/// The step sizes the exec tests have always used: small, odd, around a frame header, and
/// one that takes every answer whole.
pub const STEPS: [usize; 8] = [1, 2, 3, 7, 8, 9, 64, 100_000];

/// Run `f` with each of [`STEPS`].
pub fn every_step(f: impl Fn(usize)) {
    for step in STEPS {
        f(step);
    }
}

/// What happened when an operation ran against the script.
#[derive(Debug)]
pub struct Outcome<E, T> {
    /// Events in the order the operation gave them.
    pub events: Vec<E>,
    /// The operation's result.
    pub result: Result<T, Error>,
    /// The request line of each request made, in order.
    pub requests: Vec<String>,
    /// Everything written on each connection (request head, body, stdin), one entry per request.
    pub sent: Vec<Vec<u8>>,
    /// Virtual time from the first poll to the end.
    pub elapsed: Duration,
}

/// The operation kept waiting to read with no deadline and nothing more to read: a driver
/// would wait for the engine forever.
#[derive(Debug)]
pub struct Stuck<E> {
    /// Events given before.
    pub events: Vec<E>,
    /// The request lines made before.
    pub requests: Vec<String>,
    /// Virtual time spent before.
    pub elapsed: Duration,
}

/// The end of a run: the outcome, or how far the operation got before it got [`Stuck`].
pub type RunResult<O> = Result<
    Outcome<<O as Operation>::Event, <O as Operation>::Output>,
    Stuck<<O as Operation>::Event>,
>;

/// A script and the way it is delivered. [`drive`] is the short form.
#[derive(Debug, Clone)]
pub struct Script {
    replies: VecDeque<Reply>,
    delivery: Delivery,
    tick: Duration,
}

/// Run `op` against `replies` delivered as `delivery`; panics when the operation misbehaves
/// (a request nobody scripted, a read with no request, an unused reply, no end).
pub fn drive<O: Operation>(
    op: O,
    replies: Vec<Reply>,
    delivery: impl Into<Delivery>,
) -> Outcome<O::Event, O::Output> {
    Script::new(replies).delivery(delivery).run(op)
}

/// Where the answer to the current request stands.
struct Pending {
    pieces: VecDeque<(usize, usize)>,
    bytes: Vec<u8>,
    hang: bool,
}

impl Script {
    /// The replies, delivered whole, 1 ms of virtual time per read.
    pub fn new(replies: Vec<Reply>) -> Self {
        Self {
            replies: replies.into(),
            delivery: Delivery::Whole,
            tick: Duration::from_millis(1),
        }
    }

    /// Deliver the answers this way.
    pub fn delivery(mut self, delivery: impl Into<Delivery>) -> Self {
        self.delivery = delivery.into();
        self
    }

    /// Virtual time each read takes.
    pub fn tick(mut self, tick: Duration) -> Self {
        self.tick = tick;
        self
    }

    /// Run `op` to its end (panics if it gets [`Stuck`]).
    pub fn run<O: Operation>(self, op: O) -> Outcome<O::Event, O::Output> {
        self.run_with(op, |_, _| {})
    }

    /// Run `op`, calling `on_event` with each event before it is collected (to feed an upload
    /// its body, for instance).
    pub fn run_with<O: Operation>(
        self,
        op: O,
        on_event: impl FnMut(&mut O, &O::Event),
    ) -> Outcome<O::Event, O::Output> {
        match self.try_run_with(op, on_event) {
            Ok(out) => out,
            Err(stuck) => panic!(
                "operation waits forever for the engine after {:?}",
                stuck.requests
            ),
        }
    }

    /// Run `op`; [`Stuck`] if it waits to read with no deadline after the engine has said all.
    pub fn try_run<O: Operation>(self, op: O) -> RunResult<O> {
        self.try_run_with(op, |_, _| {})
    }

    /// [`Script::try_run`] with an event hook as in [`Script::run_with`].
    pub fn try_run_with<O: Operation>(
        mut self,
        mut op: O,
        mut on_event: impl FnMut(&mut O, &O::Event),
    ) -> RunResult<O> {
        let start = Instant::now();
        let mut now = start;
        let mut pending: Option<Pending> = None;
        let mut connected = false;
        let mut events = Vec::new();
        let mut requests = Vec::new();
        let mut sent: Vec<Vec<u8>> = Vec::new();
        for _ in 0..1_000_000 {
            match op.poll(now) {
                Step::Io(Io::Connect) => {
                    pending = None;
                    connected = true;
                }
                Step::Io(Io::Close) => {
                    pending = None;
                    connected = false;
                }
                Step::Io(Io::ShutdownWrite) => {}
                Step::Io(Io::Write(bytes)) => {
                    assert!(connected, "write without a connection");
                    if pending.is_some() {
                        // More of the same request (a streamed body, stdin).
                        if let Some(last) = sent.last_mut() {
                            last.extend_from_slice(&bytes);
                        }
                        continue;
                    }
                    let text = String::from_utf8_lossy(&bytes);
                    let line = text.lines().next().unwrap_or_default().to_string();
                    let next = self
                        .replies
                        .pop_front()
                        .unwrap_or_else(|| panic!("no reply scripted for {line}"));
                    assert!(
                        line.starts_with(&next.request_prefix),
                        "expected {:?}, got {line:?}",
                        next.request_prefix
                    );
                    if next.repeat {
                        self.replies.push_front(next.clone());
                    }
                    let index = requests.len();
                    requests.push(line);
                    sent.push(bytes.to_vec());
                    pending = Some(Pending {
                        pieces: self.delivery.pieces(index, next.bytes.len()).into(),
                        bytes: next.bytes,
                        hang: next.hang,
                    });
                }
                Step::Io(Io::Read { deadline }) => {
                    let Some(p) = pending.as_mut() else {
                        panic!("read without a request");
                    };
                    match p.pieces.pop_front() {
                        Some((a, b)) if b > a => {
                            now += self.tick;
                            op.handle_bytes(now, bytes::Bytes::copy_from_slice(&p.bytes[a..b]));
                        }
                        Some(_) => {}
                        None if p.hang => {
                            let Some(d) = deadline else {
                                return Err(Stuck {
                                    events,
                                    requests,
                                    elapsed: now - start,
                                });
                            };
                            now = now.max(d);
                            op.handle_timeout(now);
                        }
                        // The answer is used up: this and every later read sees end of stream.
                        None => op.handle_eof(now),
                    }
                }
                Step::Io(Io::Wait(t)) => {
                    assert!(t >= now, "wait into the past");
                    now = t;
                    op.handle_timeout(now);
                }
                Step::Event(e) => {
                    on_event(&mut op, &e);
                    events.push(e);
                }
                Step::Done(result) => {
                    assert!(
                        self.replies.iter().all(|r| r.repeat),
                        "unused replies: {}",
                        self.replies.len()
                    );
                    return Ok(Outcome {
                        events,
                        result,
                        requests,
                        sent,
                        elapsed: now - start,
                    });
                }
            }
        }
        panic!("operation did not finish");
    }
}
