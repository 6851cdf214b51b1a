//! Creating, finding and removing containers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pocketdock_proto::api::containers::{ContainerInspect, ListItem};
use pocketdock_proto::info::{format_timestamp, ContainerInfo};
use pocketdock_proto::op::{calls, CreateOp, FindOp, Identity, InfoOp};
use pocketdock_proto::persistence::{apply_config, instance_metadata};
use pocketdock_proto::spec::{generate_name, validate_name, ContainerSpec};
use pocketdock_proto::Result;

use crate::container::Container;
use crate::engine::{random_u64, Engine};
use crate::logging::InstanceLog;
use crate::project::{checked_instance_dir, load_config, InstanceStage, Project};
use crate::runtime::Runtime;

/// Default timeout of `run` on a new container (the reference's 30 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Create and start a sandbox on the default engine, applying the settings of the project
/// containing the current directory: the body of every adapter's `create_new_container` (see
/// there).
pub async fn create_new_container<R: Runtime>(spec: ContainerSpec) -> Result<Container<R>> {
    let project = Project::discover(None)?;
    let socket = match &project {
        Some(p) => p.config().socket.clone(),
        None => load_config(None)?.socket,
    };
    Engine::<R>::detect_with(None, socket.as_deref())?
        .create_container_in(spec, project.as_ref())
        .await
}

/// `pocketdock.created-at` for now.
pub(crate) fn now_iso() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    format_timestamp(now.as_secs() as i64, now.subsec_micros())
}

/// Seconds since the epoch.
pub(crate) fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
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
        mut spec: ContainerSpec,
        project: Option<&Project>,
    ) -> Result<Container<R>> {
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
        let created = match CreateOp::with_labels(&spec, &labels) {
            Ok(op) => self.drive(op, |()| {}).await,
            Err(e) => Err(e),
        };
        let committed = match created {
            Ok(identity) => match stage.as_mut().map_or(Ok(()), |s| s.commit(&identity.id)) {
                Ok(()) => Ok(identity),
                Err(e) => {
                    let _ = self.call(calls::remove(&identity.id, true)).await;
                    Err(e)
                }
            },
            Err(e) => Err(e),
        };
        let mut identity = match committed {
            Ok(identity) => identity,
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
        identity.persist = spec.is_persistent();
        identity.project = spec.project.clone().unwrap_or_default();
        identity.data_path = labels.data_path.unwrap_or_default();
        let mut c = Container::from_identity(self, identity, true);
        c.instance_dir = instance_dir;
        c.log = log;
        Ok(c)
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
        self.handle_from_inspect(inspect)
    }

    /// A handle (not owned: never removed on drop) rebuilt from a container's inspect: name,
    /// persist flag, project and data path from the labels; the instance directory and its logs
    /// only when the data path passes [`checked_instance_dir`](crate::checked_instance_dir). The
    /// logs follow the settings of the instance's project (the defaults if they cannot be read).
    pub(crate) fn handle_from_inspect(&self, inspect: &ContainerInspect) -> Container<R> {
        let identity = Identity::from_inspect(inspect);
        let checked = (!identity.data_path.is_empty())
            .then(|| checked_instance_dir(&identity.data_path, &identity.name).ok())
            .flatten();
        let log = checked.as_ref().and_then(|(root, dir)| {
            let config = load_config(Some(root)).unwrap_or_default();
            InstanceLog::open(dir, &config)
        });
        let mut c = Container::from_identity(self, identity, false);
        c.instance_dir = checked.map(|(_, dir)| dir);
        c.log = log;
        c
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
        self.drive(InfoOp::new(id, now_unix()), |()| {}).await
    }
}
