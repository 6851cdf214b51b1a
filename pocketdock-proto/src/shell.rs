//! The client-side state of a session (a persistent shell), shared by every adapter: its
//! options ([`SessionOptions`]) and what the reader and the callers share ([`SessionState`]:
//! the [`SessionScanner`], the output buffer of `read`, the outcome of the pending command, the
//! turn of `send_and_wait`, and the end of the shell).
//!
//! Plain data: an adapter keeps it in a mutex, its reader feeds it, and its callers wait on it
//! (blocking with a condition variable, async with [`SessionState::poll_until`], which keeps the
//! wakers of the waiting tasks: `std::task`, no runtime).

use std::collections::VecDeque;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

use crate::capture::{LimitPolicy, OutputLimit, DEFAULT_MAX_OUTPUT};
use crate::demux::StreamKind;
use crate::error::{Error, Result};
use crate::run::validate_exec_options;
use crate::session::{CommandOutput, SessionConfig, SessionEvent, SessionScanner};

/// Default bound on the output kept for a session's `read`: 1 MiB (the oldest bytes are
/// dropped).
pub const DEFAULT_SESSION_BUFFER: usize = 1024 * 1024;

/// How a session's shell is started and how much output it keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOptions {
    /// Extra environment of the shell, `KEY=value`.
    pub env: Vec<String>,
    /// User to run the shell as (the image's default when `None`).
    pub user: Option<String>,
    /// Initial working directory, absolute (the image's default when `None`).
    pub workdir: Option<String>,
    /// Cap on each command's captured stdout + stderr (10 MiB by default). The command is never
    /// interrupted for it (`Stop` behaves as `KeepRunning`): the rest is dropped and reported
    /// with `truncated` and `elided_bytes`.
    pub limit: OutputLimit,
    /// Bound on the output kept for `Session::read` ([`DEFAULT_SESSION_BUFFER`]).
    pub max_buffered: usize,
    /// Also show the output of `send_and_wait` commands in `Session::read` and
    /// `Session::on_output`, as the reference does (default `true`). With `false` they only
    /// see output that belongs to no command (after `Session::send`, background jobs, the
    /// rest of a timed-out command).
    pub echo_command_output: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            env: Vec::new(),
            user: None,
            workdir: None,
            limit: OutputLimit {
                max_bytes: DEFAULT_MAX_OUTPUT,
                policy: LimitPolicy::KeepRunning,
            },
            max_buffered: DEFAULT_SESSION_BUFFER,
            echo_command_output: true,
        }
    }
}

impl SessionOptions {
    /// Check the options; the error names the field.
    pub fn validate(&self) -> Result<()> {
        validate_exec_options(&self.env, self.workdir.as_deref())?;
        if self.limit.max_bytes == 0 {
            return Err(Error::invalid("limit", "must be at least 1 byte"));
        }
        Ok(())
    }
}

/// How the pending command ended.
#[derive(Debug)]
pub enum Finish {
    /// Its end marker arrived.
    Completed(CommandOutput),
    /// The shell's output ended first.
    Unfinished(CommandOutput),
}

/// What a session's reader and its callers share. See the module docs.
#[derive(Debug)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent facts about the session, not a state to encode as an enum"
)]
pub struct SessionState {
    /// Finds where each command ends and its exit code.
    pub scanner: SessionScanner,
    /// Output for `read`, oldest first.
    pub buffer: VecDeque<u8>,
    /// Bound on `buffer`.
    pub max_buffered: usize,
    /// Bytes dropped from `buffer` because it was full.
    pub dropped: u64,
    /// The outcome of the pending command, by token.
    pub finished: Option<(String, Finish)>,
    /// A `send_and_wait` holds the turn.
    pub busy: bool,
    /// A write to the shell's stdin is in progress (async adapters: writes are not atomic).
    pub writing: bool,
    /// `close()` was called.
    pub closed: bool,
    /// The shell's stream ended (it exited, was killed, or the connection broke).
    pub ended: bool,
    /// The reader is done with the exit code (known or not).
    pub exit_known: bool,
    /// The shell's exit code, when it ended by itself and the engine reported it.
    pub exit_code: Option<i64>,
    /// Why the stream ended, when it was an error.
    pub end_error: Option<String>,
    wakers: Vec<Waker>,
}

impl SessionState {
    /// The state of a new session with `opts`.
    pub fn new(opts: &SessionOptions) -> Self {
        Self {
            scanner: SessionScanner::new(SessionConfig {
                capture: opts.limit,
                max_queued_output: opts.max_buffered.max(1),
                echo_command_output: opts.echo_command_output,
            }),
            buffer: VecDeque::new(),
            max_buffered: opts.max_buffered,
            dropped: 0,
            finished: None,
            busy: false,
            writing: false,
            closed: false,
            ended: false,
            exit_known: false,
            exit_code: None,
            end_error: None,
            wakers: Vec::new(),
        }
    }

    /// Take the scanner's events: output to the buffer (and returned, for callbacks), results
    /// to `finished`.
    pub fn drain(&mut self) -> Vec<(StreamKind, Bytes)> {
        let mut general = Vec::new();
        while let Some(ev) = self.scanner.next_event() {
            match ev {
                SessionEvent::Output { stream, data, .. } => {
                    self.buffer.extend(data.iter());
                    let over = self.buffer.len().saturating_sub(self.max_buffered);
                    if over > 0 {
                        self.buffer.drain(..over);
                        self.dropped += over as u64;
                    }
                    general.push((stream, data));
                }
                SessionEvent::Completed(out) => {
                    self.finished = Some((out.token.clone(), Finish::Completed(out)));
                }
                SessionEvent::Unfinished(out) => {
                    self.finished = Some((out.token.clone(), Finish::Unfinished(out)));
                }
            }
        }
        general
    }

    /// The outcome of command `token`, once (`None` until it finished).
    pub fn take_finished(&mut self, token: &str) -> Option<Finish> {
        if self.finished.as_ref().is_some_and(|(t, _)| t == token) {
            return self.finished.take().map(|(_, f)| f);
        }
        None
    }

    /// Closed or ended: no more commands.
    pub fn gone(&self) -> bool {
        self.closed || self.ended
    }

    /// Take the buffered output as text; a character split at the end stays for the next call
    /// (unless the shell has ended).
    pub fn read_text(&mut self) -> String {
        let keep = if self.ended {
            0
        } else {
            incomplete_utf8_tail(self.buffer.make_contiguous())
        };
        let take = self.buffer.len() - keep;
        let bytes: Vec<u8> = self.buffer.drain(..take).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Something changed: wake every waiting task (async adapters).
    pub fn notify(&mut self) {
        for w in self.wakers.drain(..) {
            w.wake();
        }
    }

    /// Ready with `f`'s answer once it has one; otherwise remembers the task to wake at the
    /// next [`notify`](Self::notify).
    pub fn poll_until<T>(
        &mut self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Self) -> Option<T>,
    ) -> Poll<T> {
        if let Some(v) = f(self) {
            return Poll::Ready(v);
        }
        if !self.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            self.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// Text of session output for `on_output` callbacks, one decoder per stream (a character split
/// between two chunks of one stream is kept whole).
#[derive(Debug, Default)]
pub struct OutputDecoders {
    out: crate::result::Utf8Decoder,
    err: crate::result::Utf8Decoder,
}

impl OutputDecoders {
    /// The texts of `chunks` (and, with `flush`, whatever is carried), empty ones left out.
    pub fn texts(&mut self, chunks: &[(StreamKind, Bytes)], flush: bool) -> Vec<String> {
        let mut texts: Vec<String> = chunks
            .iter()
            .map(|(stream, data)| match stream {
                StreamKind::Stderr => self.err.decode(data),
                _ => self.out.decode(data),
            })
            .collect();
        if flush {
            texts.push(self.out.finish());
            texts.push(self.err.finish());
        }
        texts.retain(|t| !t.is_empty());
        texts
    }
}

/// Length of an incomplete UTF-8 sequence at the end of `buf` (0 to 3).
pub fn incomplete_utf8_tail(buf: &[u8]) -> usize {
    let n = buf.len();
    for back in 1..=3.min(n) {
        let b = buf[n - back];
        if b & 0b1100_0000 == 0b1000_0000 {
            continue;
        }
        let need = match b {
            _ if b & 0b1110_0000 == 0b1100_0000 => 2,
            _ if b & 0b1111_0000 == 0b1110_0000 => 3,
            _ if b & 0b1111_1000 == 0b1111_0000 => 4,
            _ => return 0,
        };
        return if need > back { back } else { 0 };
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_tail() {
        assert_eq!(incomplete_utf8_tail(b"abc"), 0);
        assert_eq!(incomplete_utf8_tail("é".as_bytes()), 0);
        assert_eq!(incomplete_utf8_tail(&"é".as_bytes()[..1]), 1);
        assert_eq!(incomplete_utf8_tail(&"€".as_bytes()[..2]), 2);
        assert_eq!(incomplete_utf8_tail(&"𝄞".as_bytes()[..3]), 3);
        assert_eq!(incomplete_utf8_tail(b""), 0);
    }

    #[test]
    fn options_are_checked() {
        let bad = SessionOptions {
            env: vec!["NOEQUALS".into()],
            ..SessionOptions::default()
        };
        assert!(bad.validate().is_err());
        let bad = SessionOptions {
            workdir: Some("rel".into()),
            ..SessionOptions::default()
        };
        assert!(bad.validate().is_err());
        assert!(SessionOptions::default().validate().is_ok());
    }
}
