//! The connection to one container engine: discovery and single calls.

use std::marker::PhantomData;
use std::path::Path;

use pocketdock_host::engine::locate_endpoint;
use pocketdock_host::remote::EngineEndpoint;
use pocketdock_proto::api::system::{EngineKind, VersionInfo};
use pocketdock_proto::engine::SocketSource;
use pocketdock_proto::op::{
    calls, CallOp, CancelOp, ExecConfig, ExecEvent, ExecOp, KillOp, Operation,
};
use pocketdock_proto::{ExecResult, Result};

use crate::driver::Driver;
use crate::runtime::Runtime;

/// A container engine (Podman or Docker) reached at its address (its local Unix socket, or
/// tcp, TLS or ssh to another machine), driven on runtime `R`. Cheap to clone: it holds the
/// address (with what reaching it needs, shared by the clones) and where that address came
/// from, and every operation opens its own connection, so a long stream never delays another
/// call. Two engines are equal when they use the same address.
pub struct Engine<R> {
    endpoint: EngineEndpoint,
    source: SocketSource,
    runtime: PhantomData<fn() -> R>,
}

impl<R> std::fmt::Debug for Engine<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("endpoint", &self.endpoint)
            .field("source", &self.source)
            .finish()
    }
}

impl<R> Clone for Engine<R> {
    fn clone(&self) -> Self {
        Self {
            endpoint: self.endpoint.clone(),
            source: self.source,
            runtime: PhantomData,
        }
    }
}

impl<R> PartialEq for Engine<R> {
    fn eq(&self, other: &Self) -> bool {
        self.endpoint == other.endpoint
    }
}

impl<R> Eq for Engine<R> {}

impl<R> Engine<R> {
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
            runtime: PhantomData,
        }
    }

    /// Find the engine: `POCKETDOCK_SOCKET`, `DOCKER_HOST`, `CONTAINER_HOST`, the docker
    /// CLI's context, Podman's default connection, then the usual Podman and Docker sockets,
    /// keeping the first one that accepts a connection. (Connecting to a local Unix socket
    /// does not block, and a remote address is not connected yet, so this is not `async`.)
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
            runtime: PhantomData,
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
}

impl<R: Runtime> Engine<R> {
    /// `GET /_ping`: the engine's answer (normally `OK`).
    pub async fn ping(&self) -> Result<String> {
        self.call(calls::ping()).await
    }

    /// `GET /version`.
    pub async fn version(&self) -> Result<VersionInfo> {
        self.call(calls::version()).await
    }

    /// Podman or Docker.
    pub async fn kind(&self) -> Result<EngineKind> {
        Ok(self.version().await?.engine())
    }

    /// Drive any operation to completion, handing its events to `on_event`.
    pub(crate) async fn drive<O: Operation>(
        &self,
        op: O,
        on_event: impl FnMut(O::Event),
    ) -> Result<O::Output> {
        crate::reaper::start_once(self);
        Driver::<O, R>::new(op, &self.endpoint).run(on_event).await
    }

    /// Run a single call.
    pub(crate) async fn call<T>(&self, op: CallOp<T>) -> Result<T> {
        self.drive(op, |()| {}).await
    }

    /// Run an exec to completion.
    pub(crate) async fn exec(
        &self,
        config: ExecConfig,
        on_event: impl FnMut(ExecEvent),
    ) -> Result<ExecResult> {
        self.drive(ExecOp::new(config), on_event).await
    }

    /// Signal the process tree marked with `nonce`.
    pub(crate) async fn kill_tree(
        &self,
        container: &str,
        nonce: &str,
        signal: &str,
        user: Option<String>,
    ) -> Result<()> {
        self.drive(KillOp::new(container, nonce, signal, user), |()| {})
            .await
    }
}

/// Kills a command's process tree when dropped while armed: the cancellation of a `run` future
/// or an [`ExecStream`](crate::ExecStream) dropped mid-run. The kill is handed to
/// [`Runtime::spawn_cleanup`] (a `Drop` cannot await).
pub(crate) struct KillGuard<R: Runtime> {
    engine: Engine<R>,
    container: String,
    nonce: String,
    user: Option<String>,
    /// The exec id once created: dropping the guard then cancels the exec.
    armed: Option<String>,
}

impl<R: Runtime> KillGuard<R> {
    pub(crate) fn new(engine: &Engine<R>, config: &ExecConfig) -> Self {
        Self {
            engine: engine.clone(),
            container: config.container.clone(),
            nonce: config.nonce.clone(),
            user: config.spec.user.clone(),
            armed: None,
        }
    }

    /// The exec exists: from now on, dropping the guard kills it.
    pub(crate) fn arm(&mut self, exec_id: &str) {
        self.armed = Some(exec_id.to_string());
    }

    /// The exec has finished.
    pub(crate) fn disarm(&mut self) {
        self.armed = None;
    }
}

impl<R: Runtime> Drop for KillGuard<R> {
    fn drop(&mut self) {
        let Some(exec_id) = self.armed.take() else {
            return;
        };
        let engine = self.engine.clone();
        let op = CancelOp::new(&self.container, &exec_id, &self.nonce, self.user.take());
        R::spawn_cleanup(async move {
            let _ = engine.drive(op, |()| {}).await;
        });
    }
}

pub(crate) use pocketdock_host::random::{nonce, random_u64};
