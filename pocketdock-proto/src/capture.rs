//! Output capture under a byte cap, with the three policies pocketdock offers.
//!
//! A capture either keeps a copy of the output for the final result ([`Capture::new`]: `run`, and
//! a stream that keeps its output), or keeps nothing and only decides which bytes are handed out
//! ([`Capture::passing`]: a stream that keeps nothing). The cap and its policy mean the same in
//! both: the first bytes up to the cap (or the head, with head-and-tail) go through, the policy
//! decides the rest, and `truncated` and `elided_bytes` count what did not go through.

use bytes::Bytes;

use crate::demux::StreamKind;

/// Default cap on captured output: 10 MiB, stdout and stderr together.
pub const DEFAULT_MAX_OUTPUT: usize = 10 * 1024 * 1024;

/// What happens when a command's output reaches the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LimitPolicy {
    /// Keep the first `max_bytes`, then kill the command (the default).
    #[default]
    Stop,
    /// Keep the first `max_bytes`, drop the rest, let the command finish.
    KeepRunning,
    /// Keep the first `max_bytes / 2` (both streams) and the last `max_bytes / 4` of each
    /// stream, and let the command finish: the error at the end of a long log is never lost. The
    /// elided byte count is reported. The tails are per stream on purpose: the engine reads the
    /// stdout and stderr pipes concurrently, so the last stderr line can arrive before the last
    /// stdout bytes, and a shared tail would push it out.
    HeadAndTail,
}

/// The cap on captured output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimit {
    /// Bytes kept, stdout and stderr together.
    pub max_bytes: usize,
    /// What to do when it is reached.
    pub policy: LimitPolicy,
}

impl Default for OutputLimit {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_OUTPUT,
            policy: LimitPolicy::Stop,
        }
    }
}

/// Bounded tail of one stream: the last `cap` bytes pushed. It grows as it fills and then turns
/// into a ring, so each byte costs one slice copy, whatever the chunk sizes.
#[derive(Debug, Clone, Default)]
struct Tail {
    buf: Vec<u8>,
    /// Where the oldest byte is once the ring is full (0 until then).
    start: usize,
    cap: usize,
}

impl Tail {
    /// Keep the end of `data`; returns how many bytes fell out of the tail (older ones
    /// overwritten, or the part of `data` itself that is longer than the tail).
    fn push(&mut self, data: &[u8]) -> u64 {
        if data.len() >= self.cap {
            let dropped = (self.buf.len() + data.len() - self.cap) as u64;
            self.buf.clear();
            self.buf.extend_from_slice(&data[data.len() - self.cap..]);
            self.start = 0;
            return dropped;
        }
        let fill = (self.cap - self.buf.len()).min(data.len());
        self.buf.extend_from_slice(&data[..fill]);
        let rest = &data[fill..];
        if rest.is_empty() {
            return 0;
        }
        // The ring is full: `rest` overwrites the oldest bytes, wrapping at most once since it
        // is shorter than the ring.
        let first = rest.len().min(self.cap - self.start);
        self.buf[self.start..self.start + first].copy_from_slice(&rest[..first]);
        self.buf[..rest.len() - first].copy_from_slice(&rest[first..]);
        self.start = (self.start + rest.len()) % self.cap;
        rest.len() as u64
    }

    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bytes kept, oldest first; the tail is empty afterwards.
    fn take(&mut self) -> Vec<u8> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.rotate_left(self.start);
        self.start = 0;
        buf
    }
}

/// Captures stdout and stderr under an [`OutputLimit`], or, when passing, only counts them and
/// says which bytes go through.
#[derive(Debug, Clone)]
pub struct Capture {
    limit: OutputLimit,
    keep: bool,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    kept_head: usize,
    truncated: bool,
    elided: u64,
    tail_out: Tail,
    tail_err: Tail,
}

/// Whether capture may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Captured {
    /// Keep feeding.
    Continue,
    /// The cap was reached and the policy says to stop the command.
    Stop,
}

impl Capture {
    /// An empty capture that keeps a copy of the output under `limit`.
    pub fn new(limit: OutputLimit) -> Self {
        Self::with_keep(limit, true)
    }

    /// A capture that keeps no copy: [`take`](Self::take) hands out the bytes within the cap,
    /// the policy decides the rest, and [`finish`](Self::finish) returns no output, only whether
    /// and how much was held back. With [`LimitPolicy::HeadAndTail`] it holds the last
    /// `max_bytes / 4` of each stream until [`take_tails`](Self::take_tails): memory is bounded
    /// by the cap, never by the output's size; with the other policies it holds nothing.
    pub fn passing(limit: OutputLimit) -> Self {
        Self::with_keep(limit, false)
    }

    fn with_keep(limit: OutputLimit, keep: bool) -> Self {
        let tail_cap = if limit.policy == LimitPolicy::HeadAndTail {
            limit.max_bytes / 4
        } else {
            0
        };
        Self {
            limit,
            keep,
            stdout: Vec::new(),
            stderr: Vec::new(),
            kept_head: 0,
            truncated: false,
            elided: 0,
            tail_out: Tail {
                cap: tail_cap,
                ..Tail::default()
            },
            tail_err: Tail {
                cap: tail_cap,
                ..Tail::default()
            },
        }
    }

    fn head_budget(&self) -> usize {
        match self.limit.policy {
            LimitPolicy::HeadAndTail => self.limit.max_bytes - 2 * (self.limit.max_bytes / 4),
            _ => self.limit.max_bytes,
        }
    }

    /// Add output. Stdin echoes and engine system errors go to stderr.
    ///
    /// A passing capture keeps nothing here: use [`take`](Self::take), which says what to hand
    /// out.
    pub fn push(&mut self, kind: StreamKind, data: &[u8]) -> Captured {
        let (head, verdict) = self.admit(kind, data);
        if self.keep {
            if kind == StreamKind::Stdout {
                self.stdout.extend_from_slice(&data[..head]);
            } else {
                self.stderr.extend_from_slice(&data[..head]);
            }
        }
        verdict
    }

    /// Take one chunk of output and return the part to hand out now, with whether to go on.
    ///
    /// A keeping capture hands out the whole chunk and keeps its copy under the cap (as
    /// [`push`](Self::push)); a passing one hands out only the part within the cap (or within
    /// the head, with head-and-tail, which holds the rest back as tail) and keeps nothing. The
    /// part handed out is a slice of `chunk`, never a copy.
    pub fn take(&mut self, kind: StreamKind, chunk: Bytes) -> (Bytes, Captured) {
        if self.keep {
            let verdict = self.push(kind, &chunk);
            return (chunk, verdict);
        }
        let (head, verdict) = self.admit(kind, &chunk);
        (chunk.slice(..head), verdict)
    }

    /// The tails a passing head-and-tail capture held back, stdout's first, to be handed out
    /// once the output has ended. Empty for a keeping capture (its tails are in
    /// [`finish`](Self::finish)'s output) and for the other policies.
    pub fn take_tails(&mut self) -> Vec<(StreamKind, Bytes)> {
        if self.keep {
            return Vec::new();
        }
        [
            (StreamKind::Stdout, &mut self.tail_out),
            (StreamKind::Stderr, &mut self.tail_err),
        ]
        .into_iter()
        .filter(|(_, tail)| !tail.is_empty())
        .map(|(kind, tail)| (kind, Bytes::from(tail.take())))
        .collect()
    }

    /// Count `data` against the cap: returns how many of its first bytes fit (they go into the
    /// result, or out as a chunk), after the policy dealt with the rest (dropped and counted,
    /// or pushed into the stream's tail), and whether the command may go on.
    fn admit(&mut self, kind: StreamKind, data: &[u8]) -> (usize, Captured) {
        if self.truncated && self.limit.policy == LimitPolicy::Stop {
            self.elided += data.len() as u64;
            return (0, Captured::Stop);
        }
        let room = self.head_budget() - self.kept_head;
        let head = room.min(data.len());
        self.kept_head += head;
        let rest = &data[head..];
        if rest.is_empty() {
            return (head, Captured::Continue);
        }
        self.truncated = true;
        let verdict = match self.limit.policy {
            LimitPolicy::Stop => {
                self.elided += rest.len() as u64;
                Captured::Stop
            }
            LimitPolicy::KeepRunning => {
                self.elided += rest.len() as u64;
                Captured::Continue
            }
            LimitPolicy::HeadAndTail => {
                let tail = if kind == StreamKind::Stdout {
                    &mut self.tail_out
                } else {
                    &mut self.tail_err
                };
                self.elided += tail.push(rest);
                Captured::Continue
            }
        };
        (head, verdict)
    }

    /// True once any output was dropped.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// `(stdout, stderr, truncated, elided_bytes)`. A passing capture returns no output: tails
    /// not taken with [`take_tails`](Self::take_tails) are dropped (they were not counted as
    /// elided, since they were meant to go through).
    pub fn finish(mut self) -> (Vec<u8>, Vec<u8>, bool, u64) {
        if !self.keep {
            return (Vec::new(), Vec::new(), self.truncated, self.elided);
        }
        self.stdout.extend_from_slice(&self.tail_out.take());
        self.stderr.extend_from_slice(&self.tail_err.take());
        (self.stdout, self.stderr, self.truncated, self.elided)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim(max: usize, policy: LimitPolicy) -> OutputLimit {
        OutputLimit {
            max_bytes: max,
            policy,
        }
    }

    #[test]
    fn stop_keeps_exactly_the_cap() {
        let mut c = Capture::new(lim(100, LimitPolicy::Stop));
        assert_eq!(c.push(StreamKind::Stdout, &[b'a'; 50]), Captured::Continue);
        assert_eq!(c.push(StreamKind::Stderr, &[b'b'; 50]), Captured::Continue);
        assert_eq!(c.push(StreamKind::Stdout, &[b'c'; 50]), Captured::Stop);
        let (o, e, t, el) = c.finish();
        assert_eq!((o.len(), e.len(), t, el), (50, 50, true, 50));

        let mut c = Capture::new(lim(100, LimitPolicy::Stop));
        assert_eq!(c.push(StreamKind::Stdout, &[b'a'; 1000]), Captured::Stop);
        let (o, _, t, el) = c.finish();
        assert_eq!((o.len(), t, el), (100, true, 900));
    }

    #[test]
    fn exactly_at_cap_is_not_truncated() {
        let mut c = Capture::new(lim(100, LimitPolicy::Stop));
        assert_eq!(c.push(StreamKind::Stdout, &[b'a'; 100]), Captured::Continue);
        assert!(!c.truncated());
        assert_eq!(c.push(StreamKind::Stdout, b"x"), Captured::Stop);
        assert!(c.truncated());
    }

    #[test]
    fn head_and_tail_keeps_the_end() {
        let mut c = Capture::new(lim(40, LimitPolicy::HeadAndTail));
        let data: Vec<u8> = (0..200u8).collect();
        for piece in data.chunks(7) {
            assert_eq!(c.push(StreamKind::Stdout, piece), Captured::Continue);
        }
        let (o, _, t, el) = c.finish();
        assert!(t);
        assert_eq!(o.len(), 30);
        assert_eq!(&o[..20], &data[..20]);
        assert_eq!(&o[20..], &data[190..]);
        assert_eq!(el, 170);
    }

    #[test]
    fn keep_running_drops_rest() {
        let mut c = Capture::new(lim(10, LimitPolicy::KeepRunning));
        assert_eq!(c.push(StreamKind::Stdout, &[1; 25]), Captured::Continue);
        let (o, _, t, el) = c.finish();
        assert_eq!((o.len(), t, el), (10, true, 15));
    }

    /// Feed `data` to a passing capture in pieces of `step`; returns what went out (per
    /// stream, tails included) and the verdicts.
    fn pass(
        c: &mut Capture,
        kind: StreamKind,
        data: &[u8],
        step: usize,
    ) -> (Vec<u8>, Vec<Captured>) {
        let mut out = Vec::new();
        let mut verdicts = Vec::new();
        for piece in data.chunks(step) {
            let (go, v) = c.take(kind, Bytes::copy_from_slice(piece));
            out.extend_from_slice(&go);
            verdicts.push(v);
        }
        (out, verdicts)
    }

    #[test]
    fn passing_keeps_nothing_and_hands_out_up_to_the_cap() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for step in [1, 7, 100, 1000] {
            let mut c = Capture::passing(lim(100, LimitPolicy::Stop));
            let (out, verdicts) = pass(&mut c, StreamKind::Stdout, &data, step);
            assert_eq!(out, &data[..100], "step {step}");
            assert_eq!(verdicts.last(), Some(&Captured::Stop));
            assert!(c.take_tails().is_empty());
            let (o, e, t, el) = c.finish();
            assert!(o.is_empty() && e.is_empty() && t);
            assert_eq!(el, 900);

            let mut c = Capture::passing(lim(100, LimitPolicy::KeepRunning));
            let (out, verdicts) = pass(&mut c, StreamKind::Stderr, &data, step);
            assert_eq!(out, &data[..100], "step {step}");
            assert!(verdicts.iter().all(|v| *v == Captured::Continue));
            let (o, e, t, el) = c.finish();
            assert!(o.is_empty() && e.is_empty() && t);
            assert_eq!(el, 900);
        }
    }

    #[test]
    fn passing_under_the_cap_hands_out_every_byte_untruncated() {
        let mut c = Capture::passing(lim(100, LimitPolicy::Stop));
        let (out, _) = pass(&mut c, StreamKind::Stdout, &[b'a'; 60], 7);
        let (err, _) = pass(&mut c, StreamKind::Stderr, &[b'b'; 40], 7);
        assert_eq!((out.len(), err.len()), (60, 40));
        assert_eq!(c.finish(), (Vec::new(), Vec::new(), false, 0));
    }

    #[test]
    fn passing_head_and_tail_holds_the_tails_back_until_the_end() {
        let data: Vec<u8> = (0..200u8).collect();
        let mut c = Capture::passing(lim(40, LimitPolicy::HeadAndTail));
        let (out, verdicts) = pass(&mut c, StreamKind::Stdout, &data, 7);
        let (err, _) = pass(&mut c, StreamKind::Stderr, b"the error\n", 3);
        assert!(verdicts.iter().all(|v| *v == Captured::Continue));
        assert_eq!(out, &data[..20], "the head goes out as it comes");
        assert!(err.is_empty(), "the head budget is spent");
        let tails = c.take_tails();
        assert_eq!(
            tails,
            vec![
                (StreamKind::Stdout, Bytes::copy_from_slice(&data[190..])),
                (StreamKind::Stderr, Bytes::from_static(b"the error\n")),
            ]
        );
        assert!(c.take_tails().is_empty(), "taken once");
        let (o, e, t, el) = c.finish();
        assert!(o.is_empty() && e.is_empty() && t);
        assert_eq!(el, 170, "the same count as a keeping capture");
    }

    #[test]
    fn keeping_take_hands_out_whole_chunks() {
        let mut c = Capture::new(lim(10, LimitPolicy::Stop));
        let (go, v) = c.take(StreamKind::Stdout, Bytes::from_static(b"0123456789abc"));
        assert_eq!((&go[..], v), (&b"0123456789abc"[..], Captured::Stop));
        assert!(c.take_tails().is_empty());
        let (o, _, t, el) = c.finish();
        assert_eq!((o, t, el), (b"0123456789".to_vec(), true, 3));
    }

    proptest::proptest! {
        /// The ring keeps exactly the last `cap` bytes pushed and counts every other byte as
        /// dropped, for any cap and any chunking, taken at any point.
        #[test]
        fn tail_keeps_the_last_cap_bytes(
            cap in 0usize..40,
            pieces in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..60), 0..20),
            take_after in 0usize..20,
        ) {
            let mut tail = Tail { cap, ..Tail::default() };
            let mut all = Vec::new();
            let mut dropped = 0u64;
            for (i, piece) in pieces.iter().enumerate() {
                dropped += tail.push(piece);
                all.extend_from_slice(piece);
                if i == take_after {
                    let kept = tail.take();
                    proptest::prop_assert_eq!(&kept[..], &all[all.len().saturating_sub(cap)..]);
                    proptest::prop_assert_eq!(dropped + kept.len() as u64, all.len() as u64);
                    all.clear();
                    dropped = 0;
                }
            }
            let kept = tail.take();
            proptest::prop_assert_eq!(&kept[..], &all[all.len().saturating_sub(cap)..]);
            proptest::prop_assert_eq!(dropped + kept.len() as u64, all.len() as u64);
        }
    }
}
