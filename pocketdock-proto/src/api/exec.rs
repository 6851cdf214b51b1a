//! `/containers/{id}/exec`, `/exec/{id}/start`, `/exec/{id}/json`.

use bytes::Bytes;
use serde::Deserialize;

use crate::http::{percent_encode, Method, Request, RequestBody};

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

/// The exec create body, serialized straight from borrowed fields (one allocation, no JSON
/// tree): it is built for every command.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
#[expect(
    clippy::struct_excessive_bools,
    reason = "the engine's own field set, serialized as it is"
)]
struct CreateBody<'a> {
    attach_stdout: bool,
    attach_stderr: bool,
    attach_stdin: bool,
    tty: bool,
    cmd: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    env: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    working_dir: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
}

fn create_body(container: &str, spec: &ExecSpec, attach: bool) -> Request {
    let body = CreateBody {
        attach_stdout: attach,
        attach_stderr: attach,
        attach_stdin: attach && spec.stdin,
        tty: attach && spec.tty,
        cmd: &spec.cmd,
        env: &spec.env,
        working_dir: spec.workdir.as_deref(),
        user: spec.user.as_deref(),
    };
    Request::serialized(
        Method::Post,
        format!("/containers/{}/exec", percent_encode(container)),
        &body,
    )
}

/// `POST /exec/{id}/start`, asking to hijack the connection.
pub fn start(exec_id: &str, tty: bool) -> Request {
    let body: &'static [u8] = if tty {
        br#"{"Detach":false,"Tty":true}"#
    } else {
        br#"{"Detach":false,"Tty":false}"#
    };
    Request::new(
        Method::Post,
        format!("/exec/{}/start", percent_encode(exec_id)),
    )
    .with_body(RequestBody::Full {
        content_type: "application/json",
        data: Bytes::from_static(body),
    })
    .with_upgrade()
}

/// `POST /exec/{id}/start` with `Detach: true`: the engine runs the command on its own and
/// answers at once; no connection stays open, so the command outlives the client.
pub fn start_detached(exec_id: &str) -> Request {
    Request::new(
        Method::Post,
        format!("/exec/{}/start", percent_encode(exec_id)),
    )
    .with_body(RequestBody::Full {
        content_type: "application/json",
        data: Bytes::from_static(br#"{"Detach":true,"Tty":false}"#),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(req: &Request) -> serde_json::Value {
        match &req.body {
            RequestBody::Full { data, .. } => {
                serde_json::from_slice(data).unwrap_or_else(|e| panic!("{e}"))
            }
            other => panic!("no JSON body: {other:?}"),
        }
    }

    #[test]
    fn create_bodies_carry_what_the_spec_sets_and_leave_out_what_it_does_not() {
        let mut spec = ExecSpec {
            cmd: vec!["sh".into(), "-c".into(), "echo \"hi\"".into()],
            stdin: true,
            ..ExecSpec::default()
        };
        let attached = create("c 1", &spec);
        assert_eq!(attached.target, "/containers/c%201/exec");
        assert_eq!(
            body_of(&attached),
            serde_json::json!({"AttachStdout": true, "AttachStderr": true, "AttachStdin": true,
                "Tty": false, "Cmd": ["sh", "-c", "echo \"hi\""]})
        );
        spec.env = vec!["A=1".into()];
        spec.workdir = Some("/w".into());
        spec.user = Some("1000:1000".into());
        spec.tty = true;
        assert_eq!(
            body_of(&create_detached("c", &spec)),
            serde_json::json!({"AttachStdout": false, "AttachStderr": false, "AttachStdin": false,
                "Tty": false, "Cmd": ["sh", "-c", "echo \"hi\""], "Env": ["A=1"],
                "WorkingDir": "/w", "User": "1000:1000"})
        );
        assert_eq!(
            body_of(&start("e", true)),
            serde_json::json!({"Detach": false, "Tty": true})
        );
        assert!(start("e", false).upgrade);
        assert_eq!(
            body_of(&start_detached("e")),
            serde_json::json!({"Detach": true, "Tty": false})
        );
    }
}
