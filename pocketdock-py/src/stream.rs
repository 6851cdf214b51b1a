//! `NativeStream`: the output of a streamed command, chunk by chunk.

use std::sync::Arc;

use pocketdock_tokio::{ExecStream, StreamKind};
use pyo3::prelude::*;
use tokio::sync::Mutex;

use crate::convert::{exec_tuple, ExecTuple};
use crate::errors::py_err;
use crate::runtime::{dispatch, drop_in_runtime, runtime};
use crate::values::PyBytesValue;

/// `None` once closed: dropping the stream before its end kills the command.
type Shared = Arc<Mutex<Option<ExecStream>>>;

/// A streamed command. Dropping or closing it before the end kills the command's process tree.
#[pyclass(module = "pocketdock._native", frozen)]
pub(crate) struct NativeStream {
    /// `None` only while being dropped.
    inner: Option<Shared>,
}

impl NativeStream {
    pub(crate) fn new(stream: ExecStream) -> Self {
        Self {
            inner: Some(Arc::new(Mutex::new(Some(stream)))),
        }
    }

    fn shared(&self) -> Shared {
        Arc::clone(self.inner.as_ref().unwrap_or_else(|| unreachable!()))
    }
}

impl Drop for NativeStream {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            drop_in_runtime(inner);
        }
    }
}

/// `"stdout"` for stdout, `"stderr"` for everything else (stderr, engine errors, stdin echo).
fn kind_name(kind: StreamKind) -> &'static str {
    if kind == StreamKind::Stdout {
        "stdout"
    } else {
        "stderr"
    }
}

#[pymethods]
impl NativeStream {
    /// The next chunk as `(stream, data)`, or `None` at the end (or once closed).
    fn next(&self, py: Python<'_>, aio: bool) -> PyResult<Py<PyAny>> {
        let shared = self.shared();
        dispatch(py, aio, async move {
            let mut guard = shared.lock().await;
            let Some(stream) = guard.as_mut() else {
                return Ok(None);
            };
            match stream.next().await {
                None => Ok(None),
                Some(Ok(chunk)) => Ok(Some((
                    kind_name(chunk.stream),
                    PyBytesValue(chunk.data.to_vec()),
                ))),
                Some(Err(e)) => Err(py_err(e)),
            }
        })
    }

    /// The final result once the stream has ended, else `None`.
    fn result(&self) -> Option<ExecTuple> {
        let shared = self.shared();
        let guard = shared.try_lock().ok()?;
        guard.as_ref()?.result().map(exec_tuple)
    }

    /// Stop reading: a command still running is killed. Returns at once.
    fn close(&self) {
        let shared = self.shared();
        drop(runtime().spawn(async move {
            let stream = shared.lock().await.take();
            drop(stream);
        }));
    }
}
