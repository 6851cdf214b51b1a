//! Creating, finding and removing containers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pocketdock_proto::api::containers::{ContainerInspect, ListItem};
use pocketdock_proto::info::{format_timestamp, ContainerInfo};
use pocketdock_proto::op::{calls, CreateOp, FindOp, Identity, InfoOp};
use pocketdock_proto::spec::ContainerSpec;
use pocketdock_proto::Result;

use crate::container::Container;
use crate::engine::{random_u64, Engine};

/// Default timeout of `run` on a new container (the reference's 30 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Create and start a sandbox on the auto-detected engine.
///
/// ```no_run
/// use pocketdock_smol::{create_new_container, ContainerSpec};
/// # async fn demo() -> pocketdock_smol::Result<()> {
/// let c = create_new_container(
///     ContainerSpec::new().name("my-sandbox").mem_limit("256m").cpu_percent(50),
/// )
/// .await?;
/// println!("{} {}", c.name(), c.run("uname -a").await?.stdout_str());
/// # Ok(()) }
/// ```
pub async fn create_new_container(spec: ContainerSpec) -> Result<Container> {
    Engine::detect()?.create_container(spec).await
}

/// `pocketdock.created-at` for now.
pub(crate) fn now_iso() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    format_timestamp(now.as_secs() as i64, now.subsec_micros())
}

/// Seconds since the epoch.
pub(crate) fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

impl Engine {
    /// Create and start a sandbox on this engine. The spec is checked before any engine call;
    /// a taken name is [`Error::NameInUse`](crate::Error::NameInUse); a container that fails to
    /// start is removed again.
    pub async fn create_container(&self, spec: ContainerSpec) -> Result<Container> {
        let op = CreateOp::new(&spec, random_u64(), &now_iso())?;
        let identity = self.drive(op, |()| {}).await?;
        Ok(Container::from_identity(self, identity, true))
    }

    /// A handle on an existing pocketdock container, found by name (see
    /// [`find_container`](Self::find_container)). It does not start a stopped container, and
    /// dropping it leaves the container alone.
    pub async fn attach(&self, name: &str) -> Result<Container> {
        let inspect = self.find_container(name).await?;
        Ok(Container::from_identity(
            self,
            Identity::from_inspect(&inspect),
            false,
        ))
    }

    /// Inspect a container by id or engine name.
    pub async fn inspect_container(&self, id_or_name: &str) -> Result<ContainerInspect> {
        self.call(calls::inspect(id_or_name)).await
    }

    /// List containers carrying all of `labels` (`key=value`), stopped ones included.
    pub async fn list_raw(&self, labels: &[String]) -> Result<Vec<ListItem>> {
        self.call(calls::list(labels)).await
    }

    /// Find a pocketdock container by name: the engine name first, then (for containers made by
    /// the Python reference, which leaves the engine name alone) the `pocketdock.instance` label.
    /// Only containers labelled `pocketdock.managed=true` are found.
    pub async fn find_container(&self, name: &str) -> Result<ContainerInspect> {
        self.drive(FindOp::new(name), |()| {}).await
    }

    /// Remove a container by id or engine name.
    pub async fn remove_container(&self, id_or_name: &str, force: bool) -> Result<()> {
        self.call(calls::remove(id_or_name, force)).await
    }

    /// A live [`ContainerInfo`] of a container.
    pub async fn container_info(&self, id: &str) -> Result<ContainerInfo> {
        self.drive(InfoOp::new(id, now_unix()), |()| {}).await
    }
}
