//! Shell sessions: open, send (waiting or not), read, close.

use pocketdock_tokio::SessionOptions;

use super::run::present_result;
use super::types::{
    CloseOutput, OpenSessionArgs, OpenSessionOutput, SendArgs, SendOutput, SessionArg,
    SessionReadOutput,
};
use super::{invalid, ToolError};
use crate::budget::present;
use crate::scope::Scope;

/// `open_session`.
pub async fn open(scope: &Scope, a: OpenSessionArgs) -> Result<OpenSessionOutput, ToolError> {
    let sb = scope.sandbox(&a.sandbox)?;
    let mut opts = SessionOptions {
        workdir: a.cwd,
        echo_command_output: false,
        ..SessionOptions::default()
    };
    opts.limit.max_bytes = scope.registry.opts.max_output;
    for (k, v) in a.env.unwrap_or_default() {
        opts.env.push(format!("{k}={v}"));
    }
    let session = sb.container.session_with(&opts).await?;
    Ok(OpenSessionOutput {
        session_id: sb.add_session(session),
    })
}

/// `session_send`.
pub async fn send(scope: &Scope, a: SendArgs) -> Result<SendOutput, ToolError> {
    let timeout = scope
        .registry
        .opts
        .timeout(a.timeout_seconds)
        .map_err(|m| invalid("session_send", m))?;
    let sb = scope.sandbox(&a.sandbox)?;
    let s = sb.session(&a.session_id)?;
    if a.wait == Some(false) {
        s.send(&a.command).await?;
        return Ok(SendOutput {
            waited: false,
            result: None,
        });
    }
    let r = s.send_and_wait(&a.command, Some(timeout)).await?;
    Ok(SendOutput {
        waited: true,
        result: Some(present_result(scope, r)),
    })
}

/// `session_read`.
#[expect(clippy::unused_async, reason = "every tool body has the same shape")]
pub async fn read(scope: &Scope, a: SessionArg) -> Result<SessionReadOutput, ToolError> {
    let sb = scope.sandbox(&a.sandbox)?;
    let s = sb.session(&a.session_id)?;
    let bytes = s.read_bytes();
    let shown = present(
        scope.registry.opts.output_budget,
        bytes,
        Vec::new(),
        &mut scope.outputs(),
    );
    Ok(SessionReadOutput {
        output: shown.stdout.text,
        elided_bytes: shown.stdout.elided_bytes,
        output_id: shown.output_id,
        closed: s.is_closed(),
    })
}

/// `close_session`.
pub async fn close(scope: &Scope, a: SessionArg) -> Result<CloseOutput, ToolError> {
    let sb = scope.sandbox(&a.sandbox)?;
    sb.session(&a.session_id)?;
    if let Some(s) = sb.remove_session(&a.session_id) {
        s.close().await?;
    }
    Ok(CloseOutput { closed: true })
}
