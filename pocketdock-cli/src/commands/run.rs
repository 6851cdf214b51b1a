//! `run CONTAINER COMMAND...`: blocking (default), `--stream`, or `--detach`.
//!
//! One word is a command line for the interpreter (`sh -c`, or `python3 -c` with `--lang
//! python`); several words are an argv passed on exactly, without any shell. The exit code is the
//! command's own; 124 when it timed out; 125 when pocketdock failed or stopped the command at
//! `--max-output` (`--on-limit stop`).
//!
//! `--stream` keeps nothing: each chunk is written out and forgotten, so memory stays the same at
//! any output size, and `--max-output` caps the bytes written, with `--on-limit` deciding what
//! happens at the cap, as it does for the output a blocking run keeps.

use std::io::Write;
use std::time::Duration;

use pocketdock_blocking::{Command, Error, ExecResult, Lang, LimitPolicy, RunOptions, StreamKind};

use crate::cli::{OnLimit, RunArgs};
use crate::commands::containers::label_timeout;
use crate::commands::{Ctx, Failure, Outcome};
use crate::{output, vlog, EXIT_FAILURE, EXIT_TIMEOUT};

/// `run`.
pub fn run(ctx: &Ctx, a: &RunArgs) -> Outcome {
    let lang = a.lang.as_deref().map(str::parse::<Lang>).transpose()?;
    let command: Command = match a.command.as_slice() {
        [one] => one.clone().into(),
        _ if lang.is_some() => {
            return Err(Failure::Usage(
                "--lang applies to a one-word command line: quote the code, e.g. \
                 pocketdock run --lang python box 'print(1)'"
                    .into(),
            ))
        }
        many => many.to_vec().into(),
    };
    let engine = ctx.engine()?;
    let mut opts = RunOptions::new().policy(match a.on_limit {
        OnLimit::Stop => LimitPolicy::Stop,
        OnLimit::KeepRunning => LimitPolicy::KeepRunning,
        OnLimit::HeadTail => LimitPolicy::HeadAndTail,
    });
    if let Some(l) = lang {
        opts = opts.lang(l);
    }
    if let Some(m) = a.max_output {
        opts = opts.max_output(usize::try_from(m).unwrap_or(usize::MAX));
    }
    // Errors name the container as the user did, not by its id.
    let named = |e: Error| match e {
        Error::ContainerNotRunning(_) => Error::ContainerNotRunning(a.container.clone()),
        Error::ContainerGone(_) => Error::ContainerGone(a.container.clone()),
        Error::ContainerNotFound(_) => Error::ContainerNotFound(a.container.clone()),
        e => e,
    };
    // One lookup: the handle and the default timeout come from the same inspect.
    let found = engine.find_container(&a.container).map_err(named)?;
    // The timeout: --timeout, else the container's own default (label set by `create`).
    match a.timeout {
        Some(t) => opts = opts.timeout(Duration::from_secs(t)),
        None if a.detach => {}
        None => opts = opts.timeout(Duration::from_secs(label_timeout(&found))),
    }
    let container = engine.attach_found(&found);
    // A blocking or streamed run goes through the agent relay when one is up (a stream is held
    // to the agent's window, so a slow terminal slows the command, not the relay). --detach
    // takes the engine path: its command must outlive this call, and the relay kills what a
    // client that left had started.
    let path = if a.detach {
        None
    } else {
        Some(crate::relay::use_relay(&engine, &container, &found))
    };
    if let Some(p) = &path {
        vlog!("commands take the {p}");
    }
    vlog!(
        "container {} is {}; argv {:?}; timeout {}; max output {} bytes ({:?} at the cap)",
        a.container,
        container.id(),
        command.argv(opts.lang)?,
        opts.timeout
            .map_or_else(|| "none".to_string(), |t| format!("{} s", t.as_secs())),
        opts.max_output
            .unwrap_or(pocketdock_proto::DEFAULT_MAX_OUTPUT),
        opts.policy
    );
    if a.detach {
        // Spawned, not detached: the command must outlive this process.
        let id = container.spawn(command, &opts).map_err(named)?;
        output::success(&format!("Process started (exec ID: {id})"));
        return Ok(0);
    }
    let result = if a.stream {
        stream(&container, command, &opts).map_err(named)?
    } else {
        let r = container.run_with(command, &opts).map_err(named)?;
        if !a.json {
            let _ = std::io::stdout().lock().write_all(&r.stdout);
            let _ = std::io::stderr().lock().write_all(&r.stderr);
        }
        r
    };
    crate::usage::report(&result, path.as_ref(), a.json)?;
    Ok(exit_code(&result, a.max_output))
}

/// Copy the output to stdout and stderr as it arrives, keeping none of it: the result has the
/// exit code and the counts only.
fn stream(
    container: &pocketdock_blocking::Container,
    command: Command,
    opts: &RunOptions,
) -> Result<ExecResult, Error> {
    let mut s = container.stream(command, &opts.clone().keep_output(false))?;
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    for chunk in s.by_ref() {
        let chunk = chunk?;
        let _ = if chunk.stream == StreamKind::Stdout {
            out.write_all(&chunk.data).and_then(|()| out.flush())
        } else {
            err.write_all(&chunk.data).and_then(|()| err.flush())
        };
    }
    s.finish()
}

/// The process exit code for a finished command, with a note on stderr when pocketdock stopped it.
fn exit_code(r: &ExecResult, max_output: Option<u64>) -> i32 {
    vlog!(
        "exit code {} after {:.1} ms (timed out: {}, truncated: {}, {} bytes dropped)",
        r.exit_code,
        r.duration_ms(),
        r.timed_out,
        r.truncated,
        r.elided_bytes
    );
    if r.timed_out {
        output::note("the command timed out; it was killed with everything it started");
        return EXIT_TIMEOUT;
    }
    if r.truncated {
        let cap = max_output.unwrap_or(pocketdock_proto::DEFAULT_MAX_OUTPUT as u64);
        if r.exit_code < 0 {
            output::note(&format!(
                "the output went over --max-output ({cap} bytes): the command was stopped"
            ));
            return EXIT_FAILURE;
        }
        output::note(&format!(
            "output truncated at --max-output ({cap} bytes; {} bytes dropped)",
            r.elided_bytes
        ));
    }
    match i32::try_from(r.exit_code) {
        Ok(c) if (0..=255).contains(&c) => c,
        _ => EXIT_FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(exit_code: i64, timed_out: bool, truncated: bool) -> ExecResult {
        ExecResult {
            exit_code,
            timed_out,
            truncated,
            ..ExecResult::default()
        }
    }

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code(&result(0, false, false), None), 0);
        assert_eq!(exit_code(&result(42, false, false), None), 42);
        assert_eq!(exit_code(&result(127, false, false), None), 127);
        assert_eq!(exit_code(&result(-1, true, false), None), EXIT_TIMEOUT);
        assert_eq!(exit_code(&result(-1, false, true), Some(10)), EXIT_FAILURE);
        assert_eq!(exit_code(&result(3, false, true), Some(10)), 3);
        assert_eq!(exit_code(&result(300, false, false), None), EXIT_FAILURE);
    }
}
