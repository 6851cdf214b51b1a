//! Per-container callbacks for detached processes.

use std::sync::{Arc, Mutex, PoisonError};

type DataFn = Arc<dyn Fn(&[u8]) + Send + Sync>;
type ExitFn = Arc<dyn Fn(i64) + Send + Sync>;

/// Callbacks registered on a container; they fire for every detached process of it, on the
/// process's reader thread, in registration order. A panicking callback is contained.
#[derive(Default, Clone)]
pub(crate) struct Callbacks {
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
    pub(crate) fn on_stdout(&self, f: DataFn) {
        self.lock().stdout.push(f);
    }

    pub(crate) fn on_stderr(&self, f: DataFn) {
        self.lock().stderr.push(f);
    }

    pub(crate) fn on_exit(&self, f: ExitFn) {
        self.lock().exit.push(f);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lists> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn stdout(&self, data: &[u8]) {
        let fs = self.lock().stdout.clone();
        for f in fs {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(data)));
        }
    }

    pub(crate) fn stderr(&self, data: &[u8]) {
        let fs = self.lock().stderr.clone();
        for f in fs {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(data)));
        }
    }

    pub(crate) fn exit(&self, code: i64) {
        let fs = self.lock().exit.clone();
        for f in fs {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(code)));
        }
    }
}
