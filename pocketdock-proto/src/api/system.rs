//! `/_ping` and `/version`: is the engine there, and which one is it.

use serde::Deserialize;

use crate::http::{Method, Request};

/// `GET /_ping`.
pub fn ping() -> Request {
    Request::new(Method::Get, "/_ping")
}

/// `GET /version`.
pub fn version() -> Request {
    Request::new(Method::Get, "/version")
}

/// Which engine answers on the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// Podman (Docker-compatible API).
    Podman,
    /// Docker Engine (Moby).
    Docker,
}

/// One component in the version response.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Component {
    /// Component name, e.g. `Podman Engine` or `Engine`.
    #[serde(rename = "Name")]
    pub name: String,
    /// Its version.
    #[serde(rename = "Version")]
    pub version: String,
}

/// The parts of `GET /version` pocketdock reads.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct VersionInfo {
    /// Engine version.
    #[serde(rename = "Version")]
    pub version: String,
    /// Highest API version the engine speaks.
    #[serde(rename = "ApiVersion")]
    pub api_version: String,
    /// Lowest API version the engine speaks.
    #[serde(rename = "MinAPIVersion")]
    pub min_api_version: String,
    /// Operating system.
    #[serde(rename = "Os")]
    pub os: String,
    /// Architecture.
    #[serde(rename = "Arch")]
    pub arch: String,
    /// Components (Podman lists `Podman Engine` here).
    #[serde(rename = "Components")]
    pub components: Vec<Component>,
}

impl VersionInfo {
    /// Podman or Docker, from the component list.
    pub fn engine(&self) -> EngineKind {
        if self
            .components
            .iter()
            .any(|c| c.name.to_ascii_lowercase().contains("podman"))
        {
            EngineKind::Podman
        } else {
            EngineKind::Docker
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_engines() {
        let podman: VersionInfo = serde_json::from_str(
            r#"{"Platform":{"Name":"linux/amd64/debian-12"},"Components":[{"Name":"Podman Engine","Version":"4.3.1"}],"Version":"4.3.1","ApiVersion":"1.41"}"#,
        )
        .unwrap_or_default();
        assert_eq!(podman.engine(), EngineKind::Podman);
        let docker: VersionInfo = serde_json::from_str(
            r#"{"Components":[{"Name":"Engine","Version":"20.10.24"},{"Name":"containerd"}],"Version":"20.10.24+dfsg1","ApiVersion":"1.41","Extra":1}"#,
        )
        .unwrap_or_default();
        assert_eq!(docker.engine(), EngineKind::Docker);
        assert_eq!(docker.api_version, "1.41");
    }
}
