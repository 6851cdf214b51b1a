//! Where things live in a project, computed without touching the file system.
//!
//! ```text
//! <root>/.pocketdock/pocketdock.yaml
//! <root>/.pocketdock/instances/<name>/instance.toml
//! <root>/.pocketdock/instances/<name>/data/
//! <root>/.pocketdock/instances/<name>/logs/history.jsonl
//! <root>/.pocketdock/instances/<name>/logs/{run,session,detach}-<ts>.log
//! ```
//!
//! Deleting an instance directory is the one destructive thing pocketdock does on the host, and
//! the Python pocketdock deleted whatever path a container label named. Here every
//! instance path goes through [`is_valid_instance_name`], and a path that comes from elsewhere
//! (a label) must pass [`check_instance_dir`] or [`split_instance_dir`] first. These checks are
//! lexical: the adapter passes canonical paths (or refuses symlinks) so that a symlinked
//! `instances/` cannot redirect them.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// The directory under a project root holding pocketdock's files.
pub const POCKETDOCK_DIR: &str = ".pocketdock";
/// The config file name.
pub const CONFIG_FILE: &str = "pocketdock.yaml";
/// The directory of instance directories.
pub const INSTANCES_DIR: &str = "instances";
/// The metadata file of an instance.
pub const INSTANCE_FILE: &str = "instance.toml";
/// The history file inside an instance's `logs/`.
pub const HISTORY_FILE: &str = "history.jsonl";
/// Longest instance name accepted (a file name limit).
pub const MAX_INSTANCE_NAME: usize = 255;

/// `<root>/.pocketdock`.
pub fn pocketdock_dir(root: &Path) -> PathBuf {
    root.join(POCKETDOCK_DIR)
}

/// `<root>/.pocketdock/pocketdock.yaml`.
pub fn config_path(root: &Path) -> PathBuf {
    pocketdock_dir(root).join(CONFIG_FILE)
}

/// `<home>/.pocketdock/pocketdock.yaml`, the install-level config.
pub fn install_config_path(home: &Path) -> PathBuf {
    config_path(home)
}

/// `<root>/.pocketdock/instances`.
pub fn instances_dir(root: &Path) -> PathBuf {
    pocketdock_dir(root).join(INSTANCES_DIR)
}

/// Walk up from `start` (itself first) to the first directory holding the *file*
/// `.pocketdock/pocketdock.yaml`, as told by `is_file`. A bare `.pocketdock/` does not count.
/// `start` should be absolute (the adapter resolves the current directory).
pub fn find_project_root(start: &Path, is_file: impl Fn(&Path) -> bool) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| is_file(&config_path(dir)))
        .map(Path::to_path_buf)
}

/// True for a name that may be an instance directory: the engine's container-name rule
/// (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`), at most [`MAX_INSTANCE_NAME`] bytes. This excludes `""`,
/// `.`, `..`, and anything with `/`, `\` or NUL.
pub fn is_valid_instance_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && name.len() <= MAX_INSTANCE_NAME
}

fn check_name(name: &str) -> Result<()> {
    if is_valid_instance_name(name) {
        Ok(())
    } else {
        Err(Error::invalid(
            "instance name",
            format!("{name:?} must match [a-zA-Z0-9][a-zA-Z0-9_.-]* (at most {MAX_INSTANCE_NAME} bytes)"),
        ))
    }
}

/// `<root>/.pocketdock/instances/<name>`, refusing names that are not valid instance names.
pub fn instance_dir(root: &Path, name: &str) -> Result<PathBuf> {
    check_name(name)?;
    Ok(instances_dir(root).join(name))
}

/// `<instance dir>/instance.toml`.
pub fn instance_file(instance_dir: &Path) -> PathBuf {
    instance_dir.join(INSTANCE_FILE)
}

/// `<instance dir>/logs`.
pub fn logs_dir(instance_dir: &Path) -> PathBuf {
    instance_dir.join("logs")
}

/// `<instance dir>/data`.
pub fn data_dir(instance_dir: &Path) -> PathBuf {
    instance_dir.join("data")
}

/// `<instance dir>/logs/history.jsonl`.
pub fn history_file(instance_dir: &Path) -> PathBuf {
    logs_dir(instance_dir).join(HISTORY_FILE)
}

fn plain_components(p: &Path) -> Option<Vec<Component<'_>>> {
    let comps: Vec<Component<'_>> = p.components().collect();
    comps
        .iter()
        .all(|c| matches!(c, Component::RootDir | Component::Normal(_)))
        .then_some(comps)
}

/// Check that `candidate` is exactly `<root>/.pocketdock/instances/<valid name>` (lexically:
/// both absolute, no `.` or `..` components) and return it normalised. Anything else, including
/// `instances/` itself, a nested path, or a path of another project, is refused. Use this
/// before deleting a directory named by a container label.
pub fn check_instance_dir(root: &Path, candidate: &Path) -> Result<PathBuf> {
    let refuse = |why: &str| {
        Error::invalid(
            "instance directory",
            format!(
                "{} is not an instance directory of project {}: {why}",
                candidate.display(),
                root.display()
            ),
        )
    };
    if !root.is_absolute() || !candidate.is_absolute() {
        return Err(refuse("paths must be absolute"));
    }
    let root_c = plain_components(root).ok_or_else(|| refuse("root has . or .. components"))?;
    let cand_c =
        plain_components(candidate).ok_or_else(|| refuse("path has . or .. components"))?;
    let Some(rest) = cand_c.strip_prefix(root_c.as_slice()) else {
        return Err(refuse("outside the project"));
    };
    match rest {
        [Component::Normal(a), Component::Normal(b), Component::Normal(name)]
            if *a == POCKETDOCK_DIR && *b == INSTANCES_DIR =>
        {
            let name = name.to_str().ok_or_else(|| refuse("name is not UTF-8"))?;
            check_name(name)?;
            Ok(instances_dir(root).join(name))
        }
        _ => Err(refuse("not directly under .pocketdock/instances/")),
    }
}

/// Split an absolute `…/<root>/.pocketdock/instances/<name>` path (a `pocketdock.data-path`
/// label) into its project root and instance name, refusing any other shape. The adapter should
/// then also check that `<root>/.pocketdock/pocketdock.yaml` is a file before deleting anything.
pub fn split_instance_dir(candidate: &Path) -> Result<(PathBuf, String)> {
    let refuse = |why: &str| {
        Error::invalid(
            "instance directory",
            format!(
                "{} is not an instance directory: {why}",
                candidate.display()
            ),
        )
    };
    if !candidate.is_absolute() {
        return Err(refuse("path must be absolute"));
    }
    let comps = plain_components(candidate).ok_or_else(|| refuse("path has . or .. components"))?;
    let n = comps.len();
    if n < 4 {
        return Err(refuse("too short"));
    }
    let root: PathBuf = comps.iter().take(n - 3).collect();
    let checked = check_instance_dir(&root, candidate)?;
    let name = checked
        .file_name()
        .and_then(|s| s.to_str())
        .map(str::to_string)
        .ok_or_else(|| refuse("no name"))?;
    Ok((root, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let root = Path::new("/p");
        assert_eq!(
            config_path(root),
            Path::new("/p/.pocketdock/pocketdock.yaml")
        );
        assert_eq!(instances_dir(root), Path::new("/p/.pocketdock/instances"));
        let dir = instance_dir(root, "pd-abc12345").unwrap_or_default();
        assert_eq!(dir, Path::new("/p/.pocketdock/instances/pd-abc12345"));
        assert_eq!(history_file(&dir), dir.join("logs/history.jsonl"));
        assert_eq!(instance_file(&dir), dir.join("instance.toml"));
        assert_eq!(data_dir(&dir), dir.join("data"));
        assert_eq!(
            install_config_path(Path::new("/home/u")),
            Path::new("/home/u/.pocketdock/pocketdock.yaml")
        );
    }

    #[test]
    fn project_root_discovery() {
        let files = ["/r/.pocketdock/pocketdock.yaml"];
        let is_file = |p: &Path| files.iter().any(|f| Path::new(f) == p);
        assert_eq!(
            find_project_root(Path::new("/r"), is_file),
            Some(PathBuf::from("/r"))
        );
        assert_eq!(
            find_project_root(Path::new("/r/a/b/c"), is_file),
            Some(PathBuf::from("/r"))
        );
        assert_eq!(find_project_root(Path::new("/other"), is_file), None);
        // A bare .pocketdock directory is not a project: is_file says no for it.
        assert_eq!(
            find_project_root(Path::new("/x/.pocketdock"), |_| false),
            None
        );
        // The nearest project wins.
        let nested = [
            "/r/.pocketdock/pocketdock.yaml",
            "/r/a/.pocketdock/pocketdock.yaml",
        ];
        let is_file = |p: &Path| nested.iter().any(|f| Path::new(f) == p);
        assert_eq!(
            find_project_root(Path::new("/r/a/b"), is_file),
            Some(PathBuf::from("/r/a"))
        );
    }

    #[test]
    fn names() {
        for ok in ["pd-abc12345", "a", "A.b_c-d", "0"] {
            assert!(is_valid_instance_name(ok), "{ok}");
        }
        for bad in [
            "", ".", "..", "../x", "a/b", "a\\b", "-a", ".hidden", "a\0", "a b", "é",
        ] {
            assert!(!is_valid_instance_name(bad), "{bad:?}");
            assert!(instance_dir(Path::new("/p"), bad).is_err());
        }
        assert!(!is_valid_instance_name(&"a".repeat(256)));
    }

    #[test]
    fn instance_dir_check_accepts_only_real_instance_dirs() {
        let root = Path::new("/home/u/proj");
        let good = Path::new("/home/u/proj/.pocketdock/instances/pd-1");
        assert_eq!(
            check_instance_dir(root, good).ok(),
            Some(good.to_path_buf())
        );
        let trailing = Path::new("/home/u/proj/.pocketdock/instances/pd-1/");
        assert_eq!(
            check_instance_dir(root, trailing).ok(),
            Some(good.to_path_buf())
        );
        for bad in [
            "/",
            "/home/u",
            "/home/u/proj",
            "/home/u/proj/.pocketdock",
            "/home/u/proj/.pocketdock/instances",
            "/home/u/proj/.pocketdock/instances/pd-1/data",
            "/home/u/proj/.pocketdock/instances/..",
            "/home/u/proj/.pocketdock/instances/../../..",
            "/home/u/proj/.pocketdock/instances/pd-1/..",
            "/home/u/proj/.pocketdock/instances/.x",
            "/home/u/proj/.pocketdock/other/pd-1",
            "/home/u/other/.pocketdock/instances/pd-1",
            "/home/u/proj/./.pocketdock/instances/pd-1/../pd-2",
            "home/u/proj/.pocketdock/instances/pd-1",
        ] {
            assert!(check_instance_dir(root, Path::new(bad)).is_err(), "{bad}");
        }
        assert!(
            check_instance_dir(Path::new("proj"), Path::new("proj/.pocketdock/instances/a"))
                .is_err()
        );
    }

    #[test]
    fn split_label_paths() {
        let (root, name) =
            split_instance_dir(Path::new("/p/q/.pocketdock/instances/pd-x")).unwrap();
        assert_eq!((root, name.as_str()), (PathBuf::from("/p/q"), "pd-x"));
        let (root, _) = split_instance_dir(Path::new("/.pocketdock/instances/a")).unwrap();
        assert_eq!(root, PathBuf::from("/"));
        for bad in [
            "/etc",
            "/",
            "/etc/passwd/x/y",
            "/p/.pocketdock/instances/..",
            "rel/.pocketdock/instances/a",
            "/p/.pocketdock/instances/a/../b",
        ] {
            assert!(split_instance_dir(Path::new(bad)).is_err(), "{bad}");
        }
    }
}
