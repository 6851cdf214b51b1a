//! What a command produced.

use std::borrow::Cow;
use std::time::Duration;

use bytes::Bytes;

use crate::demux::StreamKind;

/// The outcome of a command run to completion (or stopped by a timeout or the output cap).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecResult {
    /// Exit code; `-1` when pocketdock stopped the command (timeout, output cap) or the session
    /// ended before the command did.
    pub exit_code: i64,
    /// Captured stdout bytes (head and tail when the head-and-tail policy elided the middle);
    /// empty for a run or stream that keeps nothing
    /// ([`RunOptions::keep_output`](crate::RunOptions::keep_output)).
    pub stdout: Vec<u8>,
    /// Captured stderr bytes (empty when nothing is kept).
    pub stderr: Vec<u8>,
    /// Wall time from exec creation to the exit code.
    pub duration: Duration,
    /// The command's deadline passed and its process tree was killed.
    pub timed_out: bool,
    /// Output went over the cap: some bytes were not kept (by a stream that keeps nothing: not
    /// handed out).
    pub truncated: bool,
    /// How many output bytes were dropped because of the cap: not kept, or, by a stream that
    /// keeps nothing, not handed out. When the cap stops the command, only the bytes read
    /// before it stopped are counted.
    pub elided_bytes: u64,
    /// What the command used, where it could be measured (a command run through the
    /// in-sandbox agent); `None` otherwise.
    pub usage: Option<Usage>,
    /// The kernel's out-of-memory killer ended the command (exit code 137). Through the agent
    /// it is the agent's report ([`Usage::oom_killed`]); on the engine path it is read from the
    /// container's memory cgroup when a command ends by `SIGKILL` that pocketdock did not
    /// send: the cgroup counted an OOM kill since the last such look. Advisory, as the sandbox
    /// could make it up.
    pub oom_killed: bool,
}

/// What a command used, measured inside the sandbox when it ended. The sandbox reports these
/// figures, so they are advisory: code in the sandbox could make them up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// CPU time in user mode, of the command and the descendants it waited for.
    pub user_cpu: Duration,
    /// CPU time in the kernel, likewise.
    pub system_cpu: Duration,
    /// Peak resident memory of the largest of those processes, in bytes.
    pub peak_rss_bytes: u64,
    /// The kernel's out-of-memory killer ended the command.
    pub oom_killed: bool,
}

impl ExecResult {
    /// True when the command exited with 0 and was neither timed out nor truncated by a stop.
    pub fn ok(&self) -> bool {
        self.exit_code == 0 && !self.timed_out
    }

    /// Stdout as text; invalid UTF-8 (never a split code point) becomes U+FFFD.
    pub fn stdout_str(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stdout)
    }

    /// Stderr as text.
    pub fn stderr_str(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stderr)
    }

    /// Duration in milliseconds, as the Python pocketdock reports it.
    pub fn duration_ms(&self) -> f64 {
        self.duration.as_secs_f64() * 1000.0
    }
}

/// One piece of streamed output, delivered as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamChunk {
    /// Which stream.
    pub stream: StreamKind,
    /// The bytes (a multibyte character may be split between chunks: see [`Utf8Decoder`]).
    pub data: Bytes,
}

impl StreamChunk {
    /// The bytes as text, lossy.
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.data)
    }
}

/// Streaming UTF-8 decoder that carries an incomplete code point over to the next chunk.
#[derive(Debug, Clone, Default)]
pub struct Utf8Decoder {
    carry: Vec<u8>,
}

impl Utf8Decoder {
    /// A decoder with nothing carried.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decode `data`, keeping a trailing partial code point for the next call.
    pub fn decode(&mut self, data: &[u8]) -> String {
        let mut buf = std::mem::take(&mut self.carry);
        buf.extend_from_slice(data);
        let keep = incomplete_tail(&buf);
        self.carry = buf.split_off(buf.len() - keep);
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// Flush whatever is carried (as U+FFFD if incomplete).
    pub fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.carry);
        String::from_utf8_lossy(&rest).into_owned()
    }
}

/// Length of an incomplete UTF-8 sequence at the end of `buf` (0 to 3).
fn incomplete_tail(buf: &[u8]) -> usize {
    let n = buf.len();
    for back in 1..=3.min(n) {
        let b = buf[n - back];
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

/// A hook called once with the final result of a streamed run.
pub type FinishHook = Box<dyn FnOnce(&ExecResult) + Send + Sync>;

/// How a streamed run ended, as its stream keeps it for the caller: the final result once
/// known, and a hook called once with it first (e.g. the instance log of a project's
/// container). The same for every adapter's stream.
#[derive(Default)]
pub struct StreamEnd {
    result: Option<ExecResult>,
    hook: Option<FinishHook>,
}

impl std::fmt::Debug for StreamEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamEnd")
            .field("result", &self.result)
            .field("hook", &self.hook.is_some())
            .finish()
    }
}

impl StreamEnd {
    /// Call `f` with the final result when the run ends successfully.
    pub fn on_finish(&mut self, f: impl FnOnce(&ExecResult) + Send + Sync + 'static) {
        self.hook = Some(Box::new(f));
    }

    /// The run ended with `result`: the hook runs, then the result is kept.
    pub fn complete(&mut self, result: ExecResult) {
        if let Some(f) = self.hook.take() {
            f(&result);
        }
        self.result = Some(result);
    }

    /// The final result, once the run ended (`None` before, or after an error).
    pub fn result(&self) -> Option<&ExecResult> {
        self.result.as_ref()
    }

    /// Take the final result; an error when the stream ended without one.
    pub fn take(&mut self) -> crate::Result<ExecResult> {
        self.result.take().ok_or_else(|| {
            crate::Error::SocketCommunication("stream ended without a result".into())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_split_is_lossless() {
        let text = "héllo wörld €𝄞";
        let bytes = text.as_bytes();
        for split in 0..=bytes.len() {
            let mut d = Utf8Decoder::new();
            let mut out = d.decode(&bytes[..split]);
            out.push_str(&d.decode(&bytes[split..]));
            out.push_str(&d.finish());
            assert_eq!(out, text);
        }
    }

    #[test]
    fn ok_requires_zero_and_no_timeout() {
        let r = ExecResult::default();
        assert!(r.ok());
        let r = ExecResult {
            timed_out: true,
            ..ExecResult::default()
        };
        assert!(!r.ok());
    }

    #[test]
    fn stream_end_runs_the_hook_once_then_keeps_the_result() {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut end = StreamEnd::default();
        assert!(matches!(
            end.take(),
            Err(crate::Error::SocketCommunication(_))
        ));
        let sink = std::sync::Arc::clone(&seen);
        end.on_finish(move |r| {
            if let Ok(mut v) = sink.lock() {
                v.push(r.exit_code);
            }
        });
        end.complete(ExecResult {
            exit_code: 3,
            ..ExecResult::default()
        });
        assert_eq!(end.result().map(|r| r.exit_code), Some(3));
        assert_eq!(seen.lock().map(|v| v.clone()).ok(), Some(vec![3]));
        assert_eq!(end.take().map(|r| r.exit_code).ok(), Some(3));
        assert!(end.result().is_none());
    }
}
