//! Bind mounts from the host into the container.

/// A bind mount from the host into the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// Absolute host path; it must exist when the engine runs on this machine (checked before
    /// the create, `pocketdock_host::volumes`).
    pub host: String,
    /// Absolute path inside the container (not `/`).
    pub container: String,
    /// Mount read-only.
    pub read_only: bool,
}

impl Volume {
    /// A read-write bind mount.
    pub fn new(host: impl Into<String>, container: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            container: container.into(),
            read_only: false,
        }
    }

    /// A read-only bind mount.
    pub fn read_only(host: impl Into<String>, container: impl Into<String>) -> Self {
        Self {
            read_only: true,
            ..Self::new(host, container)
        }
    }

    /// The `Binds` entry: `host:container` or `host:container:ro`.
    pub fn bind(&self) -> String {
        if self.read_only {
            format!("{}:{}:ro", self.host, self.container)
        } else {
            format!("{}:{}", self.host, self.container)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_binds() {
        assert_eq!(Volume::new("/a", "/b").bind(), "/a:/b");
        assert_eq!(Volume::read_only("/a", "/b").bind(), "/a:/b:ro");
    }
}
