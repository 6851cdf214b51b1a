//! The one tokio runtime of the extension, and the two ways Python waits on it: an asyncio
//! awaitable, or a blocking call that releases the GIL.

use std::future::Future;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::OnceLock;
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::IntoPyObjectExt;
use tokio::runtime::Runtime;

/// How long a blocking call waits with the GIL released before it takes the GIL back to let
/// Python run its signal handlers (Ctrl-C): short enough that an interrupt feels immediate, long
/// enough that a long command costs no measurable CPU.
const SLICE: Duration = Duration::from_millis(50);

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The runtime every engine call of the process runs on, shared by the sync and the async API
/// (and handed to pyo3-async-runtimes, so awaitables run on it too). Started by [`init`] when
/// the module is imported, before any other function of the module can run.
pub(crate) fn runtime() -> &'static Runtime {
    RUNTIME
        .get()
        .unwrap_or_else(|| unreachable!("pocketdock._native is initialised at import"))
}

/// Start [`runtime`] and register it with pyo3-async-runtimes (at module import; a runtime
/// that cannot start makes the import fail).
pub(crate) fn init() -> PyResult<()> {
    if RUNTIME.get().is_none() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            // The work is I/O: two workers keep the engine calls moving while a callback holds
            // one of them waiting for the GIL, and a big machine does not park a thread per core.
            .worker_threads(2)
            .thread_name("pocketdock-tokio")
            .enable_all()
            .build()
            .map_err(|e| {
                PyRuntimeError::new_err(format!("pocketdock: cannot start the tokio runtime: {e}"))
            })?;
        let _ = RUNTIME.set(rt);
    }
    let _ = pyo3_async_runtimes::tokio::init_with_runtime(runtime());
    Ok(())
}

/// Run `fut` to completion on the runtime from a Python thread, with the GIL released.
///
/// The future runs as a task of the runtime, on its worker threads: they poll it as its I/O
/// becomes ready, and the calling thread is woken once, when the value is there (driving it
/// from the calling thread would cost a thread hand-off at every I/O event). The calling thread
/// waits in slices of [`SLICE`]: between two slices it takes the GIL back and lets Python run
/// its signal handlers. When one raises (Ctrl-C gives `KeyboardInterrupt`), the task is aborted,
/// which drops the future on the runtime and stops what it was doing the way a timeout would
/// (a command's process tree is killed), and the exception propagates.
pub(crate) fn block_on<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let task = runtime().spawn(async move {
        let _ = tx.send(fut.await);
    });
    let mut rx = rx;
    loop {
        // The receiver goes into the GIL-free closure and comes back (it is `Send`, not `Sync`).
        let (back, got) = py.detach(move || {
            let got = rx.recv_timeout(SLICE);
            (rx, got)
        });
        rx = back;
        match got {
            Ok(out) => return out,
            Err(RecvTimeoutError::Timeout) => {
                if let Err(e) = py.check_signals() {
                    task.abort();
                    return Err(e);
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(PyRuntimeError::new_err(
                    "pocketdock: the runtime dropped a call before it finished",
                ))
            }
        }
    }
}

/// Run `fut` the way the caller asked: as an asyncio awaitable (`aio`), or blocking with the GIL
/// released ([`block_on`]). Either way the value is converted to a Python object.
pub(crate) fn dispatch<F, T>(py: Python<'_>, aio: bool, fut: F) -> PyResult<Py<PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    if aio {
        Ok(pyo3_async_runtimes::tokio::future_into_py(py, fut)?.unbind())
    } else {
        block_on(py, fut)?.into_py_any(py)
    }
}

/// Drop `value` inside the runtime, so that the cleanup its `Drop` hands to the runtime (killing
/// a command, closing a session, removing an ephemeral container) runs on the shared runtime
/// rather than on a thread of its own.
pub(crate) fn drop_in_runtime<T>(value: T) {
    let _entered = runtime().enter();
    drop(value);
}
