//! The arguments and results of every tool, as JSON schemas the model reads: each field's
//! doc comment is its description.
#![expect(
    clippy::doc_markdown,
    reason = "these doc comments become the schema descriptions a model reads as plain text"
)]

use std::collections::BTreeMap;

use rmcp::schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Environment variables, name to value.
pub type EnvMap = BTreeMap<String, String>;

/// `create_sandbox` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct CreateArgs {
    /// Image to create the sandbox from. Default: pocketdock/minimal-python (Debian with
    /// Python 3, bash and coreutils).
    pub image: Option<String>,
    /// A pocketdock profile instead of an image: minimal-python, minimal-node, minimal-bun,
    /// dev, agent or embedded (its image must be present on the engine).
    pub profile: Option<String>,
    /// Memory limit such as "256m" or "1g". Default: the server's (512m unless the operator
    /// changed it).
    pub memory: Option<String>,
    /// CPU cap in percent of one CPU, 1 to 100. Default: no cap.
    pub cpu_percent: Option<u32>,
    /// Network access. Default false: no network at all, only loopback.
    pub network: Option<bool>,
    /// Remove the sandbox after this many seconds without any tool call on it. Default: the
    /// server's idle TTL.
    pub idle_ttl_seconds: Option<u64>,
    /// Environment variables set for every command in the sandbox.
    pub env: Option<EnvMap>,
    /// Host directories to mount, only beneath the directories the operator allowed with
    /// --allow-host-dir (none by default).
    pub mounts: Option<Vec<MountArg>>,
}

/// A host directory or file mounted into the sandbox.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct MountArg {
    /// Absolute host path, beneath a directory the operator allowed.
    pub host_path: String,
    /// Absolute path inside the sandbox.
    pub container_path: String,
    /// Allow the sandbox to write there. Default false (read-only).
    #[serde(default)]
    pub writable: bool,
}

/// `create_sandbox` result.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct CreateOutput {
    /// The sandbox's name: pass it as `sandbox` to the other tools.
    pub sandbox: String,
    /// Image it runs.
    pub image: String,
    /// Whether it has a network.
    pub network: bool,
    /// It is removed after this many seconds without a tool call.
    pub idle_ttl_seconds: u64,
    /// Host paths mounted, as `host_path -> container_path (ro|rw)`.
    pub mounts: Vec<String>,
}

/// Arguments naming only a sandbox.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct SandboxArg {
    /// The sandbox's name, as create_sandbox returned it.
    pub sandbox: String,
}

/// Arguments of a tool that takes none.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// One sandbox in `list_sandboxes`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct SandboxSummary {
    /// Its name.
    pub sandbox: String,
    /// Image it runs.
    pub image: String,
    /// Whether it has a network.
    pub network: bool,
    /// Seconds since it was created.
    pub age_seconds: u64,
    /// Seconds since the last tool call on it.
    pub idle_seconds: u64,
    /// Removed when idle this long.
    pub idle_ttl_seconds: u64,
    /// Background processes started with start_process.
    pub processes: usize,
    /// Shell sessions open.
    pub sessions: usize,
}

/// `list_sandboxes` result.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct ListOutput {
    /// This session's sandboxes, oldest first.
    pub sandboxes: Vec<SandboxSummary>,
    /// Live sandboxes the server allows at once (all sessions together).
    pub max_sandboxes: usize,
}

/// `sandbox_info` result.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct InfoOutput {
    /// Its name.
    pub sandbox: String,
    /// running, exited, ...
    pub status: String,
    /// Image it runs.
    pub image: String,
    /// Memory in use, e.g. "42.0 MB".
    pub memory_usage: String,
    /// Memory limit, e.g. "512.0 MB".
    pub memory_limit: String,
    /// CPU use in percent of one CPU.
    pub cpu_percent: f64,
    /// Number of processes.
    pub pids: u64,
    /// Whether it has a network.
    pub network: bool,
    /// Its address when it has a network.
    pub ip_address: String,
    /// Seconds since the last tool call on it (other than this one).
    pub idle_seconds: u64,
    /// Removed when idle this long.
    pub idle_ttl_seconds: u64,
    /// Running processes, one object of `ps` columns each.
    pub processes: serde_json::Value,
}

/// `shutdown_sandbox` result.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct ShutdownOutput {
    /// The sandbox removed.
    pub sandbox: String,
    /// Always true: the sandbox, its processes and its files are gone.
    pub removed: bool,
}

/// `run_command` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct RunArgs {
    /// The sandbox's name.
    pub sandbox: String,
    /// A shell command line, run with `sh -c` (pipes, redirections, `&&` work). Give this or
    /// `argv`.
    pub command: Option<String>,
    /// A program and its arguments, run without a shell. Give this or `command`.
    pub argv: Option<Vec<String>>,
    /// Seconds before the command (with everything it started) is killed; the output so far
    /// is returned with timed_out true. Default 30.
    pub timeout_seconds: Option<f64>,
    /// Text given to the command on its standard input.
    pub stdin: Option<String>,
    /// Working directory (absolute). Default: the image's (/home/sandbox).
    pub cwd: Option<String>,
    /// Extra environment variables for this command.
    pub env: Option<EnvMap>,
}

/// What a command printed and how it ended.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct RunOutput {
    /// Exit code; -1 when the command was killed (timeout, output cap).
    pub exit_code: i64,
    /// Standard output (head and tail when over the output budget).
    pub stdout: String,
    /// Standard error (head and tail when over the output budget).
    pub stderr: String,
    /// Wall time in milliseconds (from the exec's creation to its exit code).
    pub duration_ms: f64,
    /// The timeout passed and the command was killed.
    pub timed_out: bool,
    /// The command printed more than the server captures and was stopped there.
    pub truncated: bool,
    /// Bytes of stdout left out of `stdout` (readable with read_output).
    pub stdout_elided_bytes: u64,
    /// Bytes of stderr left out of `stderr` (readable with read_output).
    pub stderr_elided_bytes: u64,
    /// Id of the full output for read_output, when anything was left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_id: Option<String>,
}

/// `start_process` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct StartArgs {
    /// The sandbox's name.
    pub sandbox: String,
    /// A shell command line (`sh -c`). Give this or `argv`.
    pub command: Option<String>,
    /// A program and its arguments, without a shell. Give this or `command`.
    pub argv: Option<Vec<String>>,
    /// Working directory (absolute).
    pub cwd: Option<String>,
    /// Extra environment variables.
    pub env: Option<EnvMap>,
}

/// `start_process` result.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct StartOutput {
    /// The process's id in its sandbox, for read_process and kill_process.
    pub process_id: String,
}

/// `read_process` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct ReadProcessArgs {
    /// The sandbox's name.
    pub sandbox: String,
    /// The process's id from start_process.
    pub process_id: String,
    /// Wait up to this many seconds for the process to exit before reading. Default 0.
    pub wait_seconds: Option<f64>,
}

/// `kill_process` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct KillArgs {
    /// The sandbox's name.
    pub sandbox: String,
    /// The process's id from start_process.
    pub process_id: String,
    /// Signal number sent to the process and everything it started. Default 15 (TERM); 9
    /// kills outright.
    pub signal: Option<i32>,
}

/// A background process's state and its output since the last read.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct ProcessOutput {
    /// The process's id.
    pub process_id: String,
    /// Still running.
    pub running: bool,
    /// Its exit code once it has exited (-1 when it was killed or could not be read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// Standard output printed since the last read.
    pub stdout: String,
    /// Standard error printed since the last read.
    pub stderr: String,
    /// Bytes of stdout left out of `stdout` (readable with read_output).
    pub stdout_elided_bytes: u64,
    /// Bytes of stderr left out of `stderr` (readable with read_output).
    pub stderr_elided_bytes: u64,
    /// Id of the full output for read_output, when anything was left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_id: Option<String>,
    /// Some older output was dropped because nobody read it in time (the server keeps 1 MiB
    /// per process).
    pub output_dropped: bool,
}

/// `open_session` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct OpenSessionArgs {
    /// The sandbox's name.
    pub sandbox: String,
    /// Initial working directory (absolute).
    pub cwd: Option<String>,
    /// Extra environment variables of the shell.
    pub env: Option<EnvMap>,
}

/// `open_session` result.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct OpenSessionOutput {
    /// The session's id in its sandbox, for session_send, session_read and close_session.
    pub session_id: String,
}

/// Arguments naming a session.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct SessionArg {
    /// The sandbox's name.
    pub sandbox: String,
    /// The session's id from open_session.
    pub session_id: String,
}

/// `session_send` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct SendArgs {
    /// The sandbox's name.
    pub sandbox: String,
    /// The session's id from open_session.
    pub session_id: String,
    /// A command line for the shell; `cd` and `export` persist between commands.
    pub command: String,
    /// Wait for the command and return its output and exit code (default true). With false
    /// the command runs on and its output is read with session_read.
    pub wait: Option<bool>,
    /// Seconds before a waited-for command is interrupted (the shell survives). Default 30.
    pub timeout_seconds: Option<f64>,
}

/// `session_send` result.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct SendOutput {
    /// Whether the command was waited for (then the other fields are its outcome).
    pub waited: bool,
    /// The command's outcome when waited for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<RunOutput>,
}

/// `session_read` result.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct SessionReadOutput {
    /// Output (stdout and stderr in arrival order) of commands sent without waiting, since
    /// the last read.
    pub output: String,
    /// Bytes left out of `output` (readable with read_output).
    pub elided_bytes: u64,
    /// Id of the full output for read_output, when anything was left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_id: Option<String>,
    /// The shell has ended (its exit code, when it told one).
    pub closed: bool,
}

/// `close_session` result.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct CloseOutput {
    /// Always true: the shell and what it started are gone.
    pub closed: bool,
}

/// `write_file` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct WriteArgs {
    /// The sandbox's name.
    pub sandbox: String,
    /// Absolute path of the file; missing parent directories are created.
    pub path: String,
    /// The content: text, or base64 when `encoding` is "base64".
    pub content: String,
    /// "text" (default) or "base64" for binary content.
    pub encoding: Option<Encoding>,
}

/// How file content travels in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// UTF-8 text.
    Text,
    /// Base64 of the bytes.
    Base64,
}

/// `write_file` result.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct WriteOutput {
    /// The file written.
    pub path: String,
    /// Bytes written.
    pub bytes: usize,
}

/// `read_file` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct ReadArgs {
    /// The sandbox's name.
    pub sandbox: String,
    /// Absolute path of the file.
    pub path: String,
    /// "text" or "base64". Default: text when the file is UTF-8, else base64.
    pub encoding: Option<Encoding>,
}

/// `read_file` result.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct ReadOutput {
    /// The file read.
    pub path: String,
    /// Its size in bytes.
    pub size: usize,
    /// How `content` is encoded.
    pub encoding: Encoding,
    /// The content (head and tail of the text when over the output budget).
    pub content: String,
    /// Bytes left out of `content` (readable with read_output, stream "stdout").
    pub elided_bytes: u64,
    /// Id of the whole file for read_output, when anything was left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_id: Option<String>,
}

/// `list_files` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct ListFilesArgs {
    /// The sandbox's name.
    pub sandbox: String,
    /// Absolute path of a directory. Default /home/sandbox.
    pub path: Option<String>,
}

/// `list_files` result.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct ListFilesOutput {
    /// The directory listed.
    pub path: String,
    /// Names in it (hidden ones included), sorted.
    pub entries: Vec<String>,
    /// Names left out to stay within the output budget.
    pub omitted: usize,
}

/// `read_output` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct ReadOutputArgs {
    /// The output_id a result gave.
    pub output_id: String,
    /// "stdout" (default; a file's content) or "stderr".
    pub stream: Option<Stream>,
    /// Byte offset to start at. Default 0.
    pub offset: Option<u64>,
    /// Bytes to read. Default and maximum: the output budget.
    pub length: Option<u64>,
    /// "text" (default) or "base64".
    pub encoding: Option<Encoding>,
}

/// Which stream of a stored output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Standard output (or a file's content).
    Stdout,
    /// Standard error.
    Stderr,
}

/// `read_output` result.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct ReadOutputOutput {
    /// The page.
    pub content: String,
    /// How `content` is encoded.
    pub encoding: Encoding,
    /// Where the page starts.
    pub offset: u64,
    /// Where the next page starts; absent at the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<u64>,
    /// The stream's total size in bytes.
    pub total_bytes: u64,
}
