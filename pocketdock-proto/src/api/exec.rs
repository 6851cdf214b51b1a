//! `/containers/{id}/exec`, `/exec/{id}/start`, `/exec/{id}/json`.

use serde::Deserialize;
use serde_json::json;

use crate::http::{percent_encode, Method, Request};

/// What to run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecSpec {
    /// The argv.
    pub cmd: Vec<String>,
    /// Extra environment, `KEY=value`.
    pub env: Vec<String>,
    /// Working directory (image default when `None`).
    pub workdir: Option<String>,
    /// User (image default when `None`).
    pub user: Option<String>,
    /// Allocate a TTY (raw stream, stderr merged into stdout).
    pub tty: bool,
    /// Attach stdin.
    pub stdin: bool,
}

/// `POST /containers/{id}/exec`.
pub fn create(container: &str, spec: &ExecSpec) -> Request {
    create_body(container, spec, true)
}

/// `POST /containers/{id}/exec` for a command nobody attaches to (see [`start_detached`]):
/// no stream is attached, whatever `spec.stdin` and `spec.tty` say.
pub fn create_detached(container: &str, spec: &ExecSpec) -> Request {
    create_body(container, spec, false)
}

fn create_body(container: &str, spec: &ExecSpec, attach: bool) -> Request {
    let mut body = json!({
        "AttachStdout": attach,
        "AttachStderr": attach,
        "AttachStdin": attach && spec.stdin,
        "Tty": attach && spec.tty,
        "Cmd": spec.cmd,
    });
    if !spec.env.is_empty() {
        body["Env"] = json!(spec.env);
    }
    if let Some(w) = &spec.workdir {
        body["WorkingDir"] = json!(w);
    }
    if let Some(u) = &spec.user {
        body["User"] = json!(u);
    }
    Request::json(
        Method::Post,
        format!("/containers/{}/exec", percent_encode(container)),
        &body,
    )
}

/// `POST /exec/{id}/start`, asking to hijack the connection.
pub fn start(exec_id: &str, tty: bool) -> Request {
    Request::json(
        Method::Post,
        format!("/exec/{}/start", percent_encode(exec_id)),
        &json!({"Detach": false, "Tty": tty}),
    )
    .with_upgrade()
}

/// `POST /exec/{id}/start` with `Detach: true`: the engine runs the command on its own and
/// answers at once; no connection stays open, so the command outlives the client.
pub fn start_detached(exec_id: &str) -> Request {
    Request::json(
        Method::Post,
        format!("/exec/{}/start", percent_encode(exec_id)),
        &json!({"Detach": true, "Tty": false}),
    )
}

/// `POST /exec/{id}/resize`.
pub fn resize(exec_id: &str, height: u16, width: u16) -> Request {
    Request::new(
        Method::Post,
        format!(
            "/exec/{}/resize?h={height}&w={width}",
            percent_encode(exec_id)
        ),
    )
}

/// `GET /exec/{id}/json`.
pub fn inspect(exec_id: &str) -> Request {
    Request::new(
        Method::Get,
        format!("/exec/{}/json", percent_encode(exec_id)),
    )
}

/// The `Id` in a create response.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct IdResponse {
    /// The new object's id.
    #[serde(rename = "Id")]
    pub id: String,
}

/// The parts of exec inspect pocketdock reads.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ExecInspect {
    /// Still running? (Podman reports `ExitCode: 0` while running: check this first.)
    #[serde(rename = "Running")]
    pub running: bool,
    /// Exit code; `null` on Docker until the process has exited.
    #[serde(rename = "ExitCode")]
    pub exit_code: Option<i64>,
    /// Host PID (not usable inside the container).
    #[serde(rename = "Pid")]
    pub pid: i64,
    /// The container the exec belongs to.
    #[serde(rename = "ContainerID")]
    pub container_id: String,
}
