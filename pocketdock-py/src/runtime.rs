//! The one tokio runtime of the extension, and the two ways Python waits on it: an asyncio
//! awaitable, or a blocking call that releases the GIL.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::IntoPyObjectExt;
use tokio::runtime::Runtime;

/// How long a blocking call waits with the GIL released before it takes the GIL back to let
/// Python run its signal handlers (Ctrl-C): short enough that an interrupt feels immediate, long
/// enough that a long command costs no measurable CPU.
const SLICE: Duration = Duration::from_millis(50);

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The runtime every engine call of the process runs on: built on first use, shared by the
/// sync and the async API (and handed to pyo3-async-runtimes, so awaitables run on it too).
pub(crate) fn runtime() -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("pocketdock-tokio")
            .enable_all()
            .build()
            .unwrap_or_else(|e| {
                // Without threads or a timer nothing in the package can work; there is no
                // caller to hand the error to at this point.
                panic!("pocketdock: cannot start the tokio runtime: {e}")
            })
    })
}

/// Register [`runtime`] with pyo3-async-runtimes (once, at module import).
pub(crate) fn init() {
    let _ = pyo3_async_runtimes::tokio::init_with_runtime(runtime());
}

/// Run `fut` to completion on the runtime from a Python thread, with the GIL released.
///
/// The wait is cut in slices of [`SLICE`]: between two slices the GIL is taken back and Python's
/// signal handlers run. When one raises (Ctrl-C gives `KeyboardInterrupt`), the future is dropped
/// inside the runtime, which stops what it was doing the way a timeout would (a command's
/// process tree is killed), and the exception propagates.
pub(crate) fn block_on<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = PyResult<T>> + Send,
    T: Send,
{
    let rt = runtime();
    let mut fut = Box::pin(fut);
    loop {
        // The timer is made inside `block_on`, where the runtime's context is entered.
        let step =
            py.detach(|| rt.block_on(async { tokio::time::timeout(SLICE, fut.as_mut()).await }));
        match step {
            Ok(out) => return out,
            Err(_elapsed) => {
                if let Err(e) = py.check_signals() {
                    // The drop guards of the future spawn their cleanup on the current runtime.
                    let _entered = rt.enter();
                    drop(fut);
                    return Err(e);
                }
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
