//! A sandbox container: the handle, its lifetime (shutdown, keep, drop, reboot) and its
//! settings. The commands run in it are in `run.rs`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use pocketdock_host::sandbox::{created_at_now, record_new_id, Attached};
use pocketdock_proto::detached::Callbacks;
use pocketdock_proto::files::Owner;
use pocketdock_proto::limits::{LimitsOp, LimitsReport};
use pocketdock_proto::op::{calls, RecreateOp};
use pocketdock_proto::persistence::{shutdown_call, STOP_GRACE_SECS};
use pocketdock_proto::ring::DEFAULT_RING_CAPACITY;
use pocketdock_proto::run::DEFAULT_TIMEOUT;
use pocketdock_proto::Result;

use crate::agent::AgentSlot;
use crate::engine::Engine;
use crate::logging::InstanceLog;

/// A running sandbox. Every call goes to the engine live (nothing is cached).
///
/// An ephemeral container created by this handle is removed when the handle is dropped (or by
/// [`shutdown`](Self::shutdown)); a persistent one is only stopped by `shutdown` and left alone on
/// drop. Handles obtained by name ([`Engine::attach`], resume) never remove anything on drop.
#[derive(Debug)]
pub struct Container {
    pub(crate) engine: Engine,
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) persist: bool,
    pub(crate) project: String,
    pub(crate) data_path: String,
    /// The instance directory, once checked to be a real one of this container.
    pub(crate) instance_dir: Option<PathBuf>,
    /// The instance's logs (`None`: no instance directory, or `auto_log: false`).
    pub(crate) log: Option<InstanceLog>,
    pub(crate) default_timeout: Option<Duration>,
    pub(crate) buffer_capacity: usize,
    pub(crate) callbacks: Callbacks,
    pub(crate) closed: bool,
    /// Created by this handle: an ephemeral one is removed on drop.
    pub(crate) owned: bool,
    /// The default user, once an upload has read it: later uploads run nothing before their
    /// archive.
    pub(crate) owner: OnceLock<Owner>,
    /// The in-sandbox agent: this handle's mode, and the agent once started.
    pub(crate) agent: AgentSlot,
    /// What the sandbox enforced right after its create (`None` for an attached handle).
    pub(crate) limits: Option<LimitsReport>,
}

impl Container {
    pub(crate) fn from_attached(engine: &Engine, attached: Attached, owned: bool) -> Self {
        let Attached {
            identity,
            instance_dir,
            log,
            limits,
        } = attached;
        Self {
            engine: engine.clone(),
            id: identity.id,
            name: identity.name,
            persist: identity.persist,
            project: identity.project,
            data_path: identity.data_path,
            instance_dir,
            log,
            default_timeout: Some(DEFAULT_TIMEOUT),
            buffer_capacity: DEFAULT_RING_CAPACITY,
            callbacks: Callbacks::default(),
            closed: false,
            owned,
            owner: OnceLock::new(),
            agent: AgentSlot::default(),
            limits,
        }
    }

    /// Full container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The pocketdock name (also the engine's container name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Does `shutdown` keep the container (stopped)?
    pub fn persist(&self) -> bool {
        self.persist
    }

    /// Project name, empty if none.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// The `pocketdock.data-path` label: the instance directory, empty if none (as labelled, not
    /// checked; see [`instance_dir`](Self::instance_dir)).
    pub fn data_path(&self) -> &str {
        &self.data_path
    }

    /// The instance directory (`<root>/.pocketdock/instances/<name>`) of a persistent container
    /// of a project, once checked to be a real instance directory of this container; its
    /// `logs/` receive the history of the commands run through this handle.
    pub fn instance_dir(&self) -> Option<&Path> {
        self.instance_dir.as_deref()
    }

    /// The instance's logs, for the session code (`None` when nothing is logged).
    pub(crate) fn instance_log(&self) -> Option<&InstanceLog> {
        self.log.as_ref()
    }

    /// The engine socket.
    pub fn socket_path(&self) -> &std::path::Path {
        self.engine.socket()
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Default timeout of `run` (the reference's `timeout`, 30 s unless set).
    pub fn default_timeout(&self) -> Option<Duration> {
        self.default_timeout
    }

    /// Stop and remove the container; a persistent one is only stopped. `force` kills at once
    /// instead of sending SIGTERM first. Idempotent.
    pub fn shutdown(&mut self, force: bool) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        // The agent's connection closes first (the agent kills what it started), and an agent
        // start under way is dropped when it ends: its sandbox is going.
        self.agent.reset();
        self.engine
            .call(shutdown_call(&self.id, self.persist, force))
    }

    /// Keep the container when the handle is dropped (it stays running).
    pub fn keep(mut self) -> String {
        self.closed = true;
        std::mem::take(&mut self.id)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if self.owned && !self.closed && !self.persist {
            let _ = self.engine.call(calls::remove(&self.id, true));
        }
    }
}

impl Container {
    /// A live snapshot: status, resources (CPU from two samples, memory without page cache),
    /// network, ports, processes, and which path this handle's commands take.
    ///
    /// A running container's info carries its [`LimitsReport`]: the one read when this handle
    /// created the container, else one read now from inside it (one more command).
    pub fn info(&self) -> Result<pocketdock_proto::info::ContainerInfo> {
        let mut info = self.engine.container_info(&self.id)?;
        info.agent = Some(self.command_path());
        if info.status == "running" {
            info.limits = match &self.limits {
                Some(l) => Some(l.clone()),
                None => Some(self.read_limits()?),
            };
        }
        Ok(info)
    }

    /// What the sandbox enforced right after this handle created it (memory, swap, pids, CPU,
    /// capabilities, network, ports; see [`LimitsReport`]): read once at the create, where a
    /// requested limit found missing failed the create unless the spec allowed it. `None` for
    /// a handle on an existing container: see [`read_limits`](Self::read_limits).
    pub fn limits(&self) -> Option<&LimitsReport> {
        self.limits.as_ref()
    }

    /// Read what the sandbox enforces now (one command in it and an inspect), compared with
    /// what the engine recorded as asked for.
    pub fn read_limits(&self) -> Result<LimitsReport> {
        self.engine.drive(
            LimitsOp::new(&self.id, None, &pocketdock_host::owner::owned_nonce()),
            |()| {},
        )
    }

    /// Restart in place (filesystem kept), or with `fresh` recreate it from its own image and
    /// settings (limits, mounts, devices, ports, network and hardening kept; filesystem new).
    /// Running processes, streams and sessions end.
    pub fn reboot(&mut self, fresh: bool) -> Result<()> {
        self.agent.reset();
        if !fresh {
            return self.engine.call(calls::restart(&self.id, STOP_GRACE_SECS));
        }
        let op = RecreateOp::new(&self.id, &self.name, &created_at_now());
        self.id = self.engine.drive(op, |_| {})?;
        // Keep instance.toml's id in step (the reference left the old one).
        record_new_id(self.instance_dir.as_deref(), &self.id);
        // A new container: its limits are read again when asked.
        self.limits = None;
        Ok(())
    }

    /// Commit the container's filesystem as image `name` (`repo[:tag]`, registry ports
    /// understood); returns the image id.
    ///
    /// An agent start under way (the one begun in the background after a first command) is
    /// waited for first: Docker pauses a container to commit it, and a pause that lands while
    /// an engine exec is being set up leaves the exec and the commit waiting on each other for
    /// good. A snapshot taken after the agent ran holds its binary (in `/.pocketdock/`).
    pub fn snapshot(&self, name: &str) -> Result<String> {
        let commit = calls::commit(&self.id, name)?;
        self.agent_settled();
        self.engine.call(commit)
    }

    /// Set the ring buffer capacity of detached processes started from now on.
    pub fn set_buffer_capacity(&mut self, bytes: usize) {
        self.buffer_capacity = bytes.max(2);
    }

    /// Set the default timeout of `run` (`None`: no deadline).
    pub fn set_default_timeout(&mut self, timeout: Option<Duration>) {
        self.default_timeout = timeout;
    }
}
