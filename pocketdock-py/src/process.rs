//! `NativeProcess`: a detached command read into a ring buffer by a task of the runtime.

use std::sync::Arc;

use pocketdock_tokio::Process;
use pyo3::prelude::*;

use crate::container::seconds;
use crate::convert::{exec_tuple, snapshot_tuple};
use crate::errors::py_err;
use crate::runtime::dispatch;

/// A detached command. Dropping it leaves the command running.
#[pyclass(module = "pocketdock._native", frozen)]
pub(crate) struct NativeProcess {
    inner: Arc<Process>,
}

impl NativeProcess {
    pub(crate) fn new(process: Process) -> Self {
        Self {
            inner: Arc::new(process),
        }
    }
}

#[pymethods]
impl NativeProcess {
    /// The exec id.
    #[getter]
    fn id(&self) -> &str {
        self.inner.id()
    }

    /// True until the command has exited and its exit code is known.
    fn is_running(&self) -> bool {
        self.inner.is_running()
    }

    /// Send `signal` to the command and all its descendants in the container.
    fn kill(&self, py: Python<'_>, signal: i32, aio: bool) -> PyResult<Py<PyAny>> {
        let p = Arc::clone(&self.inner);
        dispatch(py, aio, async move { p.kill(signal).await.map_err(py_err) })
    }

    /// Wait for the exit, at most `timeout` seconds: the result tuple (`timed_out` when the
    /// timeout passed first; the command keeps running then).
    #[pyo3(signature = (timeout, aio))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>, aio: bool) -> PyResult<Py<PyAny>> {
        let timeout = timeout.map(|t| seconds("timeout", t)).transpose()?;
        let p = Arc::clone(&self.inner);
        dispatch(py, aio, async move {
            Ok(exec_tuple(&p.wait(timeout).await.map_err(py_err)?))
        })
    }

    /// Take and clear the buffered `(stdout, stderr)`.
    fn read(&self) -> (String, String) {
        snapshot_tuple(&self.inner.read())
    }

    /// The buffered `(stdout, stderr)`, left in place.
    fn peek(&self) -> (String, String) {
        snapshot_tuple(&self.inner.peek())
    }

    /// Bytes buffered (both streams).
    #[getter]
    fn buffer_size(&self) -> usize {
        self.inner.buffer_size()
    }

    /// True once the buffer had to drop old output.
    #[getter]
    fn buffer_overflow(&self) -> bool {
        self.inner.buffer_overflow()
    }
}
