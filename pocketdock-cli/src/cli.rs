//! Command-line syntax.

use clap::{Args, Parser, Subcommand};

/// Disposable, offline container sandboxes on Podman or Docker.
#[derive(Debug, Parser)]
#[command(name = "pocketdock", version, about, long_about = None)]
pub struct Cli {
    /// Engine socket (path or unix:// URL); default: auto-detect.
    #[arg(long, global = true, env = "POCKETDOCK_SOCKET")]
    pub socket: Option<String>,
    /// Print more about what happens (to stderr). Give it before the command
    /// (`pocketdock -v create ...`): `-v` after `create` is `--volume`.
    #[arg(long, short)]
    pub verbose: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and start a sandbox container.
    Create(CreateArgs),
    /// Run a command in a container: `pocketdock run NAME -- CMD [ARG...]`.
    Run(RunArgs),
    /// Stop and remove a container (asks first on a terminal).
    Shutdown(ShutdownArgs),
    /// List pocketdock containers.
    List(ListArgs),
    /// List the image profiles.
    Profiles(JsonArg),
    /// Show a getting-started guide.
    Quickstart,
    /// Show a live snapshot of a container (never starts a stopped one).
    Info(InfoArgs),
    /// Restart a container in place, or recreate it with --fresh.
    Reboot(RebootArgs),
    /// Save a container's filesystem as an image.
    Snapshot(SnapshotArgs),
    /// Print shell completions: `pocketdock completions bash > /etc/bash_completion.d/pocketdock`.
    Completions(CompletionsArgs),
}

/// `info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Container name.
    pub container: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `reboot`.
#[derive(Debug, Args)]
pub struct RebootArgs {
    /// Container name.
    pub container: String,
    /// Recreate from the image (filesystem reset; limits, mounts, ports and hardening kept).
    #[arg(long)]
    pub fresh: bool,
}

/// `snapshot`.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Container name.
    pub container: String,
    /// Image name, `repo[:tag]` (tag defaults to latest).
    pub image_name: String,
}

/// `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

/// `--json`.
#[derive(Debug, Args)]
pub struct JsonArg {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Image (default: the profile's, else pocketdock/minimal-python).
    #[arg(long)]
    pub image: Option<String>,
    /// Container name (default: pd-<hex>).
    #[arg(long)]
    pub name: Option<String>,
    /// Default command timeout in seconds.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// Memory limit, e.g. 256m, 1g.
    #[arg(long)]
    pub mem_limit: Option<String>,
    /// CPU cap in percent of one CPU (1-100).
    #[arg(long)]
    pub cpu_percent: Option<u32>,
    /// Keep the container when it is shut down (stop only).
    #[arg(long)]
    pub persist: bool,
    /// Bind mount HOST:CONTAINER[:ro] (repeatable).
    #[arg(long = "volume", short = 'v')]
    pub volumes: Vec<String>,
    /// Project name.
    #[arg(long)]
    pub project: Option<String>,
    /// Image profile.
    #[arg(long)]
    pub profile: Option<String>,
    /// Host device to pass through (repeatable).
    #[arg(long = "device", short = 'd')]
    pub devices: Vec<String>,
    /// Publish a port [IP:]HOST:CONTAINER[/udp] (repeatable; binds 127.0.0.1 by default).
    #[arg(long = "port", short = 'p')]
    pub ports: Vec<String>,
    /// Environment variable KEY=VALUE (repeatable).
    #[arg(long = "env", short = 'e')]
    pub env: Vec<String>,
    /// Working directory.
    #[arg(long)]
    pub workdir: Option<String>,
    /// User to run as.
    #[arg(long)]
    pub user: Option<String>,
    /// Turn networking on (off by default unless the profile or ports need it).
    #[arg(long, conflicts_with = "no_network")]
    pub network: bool,
    /// Turn networking off.
    #[arg(long)]
    pub no_network: bool,
}

/// `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Container name.
    pub container: String,
    /// The command and its arguments, kept exactly (use `--` before options of the command).
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// Timeout in seconds (default: 30).
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Output cap in bytes (default: 10 MiB).
    #[arg(long)]
    pub max_output: Option<usize>,
    /// Interpreter for a single command string: python or shell.
    #[arg(long)]
    pub lang: Option<String>,
    /// Stream output as it arrives.
    #[arg(long, conflicts_with = "detach")]
    pub stream: bool,
    /// Start in the background and print the exec id.
    #[arg(long)]
    pub detach: bool,
}

/// `shutdown`.
#[derive(Debug, Args)]
pub struct ShutdownArgs {
    /// Container name.
    pub container: String,
    /// Do not ask.
    #[arg(long, short)]
    pub yes: bool,
}

/// `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Only this project's containers.
    #[arg(long)]
    pub project: Option<String>,
}
