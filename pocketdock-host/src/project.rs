//! Projects: `.pocketdock/` on disk, the settings of `pocketdock.yaml`, and instance directories.
//!
//! The file formats, defaults and path rules live in [`pocketdock_proto::project`]; this module
//! reads and writes the files.
//!
//! # Settings and their precedence
//!
//! [`load_config`] layers the built-in defaults, the install file
//! `~/.pocketdock/pocketdock.yaml` and the project file `<root>/.pocketdock/pocketdock.yaml`, key
//! by key. A broken file is an [`Error::Config`] naming the file and the key, never silently
//! ignored. What the settings do:
//!
//! * `socket`: used to find the engine after an explicit socket and `POCKETDOCK_SOCKET`
//!   ([`configured_socket`]; each adapter's `Engine::detect_with`);
//! * `default_profile`, `default_persist`: used by `create` when the spec names neither an image
//!   nor a profile, or does not say whether to persist;
//! * `auto_log`, `max_log_size`, `max_logs_per_instance`, `retention_days`: the logs of persistent
//!   containers of the project (see the `logging` module).
//!
//! # Instance directories
//!
//! A persistent container created in a project gets `<root>/.pocketdock/instances/<name>/` with
//! `instance.toml`, `data/` and `logs/`; its label `pocketdock.data-path` holds the directory's
//! canonical path. A directory named by a label is only ever written to or deleted after
//! [`checked_instance_dir`] has confirmed it is a real instance directory of a real project,
//! belonging to that container.

use std::io::Write;
use std::path::{Path, PathBuf};

use pocketdock_proto::project::config::{project_name_or, template, ConfigLayer};
use pocketdock_proto::project::history::{parse_lines, HistoryEntry};
use pocketdock_proto::project::instance::InstanceMetadata;
use pocketdock_proto::project::paths::{
    self, check_instance_dir, config_path, install_config_path, instances_dir, split_instance_dir,
};
use pocketdock_proto::project::PocketDockConfig;
use pocketdock_proto::{Error, Result};

/// The current directory, resolved (symlinks followed).
fn current_dir() -> Result<PathBuf> {
    let cwd = std::env::current_dir()?;
    Ok(std::fs::canonicalize(&cwd).unwrap_or(cwd))
}

/// `path` resolved (symlinks followed), or made absolute against the current directory when it
/// does not exist.
fn resolve(path: &Path) -> Result<PathBuf> {
    match std::fs::canonicalize(path) {
        Ok(p) => Ok(p),
        Err(_) if path.is_absolute() => Ok(path.to_path_buf()),
        Err(_) => Ok(current_dir()?.join(path)),
    }
}

fn host_err(path: &Path, e: &std::io::Error) -> Error {
    Error::HostPath {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

/// Walk up from `start` (the current directory when `None`; symlinks resolved) to the first
/// directory holding the *file* `.pocketdock/pocketdock.yaml`. A bare `.pocketdock/` directory
/// does not count.
///
/// ```no_run
/// if let Some(root) = pocketdock_host::project::find_project_root(None) {
///     println!("project at {}", root.display());
/// }
/// ```
pub fn find_project_root(start: Option<&Path>) -> Option<PathBuf> {
    let start = match start {
        Some(p) => resolve(p).ok()?,
        None => current_dir().ok()?,
    };
    paths::find_project_root(&start, Path::is_file)
}

/// Make `path` (the current directory when `None`) a project: create `.pocketdock/`, write the
/// template `pocketdock.yaml` unless one exists (an existing file is never overwritten), and
/// create `.pocketdock/instances/`. The project name defaults to the directory name. Returns the
/// project root (resolved).
pub fn init_project(path: Option<&Path>, project_name: Option<&str>) -> Result<PathBuf> {
    let root = match path {
        Some(p) => {
            std::fs::create_dir_all(p).map_err(|e| host_err(p, &e))?;
            resolve(p)?
        }
        None => current_dir()?,
    };
    let dir_name = root
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("pocketdock")
        .to_string();
    let name = project_name.filter(|n| !n.is_empty()).unwrap_or(&dir_name);
    let pd = paths::pocketdock_dir(&root);
    std::fs::create_dir_all(&pd).map_err(|e| host_err(&pd, &e))?;
    let yaml = config_path(&root);
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&yaml)
    {
        Ok(mut f) => f
            .write_all(template(name).as_bytes())
            .map_err(|e| host_err(&yaml, &e))?,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(host_err(&yaml, &e)),
    }
    let inst = instances_dir(&root);
    std::fs::create_dir_all(&inst).map_err(|e| host_err(&inst, &e))?;
    Ok(root)
}

/// The project's name: `project_name` of its `pocketdock.yaml` when that is a non-empty string,
/// else the directory name (as the Python pocketdock).
pub fn get_project_name(root: &Path) -> String {
    let yaml = std::fs::read_to_string(config_path(root)).ok();
    let dir_name = root
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    project_name_or(yaml.as_deref(), dir_name)
}

/// The install-level config file, `$HOME/.pocketdock/pocketdock.yaml`, if `HOME` is set.
pub fn install_config_file() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| install_config_path(Path::new(&h)))
}

fn read_layer(path: &Path) -> Result<Option<ConfigLayer>> {
    match std::fs::read_to_string(path) {
        Ok(text) => ConfigLayer::parse(&text, &path.display().to_string()).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Config {
            path: path.display().to_string(),
            detail: e.to_string(),
        }),
    }
}

/// The effective settings: defaults < `install` file < `project` file (either may be missing).
pub fn load_config_files(
    install: Option<&Path>,
    project: Option<&Path>,
) -> Result<PocketDockConfig> {
    let install = install.map(read_layer).transpose()?.flatten();
    let project = project.map(read_layer).transpose()?.flatten();
    Ok(PocketDockConfig::load(install.as_ref(), project.as_ref()))
}

/// The effective settings for a project root (or none): defaults < `~/.pocketdock/pocketdock.yaml`
/// < `<root>/.pocketdock/pocketdock.yaml`. `project_name` is filled in from the directory name
/// when the file leaves it empty.
pub fn load_config(project_root: Option<&Path>) -> Result<PocketDockConfig> {
    let project_file = project_root.map(config_path);
    let mut config = load_config_files(install_config_file().as_deref(), project_file.as_deref())?;
    if let Some(root) = project_root {
        if config.project_name.is_empty() {
            config.project_name = get_project_name(root);
        }
    }
    Ok(config)
}

/// The socket named by the settings the free functions use: those of the project containing
/// the current directory, else of the install file (`None`: auto-detection, after
/// `POCKETDOCK_SOCKET`).
pub fn configured_socket() -> Result<Option<String>> {
    Ok(load_config(find_project_root(None).as_deref())?.socket)
}

/// A pocketdock project: its root, name and effective settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    root: PathBuf,
    name: String,
    config: PocketDockConfig,
}

impl Project {
    /// The project at `root` (resolved); [`Error::ProjectNotInitialized`] unless
    /// `<root>/.pocketdock/pocketdock.yaml` is a file. Loads its settings ([`load_config`]).
    pub fn open(root: &Path) -> Result<Self> {
        let root = resolve(root)?;
        if !config_path(&root).is_file() {
            return Err(Error::ProjectNotInitialized);
        }
        let config = load_config(Some(&root))?;
        Ok(Self {
            name: get_project_name(&root),
            root,
            config,
        })
    }

    /// The project containing `start` (the current directory when `None`), if any.
    pub fn discover(start: Option<&Path>) -> Result<Option<Self>> {
        find_project_root(start)
            .map(|root| Self::open(&root))
            .transpose()
    }

    /// The project root (the directory holding `.pocketdock/`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The project name (label `pocketdock.project` of its containers).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The effective settings.
    pub fn config(&self) -> &PocketDockConfig {
        &self.config
    }

    /// Replace the settings (e.g. to override one for a test or a single call).
    pub fn with_config(mut self, config: PocketDockConfig) -> Self {
        self.config = config;
        self
    }

    /// `<root>/.pocketdock/instances/<name>` (the name is checked, nothing is created).
    pub fn instance_dir(&self, name: &str) -> Result<PathBuf> {
        paths::instance_dir(&self.root, name)
    }

    /// The names of the instance directories, sorted.
    pub fn instance_names(&self) -> Result<Vec<String>> {
        list_instance_dirs(&self.root)
    }

    /// The `instance.toml` of instance `name`, `None` when missing.
    pub fn read_instance(&self, name: &str) -> Result<Option<InstanceMetadata>> {
        read_instance_metadata(&self.instance_dir(name)?)
    }

    /// Delete instance directory `name` of this project (it must be a real directory, not a
    /// symlink); `false` when it did not exist.
    pub fn remove_instance_dir(&self, name: &str) -> Result<bool> {
        let dir = self.instance_dir(name)?;
        match std::fs::symlink_metadata(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(host_err(&dir, &e)),
            Ok(m) if m.is_dir() => {
                check_project_tree(&self.root, &dir)?;
                std::fs::remove_dir_all(&dir).map_err(|e| host_err(&dir, &e))?;
                Ok(true)
            }
            Ok(_) => Err(Error::HostPath {
                path: dir.display().to_string(),
                detail: "is not a directory".into(),
            }),
        }
    }

    /// The history of instance `name`, oldest first (current `history.jsonl` only).
    pub fn history(&self, name: &str) -> Result<Vec<HistoryEntry>> {
        read_history(&self.instance_dir(name)?)
    }
}

/// The names of the instance directories under `<root>/.pocketdock/instances/`, sorted (`[]` when
/// there is none). Entries that are not directories or not valid instance names are skipped.
pub fn list_instance_dirs(root: &Path) -> Result<Vec<String>> {
    let dir = instances_dir(root);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(host_err(&dir, &e)),
    };
    let mut names: Vec<String> = entries
        .filter_map(std::result::Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| paths::is_valid_instance_name(n))
        .collect();
    names.sort();
    Ok(names)
}

/// Read `<instance dir>/instance.toml`; `None` when the file does not exist.
pub fn read_instance_metadata(instance_dir: &Path) -> Result<Option<InstanceMetadata>> {
    let file = paths::instance_file(instance_dir);
    match std::fs::read_to_string(&file) {
        Ok(text) => InstanceMetadata::parse(&text, &file.display().to_string()).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Config {
            path: file.display().to_string(),
            detail: e.to_string(),
        }),
    }
}

/// Write `<instance dir>/instance.toml` atomically (a temporary file renamed over it).
pub fn write_instance_metadata(instance_dir: &Path, meta: &InstanceMetadata) -> Result<()> {
    let file = paths::instance_file(instance_dir);
    let tmp = instance_dir.join(format!(
        ".instance.toml.{}.{:x}",
        std::process::id(),
        crate::random::random_u64()
    ));
    let text = meta.to_toml()?;
    let written = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &file));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(host_err(&file, &e));
    }
    Ok(())
}

/// The entries of `<instance dir>/logs/history.jsonl`, oldest first; invalid lines are skipped,
/// a missing file is empty.
pub fn read_history(instance_dir: &Path) -> Result<Vec<HistoryEntry>> {
    let file = paths::history_file(instance_dir);
    match std::fs::read_to_string(&file) {
        Ok(text) => Ok(parse_lines(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(host_err(&file, &e)),
    }
}

/// Check that nothing between `root` and `dir` is a symlink and that the project's config file
/// is a regular file: the lexical checks of proto then hold on disk.
fn check_project_tree(root: &Path, dir: &Path) -> Result<()> {
    let refuse = |why: &str| {
        Error::invalid(
            "data-path",
            format!("{} is not an instance directory: {why}", dir.display()),
        )
    };
    let canonical =
        std::fs::canonicalize(root).map_err(|_| refuse("the project root is missing"))?;
    if canonical != root {
        return Err(refuse("the project root path goes through a symlink"));
    }
    let pd = paths::pocketdock_dir(root);
    let real_dir = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
    if !real_dir(&pd) || !real_dir(&instances_dir(root)) {
        return Err(refuse(".pocketdock/instances is not a real directory"));
    }
    if !std::fs::symlink_metadata(config_path(root)).is_ok_and(|m| m.is_file()) {
        return Err(refuse(
            "the project has no .pocketdock/pocketdock.yaml file",
        ));
    }
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(refuse("not a real directory (symlink or file)")),
        Err(_) => Err(refuse("it does not exist")),
    }
}

/// Whether the instance directory named by a label exists at all (nothing was checked).
pub fn data_path_exists(data_path: &str) -> bool {
    std::fs::symlink_metadata(data_path).is_ok()
}

/// Check the `pocketdock.data-path` label of container `name` (its pocketdock name) and return
/// `(project root, instance dir)` when, and only when, it is a real instance directory of a
/// pocketdock project belonging to that container:
///
/// * the path is absolute, normalised and exactly `<root>/.pocketdock/instances/<name>` (proto's
///   [`split_instance_dir`] and [`check_instance_dir`]), with `<name>` the container's name;
/// * no component of it is a symlink, `<root>/.pocketdock/pocketdock.yaml` is a regular file and
///   the instance directory is a real directory;
/// * its `instance.toml`, when present and readable, names the same container.
pub fn checked_instance_dir(data_path: &str, name: &str) -> Result<(PathBuf, PathBuf)> {
    let candidate = Path::new(data_path);
    let (root, dir_name) = split_instance_dir(candidate)?;
    if dir_name != name {
        return Err(Error::invalid(
            "data-path",
            format!("{data_path} belongs to instance {dir_name:?}, not to container {name:?}"),
        ));
    }
    let dir = check_instance_dir(&root, candidate)?;
    check_project_tree(&root, &dir)?;
    if let Ok(Some(meta)) = read_instance_metadata(&dir) {
        if !meta.container.name.is_empty() && meta.container.name != name {
            return Err(Error::invalid(
                "data-path",
                format!(
                    "{data_path}/instance.toml describes container {:?}, not {name:?}",
                    meta.container.name
                ),
            ));
        }
    }
    Ok((root, dir))
}

/// An instance directory being set up for a container that does not exist yet: written as
/// pending before the engine create, completed with the real id after, or rolled back.
#[derive(Debug)]
pub struct InstanceStage {
    /// The instance directory.
    pub dir: PathBuf,
    meta: InstanceMetadata,
    /// The directory existed before (then only `instance.toml` is restored on rollback).
    existed: bool,
    previous: Option<Vec<u8>>,
    root: PathBuf,
}

impl InstanceStage {
    /// Create (or reuse) `<root>/.pocketdock/instances/<name>` with `data/` and `logs/`, and write
    /// `meta` with the id `(pending)`.
    pub fn prepare(project: &Project, name: &str, mut meta: InstanceMetadata) -> Result<Self> {
        let dir = project.instance_dir(name)?;
        let root = project.root().to_path_buf();
        let existed = match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => true,
            Ok(_) => {
                return Err(Error::HostPath {
                    path: dir.display().to_string(),
                    detail: "exists and is not a directory".into(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(host_err(&dir, &e)),
        };
        let previous = if existed {
            check_project_tree(&root, &dir)?;
            std::fs::read(paths::instance_file(&dir)).ok()
        } else {
            let inst = instances_dir(&root);
            std::fs::create_dir_all(&inst).map_err(|e| host_err(&inst, &e))?;
            std::fs::create_dir(&dir).map_err(|e| host_err(&dir, &e))?;
            None
        };
        let stage = Self {
            dir,
            meta: {
                meta.container.id = pocketdock_proto::project::instance::PENDING_ID.to_string();
                meta
            },
            existed,
            previous,
            root,
        };
        let made = [paths::data_dir(&stage.dir), paths::logs_dir(&stage.dir)]
            .iter()
            .try_for_each(|d| std::fs::create_dir_all(d).map_err(|e| host_err(d, &e)))
            .and_then(|()| write_instance_metadata(&stage.dir, &stage.meta));
        if let Err(e) = made {
            stage.rollback();
            return Err(e);
        }
        Ok(stage)
    }

    /// The container exists: record its id.
    pub fn commit(&mut self, id: &str) -> Result<()> {
        self.meta.container.id = id.to_string();
        write_instance_metadata(&self.dir, &self.meta)
    }

    /// Undo [`prepare`](Self::prepare): remove the directory if it was made here, else restore the
    /// previous `instance.toml`.
    pub fn rollback(self) {
        if self.existed {
            let file = paths::instance_file(&self.dir);
            match &self.previous {
                Some(bytes) => {
                    let _ = std::fs::write(&file, bytes);
                }
                None => {
                    let _ = std::fs::remove_file(&file);
                }
            }
        } else if check_instance_dir(&self.root, &self.dir).is_ok() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "pd-project-{tag}-{}-{:x}",
            std::process::id(),
            crate::random::random_u64()
        ));
        let _ = std::fs::create_dir_all(&d);
        std::fs::canonicalize(&d).unwrap_or(d)
    }

    #[test]
    fn init_find_name_and_config() {
        let base = tmp("init");
        let root = init_project(Some(&base), Some("my-widget")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(root, base);
        assert!(config_path(&root).is_file());
        assert!(instances_dir(&root).is_dir());
        assert_eq!(get_project_name(&root), "my-widget");
        // Re-init keeps the file.
        init_project(Some(&base), Some("other")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(get_project_name(&root), "my-widget");
        let deep = root.join("a/b/c");
        let _ = std::fs::create_dir_all(&deep);
        assert_eq!(find_project_root(Some(&deep)), Some(root.clone()));
        let c = load_config_files(None, Some(&config_path(&root))).unwrap_or_default();
        assert_eq!(c.project_name, "my-widget");
        assert!(c.auto_log);
        let p = Project::open(&deep.join("../../..")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.root(), root);
        assert_eq!(p.name(), "my-widget");
        assert!(matches!(
            Project::open(&deep),
            Err(Error::ProjectNotInitialized)
        ));
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn list_and_remove_instance_dirs() {
        let base = tmp("list");
        assert!(list_instance_dirs(&base).unwrap_or_default().is_empty());
        let root = init_project(Some(&base), Some("p")).unwrap_or_else(|e| panic!("{e}"));
        let p = Project::open(&root).unwrap_or_else(|e| panic!("{e}"));
        assert!(p.instance_names().unwrap_or_default().is_empty());
        for n in ["pd-ccc", "pd-aaa", "pd-bbb"] {
            let _ = std::fs::create_dir_all(root.join(".pocketdock/instances").join(n));
        }
        let _ = std::fs::write(root.join(".pocketdock/instances/file"), "x");
        assert_eq!(
            p.instance_names().unwrap_or_default(),
            ["pd-aaa", "pd-bbb", "pd-ccc"]
        );
        assert!(p.remove_instance_dir("pd-bbb").unwrap_or(false));
        assert!(!p.remove_instance_dir("pd-bbb").unwrap_or(true));
        assert!(p.remove_instance_dir("..").is_err());
        assert_eq!(p.instance_names().unwrap_or_default(), ["pd-aaa", "pd-ccc"]);
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn bare_pocketdock_dir_is_not_a_project() {
        let base = tmp("bare");
        let _ = std::fs::create_dir_all(base.join(".pocketdock"));
        assert_eq!(
            paths::find_project_root(&base, Path::is_file),
            None::<PathBuf>
        );
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn broken_config_is_an_error() {
        let base = tmp("broken");
        let root = init_project(Some(&base), None).unwrap_or_else(|e| panic!("{e}"));
        let _ = std::fs::write(config_path(&root), "default_persist: maybe\n");
        assert!(matches!(
            load_config_files(None, Some(&config_path(&root))),
            Err(Error::Config { .. })
        ));
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn instance_dir_checks() {
        let base = tmp("check");
        let root = init_project(Some(&base), None).unwrap_or_else(|e| panic!("{e}"));
        let dir = root.join(".pocketdock/instances/pd-a");
        let _ = std::fs::create_dir_all(&dir);
        let label = dir.display().to_string();
        assert!(checked_instance_dir(&label, "pd-a").is_ok());
        // Another container's dir, a nested path, outside paths: refused.
        assert!(checked_instance_dir(&label, "pd-b").is_err());
        assert!(checked_instance_dir(&format!("{label}/logs"), "logs").is_err());
        assert!(checked_instance_dir("/etc", "etc").is_err());
        assert!(checked_instance_dir(&base.display().to_string(), "x").is_err());
        // A symlinked instance dir is refused.
        let outside = tmp("outside");
        let link = root.join(".pocketdock/instances/pd-link");
        let _ = std::os::unix::fs::symlink(&outside, &link);
        assert!(checked_instance_dir(&link.display().to_string(), "pd-link").is_err());
        // A forged project without pocketdock.yaml is refused.
        let fake = outside.join(".pocketdock/instances/pd-f");
        let _ = std::fs::create_dir_all(&fake);
        assert!(checked_instance_dir(&fake.display().to_string(), "pd-f").is_err());
        // instance.toml naming another container is refused.
        let mut meta = InstanceMetadata::default();
        meta.container.name = "someone-else".into();
        write_instance_metadata(&dir, &meta).unwrap_or_else(|e| panic!("{e}"));
        assert!(checked_instance_dir(&label, "pd-a").is_err());
        let _ = std::fs::remove_dir_all(&base);
        let _ = std::fs::remove_dir_all(&outside);
    }
}
