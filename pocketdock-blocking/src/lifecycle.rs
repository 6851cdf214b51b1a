//! Creating, finding and removing containers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pocketdock_proto::api::containers::{self, ContainerInspect, ListItem};
use pocketdock_proto::api::exec::IdResponse;
use pocketdock_proto::api::{check, strip_slash, Subject};
use pocketdock_proto::info::format_timestamp;
use pocketdock_proto::op::{CallOp, Response};
use pocketdock_proto::spec::{generate_name, ContainerSpec, Labels, LABEL_INSTANCE, LABEL_MANAGED};
use pocketdock_proto::{Error, Result};

use crate::callbacks::Callbacks;
use crate::container::{remove_container_id, Container, DEFAULT_BUFFER_CAPACITY};
use crate::engine::{random_u64, Engine};

/// Default timeout of `run` on a new container (the reference's 30 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Create and start a sandbox on the auto-detected engine.
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
    Engine::detect()?.create_container(spec)
}

/// `pocketdock.created-at` for now.
pub(crate) fn now_iso() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    format_timestamp(now.as_secs() as i64, now.subsec_micros())
}

impl Engine {
    /// Create and start a sandbox on this engine. The spec is checked before any engine call;
    /// a taken name is [`Error::NameInUse`]; a container that fails to start is removed again.
    pub fn create_container(&self, spec: ContainerSpec) -> Result<Container> {
        spec.validate()?;
        let name = spec
            .name
            .clone()
            .unwrap_or_else(|| generate_name(random_u64()));
        let labels = spec.labels_for(&name, &now_iso());
        let id = self.create_raw(&spec, &labels)?;
        let key = id.clone();
        let started = self.call(CallOp::new(
            "start",
            &containers::start(&id),
            move |r: Response| check(&r, "start", Subject::Container(&key)),
        ));
        if let Err(e) = started {
            let _ = remove_container_id(self, &id, true);
            return Err(e);
        }
        Ok(Container {
            engine: self.clone(),
            id,
            name,
            persist: spec.persist,
            project: spec.project.clone().unwrap_or_default(),
            data_path: String::new(),
            default_timeout: Some(DEFAULT_TIMEOUT),
            buffer_capacity: DEFAULT_BUFFER_CAPACITY,
            callbacks: Callbacks::default(),
            closed: false,
            owned: true,
        })
    }

    /// A handle on an existing pocketdock container, found by name (see
    /// [`find_container`](Self::find_container)). It does not start a stopped container, and
    /// dropping it leaves the container alone.
    pub fn attach(&self, name: &str) -> Result<Container> {
        let inspect = self.find_container(name)?;
        let labels = Labels::from_map(&inspect.config.labels).unwrap_or_default();
        Ok(Container {
            engine: self.clone(),
            id: inspect.id.clone(),
            name: if labels.instance.is_empty() {
                strip_slash(&inspect.name).to_string()
            } else {
                labels.instance.clone()
            },
            persist: labels.persist,
            project: labels.project.unwrap_or_default(),
            data_path: labels.data_path.unwrap_or_default(),
            default_timeout: Some(DEFAULT_TIMEOUT),
            buffer_capacity: DEFAULT_BUFFER_CAPACITY,
            callbacks: Callbacks::default(),
            closed: false,
            owned: false,
        })
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
