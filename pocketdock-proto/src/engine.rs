//! Finding the engine: its address and where it came from. Pure: the caller supplies the
//! environment, the host's files and a probe that says whether a local socket answers.

use std::path::{Path, PathBuf};

use crate::address::{route, tls_from_env, EngineAddress, Route, TlsFiles};
use crate::error::Error;

pub mod contexts;

/// Where a socket path came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketSource {
    /// Given explicitly by the caller.
    Explicit,
    /// `POCKETDOCK_SOCKET`.
    Env,
    /// `socket:` in the project's `pocketdock.yaml`.
    Project,
    /// `DOCKER_HOST`.
    DockerHost,
    /// `CONTAINER_HOST` (Podman's remote client).
    ContainerHost,
    /// The docker CLI's current context.
    DockerContext,
    /// Podman's default connection (`podman-connections.json` or containers.conf).
    PodmanConnection,
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
            Self::DockerHost => "DOCKER_HOST",
            Self::ContainerHost => "CONTAINER_HOST",
            Self::DockerContext => "the docker CLI's current context",
            Self::PodmanConnection => "Podman's default connection",
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

/// What discovery may look at on the host: the environment, the user id, and files (the
/// docker CLI's config and contexts, Podman's connections and containers.conf). Supplied by
/// the caller so discovery stays pure.
pub struct HostView<'a> {
    /// An environment variable's value.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// A file's text, `None` when it cannot be read.
    pub read: &'a dyn Fn(&Path) -> Option<String>,
    /// The entries of a directory (empty when it cannot be listed).
    pub list: &'a dyn Fn(&Path) -> Vec<PathBuf>,
    /// The user id, for the rootless Podman socket.
    pub uid: u32,
}

/// The engine discovery chose: its address, where that came from, and what the route needs
/// beside the address (TLS files, an ssh key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The engine's address.
    pub address: EngineAddress,
    /// Where it came from.
    pub source: SocketSource,
    /// The TLS files for a `tcp://` address, when TLS is on.
    pub tls: Option<TlsFiles>,
    /// The ssh key of a Podman connection (or `CONTAINER_SSHKEY`).
    pub identity: Option<PathBuf>,
    /// The docker context's or Podman connection's name, when one was used.
    pub name: Option<String>,
}

impl Located {
    fn at(address: EngineAddress, source: SocketSource) -> Self {
        Self {
            address,
            source,
            tls: None,
            identity: None,
            name: None,
        }
    }

    /// The route a connection takes (see [`route`]).
    pub fn route(&self) -> Result<Route, Error> {
        route(&self.address, self.tls.clone(), self.identity.clone())
    }
}

/// Pick the engine, in this order: `explicit`, `POCKETDOCK_SOCKET`, the project's `socket:`,
/// `DOCKER_HOST`, `CONTAINER_HOST`, the docker CLI's current context (`DOCKER_CONTEXT` or
/// `currentContext` in `config.json`), Podman's default connection (`CONTAINER_CONNECTION`,
/// `podman-connections.json`, or containers.conf's `active_service`), then the first local
/// socket for which `answers` is true. A named address is used as given (a missing one is not
/// silently replaced by another engine); one that does not parse is an error. A `tcp://`
/// address takes its TLS files from the docker CLI's environment ([`tls_from_env`]) or its
/// context's TLS directory.
pub fn discover(
    explicit: Option<&str>,
    project_socket: Option<&str>,
    host: &HostView<'_>,
    answers: &mut dyn FnMut(&Path) -> bool,
) -> Result<Option<Located>, Error> {
    let env = host.env;
    let with_env_tls = |mut l: Located| {
        if matches!(l.address, EngineAddress::Tcp { .. }) {
            l.tls = tls_from_env(env);
        }
        l
    };
    let named = [
        (explicit.map(str::to_string), SocketSource::Explicit),
        (env("POCKETDOCK_SOCKET"), SocketSource::Env),
        (project_socket.map(str::to_string), SocketSource::Project),
        (env("DOCKER_HOST"), SocketSource::DockerHost),
    ];
    for (value, source) in named {
        if let Some(v) = value.filter(|s| !s.is_empty()) {
            return Ok(Some(with_env_tls(Located::at(
                EngineAddress::parse(&v)?,
                source,
            ))));
        }
    }
    if let Some(v) = env("CONTAINER_HOST").filter(|s| !s.is_empty()) {
        let mut l = Located::at(EngineAddress::parse(&v)?, SocketSource::ContainerHost);
        l.identity = env("CONTAINER_SSHKEY")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from);
        return Ok(Some(l));
    }
    if let Some(l) = contexts::docker_context(host)? {
        return Ok(Some(l));
    }
    if let Some(l) = contexts::podman_connection(host)? {
        return Ok(Some(l));
    }
    Ok(candidates(env, host.uid)
        .into_iter()
        .find(|p| answers(p))
        .map(|p| Located::at(EngineAddress::Unix(p), SocketSource::Detected)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::RemoteCause;
    use std::collections::BTreeMap;

    /// A host with these variables and files (directories are listed from the file paths).
    struct Fixture {
        env: BTreeMap<&'static str, String>,
        files: BTreeMap<PathBuf, String>,
    }

    impl Fixture {
        fn new() -> Self {
            let mut env = BTreeMap::new();
            env.insert("XDG_RUNTIME_DIR", "/xdg".to_string());
            env.insert("HOME", "/home/u".to_string());
            Self {
                env,
                files: BTreeMap::new(),
            }
        }
        fn var(mut self, k: &'static str, v: &str) -> Self {
            self.env.insert(k, v.to_string());
            self
        }
        fn file(mut self, p: &str, text: &str) -> Self {
            self.files.insert(PathBuf::from(p), text.to_string());
            self
        }
        fn discover(
            &self,
            explicit: Option<&str>,
            project: Option<&str>,
            answers: &mut dyn FnMut(&Path) -> bool,
        ) -> Result<Option<Located>, Error> {
            let env = |k: &str| self.env.get(k).cloned();
            let read = |p: &Path| self.files.get(p).cloned();
            let list = |dir: &Path| {
                let mut v: Vec<PathBuf> = self
                    .files
                    .keys()
                    .filter_map(|f| {
                        let rest = f.strip_prefix(dir).ok()?;
                        let first = rest.components().next()?;
                        (rest.components().count() > 1).then(|| dir.join(first))
                    })
                    .collect();
                v.dedup();
                v
            };
            let view = HostView {
                env: &env,
                read: &read,
                list: &list,
                uid: 0,
            };
            discover(explicit, project, &view, answers)
        }
        fn found(&self, explicit: Option<&str>, project: Option<&str>) -> Located {
            match self.discover(explicit, project, &mut |_| false) {
                Ok(Some(l)) => l,
                other => panic!("expected an engine, got {other:?}"),
            }
        }
    }

    fn unix(p: &str) -> EngineAddress {
        EngineAddress::unix(p)
    }

    #[test]
    fn order_is_explicit_env_project_detected() {
        let f = Fixture::new().var("POCKETDOCK_SOCKET", "unix:///env.sock");
        let l = f.found(Some("/x.sock"), Some("/p"));
        assert_eq!(
            (l.address, l.source),
            (unix("/x.sock"), SocketSource::Explicit)
        );
        let l = f.found(None, Some("/p"));
        assert_eq!(
            (l.address, l.source),
            (unix("/env.sock"), SocketSource::Env)
        );
        let f = Fixture::new();
        let l = f.found(None, Some("/p"));
        assert_eq!((l.address, l.source), (unix("/p"), SocketSource::Project));
        assert_eq!(f.discover(None, None, &mut |_| false).ok(), Some(None));
        let mut docker = |p: &Path| p == Path::new("/var/run/docker.sock");
        let l = f.discover(None, None, &mut docker).ok().flatten();
        assert_eq!(
            l.map(|l| (l.address, l.source)),
            Some((unix("/var/run/docker.sock"), SocketSource::Detected))
        );
        let l = f.discover(None, None, &mut |_| true).ok().flatten();
        assert_eq!(l.map(|l| l.address), Some(unix("/xdg/podman/podman.sock")));
    }

    #[test]
    fn the_project_wins_over_docker_host_which_wins_over_container_host() {
        let f = Fixture::new()
            .var("DOCKER_HOST", "tcp://127.0.0.1:2375")
            .var("CONTAINER_HOST", "ssh://core@h/run/podman/podman.sock")
            .var("CONTAINER_SSHKEY", "/k");
        assert_eq!(f.found(None, Some("/p")).source, SocketSource::Project);
        let l = f.found(None, None);
        assert_eq!(l.source, SocketSource::DockerHost);
        assert_eq!(l.address.to_string(), "tcp://127.0.0.1:2375");
        assert_eq!(l.tls, None);
        let f = Fixture::new()
            .var("CONTAINER_HOST", "ssh://core@h/run/podman/podman.sock")
            .var("CONTAINER_SSHKEY", "/k");
        let l = f.found(None, None);
        assert_eq!(l.source, SocketSource::ContainerHost);
        assert_eq!(l.identity, Some(PathBuf::from("/k")));
        assert_eq!(l.route().map(|r| r.transport()).ok(), Some("ssh"));
    }

    #[test]
    fn tcp_takes_tls_from_the_docker_environment_and_plain_remote_tcp_is_refused() {
        let f = Fixture::new()
            .var("DOCKER_HOST", "tcp://10.231.0.2:2376")
            .var("DOCKER_TLS_VERIFY", "1")
            .var("DOCKER_CERT_PATH", "/certs");
        let l = f.found(None, None);
        assert_eq!(l.tls, Some(TlsFiles::in_dir(Path::new("/certs"))));
        assert_eq!(l.route().map(|r| r.transport()).ok(), Some("tls"));
        let f = Fixture::new().var("DOCKER_HOST", "tcp://10.231.0.2:2375");
        match f.found(None, None).route() {
            Err(Error::RemoteEngine { cause, .. }) => {
                assert_eq!(cause, RemoteCause::PlainTcpNotLoopback);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_bad_address_is_an_error_not_a_fallback() {
        let f = Fixture::new().var("DOCKER_HOST", "npipe:////./pipe/docker");
        assert!(matches!(
            f.discover(None, None, &mut |_| true),
            Err(Error::EngineAddress { .. })
        ));
    }

    const META: &str = r#"{"Name":"remote","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://10.231.0.2:2376","SkipTLSVerify":false}}}"#;

    #[test]
    fn the_docker_context_and_its_tls_directory() {
        let f = Fixture::new()
            .file(
                "/home/u/.docker/config.json",
                r#"{"currentContext":"remote"}"#,
            )
            .file("/home/u/.docker/contexts/meta/abc/meta.json", META)
            .file(
                "/home/u/.docker/contexts/meta/def/meta.json",
                r#"{"Name":"other","Endpoints":{"docker":{"Host":"unix:///o.sock"}}}"#,
            )
            .file("/home/u/.docker/contexts/tls/abc/docker/ca.pem", "x");
        let l = f.found(None, None);
        assert_eq!(l.source, SocketSource::DockerContext);
        assert_eq!(l.name.as_deref(), Some("remote"));
        assert_eq!(l.address.to_string(), "tcp://10.231.0.2:2376");
        assert_eq!(
            l.tls,
            Some(TlsFiles::in_dir(Path::new(
                "/home/u/.docker/contexts/tls/abc/docker"
            )))
        );
        // DOCKER_CONTEXT wins over config.json; `default` means no context.
        let g = Fixture {
            env: f.env.clone(),
            files: f.files.clone(),
        }
        .var("DOCKER_CONTEXT", "other");
        assert_eq!(g.found(None, None).address, unix("/o.sock"));
        let g = Fixture {
            env: f.env.clone(),
            files: f.files.clone(),
        }
        .var("DOCKER_CONTEXT", "default");
        assert_eq!(g.discover(None, None, &mut |_| false).ok(), Some(None));
        // DOCKER_HOST wins over the context.
        let g = Fixture {
            env: f.env.clone(),
            files: f.files.clone(),
        }
        .var("DOCKER_HOST", "unix:///h.sock");
        assert_eq!(g.found(None, None).source, SocketSource::DockerHost);
        let missing = Fixture::new().var("DOCKER_CONTEXT", "gone");
        assert!(matches!(
            missing.discover(None, None, &mut |_| true),
            Err(Error::Config { .. })
        ));
    }

    const CONNECTIONS: &str = r#"{"Connection":{"Default":"box","Connections":{
        "box":{"URI":"ssh://root@10.231.0.2:22/run/podman/podman.sock","Identity":"/id_box","IsMachine":false},
        "other":{"URI":"unix:///other.sock"}}},"Farm":{}}"#;

    #[test]
    fn the_podman_default_connection() {
        let f = Fixture::new().file(
            "/home/u/.config/containers/podman-connections.json",
            CONNECTIONS,
        );
        let l = f.found(None, None);
        assert_eq!(l.source, SocketSource::PodmanConnection);
        assert_eq!(l.name.as_deref(), Some("box"));
        assert_eq!(l.identity, Some(PathBuf::from("/id_box")));
        assert_eq!(
            l.address.to_string(),
            "ssh://root@10.231.0.2:22/run/podman/podman.sock"
        );
        let g = Fixture {
            env: f.env.clone(),
            files: f.files.clone(),
        }
        .var("CONTAINER_CONNECTION", "other");
        assert_eq!(g.found(None, None).address, unix("/other.sock"));
        // containers.conf: the user's file overrides the system's.
        let f = Fixture::new()
            .file(
                "/etc/containers/containers.conf",
                "[engine]\nactive_service = \"a\"\n[engine.service_destinations.a]\nuri = \"unix:///a.sock\"\n",
            )
            .file(
                "/home/u/.config/containers/containers.conf",
                "[engine]\nactive_service = \"b\"\n[engine.service_destinations.b]\nuri = \"ssh://h/b.sock\"\nidentity = \"/kb\"\n",
            );
        let l = f.found(None, None);
        assert_eq!(l.address.to_string(), "ssh://h/b.sock");
        assert_eq!(l.identity, Some(PathBuf::from("/kb")));
        // CONTAINERS_CONF alone when set.
        let g = Fixture {
            env: f.env.clone(),
            files: f.files.clone(),
        }
        .var("CONTAINERS_CONF", "/etc/containers/containers.conf");
        assert_eq!(g.found(None, None).address, unix("/a.sock"));
        // A docker context comes before Podman's connection.
        let g = Fixture {
            env: f.env.clone(),
            files: f.files.clone(),
        }
        .file(
            "/home/u/.docker/config.json",
            r#"{"currentContext":"remote"}"#,
        )
        .file("/home/u/.docker/contexts/meta/abc/meta.json", META);
        assert_eq!(g.found(None, None).source, SocketSource::DockerContext);
        let dangling = Fixture::new().var("CONTAINER_CONNECTION", "nope");
        assert!(matches!(
            dangling.discover(None, None, &mut |_| true),
            Err(Error::Config { .. })
        ));
    }
}
