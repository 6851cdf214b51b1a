//! The connection to one container engine: socket discovery and single calls.

use std::future::Future;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use pocketdock_proto::api::system::{EngineKind, VersionInfo};
use pocketdock_proto::engine::{discover, socket_path};
use pocketdock_proto::op::{
    calls, CallOp, CancelOp, ExecConfig, ExecEvent, ExecOp, KillOp, Operation,
};
use pocketdock_proto::{Error, ExecResult, Result};

use crate::driver::Driver;

/// A container engine (Podman or Docker) reached over its Unix socket. Cheap to clone: it holds
/// only the socket path, and every operation opens its own connection, so a long stream never
/// delays another call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engine {
    socket: PathBuf,
}

impl Engine {
    /// An engine at `socket` (a path, or `unix://` followed by a path). Nothing is checked yet.
    pub fn new(socket: impl AsRef<str>) -> Self {
        Self {
            socket: PathBuf::from(socket_path(socket.as_ref())),
        }
    }

    /// Find the engine: `POCKETDOCK_SOCKET`, then the usual Podman and Docker sockets, keeping the
    /// first one that accepts a connection. (Connecting to a local Unix socket does not block,
    /// so this is not `async`.)
    pub fn detect() -> Result<Self> {
        Self::detect_with(None, None)
    }

    /// Find the engine with an explicit socket and/or a project's `socket:` setting, in the order
    /// explicit > `POCKETDOCK_SOCKET` > project > auto-detection.
    pub fn detect_with(explicit: Option<&str>, project_socket: Option<&str>) -> Result<Self> {
        let env = |k: &str| std::env::var(k).ok();
        let uid = std::fs::metadata("/proc/self").map_or(0, |m| m.uid());
        let mut answers = |p: &Path| std::os::unix::net::UnixStream::connect(p).is_ok();
        discover(explicit, &env, project_socket, uid, &mut answers)
            .map(|(socket, _)| Self { socket })
            .ok_or(Error::EngineNotFound)
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

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
    pub async fn drive<O: Operation>(
        &self,
        op: O,
        on_event: impl FnMut(O::Event),
    ) -> Result<O::Output> {
        Driver::new(op, &self.socket).run(on_event).await
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

/// Run cleanup work that a `Drop` cannot await on a short-lived thread of its own
/// (`async_io::block_on`): this crate knows no executor, and the thread outlives whichever one
/// the caller uses.
pub(crate) fn spawn_background(work: impl Future<Output = ()> + Send + 'static) {
    let _ = std::thread::Builder::new()
        .name("pocketdock-cleanup".into())
        .spawn(move || async_io::block_on(work));
}

/// Run `fut` until `deadline`: `None` if the deadline came first (`fut` is dropped).
pub(crate) async fn sleep_until_or<T>(
    deadline: std::time::Instant,
    fut: impl Future<Output = T>,
) -> Option<T> {
    futures_lite::future::or(async { Some(fut.await) }, async {
        async_io::Timer::at(deadline).await;
        None
    })
    .await
}

/// Start the reader of a session: a thread of its own running the reader future (see the
/// crate docs: no executor is assumed).
pub(crate) fn spawn_reader(reader: impl Future<Output = ()> + Send + 'static) -> Result<()> {
    std::thread::Builder::new()
        .name("pocketdock-session".into())
        .spawn(move || async_io::block_on(reader))
        .map(drop)
        .map_err(Error::Io)
}

/// Kills a command's process tree when dropped while armed: the cancellation of a `run` future
/// or an [`ExecStream`](crate::ExecStream) dropped mid-run. The kill runs on a thread of its
/// own (see [`spawn_background`]).
pub(crate) struct KillGuard {
    engine: Engine,
    container: String,
    nonce: String,
    user: Option<String>,
    /// The exec id once created: dropping the guard then cancels the exec.
    armed: Option<String>,
}

impl KillGuard {
    pub(crate) fn new(engine: &Engine, config: &ExecConfig) -> Self {
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

impl Drop for KillGuard {
    fn drop(&mut self) {
        let Some(exec_id) = self.armed.take() else {
            return;
        };
        let engine = self.engine.clone();
        let op = CancelOp::new(&self.container, &exec_id, &self.nonce, self.user.take());
        spawn_background(async move {
            let _ = engine.drive(op, |()| {}).await;
        });
    }
}

pub(crate) use pocketdock_host::random::{nonce, random_u64};
