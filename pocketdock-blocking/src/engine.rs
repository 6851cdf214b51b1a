//! The connection to one container engine: socket discovery and single calls.

use std::path::{Path, PathBuf};

use pocketdock_host::engine::locate;
use pocketdock_proto::api::system::{EngineKind, VersionInfo};
use pocketdock_proto::engine::{socket_path, SocketSource};
use pocketdock_proto::op::{calls, CallOp, ExecConfig, ExecEvent, ExecOp, KillOp, Operation};
use pocketdock_proto::{ExecResult, Result};

use crate::driver::Driver;

/// A container engine (Podman or Docker) reached over its Unix socket. Cheap to clone: it holds
/// only the socket path and where that path came from, and every operation opens its own
/// connection. Two engines are equal when they use the same socket.
#[derive(Debug, Clone)]
pub struct Engine {
    socket: PathBuf,
    source: SocketSource,
}

impl PartialEq for Engine {
    fn eq(&self, other: &Self) -> bool {
        self.socket == other.socket
    }
}

impl Eq for Engine {}

impl Engine {
    /// An engine at `socket` (a path, or `unix://` followed by a path). Nothing is checked yet.
    pub fn new(socket: impl AsRef<str>) -> Self {
        Self {
            socket: PathBuf::from(socket_path(socket.as_ref())),
            source: SocketSource::Explicit,
        }
    }

    /// Find the engine: `POCKETDOCK_SOCKET`, then the usual Podman and Docker sockets, keeping the
    /// first one that accepts a connection.
    pub fn detect() -> Result<Self> {
        Self::detect_with(None, None)
    }

    /// Find the engine with an explicit socket and/or a project's `socket:` setting, in the order
    /// explicit > `POCKETDOCK_SOCKET` > project > auto-detection.
    pub fn detect_with(explicit: Option<&str>, project_socket: Option<&str>) -> Result<Self> {
        let (socket, source) = locate(explicit, project_socket)?;
        Ok(Self { socket, source })
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Where the socket path came from: given to [`new`](Self::new) or as the explicit socket
    /// of [`detect_with`](Self::detect_with), `POCKETDOCK_SOCKET`, a project's `socket:`
    /// setting, or auto-detection.
    pub fn source(&self) -> SocketSource {
        self.source
    }

    /// `GET /_ping`: the engine's answer (normally `OK`).
    pub fn ping(&self) -> Result<String> {
        self.call(calls::ping())
    }

    /// `GET /version`.
    pub fn version(&self) -> Result<VersionInfo> {
        self.call(calls::version())
    }

    /// Podman or Docker.
    pub fn kind(&self) -> Result<EngineKind> {
        Ok(self.version()?.engine())
    }

    /// Drive any operation to completion, handing its events to `on_event`.
    pub(crate) fn drive<O: Operation>(
        &self,
        op: O,
        on_event: impl FnMut(O::Event),
    ) -> Result<O::Output> {
        crate::reaper::start_once(self);
        Driver::new(op, &self.socket).run(on_event)
    }

    /// Run a single call.
    pub(crate) fn call<T>(&self, op: CallOp<T>) -> Result<T> {
        self.drive(op, |()| {})
    }

    /// Run an exec to completion.
    pub(crate) fn exec(
        &self,
        config: ExecConfig,
        on_event: impl FnMut(ExecEvent),
    ) -> Result<ExecResult> {
        self.drive(ExecOp::new(config), on_event)
    }

    /// Signal the process tree marked with `nonce`.
    pub(crate) fn kill_tree(
        &self,
        container: &str,
        nonce: &str,
        signal: &str,
        user: Option<String>,
    ) -> Result<()> {
        self.drive(KillOp::new(container, nonce, signal, user), |()| {})
    }
}

pub(crate) use pocketdock_host::random::{nonce, random_u64};
