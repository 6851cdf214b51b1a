//! `/containers/...` endpoints.

use serde::Deserialize;
use std::collections::BTreeMap;

use crate::http::{percent_encode, Method, Query, Request};

/// `POST /containers/create[?name=]` with a create body (see `spec`).
pub fn create(name: Option<&str>, body: &serde_json::Value) -> Request {
    let q = Query::new().push_opt("name", name).finish();
    Request::json(Method::Post, format!("/containers/create{q}"), body)
}

/// `POST /containers/{id}/start`.
pub fn start(id: &str) -> Request {
    Request::new(
        Method::Post,
        format!("/containers/{}/start", percent_encode(id)),
    )
}

/// `POST /containers/{id}/stop?t=`.
pub fn stop(id: &str, grace_secs: u32) -> Request {
    Request::new(
        Method::Post,
        format!("/containers/{}/stop?t={grace_secs}", percent_encode(id)),
    )
}

/// `POST /containers/{id}/restart?t=`.
pub fn restart(id: &str, grace_secs: u32) -> Request {
    Request::new(
        Method::Post,
        format!("/containers/{}/restart?t={grace_secs}", percent_encode(id)),
    )
}

/// `POST /containers/{id}/kill?signal=`.
pub fn kill(id: &str, signal: &str) -> Request {
    let q = Query::new().push("signal", signal).finish();
    Request::new(
        Method::Post,
        format!("/containers/{}/kill{q}", percent_encode(id)),
    )
}

/// `DELETE /containers/{id}?force=&v=`.
pub fn remove(id: &str, force: bool) -> Request {
    Request::new(
        Method::Delete,
        format!("/containers/{}?force={force}&v=true", percent_encode(id)),
    )
}

/// `GET /containers/{id}/json`.
pub fn inspect(id: &str) -> Request {
    Request::new(
        Method::Get,
        format!("/containers/{}/json", percent_encode(id)),
    )
}

/// `GET /containers/json?all=true&filters={"label":[...]}`.
pub fn list(labels: &[String]) -> Request {
    let mut q = Query::new().push("all", "true");
    if !labels.is_empty() {
        let filters = serde_json::json!({ "label": labels });
        q = q.push("filters", filters.to_string());
    }
    Request::new(Method::Get, format!("/containers/json{}", q.finish()))
}

/// One row of the container list.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ListItem {
    /// Full id.
    #[serde(rename = "Id")]
    pub id: String,
    /// Names (Docker and Podman 4.3 prefix them with `/`).
    #[serde(rename = "Names")]
    pub names: Vec<String>,
    /// Image reference.
    #[serde(rename = "Image")]
    pub image: String,
    /// `running`, `exited`, `created`, ...
    #[serde(rename = "State")]
    pub state: String,
    /// Human status, e.g. `Up 2 minutes`.
    #[serde(rename = "Status")]
    pub status: String,
    /// Labels.
    #[serde(rename = "Labels", deserialize_with = "crate::api::null_default")]
    pub labels: BTreeMap<String, String>,
    /// Creation time, seconds since the epoch.
    #[serde(rename = "Created")]
    pub created: i64,
}

/// `State` of container inspect.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ContainerState {
    /// `running`, `exited`, ...
    #[serde(rename = "Status")]
    pub status: String,
    /// Running?
    #[serde(rename = "Running")]
    pub running: bool,
    /// Exit code of PID 1.
    #[serde(rename = "ExitCode")]
    pub exit_code: i64,
    /// RFC 3339 start time.
    #[serde(rename = "StartedAt")]
    pub started_at: String,
    /// OOM killed?
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
}

/// `Config` of container inspect.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ContainerConfig {
    /// Image reference as given at creation.
    #[serde(rename = "Image")]
    pub image: String,
    /// Labels.
    #[serde(rename = "Labels", deserialize_with = "crate::api::null_default")]
    pub labels: BTreeMap<String, String>,
    /// Default user.
    #[serde(rename = "User")]
    pub user: String,
    /// Tty?
    #[serde(rename = "Tty")]
    pub tty: bool,
}

/// The parts of container inspect pocketdock reads.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ContainerInspect {
    /// Full id.
    #[serde(rename = "Id")]
    pub id: String,
    /// Name (with a leading `/` on Docker).
    #[serde(rename = "Name")]
    pub name: String,
    /// RFC 3339 creation time.
    #[serde(rename = "Created")]
    pub created: String,
    /// State.
    #[serde(rename = "State")]
    pub state: ContainerState,
    /// Config.
    #[serde(rename = "Config")]
    pub config: ContainerConfig,
    /// Host config, kept raw: pocketdock reads a few fields and replays it on a fresh reboot.
    #[serde(rename = "HostConfig")]
    pub host_config: serde_json::Value,
    /// Network settings, kept raw.
    #[serde(rename = "NetworkSettings")]
    pub network_settings: serde_json::Value,
}

/// `HostConfig` keys carried over when a container is recreated from its own inspect
/// (`reboot(fresh)`): limits, mounts, devices, ports, network and hardening.
pub const RECREATE_HOST_KEYS: [&str; 16] = [
    "Memory",
    "MemorySwap",
    "NanoCpus",
    "PidsLimit",
    "CapDrop",
    "CapAdd",
    "SecurityOpt",
    "Binds",
    "Devices",
    "PortBindings",
    "NetworkMode",
    "ReadonlyRootfs",
    "Tmpfs",
    "Init",
    "ShmSize",
    "Privileged",
];

/// The create body that makes a fresh container with the same image, command, environment,
/// user, working directory, labels (with `created-at` replaced), exposed ports and the host
/// settings in [`RECREATE_HOST_KEYS`] as `inspect` (taken from the raw inspect JSON).
pub fn recreate_body(inspect: &serde_json::Value, created_at: &str) -> serde_json::Value {
    use serde_json::{Map, Value};
    let config = inspect.get("Config").cloned().unwrap_or(Value::Null);
    let mut body = Map::new();
    for key in [
        "Image",
        "Cmd",
        "Entrypoint",
        "Env",
        "WorkingDir",
        "User",
        "ExposedPorts",
    ] {
        if let Some(v) = config.get(key).filter(|v| !v.is_null()) {
            body.insert(key.to_string(), v.clone());
        }
    }
    let mut labels = config
        .get("Labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if labels.contains_key("pocketdock.created-at") {
        labels.insert(
            "pocketdock.created-at".to_string(),
            Value::String(created_at.to_string()),
        );
    }
    body.insert("Labels".to_string(), Value::Object(labels));
    let host = inspect.get("HostConfig").cloned().unwrap_or(Value::Null);
    let mut host_out = Map::new();
    for key in RECREATE_HOST_KEYS {
        if let Some(v) = host.get(key).filter(|v| !v.is_null()) {
            host_out.insert(key.to_string(), v.clone());
        }
    }
    body.insert("HostConfig".to_string(), Value::Object(host_out));
    Value::Object(body)
}
