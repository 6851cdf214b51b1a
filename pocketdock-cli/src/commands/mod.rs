//! What each command does: one module per group of commands.
//!
//! * `containers`: list, info, create, reboot, stop, resume, shutdown, snapshot, prune
//! * `run`: run
//! * `files`: push, pull
//! * `shell`: shell
//! * `project`: init, status, logs, doctor
//! * `images`: build, export, import
//! * `guide`: quickstart, profiles, completions

mod containers;
mod files;
mod guide;
mod images;
mod project;
mod run;
mod shell;

use std::io::{IsTerminal, Write};

use pocketdock_blocking::{find_project_root, load_config, Engine, Error, Project};
use pocketdock_proto::engine::SocketSource;

use crate::cli::Command;
use crate::{output, vlog, EXIT_FAILURE, EXIT_USAGE};

/// Why a command failed: the exit code and what is printed follow from it.
#[derive(Debug)]
pub enum Failure {
    /// A pocketdock error: exit 125 (2 for invalid input), message and hint on stderr.
    Pd(Error),
    /// A usage error found after parsing: exit 2.
    Usage(String),
    /// Another failure with its own message and hint: exit 125.
    Message {
        /// The message.
        msg: String,
        /// A one-line hint.
        hint: Option<&'static str>,
    },
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Self::Pd(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Self::Pd(Error::Io(e))
    }
}

impl Failure {
    /// A failure with a message and a hint (exit 125).
    pub fn msg(msg: impl Into<String>, hint: Option<&'static str>) -> Self {
        Self::Message {
            msg: msg.into(),
            hint,
        }
    }

    /// Print the failure to stderr and return the exit code.
    pub fn report(&self) -> i32 {
        match self {
            Self::Pd(e) => {
                output::error(e);
                match e {
                    Error::InvalidInput { .. } => EXIT_USAGE,
                    _ => EXIT_FAILURE,
                }
            }
            Self::Usage(msg) => {
                output::error_msg(msg, Some("see 'pocketdock COMMAND --help'"));
                EXIT_USAGE
            }
            Self::Message { msg, hint } => {
                output::error_msg(msg, *hint);
                EXIT_FAILURE
            }
        }
    }
}

/// What a command returns: its exit code, or why it failed.
pub type Outcome = Result<i32, Failure>;

/// What every command shares: how to reach the engine.
#[derive(Debug)]
pub struct Ctx {
    socket: Option<String>,
    socket_from_env: bool,
}

impl Ctx {
    /// `socket` is `--socket` or `POCKETDOCK_SOCKET` (`from_env` says which).
    pub fn new(socket: Option<String>, from_env: bool) -> Self {
        Self {
            socket,
            socket_from_env: from_env,
        }
    }

    /// The engine: `--socket`/`POCKETDOCK_SOCKET`, else the `socket:` of the current project
    /// (or of `~/.pocketdock/pocketdock.yaml`), else auto-detection.
    pub fn engine(&self) -> Result<Engine, Error> {
        if self.socket.is_some() {
            return self.detect(None);
        }
        let root = find_project_root(None);
        let config = load_config(root.as_deref())?;
        self.detect(config.socket.as_deref())
    }

    /// The engine for `project`: `--socket`/`POCKETDOCK_SOCKET`, else its `socket:`, else
    /// auto-detection.
    pub fn project_engine(&self, project: &Project) -> Result<Engine, Error> {
        self.detect(project.config().socket.as_deref())
    }

    fn detect(&self, configured: Option<&str>) -> Result<Engine, Error> {
        // A socket from the environment is left for the discovery to read, so that the engine
        // records it as coming from POCKETDOCK_SOCKET rather than from the caller.
        let explicit = self.socket.as_deref().filter(|_| !self.socket_from_env);
        let engine = Engine::detect_with(explicit, configured)?;
        if output::is_verbose() {
            vlog!("engine socket {}", engine_origin(&engine));
            if engine.is_remote() {
                vlog!(
                    "the engine is remote ({}): volumes name paths and published ports bind on its machine",
                    engine.transport()
                );
            }
            match engine.version() {
                Ok(v) => vlog!(
                    "engine: {:?} {}, API {}",
                    v.engine(),
                    v.version,
                    v.api_version
                ),
                Err(e) => vlog!("engine version: {e}"),
            }
        }
        Ok(engine)
    }
}

/// Where the CLI's engine socket came from, in the CLI's words.
pub fn socket_origin(source: SocketSource) -> &'static str {
    match source {
        SocketSource::Explicit => "--socket",
        SocketSource::Env => "POCKETDOCK_SOCKET",
        SocketSource::Project => "the project's socket: setting",
        other => other.describe(),
    }
}

/// `SOCKET (from ORIGIN)`: the engine a command used, for diagnostics.
pub fn engine_origin(engine: &Engine) -> String {
    format!(
        "{} (from {})",
        engine.socket().display(),
        socket_origin(engine.source())
    )
}

/// Run a parsed command.
pub fn dispatch(ctx: &Ctx, command: &Command) -> Outcome {
    match command {
        Command::Quickstart => Ok(guide::quickstart()),
        Command::Init(a) => project::init(a),
        Command::List(a) => containers::list(ctx, a),
        Command::Info(a) => containers::info(ctx, a),
        Command::Doctor(a) => project::doctor(ctx, a.json),
        Command::Status(a) => project::status(ctx, a.json),
        Command::Logs(a) => project::logs(a),
        Command::Create(a) => containers::create(ctx, a),
        Command::Run(a) => run::run(ctx, a),
        Command::Push(a) => files::push(ctx, a),
        Command::Pull(a) => files::pull(ctx, a),
        Command::Reboot(a) => containers::reboot(ctx, a),
        Command::Stop(a) => containers::stop(ctx, &a.container),
        Command::Resume(a) => containers::resume(ctx, &a.container),
        Command::Shutdown(a) => containers::shutdown(ctx, a),
        Command::Snapshot(a) => containers::snapshot(ctx, a),
        Command::Prune(a) => containers::prune(ctx, a),
        Command::Shell(a) => shell::shell(ctx, a),
        Command::Build(a) => images::build(ctx, a),
        Command::Export(a) => images::export(ctx, a),
        Command::Import(a) => images::import(ctx, a),
        Command::Profiles(a) => guide::profiles(a.json),
        Command::Completions(a) => Ok(guide::completions(a.shell)),
    }
}

/// Ask `question` on the terminal (`[y/N]`, `y` or `yes` confirm). Without a terminal on stdin
/// the question is not asked: a usage error telling to pass `-y`.
pub fn confirm(question: &str) -> Result<bool, Failure> {
    require_terminal(question)?;
    let color = output::stderr_color();
    eprint!(
        "{} ",
        output::Color::Yellow.paint(&format!("{question} [y/N]:"), color)
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(is_yes(&answer))
}

/// A usage error unless stdin is a terminal (where `question` can be asked).
pub fn require_terminal(question: &str) -> Result<(), Failure> {
    if std::io::stdin().is_terminal() {
        return Ok(());
    }
    Err(Failure::Usage(format!(
        "{question} Not asking without a terminal: pass -y/--yes to confirm"
    )))
}

/// `y` or `yes`, any case, surrounding blanks ignored.
fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

#[cfg(test)]
mod tests {
    #[test]
    fn yes_answers() {
        for a in ["y", "Y\n", " yes ", "YES\r\n"] {
            assert!(super::is_yes(a), "{a:?}");
        }
        for a in ["", "n", "no", "yess", "\n", "ye"] {
            assert!(!super::is_yes(a), "{a:?}");
        }
    }
}
