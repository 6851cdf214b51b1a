//! A streamed command's output window: how many bytes its pumps may still send before the host
//! credits more (`Credit` frames). Both pumps of a command share it: a pump reads first, then
//! spends credit on what it read, sending as much as the credit allows and waiting for more, so
//! the two together never send more than the window.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// The window of one command.
#[derive(Debug)]
pub struct Window {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug)]
struct State {
    credit: u64,
    /// No limit any more: the command was killed (its pipes are drained whoever reads) or
    /// the agent is shutting down.
    open: bool,
}

impl Window {
    /// A window of `bytes`.
    pub fn new(bytes: u32) -> Self {
        Self {
            state: Mutex::new(State {
                credit: u64::from(bytes),
                open: false,
            }),
            changed: Condvar::new(),
        }
    }

    /// Wait until some credit is left (or the window is open) and spend at most `want` bytes
    /// of it; returns how many may be sent now. Called with bytes already read from the pipe,
    /// never before a read: a pump blocked in a read must hold no credit the other needs.
    pub fn take(&self, want: usize) -> usize {
        let mut st = self.lock();
        loop {
            if st.open {
                return want;
            }
            if st.credit > 0 {
                let take = st.credit.min(want as u64);
                st.credit -= take;
                // At most `want`, which is a usize.
                return usize::try_from(take).unwrap_or(want);
            }
            st = self
                .changed
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The host took `bytes` more.
    pub fn grant(&self, bytes: u64) {
        let mut st = self.lock();
        st.credit = st.credit.saturating_add(bytes);
        self.changed.notify_all();
    }

    /// Lift the limit for good.
    pub fn open(&self) {
        self.lock().open = true;
        self.changed.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn what_is_spent_never_exceeds_the_window() {
        let w = Window::new(100);
        assert_eq!(w.take(64), 64);
        assert_eq!(w.take(64), 36);
        w.grant(10);
        assert_eq!(w.take(64), 10);
    }

    #[test]
    fn a_pump_without_credit_waits_for_a_grant_or_the_opening() {
        let w = Arc::new(Window::new(0));
        let waiter = Arc::clone(&w);
        let got = std::thread::spawn(move || waiter.take(64));
        std::thread::sleep(Duration::from_millis(20));
        w.grant(10);
        assert_eq!(got.join().ok(), Some(10));
        let waiter = Arc::clone(&w);
        let got = std::thread::spawn(move || waiter.take(64));
        std::thread::sleep(Duration::from_millis(20));
        w.open();
        assert_eq!(got.join().ok(), Some(64));
    }
}
