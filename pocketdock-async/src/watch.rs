//! A value behind a lock, with the tasks waiting for it to change: what a session's and an
//! agent's machine share between their reader and the tasks that use them.
//!
//! The value, a count of changes and the wakers are under one lock, so no wake-up is lost
//! between a task's check and the registration of its waker.

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};
use std::time::Instant;

use crate::runtime::{timeout_at, Runtime};

/// The value and who waits for it; derefs to the value.
pub(crate) struct Watched<T> {
    value: T,
    changes: u64,
    wakers: Vec<Waker>,
}

impl<T> Watched<T> {
    /// Something changed: count it and wake every waiting task.
    pub(crate) fn notify(&mut self) {
        self.changes += 1;
        for w in self.wakers.drain(..) {
            w.wake();
        }
    }

    /// How many changes were notified so far (to wait for the next one).
    pub(crate) fn changes(&self) -> u64 {
        self.changes
    }
}

impl<T> Deref for Watched<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Watched<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

/// A [`Watched`] value shared between tasks of the runtime `R`.
pub(crate) struct Watch<T, R> {
    state: Mutex<Watched<T>>,
    runtime: PhantomData<fn() -> R>,
}

impl<T, R: Runtime> Watch<T, R> {
    pub(crate) fn new(value: T) -> Self {
        Self {
            state: Mutex::new(Watched {
                value,
                changes: 0,
                wakers: Vec::new(),
            }),
            runtime: PhantomData,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Watched<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Change the value with `f`, then wake every waiting task.
    pub(crate) fn update<V>(&self, f: impl FnOnce(&mut Watched<T>) -> V) -> V {
        let mut st = self.lock();
        let v = f(&mut st);
        st.notify();
        v
    }

    /// Wait until `f` answers, at most until `deadline` (`None` then).
    pub(crate) async fn wait_for<V>(
        &self,
        deadline: Option<Instant>,
        mut f: impl FnMut(&mut Watched<T>) -> Option<V>,
    ) -> Option<V> {
        let ready = std::future::poll_fn(|cx| {
            let mut st = self.lock();
            if let Some(v) = f(&mut st) {
                return Poll::Ready(v);
            }
            if !st.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                st.wakers.push(cx.waker().clone());
            }
            Poll::Pending
        });
        match deadline {
            Some(d) => timeout_at::<R, _>(d, ready).await,
            None => Some(ready.await),
        }
    }
}
