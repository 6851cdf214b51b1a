//! Background processes: start, read (optionally waiting for the exit), kill.

use std::time::Duration;

use pocketdock_tokio::{Process, RunOptions};

use super::run::{command_of, with_cwd_env};
use super::types::{KillArgs, ProcessOutput, ReadProcessArgs, StartArgs, StartOutput};
use super::{invalid, ToolError};
use crate::budget::present;
use crate::scope::Scope;

/// How long `kill_process` waits for the process to exit after the signal.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// `start_process`.
pub async fn start(scope: &Scope, a: StartArgs) -> Result<StartOutput, ToolError> {
    let command = command_of("start_process", a.command, a.argv)?;
    let sb = scope.sandbox(&a.sandbox)?;
    let opts = with_cwd_env(RunOptions::new(), a.cwd, a.env);
    let process = sb.container.detach(command, &opts).await?;
    Ok(StartOutput {
        process_id: sb.add_process(process),
    })
}

/// The process's state and its output since the last read.
async fn snapshot(scope: &Scope, id: String, p: &Process) -> ProcessOutput {
    let running = p.is_running();
    let exit_code = if running {
        None
    } else {
        Some(p.wait(None).await.map_or(-1, |r| r.exit_code))
    };
    let out = p.read();
    let shown = present(
        scope.registry.opts.output_budget,
        out.stdout,
        out.stderr,
        &mut scope.outputs(),
    );
    ProcessOutput {
        process_id: id,
        running,
        exit_code,
        stdout: shown.stdout.text,
        stderr: shown.stderr.text,
        stdout_elided_bytes: shown.stdout.elided_bytes,
        stderr_elided_bytes: shown.stderr.elided_bytes,
        output_id: shown.output_id,
        output_dropped: p.buffer_overflow(),
    }
}

/// `read_process`.
pub async fn read(scope: &Scope, a: ReadProcessArgs) -> Result<ProcessOutput, ToolError> {
    let wait =
        match a.wait_seconds {
            None | Some(0.0) => None,
            Some(s) => Some(scope.registry.opts.timeout(Some(s)).map_err(|m| {
                invalid("read_process", m.replace("timeout_seconds", "wait_seconds"))
            })?),
        };
    let sb = scope.sandbox(&a.sandbox)?;
    let p = sb.process(&a.process_id)?;
    if let Some(w) = wait {
        if p.is_running() {
            p.wait(Some(w)).await?;
        }
    }
    Ok(snapshot(scope, a.process_id, &p).await)
}

/// `kill_process`.
pub async fn kill(scope: &Scope, a: KillArgs) -> Result<ProcessOutput, ToolError> {
    let signal = a.signal.unwrap_or(15);
    if !(1..=64).contains(&signal) {
        return Err(invalid(
            "kill_process",
            format!("signal must be 1 to 64 (got {signal})"),
        ));
    }
    let sb = scope.sandbox(&a.sandbox)?;
    let p = sb.process(&a.process_id)?;
    p.kill(signal).await?;
    if p.is_running() {
        p.wait(Some(KILL_WAIT)).await?;
    }
    Ok(snapshot(scope, a.process_id, &p).await)
}
