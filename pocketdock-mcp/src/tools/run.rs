//! `run_command`: a command run to completion, with progress notifications while it runs,
//! its output within the budget, and stdin given as a file the command reads.

use std::time::{Duration, Instant};

use pocketdock_tokio::{Command, ExecResult, LimitPolicy, RunOptions};
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::RequestContext;
use rmcp::RoleServer;

use super::types::{EnvMap, RunArgs, RunOutput};
use super::{invalid, ToolError};
use crate::budget::present;
use crate::registry::Sandbox;
use crate::scope::Scope;

const TOOL: &str = "run_command";

/// How often a running command reports progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// The command from `command` xor `argv`.
pub fn command_of(
    tool: &'static str,
    command: Option<String>,
    argv: Option<Vec<String>>,
) -> Result<Command, ToolError> {
    match (command, argv) {
        (Some(c), None) if !c.trim().is_empty() => Ok(Command::Script(c)),
        (None, Some(v)) if !v.is_empty() => Ok(Command::Argv(v)),
        (Some(_), Some(_)) => Err(invalid(tool, "give either command or argv, not both")),
        _ => Err(invalid(
            tool,
            "give command (a shell line) or argv (a non-empty list)",
        )),
    }
}

/// Run options with `cwd` and `env` applied.
pub fn with_cwd_env(mut opts: RunOptions, cwd: Option<String>, env: Option<EnvMap>) -> RunOptions {
    if let Some(cwd) = cwd {
        opts = opts.workdir(cwd);
    }
    for (k, v) in env.unwrap_or_default() {
        opts.env.push(format!("{k}={v}"));
    }
    opts
}

/// The result as the model sees it.
pub fn present_result(scope: &Scope, r: ExecResult) -> RunOutput {
    let budget = scope.registry.opts.output_budget;
    let shown = present(budget, r.stdout, r.stderr, &mut scope.outputs());
    RunOutput {
        exit_code: r.exit_code,
        stdout: shown.stdout.text,
        stderr: shown.stderr.text,
        duration_ms: (r.duration.as_secs_f64() * 1e6).round() / 1e3,
        timed_out: r.timed_out,
        truncated: r.truncated,
        stdout_elided_bytes: shown.stdout.elided_bytes,
        stderr_elided_bytes: shown.stderr.elided_bytes,
        output_id: shown.output_id,
    }
}

/// `command` reading `stdin`: the text is uploaded to a file the command's shell opens as
/// its standard input and removes before the command starts.
async fn feeding_stdin(sb: &Sandbox, command: Command, stdin: &str) -> Result<Command, ToolError> {
    let path = format!("/tmp/.pdmcp-stdin-{}", pocketdock_host::random::nonce());
    sb.container.write_file(&path, stdin.as_bytes()).await?;
    let mut argv = vec![
        "sh".to_string(),
        "-c".to_string(),
        "f=$1; shift; exec <\"$f\"; rm -f \"$f\"; exec \"$@\"".to_string(),
        "sh".to_string(),
        path,
    ];
    argv.extend(command.argv(pocketdock_tokio::Lang::Shell)?);
    Ok(Command::Argv(argv))
}

/// `run_command`.
pub async fn run(
    scope: &Scope,
    ctx: &RequestContext<RoleServer>,
    a: RunArgs,
) -> Result<RunOutput, ToolError> {
    let opts = &scope.registry.opts;
    let timeout = opts
        .timeout(a.timeout_seconds)
        .map_err(|m| invalid(TOOL, m))?;
    let command = command_of(TOOL, a.command, a.argv)?;
    let sb = scope.sandbox(&a.sandbox)?;
    let run_opts = with_cwd_env(
        RunOptions::new()
            .timeout(timeout)
            .max_output(opts.max_output)
            .policy(LimitPolicy::Stop),
        a.cwd,
        a.env,
    );
    // Checked before anything is uploaded for stdin.
    run_opts.run_config("", &command, None, "")?;
    let command = match &a.stdin {
        Some(text) => feeding_stdin(&sb, command, text).await?,
        None => command,
    };
    let progress = ctx.meta.get_progress_token();
    if progress.is_none() {
        // Nobody watches: run it whole.
        let result = sb.container.run_with(command, &run_opts).await?;
        return Ok(present_result(scope, result));
    }
    let mut stream = sb.container.stream(command, &run_opts)?;
    let started = Instant::now();
    let mut ticker =
        tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
    let mut bytes: u64 = 0;
    loop {
        tokio::select! {
            chunk = stream.next() => match chunk {
                Some(chunk) => bytes += chunk?.data.len() as u64,
                None => break,
            },
            _ = ticker.tick(), if progress.is_some() => {
                if let Some(token) = &progress {
                    notify(ctx, token, started.elapsed(), timeout, bytes).await;
                }
            }
        }
    }
    let result = stream
        .result()
        .cloned()
        .ok_or_else(|| ToolError::Refused("the command's result was lost".into()))?;
    Ok(present_result(scope, result))
}

/// Tell the client how long the command has run, of how long it may, and how much it printed.
async fn notify(
    ctx: &RequestContext<RoleServer>,
    token: &ProgressToken,
    elapsed: Duration,
    timeout: Duration,
    bytes: u64,
) {
    let param = ProgressNotificationParam::new(token.clone(), elapsed.as_secs_f64().floor())
        .with_total(timeout.as_secs_f64())
        .with_message(format!(
            "running for {} s, {bytes} bytes of output so far",
            elapsed.as_secs()
        ));
    // A client that went away is noticed by the transport; progress is best effort.
    let _ = ctx.peer.notify_progress(param).await;
}
