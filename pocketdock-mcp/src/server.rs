//! The MCP server handler of one session: what it says at `initialize`, its tool list, and
//! its tool calls, all within the session's [`Scope`].

use std::borrow::Cow;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult,
    PaginatedRequestParams, ProtocolVersion, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};

use crate::registry::Registry;
use crate::scope::Scope;
use crate::tools;

/// What the server tells the model about itself at `initialize`.
const INSTRUCTIONS: &str = "pocketdock gives you disposable Linux sandboxes (containers) to run \
code in, isolated from the user's machine. Start with create_sandbox, then run_command, \
write_file/read_file, start_process for servers and long jobs, open_session for a shell whose \
state persists. A non-zero exit code is a normal result. Long outputs are shortened to their \
head and tail; read_output pages through the rest. Shut sandboxes down when done; they are \
removed anyway when this session ends or when idle.";

/// One MCP session's handler. Cloning it shares the session.
#[derive(Clone)]
pub struct McpServer {
    scope: Arc<Scope>,
}

impl McpServer {
    /// A handler for a new session of `registry`.
    pub fn new(registry: Arc<Registry>) -> Self {
        Self {
            scope: Scope::new(registry),
        }
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "pocketdock-mcp",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(INSTRUCTIONS)
    }

    /// The handshake-era revisions only: a sandbox belongs to a session, which the stateless
    /// revisions do not have, so clients that probe with `server/discover` fall back to
    /// `initialize`.
    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(ProtocolVersion::known_up_to(&ProtocolVersion::V_2025_11_25))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools::tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        tools::call(&self.scope, request, context).await
    }
}
