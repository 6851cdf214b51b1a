//! Creating, finding and removing containers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pocketdock_proto::api::containers::{self, ContainerInspect, ListItem};
use pocketdock_proto::api::exec::IdResponse;
use pocketdock_proto::api::{check, strip_slash, Subject};
use pocketdock_proto::info::format_timestamp;
use pocketdock_proto::op::{CallOp, Response};
use pocketdock_proto::persistence::{apply_config, instance_metadata};
use pocketdock_proto::spec::{
    generate_name, validate_name, ContainerSpec, Labels, LABEL_INSTANCE, LABEL_MANAGED,
};
use pocketdock_proto::{Error, Result};

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
    /// [`Error::NameInUse`]; a container that fails to start is removed again.
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
        let created = self.create_raw(&spec, &labels).and_then(|id| {
            let key = id.clone();
            let started = self.call(CallOp::new(
                "start",
                &containers::start(&id),
                move |r: Response| check(&r, "start", Subject::Container(&key)),
            ));
            let committed = started.and_then(|()| match stage.as_mut() {
                Some(s) => s.commit(&id),
                None => Ok(()),
            });
            match committed {
                Ok(()) => Ok(id),
                Err(e) => {
                    let _ = remove_container_id(self, &id, true);
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
        Ok(self.handle_from_inspect(&inspect))
    }

    /// A handle (not owned: never removed on drop) rebuilt from a container's inspect: name,
    /// persist flag, project and data path from the labels; the instance directory and its logs
    /// only when the data path passes [`checked_instance_dir`](crate::checked_instance_dir). The
    /// logs follow the settings of the instance's project (the defaults if they cannot be read).
    pub(crate) fn handle_from_inspect(&self, inspect: &ContainerInspect) -> Container {
        let labels = Labels::from_map(&inspect.config.labels).unwrap_or_default();
        let name = if labels.instance.is_empty() {
            strip_slash(&inspect.name).to_string()
        } else {
            labels.instance.clone()
        };
        let checked = labels
            .data_path
            .as_deref()
            .and_then(|dp| checked_instance_dir(dp, &name).ok());
        let log = checked.as_ref().and_then(|(root, dir)| {
            let config = load_config(Some(root)).unwrap_or_default();
            InstanceLog::open(dir, &config)
        });
        Container {
            engine: self.clone(),
            id: inspect.id.clone(),
            name,
            persist: labels.persist,
            project: labels.project.unwrap_or_default(),
            data_path: labels.data_path.unwrap_or_default(),
            instance_dir: checked.map(|(_, dir)| dir),
            log,
            default_timeout: Some(DEFAULT_TIMEOUT),
            buffer_capacity: DEFAULT_BUFFER_CAPACITY,
            callbacks: Callbacks::default(),
            closed: false,
            owned: false,
        }
    }

    /// `POST /containers/create`; returns the id.
    pub(crate) fn create_raw(&self, spec: &ContainerSpec, labels: &Labels) -> Result<String> {
        let body = spec.checked_create_body(labels)?;
        let image = spec.resolved_image()?;
        self.call(CallOp::new(
            "create",
            &containers::create(Some(&labels.instance), &body),
            move |r: Response| {
                check(&r, "create", Subject::Image(&image))?;
                Ok(r.json::<IdResponse>("create")?.id)
            },
        ))
    }

    /// Inspect a container by id or engine name.
    pub fn inspect_container(&self, id_or_name: &str) -> Result<ContainerInspect> {
        let key = id_or_name.to_string();
        self.call(CallOp::new(
            "inspect",
            &containers::inspect(id_or_name),
            move |r: Response| {
                check(&r, "inspect", Subject::Container(&key))?;
                r.json("inspect")
            },
        ))
    }

    /// List containers carrying all of `labels` (`key=value`), stopped ones included.
    pub fn list_raw(&self, labels: &[String]) -> Result<Vec<ListItem>> {
        self.call(CallOp::new(
            "list",
            &containers::list(labels),
            |r: Response| {
                check(&r, "list", Subject::None)?;
                r.json("list")
            },
        ))
    }

    /// Find a pocketdock container by name: the engine name first, then (for containers made by
    /// the Python reference, which leaves the engine name alone) the `pocketdock.instance` label.
    /// Only containers labelled `pocketdock.managed=true` are found.
    pub fn find_container(&self, name: &str) -> Result<ContainerInspect> {
        match self.inspect_container(name) {
            Ok(c) if Labels::from_map(&c.config.labels).is_some() => return Ok(c),
            Ok(_) | Err(Error::ContainerNotFound(_)) => {}
            Err(e) => return Err(e),
        }
        let items = self.list_raw(&[
            format!("{LABEL_MANAGED}=true"),
            format!("{LABEL_INSTANCE}={name}"),
        ])?;
        match items.as_slice() {
            [one] => self.inspect_container(&one.id),
            [] => Err(Error::ContainerNotFound(name.to_string())),
            many => Err(Error::invalid(
                "name",
                format!(
                    "{} containers are labelled {LABEL_INSTANCE}={name}: {}",
                    many.len(),
                    many.iter()
                        .map(|i| i.names.first().map_or(i.id.as_str(), |n| strip_slash(n)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }
}

impl Engine {
    /// Remove a container by id or engine name.
    pub fn remove_container(&self, id_or_name: &str, force: bool) -> Result<()> {
        remove_container_id(self, id_or_name, force)
    }
}

impl Engine {
    /// The raw inspect JSON of a container.
    pub(crate) fn inspect_raw(&self, id: &str) -> Result<serde_json::Value> {
        let key = id.to_string();
        self.call(CallOp::new(
            "inspect",
            &containers::inspect(id),
            move |r: Response| {
                check(&r, "inspect", Subject::Container(&key))?;
                r.json("inspect")
            },
        ))
    }

    /// A live [`ContainerInfo`](pocketdock_proto::info::ContainerInfo) of a container.
    pub fn container_info(&self, id: &str) -> Result<pocketdock_proto::info::ContainerInfo> {
        use pocketdock_proto::api::stats;
        let inspect = self.inspect_container(id)?;
        let (mut sample, mut top) = (None, None);
        if inspect.state.running {
            let stats_call = |engine: &Engine| {
                let key = id.to_string();
                engine.call(CallOp::new(
                    "stats",
                    &stats::stats(id, true),
                    move |r: Response| stats::parse_stats(&r, &key),
                ))
            };
            let tolerate = |e: Error| match e {
                Error::ContainerNotRunning(_) => Ok(None),
                e => Err(e),
            };
            let first = stats_call(self).or_else(tolerate)?;
            std::thread::sleep(Duration::from_millis(250));
            let second = stats_call(self).or_else(tolerate)?;
            sample = match (first, second) {
                (Some(a), Some(b)) => Some(b.since(&a)),
                (_, b) => b,
            };
            let key = id.to_string();
            top = self
                .call(CallOp::new("top", &stats::top(id), move |r: Response| {
                    stats::parse_top(&r, &key)
                }))
                .map(Some)
                .or_else(|e| match e {
                    Error::ContainerNotRunning(_) => Ok(None),
                    e => Err(e),
                })?;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs_f64();
        Ok(pocketdock_proto::info::ContainerInfo::build(
            &inspect,
            sample.as_ref(),
            top.as_ref(),
            now,
        ))
    }
}
