//! Paths of archive entries on the host: what `pull` may create, and where.
//!
//! [`safe_join`] maps an entry path into the destination, refusing absolute paths and `..`.
//! [`check_symlink_target`] and [`check_hardlink_target`] refuse links that point outside. Those
//! are lexical checks; [`ExtractGuard`] adds the state that makes them sound for a whole archive:
//! it remembers the symlinks the archive created and refuses any later entry whose path goes
//! *through* one of them (`d/l -> ..` followed by `d/l/l2 -> ..` would otherwise escape, because
//! the second link's real directory is not `d/l`).
//!
//! Rules for symlink targets: not absolute, not empty, `..` only as leading components (so
//! `../x/y` is fine but `x/../y` is refused: if `x` is or becomes a symlink, `..` would leave it
//! somewhere else), and the leading `..`s must not climb above the destination from the link's
//! own directory.
//!
//! Why that is enough: every symlink sits in a real directory (the guard refuses paths through
//! archive symlinks), so its leading `..`s end at a real directory inside the destination, and
//! the rest of its target only descends: into real directories, or into other symlinks, which
//! resolve inside by the same argument, in whatever order the archive creates them. Entry paths
//! and hard link targets only descend from the destination, so they stay inside too.
//!
//! This holds provided the adapter, which does the I/O:
//!
//! 1. extracts into a destination directory that contains no symlinks it did not create (a new
//!    or empty directory, or one it has checked);
//! 2. never writes *through* an existing non-directory: it removes a file or symlink that is in
//!    the way first (or opens with `O_NOFOLLOW`/`create_new`);
//! 3. never replaces an existing directory with a non-directory.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::{EntryHeader, EntryKind};
use crate::error::{Error, Result};

/// Most symlinks one [`ExtractGuard`] remembers; an archive with more is refused.
pub const MAX_TRACKED_SYMLINKS: usize = 100_000;

fn refuse(path: &str, why: &str) -> Error {
    Error::Archive(format!("refusing entry {path:?}: {why}"))
}

/// The normal components of a relative entry path (`.` and empty components dropped);
/// absolute paths, `..` and NUL are refused.
pub(crate) fn components(path: &str) -> Result<Vec<&str>> {
    if path.contains('\0') {
        return Err(refuse(path, "contains NUL"));
    }
    if path.starts_with('/') {
        return Err(refuse(path, "absolute path"));
    }
    let mut out = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(refuse(path, "contains '..'")),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// `dest_root` joined with the entry path, refusing absolute paths, `..` components and NUL.
/// `.` and empty components are dropped; a path with nothing left (`.`, `./`) is `dest_root`
/// itself.
pub fn safe_join(dest_root: &Path, entry_path: &str) -> Result<PathBuf> {
    let comps = components(entry_path)?;
    let mut p = dest_root.to_path_buf();
    p.extend(comps);
    Ok(p)
}

/// Check a symlink target: relative, `..` only as leading components, and not climbing above
/// the destination from the directory of `entry_path`. Returns the target's resolved components
/// (relative to the destination).
pub fn check_symlink_target(entry_path: &str, target: &str) -> Result<Vec<String>> {
    let entry = components(entry_path)?;
    if target.is_empty() {
        return Err(refuse(entry_path, "empty symlink target"));
    }
    if target.contains('\0') {
        return Err(refuse(entry_path, "symlink target contains NUL"));
    }
    if target.starts_with('/') {
        return Err(refuse(entry_path, "absolute symlink target"));
    }
    let mut dir: Vec<String> = entry
        .iter()
        .take(entry.len().saturating_sub(1))
        .map(|s| (*s).to_string())
        .collect();
    let mut seen_normal = false;
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if seen_normal {
                    return Err(refuse(entry_path, "symlink target has '..' after a name"));
                }
                if dir.pop().is_none() {
                    return Err(refuse(
                        entry_path,
                        "symlink target points outside the destination",
                    ));
                }
            }
            c => {
                seen_normal = true;
                dir.push(c.to_string());
            }
        }
    }
    Ok(dir)
}

/// Check a hard link target: an archive path (relative to the archive root, not to the link)
/// that stays inside the destination. Returns its components.
pub fn check_hardlink_target(target: &str) -> Result<Vec<String>> {
    if target.is_empty() {
        return Err(refuse(target, "empty hard link target"));
    }
    let comps = components(target)?;
    if comps.is_empty() {
        return Err(refuse(target, "hard link to the destination itself"));
    }
    Ok(comps.into_iter().map(str::to_string).collect())
}

/// The path with its first normal component removed (`docker cp` of a directory into a new
/// name): `dir/a/b` → `a/b`, `./dir/` → `""` (the top directory itself). `None` for a path with
/// no component, an absolute path, or one with `..`.
pub fn strip_first_component(path: &str) -> Option<String> {
    let comps = components(path).ok()?;
    let (_, rest) = comps.split_first()?;
    Some(rest.join("/"))
}

/// The path with its first normal component replaced by `new_first`: `dir/a` with `copy` →
/// `copy/a`. `None` when [`strip_first_component`] is `None` or `new_first` is not one plain
/// component.
pub fn replace_first_component(path: &str, new_first: &str) -> Option<String> {
    if new_first.is_empty()
        || new_first == "."
        || new_first == ".."
        || new_first.contains(['/', '\0'])
    {
        return None;
    }
    let rest = strip_first_component(path)?;
    Some(if rest.is_empty() {
        new_first.to_string()
    } else {
        format!("{new_first}/{rest}")
    })
}

/// Where an accepted entry goes on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeEntry {
    /// The host path to create (inside the destination).
    pub path: PathBuf,
    /// For a hard link: the host path of the file it links to.
    pub hardlink_source: Option<PathBuf>,
}

/// Checks every entry of one archive before the adapter extracts it (see the module docs for
/// what the adapter must do in turn).
#[derive(Debug, Clone)]
pub struct ExtractGuard {
    root: PathBuf,
    symlinks: HashSet<String>,
}

impl ExtractGuard {
    /// A guard for extraction into `dest_root`.
    pub fn new(dest_root: &Path) -> Self {
        Self {
            root: dest_root.to_path_buf(),
            symlinks: HashSet::new(),
        }
    }

    /// Does the path `comps` pass through (not end at) a symlink created by this archive?
    fn through_symlink(&self, comps: &[&str]) -> bool {
        let mut prefix = String::new();
        for c in comps.iter().take(comps.len().saturating_sub(1)) {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(c);
            if self.symlinks.contains(&prefix) {
                return true;
            }
        }
        false
    }

    /// Accept or refuse `header`, and remember it if it is a symlink. Errors are
    /// [`Error::Archive`]; the adapter should stop extracting at the first one.
    pub fn check(&mut self, header: &EntryHeader) -> Result<SafeEntry> {
        let comps = components(&header.path)?;
        if self.through_symlink(&comps) {
            return Err(refuse(
                &header.path,
                "its path goes through a symlink from the archive",
            ));
        }
        if comps.is_empty() && header.kind != EntryKind::Dir {
            return Err(refuse(
                &header.path,
                "only a directory may be the destination itself",
            ));
        }
        let key = comps.join("/");
        let mut hardlink_source = None;
        match header.kind {
            EntryKind::Symlink => {
                let target = header.link_target.as_deref().unwrap_or_default();
                check_symlink_target(&header.path, target)?;
                if self.symlinks.len() >= MAX_TRACKED_SYMLINKS {
                    return Err(refuse(&header.path, "too many symlinks in one archive"));
                }
            }
            EntryKind::Hardlink => {
                let target = header.link_target.as_deref().unwrap_or_default();
                let t = check_hardlink_target(target)?;
                let mut src = self.root.clone();
                src.extend(&t);
                hardlink_source = Some(src);
            }
            _ => {}
        }
        // The entry replaces whatever was at its path.
        self.symlinks.remove(&key);
        if header.kind == EntryKind::Symlink {
            self.symlinks.insert(key);
        }
        let mut path = self.root.clone();
        path.extend(comps);
        Ok(SafeEntry {
            path,
            hardlink_source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, kind: EntryKind, link: Option<&str>) -> EntryHeader {
        EntryHeader {
            path: path.into(),
            kind,
            mode: 0o644,
            size: 0,
            uid: 0,
            gid: 0,
            mtime: 0,
            link_target: link.map(str::to_string),
            uname: String::new(),
            gname: String::new(),
        }
    }

    #[test]
    fn safe_join_rules() {
        let d = Path::new("/dest");
        assert_eq!(
            safe_join(d, "a/b.txt").ok(),
            Some(PathBuf::from("/dest/a/b.txt"))
        );
        assert_eq!(
            safe_join(d, "./a//b/").ok(),
            Some(PathBuf::from("/dest/a/b"))
        );
        assert_eq!(safe_join(d, ".").ok(), Some(PathBuf::from("/dest")));
        for bad in ["../../x", "/etc/x", "a/../../x", "a/..", "..", "a\0b"] {
            assert!(matches!(safe_join(d, bad), Err(Error::Archive(_))), "{bad}");
        }
    }

    #[test]
    fn symlink_targets() {
        assert_eq!(
            check_symlink_target("a/b/l", "../c").ok(),
            Some(vec!["a".to_string(), "c".to_string()])
        );
        assert!(check_symlink_target("a/l", "..").is_ok());
        assert!(check_symlink_target("l", ".").is_ok());
        assert!(check_symlink_target("a/l", "x/y").is_ok());
        for (p, t) in [
            ("a", "../../"),
            ("a", ".."),
            ("a/b", "../.."),
            ("a", "/etc/passwd"),
            ("a", ""),
            ("a/b", "x/../y"),
            ("a", "x\0"),
            ("../a", "b"),
        ] {
            assert!(check_symlink_target(p, t).is_err(), "{p} -> {t}");
        }
    }

    #[test]
    fn hardlink_targets() {
        assert!(check_hardlink_target("dir/file").is_ok());
        for bad in ["", "../x", "/etc/shadow", ".", "a/../../b"] {
            assert!(check_hardlink_target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn guard_refuses_escapes_through_archive_symlinks() {
        let mut g = ExtractGuard::new(Path::new("/dest"));
        assert_eq!(
            g.check(&entry("d/", EntryKind::Dir, None))
                .ok()
                .map(|e| e.path),
            Some(PathBuf::from("/dest/d"))
        );
        assert!(g
            .check(&entry("d/l", EntryKind::Symlink, Some("..")))
            .is_ok());
        // Writing through d/l would land in /dest/x: still refused, the rule is strict.
        assert!(g.check(&entry("d/l/x", EntryKind::File, None)).is_err());
        assert!(g
            .check(&entry("d/l/l2", EntryKind::Symlink, Some("..")))
            .is_err());
        // Link targets may pass through it: they only descend, so they resolve inside
        // (`/dest/d/l/y` is `/dest/y`).
        assert!(g
            .check(&entry("e", EntryKind::Symlink, Some("d/l/y")))
            .is_ok());
        assert!(g
            .check(&entry("h", EntryKind::Hardlink, Some("d/l/etc")))
            .is_ok());
        // Replacing the symlink by a directory clears it.
        assert!(g.check(&entry("d/l/", EntryKind::Dir, None)).is_ok());
        assert!(g.check(&entry("d/l/x", EntryKind::File, None)).is_ok());
    }

    #[test]
    fn guard_basic_refusals() {
        let mut g = ExtractGuard::new(Path::new("/dest"));
        for e in [
            entry("../../x", EntryKind::File, None),
            entry("/etc/x", EntryKind::File, None),
            entry("a", EntryKind::Symlink, Some("../../")),
            entry("a", EntryKind::Symlink, None),
            entry("h", EntryKind::Hardlink, Some("../outside")),
            entry("h", EntryKind::Hardlink, Some("/etc/shadow")),
            entry(".", EntryKind::File, None),
        ] {
            assert!(matches!(g.check(&e), Err(Error::Archive(_))), "{e:?}");
        }
        let ok = g
            .check(&entry("h", EntryKind::Hardlink, Some("dir/f")))
            .ok();
        assert_eq!(
            ok.and_then(|e| e.hardlink_source),
            Some(PathBuf::from("/dest/dir/f"))
        );
        assert!(g.check(&entry("./", EntryKind::Dir, None)).is_ok());
    }

    #[test]
    fn first_component_helpers() {
        assert_eq!(strip_first_component("dir/a/b").as_deref(), Some("a/b"));
        assert_eq!(strip_first_component("./dir/").as_deref(), Some(""));
        assert_eq!(strip_first_component("dir").as_deref(), Some(""));
        assert_eq!(strip_first_component(""), None);
        assert_eq!(strip_first_component("."), None);
        assert_eq!(strip_first_component("/dir/a"), None);
        assert_eq!(strip_first_component("dir/../a"), None);
        assert_eq!(
            replace_first_component("dir/a", "copy").as_deref(),
            Some("copy/a")
        );
        assert_eq!(
            replace_first_component("dir/", "copy").as_deref(),
            Some("copy")
        );
        assert_eq!(replace_first_component("dir/a", "x/y"), None);
        assert_eq!(replace_first_component("dir/a", ".."), None);
    }
}
