//! Finding the engine on this host. The order and the candidates are
//! [`pocketdock_proto::engine::discover`]'s; this module supplies what it asks for: the
//! process environment, the user id, the files of the docker CLI and Podman, and a probe that
//! tries to connect to a local socket.

use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use pocketdock_proto::engine::{discover, HostView, Located};
use pocketdock_proto::{Error, Result};

use crate::remote::EngineEndpoint;

/// The engine and where it came from: `explicit`, else `POCKETDOCK_SOCKET`, else
/// `project_socket`, else `DOCKER_HOST`, `CONTAINER_HOST`, the docker CLI's current context,
/// Podman's default connection, else the first usual Podman or Docker socket that accepts a
/// connection. [`Error::EngineNotFound`] when nothing is named and nothing answers; an address
/// that does not parse, or a context or connection that does not exist, is an error too.
pub fn locate(explicit: Option<&str>, project_socket: Option<&str>) -> Result<Located> {
    let env = |k: &str| std::env::var(k).ok();
    let read = |p: &Path| std::fs::read_to_string(p).ok();
    let list = |p: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(p)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default()
    };
    // The owner of /proc/self is this process's user: no libc call needed for the uid.
    let uid = std::fs::metadata("/proc/self").map_or(0, |m| m.uid());
    let view = HostView {
        env: &env,
        read: &read,
        list: &list,
        uid,
    };
    let mut answers = |p: &Path| UnixStream::connect(p).is_ok();
    discover(explicit, project_socket, &view, &mut answers)?.ok_or(Error::EngineNotFound)
}

/// [`locate`], as the endpoint the adapters connect through.
pub fn locate_endpoint(
    explicit: Option<&str>,
    project_socket: Option<&str>,
) -> Result<(EngineEndpoint, Located)> {
    let located = locate(explicit, project_socket)?;
    Ok((EngineEndpoint::located(&located), located))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pocketdock_proto::address::EngineAddress;
    use pocketdock_proto::engine::SocketSource;

    #[test]
    fn explicit_wins_and_keeps_its_source() {
        let located = locate(Some("unix:///nowhere/x.sock"), Some("/p.sock"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(located.address, EngineAddress::unix("/nowhere/x.sock"));
        assert_eq!(located.source, SocketSource::Explicit);
    }
}
