//! # pocketdock-py
//!
//! The native core of the `pocketdock` Python package: the extension module
//! `pocketdock._native`, on `pocketdock-tokio`. The Python layer (`python/pocketdock/`) gives it
//! the Python pocketdock's API (module names, classes, dataclasses and exceptions); this crate
//! only runs engine operations and hands back plain values.
//!
//! One tokio runtime serves the whole process. Every operation is offered once, with an `aio`
//! flag: `True` returns an asyncio awaitable (pyo3-async-runtimes; cancelling the asyncio task
//! drops the Rust future, and the drop guards of `pocketdock-async` kill the command), `False`
//! blocks the calling thread with the GIL released, taking it back every few tens of
//! milliseconds so that Ctrl-C interrupts the call (the future is dropped, which kills the
//! command as a timeout would). Callbacks run on the runtime's threads with the GIL held.

mod container;
mod convert;
mod errors;
mod management;
mod process;
mod runtime;
mod session;
mod stream;
mod values;

use pyo3::prelude::*;

/// The extension module `pocketdock._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    runtime::init()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<container::NativeContainer>()?;
    m.add_class::<stream::NativeStream>()?;
    m.add_class::<process::NativeProcess>()?;
    m.add_class::<session::NativeSession>()?;
    m.add_class::<management::CreateArgs>()?;
    m.add_function(wrap_pyfunction!(management::create_container, m)?)?;
    m.add_function(wrap_pyfunction!(management::resume_container, m)?)?;
    m.add_function(wrap_pyfunction!(management::list_containers, m)?)?;
    m.add_function(wrap_pyfunction!(management::stop_container, m)?)?;
    m.add_function(wrap_pyfunction!(management::destroy_container, m)?)?;
    m.add_function(wrap_pyfunction!(management::prune, m)?)?;
    m.add_function(wrap_pyfunction!(management::doctor, m)?)?;
    m.add_function(wrap_pyfunction!(management::detect_socket, m)?)?;
    m.add_function(wrap_pyfunction!(management::list_raw, m)?)?;
    m.add_function(wrap_pyfunction!(management::remove_container, m)?)?;
    m.add_function(wrap_pyfunction!(management::find_project_root, m)?)?;
    m.add_function(wrap_pyfunction!(management::init_project, m)?)?;
    m.add_function(wrap_pyfunction!(management::list_profiles, m)?)?;
    m.add_function(wrap_pyfunction!(management::resolve_profile, m)?)?;
    Ok(())
}
