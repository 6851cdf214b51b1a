//! Creating, finding and removing containers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pocketdock_proto::api::containers::{ContainerInspect, ListItem};
use pocketdock_proto::info::format_timestamp;
use pocketdock_proto::op::{calls, CreateOp, FindOp, Identity, InfoOp};
use pocketdock_proto::persistence::{apply_config, instance_metadata};
use pocketdock_proto::spec::{generate_name, validate_name, ContainerSpec};
use pocketdock_proto::Result;

use crate::callbacks::Callbacks;
use crate::container::{remove_container_id, Container, DEFAULT_BUFFER_CAPACITY};
use crate::engine::{random_u64, Engine};
use crate::logging::InstanceLog;
use crate::project::{checked_instance_dir, load_config, InstanceStage, Project};

/// Default timeout of `run` on a new container (the reference's 30 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

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
    let project = Project::discover(None)?;
    let socket = match &project {
        Some(p) => p.config().socket.clone(),
        None => load_config(None)?.socket,
    };
    Engine::detect_with(None, socket.as_deref())?.create_container_in(spec, project.as_ref())
}

/// `pocketdock.created-at` for now.
pub(crate) fn now_iso() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    format_timestamp(now.as_secs() as i64, now.subsec_micros())
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
        mut spec: ContainerSpec,
        project: Option<&Project>,
    ) -> Result<Container> {
        let config = match project {
            Some(p) => p.config().clone(),
            None => load_config(None)?,
        };
        apply_config(&mut spec, &config)?;
        spec.validate()?;
        let name = spec
            .name
            .clone()
            .unwrap_or_else(|| generate_name(random_u64()));
        validate_name(&name)?;
        let home = project.filter(|p| {
            spec.is_persistent() && spec.project.as_deref().is_none_or(|n| n == p.name())
        });
        if let Some(p) = home {
            spec.project = Some(p.name().to_string());
        }
        let created_at = now_iso();
        let mut labels = spec.labels_for(&name, &created_at);
        let mut stage = match home {
            Some(p) => Some(InstanceStage::prepare(
                p,
                &name,
                instance_metadata(
                    &spec,
                    &name,
                    p.name(),
                    &created_at,
                    std::env::args().collect::<Vec<_>>().join(" "),
                    std::process::id(),
                )?,
            )?),
            None => None,
        };
        labels.data_path = stage.as_ref().map(|s| s.dir.display().to_string());
        let created = CreateOp::with_labels(&spec, &labels)
            .and_then(|op| self.drive(op, |()| {}))
            .and_then(|identity| {
                let committed = match stage.as_mut() {
                    Some(s) => s.commit(&identity.id),
                    None => Ok(()),
                };
                match committed {
                    Ok(()) => Ok(identity.id),
                    Err(e) => {
                        let _ = remove_container_id(self, &identity.id, true);
                        Err(e)
                    }
                }
            });
        let id = match created {
            Ok(id) => id,
            Err(e) => {
                if let Some(s) = stage {
                    s.rollback();
                }
                return Err(e);
            }
        };
        let instance_dir = stage.map(|s| s.dir);
        let log = instance_dir
            .as_deref()
            .and_then(|d| InstanceLog::open(d, &config));
        if let Some(log) = &log {
            log.apply_retention();
        }
        Ok(Container {
            engine: self.clone(),
            id,
            name,
            persist: spec.is_persistent(),
            project: spec.project.clone().unwrap_or_default(),
            data_path: labels.data_path.unwrap_or_default(),
            instance_dir,
            log,
            default_timeout: Some(DEFAULT_TIMEOUT),
            buffer_capacity: DEFAULT_BUFFER_CAPACITY,
            callbacks: Callbacks::default(),
            closed: false,
            owned: true,
        })
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
        self.handle_from_inspect(inspect)
    }

    /// A handle (not owned: never removed on drop) rebuilt from a container's inspect: name,
    /// persist flag, project and data path from the labels; the instance directory and its logs
    /// only when the data path passes [`checked_instance_dir`](crate::checked_instance_dir). The
    /// logs follow the settings of the instance's project (the defaults if they cannot be read).
    pub(crate) fn handle_from_inspect(&self, inspect: &ContainerInspect) -> Container {
        let identity = Identity::from_inspect(inspect);
        let checked = (!identity.data_path.is_empty())
            .then(|| checked_instance_dir(&identity.data_path, &identity.name).ok())
            .flatten();
        let log = checked.as_ref().and_then(|(root, dir)| {
            let config = load_config(Some(root)).unwrap_or_default();
            InstanceLog::open(dir, &config)
        });
        Container {
            engine: self.clone(),
            id: identity.id,
            name: identity.name,
            persist: identity.persist,
            project: identity.project,
            data_path: identity.data_path,
            instance_dir: checked.map(|(_, dir)| dir),
            log,
            default_timeout: Some(DEFAULT_TIMEOUT),
            buffer_capacity: DEFAULT_BUFFER_CAPACITY,
            callbacks: Callbacks::default(),
            closed: false,
            owned: false,
        }
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
        remove_container_id(self, id_or_name, force)
    }

    /// A live [`ContainerInfo`](pocketdock_proto::info::ContainerInfo) of a container.
    pub fn container_info(&self, id: &str) -> Result<pocketdock_proto::info::ContainerInfo> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs_f64();
        self.drive(InfoOp::new(id, now), |()| {})
    }
}
