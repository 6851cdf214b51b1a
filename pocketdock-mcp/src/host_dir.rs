//! Which host paths a sandbox may mount: only those beneath a directory the operator allowed
//! with `--allow-host-dir`. A path with a `..` component is refused outright; the rest is
//! resolved (symlinks followed) and must still lie beneath an allowed directory, so a symlink
//! pointing out of it is refused too. The resolved path is what gets mounted.

use std::path::{Component, Path, PathBuf};

/// Why a host path is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HostPathError {
    /// The server was started without `--allow-host-dir`.
    #[error("host paths are not available: the server was started without --allow-host-dir")]
    NoneAllowed,
    /// Not absolute.
    #[error("host path {0:?} is not absolute")]
    Relative(String),
    /// Has a `..` component.
    #[error("host path {0:?} contains \"..\"")]
    Traversal(String),
    /// Does not exist (or cannot be resolved).
    #[error("host path {0:?} does not exist")]
    Missing(String),
    /// Resolves outside every allowed directory.
    #[error("host path {path:?} resolves to {resolved:?}, outside the allowed directories")]
    Outside {
        /// As given.
        path: String,
        /// Where it leads.
        resolved: PathBuf,
    },
}

/// Canonical forms of the allowed directories (each must exist and be a directory).
pub fn allowed_dirs(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    dirs.iter()
        .map(|d| {
            let c = d
                .canonicalize()
                .map_err(|e| format!("--allow-host-dir {}: {e}", d.display()))?;
            if c.is_dir() {
                Ok(c)
            } else {
                Err(format!("--allow-host-dir {}: not a directory", d.display()))
            }
        })
        .collect()
}

/// The resolved form of `path` when it lies beneath one of `allowed` (canonical directories).
pub fn check(path: &str, allowed: &[PathBuf]) -> Result<PathBuf, HostPathError> {
    if allowed.is_empty() {
        return Err(HostPathError::NoneAllowed);
    }
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(HostPathError::Relative(path.into()));
    }
    if p.components().any(|c| c == Component::ParentDir) {
        return Err(HostPathError::Traversal(path.into()));
    }
    let resolved = p
        .canonicalize()
        .map_err(|_| HostPathError::Missing(path.into()))?;
    if allowed.iter().any(|a| resolved.starts_with(a)) {
        Ok(resolved)
    } else {
        Err(HostPathError::Outside {
            path: path.into(),
            resolved,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "pdmcp-hostdir-{name}-{}",
            pocketdock_host::random::nonce()
        ));
        std::fs::create_dir_all(d.join("inside")).ok();
        d
    }

    #[test]
    fn beneath_is_allowed_and_resolved() {
        let d = tmp("ok");
        let allowed = allowed_dirs(std::slice::from_ref(&d)).unwrap_or_default();
        let got = check(&format!("{}/inside", d.display()), &allowed);
        assert_eq!(got.ok(), d.join("inside").canonicalize().ok());
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn traversal_symlinks_and_strangers_are_refused() {
        let d = tmp("bad");
        let allowed = allowed_dirs(std::slice::from_ref(&d)).unwrap_or_default();
        let up = format!("{}/inside/../../etc", d.display());
        assert_eq!(
            check(&up, &allowed),
            Err(HostPathError::Traversal(up.clone()))
        );
        std::os::unix::fs::symlink("/etc", d.join("link")).ok();
        let link = format!("{}/link", d.display());
        assert!(matches!(
            check(&link, &allowed),
            Err(HostPathError::Outside { .. })
        ));
        assert!(matches!(
            check("/etc", &allowed),
            Err(HostPathError::Outside { .. })
        ));
        assert_eq!(
            check("relative", &allowed),
            Err(HostPathError::Relative("relative".into()))
        );
        assert_eq!(check("/etc", &[]), Err(HostPathError::NoneAllowed));
        std::fs::remove_dir_all(&d).ok();
    }
}
