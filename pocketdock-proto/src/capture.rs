//! Output capture under a byte cap, with the three policies pocketdock offers.

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

/// Bounded tail of one stream.
#[derive(Debug, Clone, Default)]
struct Tail {
    buf: std::collections::VecDeque<u8>,
    cap: usize,
}

impl Tail {
    fn push(&mut self, data: &[u8]) -> u64 {
        let mut dropped = 0u64;
        let data = if data.len() > self.cap {
            dropped += (data.len() - self.cap) as u64;
            &data[data.len() - self.cap..]
        } else {
            data
        };
        let overflow = (self.buf.len() + data.len()).saturating_sub(self.cap);
        dropped += overflow as u64;
        self.buf.drain(..overflow);
        self.buf.extend(data);
        dropped
    }
}

/// Captures stdout and stderr under an [`OutputLimit`].
#[derive(Debug, Clone)]
pub struct Capture {
    limit: OutputLimit,
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
    /// An empty capture.
    pub fn new(limit: OutputLimit) -> Self {
        let tail_cap = if limit.policy == LimitPolicy::HeadAndTail {
            limit.max_bytes / 4
        } else {
            0
        };
        Self {
            limit,
            stdout: Vec::new(),
            stderr: Vec::new(),
            kept_head: 0,
            truncated: false,
            elided: 0,
            tail_out: Tail {
                buf: std::collections::VecDeque::new(),
                cap: tail_cap,
            },
            tail_err: Tail {
                buf: std::collections::VecDeque::new(),
                cap: tail_cap,
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
    pub fn push(&mut self, kind: StreamKind, data: &[u8]) -> Captured {
        if self.truncated && self.limit.policy == LimitPolicy::Stop {
            self.elided += data.len() as u64;
            return Captured::Stop;
        }
        let room = self.head_budget() - self.kept_head;
        let (head, rest) = data.split_at(room.min(data.len()));
        let is_out = kind == StreamKind::Stdout;
        if is_out {
            self.stdout.extend_from_slice(head);
        } else {
            self.stderr.extend_from_slice(head);
        }
        self.kept_head += head.len();
        if rest.is_empty() {
            return Captured::Continue;
        }
        self.truncated = true;
        match self.limit.policy {
            LimitPolicy::Stop => {
                self.elided += rest.len() as u64;
                Captured::Stop
            }
            LimitPolicy::KeepRunning => {
                self.elided += rest.len() as u64;
                Captured::Continue
            }
            LimitPolicy::HeadAndTail => {
                let tail = if is_out {
                    &mut self.tail_out
                } else {
                    &mut self.tail_err
                };
                self.elided += tail.push(rest);
                Captured::Continue
            }
        }
    }

    /// True once any output was dropped.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// `(stdout, stderr, truncated, elided_bytes)`.
    pub fn finish(mut self) -> (Vec<u8>, Vec<u8>, bool, u64) {
        self.stdout.extend(self.tail_out.buf.drain(..));
        self.stderr.extend(self.tail_err.buf.drain(..));
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
}
