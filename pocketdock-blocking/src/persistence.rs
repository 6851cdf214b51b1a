//! Persistent containers: resume, list, stop, destroy, prune, and the project doctor.
//!
//! Every function exists twice: as an [`Engine`] method (the caller picks the socket) and as a
//! free function that finds the engine like the CLI does (`POCKETDOCK_SOCKET`, then the `socket:`
//! of the current project or install config, then auto-detection).
//!
//! Containers are found by name: the engine's container name first, then the label
//! `pocketdock.instance` for containers made by the Python reference (which leaves the engine
//! name alone); only containers labelled `pocketdock.managed=true` count, and a name carried by
//! several labelled containers is refused rather than guessed (inventory §7.1 item 8).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use pocketdock_proto::api::containers::{self, ListItem};
use pocketdock_proto::api::{check, strip_slash, Subject};
use pocketdock_proto::op::{CallOp, Response};
use pocketdock_proto::project::instance::PENDING_ID;
use pocketdock_proto::project::paths;
use pocketdock_proto::spec::{Labels, LABEL_MANAGED, LABEL_PROJECT};
use pocketdock_proto::{Error, Result};

use crate::container::{remove_container_id, stop_container_id, Container};
use crate::engine::Engine;
use crate::project::{
    checked_instance_dir, data_path_exists, default_engine, find_project_root,
    read_instance_metadata, Project,
};

/// Grace period of [`Engine::stop_container`] before the engine kills (as the reference).
pub const STOP_GRACE_SECS: u32 = 10;

/// One pocketdock container as listed by [`list_containers`] (the reference's
/// `ContainerListItem`, plus the full id and a few labels it did not surface).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerListItem {
    /// The first 12 characters of the engine id (as the reference prints it).
    pub id: String,
    /// The full engine id, usable with every engine call.
    pub full_id: String,
    /// The pocketdock name: label `pocketdock.instance`, else the engine name.
    pub name: String,
    /// The engine state: `running`, `exited`, `created`, `paused`, ... (`unknown` if absent).
    pub status: String,
    /// The image reference.
    pub image: String,
    /// Label `pocketdock.created-at` (`""` if absent).
    pub created_at: String,
    /// Label `pocketdock.persist` is `true` (any case).
    pub persist: bool,
    /// Label `pocketdock.project` (`""` if absent).
    pub project: String,
    /// Label `pocketdock.data-path` (`""` if absent; not checked).
    pub data_path: String,
    /// Label `pocketdock.profile` (`""` if absent; the reference does not set it).
    pub profile: String,
    /// The engine's container name, without the leading `/` (`""` if absent).
    pub engine_name: String,
}

impl ContainerListItem {
    /// Build an item from one row of `GET /containers/json`.
    pub fn from_list_item(item: &ListItem) -> Self {
        let labels = Labels::from_map(&item.labels).unwrap_or_default();
        let engine_name = item
            .names
            .first()
            .map(|n| strip_slash(n).to_string())
            .unwrap_or_default();
        Self {
            id: item.id.chars().take(12).collect(),
            full_id: item.id.clone(),
            name: if labels.instance.is_empty() {
                engine_name.clone()
            } else {
                labels.instance
            },
            status: if item.state.is_empty() {
                "unknown".to_string()
            } else {
                item.state.to_ascii_lowercase()
            },
            image: item.image.clone(),
            created_at: labels.created_at,
            persist: labels.persist,
            project: labels.project.unwrap_or_default(),
            data_path: labels.data_path.unwrap_or_default(),
            profile: labels.profile.unwrap_or_default(),
            engine_name,
        }
    }

    /// True for a container that is not running and can be removed without force.
    pub fn is_stopped(&self) -> bool {
        !matches!(
            self.status.as_str(),
            "running" | "paused" | "restarting" | "removing" | "stopping"
        )
    }
}

/// What [`destroy_container`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestroyReport {
    /// The removed container's full id.
    pub id: String,
    /// Its pocketdock name.
    pub name: String,
    /// The instance directory that was deleted, if any.
    pub removed_dir: Option<PathBuf>,
    /// A `pocketdock.data-path` label that was *not* acted on because it does not name a real
    /// instance directory of this container, with the reason. Nothing on the host was touched.
    pub refused_data_path: Option<String>,
}

/// What [`doctor`] found in a project (the reference's three fields, plus more checks).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DoctorReport {
    /// The project root.
    pub root: PathBuf,
    /// The project name.
    pub project: String,
    /// Persistent containers of the project without an instance directory, sorted.
    pub orphaned_containers: Vec<String>,
    /// Instance directories without a container, sorted.
    pub stale_instance_dirs: Vec<String>,
    /// Instance directories with their container.
    pub healthy: usize,
    /// Instance directories whose `instance.toml` still says `(pending)`: a create that was
    /// interrupted (sorted; they are usually also stale).
    pub pending_instance_dirs: Vec<String>,
    /// Instance directories whose `instance.toml` is missing or unreadable, with the reason.
    pub unreadable_metadata: Vec<(String, String)>,
    /// Containers whose `instance.toml` records another container id (e.g. recreated by another
    /// tool), sorted.
    pub id_mismatches: Vec<String>,
    /// Containers whose `pocketdock.data-path` label is not their instance directory in this
    /// project, with the label value.
    pub data_path_mismatches: Vec<(String, String)>,
    /// Non-persistent containers labelled with the project (not orphans: they never get an
    /// instance directory), sorted.
    pub ephemeral_containers: Vec<String>,
    /// Containers of the project that are not running, sorted.
    pub stopped_containers: Vec<String>,
}

impl DoctorReport {
    /// True when nothing needs attention (stopped and ephemeral containers are fine).
    pub fn is_healthy(&self) -> bool {
        self.orphaned_containers.is_empty()
            && self.stale_instance_dirs.is_empty()
            && self.pending_instance_dirs.is_empty()
            && self.unreadable_metadata.is_empty()
            && self.id_mismatches.is_empty()
            && self.data_path_mismatches.is_empty()
    }

    /// One human-readable line per problem.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for n in &self.orphaned_containers {
            out.push(format!("container {n} has no instance directory"));
        }
        for n in &self.stale_instance_dirs {
            out.push(format!("instance directory {n} has no container"));
        }
        for n in &self.pending_instance_dirs {
            out.push(format!(
                "instance directory {n} is from an interrupted create (id still {PENDING_ID})"
            ));
        }
        for (n, why) in &self.unreadable_metadata {
            out.push(format!("instance directory {n}: {why}"));
        }
        for n in &self.id_mismatches {
            out.push(format!("instance.toml of {n} records another container id"));
        }
        for (n, label) in &self.data_path_mismatches {
            out.push(format!(
                "container {n} has data-path {label:?}, not its instance directory"
            ));
        }
        out
    }
}

fn filter_labels(project: Option<&str>) -> Vec<String> {
    let mut labels = vec![format!("{LABEL_MANAGED}=true")];
    if let Some(p) = project {
        labels.push(format!("{LABEL_PROJECT}={p}"));
    }
    labels
}

impl Engine {
    /// A handle on the pocketdock container `name`, started first if it is not running. The
    /// handle's persist flag, project and instance directory come from the labels (the
    /// instance directory only if it checks out); its logs continue in that directory. Dropping
    /// the handle leaves the container alone.
    pub fn resume_container(&self, name: &str) -> Result<Container> {
        let inspect = self.find_container(name)?;
        if !inspect.state.running {
            let key = inspect.id.clone();
            self.call(CallOp::new(
                "start",
                &containers::start(&inspect.id),
                move |r: Response| check(&r, "start", Subject::Container(&key)),
            ))?;
        }
        let c = self.handle_from_inspect(&inspect);
        if let Some(log) = &c.log {
            log.apply_retention();
        }
        Ok(c)
    }

    /// The pocketdock containers (label `pocketdock.managed=true`), stopped ones included, only
    /// those of `project` when given.
    pub fn list_containers(&self, project: Option<&str>) -> Result<Vec<ContainerListItem>> {
        Ok(self
            .list_raw(&filter_labels(project))?
            .iter()
            .map(ContainerListItem::from_list_item)
            .collect())
    }

    /// Stop the pocketdock container `name` (SIGTERM, then SIGKILL after
    /// [`STOP_GRACE_SECS`]); a stopped container is fine.
    pub fn stop_container(&self, name: &str) -> Result<()> {
        let inspect = self.find_container(name)?;
        stop_container_id(self, &inspect.id, STOP_GRACE_SECS)
    }

    /// Remove the pocketdock container `name` (forced, running or not) and delete its instance
    /// directory, but only when its `pocketdock.data-path` label names a real instance directory
    /// of a pocketdock project that belongs to this container (see
    /// [`checked_instance_dir`](crate::checked_instance_dir)). Any other label value is left
    /// alone and reported in [`DestroyReport::refused_data_path`]; a label naming a directory
    /// that no longer exists is not an error.
    pub fn destroy_container(&self, name: &str) -> Result<DestroyReport> {
        let inspect = self.find_container(name)?;
        let labels = Labels::from_map(&inspect.config.labels).unwrap_or_default();
        let pd_name = if labels.instance.is_empty() {
            strip_slash(&inspect.name).to_string()
        } else {
            labels.instance.clone()
        };
        let mut report = DestroyReport {
            id: inspect.id.clone(),
            name: pd_name.clone(),
            ..DestroyReport::default()
        };
        // Decide about the directory before removing anything, so the check sees the labels.
        let target = match labels.data_path.as_deref() {
            None => None,
            Some(dp) if !data_path_exists(dp) => None,
            Some(dp) => match checked_instance_dir(dp, &pd_name) {
                Ok((_, dir)) => Some(dir),
                Err(e) => {
                    report.refused_data_path = Some(format!("{dp}: {e}"));
                    None
                }
            },
        };
        match remove_container_id(self, &inspect.id, true) {
            Ok(()) | Err(Error::ContainerNotFound(_)) => {}
            Err(e) => return Err(e),
        }
        if let Some(dir) = target {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::HostPath {
                path: dir.display().to_string(),
                detail: e.to_string(),
            })?;
            report.removed_dir = Some(dir);
        }
        Ok(report)
    }

    /// Remove the stopped pocketdock containers (exited, created, dead), only those of `project`
    /// when given; returns how many were removed. Running and paused containers are kept: the
    /// removal is not forced, so a container started meanwhile survives. Instance directories
    /// are kept (their history stays; [`doctor`](Self::doctor) reports them as stale).
    pub fn prune(&self, project: Option<&str>) -> Result<usize> {
        let mut removed = 0;
        for item in self.list_containers(project)? {
            if !item.is_stopped() {
                continue;
            }
            match remove_container_id(self, &item.full_id, false) {
                Ok(()) => removed += 1,
                // Gone meanwhile, or running again (409): not ours to remove.
                Err(
                    Error::ContainerNotFound(_)
                    | Error::ContainerNotRunning(_)
                    | Error::Engine { status: 409, .. },
                ) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }

    /// Compare the instance directories of the project at `project_root` (the project containing
    /// the current directory when `None`) with its containers on this engine.
    /// [`Error::ProjectNotInitialized`] when there is no project.
    pub fn doctor(&self, project_root: Option<&Path>) -> Result<DoctorReport> {
        let project = match project_root {
            Some(root) => Project::open(root)?,
            None => Project::discover(None)?.ok_or(Error::ProjectNotInitialized)?,
        };
        self.doctor_project(&project)
    }

    /// [`doctor`](Self::doctor) for an opened project.
    pub fn doctor_project(&self, project: &Project) -> Result<DoctorReport> {
        let local: BTreeSet<String> = project.instance_names()?.into_iter().collect();
        let items = self.list_containers(Some(project.name()))?;
        let mut report = DoctorReport {
            root: project.root().to_path_buf(),
            project: project.name().to_string(),
            ..DoctorReport::default()
        };
        let mut engine: BTreeMap<String, &ContainerListItem> = BTreeMap::new();
        for item in &items {
            engine.insert(item.name.clone(), item);
            if item.is_stopped() {
                report.stopped_containers.push(item.name.clone());
            }
            if !item.persist {
                if !local.contains(&item.name) {
                    report.ephemeral_containers.push(item.name.clone());
                }
                continue;
            }
            if !local.contains(&item.name) {
                report.orphaned_containers.push(item.name.clone());
                continue;
            }
            let expected = paths::instance_dir(project.root(), &item.name)
                .ok()
                .map(|p| p.display().to_string());
            if expected.as_deref() != Some(item.data_path.as_str()) {
                report
                    .data_path_mismatches
                    .push((item.name.clone(), item.data_path.clone()));
            }
        }
        for name in &local {
            let dir = project.instance_dir(name)?;
            let meta = read_instance_metadata(&dir);
            match (&meta, engine.get(name)) {
                (Ok(Some(m)), _) if m.container.id == PENDING_ID => {
                    report.pending_instance_dirs.push(name.clone());
                }
                (Ok(Some(m)), Some(item))
                    if !m.container.id.is_empty() && m.container.id != item.full_id =>
                {
                    report.id_mismatches.push(name.clone());
                }
                (Ok(None), _) => report
                    .unreadable_metadata
                    .push((name.clone(), "no instance.toml".to_string())),
                (Err(e), _) => report
                    .unreadable_metadata
                    .push((name.clone(), e.to_string())),
                _ => {}
            }
            if engine.contains_key(name) {
                report.healthy += 1;
            } else {
                report.stale_instance_dirs.push(name.clone());
            }
        }
        Ok(report)
    }
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
    let root = match project_root {
        Some(r) => r.to_path_buf(),
        None => find_project_root(None).ok_or(Error::ProjectNotInitialized)?,
    };
    let project = Project::open(&root)?;
    project.engine()?.doctor_project(&project)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(json: &str) -> ContainerListItem {
        let li: ListItem = serde_json::from_str(json).unwrap_or_default();
        ContainerListItem::from_list_item(&li)
    }

    #[test]
    fn list_item_fields() {
        let full = item(
            r#"{"Id":"abc123def45678","Names":["/engine-name"],"Image":"img","State":"running",
               "Labels":{"pocketdock.managed":"true","pocketdock.instance":"pd-test",
               "pocketdock.persist":"True","pocketdock.created-at":"2026-01-01T00:00:00+00:00",
               "pocketdock.project":"my-project"}}"#,
        );
        assert_eq!(full.id, "abc123def456");
        assert_eq!(full.full_id, "abc123def45678");
        assert_eq!(full.name, "pd-test");
        assert_eq!(full.engine_name, "engine-name");
        assert_eq!(full.status, "running");
        assert_eq!(full.image, "img");
        assert!(full.persist);
        assert_eq!(full.created_at, "2026-01-01T00:00:00+00:00");
        assert_eq!(full.project, "my-project");
        assert!(!full.is_stopped());

        let bare = item(r#"{"Id":"x","Names":["/docker-name"],"State":"exited","Labels":null}"#);
        assert_eq!(bare.name, "docker-name");
        assert!(!bare.persist);
        assert_eq!(bare.created_at, "");
        assert_eq!(bare.project, "");
        assert!(bare.is_stopped());

        let empty = item("{}");
        assert_eq!(
            (
                empty.id.as_str(),
                empty.name.as_str(),
                empty.status.as_str()
            ),
            ("", "", "unknown")
        );
        let nulls = item(r#"{"Labels":null,"Names":null}"#);
        assert_eq!(nulls.name, "");
        let not_persist =
            item(r#"{"Labels":{"pocketdock.managed":"true","pocketdock.persist":"false"}}"#);
        assert!(!not_persist.persist);
    }

    #[test]
    fn filters() {
        assert_eq!(filter_labels(None), vec!["pocketdock.managed=true"]);
        assert_eq!(
            filter_labels(Some("my-project")),
            vec!["pocketdock.managed=true", "pocketdock.project=my-project"]
        );
    }

    #[test]
    fn report_health() {
        let mut r = DoctorReport::default();
        assert!(r.is_healthy());
        r.stopped_containers.push("a".into());
        r.ephemeral_containers.push("b".into());
        assert!(r.is_healthy());
        r.stale_instance_dirs.push("c".into());
        assert!(!r.is_healthy());
        assert_eq!(r.problems(), vec!["instance directory c has no container"]);
    }
}
