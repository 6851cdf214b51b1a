//! `NativeSession`: a persistent shell in a container.

use std::sync::Arc;

use pocketdock_tokio::Session;
use pyo3::prelude::*;

use crate::container::seconds;
use crate::convert::exec_tuple;
use crate::errors::py_err;
use crate::runtime::{dispatch, drop_in_runtime, runtime};
use crate::values::text_callback;

/// A persistent shell. Dropping it closes it (in the background).
#[pyclass(module = "pocketdock._native", frozen)]
pub(crate) struct NativeSession {
    /// `None` only while being dropped.
    inner: Option<Arc<Session>>,
}

impl NativeSession {
    pub(crate) fn new(session: Session) -> Self {
        Self {
            inner: Some(Arc::new(session)),
        }
    }

    fn shared(&self) -> Arc<Session> {
        Arc::clone(self.inner.as_ref().unwrap_or_else(|| unreachable!()))
    }
}

impl Drop for NativeSession {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            drop_in_runtime(inner);
        }
    }
}

#[pymethods]
impl NativeSession {
    /// The exec id of the shell.
    #[getter]
    fn id(&self) -> String {
        self.shared().id().to_string()
    }

    /// Write `text` and a newline to the shell's stdin, without waiting.
    fn send(&self, py: Python<'_>, text: String, aio: bool) -> PyResult<Py<PyAny>> {
        let s = self.shared();
        dispatch(
            py,
            aio,
            async move { s.send_input(&text).await.map_err(py_err) },
        )
    }

    /// Run `command` in the shell and wait for its result tuple.
    #[pyo3(signature = (command, timeout, aio))]
    fn send_and_wait(
        &self,
        py: Python<'_>,
        command: String,
        timeout: Option<f64>,
        aio: bool,
    ) -> PyResult<Py<PyAny>> {
        let timeout = timeout.map(|t| seconds("timeout", t)).transpose()?;
        let s = self.shared();
        dispatch(py, aio, async move {
            Ok(exec_tuple(
                &s.send_and_wait(&command, timeout).await.map_err(py_err)?,
            ))
        })
    }

    /// Take the output accumulated outside `send_and_wait` results.
    fn read(&self) -> String {
        self.shared().read()
    }

    /// Call `callback(text)` with every piece of output, with the GIL held.
    fn on_output(&self, callback: Py<PyAny>) {
        self.shared().on_output(text_callback(callback));
    }

    /// True once closed or once the shell has ended.
    fn is_closed(&self) -> bool {
        self.shared().is_closed()
    }

    /// End the session (the container is untouched). Idempotent.
    fn close(&self, py: Python<'_>, aio: bool) -> PyResult<Py<PyAny>> {
        let s = self.shared();
        dispatch(py, aio, async move { s.close().await.map_err(py_err) })
    }

    /// [`close`](Self::close) in the background: returns at once (a container's shutdown ends
    /// its sessions this way, from sync and async code alike).
    fn close_soon(&self) {
        let s = self.shared();
        drop(runtime().spawn(async move {
            let _ = s.close().await;
        }));
    }
}
