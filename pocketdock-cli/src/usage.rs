//! What `run -v` and `run --json` say about a finished command: the path it took, and the
//! resources it used when the agent measured them.

use pocketdock_blocking::{CommandPath, ExecResult};
use serde::Serialize;

use crate::{output, vlog};

/// A command's resource use as the agent measured it inside the sandbox.
#[derive(Debug, Serialize)]
struct UsageJson {
    user_cpu_ms: f64,
    system_cpu_ms: f64,
    peak_rss_bytes: u64,
    oom_killed: bool,
    /// Always true: the figures come from inside the sandbox, where code could forge them.
    advisory: bool,
}

/// `run --json`.
#[derive(Debug, Serialize)]
struct RunJson<'a> {
    exit_code: i64,
    stdout: String,
    stderr: String,
    duration_ms: f64,
    timed_out: bool,
    truncated: bool,
    elided_bytes: u64,
    path: Option<&'a CommandPath>,
    usage: Option<UsageJson>,
}

/// Say on stderr (`-v`) or as JSON on stdout (`--json`) what `r` used and which path it took.
pub fn report(
    r: &ExecResult,
    path: Option<&CommandPath>,
    json: bool,
) -> Result<(), pocketdock_blocking::Error> {
    let usage = r.usage.map(|u| UsageJson {
        user_cpu_ms: u.user_cpu.as_secs_f64() * 1e3,
        system_cpu_ms: u.system_cpu.as_secs_f64() * 1e3,
        peak_rss_bytes: u.peak_rss_bytes,
        oom_killed: u.oom_killed,
        advisory: true,
    });
    match &usage {
        Some(u) => vlog!(
            "usage (advisory, measured in the sandbox): user CPU {:.1} ms, system CPU {:.1} ms, \
             peak RSS {} KiB, OOM killed: {}",
            u.user_cpu_ms,
            u.system_cpu_ms,
            u.peak_rss_bytes / 1024,
            u.oom_killed
        ),
        None => vlog!("usage: not measured on the engine path"),
    }
    if json {
        output::json(&RunJson {
            exit_code: r.exit_code,
            stdout: r.stdout_str().into_owned(),
            stderr: r.stderr_str().into_owned(),
            duration_ms: r.duration_ms(),
            timed_out: r.timed_out,
            truncated: r.truncated,
            elided_bytes: r.elided_bytes,
            path,
            usage,
        })?;
    }
    Ok(())
}
