//! Persistent containers: resume, list, stop, destroy, prune, and the project doctor.
//!
//! Every function exists twice: as an [`Engine`] method (the caller picks the socket) and as a
//! free function that finds the engine like the CLI does (`POCKETDOCK_SOCKET`, then the `socket:`
//! of the current project or install config, then auto-detection).
//!
//! Containers are found by name: the engine's container name first, then the label
//! `pocketdock.instance` for containers made by the Python pocketdock (which leaves the engine
//! name alone); only containers labelled `pocketdock.managed=true` count, and a name carried by
//! several labelled containers is refused rather than guessed.

use std::path::Path;

use pocketdock_host::sandbox::{doctor_report, project_at, Attached, DestroyPlan};
use pocketdock_proto::op::calls;
use pocketdock_proto::op::lifecycle::{PruneOp, ResumeOp};
use pocketdock_proto::persistence::list_filter;
pub use pocketdock_proto::persistence::{
    ContainerListItem, DestroyReport, DoctorReport, STOP_GRACE_SECS,
};
use pocketdock_proto::Result;

use crate::container::Container;
use crate::engine::Engine;
use crate::project::{configured_socket, Project};

impl Engine {
    /// A handle on the pocketdock container `name`, started first if it is not running. The
    /// handle's persist flag, project and instance directory come from the labels (the
    /// instance directory only if it checks out); its logs continue in that directory. Dropping
    /// the handle leaves the container alone.
    pub fn resume_container(&self, name: &str) -> Result<Container> {
        let inspect = self.drive(ResumeOp::new(name), |()| {})?;
        Ok(Container::from_attached(
            self,
            Attached::resumed(&inspect),
            false,
        ))
    }

    /// The pocketdock containers (label `pocketdock.managed=true`), stopped ones included, only
    /// those of `project` when given.
    pub fn list_containers(&self, project: Option<&str>) -> Result<Vec<ContainerListItem>> {
        let items = self.list_raw(&list_filter(project))?;
        Ok(items
            .iter()
            .map(ContainerListItem::from_list_item)
            .collect())
    }

    /// Stop the pocketdock container `name` (SIGTERM, then SIGKILL after
    /// [`STOP_GRACE_SECS`]); a stopped container is fine.
    pub fn stop_container(&self, name: &str) -> Result<()> {
        let inspect = self.find_container(name)?;
        self.call(calls::stop(&inspect.id, STOP_GRACE_SECS))
    }

    /// Remove the pocketdock container `name` (forced, running or not) and delete its instance
    /// directory, but only when its `pocketdock.data-path` label names a real instance directory
    /// of a pocketdock project that belongs to this container (see
    /// [`checked_instance_dir`](crate::checked_instance_dir)). Any other label value is left
    /// alone and reported in [`DestroyReport::refused_data_path`]; a label naming a directory
    /// that no longer exists is not an error.
    pub fn destroy_container(&self, name: &str) -> Result<DestroyReport> {
        let inspect = self.find_container(name)?;
        // Decide about the directory before removing anything, so the check sees the labels.
        let plan = DestroyPlan::new(&inspect);
        plan.finish(self.call(calls::remove(&inspect.id, true)))
    }

    /// Remove the stopped pocketdock containers (exited, created, dead), only those of `project`
    /// when given; returns how many were removed. Running and paused containers are kept: the
    /// removal is not forced, so a container started meanwhile survives. Instance directories
    /// are kept (their history stays; [`doctor`](Self::doctor) reports them as stale).
    pub fn prune(&self, project: Option<&str>) -> Result<usize> {
        self.drive(PruneOp::new(project), |()| {})
    }

    /// Compare the instance directories of the project at `project_root` (the project containing
    /// the current directory when `None`) with its containers on this engine.
    /// [`Error::ProjectNotInitialized`](crate::Error::ProjectNotInitialized) when there is no
    /// project.
    pub fn doctor(&self, project_root: Option<&Path>) -> Result<DoctorReport> {
        self.doctor_project(&project_at(project_root)?)
    }

    /// [`doctor`](Self::doctor) for an opened project.
    pub fn doctor_project(&self, project: &Project) -> Result<DoctorReport> {
        doctor_report(project, &self.list_containers(Some(project.name()))?)
    }

    /// The engine for `project`: `POCKETDOCK_SOCKET`, then the project's `socket:`, then
    /// auto-detection.
    pub fn for_project(project: &Project) -> Result<Self> {
        Self::detect_with(None, project.config().socket.as_deref())
    }
}

/// The engine the free functions use: `POCKETDOCK_SOCKET`, then the `socket:` of the current
/// project (or of the install file), then auto-detection.
fn default_engine() -> Result<Engine> {
    Engine::detect_with(None, configured_socket()?.as_deref())
}

/// [`Engine::resume_container`] on the default engine.
///
/// ```no_run
/// # fn main() -> pocketdock_blocking::Result<()> {
/// let c = pocketdock_blocking::resume_container("my-sandbox")?;
/// println!("{}", c.run("ls /tmp")?.stdout_str());
/// # Ok(()) }
/// ```
pub fn resume_container(name: &str) -> Result<Container> {
    default_engine()?.resume_container(name)
}

/// [`Engine::list_containers`] on the default engine.
pub fn list_containers(project: Option<&str>) -> Result<Vec<ContainerListItem>> {
    default_engine()?.list_containers(project)
}

/// [`Engine::stop_container`] on the default engine.
pub fn stop_container(name: &str) -> Result<()> {
    default_engine()?.stop_container(name)
}

/// [`Engine::destroy_container`] on the default engine.
pub fn destroy_container(name: &str) -> Result<DestroyReport> {
    default_engine()?.destroy_container(name)
}

/// [`Engine::prune`] on the default engine.
pub fn prune(project: Option<&str>) -> Result<usize> {
    default_engine()?.prune(project)
}

/// [`Engine::doctor`] on the engine of the project at `project_root` (the project containing the
/// current directory when `None`): `POCKETDOCK_SOCKET`, then its `socket:`, then
/// auto-detection.
pub fn doctor(project_root: Option<&Path>) -> Result<DoctorReport> {
    let project = project_at(project_root)?;
    Engine::for_project(&project)?.doctor_project(&project)
}
