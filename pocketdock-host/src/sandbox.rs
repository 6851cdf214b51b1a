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
use pocketdock_proto::limits::{enforce, LimitsOp, LimitsReport};
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
#[expect(
    clippy::cast_possible_wrap,
    reason = "seconds since 1970 stay below i64::MAX for billions of years"
)]
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
    /// What the sandbox was found to enforce right after its create (`None` for a container
    /// found on the engine).
    pub limits: Option<LimitsReport>,
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
            limits: None,
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
    if let Some(root) = root {
        return Project::open(root);
    }
    let root = find_project_root(None).ok_or(Error::ProjectNotInitialized)?;
    Project::open(&root)
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
    /// The container runs: read back what it enforces before handing it out.
    Verify(LimitsOp, Identity),
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
    limits: Option<LimitsReport>,
    allow_unenforced: bool,
    user: Option<String>,
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
    pub fn prepare(spec: ContainerSpec, project: Option<&Project>) -> Result<Self> {
        Self::prepare_labelled(spec, project, None)
    }

    /// [`prepare`](Self::prepare) a member of the warm pool `pool`: the container also carries
    /// the `pocketdock.pool` label (which a spec's own labels may not set, the `pocketdock.`
    /// prefix being reserved), by which the pool counts its members on the engine.
    pub fn prepare_in_pool(
        spec: ContainerSpec,
        project: Option<&Project>,
        pool: &str,
    ) -> Result<Self> {
        Self::prepare_labelled(spec, project, Some(pool))
    }

    fn prepare_labelled(
        mut spec: ContainerSpec,
        project: Option<&Project>,
        pool: Option<&str>,
    ) -> Result<Self> {
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
        labels.pool = pool.map(ToString::to_string);
        if !spec.is_persistent() && !spec.outlive_owner {
            labels.owner = crate::owner::current_owner().cloned();
        }
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
            limits: None,
            allow_unenforced: spec.allow_unenforced_limits,
            user: spec.user.clone(),
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
            limits: self.limits.take(),
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
                    Step::Done(Ok(identity)) => {
                        let probe = LimitsOp::new(
                            &identity.id,
                            self.user.clone(),
                            &crate::owner::owned_nonce(),
                        )
                        .with_warnings(op.warnings().to_vec());
                        self.flow = Flow::Verify(probe, identity);
                        continue;
                    }
                    Step::Done(Err(e)) => self.fail(e),
                },
                Flow::Verify(op, identity) => match op.poll(now) {
                    Step::Io(io) => return Step::Io(io),
                    Step::Event(()) => continue,
                    Step::Done(r) => {
                        let id = identity.id.clone();
                        let checked = r.and_then(|report| {
                            enforce(&report.unenforced, self.allow_unenforced)?;
                            Ok(report)
                        });
                        match checked {
                            Ok(report) => {
                                self.limits = Some(report);
                                let Flow::Verify(_, identity) =
                                    std::mem::replace(&mut self.flow, Flow::Finished)
                                else {
                                    continue;
                                };
                                match self.created(identity) {
                                    Some(step) => step,
                                    None => continue,
                                }
                            }
                            Err(e) => {
                                self.flow = Flow::Undo(calls::remove(&id, true), e);
                                continue;
                            }
                        }
                    }
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
            Flow::Verify(op, _) => op.handle_input(now, data),
            Flow::Undo(op, _) => op.handle_input(now, data),
            Flow::Finished => {}
        }
    }

    fn handle_eof(&mut self, now: Instant) {
        match &mut self.flow {
            Flow::Create(op) => op.handle_eof(now),
            Flow::Verify(op, _) => op.handle_eof(now),
            Flow::Undo(op, _) => op.handle_eof(now),
            Flow::Finished => {}
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match &mut self.flow {
            Flow::Create(op) => op.handle_timeout(now),
            Flow::Verify(op, _) => op.handle_timeout(now),
            Flow::Undo(op, _) => op.handle_timeout(now),
            Flow::Finished => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use pocketdock_proto::op::Io;

    use super::*;
    use crate::project::init_project;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "pd-sandbox-{tag}-{}-{:x}",
            std::process::id(),
            random_u64()
        ));
        let _ = std::fs::create_dir_all(&d);
        std::fs::canonicalize(&d).unwrap_or(d)
    }

    fn answer(status: &str, body: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    /// Drive `op` on virtual time: each request (after its head is written) gets the next of
    /// `answers` as (expected request line part, response bytes), in one read.
    fn drive<O: Operation>(mut op: O, answers: &[(&str, Vec<u8>)]) -> Result<O::Output> {
        let mut now = Instant::now();
        let (mut next, mut request, mut pending) = (0, Vec::new(), None::<Vec<u8>>);
        loop {
            now += Duration::from_millis(1);
            match op.poll(now) {
                Step::Done(r) => {
                    assert_eq!(next, answers.len(), "answers left unused");
                    return r;
                }
                Step::Io(Io::Connect) => request.clear(),
                Step::Io(Io::Write(b)) => {
                    request.extend_from_slice(&b);
                    if pending.is_none() && request.windows(4).any(|w| w == b"\r\n\r\n") {
                        let (line, bytes) = answers
                            .get(next)
                            .unwrap_or_else(|| panic!("unexpected request {next}"));
                        let text = String::from_utf8_lossy(&request);
                        assert!(text.contains(line), "request {next}: {text}");
                        pending = Some(bytes.clone());
                        next += 1;
                    }
                }
                Step::Io(Io::Read { .. }) => match pending.take() {
                    Some(bytes) => op.handle_input(now, &bytes),
                    None => op.handle_eof(now),
                },
                Step::Io(Io::Wait(t)) => op.handle_timeout(t),
                Step::Event(_) | Step::Io(Io::ShutdownWrite | Io::Close) => {}
            }
        }
    }

    fn project(tag: &str) -> (PathBuf, Project) {
        let base = tmp(tag);
        let root = init_project(Some(&base), Some("proj")).unwrap_or_else(|e| panic!("{e}"));
        let project = Project::open(&root).unwrap_or_else(|e| panic!("{e}"));
        (base, project)
    }

    fn spec() -> ContainerSpec {
        ContainerSpec::new()
            .image("pocketdock/busybox")
            .name("box")
            .persist(true)
    }

    /// A persistent container in a project: its instance directory is staged as pending before
    /// the create and names the new id after the start; the handle gets the directory.
    #[test]
    fn create_completes_the_instance_directory() {
        let (base, project) = project("create");
        let flow = CreateFlow::prepare(spec(), Some(&project)).unwrap_or_else(|e| panic!("{e}"));
        let dir = project
            .instance_dir("box")
            .unwrap_or_else(|e| panic!("{e}"));
        let pending = read_instance_metadata(&dir).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            pending.map(|m| m.container.id).as_deref(),
            Some(pocketdock_proto::project::instance::PENDING_ID)
        );
        let made = drive(
            flow,
            &[
                (
                    "POST /containers/create?name=box",
                    answer("201 Created", r#"{"Id":"c1"}"#),
                ),
                ("POST /containers/c1/start", answer("204 No Content", "")),
                (
                    "POST /containers/c1/exec",
                    answer("409 Conflict", r#"{"message":"container is not running"}"#),
                ),
                (
                    "GET /containers/c1/json",
                    answer("200 OK", r#"{"Id":"c1","HostConfig":{}}"#),
                ),
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(made.identity.id, "c1");
        let limits = made.limits.as_ref().expect("a limits report");
        assert!(
            !limits.verified && limits.probe_error.is_some(),
            "{limits:?}"
        );
        assert!(made.identity.persist);
        assert_eq!(made.identity.project, "proj");
        assert_eq!(made.identity.data_path, dir.display().to_string());
        assert_eq!(made.instance_dir.as_deref(), Some(dir.as_path()));
        let meta = read_instance_metadata(&dir).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(meta.map(|m| m.container.id).as_deref(), Some("c1"));
        let _ = std::fs::remove_dir_all(base);
    }

    /// A create that fails (the name is taken) leaves no instance directory behind.
    #[test]
    fn a_failed_create_rolls_the_directory_back() {
        let (base, project) = project("rollback");
        let flow = CreateFlow::prepare(spec(), Some(&project)).unwrap_or_else(|e| panic!("{e}"));
        let dir = project
            .instance_dir("box")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(dir.is_dir());
        let r = drive(
            flow,
            &[(
                "POST /containers/create?name=box",
                answer(
                    "409 Conflict",
                    r#"{"message":"the container name \"box\" is already in use"}"#,
                ),
            )],
        );
        assert!(matches!(r, Err(Error::NameInUse(_))), "{r:?}");
        assert!(!dir.exists(), "the staged directory is removed");
        let _ = std::fs::remove_dir_all(base);
    }

    /// A container that fails to start is removed again and the directory rolled back.
    #[test]
    fn a_failed_start_removes_the_container_and_the_directory() {
        let (base, project) = project("start");
        let flow = CreateFlow::prepare(spec(), Some(&project)).unwrap_or_else(|e| panic!("{e}"));
        let dir = project
            .instance_dir("box")
            .unwrap_or_else(|e| panic!("{e}"));
        let r = drive(
            flow,
            &[
                (
                    "POST /containers/create?name=box",
                    answer("201 Created", r#"{"Id":"c1"}"#),
                ),
                (
                    "POST /containers/c1/start",
                    answer(
                        "500 Internal Server Error",
                        r#"{"message":"oci runtime error"}"#,
                    ),
                ),
                (
                    "DELETE /containers/c1?force=true",
                    answer("204 No Content", ""),
                ),
            ],
        );
        assert!(matches!(r, Err(Error::Engine { status: 500, .. })), "{r:?}");
        assert!(!dir.exists());
        let _ = std::fs::remove_dir_all(base);
    }

    /// Outside a project nothing is staged, and an invalid spec fails before any engine call.
    #[test]
    fn outside_a_project_nothing_is_staged() {
        let made = drive(
            CreateFlow::prepare(spec().persist(false), None).unwrap_or_else(|e| panic!("{e}")),
            &[
                (
                    "POST /containers/create?name=box",
                    answer("201 Created", r#"{"Id":"c2"}"#),
                ),
                ("POST /containers/c2/start", answer("204 No Content", "")),
                (
                    "POST /containers/c2/exec",
                    answer("409 Conflict", r#"{"message":"container is not running"}"#),
                ),
                (
                    "GET /containers/c2/json",
                    answer("200 OK", r#"{"Id":"c2","HostConfig":{}}"#),
                ),
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (
                made.identity.id.as_str(),
                made.instance_dir,
                made.log.is_none()
            ),
            ("c2", None, true)
        );
        assert!(CreateFlow::prepare(spec().name("no spaces allowed"), None).is_err());
    }

    /// A limit the engine says it dropped fails the create: the container is removed again
    /// and the staged instance directory rolled back; allowed, it is only reported.
    #[test]
    fn a_dropped_limit_fails_the_create_unless_allowed() {
        let answers = |id: &str, remove: bool| {
            let mut a = vec![
                (
                    "POST /containers/create?name=box".to_string(),
                    answer(
                        "201 Created",
                        &format!(
                            r#"{{"Id":"{id}","Warnings":["Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap."]}}"#
                        ),
                    ),
                ),
                (
                    format!("POST /containers/{id}/start"),
                    answer("204 No Content", ""),
                ),
                (
                    format!("POST /containers/{id}/exec"),
                    answer("409 Conflict", r#"{"message":"container is not running"}"#),
                ),
                (
                    format!("GET /containers/{id}/json"),
                    answer(
                        "200 OK",
                        &format!(
                            r#"{{"Id":"{id}","HostConfig":{{"Memory":67108864,"MemorySwap":67108864}}}}"#
                        ),
                    ),
                ),
            ];
            if remove {
                a.push((
                    format!("DELETE /containers/{id}?force=true"),
                    answer("204 No Content", ""),
                ));
            }
            a
        };
        let (base, project) = project("dropped");
        let spec = spec().mem_limit("64m");
        let flow =
            CreateFlow::prepare(spec.clone(), Some(&project)).unwrap_or_else(|e| panic!("{e}"));
        let dir = project
            .instance_dir("box")
            .unwrap_or_else(|e| panic!("{e}"));
        let a = answers("c1", true);
        let a: Vec<(&str, Vec<u8>)> = a.iter().map(|(l, b)| (l.as_str(), b.clone())).collect();
        match drive(flow, &a) {
            Err(Error::LimitNotEnforced { limit, detail }) => {
                assert_eq!(limit, "swap");
                assert!(detail.contains("engine warning"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        assert!(!dir.exists(), "the staged directory is rolled back");
        let flow = CreateFlow::prepare(spec.allow_unenforced_limits(true), Some(&project))
            .unwrap_or_else(|e| panic!("{e}"));
        let a = answers("c2", false);
        let a: Vec<(&str, Vec<u8>)> = a.iter().map(|(l, b)| (l.as_str(), b.clone())).collect();
        let made = drive(flow, &a).unwrap_or_else(|e| panic!("{e}"));
        let limits = made.limits.unwrap_or_default();
        assert_eq!(limits.unenforced.len(), 1, "{limits:?}");
        assert_eq!(limits.unenforced[0].limit, "swap");
        assert_eq!(limits.warnings.len(), 1);
        let _ = std::fs::remove_dir_all(base);
    }

    /// The directory of a destroyed container goes only when it checks out; a label naming
    /// another directory is reported and left alone.
    #[test]
    fn destroy_plan_checks_the_data_path() {
        let (base, project) = project("destroy");
        let dir = project
            .instance_dir("box")
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(dir.join("logs")).unwrap_or_else(|e| panic!("{e}"));
        let inspect = |data_path: &str| -> ContainerInspect {
            let mut c = ContainerInspect {
                id: "c1".into(),
                name: "/box".into(),
                ..ContainerInspect::default()
            };
            for (k, v) in [
                ("pocketdock.managed", "true"),
                ("pocketdock.instance", "box"),
                ("pocketdock.data-path", data_path),
            ] {
                c.config.labels.insert(k.into(), v.into());
            }
            c
        };
        let elsewhere = tmp("elsewhere");
        let plan = DestroyPlan::new(&inspect(&elsewhere.display().to_string()));
        let report = plan.finish(Ok(())).unwrap_or_else(|e| panic!("{e}"));
        assert!(report.refused_data_path.is_some() && report.removed_dir.is_none());
        assert!(elsewhere.is_dir());
        // The engine's error stops it before the directory is touched.
        let plan = DestroyPlan::new(&inspect(&dir.display().to_string()));
        assert!(plan
            .finish(Err(Error::SocketCommunication("x".into())))
            .is_err());
        assert!(dir.is_dir());
        // A container already gone is fine: the directory goes.
        let plan = DestroyPlan::new(&inspect(&dir.display().to_string()));
        let report = plan
            .finish(Err(Error::ContainerNotFound("c1".into())))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.removed_dir.as_deref(), Some(dir.as_path()));
        assert!(!dir.exists());
        let _ = std::fs::remove_dir_all(base);
        let _ = std::fs::remove_dir_all(elsewhere);
    }
}
