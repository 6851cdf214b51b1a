//! The container's network mode.

/// The container's network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkMode {
    /// No network at all (`NetworkMode: "none"`): only loopback inside the sandbox.
    Off,
    /// The engine's default bridge network (outbound access, ports can be published).
    Bridge,
    /// Any other engine network mode or network name (`host`, `my-net`, `container:<id>`).
    Named(String),
}

impl NetworkMode {
    /// The `HostConfig.NetworkMode` value.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Off => "none",
            Self::Bridge => "bridge",
            Self::Named(n) => n,
        }
    }

    pub(super) fn forbids_ports(&self) -> bool {
        matches!(self.as_str(), "none" | "host")
    }
}
