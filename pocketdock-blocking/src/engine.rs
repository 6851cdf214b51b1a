//! The connection to one container engine: discovery and single calls.

use std::path::Path;

use pocketdock_host::engine::locate_endpoint;
use pocketdock_host::remote::EngineEndpoint;
use pocketdock_proto::api::system::{EngineKind, VersionInfo};
use pocketdock_proto::engine::SocketSource;
use pocketdock_proto::op::{calls, CallOp, ExecConfig, ExecEvent, ExecOp, KillOp, Operation};
use pocketdock_proto::{ExecResult, Result};

use crate::driver::Driver;

/// A container engine (Podman or Docker) reached at its address: its local Unix socket, or tcp,
/// TLS or ssh to another machine. Cheap to clone: it holds the address (with what reaching it
/// needs, shared by the clones) and where that address came from, and every operation opens
/// its own connection. Two engines are equal when they use the same address.
#[derive(Debug, Clone)]
pub struct Engine {
    endpoint: EngineEndpoint,
    source: SocketSource,
}

impl PartialEq for Engine {
    fn eq(&self, other: &Self) -> bool {
        self.endpoint == other.endpoint
    }
}

impl Eq for Engine {}

impl Engine {
    /// An engine at `address`: a socket path, `unix://PATH`, `tcp://HOST:PORT` (TLS from
    /// `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH`; plain only to loopback) or
    /// `ssh://[user@]host[:port][/socket]`. Nothing is connected yet; an address that cannot be
    /// used makes every call fail with the reason.
    pub fn new(address: impl AsRef<str>) -> Self {
        Self::at(EngineEndpoint::parse(address.as_ref()))
    }

    /// An engine at an endpoint made by the caller (e.g. with explicit TLS files).
    pub fn at(endpoint: EngineEndpoint) -> Self {
        Self {
            endpoint,
            source: SocketSource::Explicit,
        }
    }

    /// Find the engine: `POCKETDOCK_SOCKET`, `DOCKER_HOST`, `CONTAINER_HOST`, the docker
    /// CLI's context, Podman's default connection, then the usual Podman and Docker sockets,
    /// keeping the first one that accepts a connection.
    pub fn detect() -> Result<Self> {
        Self::detect_with(None, None)
    }

    /// Find the engine with an explicit address and/or a project's `socket:` setting, in the
    /// order explicit > `POCKETDOCK_SOCKET` > project > `DOCKER_HOST` > `CONTAINER_HOST` >
    /// docker context > Podman connection > auto-detection.
    pub fn detect_with(explicit: Option<&str>, project_socket: Option<&str>) -> Result<Self> {
        let (endpoint, located) = locate_endpoint(explicit, project_socket)?;
        Ok(Self {
            endpoint,
            source: located.source,
        })
    }

    /// The socket path of a local engine; for a remote one, its address as a path (see
    /// [`address`](Self::address)).
    pub fn socket(&self) -> &Path {
        self.endpoint.socket()
    }

    /// The engine's address (`unix://...`, `tcp://...`, `ssh://...`).
    pub fn address(&self) -> &str {
        self.endpoint.address()
    }

    /// How connections reach the engine: `unix`, `tcp`, `tls` or `ssh`.
    pub fn transport(&self) -> &'static str {
        self.endpoint.transport()
    }

    /// Whether the engine runs on another machine: volumes then name paths on that machine,
    /// and published ports bind there; project instance directories stay on this one.
    pub fn is_remote(&self) -> bool {
        self.endpoint.is_remote()
    }

    /// The address with what reaching it needs.
    pub(crate) fn endpoint(&self) -> &EngineEndpoint {
        &self.endpoint
    }

    /// Where the address came from: given to [`new`](Self::new) or as the explicit address
    /// of [`detect_with`](Self::detect_with), `POCKETDOCK_SOCKET`, a project's `socket:`
    /// setting, another tool's settings, or auto-detection.
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
        Driver::new(op, &self.endpoint).run(on_event)
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
