//! Persistent containers: resume, list, stop, destroy, prune, and the project doctor.
//!
//! Every function exists twice: as an [`Engine`] method (the caller picks the socket) and as a
//! free function that finds the engine like the CLI does (`POCKETDOCK_SOCKET`, then the `socket:`
//! of the current project or install config, then auto-detection).
//!
//! Containers are found by name: the engine's container name first, then the label
//! `pocketdock.instance` for containers made by the Python reference (which leaves the engine
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
use crate::runtime::Runtime;

impl<R: Runtime> Engine<R> {
    /// A handle on the pocketdock container `name`, started first if it is not running. The
    /// handle's persist flag, project and instance directory come from the labels (the
    /// instance directory only if it checks out); its logs continue in that directory. Dropping
    /// the handle leaves the container alone.
    pub async fn resume_container(&self, name: &str) -> Result<Container<R>> {
        let inspect = self.drive(ResumeOp::new(name), |()| {}).await?;
        Ok(Container::from_attached(
            self,
            Attached::resumed(&inspect),
            false,
        ))
    }

    /// The pocketdock containers (label `pocketdock.managed=true`), stopped ones included, only
    /// those of `project` when given.
    pub async fn list_containers(&self, project: Option<&str>) -> Result<Vec<ContainerListItem>> {
        let items = self.list_raw(&list_filter(project)).await?;
        Ok(items
            .iter()
            .map(ContainerListItem::from_list_item)
            .collect())
    }

    /// Stop the pocketdock container `name` (SIGTERM, then SIGKILL after
    /// [`STOP_GRACE_SECS`]); a stopped container is fine.
    pub async fn stop_container(&self, name: &str) -> Result<()> {
        let inspect = self.find_container(name).await?;
        self.call(calls::stop(&inspect.id, STOP_GRACE_SECS)).await
    }

    /// Remove the pocketdock container `name` (forced, running or not) and delete its instance
    /// directory, but only when its `pocketdock.data-path` label names a real instance directory
    /// of a pocketdock project that belongs to this container (see
    /// [`checked_instance_dir`](crate::checked_instance_dir)). Any other label value is left
    /// alone and reported in [`DestroyReport::refused_data_path`]; a label naming a directory
    /// that no longer exists is not an error.
    pub async fn destroy_container(&self, name: &str) -> Result<DestroyReport> {
        let inspect = self.find_container(name).await?;
        // Decide about the directory before removing anything, so the check sees the labels.
        let plan = DestroyPlan::new(&inspect);
        plan.finish(self.call(calls::remove(&inspect.id, true)).await)
    }

    /// Remove the stopped pocketdock containers (exited, created, dead), only those of `project`
    /// when given; returns how many were removed. Running and paused containers are kept: the
    /// removal is not forced, so a container started meanwhile survives. Instance directories
    /// are kept (their history stays; [`doctor`](Self::doctor) reports them as stale).
    pub async fn prune(&self, project: Option<&str>) -> Result<usize> {
        self.drive(PruneOp::new(project), |()| {}).await
    }

    /// Compare the instance directories of the project at `project_root` (the project containing
    /// the current directory when `None`) with its containers on this engine.
    /// [`Error::ProjectNotInitialized`](crate::Error::ProjectNotInitialized) when there is no
    /// project.
    pub async fn doctor(&self, project_root: Option<&Path>) -> Result<DoctorReport> {
        self.doctor_project(&project_at(project_root)?).await
    }

    /// [`doctor`](Self::doctor) for an opened project.
    pub async fn doctor_project(&self, project: &Project) -> Result<DoctorReport> {
        doctor_report(project, &self.list_containers(Some(project.name())).await?)
    }
}

impl<R> Engine<R> {
    /// The engine for `project`: `POCKETDOCK_SOCKET`, then the project's `socket:`, then
    /// auto-detection.
    pub fn for_project(project: &Project) -> Result<Self> {
        Self::detect_with(None, project.config().socket.as_deref())
    }
}

/// The engine the free functions use: `POCKETDOCK_SOCKET`, then the `socket:` of the current
/// project (or of the install file), then auto-detection.
fn default_engine<R>() -> Result<Engine<R>> {
    Engine::detect_with(None, configured_socket()?.as_deref())
}

/// [`Engine::resume_container`] on the default engine: the body of every adapter's
/// `resume_container`.
pub async fn resume_container<R: Runtime>(name: &str) -> Result<Container<R>> {
    default_engine::<R>()?.resume_container(name).await
}

/// [`Engine::list_containers`] on the default engine.
pub async fn list_containers<R: Runtime>(project: Option<&str>) -> Result<Vec<ContainerListItem>> {
    default_engine::<R>()?.list_containers(project).await
}

/// [`Engine::stop_container`] on the default engine.
pub async fn stop_container<R: Runtime>(name: &str) -> Result<()> {
    default_engine::<R>()?.stop_container(name).await
}

/// [`Engine::destroy_container`] on the default engine.
pub async fn destroy_container<R: Runtime>(name: &str) -> Result<DestroyReport> {
    default_engine::<R>()?.destroy_container(name).await
}

/// [`Engine::prune`] on the default engine.
pub async fn prune<R: Runtime>(project: Option<&str>) -> Result<usize> {
    default_engine::<R>()?.prune(project).await
}

/// [`Engine::doctor`] on the engine of the project at `project_root` (the project containing the
/// current directory when `None`): `POCKETDOCK_SOCKET`, then its `socket:`, then
/// auto-detection.
pub async fn doctor<R: Runtime>(project_root: Option<&Path>) -> Result<DoctorReport> {
    let project = project_at(project_root)?;
    Engine::<R>::for_project(&project)?
        .doctor_project(&project)
        .await
}
