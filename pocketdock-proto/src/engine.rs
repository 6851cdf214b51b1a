//! Finding the engine socket. Pure: the caller supplies the environment and a probe that says
//! whether a path answers.

use std::path::{Path, PathBuf};

/// Where a socket path came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketSource {
    /// Given explicitly by the caller.
    Explicit,
    /// `POCKETDOCK_SOCKET`.
    Env,
    /// `socket:` in the project's `pocketdock.yaml`.
    Project,
    /// Found by auto-detection.
    Detected,
}

impl SocketSource {
    /// Where the socket came from, in words for diagnostics ("engine socket X (from ...)").
    pub fn describe(self) -> &'static str {
        match self {
            Self::Explicit => "the caller",
            Self::Env => "POCKETDOCK_SOCKET",
            Self::Project => "the socket: setting",
            Self::Detected => "auto-detection",
        }
    }
}

impl std::fmt::Display for SocketSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

/// Strip a `unix://` scheme, if any.
pub fn socket_path(value: &str) -> &str {
    value.strip_prefix("unix://").unwrap_or(value)
}

/// The auto-detection candidates, in order, for a user with `uid` and the given environment.
pub fn candidates(env: &dyn Fn(&str) -> Option<String>, uid: u32) -> Vec<PathBuf> {
    let runtime = env("XDG_RUNTIME_DIR")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("/run/user/{uid}"));
    let mut out = vec![
        Path::new(&runtime).join("podman/podman.sock"),
        PathBuf::from("/run/podman/podman.sock"),
        PathBuf::from("/var/run/docker.sock"),
    ];
    if let Some(home) = env("HOME").filter(|s| !s.is_empty()) {
        out.push(
            Path::new(&home)
                .join(".local/share/containers/podman/machine/podman-machine-default/podman.sock"),
        );
        out.push(Path::new(&home).join(".docker/run/docker.sock"));
    }
    out
}

/// Pick the socket: explicit, then `POCKETDOCK_SOCKET`, then the project's `socket:`, then the first
/// candidate for which `answers` is true. An explicit, env or project socket is used as given (a
/// missing one is not silently replaced by another engine).
pub fn discover(
    explicit: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    project_socket: Option<&str>,
    uid: u32,
    answers: &mut dyn FnMut(&Path) -> bool,
) -> Option<(PathBuf, SocketSource)> {
    if let Some(s) = explicit.filter(|s| !s.is_empty()) {
        return Some((PathBuf::from(socket_path(s)), SocketSource::Explicit));
    }
    if let Some(s) = env("POCKETDOCK_SOCKET").filter(|s| !s.is_empty()) {
        return Some((PathBuf::from(socket_path(&s)), SocketSource::Env));
    }
    if let Some(s) = project_socket.filter(|s| !s.is_empty()) {
        return Some((PathBuf::from(socket_path(s)), SocketSource::Project));
    }
    candidates(env, uid)
        .into_iter()
        .find(|p| answers(p))
        .map(|p| (p, SocketSource::Detected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_explicit_env_project_detected() {
        let env = |k: &str| match k {
            "POCKETDOCK_SOCKET" => Some("unix:///env.sock".to_string()),
            "XDG_RUNTIME_DIR" => Some("/xdg".to_string()),
            _ => None,
        };
        let mut never = |_: &Path| false;
        assert_eq!(
            discover(Some("/x.sock"), &env, Some("/p"), 0, &mut never),
            Some((PathBuf::from("/x.sock"), SocketSource::Explicit))
        );
        assert_eq!(
            discover(None, &env, Some("/p"), 0, &mut never),
            Some((PathBuf::from("/env.sock"), SocketSource::Env))
        );
        let no_env = |k: &str| (k == "XDG_RUNTIME_DIR").then(|| "/xdg".to_string());
        assert_eq!(
            discover(None, &no_env, Some("/p"), 0, &mut never),
            Some((PathBuf::from("/p"), SocketSource::Project))
        );
        assert_eq!(discover(None, &no_env, None, 0, &mut never), None);
        let mut docker = |p: &Path| p == Path::new("/var/run/docker.sock");
        assert_eq!(
            discover(None, &no_env, None, 0, &mut docker),
            Some((
                PathBuf::from("/var/run/docker.sock"),
                SocketSource::Detected
            ))
        );
        let mut first = |_: &Path| true;
        assert_eq!(
            discover(None, &no_env, None, 0, &mut first).map(|x| x.0),
            Some(PathBuf::from("/xdg/podman/podman.sock"))
        );
    }
}
