//! The module-level functions: creating and finding containers, persistence, projects,
//! profiles, and the engine calls the Python pocketdock's private socket client offered.

use std::path::PathBuf;

use pocketdock_proto::spec::{NetworkMode, PortMapping, Volume};
use pocketdock_tokio::{ContainerSpec, Engine};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::container::NativeContainer;
use crate::convert::{doctor_tuple, list_tuple, profile_tuple, RawListItem};
use crate::errors::{py_err, py_result};
use crate::runtime::dispatch;

/// Everything `create_new_container` takes (the Python layer names the keywords).
#[pyclass(module = "pocketdock._native", frozen, from_py_object)]
#[derive(Clone, Default)]
pub(crate) struct CreateArgs {
    image: Option<String>,
    name: Option<String>,
    mem_limit: Option<String>,
    cpu_percent: Option<u32>,
    persist: bool,
    volumes: Vec<(String, String)>,
    project: Option<String>,
    profile: Option<String>,
    devices: Vec<String>,
    ports: Vec<(u16, u16)>,
    network: Option<String>,
}

#[pymethods]
impl CreateArgs {
    #[new]
    #[pyo3(signature = (image, name, mem_limit, cpu_percent, persist, volumes, project, profile, devices, ports, network))]
    #[expect(
        clippy::too_many_arguments,
        reason = "one per keyword of create_new_container"
    )]
    fn new(
        image: Option<String>,
        name: Option<String>,
        mem_limit: Option<String>,
        cpu_percent: Option<u32>,
        persist: bool,
        volumes: Vec<(String, String)>,
        project: Option<String>,
        profile: Option<String>,
        devices: Vec<String>,
        ports: Vec<(u16, u16)>,
        network: Option<String>,
    ) -> Self {
        Self {
            image,
            name,
            mem_limit,
            cpu_percent,
            persist,
            volumes,
            project,
            profile,
            devices,
            ports,
            network,
        }
    }
}

impl CreateArgs {
    fn spec(self) -> ContainerSpec {
        let mut spec = ContainerSpec::new().persist(self.persist);
        spec.image = self.image;
        spec.name = self.name;
        spec.mem_limit = self.mem_limit;
        spec.cpu_percent = self.cpu_percent;
        spec.project = self.project;
        spec.profile = self.profile;
        spec.devices = self.devices;
        spec.volumes = self
            .volumes
            .into_iter()
            .map(|(host, container)| Volume::new(host, container))
            .collect();
        spec.ports = self
            .ports
            .into_iter()
            .map(|(host, container)| PortMapping::tcp(host, container))
            .collect();
        spec.network = self.network.map(|n| match n.as_str() {
            "none" => NetworkMode::Off,
            "bridge" => NetworkMode::Bridge,
            _ => NetworkMode::Named(n),
        });
        spec
    }
}

/// The engine at `socket`, or `None` for the default one.
fn engine_at(socket: Option<String>) -> Option<Engine> {
    socket.map(Engine::new)
}

/// Create and start a sandbox on the default engine (`POCKETDOCK_SOCKET`, the project's
/// `socket:`, auto-detection); `timeout` is its default command timeout in seconds.
#[pyfunction]
#[pyo3(signature = (args, timeout, aio))]
pub(crate) fn create_container(
    py: Python<'_>,
    args: CreateArgs,
    timeout: Option<f64>,
    aio: bool,
) -> PyResult<Py<PyAny>> {
    let spec = args.spec();
    dispatch(py, aio, async move {
        let c = pocketdock_tokio::create_new_container(spec)
            .await
            .map_err(py_err)?;
        NativeContainer::wrap(c, timeout)
    })
}

/// A handle on the container `name`, started first if stopped.
#[pyfunction]
#[pyo3(signature = (name, socket_path, timeout, aio))]
pub(crate) fn resume_container(
    py: Python<'_>,
    name: String,
    socket_path: Option<String>,
    timeout: Option<f64>,
    aio: bool,
) -> PyResult<Py<PyAny>> {
    let engine = engine_at(socket_path);
    dispatch(py, aio, async move {
        let c = match engine {
            Some(e) => e.resume_container(&name).await,
            None => pocketdock_tokio::resume_container(&name).await,
        };
        NativeContainer::wrap(c.map_err(py_err)?, timeout)
    })
}

/// The pocketdock containers (of `project` when given) as tuples.
#[pyfunction]
#[pyo3(signature = (socket_path, project, aio))]
pub(crate) fn list_containers(
    py: Python<'_>,
    socket_path: Option<String>,
    project: Option<String>,
    aio: bool,
) -> PyResult<Py<PyAny>> {
    let engine = engine_at(socket_path);
    dispatch(py, aio, async move {
        let items = match engine {
            Some(e) => e.list_containers(project.as_deref()).await,
            None => pocketdock_tokio::list_containers(project.as_deref()).await,
        };
        Ok(items
            .map_err(py_err)?
            .into_iter()
            .map(list_tuple)
            .collect::<Vec<_>>())
    })
}

/// Stop the container `name` (by name, or by id with an explicit socket).
#[pyfunction]
#[pyo3(signature = (name, socket_path, aio))]
pub(crate) fn stop_container(
    py: Python<'_>,
    name: String,
    socket_path: Option<String>,
    aio: bool,
) -> PyResult<Py<PyAny>> {
    let engine = engine_at(socket_path);
    dispatch(py, aio, async move {
        match engine {
            Some(e) => e.stop_container(&name).await,
            None => pocketdock_tokio::stop_container(&name).await,
        }
        .map_err(py_err)
    })
}

/// Remove the container `name` and its instance directory.
#[pyfunction]
#[pyo3(signature = (name, socket_path, aio))]
pub(crate) fn destroy_container(
    py: Python<'_>,
    name: String,
    socket_path: Option<String>,
    aio: bool,
) -> PyResult<Py<PyAny>> {
    let engine = engine_at(socket_path);
    dispatch(py, aio, async move {
        match engine {
            Some(e) => e.destroy_container(&name).await,
            None => pocketdock_tokio::destroy_container(&name).await,
        }
        .map(|_report| ())
        .map_err(py_err)
    })
}

/// Remove the stopped pocketdock containers; returns how many.
#[pyfunction]
#[pyo3(signature = (socket_path, project, aio))]
pub(crate) fn prune(
    py: Python<'_>,
    socket_path: Option<String>,
    project: Option<String>,
    aio: bool,
) -> PyResult<Py<PyAny>> {
    let engine = engine_at(socket_path);
    dispatch(py, aio, async move {
        match engine {
            Some(e) => e.prune(project.as_deref()).await,
            None => pocketdock_tokio::prune(project.as_deref()).await,
        }
        .map_err(py_err)
    })
}

/// Compare a project's instance directories with its containers.
#[pyfunction]
#[pyo3(signature = (project_root, socket_path, aio))]
pub(crate) fn doctor(
    py: Python<'_>,
    project_root: Option<PathBuf>,
    socket_path: Option<String>,
    aio: bool,
) -> PyResult<Py<PyAny>> {
    let engine = engine_at(socket_path);
    dispatch(py, aio, async move {
        match engine {
            Some(e) => e.doctor(project_root.as_deref()).await,
            None => pocketdock_tokio::doctor(project_root.as_deref()).await,
        }
        .map(doctor_tuple)
        .map_err(py_err)
    })
}

/// The engine socket auto-detection finds (`POCKETDOCK_SOCKET` first), or `None`.
#[pyfunction]
pub(crate) fn detect_socket() -> Option<String> {
    Engine::detect()
        .ok()
        .map(|e| e.socket().display().to_string())
}

/// The engine's container list rows carrying every label of `labels` (`key=value`).
#[pyfunction]
#[pyo3(signature = (socket_path, labels, aio))]
pub(crate) fn list_raw(
    py: Python<'_>,
    socket_path: String,
    labels: Vec<String>,
    aio: bool,
) -> PyResult<Py<PyAny>> {
    let engine = Engine::new(socket_path);
    dispatch(py, aio, async move {
        Ok(engine
            .list_raw(&labels)
            .await
            .map_err(py_err)?
            .into_iter()
            .map(RawListItem)
            .collect::<Vec<_>>())
    })
}

/// Remove a container by id or engine name.
#[pyfunction]
#[pyo3(signature = (socket_path, id, force, aio))]
pub(crate) fn remove_container(
    py: Python<'_>,
    socket_path: String,
    id: String,
    force: bool,
    aio: bool,
) -> PyResult<Py<PyAny>> {
    let engine = Engine::new(socket_path);
    dispatch(py, aio, async move {
        engine.remove_container(&id, force).await.map_err(py_err)
    })
}

/// The project root above `start` (or the current directory), if any.
#[pyfunction]
#[pyo3(signature = (start))]
#[expect(
    clippy::needless_pass_by_value,
    reason = "pyo3 hands arguments over owned"
)]
pub(crate) fn find_project_root(start: Option<PathBuf>) -> Option<PathBuf> {
    pocketdock_tokio::find_project_root(start.as_deref())
}

/// Create a project at `path` (or the current directory); returns its root.
#[pyfunction]
#[pyo3(signature = (path, project_name))]
#[expect(
    clippy::needless_pass_by_value,
    reason = "pyo3 hands arguments over owned"
)]
pub(crate) fn init_project(
    path: Option<PathBuf>,
    project_name: Option<String>,
) -> PyResult<PathBuf> {
    py_result(pocketdock_tokio::init_project(
        path.as_deref(),
        project_name.as_deref(),
    ))
}

/// Every image profile, as `(name, image_tag, network_default, description, size_estimate)`.
#[pyfunction]
pub(crate) fn list_profiles() -> Vec<(&'static str, &'static str, bool, &'static str, &'static str)>
{
    pocketdock_tokio::list_profiles()
        .iter()
        .map(profile_tuple)
        .collect()
}

/// The profile `name`; `ValueError` for an unknown one.
#[pyfunction]
pub(crate) fn resolve_profile(
    name: &str,
) -> PyResult<(&'static str, &'static str, bool, &'static str, &'static str)> {
    pocketdock_tokio::resolve_profile(name)
        .map(|p| profile_tuple(&p))
        .map_err(|e| PyValueError::new_err(e.to_string()))
}
