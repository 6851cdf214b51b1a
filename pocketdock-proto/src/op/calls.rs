//! Every single engine call pocketdock makes, as a ready [`CallOp`]: the request, its deadline,
//! the status check and the parser, written once for all adapters.
//!
//! An adapter runs one with its driver (`engine.call(calls::inspect(id))`); composite operations
//! ([`super::lifecycle`]) chain them.

use std::time::Duration;

use serde_json::Value;

use super::CallOp;
use crate::api::containers::{self, ContainerInspect, ListItem};
use crate::api::exec::{self, ExecInspect, ExecSpec, IdResponse};
use crate::api::stats::{self, Stats, Top};
use crate::api::system::{self, VersionInfo};
use crate::api::{check, Subject};
use crate::error::{Error, Result};
use crate::http::Response;

/// Deadline of `stop` beyond the grace period.
const STOP_MARGIN: Duration = Duration::from_secs(60);
/// Deadline of `restart`.
const RESTART_TIMEOUT: Duration = Duration::from_secs(90);
/// Deadline of `commit` (a large filesystem takes a while).
const COMMIT_TIMEOUT: Duration = Duration::from_secs(600);

/// `GET /_ping`: the engine's answer (normally `OK`).
pub fn ping() -> CallOp<String> {
    CallOp::new("ping", &system::ping(), |r: Response| {
        check(&r, "ping", Subject::None)?;
        Ok(String::from_utf8_lossy(&r.body).trim().to_string())
    })
}

/// `GET /version`.
pub fn version() -> CallOp<VersionInfo> {
    CallOp::new("version", &system::version(), |r: Response| {
        check(&r, "version", Subject::None)?;
        r.json("version")
    })
}

/// Inspect a container by id or engine name (404: [`Error::ContainerNotFound`]).
pub fn inspect(id_or_name: &str) -> CallOp<ContainerInspect> {
    let key = id_or_name.to_string();
    CallOp::new(
        "inspect",
        &containers::inspect(id_or_name),
        move |r: Response| {
            check(&r, "inspect", Subject::Container(&key))?;
            r.json("inspect")
        },
    )
}

/// Inspect a container, keeping the raw JSON (for [`containers::recreate_body`]).
pub fn inspect_raw(id_or_name: &str) -> CallOp<Value> {
    let key = id_or_name.to_string();
    CallOp::new(
        "inspect",
        &containers::inspect(id_or_name),
        move |r: Response| {
            check(&r, "inspect", Subject::Container(&key))?;
            r.json("inspect")
        },
    )
}

/// List containers (stopped ones included) carrying all of `labels` (`key=value`).
pub fn list(labels: &[String]) -> CallOp<Vec<ListItem>> {
    CallOp::new("list", &containers::list(labels), |r: Response| {
        check(&r, "list", Subject::None)?;
        r.json("list")
    })
}

/// `POST /containers/create?name=NAME` with a create body; returns the new id. A taken name
/// is [`Error::NameInUse`], a missing `image` [`Error::ImageNotFound`].
pub fn create(name: &str, body: &Value, image: &str) -> CallOp<String> {
    let image = image.to_string();
    CallOp::new(
        "create",
        &containers::create(Some(name), body),
        move |r: Response| {
            check(&r, "create", Subject::Image(&image))?;
            Ok(r.json::<IdResponse>("create")?.id)
        },
    )
}

/// Create a container like [`create`], keeping the answer's `Warnings` (limits the engine
/// says it dropped, ...) beside the id.
pub fn create_with_warnings(
    name: &str,
    body: &Value,
    image: &str,
) -> CallOp<(String, Vec<String>)> {
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Answer {
        #[serde(rename = "Id")]
        id: String,
        #[serde(rename = "Warnings", deserialize_with = "crate::api::null_default")]
        warnings: Vec<String>,
    }
    let image = image.to_string();
    CallOp::new(
        "create",
        &containers::create(Some(name), body),
        move |r: Response| {
            check(&r, "create", Subject::Image(&image))?;
            let a = r.json::<Answer>("create")?;
            Ok((a.id, a.warnings))
        },
    )
}

/// Start a container.
pub fn start(id: &str) -> CallOp<()> {
    let key = id.to_string();
    CallOp::new("start", &containers::start(id), move |r: Response| {
        check(&r, "start", Subject::Container(&key))
    })
}

/// Stop a container (SIGTERM, then SIGKILL after `grace_secs`); "already stopped" is fine.
pub fn stop(id: &str, grace_secs: u32) -> CallOp<()> {
    let key = id.to_string();
    CallOp::new(
        "stop",
        &containers::stop(id, grace_secs),
        move |r: Response| {
            if r.status() == 304 {
                return Ok(());
            }
            check(&r, "stop", Subject::Container(&key))
        },
    )
    .with_timeout(Some(
        Duration::from_secs(u64::from(grace_secs)) + STOP_MARGIN,
    ))
}

/// Remove a container (`force`: even a running one).
pub fn remove(id: &str, force: bool) -> CallOp<()> {
    let key = id.to_string();
    CallOp::new(
        "remove",
        &containers::remove(id, force),
        move |r: Response| check(&r, "remove", Subject::Container(&key)),
    )
}

/// Restart a container in place.
pub fn restart(id: &str, grace_secs: u32) -> CallOp<()> {
    let key = id.to_string();
    CallOp::new(
        "restart",
        &containers::restart(id, grace_secs),
        move |r: Response| check(&r, "restart", Subject::Container(&key)),
    )
    .with_timeout(Some(RESTART_TIMEOUT))
}

/// Commit a container's filesystem as image `name` (`repo[:tag]`, registry ports understood);
/// returns the image id. A bad `name` is refused before any call.
pub fn commit(id: &str, name: &str) -> Result<CallOp<String>> {
    let (repo, tag) = crate::spec::split_image_ref(name)?;
    let key = id.to_string();
    Ok(CallOp::new(
        "commit",
        &stats::commit(id, &repo, &tag, None),
        move |r: Response| stats::parse_commit(&r, &key),
    )
    .with_timeout(Some(COMMIT_TIMEOUT)))
}

/// One stats sample; `None` when the container is not running (or the engine sent no sample).
pub fn stats(id: &str) -> CallOp<Option<Stats>> {
    let key = id.to_string();
    CallOp::new(
        "stats",
        &stats::stats(id, true),
        move |r: Response| match stats::parse_stats(&r, &key) {
            Err(Error::ContainerNotRunning(_)) => Ok(None),
            other => other,
        },
    )
}

/// The processes of a container; `None` when it is not running.
pub fn top(id: &str) -> CallOp<Option<Top>> {
    let key = id.to_string();
    CallOp::new(
        "top",
        &stats::top(id),
        move |r: Response| match stats::parse_top(&r, &key) {
            Ok(t) => Ok(Some(t)),
            Err(Error::ContainerNotRunning(_)) => Ok(None),
            Err(e) => Err(e),
        },
    )
}

/// The processes of a container through Podman's own endpoint, which reads `/proc` itself:
/// Podman's compatible `/top` runs `ps` inside the container and answers an empty body when
/// the image has none. `None` on any failure (Docker has no such endpoint).
pub fn libpod_top(id: &str) -> CallOp<Option<Top>> {
    let key = id.to_string();
    CallOp::new("top", &stats::libpod_top(id), move |r: Response| {
        Ok(stats::parse_top(&r, &key).ok())
    })
}

/// Create an exec of `spec` in `container` to attach to; returns its id. A stopped container
/// is [`Error::ContainerNotRunning`].
pub fn exec_create(container: &str, spec: &ExecSpec) -> CallOp<String> {
    exec_create_call(container, &exec::create(container, spec))
}

/// Create an exec of `spec` in `container` that nobody will attach to; returns its id (see
/// [`exec_start_detached`]). A stopped container is [`Error::ContainerNotRunning`].
pub fn exec_create_detached(container: &str, spec: &ExecSpec) -> CallOp<String> {
    exec_create_call(container, &exec::create_detached(container, spec))
}

fn exec_create_call(container: &str, request: &crate::http::Request) -> CallOp<String> {
    let key = container.to_string();
    CallOp::new("exec create", request, move |r: Response| {
        check(&r, "exec create", Subject::Container(&key))?;
        Ok(r.json::<IdResponse>("exec create")?.id)
    })
}

/// Start exec `exec_id` of `container` detached: the engine runs it on its own, and it keeps
/// running after the client is gone.
pub fn exec_start_detached(container: &str, exec_id: &str) -> CallOp<()> {
    let key = container.to_string();
    CallOp::new(
        "exec start",
        &exec::start_detached(exec_id),
        move |r: Response| check(&r, "exec start", Subject::Container(&key)),
    )
}

/// Inspect exec `exec_id` of `container` (a vanished container or exec is
/// [`Error::ContainerNotFound`]).
pub fn exec_inspect(container: &str, exec_id: &str) -> CallOp<ExecInspect> {
    let key = container.to_string();
    CallOp::new(
        "exec inspect",
        &exec::inspect(exec_id),
        move |r: Response| {
            check(&r, "exec inspect", Subject::Container(&key))?;
            r.json::<ExecInspect>("exec inspect")
        },
    )
}
