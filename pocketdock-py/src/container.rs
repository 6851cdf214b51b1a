//! `NativeContainer`: one sandbox handle, shared by the sync `Container` and the async
//! `AsyncContainer` of the Python layer.
//!
//! Every method takes `aio`: `True` returns an asyncio awaitable, `False` blocks with the GIL
//! released (see [`dispatch`]). The handle sits behind a read-write lock: commands, files and
//! `info` share it (any number at once), `reboot` takes it alone (a fresh reboot changes the id
//! under the commands' feet otherwise).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use pocketdock_tokio::{Container, Engine, Lang, LimitPolicy, RunOptions};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use tokio::sync::RwLock;

use crate::convert::{exec_tuple, InfoValue};
use crate::errors::py_err;
use crate::process::NativeProcess;
use crate::runtime::{dispatch, drop_in_runtime};
use crate::session::NativeSession;
use crate::stream::NativeStream;
use crate::values::{bytes_callback, exit_callback, PyBytesValue};

type Shared = Arc<RwLock<Container>>;

/// A sandbox container (see the module docs).
#[pyclass(module = "pocketdock._native", frozen)]
pub(crate) struct NativeContainer {
    /// `None` only while being dropped.
    inner: Option<Shared>,
    /// The engine, for a shutdown that cannot wait for the lock.
    engine: Engine,
    /// The current id (a fresh reboot changes it).
    id: Arc<Mutex<String>>,
    name: String,
    persist: bool,
    project: String,
    data_path: String,
    socket_path: String,
}

impl NativeContainer {
    /// Wrap a new handle; `timeout` (seconds) becomes the default timeout of `run`.
    pub(crate) fn wrap(mut c: Container, timeout: Option<f64>) -> PyResult<Self> {
        if let Some(t) = timeout {
            c.set_default_timeout(Some(seconds("timeout", t)?));
        }
        Ok(Self {
            engine: c.engine().clone(),
            id: Arc::new(Mutex::new(c.id().to_string())),
            name: c.name().to_string(),
            persist: c.persist(),
            project: c.project().to_string(),
            data_path: c.data_path().to_string(),
            socket_path: c.socket_path().display().to_string(),
            inner: Some(Arc::new(RwLock::new(c))),
        })
    }

    fn shared(&self) -> Shared {
        // `inner` is `None` only inside `drop`.
        Arc::clone(self.inner.as_ref().unwrap_or_else(|| unreachable!()))
    }

    /// The handle, read-locked, for a call that does not wait on the engine (registering a
    /// callback, building a stream). Blocks only while a reboot holds the lock.
    fn with_read<T>(&self, py: Python<'_>, f: impl FnOnce(&Container) -> T + Send) -> T
    where
        T: Send,
    {
        let shared = self.shared();
        py.detach(|| f(&shared.blocking_read()))
    }
}

impl Drop for NativeContainer {
    fn drop(&mut self) {
        // An ephemeral container whose handle goes away is removed: on the shared runtime.
        if let Some(inner) = self.inner.take() {
            drop_in_runtime(inner);
        }
    }
}

/// A positive, finite number of seconds.
pub(crate) fn seconds(what: &str, t: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(t)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "{what} must be a positive number of seconds, got {t}"
            ))
        })
}

/// Options of a command: `lang` `"python"` runs `python3 -c`, anything else `sh -c` (as the
/// Python pocketdock does).
fn options(lang: Option<&str>, timeout: Option<f64>) -> PyResult<RunOptions> {
    let mut opts = RunOptions::new();
    if lang == Some("python") {
        opts = opts.lang(Lang::Python);
    }
    if let Some(t) = timeout {
        opts = opts.timeout(seconds("timeout", t)?);
    }
    Ok(opts)
}

#[pymethods]
impl NativeContainer {
    /// The full engine id.
    #[getter]
    fn id(&self) -> String {
        self.id
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The pocketdock name.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// Whether `shutdown` keeps the container (stopped).
    #[getter]
    fn persist(&self) -> bool {
        self.persist
    }

    /// The project name, `""` if none.
    #[getter]
    fn project(&self) -> &str {
        &self.project
    }

    /// The instance directory label, `""` if none.
    #[getter]
    fn data_path(&self) -> &str {
        &self.data_path
    }

    /// The engine socket.
    #[getter]
    fn socket_path(&self) -> &str {
        &self.socket_path
    }

    /// Run `command` to completion: `(exit_code, stdout, stderr, duration_ms, timed_out,
    /// truncated)`. A timeout kills the command's process tree and keeps its output so far;
    /// past `max_output` bytes the command is stopped.
    #[pyo3(signature = (command, lang, timeout, max_output, aio))]
    fn run(
        &self,
        py: Python<'_>,
        command: String,
        lang: Option<&str>,
        timeout: Option<f64>,
        max_output: usize,
        aio: bool,
    ) -> PyResult<Py<PyAny>> {
        let opts = options(lang, timeout)?.max_output(max_output);
        let shared = self.shared();
        dispatch(py, aio, async move {
            let c = shared.read().await;
            let r = c.run_with(command, &opts).await.map_err(py_err)?;
            Ok(exec_tuple(&r))
        })
    }

    /// A stream of `command`'s output. Nothing runs until it is first polled. Every chunk is
    /// handed out; the result keeps at most `max_output` bytes and the command runs on past
    /// them. No deadline unless `timeout` is given.
    #[pyo3(signature = (command, lang, timeout, max_output))]
    fn stream(
        &self,
        py: Python<'_>,
        command: String,
        lang: Option<&str>,
        timeout: Option<f64>,
        max_output: usize,
    ) -> PyResult<NativeStream> {
        let mut opts = options(lang, timeout)?
            .max_output(max_output)
            .policy(LimitPolicy::KeepRunning);
        if timeout.is_none() {
            opts = opts.no_timeout();
        }
        let stream = self
            .with_read(py, |c| c.stream(command, &opts))
            .map_err(py_err)?;
        Ok(NativeStream::new(stream))
    }

    /// Start `command` in the background, read into a ring buffer by a task of the runtime.
    /// No deadline unless `timeout` is given.
    #[pyo3(signature = (command, lang, timeout, aio))]
    fn detach(
        &self,
        py: Python<'_>,
        command: String,
        lang: Option<&str>,
        timeout: Option<f64>,
        aio: bool,
    ) -> PyResult<Py<PyAny>> {
        let opts = options(lang, timeout)?;
        let shared = self.shared();
        dispatch(py, aio, async move {
            let c = shared.read().await;
            let p = c.detach(command, &opts).await.map_err(py_err)?;
            Ok(NativeProcess::new(p))
        })
    }

    /// A live snapshot of the container, as a dict (timestamps in seconds since the epoch).
    fn info(&self, py: Python<'_>, aio: bool) -> PyResult<Py<PyAny>> {
        let shared = self.shared();
        dispatch(py, aio, async move {
            let c = shared.read().await;
            Ok(InfoValue(c.info().await.map_err(py_err)?))
        })
    }

    /// Restart in place, or with `fresh` recreate the container from its image and settings.
    fn reboot(&self, py: Python<'_>, fresh: bool, aio: bool) -> PyResult<Py<PyAny>> {
        let shared = self.shared();
        let id = Arc::clone(&self.id);
        dispatch(py, aio, async move {
            let mut c = shared.write().await;
            c.reboot(fresh).await.map_err(py_err)?;
            *id.lock().unwrap_or_else(PoisonError::into_inner) = c.id().to_string();
            Ok(())
        })
    }

    /// Commit the container as image `image_name`; returns the image id.
    fn snapshot(&self, py: Python<'_>, image_name: String, aio: bool) -> PyResult<Py<PyAny>> {
        let shared = self.shared();
        dispatch(py, aio, async move {
            let c = shared.read().await;
            c.snapshot(&image_name).await.map_err(py_err)
        })
    }

    /// Remove the container (a persistent one is only stopped). Does not wait for commands
    /// running on this handle: when they hold it, the engine is told directly.
    fn shutdown(&self, py: Python<'_>, force: bool, aio: bool) -> PyResult<Py<PyAny>> {
        let shared = self.shared();
        let engine = self.engine.clone();
        let id = self.id();
        let (name, persist) = (self.name.clone(), self.persist);
        dispatch(py, aio, async move {
            if let Ok(mut c) = shared.try_write() {
                return c.shutdown(force).await.map_err(py_err);
            }
            let done = if persist {
                engine.stop_container(&name).await
            } else {
                engine.remove_container(&id, true).await
            };
            done.map_err(py_err)
        })
    }

    /// Write `data` to the file `path` in the container, creating its parents.
    fn write_file(
        &self,
        py: Python<'_>,
        path: String,
        data: Vec<u8>,
        aio: bool,
    ) -> PyResult<Py<PyAny>> {
        let shared = self.shared();
        dispatch(py, aio, async move {
            let c = shared.read().await;
            c.write_file(&path, data).await.map_err(py_err)
        })
    }

    /// The content of the file `path` in the container.
    fn read_file(&self, py: Python<'_>, path: String, aio: bool) -> PyResult<Py<PyAny>> {
        let shared = self.shared();
        dispatch(py, aio, async move {
            let c = shared.read().await;
            Ok(PyBytesValue(c.read_file(&path).await.map_err(py_err)?))
        })
    }

    /// The names in the directory `path` (without `.` and `..`).
    fn list_files(&self, py: Python<'_>, path: String, aio: bool) -> PyResult<Py<PyAny>> {
        let shared = self.shared();
        dispatch(py, aio, async move {
            let c = shared.read().await;
            c.list_files(&path).await.map_err(py_err)
        })
    }

    /// Copy the host path `src` into the container at `dest`.
    fn push(&self, py: Python<'_>, src: PathBuf, dest: String, aio: bool) -> PyResult<Py<PyAny>> {
        let shared = self.shared();
        dispatch(py, aio, async move {
            let c = shared.read().await;
            c.push(&src, &dest).await.map_err(py_err)
        })
    }

    /// Copy the container path `src` to the host path `dest`.
    fn pull(&self, py: Python<'_>, src: String, dest: PathBuf, aio: bool) -> PyResult<Py<PyAny>> {
        let shared = self.shared();
        dispatch(py, aio, async move {
            let c = shared.read().await;
            c.pull(&src, &dest).await.map_err(py_err)
        })
    }

    /// Open a persistent shell.
    fn session(&self, py: Python<'_>, aio: bool) -> PyResult<Py<PyAny>> {
        let shared = self.shared();
        dispatch(py, aio, async move {
            let c = shared.read().await;
            Ok(NativeSession::new(c.session().await.map_err(py_err)?))
        })
    }

    /// Call `callback(text)` with the stdout of every detached process, on the runtime's thread
    /// with the GIL held.
    fn on_stdout(&self, py: Python<'_>, callback: Py<PyAny>) {
        let f = bytes_callback(callback);
        self.with_read(py, |c| c.on_stdout(f));
    }

    /// Call `callback(text)` with the stderr of every detached process.
    fn on_stderr(&self, py: Python<'_>, callback: Py<PyAny>) {
        let f = bytes_callback(callback);
        self.with_read(py, |c| c.on_stderr(f));
    }

    /// Call `callback(exit_code)` when a detached process exits.
    fn on_exit(&self, py: Python<'_>, callback: Py<PyAny>) {
        let f = exit_callback(callback);
        self.with_read(py, |c| c.on_exit(f));
    }
}
