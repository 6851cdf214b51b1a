//! pocketdock errors as the Python exceptions of `pocketdock.errors` (and the built-in ones the
//! Python pocketdock raises: `FileNotFoundError`, `ValueError`, `OSError`, `RuntimeError`).
//!
//! The exception classes are defined once, in Python (`pocketdock/errors.py`), with their
//! messages and attributes; this module only picks the class and its arguments.

use pocketdock_tokio::Error;
use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

/// The Python exception for `e`. Takes the GIL itself, since it is called inside futures that
/// run on the runtime's threads.
pub(crate) fn py_err(e: Error) -> PyErr {
    Python::attach(|py| build(py, e).unwrap_or_else(|failed| failed))
}

/// `Result<T, Error>` to `PyResult<T>`.
pub(crate) fn py_result<T>(r: pocketdock_tokio::Result<T>) -> PyResult<T> {
    r.map_err(py_err)
}

/// An instance of `pocketdock.errors.<class>` built with `args`.
fn pocketdock_error<'py>(
    py: Python<'py>,
    class: &str,
    args: impl pyo3::call::PyCallArgs<'py>,
) -> PyResult<PyErr> {
    let cls = py.import("pocketdock.errors")?.getattr(class)?;
    Ok(PyErr::from_value(cls.call1(args)?))
}

fn build(py: Python<'_>, e: Error) -> PyResult<PyErr> {
    let message = e.to_string();
    match e {
        Error::SocketConnection { path, detail } => {
            pocketdock_error(py, "SocketConnectionError", (path, detail))
        }
        Error::SocketCommunication(detail) => {
            pocketdock_error(py, "SocketCommunicationError", (detail,))
        }
        Error::EngineNotFound => pocketdock_error(py, "PodmanNotRunning", ()),
        Error::ContainerNotFound(id) => pocketdock_error(py, "ContainerNotFound", (id,)),
        Error::ContainerNotRunning(id) => pocketdock_error(py, "ContainerNotRunning", (id,)),
        Error::ContainerGone(id) => pocketdock_error(py, "ContainerGone", (id,)),
        Error::NameInUse(name) => {
            pocketdock_error(py, "ContainerError", (name, "name is already in use"))
        }
        Error::ImageNotFound(image) => pocketdock_error(py, "ImageNotFound", (image,)),
        Error::SessionClosed => pocketdock_error(py, "SessionClosed", ()),
        Error::ProjectNotInitialized => pocketdock_error(py, "ProjectNotInitialized", ()),
        Error::PathNotFound(_) => Ok(PyFileNotFoundError::new_err(message)),
        Error::HostPath { ref detail, .. } if detail == "does not exist" => {
            Ok(PyFileNotFoundError::new_err(message))
        }
        Error::HostPath { .. } | Error::Config { .. } => Ok(PyOSError::new_err(message)),
        Error::Io(io) => Ok(PyErr::from(io)),
        Error::InvalidInput { .. } => Ok(PyValueError::new_err(message)),
        Error::InvalidUse(_) => Ok(PyRuntimeError::new_err(message)),
        // Protocol breaks, engine error statuses, deadlines, in-band stream failures and unsafe
        // archives: the engine side of the conversation went wrong.
        _ => pocketdock_error(py, "SocketCommunicationError", (message,)),
    }
}
