//! Small bridges between Rust values and Python: bytes that become `bytes` (not a list of
//! ints), and Python callables called from the runtime's threads.

use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// A byte buffer that converts to Python `bytes`.
pub(crate) struct PyBytesValue(pub(crate) Vec<u8>);

impl<'py> IntoPyObject<'py> for PyBytesValue {
    type Target = PyBytes;
    type Output = Bound<'py, PyBytes>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(py, &self.0))
    }
}

/// Call `callback(*args)` with the GIL held. An exception it raises is reported as unraisable
/// (printed by `sys.unraisablehook`), never propagated into the reader that called it.
fn call<A>(callback: &Py<PyAny>, args: A)
where
    A: for<'py> pyo3::call::PyCallArgs<'py>,
{
    Python::attach(|py| {
        if let Err(e) = callback.call1(py, args) {
            e.write_unraisable(py, Some(callback.bind(py)));
        }
    });
}

/// `callback(text)` for each chunk of output (decoded as UTF-8, U+FFFD for invalid bytes).
pub(crate) fn bytes_callback(callback: Py<PyAny>) -> impl Fn(&[u8]) + Send + Sync + 'static {
    move |data| call(&callback, (String::from_utf8_lossy(data).into_owned(),))
}

/// `callback(exit_code)`.
pub(crate) fn exit_callback(callback: Py<PyAny>) -> impl Fn(i64) + Send + Sync + 'static {
    move |code| call(&callback, (code,))
}

/// `callback(text)` for text output.
pub(crate) fn text_callback(callback: Py<PyAny>) -> impl Fn(&str) + Send + Sync + 'static {
    move |text| call(&callback, (text.to_string(),))
}
