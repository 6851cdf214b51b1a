//! Creating, finding and removing containers.

use pocketdock_host::sandbox::{current_project, unix_now, Attached, CreateFlow};
use pocketdock_host::volumes::check_volume_sources;
use pocketdock_proto::api::containers::{ContainerInspect, ListItem};
use pocketdock_proto::op::{calls, FindOp, InfoOp};
use pocketdock_proto::spec::ContainerSpec;
use pocketdock_proto::Result;

use crate::container::Container;
use crate::engine::Engine;
use crate::project::Project;

/// Create and start a sandbox on the default engine, applying the settings of the project
/// containing the current directory (and of `~/.pocketdock/pocketdock.yaml`).
///
/// * The engine is `POCKETDOCK_SOCKET`, else the config's `socket:`, else auto-detected.
/// * A spec naming neither an image nor a profile gets the config's `default_profile`; a spec
///   that does not say whether to persist gets `default_persist`.
/// * A persistent container created in a project gets an instance directory (see
///   [`Engine::create_container_in`]).
///
/// ```no_run
/// use pocketdock_blocking::{create_new_container, ContainerSpec};
/// # fn main() -> pocketdock_blocking::Result<()> {
/// let c = create_new_container(
///     ContainerSpec::new().name("my-sandbox").mem_limit("256m").cpu_percent(50),
/// )?;
/// println!("{} {}", c.name(), c.run("uname -a")?.stdout_str());
/// # Ok(()) }
/// ```
pub fn create_new_container(spec: ContainerSpec) -> Result<Container> {
    let (project, socket) = current_project()?;
    Engine::detect_with(None, socket.as_deref())?.create_container_in(spec, project.as_ref())
}

impl Engine {
    /// Create and start a sandbox on this engine, with the settings of the project containing
    /// the current directory (see [`create_new_container`]; the socket setting does not apply,
    /// this engine is used). The spec is checked before any engine call; a taken name is
    /// [`Error::NameInUse`](pocketdock_proto::Error::NameInUse); a container that fails to start
    /// is removed again.
    pub fn create_container(&self, spec: ContainerSpec) -> Result<Container> {
        let project = Project::discover(None)?;
        self.create_container_in(spec, project.as_ref())
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
    pub fn create_container_in(
        &self,
        spec: ContainerSpec,
        project: Option<&Project>,
    ) -> Result<Container> {
        let agent = spec.agent;
        check_volume_sources(&spec, self.endpoint())?;
        let made = self.drive(CreateFlow::prepare(spec, project)?, |()| {})?;
        Container::from_attached(self, made, true).with_agent_mode(agent)
    }

    /// A handle on an existing pocketdock container, found by name (see
    /// [`find_container`](Self::find_container)). It does not start a stopped container, and
    /// dropping it leaves the container alone. Its commands are logged in its instance directory
    /// when its `pocketdock.data-path` label names a real one.
    pub fn attach(&self, name: &str) -> Result<Container> {
        let inspect = self.find_container(name)?;
        Ok(self.attach_found(&inspect))
    }

    /// A handle on a container already found with [`find_container`](Self::find_container),
    /// without another engine call: [`attach`](Self::attach) for a caller that reads the
    /// inspect itself (a label, the state) and should not look the container up twice.
    pub fn attach_found(&self, inspect: &ContainerInspect) -> Container {
        Container::from_attached(self, Attached::from_inspect(inspect), false)
    }

    /// Inspect a container by id or engine name.
    pub fn inspect_container(&self, id_or_name: &str) -> Result<ContainerInspect> {
        self.call(calls::inspect(id_or_name))
    }

    /// List containers carrying all of `labels` (`key=value`), stopped ones included.
    pub fn list_raw(&self, labels: &[String]) -> Result<Vec<ListItem>> {
        self.call(calls::list(labels))
    }

    /// Find a pocketdock container by name: the engine name first, then (for containers made by
    /// the Python reference, which leaves the engine name alone) the `pocketdock.instance` label.
    /// Only containers labelled `pocketdock.managed=true` are found.
    pub fn find_container(&self, name: &str) -> Result<ContainerInspect> {
        self.drive(FindOp::new(name), |()| {})
    }

    /// Remove a container by id or engine name.
    pub fn remove_container(&self, id_or_name: &str, force: bool) -> Result<()> {
        self.call(calls::remove(id_or_name, force))
    }

    /// A live [`ContainerInfo`](pocketdock_proto::info::ContainerInfo) of a container.
    pub fn container_info(&self, id: &str) -> Result<pocketdock_proto::info::ContainerInfo> {
        self.drive(InfoOp::new(id, unix_now()), |()| {})
    }
}
