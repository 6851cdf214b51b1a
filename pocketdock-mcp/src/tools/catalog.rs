//! The list of tools as `tools/list` gives it: names, descriptions written for a model,
//! input and output schemas, and hints (read-only, destructive, idempotent, closed world).

use rmcp::handler::server::common::{schema_for_output, schema_for_type};
use rmcp::model::{Tool, ToolAnnotations};
use rmcp::schemars::JsonSchema;

use super::types::{
    CloseOutput, CreateArgs, CreateOutput, InfoOutput, KillArgs, ListFilesArgs, ListFilesOutput,
    ListOutput, NoArgs, OpenSessionArgs, OpenSessionOutput, ProcessOutput, ReadArgs, ReadOutput,
    ReadOutputArgs, ReadOutputOutput, ReadProcessArgs, RunArgs, RunOutput, SandboxArg, SendArgs,
    SendOutput, SessionArg, SessionReadOutput, ShutdownOutput, StartArgs, StartOutput, WriteArgs,
    WriteOutput,
};

/// What a tool does to the world, for its annotations.
#[derive(Clone, Copy)]
enum Effect {
    /// Reads only: nothing in any sandbox changes.
    ReadOnly,
    /// Changes a sandbox, nothing is lost that was there.
    Additive,
    /// May end or remove something.
    Destructive,
}

fn tool<A: JsonSchema + 'static, O: JsonSchema + 'static>(
    name: &'static str,
    title: &str,
    effect: Effect,
    description: &'static str,
) -> Tool {
    // Commands run in a sandbox reach the outside world when it was created with a network;
    // every other tool stays inside the server and its sandboxes.
    let runs_commands = matches!(name, "run_command" | "start_process" | "session_send");
    let annotations = ToolAnnotations::with_title(title).open_world(runs_commands);
    let annotations = match effect {
        Effect::ReadOnly => annotations.read_only(true),
        Effect::Additive => annotations.read_only(false).destructive(false),
        Effect::Destructive => annotations.read_only(false).destructive(true),
    };
    Tool::new(name, description, schema_for_type::<A>())
        .with_title(title)
        .with_raw_output_schema(schema_for_output::<O>())
        .annotate(annotations)
}

/// Every tool of the server, in the order a model would use them.
#[expect(
    clippy::too_many_lines,
    reason = "one entry per tool, each with its description"
)]
pub fn tools() -> Vec<Tool> {
    use Effect::{Additive, Destructive, ReadOnly};
    vec![
        tool::<CreateArgs, CreateOutput>(
            "create_sandbox",
            "Create sandbox",
            Additive,
            "Create a fresh, disposable Linux container to run code in, isolated from the host: \
             no network unless network is true, a memory limit, no host files unless mounted. \
             Returns its name; pass it as `sandbox` to the other tools. It is removed by \
             shutdown_sandbox, after idle_ttl_seconds without use, or when this session ends.",
        ),
        tool::<RunArgs, RunOutput>(
            "run_command",
            "Run a command",
            Destructive,
            "Run a command in a sandbox and wait for it: a shell line (`command`) or a program \
             with arguments (`argv`). Returns exit_code, stdout, stderr and duration. A non-zero \
             exit code is a normal result. After timeout_seconds (default 30) the command and \
             everything it started are killed and the output so far is returned with \
             timed_out true. Long output keeps its head and tail; the rest is readable with \
             read_output. For servers or anything long-running use start_process.",
        ),
        tool::<StartArgs, StartOutput>(
            "start_process",
            "Start a background process",
            Additive,
            "Start a long-running command in a sandbox in the background (a server, a watcher, \
             a long build) and return at once with its process_id. Read its output with \
             read_process, stop it with kill_process.",
        ),
        tool::<ReadProcessArgs, ProcessOutput>(
            "read_process",
            "Read a background process",
            ReadOnly,
            "Read what a background process printed since the last read, whether it still runs \
             and its exit code once it exited. With wait_seconds, first wait up to that long \
             for it to exit.",
        ),
        tool::<KillArgs, ProcessOutput>(
            "kill_process",
            "Kill a background process",
            Destructive,
            "Send a signal (default 15, TERM; 9 kills outright) to a background process and \
             everything it started, wait briefly for it to exit, and return its last output.",
        ),
        tool::<OpenSessionArgs, OpenSessionOutput>(
            "open_session",
            "Open a shell session",
            Additive,
            "Open a persistent shell in a sandbox: the working directory and exported variables \
             carry over from one session_send to the next. Returns its session_id.",
        ),
        tool::<SendArgs, SendOutput>(
            "session_send",
            "Send to a shell session",
            Destructive,
            "Run a command line in a shell session. By default waits and returns its exit \
             code, stdout and stderr (interrupted after timeout_seconds, default 30; the shell \
             survives). With wait false it runs on and its output is read with session_read.",
        ),
        tool::<SessionArg, SessionReadOutput>(
            "session_read",
            "Read a shell session",
            ReadOnly,
            "Read what commands sent to a shell session without waiting printed since the \
             last read.",
        ),
        tool::<SessionArg, CloseOutput>(
            "close_session",
            "Close a shell session",
            Destructive,
            "Close a shell session: the shell and everything it started are killed. The \
             sandbox stays.",
        ),
        tool::<WriteArgs, WriteOutput>(
            "write_file",
            "Write a file",
            Destructive,
            "Write a file in a sandbox (absolute path; parent directories are created; an \
             existing file is replaced). Content is text, or base64 with encoding \"base64\".",
        ),
        tool::<ReadArgs, ReadOutput>(
            "read_file",
            "Read a file",
            ReadOnly,
            "Read a file in a sandbox (absolute path): text when it is UTF-8, else base64. A \
             long file keeps its head and tail; the whole is readable with read_output.",
        ),
        tool::<ListFilesArgs, ListFilesOutput>(
            "list_files",
            "List a directory",
            ReadOnly,
            "List the names in a directory of a sandbox (default /home/sandbox).",
        ),
        tool::<SandboxArg, InfoOutput>(
            "sandbox_info",
            "Sandbox info",
            ReadOnly,
            "Status, memory and CPU use, network and running processes of a sandbox.",
        ),
        tool::<NoArgs, ListOutput>(
            "list_sandboxes",
            "List sandboxes",
            ReadOnly,
            "List the sandboxes of this session with their image, network, age, idle time and \
             the number of background processes and shell sessions in each.",
        ),
        tool::<SandboxArg, ShutdownOutput>(
            "shutdown_sandbox",
            "Shut down a sandbox",
            Destructive,
            "Remove a sandbox with everything in it: its processes, sessions and files.",
        ),
        tool::<ReadOutputArgs, ReadOutputOutput>(
            "read_output",
            "Read a long output",
            ReadOnly,
            "Read a page of an output that a result shortened (it gave an output_id): from \
             offset, up to length bytes, as text or base64. Follow next_offset for the next \
             page.",
        ),
    ]
}
