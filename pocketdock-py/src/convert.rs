//! Rust results as plain Python values (tuples, dicts, str, bytes). The Python layer turns them
//! into the public dataclasses (`pocketdock.types`), so the types users see are defined once, in
//! Python, with the Python pocketdock's field names.

use std::collections::BTreeMap;

use pocketdock_tokio::{
    BufferSnapshot, ContainerInfo, ContainerListItem, DoctorReport, ExecResult, ProfileInfo,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3::IntoPyObjectExt;

/// `(exit_code, stdout, stderr, duration_ms, timed_out, truncated)`; output decoded as UTF-8
/// with U+FFFD for invalid bytes.
pub(crate) type ExecTuple = (i64, String, String, f64, bool, bool);

pub(crate) fn exec_tuple(r: &ExecResult) -> ExecTuple {
    (
        r.exit_code,
        r.stdout_str().into_owned(),
        r.stderr_str().into_owned(),
        r.duration_ms(),
        r.timed_out,
        r.truncated,
    )
}

/// `(stdout, stderr)` of a detached process's buffer, as text.
pub(crate) fn snapshot_tuple(s: &BufferSnapshot) -> (String, String) {
    (s.stdout_str().into_owned(), s.stderr_str().into_owned())
}

/// `(id, name, status, image, created_at, persist, project)`.
pub(crate) type ListTuple = (String, String, String, String, String, bool, String);

pub(crate) fn list_tuple(i: ContainerListItem) -> ListTuple {
    (
        i.id,
        i.name,
        i.status,
        i.image,
        i.created_at,
        i.persist,
        i.project,
    )
}

/// `(orphaned_containers, stale_instance_dirs, healthy)`.
pub(crate) fn doctor_tuple(r: DoctorReport) -> (Vec<String>, Vec<String>, usize) {
    (r.orphaned_containers, r.stale_instance_dirs, r.healthy)
}

/// `(name, image_tag, network_default, description, size_estimate)`.
pub(crate) fn profile_tuple(
    p: &ProfileInfo,
) -> (&'static str, &'static str, bool, &'static str, &'static str) {
    (
        p.name,
        p.image_tag,
        p.network_default,
        p.description,
        p.size_estimate,
    )
}

/// A container's info with timestamps as seconds since the epoch (`created_at`, `started_at`)
/// and `uptime` in seconds: the Python layer makes them `datetime` and `timedelta`.
pub(crate) struct InfoValue(pub(crate) ContainerInfo);

impl<'py> IntoPyObject<'py> for InfoValue {
    type Target = PyDict;
    type Output = Bound<'py, PyDict>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let i = self.0;
        let d = PyDict::new(py);
        d.set_item("id", i.id)?;
        d.set_item("name", i.name)?;
        d.set_item("status", i.status)?;
        d.set_item("image", i.image)?;
        d.set_item(
            "created_at",
            pocketdock_proto::info::parse_timestamp(&i.created_at).unwrap_or(0.0),
        )?;
        d.set_item(
            "started_at",
            i.started_at
                .as_deref()
                .and_then(pocketdock_proto::info::parse_timestamp),
        )?;
        d.set_item("uptime", i.uptime)?;
        d.set_item("memory_usage", i.memory_usage)?;
        d.set_item("memory_limit", i.memory_limit)?;
        d.set_item("memory_percent", i.memory_percent)?;
        d.set_item("cpu_percent", i.cpu_percent)?;
        d.set_item("pids", i.pids)?;
        d.set_item("network", i.network)?;
        d.set_item("ip_address", i.ip_address)?;
        d.set_item("ports", i.ports)?;
        let processes: Vec<BTreeMap<String, String>> = i
            .processes
            .into_iter()
            .map(|row| row.fields.into_iter().collect())
            .collect();
        d.set_item("processes", processes)?;
        Ok(d)
    }
}

/// One row of the engine's container list as the engine's JSON keys (`Id`, `Names`, `Image`,
/// `State`, `Status`, `Labels`, `Created`): what the Python pocketdock's private socket client
/// returned, for code that reads those keys.
pub(crate) struct RawListItem(pub(crate) pocketdock_proto::api::containers::ListItem);

impl<'py> IntoPyObject<'py> for RawListItem {
    type Target = PyDict;
    type Output = Bound<'py, PyDict>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let i = self.0;
        let d = PyDict::new(py);
        d.set_item("Id", i.id)?;
        d.set_item("Names", i.names)?;
        d.set_item("Image", i.image)?;
        d.set_item("State", i.state)?;
        d.set_item("Status", i.status)?;
        d.set_item("Labels", i.labels.into_py_any(py)?)?;
        d.set_item("Created", i.created)?;
        Ok(d)
    }
}
