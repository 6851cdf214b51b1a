//! Sandbox tools: create, list, info, shutdown.

use std::time::Duration;

use pocketdock_proto::spec::{NetworkMode, Volume};
use pocketdock_tokio::ContainerSpec;

use super::types::{
    CreateArgs, CreateOutput, InfoOutput, ListOutput, NoArgs, SandboxArg, SandboxSummary,
    ShutdownOutput,
};
use super::{invalid, ToolError};
use crate::host_dir;
use crate::registry::NewSandbox;
use crate::scope::Scope;

const TOOL: &str = "create_sandbox";

/// `create_sandbox`.
pub async fn create(scope: &Scope, a: CreateArgs) -> Result<CreateOutput, ToolError> {
    let opts = &scope.registry.opts;
    let idle_ttl = match a.idle_ttl_seconds {
        None => opts.idle_ttl,
        Some(0) => return Err(invalid(TOOL, "idle_ttl_seconds must be at least 1")),
        Some(s) if Duration::from_secs(s) > opts.max_idle_ttl => {
            return Err(invalid(
                TOOL,
                format!(
                    "idle_ttl_seconds may be at most {} on this server",
                    opts.max_idle_ttl.as_secs()
                ),
            ))
        }
        Some(s) => Duration::from_secs(s),
    };
    if a.network == Some(true) && opts.deny_network {
        return Err(ToolError::Refused(
            "the operator does not allow sandboxes with a network on this server".into(),
        ));
    }
    let mut spec =
        ContainerSpec::new().mem_limit(a.memory.unwrap_or_else(|| opts.default_memory.clone()));
    spec.image = a.image;
    spec.profile = a.profile;
    spec.cpu_percent = a.cpu_percent;
    spec.network = a.network.map(|on| {
        if on {
            NetworkMode::Bridge
        } else {
            NetworkMode::Off
        }
    });
    for (k, v) in a.env.unwrap_or_default() {
        spec = spec.env(k, v);
    }
    let mut mounts = Vec::new();
    for m in a.mounts.unwrap_or_default() {
        let host = host_dir::check(&m.host_path, &opts.host_dirs)
            .map_err(|e| ToolError::Refused(e.to_string()))?;
        let host = host.to_string_lossy().into_owned();
        mounts.push(format!(
            "{host} -> {} ({})",
            m.container_path,
            if m.writable { "rw" } else { "ro" }
        ));
        let mut v = Volume::new(host, m.container_path);
        v.read_only = !m.writable;
        spec = spec.volume(v);
    }
    spec.validate()?;
    let network = spec.resolved_network()? != "none";
    let sb = scope
        .registry
        .create(
            spec,
            NewSandbox {
                scope: scope.id,
                idle_ttl,
                network,
            },
        )
        .await?;
    Ok(CreateOutput {
        sandbox: sb.name.clone(),
        image: sb.image.clone(),
        network,
        idle_ttl_seconds: idle_ttl.as_secs(),
        mounts,
    })
}

/// `list_sandboxes`.
#[expect(clippy::unused_async, reason = "every tool body has the same shape")]
pub async fn list(scope: &Scope, _a: NoArgs) -> Result<ListOutput, ToolError> {
    let sandboxes = scope
        .registry
        .list(scope.id)
        .iter()
        .map(|sb| {
            let (processes, sessions) = sb.counts();
            SandboxSummary {
                sandbox: sb.name.clone(),
                image: sb.image.clone(),
                network: sb.network,
                age_seconds: sb.created.elapsed().as_secs(),
                idle_seconds: sb.idle().as_secs(),
                idle_ttl_seconds: sb.idle_ttl.as_secs(),
                processes,
                sessions,
            }
        })
        .collect();
    Ok(ListOutput {
        sandboxes,
        max_sandboxes: scope.registry.opts.max_sandboxes,
    })
}

/// `sandbox_info`.
pub async fn info(scope: &Scope, a: SandboxArg) -> Result<InfoOutput, ToolError> {
    let sb = scope.sandbox(&a.sandbox)?;
    let idle_seconds = sb.idle_before_this_call().as_secs();
    let info = sb.container.info().await?;
    Ok(InfoOutput {
        sandbox: sb.name.clone(),
        status: info.status.clone(),
        image: info.image.clone(),
        memory_usage: info.memory_usage.clone(),
        memory_limit: info.memory_limit.clone(),
        cpu_percent: info.cpu_percent,
        pids: info.pids,
        network: info.network,
        ip_address: info.ip_address.clone(),
        idle_seconds,
        idle_ttl_seconds: sb.idle_ttl.as_secs(),
        processes: serde_json::to_value(&info.processes).unwrap_or_default(),
    })
}

/// `shutdown_sandbox`.
pub async fn shutdown(scope: &Scope, a: SandboxArg) -> Result<ShutdownOutput, ToolError> {
    scope.registry.remove(scope.id, &a.sandbox).await?;
    Ok(ShutdownOutput {
        sandbox: a.sandbox,
        removed: true,
    })
}
