//! Command-line options.
#![expect(
    clippy::doc_markdown,
    reason = "these doc comments are the --help text, read as plain text"
)]

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// Ready-made host configurations, shown by `--help`.
const HOSTS: &str = "\
Configure an agent host (the server speaks MCP over stdio by default):

  Claude Code:
    claude mcp add pocketdock -- pocketdock-mcp

  Claude Desktop (claude_desktop_config.json), Cursor (.cursor/mcp.json), VS Code (mcp.json,
  key \"servers\" instead of \"mcpServers\"):
    {
      \"mcpServers\": {
        \"pocketdock\": {
          \"command\": \"pocketdock-mcp\",
          \"args\": [\"--allow-host-dir\", \"/home/me/shared\"]
        }
      }
    }

  Over HTTP (one server for several clients):
    pocketdock-mcp --http 127.0.0.1:8765
    claude mcp add --transport http pocketdock http://127.0.0.1:8765/mcp
  On any other address a bearer token is required (--token-file, or POCKETDOCK_MCP_TOKEN):
    pocketdock-mcp --http 0.0.0.0:8765 --token-file /etc/pocketdock-mcp.token
    clients send \"Authorization: Bearer <token>\".

The engine is POCKETDOCK_SOCKET (or --socket), else the first of Podman's and Docker's usual
sockets that answers.";

/// An MCP server that gives LLM agents disposable container sandboxes as tools: create a
/// sandbox, run commands, start background processes, open shell sessions, read and write
/// files. Sandboxes have no network and no host files unless allowed, and are removed when the
/// client disconnects, when the server exits, or when idle.
#[derive(Debug, Parser)]
#[command(name = "pocketdock-mcp", version, after_long_help = HOSTS)]
pub struct Args {
    /// Serve streamable HTTP on this address (e.g. 127.0.0.1:8765, endpoint /mcp) instead of
    /// stdio. Any address but loopback needs a token.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,

    /// File holding the bearer token HTTP clients must send (default: the
    /// POCKETDOCK_MCP_TOKEN environment variable).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// Engine socket (path or unix://path). Default: POCKETDOCK_SOCKET, else auto-detected.
    #[arg(long, value_name = "PATH")]
    pub socket: Option<String>,

    /// Let sandboxes mount host paths beneath DIR (repeatable). Without it no host path is
    /// reachable.
    #[arg(long, value_name = "DIR")]
    pub allow_host_dir: Vec<PathBuf>,

    /// Live sandboxes allowed at once, all sessions together.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub max_sandboxes: usize,

    /// Remove a sandbox after this many seconds without a tool call on it.
    #[arg(long, value_name = "SECONDS", default_value_t = 1800)]
    pub idle_ttl: u64,

    /// The longest idle TTL a create_sandbox call may ask for.
    #[arg(long, value_name = "SECONDS", default_value_t = 86400)]
    pub max_idle_ttl: u64,

    /// Bytes of output one tool result carries at most (head and tail kept beyond it). The
    /// default keeps a result well under Claude Code's 25,000-token cap.
    #[arg(long, value_name = "BYTES", default_value_t = 16_000)]
    pub output_budget: usize,

    /// Bytes of output captured per command (a command printing more is stopped), and the
    /// largest file read_file reads.
    #[arg(long, value_name = "BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_output: usize,

    /// Bytes of full outputs kept per session for read_output (oldest dropped first).
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024 * 1024)]
    pub output_store: usize,

    /// Default command timeout in seconds (below the usual 60 s client deadline, so the
    /// partial output reaches the model).
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub timeout: f64,

    /// The longest timeout a call may ask for, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 600.0)]
    pub max_timeout: f64,

    /// Memory limit of a sandbox whose create_sandbox names none.
    #[arg(long, value_name = "SIZE", default_value = "512m")]
    pub memory: String,

    /// Refuse sandboxes with a network.
    #[arg(long)]
    pub deny_network: bool,

    /// Keep N sandboxes of the default kind (default image and memory, no network, no
    /// mounts, no env) created, started and agent-ready: a create_sandbox asking for nothing
    /// else gets one at once (its first command through the in-sandbox agent). 0: no pool.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub pool: usize,

    /// Prefix of the container names the server creates.
    #[arg(long, value_name = "PREFIX", default_value = "pdmcp-")]
    pub name_prefix: String,
}
