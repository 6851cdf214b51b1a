//! Bind-mount sources on the host. An engine on this machine mounts the host path a volume
//! names: Docker creates a missing one (a directory owned by root) where Podman refuses it.
//! pocketdock refuses it on both, before anything is created. A remote engine's volumes name
//! paths on its own machine, which this one cannot see: they are left to that engine.

use std::path::Path;

use pocketdock_proto::spec::ContainerSpec;
use pocketdock_proto::{Error, Result};

use crate::remote::EngineEndpoint;

/// Refuse a volume of `spec` whose host path does not exist, when the engine at `endpoint`
/// runs on this machine.
pub fn check_volume_sources(spec: &ContainerSpec, endpoint: &EngineEndpoint) -> Result<()> {
    if endpoint.is_remote() {
        return Ok(());
    }
    match spec
        .volumes
        .iter()
        .find(|v| std::fs::metadata(Path::new(&v.host)).is_err())
    {
        Some(v) => Err(Error::invalid(
            "volumes",
            format!(
                "the host path {} does not exist (create it first: the engine would make it, \
                 owned by root, or refuse it)",
                v.host
            ),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pocketdock_proto::spec::Volume;

    fn spec(host: &str) -> ContainerSpec {
        ContainerSpec::new().volume(Volume::new(host, "/mnt/x"))
    }

    #[test]
    fn a_missing_host_path_is_refused_for_a_local_engine_only() {
        let local = EngineEndpoint::parse("unix:///run/x.sock");
        let missing = spec("/no/such/pocketdock/dir");
        match check_volume_sources(&missing, &local) {
            Err(Error::InvalidInput { field, reason }) => {
                assert_eq!(field, "volumes");
                assert!(reason.contains("/no/such/pocketdock/dir"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(check_volume_sources(&spec("/tmp"), &local).is_ok());
        let remote = EngineEndpoint::parse("ssh://user@example.invalid");
        assert!(check_volume_sources(&missing, &remote).is_ok());
    }
}
