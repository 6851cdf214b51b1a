//! `NativeStream`: the output of a streamed command, chunk by chunk.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;

use pocketdock_tokio::{ExecStream, Result as CoreResult, StreamChunk, StreamKind};
use pyo3::prelude::*;
use tokio::sync::Mutex;

use crate::convert::{exec_tuple, ExecTuple};
use crate::errors::py_err;
use crate::runtime::{dispatch, drop_in_runtime, runtime};
use crate::values::PyBytesValue;

/// `None` once closed: dropping the stream before its end kills the command.
type Shared = Arc<Mutex<Option<Reader>>>;

/// The most bytes one chunk handed to Python carries when chunks of one stream that are
/// already there are joined.
const JOIN_LIMIT: usize = 1024 * 1024;

/// The stream, and what was read past the last chunk handed out (a chunk of the other stream,
/// or an error) while joining chunks: handed out next.
struct Reader {
    stream: ExecStream,
    held: Option<CoreResult<StreamChunk>>,
}

impl Reader {
    /// The next chunk, joined with the chunks of the same stream that have already arrived
    /// (up to [`JOIN_LIMIT`]): one call from Python per burst of output instead of one per
    /// engine frame, which is what a Python consumer pays for most. Order is kept: joining
    /// stops at a chunk of the other stream, which comes next.
    async fn next(&mut self) -> Option<CoreResult<StreamChunk>> {
        let first = match self.held.take() {
            Some(held) => held,
            None => self.stream.next().await?,
        };
        let Ok(first) = first else {
            return Some(first);
        };
        let mut joined: Option<Vec<u8>> = None;
        while joined.as_ref().map_or(first.data.len(), Vec::len) < JOIN_LIMIT {
            // A chunk that is there now; never a wait.
            let ready = {
                let mut next = pin!(self.stream.next());
                std::future::poll_fn(|cx| Poll::Ready(next.as_mut().poll(cx))).await
            };
            match ready {
                Poll::Ready(Some(Ok(more))) if more.stream == first.stream => joined
                    .get_or_insert_with(|| first.data.to_vec())
                    .extend_from_slice(&more.data),
                Poll::Ready(Some(other)) => {
                    self.held = Some(other);
                    break;
                }
                Poll::Ready(None) | Poll::Pending => break,
            }
        }
        Some(Ok(match joined {
            Some(data) => StreamChunk {
                stream: first.stream,
                data: data.into(),
            },
            None => first,
        }))
    }
}

/// A streamed command. Dropping or closing it before the end kills the command's process tree.
#[pyclass(module = "pocketdock._native", frozen)]
pub(crate) struct NativeStream {
    /// `None` only while being dropped.
    inner: Option<Shared>,
}

impl NativeStream {
    pub(crate) fn new(stream: ExecStream) -> Self {
        Self {
            inner: Some(Arc::new(Mutex::new(Some(Reader { stream, held: None })))),
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
            let Some(reader) = guard.as_mut() else {
                return Ok(None);
            };
            match reader.next().await {
                None => Ok(None),
                Some(Ok(chunk)) => Ok(Some((
                    kind_name(chunk.stream),
                    PyBytesValue(Vec::from(chunk.data)),
                ))),
                Some(Err(e)) => Err(py_err(e)),
            }
        })
    }

    /// The final result once the stream has ended, else `None`.
    fn result(&self) -> Option<ExecTuple> {
        let shared = self.shared();
        let guard = shared.try_lock().ok()?;
        guard.as_ref()?.stream.result().map(exec_tuple)
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
