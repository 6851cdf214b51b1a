//! Creating, finding and removing containers.

use pocketdock_host::sandbox::{current_project, unix_now, Attached, CreateFlow};
use pocketdock_host::volumes::check_volume_sources;
use pocketdock_proto::api::containers::{ContainerInspect, ListItem};
use pocketdock_proto::info::ContainerInfo;
use pocketdock_proto::op::{calls, FindOp, InfoOp};
use pocketdock_proto::spec::ContainerSpec;
use pocketdock_proto::Result;

use crate::container::Container;
use crate::engine::Engine;
use crate::project::Project;
use crate::runtime::Runtime;

/// Create and start a sandbox on the default engine, applying the settings of the project
/// containing the current directory: the body of every adapter's `create_new_container` (see
/// there).
pub async fn create_new_container<R: Runtime>(spec: ContainerSpec) -> Result<Container<R>> {
    let (project, socket) = current_project()?;
    Engine::<R>::detect_with(None, socket.as_deref())?
        .create_container_in(spec, project.as_ref())
        .await
}

impl<R: Runtime> Engine<R> {
    /// Create and start a sandbox on this engine, with the settings of the project containing
    /// the current directory (see [`create_new_container`]; the socket setting does not apply,
    /// this engine is used). The spec is checked before any engine call; a taken name is
    /// [`Error::NameInUse`](crate::Error::NameInUse); a container that fails to start is removed
    /// again.
    pub async fn create_container(&self, spec: ContainerSpec) -> Result<Container<R>> {
        let project = Project::discover(None)?;
        self.create_container_in(spec, project.as_ref()).await
    }

    /// Create and start a sandbox on this engine in `project` (`None`: outside any project; the
    /// install-level config still applies).
    ///
    /// The project's `default_profile` and `default_persist` fill in what the spec leaves open.
    /// A persistent container whose spec names no project, or names this one, gets the label
    /// `pocketdock.project` and an instance directory
    /// `<root>/.pocketdock/instances/<name>/` (`instance.toml`, `data/`, `logs/`), named in its
    /// `pocketdock.data-path` label: `instance.toml` is written with the id `(pending)` before
    /// the engine create and completed after it, and the directory is rolled back (removed, or
    /// its previous `instance.toml` restored) when the create or start fails. Its commands are
    /// then logged under `logs/` as the project's `logging:` settings say.
    pub async fn create_container_in(
        &self,
        spec: ContainerSpec,
        project: Option<&Project>,
    ) -> Result<Container<R>> {
        let agent = spec.agent;
        check_volume_sources(&spec, self.endpoint())?;
        let made = self
            .drive(CreateFlow::prepare(spec, project)?, |()| {})
            .await?;
        Container::from_attached(self, made, true)
            .with_agent_mode(agent)
            .await
    }

    /// A handle on an existing pocketdock container, found by name (see
    /// [`find_container`](Self::find_container)). It does not start a stopped container, and
    /// dropping it leaves the container alone. Its commands are logged in its instance directory
    /// when its `pocketdock.data-path` label names a real one.
    pub async fn attach(&self, name: &str) -> Result<Container<R>> {
        let inspect = self.find_container(name).await?;
        Ok(self.attach_found(&inspect))
    }

    /// A handle on a container already found with [`find_container`](Self::find_container),
    /// without another engine call: [`attach`](Self::attach) for a caller that reads the
    /// inspect itself (a label, the state) and should not look the container up twice.
    pub fn attach_found(&self, inspect: &ContainerInspect) -> Container<R> {
        Container::from_attached(self, Attached::from_inspect(inspect), false)
    }

    /// Inspect a container by id or engine name.
    pub async fn inspect_container(&self, id_or_name: &str) -> Result<ContainerInspect> {
        self.call(calls::inspect(id_or_name)).await
    }

    /// List containers carrying all of `labels` (`key=value`), stopped ones included.
    pub async fn list_raw(&self, labels: &[String]) -> Result<Vec<ListItem>> {
        self.call(calls::list(labels)).await
    }

    /// Find a pocketdock container by name: the engine name first, then (for containers made by
    /// the Python reference, which leaves the engine name alone) the `pocketdock.instance` label.
    /// Only containers labelled `pocketdock.managed=true` are found.
    pub async fn find_container(&self, name: &str) -> Result<ContainerInspect> {
        self.drive(FindOp::new(name), |()| {}).await
    }

    /// Remove a container by id or engine name.
    pub async fn remove_container(&self, id_or_name: &str, force: bool) -> Result<()> {
        self.call(calls::remove(id_or_name, force)).await
    }

    /// A live [`ContainerInfo`] of a container.
    pub async fn container_info(&self, id: &str) -> Result<ContainerInfo> {
        self.drive(InfoOp::new(id, unix_now()), |()| {}).await
    }
}
