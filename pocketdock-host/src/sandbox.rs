//! The host side of the container flows, the same in every adapter: what a container handle
//! learns from the host besides the engine (its instance directory and logs), and the host
//! steps around the engine calls (an instance directory staged for a create and rolled back if
//! the create fails, `instance.toml` kept in step after a recreate, a destroyed container's
//! directory removed only when it checks out, the doctor's view of a project).
//!
//! Adapters drive [`CreateFlow`] like any operation and call the rest between their engine calls.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pocketdock_proto::api::containers::ContainerInspect;
use pocketdock_proto::info::format_timestamp;
use pocketdock_proto::op::{calls, CallOp, CreateOp, Identity, Operation, Step};
use pocketdock_proto::persistence::{
    apply_config, instance_metadata, ContainerListItem, DestroyReport, DoctorReport,
};
use pocketdock_proto::project::config::PocketDockConfig;
use pocketdock_proto::spec::{generate_name, validate_name, ContainerSpec};
use pocketdock_proto::{Error, Result};

use crate::logging::InstanceLog;
use crate::project::{
    checked_instance_dir, data_path_exists, find_project_root, load_config, read_instance_metadata,
    write_instance_metadata, InstanceStage, Project,
};
use crate::random::random_u64;

/// `pocketdock.created-at` for now.
pub fn created_at_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    format_timestamp(now.as_secs() as i64, now.subsec_micros())
}

/// Seconds since the epoch, for a container's uptime.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

/// What a container handle holds besides its engine: who the container is, and its instance
/// directory and logs when it has them.
#[derive(Debug)]
pub struct Attached {
    /// Id, name, persist flag, project and data path.
    pub identity: Identity,
    /// The instance directory, once checked to be a real one of this container.
    pub instance_dir: Option<PathBuf>,
    /// The instance's logs (`None`: no instance directory, or `auto_log: false`).
    pub log: Option<InstanceLog>,
}

impl Attached {
    /// A container found on the engine: name, persist flag, project and data path from its
    /// labels; the instance directory and its logs only when the data path passes
    /// [`checked_instance_dir`]. The logs follow the settings of the instance's project (the
    /// defaults if they cannot be read).
    pub fn from_inspect(inspect: &ContainerInspect) -> Self {
        let identity = Identity::from_inspect(inspect);
        let checked = (!identity.data_path.is_empty())
            .then(|| checked_instance_dir(&identity.data_path, &identity.name).ok())
            .flatten();
        let log = checked.as_ref().and_then(|(root, dir)| {
            let config = load_config(Some(root)).unwrap_or_default();
            InstanceLog::open(dir, &config)
        });
        Self {
            identity,
            instance_dir: checked.map(|(_, dir)| dir),
            log,
        }
    }

    /// [`from_inspect`](Self::from_inspect) for a container being resumed: its logs' retention
    /// is applied now.
    pub fn resumed(inspect: &ContainerInspect) -> Self {
        let attached = Self::from_inspect(inspect);
        if let Some(log) = &attached.log {
            log.apply_retention();
        }
        attached
    }
}

/// The project containing the current directory and the socket its settings name (else the
/// install file's): where `create_new_container` creates.
pub fn current_project() -> Result<(Option<Project>, Option<String>)> {
    let project = Project::discover(None)?;
    let socket = match &project {
        Some(p) => p.config().socket.clone(),
        None => load_config(None)?.socket,
    };
    Ok((project, socket))
}

/// The project at `root`, else the one containing the current directory;
/// [`Error::ProjectNotInitialized`] when there is none.
pub fn project_at(root: Option<&Path>) -> Result<Project> {
    match root {
        Some(root) => Project::open(root),
        None => {
            let root = find_project_root(None).ok_or(Error::ProjectNotInitialized)?;
            Project::open(&root)
        }
    }
}

/// The doctor's report of `project` against `items`, its containers on the engine.
pub fn doctor_report(project: &Project, items: &[ContainerListItem]) -> Result<DoctorReport> {
    let mut local = Vec::new();
    for name in project.instance_names()? {
        let meta = read_instance_metadata(&project.instance_dir(&name)?);
        local.push((name, meta));
    }
    Ok(DoctorReport::build(
        project.root(),
        project.name(),
        items,
        &local,
    ))
}

/// After a recreate, keep `instance.toml` in `instance_dir` naming the new `id` (best effort).
pub fn record_new_id(instance_dir: Option<&Path>, id: &str) {
    if let Some(dir) = instance_dir {
        if let Ok(Some(mut meta)) = read_instance_metadata(dir) {
            meta.container.id = id.to_string();
            let _ = write_instance_metadata(dir, &meta);
        }
    }
}

/// Destroying a container: what to do with its instance directory is decided from its labels
/// before it is removed, and done after.
#[derive(Debug)]
pub struct DestroyPlan {
    report: DestroyReport,
    target: Option<PathBuf>,
}

impl DestroyPlan {
    /// The plan for the inspected container: its directory is removed only when its
    /// `pocketdock.data-path` label names a real instance directory of this container; any
    /// other value is reported as refused; a directory that no longer exists is not an error.
    pub fn new(inspect: &ContainerInspect) -> Self {
        let identity = Identity::from_inspect(inspect);
        let mut report = DestroyReport {
            id: inspect.id.clone(),
            name: identity.name.clone(),
            ..DestroyReport::default()
        };
        let dp = identity.data_path.as_str();
        let target = if dp.is_empty() || !data_path_exists(dp) {
            None
        } else {
            match checked_instance_dir(dp, &identity.name) {
                Ok((_, dir)) => Some(dir),
                Err(e) => {
                    report.refused_data_path = Some(format!("{dp}: {e}"));
                    None
                }
            }
        };
        Self { report, target }
    }

    /// The container's removal went as `removed` says (a container gone already is fine):
    /// remove the directory and give the report.
    pub fn finish(mut self, removed: Result<()>) -> Result<DestroyReport> {
        match removed {
            Ok(()) | Err(Error::ContainerNotFound(_)) => {}
            Err(e) => return Err(e),
        }
        if let Some(dir) = self.target {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::HostPath {
                path: dir.display().to_string(),
                detail: e.to_string(),
            })?;
            self.report.removed_dir = Some(dir);
        }
        Ok(self.report)
    }
}

enum Flow {
    Create(CreateOp),
    /// The container exists but its instance directory could not be completed: remove it,
    /// then fail with the error.
    Undo(CallOp<()>, Error),
    Finished,
}

/// Create and start a sandbox with a project's settings: [`CreateOp`] between the host steps.
///
/// The project's `default_profile` and `default_persist` fill in what the spec leaves open. A
/// persistent container whose spec names no project, or names this one, gets the label
/// `pocketdock.project` and an instance directory `<root>/.pocketdock/instances/<name>/`,
/// named in its `pocketdock.data-path` label: `instance.toml` is written with the id
/// `(pending)` before the engine create and completed after it, and the directory is rolled
/// back when the create or start fails (a container whose directory cannot be completed is
/// removed again). The output is the new container with its logs.
pub struct CreateFlow {
    flow: Flow,
    stage: Option<InstanceStage>,
    config: PocketDockConfig,
    persist: bool,
    project: String,
    data_path: String,
}

impl std::fmt::Debug for CreateFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateFlow")
            .field("stage", &self.stage)
            .field("persist", &self.persist)
            .finish_non_exhaustive()
    }
}

impl CreateFlow {
    /// Check `spec` with the settings of `project` (`None`: outside any project; the
    /// install-level config still applies) and stage its instance directory. Nothing is asked
    /// of the engine yet.
    pub fn prepare(mut spec: ContainerSpec, project: Option<&Project>) -> Result<Self> {
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
        let created_at = created_at_now();
        let mut labels = spec.labels_for(&name, &created_at);
        let stage = match home {
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
        let op = match CreateOp::with_labels(&spec, &labels) {
            Ok(op) => op,
            Err(e) => {
                if let Some(s) = stage {
                    s.rollback();
                }
                return Err(e);
            }
        };
        Ok(Self {
            flow: Flow::Create(op),
            stage,
            config,
            persist: spec.is_persistent(),
            project: spec.project.clone().unwrap_or_default(),
            data_path: labels.data_path.unwrap_or_default(),
        })
    }

    fn fail(&mut self, e: Error) -> Step<(), Attached> {
        self.flow = Flow::Finished;
        if let Some(s) = self.stage.take() {
            s.rollback();
        }
        Step::Done(Err(e))
    }

    /// The container runs: complete its instance directory and finish, or (`None`) go on to
    /// remove it when the directory cannot be completed.
    fn created(&mut self, mut identity: Identity) -> Option<Step<(), Attached>> {
        if let Some(Err(e)) = self.stage.as_mut().map(|s| s.commit(&identity.id)) {
            self.flow = Flow::Undo(calls::remove(&identity.id, true), e);
            return None;
        }
        self.flow = Flow::Finished;
        let instance_dir = self.stage.take().map(|s| s.dir);
        let log = instance_dir
            .as_deref()
            .and_then(|d| InstanceLog::open(d, &self.config));
        if let Some(log) = &log {
            log.apply_retention();
        }
        identity.persist = self.persist;
        identity.project = std::mem::take(&mut self.project);
        identity.data_path = std::mem::take(&mut self.data_path);
        Some(Step::Done(Ok(Attached {
            identity,
            instance_dir,
            log,
        })))
    }
}

impl Operation for CreateFlow {
    type Event = ();
    type Output = Attached;

    fn poll(&mut self, now: Instant) -> Step<(), Attached> {
        loop {
            return match &mut self.flow {
                Flow::Create(op) => match op.poll(now) {
                    Step::Io(io) => return Step::Io(io),
                    Step::Event(()) => continue,
                    Step::Done(Ok(identity)) => match self.created(identity) {
                        Some(step) => step,
                        None => continue,
                    },
                    Step::Done(Err(e)) => self.fail(e),
                },
                Flow::Undo(op, _) => match op.poll(now) {
                    Step::Io(io) => return Step::Io(io),
                    Step::Event(()) => continue,
                    Step::Done(_) => {
                        let Flow::Undo(_, e) = std::mem::replace(&mut self.flow, Flow::Finished)
                        else {
                            continue;
                        };
                        self.fail(e)
                    }
                },
                Flow::Finished => Step::Done(Err(Error::SocketCommunication(
                    "operation polled after completion".into(),
                ))),
            };
        }
    }

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        match &mut self.flow {
            Flow::Create(op) => op.handle_input(now, data),
            Flow::Undo(op, _) => op.handle_input(now, data),
            Flow::Finished => {}
        }
    }

    fn handle_eof(&mut self, now: Instant) {
        match &mut self.flow {
            Flow::Create(op) => op.handle_eof(now),
            Flow::Undo(op, _) => op.handle_eof(now),
            Flow::Finished => {}
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match &mut self.flow {
            Flow::Create(op) => op.handle_timeout(now),
            Flow::Undo(op, _) => op.handle_timeout(now),
            Flow::Finished => {}
        }
    }
}
