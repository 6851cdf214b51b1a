//! A command's stdin: the frame reader queues the host's bytes and a writer thread of the
//! command's own writes them to its pipe, so a command that does not read its stdin stalls
//! neither the other commands nor the host's signals and pings.
//!
//! The queue holds at most [`QUEUE_LIMIT`] bytes. The protocol has no flow control for stdin,
//! so past that the reader waits for the command to take some (the same back-pressure an
//! engine exec's stdin has); a command that ends, or closes its stdin, drops what is queued and
//! wakes the reader.

use std::collections::VecDeque;
use std::io::Write;
use std::process::ChildStdin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;

/// Bytes queued for one command before the frame reader waits.
pub const QUEUE_LIMIT: usize = 1024 * 1024;

/// The bytes on their way to one command's stdin.
#[derive(Debug, Default)]
pub struct StdinFeed {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Bytes>,
    queued: usize,
    /// The host closed the stdin (or the command ended): write what is queued, then close.
    closing: bool,
    /// The pipe is gone: drop everything.
    broken: bool,
}

impl StdinFeed {
    /// Start the writer thread for `pipe`. Without a thread (the system refused one) the pipe
    /// is closed at once and the bytes are dropped, as for a command that closed its stdin.
    pub fn start(pipe: ChildStdin, id: u32) -> Arc<Self> {
        let feed = Arc::new(Self::default());
        let writer = Arc::clone(&feed);
        let started = std::thread::Builder::new()
            .name(format!("stdin-{id}"))
            .stack_size(crate::THREAD_STACK)
            .spawn(move || writer.write_all_to(pipe));
        if started.is_err() {
            feed.lock().broken = true;
        }
        feed
    }

    /// Queue `data`, waiting while the queue is full.
    pub fn push(&self, data: Bytes) {
        let mut state = self.lock();
        while !state.closing
            && !state.broken
            && state.queued > 0
            && state.queued + data.len() > QUEUE_LIMIT
        {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if state.closing || state.broken {
            return;
        }
        state.queued += data.len();
        state.queue.push_back(data);
        self.changed.notify_all();
    }

    /// Close the command's stdin once what is queued is written.
    pub fn close(&self) {
        self.lock().closing = true;
        self.changed.notify_all();
    }

    /// Drop what is queued and close the pipe now (the command ended).
    pub fn abandon(&self) {
        let mut state = self.lock();
        state.broken = true;
        state.queue.clear();
        state.queued = 0;
        self.changed.notify_all();
    }

    fn write_all_to(&self, mut pipe: ChildStdin) {
        while let Some(data) = self.next() {
            if pipe.write_all(&data).is_err() {
                // The command closed its stdin or ended: nothing more can be delivered.
                self.abandon();
                return;
            }
        }
        // Dropping the pipe closes the command's stdin.
    }

    fn next(&self) -> Option<Bytes> {
        let mut state = self.lock();
        loop {
            if state.broken {
                return None;
            }
            if let Some(data) = state.queue.pop_front() {
                state.queued -= data.len();
                self.changed.notify_all();
                return Some(data);
            }
            if state.closing {
                return None;
            }
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
