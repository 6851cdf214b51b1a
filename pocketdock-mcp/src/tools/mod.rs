//! The tools: their catalog (names, descriptions written for a model, schemas, annotations)
//! and the dispatch of a call to its body.
//!
//! Arguments are parsed here, not by the SDK, so that a bad argument is a tool result with
//! `isError: true` and a message a model can act on (the call failed, the server did not),
//! while an unknown tool is a JSON-RPC error.

mod catalog;
mod files;
mod output;
mod process;
mod run;
mod sandbox;
mod session;
mod types;

use std::future::Future;

use rmcp::model::{CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::scope::Scope;

pub use catalog::tools;

/// Why a tool call failed: always a tool result with `isError: true`, never a crashed server.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The arguments do not fit the tool's schema or rules.
    #[error("invalid arguments for {tool}: {message}")]
    Invalid {
        /// The tool.
        tool: &'static str,
        /// What is wrong.
        message: String,
    },
    /// No such sandbox, process, session or output in this session.
    #[error("{0}")]
    NotFound(String),
    /// The server's settings do not allow it.
    #[error("{0}")]
    Refused(String),
    /// The engine or the sandbox said no.
    #[error("{0}")]
    Sandbox(#[from] pocketdock_tokio::Error),
}

/// Arguments for `tool`, or the reason they do not fit.
fn parse<A: DeserializeOwned>(tool: &'static str, args: Value) -> Result<A, ToolError> {
    serde_json::from_value(args).map_err(|e| ToolError::Invalid {
        tool,
        message: e.to_string(),
    })
}

/// An invalid-argument error of `tool`.
pub fn invalid(tool: &'static str, message: impl Into<String>) -> ToolError {
    ToolError::Invalid {
        tool,
        message: message.into(),
    }
}

async fn typed<A, O, F, Fut>(tool: &'static str, args: Value, body: F) -> Result<Value, ToolError>
where
    A: DeserializeOwned,
    O: Serialize,
    F: FnOnce(A) -> Fut,
    Fut: Future<Output = Result<O, ToolError>>,
{
    let out = body(parse(tool, args)?).await?;
    serde_json::to_value(out).map_err(|e| ToolError::Refused(format!("result not encodable: {e}")))
}

/// Run the tool call `req` in `scope`. A cancelled call (`notifications/cancelled`) is dropped
/// where it stands: a running command is killed as a timeout would kill it.
pub async fn call(
    scope: &Scope,
    req: CallToolRequestParams,
    ctx: RequestContext<RoleServer>,
) -> Result<CallToolResponse, ErrorData> {
    let args = Value::Object(req.arguments.unwrap_or_default());
    let ct = ctx.ct.clone();
    let body = async {
        match req.name.as_ref() {
            "create_sandbox" => {
                Some(typed("create_sandbox", args, |a| sandbox::create(scope, a)).await)
            }
            "list_sandboxes" => {
                Some(typed("list_sandboxes", args, |a| sandbox::list(scope, a)).await)
            }
            "sandbox_info" => Some(typed("sandbox_info", args, |a| sandbox::info(scope, a)).await),
            "shutdown_sandbox" => {
                Some(typed("shutdown_sandbox", args, |a| sandbox::shutdown(scope, a)).await)
            }
            "run_command" => Some(typed("run_command", args, |a| run::run(scope, &ctx, a)).await),
            "start_process" => {
                Some(typed("start_process", args, |a| process::start(scope, a)).await)
            }
            "read_process" => Some(typed("read_process", args, |a| process::read(scope, a)).await),
            "kill_process" => Some(typed("kill_process", args, |a| process::kill(scope, a)).await),
            "open_session" => Some(typed("open_session", args, |a| session::open(scope, a)).await),
            "session_send" => Some(typed("session_send", args, |a| session::send(scope, a)).await),
            "session_read" => Some(typed("session_read", args, |a| session::read(scope, a)).await),
            "close_session" => {
                Some(typed("close_session", args, |a| session::close(scope, a)).await)
            }
            "write_file" => Some(typed("write_file", args, |a| files::write(scope, a)).await),
            "read_file" => Some(typed("read_file", args, |a| files::read(scope, a)).await),
            "list_files" => Some(typed("list_files", args, |a| files::list(scope, a)).await),
            "read_output" => Some(typed("read_output", args, |a| output::read(scope, a)).await),
            _ => None,
        }
    };
    let outcome = tokio::select! {
        outcome = body => outcome,
        () = ct.cancelled() => {
            return Err(ErrorData::internal_error("cancelled by the client", None));
        }
    };
    let Some(outcome) = outcome else {
        return Err(ErrorData::invalid_params(
            format!("unknown tool {:?}; tools/list names the tools", req.name),
            None,
        ));
    };
    Ok(match outcome {
        Ok(value) => CallToolResult::structured(value),
        Err(e) => CallToolResult::error(vec![ContentBlock::text(e.to_string())]),
    }
    .into())
}
