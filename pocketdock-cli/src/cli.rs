//! Command-line syntax: every command, argument and option, with the help text `--help` shows.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use pocketdock_proto::spec::{PortMapping, Volume};

/// Exit codes, shown at the end of `pocketdock --help`.
const EXIT_CODES: &str = "\
Exit codes:
  0      success
  N      run: the command's own exit code (also with --stream); shell: the shell's
  2      invalid usage (unknown option, bad value, shutdown/prune without a terminal and no -y)
  124    run: the command timed out (its whole process tree was killed)
  125    pocketdock itself failed (engine unreachable, container not found, ...), or run
         stopped the command because its output went over --max-output (--on-limit stop)
  126    run: the command could not be invoked (as reported by the engine)
  127    run: the command was not found (as reported by the engine)

Environment:
  POCKETDOCK_SOCKET  engine socket (same as --socket)
  NO_COLOR           never use colors (colors are only used on a terminal anyway)";

/// Disposable, offline container sandboxes on Podman or Docker.
///
/// pocketdock talks to the engine over its Unix socket: no docker or podman binary is needed.
#[derive(Debug, Parser)]
#[command(
    name = "pocketdock",
    version,
    about,
    after_help = EXIT_CODES,
    max_term_width = 100
)]
pub struct Cli {
    /// Engine socket (a path or unix:// URL) [default: the project's `socket:`, else
    /// auto-detected: Podman's, then Docker's]
    #[arg(long, global = true, env = "POCKETDOCK_SOCKET", value_name = "PATH")]
    pub socket: Option<String>,
    /// Explain what happens on stderr: the engine chosen and why, containers found, each
    /// command run with its exit code and timing. Give it before the command
    /// (`pocketdock -v create ...`): after `create`, `-v` is `--volume`.
    #[arg(long, short)]
    pub verbose: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands, in the reference's order (plus `completions`).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show a getting-started guide.
    Quickstart,
    /// Make a directory a pocketdock project (.pocketdock/ with pocketdock.yaml).
    Init(InitArgs),
    /// List pocketdock containers (running and stopped).
    List(ListArgs),
    /// Show a live snapshot of a container: status, memory, CPU, network, ports, processes.
    ///
    /// Never starts a stopped container.
    Info(InfoArgs),
    /// Compare the project's instance directories with its containers.
    Doctor(JsonArgs),
    /// Summarize the current project: instances and containers.
    Status(JsonArgs),
    /// Show the command history of the project's persistent containers.
    Logs(LogsArgs),
    /// Create and start a sandbox container.
    Create(CreateArgs),
    /// Run a command in a container and exit with its exit code.
    #[command(after_help = RUN_HELP)]
    Run(RunArgs),
    /// Copy a file or directory from the host into a container.
    Push(PushArgs),
    /// Copy a file or directory from a container to the host.
    Pull(PullArgs),
    /// Restart a container in place, or recreate it from its image with --fresh.
    Reboot(RebootArgs),
    /// Stop a container (it keeps its filesystem; `resume` starts it again).
    Stop(ContainerArg),
    /// Start a stopped container again.
    Resume(ContainerArg),
    /// Remove a container for good (asks first on a terminal).
    ///
    /// Like the reference CLI, this destroys persistent containers too: the container is
    /// removed, and so is its instance directory under .pocketdock/instances/ (use `stop` to keep
    /// it). Without a terminal, -y is required.
    Shutdown(ShutdownArgs),
    /// Save a container's filesystem as an image.
    Snapshot(SnapshotArgs),
    /// Remove all stopped pocketdock containers (asks first on a terminal).
    Prune(PruneArgs),
    /// Open an interactive shell (bash if present, else sh) on a terminal in the container.
    ///
    /// Exits with the shell's exit code. Needs a terminal on stdin.
    Shell(ShellArgs),
    /// Build image profiles (all of them when none is named).
    Build(BuildArgs),
    /// Save images to a tar archive (gzip-compressed when the name ends in .gz).
    Export(ExportArgs),
    /// Load images from an archive made by `export` (or `docker save`); .gz is detected.
    Import(ImportArgs),
    /// List the image profiles.
    Profiles(JsonArgs),
    /// Print shell completions, e.g. `pocketdock completions bash >
    /// /etc/bash_completion.d/pocketdock`.
    Completions(CompletionsArgs),
}

const RUN_HELP: &str = "\
How the command is run:
  one word      a command line for the shell (sh -c), or python3 -c with --lang python:
                  pocketdock run box 'echo $HOME && ls | wc -l'
  several words an argv, passed on exactly as given, without any shell:
                  pocketdock run box -- ls -la /
                  pocketdock run box -- python3 -c 'print(\"a b\")'
  Everything after the container name belongs to the command: give pocketdock's options
  before it (pocketdock run --timeout 60 box -- make test).

Exit code: the command's own; 124 when it timed out; 125 when pocketdock failed or stopped the
command at --max-output (--on-limit stop).

--stream keeps no copy of the output: memory stays small at any output size.";

/// A `--json` switch.
#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// One container name.
#[derive(Debug, Args)]
pub struct ContainerArg {
    /// Container name.
    pub container: String,
}

/// `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Project directory (created if missing) [default: the current directory]
    pub path: Option<PathBuf>,
    /// Project name [default: the directory name]
    #[arg(long)]
    pub name: Option<String>,
}

/// `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Only this project's containers.
    #[arg(long)]
    pub project: Option<String>,
}

/// `info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Container name.
    pub container: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Only this container's history [default: every instance of the project]
    pub container: Option<String>,
    /// Show the last N entries (0: all).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub last: usize,
    /// Only entries of this type: run, session or detach.
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `create`.
#[derive(Debug, Args)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "one field per command-line flag, as clap reads them"
)]
pub struct CreateArgs {
    /// Image [default: the profile's, else the project's default_profile, else
    /// pocketdock/minimal-python]
    #[expect(
        clippy::doc_markdown,
        reason = "this doc is the --help text, shown without markdown"
    )]
    #[arg(long)]
    pub image: Option<String>,
    /// Container name, unique [default: pd-<8 hex digits>]
    #[arg(long)]
    pub name: Option<String>,
    /// Default timeout of `run` in this container, in seconds (stored in a label).
    #[arg(long, default_value_t = 30, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
    /// Memory limit, e.g. 256m or 1g (no swap beyond it).
    #[arg(long, value_name = "SIZE")]
    pub mem_limit: Option<String>,
    /// CPU cap in percent of one CPU (1-100).
    #[arg(long, value_name = "PERCENT")]
    pub cpu_percent: Option<u32>,
    /// Keep the container when it stops: in a project it gets an instance directory and
    /// its commands are logged [default: the project's default_persist]
    #[expect(
        clippy::doc_markdown,
        reason = "this doc is the --help text, shown without markdown"
    )]
    #[arg(long)]
    pub persist: bool,
    /// Bind-mount HOST:CONTAINER[:ro] (repeatable).
    #[arg(long = "volume", short = 'v', value_name = "HOST:CONTAINER[:ro]",
          value_parser = parse_volume)]
    pub volumes: Vec<Volume>,
    /// Project name (label pocketdock.project) [default: the current project, for a
    /// persistent container]
    #[arg(long)]
    pub project: Option<String>,
    /// Image profile: minimal-python, minimal-node, minimal-bun, dev, agent, embedded (see
    /// `pocketdock profiles`).
    #[arg(long)]
    pub profile: Option<String>,
    /// Pass a host device through, e.g. /dev/ttyUSB0 (repeatable).
    #[arg(long = "device", short = 'd', value_name = "PATH")]
    pub devices: Vec<String>,
    /// Publish a port: [IP:]HOST:CONTAINER[/udp] (repeatable; binds 127.0.0.1 unless an IP is
    /// given; turns networking on).
    #[arg(long = "port", short = 'p', value_name = "[IP:]HOST:CONTAINER",
          value_parser = parse_port)]
    pub ports: Vec<PortMapping>,
    /// Environment variable KEY=VALUE (repeatable).
    #[arg(long = "env", short = 'e', value_name = "KEY=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// Working directory of the container (absolute).
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// User to run as, e.g. sandbox or 1000:1000.
    #[arg(long)]
    pub user: Option<String>,
    /// Turn networking on [default: off, unless the profile or --port needs it]
    #[arg(long, conflicts_with = "no_network")]
    pub network: bool,
    /// Turn networking off.
    #[arg(long)]
    pub no_network: bool,
    /// Remove the container once it is this many seconds old: any later pocketdock start
    /// removes it (ephemeral containers only)
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub ttl: Option<u64>,
    /// Create even when a requested limit is not in force in the container (the engine
    /// dropped it): a warning instead of an error
    #[arg(long)]
    pub allow_unenforced_limits: bool,
}

/// `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Container name.
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// The command: one word is a shell command line, several are an argv kept exactly.
    #[arg(
        value_name = "COMMAND",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
    /// Kill the command (and everything it started) after this many seconds [default: the
    /// container's --timeout, else 30]
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: Option<u64>,
    /// Cap on the output, stdout and stderr together: the bytes kept and printed at the end, or
    /// with --stream the bytes printed as they come; --on-limit says what happens past it
    /// [default: 10485760]
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_output: Option<u64>,
    /// What happens when the output reaches --max-output
    #[arg(long, value_enum, value_name = "POLICY", default_value_t = OnLimit::Stop)]
    pub on_limit: OnLimit,
    /// Interpreter of a one-word command: shell (sh -c) or python (python3 -c).
    #[arg(long, value_name = "LANG")]
    pub lang: Option<String>,
    /// Print output as it arrives instead of when the command ends. Nothing is kept: memory
    /// stays small at any output size, and --max-output caps the bytes printed.
    #[arg(long, conflicts_with = "detach")]
    pub stream: bool,
    /// Start the command in the background, print its exec id and exit 0 at once. It keeps
    /// running after pocketdock exits, without a timeout; its output is discarded (redirect it
    /// to a file inside the command to keep it).
    #[arg(long, conflicts_with_all = ["timeout", "max_output", "on_limit"])]
    pub detach: bool,
    /// Print the result as JSON instead of the output: exit code, stdout, stderr, timing, the
    /// path taken (agent or engine, and why) and, through the agent, the command's CPU time,
    /// peak memory and OOM kill (measured in the sandbox: advisory)
    #[arg(long, conflicts_with_all = ["stream", "detach"])]
    pub json: bool,
}

/// `run --on-limit`: what happens when the output reaches `--max-output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnLimit {
    /// Stop the command with everything it started (exit 125); the output up to the cap is
    /// printed
    Stop,
    /// Let the command finish (its own exit code); the output past the cap is dropped
    KeepRunning,
    /// Let the command finish (its own exit code); print its first bytes (half the cap) and the
    /// last bytes of each stream (a quarter of the cap each), dropping the middle (with --stream
    /// the last bytes are printed when the output ends)
    HeadTail,
}

/// `push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Container name.
    pub container: String,
    /// Host file or directory (`dir/.` copies the directory's contents).
    pub src: PathBuf,
    /// Container path (absolute). An existing directory receives SRC under its own name;
    /// otherwise DST is the new path (parents created; a trailing / makes it a directory).
    pub dst: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
}

/// `pull`.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// Container name.
    pub container: String,
    /// Container path (absolute), file or directory.
    pub src: String,
    /// Host path. An existing directory receives SRC under its own name; otherwise DST is the
    /// new path. Nothing is ever written outside it.
    pub dst: PathBuf,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
    /// Most bytes of file data to write on the host.
    #[arg(long, default_value_t = 1 << 30, value_name = "BYTES",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_bytes: u64,
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

/// `shutdown`.
#[derive(Debug, Args)]
pub struct ShutdownArgs {
    /// Container name.
    pub container: String,
    /// Do not ask for confirmation (required without a terminal).
    #[arg(long, short)]
    pub yes: bool,
}

/// `snapshot`.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Container name.
    pub container: String,
    /// Image name, repo[:tag] (the tag defaults to latest).
    pub image_name: String,
}

/// `prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not ask for confirmation (required without a terminal).
    #[arg(long, short)]
    pub yes: bool,
    /// Only this project's containers.
    #[arg(long)]
    pub project: Option<String>,
}

/// `shell`.
#[derive(Debug, Args)]
pub struct ShellArgs {
    /// Container name.
    pub container: String,
}

/// `build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Profiles to build (see `pocketdock profiles`) [default: all]
    #[arg(value_name = "PROFILE")]
    pub profiles: Vec<String>,
    /// Build every profile.
    #[arg(long, conflicts_with = "profiles")]
    pub all: bool,
    /// Base image for the Dockerfile's BASE argument, e.g. a local image when offline
    /// [default: the profile's pinned upstream image]
    #[arg(long, value_name = "IMAGE")]
    pub base: Option<String>,
    /// Tag the image TAG instead of pocketdock/<profile> (one profile only).
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Do not use the engine's build cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Add a label KEY=VALUE to the image (repeatable).
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Set the Dockerfile's ARG KEY to VALUE (repeatable), e.g. `--build-arg
    /// ARDUINO_CLI_VERSION=` to leave the embedded profile's Arduino CLI out; `--base` sets BASE.
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    pub args: Vec<String>,
}

/// `export`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["image", "profile", "all"])))]
pub struct ExportArgs {
    /// Image to export (repeatable).
    #[arg(long)]
    pub image: Vec<String>,
    /// Profile whose image to export (repeatable).
    #[arg(long)]
    pub profile: Vec<String>,
    /// Export the images of every profile that is built.
    #[arg(long)]
    pub all: bool,
    /// Archive to write; gzip-compressed when it ends in .gz. All images go into this one
    /// archive.
    #[arg(short, long, value_name = "PATH")]
    pub output: PathBuf,
}

/// `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The archive (tar, or tar.gz).
    #[arg(value_parser = existing_file)]
    pub file: PathBuf,
}

/// `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

fn parse_volume(v: &str) -> Result<Volume, String> {
    let parts: Vec<&str> = v.split(':').collect();
    match parts.as_slice() {
        [host, container] | [host, container, "rw"]
            if !host.is_empty() && !container.is_empty() =>
        {
            Ok(Volume::new(*host, *container))
        }
        [host, container, "ro"] if !host.is_empty() && !container.is_empty() => {
            Ok(Volume::read_only(*host, *container))
        }
        _ => Err("expected HOST:CONTAINER or HOST:CONTAINER:ro".into()),
    }
}

fn existing_file(s: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(s);
    if p.is_file() {
        Ok(p)
    } else {
        Err("no such file".into())
    }
}

fn parse_port(p: &str) -> Result<PortMapping, String> {
    PortMapping::parse(p).map_err(|e| e.to_string())
}

fn parse_env(e: &str) -> Result<(String, String), String> {
    match e.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err("expected KEY=VALUE".into()),
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::{Cli, Command};

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("pocketdock").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_keeps_everything_after_the_container() {
        let Command::Run(r) = parse(&["run", "box", "ls", "-la", "/"]).command else {
            panic!("not run")
        };
        assert_eq!(r.container, "box");
        assert_eq!(r.command, ["ls", "-la", "/"]);
        let Command::Run(r) = parse(&["run", "--timeout", "5", "box", "--", "ls", "-la"]).command
        else {
            panic!("not run")
        };
        assert_eq!(r.timeout, Some(5));
        assert_eq!(r.command, ["ls", "-la"]);
        let Command::Run(r) = parse(&[
            "run",
            "box",
            "python3",
            "-c",
            "print('a b')",
            "--timeout",
            "3",
        ])
        .command
        else {
            panic!("not run")
        };
        assert_eq!(
            r.command,
            ["python3", "-c", "print('a b')", "--timeout", "3"]
        );
        assert_eq!(r.timeout, None);
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for args in [
            &["create", "-v", "nocolon"][..],
            &["create", "-p", "abc:def"],
            &["create", "-e", "NOVALUE"],
            &["create", "--timeout", "0"],
            &["run", "box"],
            &["run", "--timeout", "0", "box", "true"],
            &["export", "-o", "x.tar"],
            &["shutdown"],
        ] {
            let e = Cli::try_parse_from(std::iter::once("pocketdock").chain(args.iter().copied()))
                .expect_err("must fail");
            assert_eq!(e.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn every_option_has_help() {
        fn walk(cmd: &clap::Command, path: &str) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                assert!(arg.get_help().is_some(), "{path} {id} has no help");
            }
            for sub in cmd.get_subcommands() {
                assert!(
                    sub.get_about().is_some(),
                    "{path} {} has no about",
                    sub.get_name()
                );
                walk(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        walk(&Cli::command(), "pocketdock");
    }
}
