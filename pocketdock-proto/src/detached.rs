//! The client-side state of detached processes, shared by every adapter: the output ring buffer
//! and final result of one process ([`DetachedState`]), and the per-container callbacks
//! ([`Callbacks`]).
//!
//! Both are plain data structures. An adapter's reader (a thread in blocking and smol, a task in
//! tokio) feeds the state with the events of an [`ExecOp`](crate::op::ExecOp) and fires the
//! callbacks; the `Process` handle reads it. Waiting is the adapter's business: blocking uses a
//! condition variable, the async adapters [`DetachedState::poll_finished`], which keeps the
//! wakers of the tasks waiting for the exit (`std::task`, no runtime).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::demux::StreamKind;
use crate::error::Result;
use crate::op::{signal_name, ExecConfig, KillOp};
use crate::result::ExecResult;
use crate::ring::{BufferSnapshot, RingBuffer};

/// The exit code `on_exit` callbacks get for `result`: the command's, or `-1` when reading it
/// failed.
pub fn exit_code(result: &Result<ExecResult>) -> i64 {
    result.as_ref().map_or(-1, |r| r.exit_code)
}

/// The process tree of a command, as a second exec finds it to signal it: the container, the
/// nonce in the command's environment, and the user it runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillTarget {
    container: String,
    nonce: String,
    user: Option<String>,
}

impl KillTarget {
    /// The tree of the command `config` starts.
    pub fn of(config: &ExecConfig) -> Self {
        Self {
            container: config.container.clone(),
            nonce: config.nonce.clone(),
            user: config.spec.user.clone(),
        }
    }

    /// Send `signal` (a number such as 15 or 9) to the whole tree; a signal that is not one is
    /// [`Error::InvalidInput`](crate::Error::InvalidInput).
    pub fn kill_op(&self, signal: i32) -> Result<KillOp> {
        let name = signal_name(&signal.to_string())?;
        Ok(KillOp::new(
            &self.container,
            &self.nonce,
            &name,
            self.user.clone(),
        ))
    }
}

/// Output and outcome of one detached process.
#[derive(Debug)]
pub struct DetachedState {
    ring: RingBuffer,
    result: Option<Result<ExecResult>>,
    wakers: Vec<Waker>,
}

impl DetachedState {
    /// A state whose ring buffer holds `capacity` bytes (half per stream).
    pub fn new(capacity: usize) -> Self {
        Self {
            ring: RingBuffer::with_capacity(capacity),
            result: None,
            wakers: Vec::new(),
        }
    }

    /// A chunk of output arrived.
    pub fn output(&mut self, stream: StreamKind, data: &[u8]) {
        self.ring.write(stream, data);
    }

    /// The process ended (or reading it failed); wakes every waiting task. Readers fire the
    /// `on_exit` callbacks (with [`exit_code`]) *before* this, so that a `wait` returns only
    /// once they ran.
    pub fn finish(&mut self, result: Result<ExecResult>) {
        self.result = Some(result);
        for w in self.wakers.drain(..) {
            w.wake();
        }
    }

    /// True until the command has exited and its exit code is known.
    pub fn is_running(&self) -> bool {
        self.result.is_none()
    }

    /// Ready once the process has finished; otherwise remembers the task to wake.
    pub fn poll_finished(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.result.is_some() {
            return Poll::Ready(());
        }
        if !self.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            self.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// The final result once finished (`None` before): the exit code and what the ring buffer
    /// still holds (not what [`read`](Self::read) already took). A failure keeps its type for the
    /// container errors (e.g. [`crate::Error::ContainerGone`] when the container was removed under the
    /// process), see [`crate::Error::duplicate`].
    pub fn outcome(&self) -> Option<Result<ExecResult>> {
        self.result.as_ref().map(|result| match result {
            Ok(r) => {
                let snap = self.ring.peek();
                Ok(ExecResult {
                    stdout: snap.stdout,
                    stderr: snap.stderr,
                    ..r.clone()
                })
            }
            Err(e) => Err(e.duplicate()),
        })
    }

    /// What `wait` returns when its timeout passes first: `timed_out`, exit code `-1`, the
    /// buffered output; the process keeps running.
    pub fn timed_out(&self, elapsed: Duration) -> ExecResult {
        let snap = self.ring.peek();
        ExecResult {
            exit_code: -1,
            stdout: snap.stdout,
            stderr: snap.stderr,
            duration: elapsed,
            timed_out: true,
            truncated: self.ring.overflow(),
            elided_bytes: 0,
            usage: None,
            oom_killed: false,
        }
    }

    /// Take and clear what the buffer holds.
    pub fn read(&mut self) -> BufferSnapshot {
        self.ring.read()
    }

    /// Look at what the buffer holds without clearing it.
    pub fn peek(&self) -> BufferSnapshot {
        self.ring.peek()
    }

    /// Bytes currently buffered (stdout and stderr).
    pub fn buffer_size(&self) -> usize {
        self.ring.size()
    }

    /// True once the buffer had to drop old output (sticky).
    pub fn buffer_overflow(&self) -> bool {
        self.ring.overflow()
    }
}

type DataFn = Arc<dyn Fn(&[u8]) + Send + Sync>;
type ExitFn = Arc<dyn Fn(i64) + Send + Sync>;

/// Callbacks registered on a container; they fire for every detached process of it, on the
/// process's reader (thread or task), in registration order. A panicking callback is contained.
/// Cloning shares the registry.
#[derive(Default, Clone)]
pub struct Callbacks {
    inner: Arc<Mutex<Lists>>,
}

#[derive(Default)]
struct Lists {
    stdout: Vec<DataFn>,
    stderr: Vec<DataFn>,
    exit: Vec<ExitFn>,
}

impl std::fmt::Debug for Callbacks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let l = self.lock();
        f.debug_struct("Callbacks")
            .field("stdout", &l.stdout.len())
            .field("stderr", &l.stderr.len())
            .field("exit", &l.exit.len())
            .finish()
    }
}

impl Callbacks {
    /// Register a stdout callback.
    pub fn on_stdout(&self, f: DataFn) {
        self.lock().stdout.push(f);
    }

    /// Register a stderr callback.
    pub fn on_stderr(&self, f: DataFn) {
        self.lock().stderr.push(f);
    }

    /// Register an exit callback.
    pub fn on_exit(&self, f: ExitFn) {
        self.lock().exit.push(f);
    }

    fn lock(&self) -> MutexGuard<'_, Lists> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Fire the stdout or stderr callbacks for a chunk.
    pub fn output(&self, stream: StreamKind, data: &[u8]) {
        if stream == StreamKind::Stdout {
            self.stdout(data);
        } else {
            self.stderr(data);
        }
    }

    /// Fire the stdout callbacks.
    pub fn stdout(&self, data: &[u8]) {
        let fs = self.lock().stdout.clone();
        for f in fs {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(data)));
        }
    }

    /// Fire the stderr callbacks.
    pub fn stderr(&self, data: &[u8]) {
        let fs = self.lock().stderr.clone();
        for f in fs {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(data)));
        }
    }

    /// Fire the exit callbacks.
    pub fn exit(&self, code: i64) {
        let fs = self.lock().exit.clone();
        for f in fs {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(code)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn finish_wakes_waiters_and_outcome_keeps_the_buffer() {
        let mut s = DetachedState::new(64);
        s.output(StreamKind::Stdout, b"out");
        s.output(StreamKind::Stderr, b"err");
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&waker);
        assert!(s.poll_finished(&mut cx).is_pending());
        assert!(s.poll_finished(&mut cx).is_pending());
        assert!(s.outcome().is_none());
        let t = s.timed_out(Duration::from_secs(1));
        assert!(t.timed_out && t.exit_code == -1 && t.stdout == b"out");
        let result = Ok(ExecResult {
            exit_code: 3,
            ..ExecResult::default()
        });
        assert_eq!(exit_code(&result), 3);
        assert_eq!(exit_code(&Err(crate::Error::ContainerGone("c".into()))), -1);
        s.finish(result);
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "one waker, woken once");
        assert!(s.poll_finished(&mut cx).is_ready());
        let r = s.outcome().and_then(Result::ok).unwrap_or_default();
        assert_eq!((r.exit_code, r.stdout.as_slice()), (3, &b"out"[..]));
        assert_eq!(s.read().stderr, b"err");
        assert!(s.peek().is_empty());
    }

    #[test]
    fn callbacks_fire_in_order_and_survive_a_panic() {
        let cb = Callbacks::default();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s1 = Arc::clone(&seen);
        cb.on_stdout(Arc::new(|_| panic!("contained")));
        cb.on_stdout(Arc::new(move |d| {
            s1.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(d.to_vec());
        }));
        let s2 = Arc::clone(&seen);
        cb.on_exit(Arc::new(move |c| {
            s2.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(c.to_string().into_bytes());
        }));
        cb.output(StreamKind::Stdout, b"a");
        cb.output(StreamKind::Stderr, b"ignored");
        cb.exit(7);
        let got = seen.lock().unwrap_or_else(PoisonError::into_inner).clone();
        assert_eq!(got, vec![b"a".to_vec(), b"7".to_vec()]);
    }
}
