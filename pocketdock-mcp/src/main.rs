//! # pocketdock-mcp
//!
//! An MCP server that gives LLM agents (Claude Desktop and Code, Cursor, VS Code, any MCP
//! client) disposable container sandboxes on Podman or Docker as tools: create a sandbox, run
//! commands, start background processes, keep a shell session, read and write files.
//!
//! Shaped by what agent hosts do: a non-zero exit is a normal result; the default timeout
//! (30 s) fires before the usual client deadline so the partial output reaches the model;
//! output is bounded by a budget (head and tail kept, the rest readable in pages); bad
//! arguments are tool errors; each MCP session sees and removes only its own sandboxes, which
//! are removed when it ends, when the server exits, or after an idle TTL.
//!
//! Transports: stdio (default) and streamable HTTP (`--http`), on rmcp and tokio, over
//! `pocketdock-tokio`.

mod args;
mod budget;
mod host_dir;
mod http;
mod options;
mod registry;
mod scope;
mod server;
mod stdio;
mod tools;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use pocketdock_tokio::Engine;
use tokio_util::sync::CancellationToken;

use crate::args::Args;
use crate::options::Options;
use crate::registry::Registry;

/// Environment variable holding the HTTP bearer token.
const TOKEN_ENV: &str = "POCKETDOCK_MCP_TOKEN";

/// How often idle sandboxes are looked for.
const REAP_EVERY: Duration = Duration::from_secs(1);

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
enum MainError {
    #[error("{0}")]
    Usage(String),
    #[error("engine: {0}")]
    Engine(#[from] pocketdock_tokio::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

fn options(args: &Args) -> Result<Options, MainError> {
    let secs = |name: &str, s: f64| {
        if s.is_finite() && s > 0.0 {
            Ok(Duration::from_secs_f64(s))
        } else {
            Err(MainError::Usage(format!(
                "--{name} must be a positive number of seconds"
            )))
        }
    };
    let default_timeout = secs("timeout", args.timeout)?;
    let max_timeout = secs("max-timeout", args.max_timeout)?;
    if default_timeout > max_timeout {
        return Err(MainError::Usage("--timeout is above --max-timeout".into()));
    }
    if args.output_budget < 256 {
        return Err(MainError::Usage(
            "--output-budget must be at least 256 bytes".into(),
        ));
    }
    if args.idle_ttl == 0 || args.max_idle_ttl < args.idle_ttl {
        return Err(MainError::Usage(
            "--idle-ttl must be at least 1 and at most --max-idle-ttl".into(),
        ));
    }
    Ok(Options {
        name_prefix: args.name_prefix.clone(),
        max_sandboxes: args.max_sandboxes,
        idle_ttl: Duration::from_secs(args.idle_ttl),
        max_idle_ttl: Duration::from_secs(args.max_idle_ttl),
        output_budget: args.output_budget,
        max_output: args.max_output.max(1),
        default_timeout,
        max_timeout,
        default_memory: args.memory.clone(),
        deny_network: args.deny_network,
        host_dirs: host_dir::allowed_dirs(&args.allow_host_dir).map_err(MainError::Usage)?,
        output_store: args.output_store,
        pool: args.pool,
    })
}

/// The bearer token: from `--token-file`, else the environment.
fn token(args: &Args) -> Result<Option<http::Token>, MainError> {
    if let Some(path) = &args.token_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| MainError::Usage(format!("--token-file {}: {e}", path.display())))?;
        return http::Token::new(&text)
            .map(Some)
            .ok_or_else(|| MainError::Usage(format!("--token-file {}: empty", path.display())));
    }
    Ok(std::env::var(TOKEN_ENV)
        .ok()
        .and_then(|t| http::Token::new(&t)))
}

/// Cancel `shutdown` at SIGTERM, SIGINT or SIGHUP.
fn on_signals(shutdown: CancellationToken) -> Result<(), MainError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
            _ = hup.recv() => {}
        }
        shutdown.cancel();
    });
    Ok(())
}

async fn run(args: Args) -> Result<(), MainError> {
    let opts = options(&args)?;
    let token = token(&args)?;
    if let Some(addr) = args.http {
        if !addr.ip().is_loopback() && token.is_none() {
            return Err(MainError::Usage(format!(
                "--http {addr} is not a loopback address: a bearer token is required \
                 (--token-file FILE or {TOKEN_ENV})"
            )));
        }
    }
    let engine = Engine::detect_with(args.socket.as_deref(), None)?;
    engine.ping().await?;
    let registry = Registry::new(engine, opts);
    let warming = tokio::spawn(Arc::clone(&registry).fill_pool());
    let shutdown = CancellationToken::new();
    on_signals(shutdown.clone())?;
    let reaper = tokio::spawn(Arc::clone(&registry).reap_idle(REAP_EVERY));
    let served = match args.http {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            eprintln!(
                "pocketdock-mcp: listening on http://{}{}{}",
                listener.local_addr()?,
                http::PATH,
                if token.is_some() {
                    " (bearer token required)"
                } else {
                    ""
                }
            );
            http::serve(listener, token, Arc::clone(&registry), shutdown.clone()).await
        }
        // Boxed: the server's future (every tool's state machine) is too large for the stack.
        None => Box::pin(stdio::serve(Arc::clone(&registry), shutdown.clone())).await,
    };
    reaper.abort();
    warming.abort();
    registry.close().await;
    served.map_err(MainError::from)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pocketdock-mcp: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(args));
    // Every removal was awaited; kills handed to the runtime get a moment. (A read of stdin
    // that never returns holds a blocking thread: the wait is short on purpose.)
    runtime.shutdown_timeout(Duration::from_millis(250));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ MainError::Usage(_)) => {
            eprintln!("pocketdock-mcp: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("pocketdock-mcp: {e}");
            ExitCode::FAILURE
        }
    }
}
