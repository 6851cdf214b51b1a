//! The engines that other tools' settings name: the docker CLI's current context, and
//! Podman's default connection. Read as those tools read them, from the files a
//! [`HostView`] supplies.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{HostView, Located, SocketSource};
use crate::address::{EngineAddress, TlsFiles};
use crate::error::Error;

fn config_error(path: &Path, detail: impl std::fmt::Display) -> Error {
    Error::Config {
        path: path.display().to_string(),
        detail: detail.to_string(),
    }
}

fn home_dir(host: &HostView<'_>, rest: &str) -> Option<PathBuf> {
    (host.env)("HOME")
        .filter(|s| !s.is_empty())
        .map(|h| Path::new(&h).join(rest))
}

#[derive(Deserialize)]
struct DockerConfig {
    #[serde(rename = "currentContext", default)]
    current_context: Option<String>,
}

#[derive(Deserialize)]
struct ContextMeta {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Endpoints", default)]
    endpoints: BTreeMap<String, ContextEndpoint>,
}

#[derive(Deserialize)]
struct ContextEndpoint {
    #[serde(rename = "Host", default)]
    host: Option<String>,
}

/// The docker CLI's current context (`DOCKER_CONTEXT`, else `currentContext` in
/// `$DOCKER_CONFIG/config.json`, default `~/.docker`), when it names one other than `default`.
/// Its endpoint is `contexts/meta/<id>/meta.json`'s `Endpoints.docker.Host`, and its TLS files,
/// when there are any, `contexts/tls/<id>/docker/`. A named context that does not exist is an
/// error, as it is for the docker CLI.
pub(super) fn docker_context(host: &HostView<'_>) -> Result<Option<Located>, Error> {
    let Some(dir) = (host.env)("DOCKER_CONFIG")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .or_else(|| home_dir(host, ".docker"))
    else {
        return Ok(None);
    };
    let name = if let Some(n) = (host.env)("DOCKER_CONTEXT").filter(|s| !s.is_empty()) {
        n
    } else {
        let path = dir.join("config.json");
        let Some(text) = (host.read)(&path) else {
            return Ok(None);
        };
        let config: DockerConfig =
            serde_json::from_str(&text).map_err(|e| config_error(&path, e))?;
        match config.current_context.filter(|s| !s.is_empty()) {
            Some(n) => n,
            None => return Ok(None),
        }
    };
    if name == "default" {
        return Ok(None);
    }
    for entry in (host.list)(&dir.join("contexts/meta")) {
        let path = entry.join("meta.json");
        let Some(text) = (host.read)(&path) else {
            continue;
        };
        let meta: ContextMeta = serde_json::from_str(&text).map_err(|e| config_error(&path, e))?;
        if meta.name != name {
            continue;
        }
        let address = meta
            .endpoints
            .get("docker")
            .and_then(|e| e.host.clone())
            .filter(|h| !h.is_empty())
            .ok_or_else(|| config_error(&path, "the context has no docker endpoint host"))?;
        let mut located = Located::at(EngineAddress::parse(&address)?, SocketSource::DockerContext);
        located.name = Some(name);
        if let Some(id) = entry.file_name() {
            let tls_dir = dir.join("contexts/tls").join(id).join("docker");
            if (host.read)(&tls_dir.join("ca.pem")).is_some() {
                located.tls = Some(TlsFiles::in_dir(&tls_dir));
            }
        }
        return Ok(Some(located));
    }
    Err(config_error(
        &dir.join("contexts/meta"),
        format!("docker context {name:?} (the current context) does not exist"),
    ))
}

#[derive(Deserialize)]
struct PodmanConnections {
    #[serde(rename = "Connection", default)]
    connection: Option<PodmanConnectionTable>,
}

#[derive(Deserialize)]
struct PodmanConnectionTable {
    #[serde(rename = "Default", default)]
    default: Option<String>,
    #[serde(rename = "Connections", default)]
    connections: BTreeMap<String, PodmanDestination>,
}

#[derive(Deserialize)]
struct PodmanDestination {
    #[serde(rename = "URI")]
    uri: String,
    #[serde(rename = "Identity", default)]
    identity: Option<String>,
}

#[derive(Deserialize, Default)]
struct ContainersConf {
    #[serde(default)]
    engine: Option<ContainersEngine>,
}

#[derive(Deserialize, Default)]
struct ContainersEngine {
    #[serde(default)]
    active_service: Option<String>,
    #[serde(default)]
    service_destinations: BTreeMap<String, ConfDestination>,
}

#[derive(Deserialize)]
struct ConfDestination {
    uri: String,
    #[serde(default)]
    identity: Option<String>,
}

/// Podman's default connection: the name in `CONTAINER_CONNECTION`, else the `Default` of
/// `podman-connections.json` (in `$XDG_CONFIG_HOME/containers`, default `~/.config`), else
/// containers.conf's `[engine] active_service`; looked up in `podman-connections.json`'s
/// `Connections`, then in containers.conf's `[engine.service_destinations]`. containers.conf
/// is `$CONTAINERS_CONF` alone when set, else the system files then the user's, later ones
/// overriding earlier ones.
pub(super) fn podman_connection(host: &HostView<'_>) -> Result<Option<Located>, Error> {
    let config_home = (host.env)("XDG_CONFIG_HOME")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .or_else(|| home_dir(host, ".config"));
    let mut json_default = None;
    let mut json_destinations = BTreeMap::new();
    if let Some(home) = &config_home {
        let path = home.join("containers/podman-connections.json");
        if let Some(text) = (host.read)(&path) {
            let parsed: PodmanConnections =
                serde_json::from_str(&text).map_err(|e| config_error(&path, e))?;
            if let Some(table) = parsed.connection {
                json_default = table.default.filter(|s| !s.is_empty());
                json_destinations = table
                    .connections
                    .into_iter()
                    .map(|(k, v)| (k, (v.uri, v.identity)))
                    .collect();
            }
        }
    }
    let conf_files: Vec<PathBuf> =
        if let Some(p) = (host.env)("CONTAINERS_CONF").filter(|s| !s.is_empty()) {
            vec![PathBuf::from(p)]
        } else {
            let mut v = vec![
                PathBuf::from("/usr/share/containers/containers.conf"),
                PathBuf::from("/etc/containers/containers.conf"),
            ];
            if let Some(home) = &config_home {
                v.push(home.join("containers/containers.conf"));
            }
            v
        };
    let mut active = None;
    let mut conf_destinations = BTreeMap::new();
    for path in conf_files {
        let Some(text) = (host.read)(&path) else {
            continue;
        };
        let conf: ContainersConf = toml::from_str(&text).map_err(|e| config_error(&path, e))?;
        if let Some(engine) = conf.engine {
            if let Some(a) = engine.active_service.filter(|s| !s.is_empty()) {
                active = Some(a);
            }
            for (k, v) in engine.service_destinations {
                conf_destinations.insert(k, (v.uri, v.identity));
            }
        }
    }
    let Some(name) = (host.env)("CONTAINER_CONNECTION")
        .filter(|s| !s.is_empty())
        .or(json_default)
        .or(active)
    else {
        return Ok(None);
    };
    let Some((uri, identity)) = json_destinations
        .remove(&name)
        .or_else(|| conf_destinations.remove(&name))
    else {
        return Err(Error::Config {
            path: "podman-connections.json / containers.conf".into(),
            detail: format!("Podman connection {name:?} (the default) does not exist"),
        });
    };
    let mut located = Located::at(EngineAddress::parse(&uri)?, SocketSource::PodmanConnection);
    located.identity = identity.filter(|s| !s.is_empty()).map(PathBuf::from);
    located.name = Some(name);
    Ok(Some(located))
}
