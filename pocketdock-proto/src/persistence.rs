//! Persistent containers, the parts every adapter shares: the list item, the reports of
//! `destroy_container` and `doctor` (and the doctor's comparison itself), the label filter of
//! `list_containers`. The adapters make the engine calls and read the instance directories.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::api::containers::ListItem;
use crate::api::strip_slash;
use crate::error::{Error, Result};
use crate::profile::resolve_profile;
use crate::project::instance::{InstanceMetadata, PENDING_ID};
use crate::project::paths;
use crate::project::PocketDockConfig;
use crate::spec::{ContainerSpec, Labels, LABEL_MANAGED, LABEL_PROJECT};

/// Fill in what the spec leaves open from the config: the profile when neither an image nor a
/// profile is given, and the persist flag.
pub fn apply_config(spec: &mut ContainerSpec, config: &PocketDockConfig) -> Result<()> {
    if spec.image.is_none() && spec.profile.is_none() && !config.default_profile.is_empty() {
        resolve_profile(&config.default_profile).map_err(|e| Error::Config {
            path: "pocketdock.yaml".to_string(),
            detail: format!("default_profile: {e}"),
        })?;
        spec.profile = Some(config.default_profile.clone());
    }
    if spec.persist.is_none() {
        spec.persist = Some(config.default_persist);
    }
    Ok(())
}

/// The `instance.toml` of a container about to be created; `created_by` is the command line
/// of the creating process and `pid` its process id (provenance).
pub fn instance_metadata(
    spec: &ContainerSpec,
    name: &str,
    project: &str,
    created_at: &str,
    created_by: String,
    pid: u32,
) -> Result<InstanceMetadata> {
    let mut meta = InstanceMetadata::default();
    meta.container.name = name.to_string();
    meta.container.image = spec.resolved_image()?;
    meta.container.project = project.to_string();
    meta.container.created_at = created_at.to_string();
    meta.container.persist = true;
    meta.container.profile.clone_from(&spec.profile);
    meta.container.network = Some(spec.resolved_network()? != "none");
    meta.resources.mem_limit.clone_from(&spec.mem_limit);
    meta.resources.cpu_percent = spec.cpu_percent;
    meta.ports = spec
        .ports
        .iter()
        .map(|p| (p.host_port, p.container_port))
        .collect();
    meta.volumes = spec
        .volumes
        .iter()
        .map(|v| (v.host.clone(), v.container.clone()))
        .collect();
    meta.provenance.created_by = created_by;
    meta.provenance.pid = pid;
    Ok(meta)
}

/// Grace period of a graceful stop or restart before the engine kills PID 1.
///
/// PID 1 of a sandbox exits at once on `SIGTERM` (see [`crate::spec::default_cmd`]), and when it
/// exits every other process of the container is killed anyway, so a longer grace gives nothing to
/// the workload. It only matters when `SIGTERM` arrives before PID 1 has installed its trap (a stop
/// right after create: PID 1 of a namespace ignores signals it has no handler for); 2 s bounds that
/// case where the Python pocketdock's 10 s made every stop slow.
pub const STOP_GRACE_SECS: u32 = 2;

/// The engine call that shuts a container handle's container down: a persistent one is only
/// stopped (at once with `force`, else after [`STOP_GRACE_SECS`]), any other is removed.
pub fn shutdown_call(id: &str, persist: bool, force: bool) -> crate::op::CallOp<()> {
    if persist {
        crate::op::calls::stop(id, if force { 0 } else { STOP_GRACE_SECS })
    } else {
        crate::op::calls::remove(id, true)
    }
}

/// One pocketdock container as listed by `list_containers` (the Python pocketdock's
/// `ContainerListItem`, plus the full id and a few labels it did not surface).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerListItem {
    /// The first 12 characters of the engine id (as the Python pocketdock prints it).
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
    /// Label `pocketdock.profile` (`""` if absent; the Python pocketdock does not set it).
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

/// What `destroy_container` did.
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

/// What `doctor` found in a project (the Python pocketdock's three fields, plus more checks).
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

/// The label filters of `list_containers`: managed containers, of `project` when given.
pub fn list_filter(project: Option<&str>) -> Vec<String> {
    let mut labels = vec![format!("{LABEL_MANAGED}=true")];
    if let Some(p) = project {
        labels.push(format!("{LABEL_PROJECT}={p}"));
    }
    labels
}

impl DoctorReport {
    /// Compare a project's instance directories with its containers: `items` are the project's
    /// containers on the engine, `local` each instance directory name with what reading its
    /// `instance.toml` gave. The data path a container should carry is its instance directory
    /// under `root`.
    pub fn build(
        root: &Path,
        project: &str,
        items: &[ContainerListItem],
        local: &[(String, Result<Option<InstanceMetadata>>)],
    ) -> Self {
        let names: BTreeSet<&str> = local.iter().map(|(n, _)| n.as_str()).collect();
        let mut report = DoctorReport {
            root: root.to_path_buf(),
            project: project.to_string(),
            ..DoctorReport::default()
        };
        let mut engine: BTreeMap<String, &ContainerListItem> = BTreeMap::new();
        for item in items {
            engine.insert(item.name.clone(), item);
            if item.is_stopped() {
                report.stopped_containers.push(item.name.clone());
            }
            if !item.persist {
                if !names.contains(item.name.as_str()) {
                    report.ephemeral_containers.push(item.name.clone());
                }
                continue;
            }
            if !names.contains(item.name.as_str()) {
                report.orphaned_containers.push(item.name.clone());
                continue;
            }
            let expected = paths::instance_dir(root, &item.name)
                .ok()
                .map(|p| p.display().to_string());
            if expected.as_deref() != Some(item.data_path.as_str()) {
                report
                    .data_path_mismatches
                    .push((item.name.clone(), item.data_path.clone()));
            }
        }
        for (name, meta) in local {
            match (meta, engine.get(name)) {
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
        report
    }
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
        assert_eq!(list_filter(None), vec!["pocketdock.managed=true"]);
        assert_eq!(
            list_filter(Some("my-project")),
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
