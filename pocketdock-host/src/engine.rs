//! Finding the engine socket on this host. The order and the candidates are
//! [`pocketdock_proto::engine::discover`]'s; this module supplies what it asks for: the
//! process environment, the user id, and a probe that tries to connect.

use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use pocketdock_proto::engine::{discover, SocketSource};
use pocketdock_proto::{Error, Result};

/// The engine socket and where it came from: `explicit`, else `POCKETDOCK_SOCKET`, else
/// `project_socket`, else the first usual Podman or Docker socket that accepts a connection.
/// [`Error::EngineNotFound`] when nothing is named and nothing answers.
pub fn locate(
    explicit: Option<&str>,
    project_socket: Option<&str>,
) -> Result<(PathBuf, SocketSource)> {
    let env = |k: &str| std::env::var(k).ok();
    // The owner of /proc/self is this process's user: no libc call needed for the uid.
    let uid = std::fs::metadata("/proc/self").map_or(0, |m| m.uid());
    let mut answers = |p: &Path| UnixStream::connect(p).is_ok();
    discover(explicit, &env, project_socket, uid, &mut answers).ok_or(Error::EngineNotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_wins_and_keeps_its_source() {
        let (path, source) = locate(Some("unix:///nowhere/x.sock"), Some("/p.sock"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(path, PathBuf::from("/nowhere/x.sock"));
        assert_eq!(source, SocketSource::Explicit);
    }
}
